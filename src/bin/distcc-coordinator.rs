//! `distcc-coordinator [--listen ADDR] [--port N] [--lease-secs S] [--verbose]`: the farm
//! coordinator (issue 15; docs/coordinator.md). One port for daemons (`distccd
//! --coordinator`), clients (`DISTCC_COORDINATOR`) and its pages (`/json`, `/metrics`,
//! `/dashboard`). Runs in the foreground until SIGTERM or SIGINT.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::ExitCode as ProcessExit;
use std::time::Duration;

use coordinator::server::{Config, Server};
use os::exit::ExitCode;

/// The coordinator's default port (distccd is 3632, its stats 3633).
const DEFAULT_PORT: u16 = 3634;

const USAGE: &str = "usage: distcc-coordinator [--listen ADDR] [--port PORT] [--lease-secs SECONDS] [--daemon-silence SECONDS] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-tokens FILE] [--tls-allow NAME]... [--tls-only]] [--verbose]\n";

fn parse(args: &[String]) -> Result<(SocketAddr, Config), String> {
    let mut ip: IpAddr = "0.0.0.0"
        .parse()
        .map_err(|_| "bad default address".to_owned())?;
    let mut port = DEFAULT_PORT;
    let mut cfg = Config::default();
    let mut tls = tls::server::ServerSettings::default();
    let mut it = args.iter();
    let path = |name: &str, v: Option<&String>| -> Result<std::path::PathBuf, String> {
        v.map(std::path::PathBuf::from)
            .ok_or_else(|| format!("{name}: missing argument"))
    };
    let secs = |name: &str, v: Option<&String>| -> Result<Duration, String> {
        let v = v.ok_or_else(|| format!("{name}: missing argument"))?;
        v.parse::<u64>()
            .ok()
            .filter(|s| *s > 0 && *s < 1_000_000)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{name}: bad number of seconds {v:?}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => {
                let v = it.next().ok_or("--listen: missing argument")?;
                ip = v
                    .parse()
                    .map_err(|_| format!("--listen: bad address {v:?}"))?;
            }
            "--port" => {
                let v = it.next().ok_or("--port: missing argument")?;
                port = v.parse().map_err(|_| format!("--port: bad port {v:?}"))?;
            }
            "--lease-secs" => cfg.lease_time = secs(a, it.next())?,
            "--daemon-silence" => cfg.daemon_silence = secs(a, it.next())?,
            "--verbose" | "-v" => cfg.verbose = true,
            "--tls-cert" => tls.cert = path(a, it.next())?,
            "--tls-key" => tls.key = path(a, it.next())?,
            "--tls-client-ca" => tls.client_ca = Some(path(a, it.next())?),
            "--tls-tokens" => tls.tokens = Some(path(a, it.next())?),
            "--tls-allow" => cfg
                .tls_allow
                .push(it.next().ok_or("--tls-allow: missing argument")?.clone()),
            "--tls-only" => cfg.tls_only = true,
            other => return Err(format!("{other}: unknown option")),
        }
    }
    let wants_tls = !tls.cert.as_os_str().is_empty() || !tls.key.as_os_str().is_empty();
    let tls_options_without_cert = tls.client_ca.is_some()
        || tls.tokens.is_some()
        || !cfg.tls_allow.is_empty()
        || cfg.tls_only;
    if wants_tls {
        if tls.cert.as_os_str().is_empty() || tls.key.as_os_str().is_empty() {
            return Err("--tls-cert and --tls-key go together".into());
        }
        let server = tls::server::Server::new(&tls).map_err(|e| e.to_string())?;
        cfg.tls = Some(std::sync::Arc::new(server));
    } else if tls_options_without_cert {
        return Err("--tls-client-ca, --tls-tokens, --tls-allow and --tls-only need --tls-cert and --tls-key".into());
    }
    Ok((SocketAddr::new(ip, port), cfg))
}

fn main() -> ProcessExit {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ProcessExit::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        println!("distcc-coordinator {}", env!("CARGO_PKG_VERSION"));
        return ProcessExit::SUCCESS;
    }
    let (addr, cfg) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("distcc-coordinator: {e}\n{USAGE}");
            return ProcessExit::from(ExitCode::BadArguments as u8);
        }
    };
    let shutdown = match os::signal::install_shutdown_handlers() {
        Ok(fd) => fd.as_raw_fd(),
        Err(e) => {
            eprintln!("distcc-coordinator: signal handlers: {e}");
            return ProcessExit::from(ExitCode::Distcc as u8);
        }
    };
    let listener = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("distcc-coordinator: bind {addr}: {e}");
            return ProcessExit::from(ExitCode::BindFailed as u8);
        }
    };
    let verbose = cfg.verbose;
    let mut server = match Server::new(listener, cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("distcc-coordinator: {e}");
            return ProcessExit::from(ExitCode::Distcc as u8);
        }
    };
    if verbose {
        eprintln!(
            "distcc-coordinator[{}] listening on {addr}",
            std::process::id()
        );
    }
    match server.run(shutdown) {
        Ok(()) => ProcessExit::SUCCESS,
        Err(e) => {
            eprintln!("distcc-coordinator: {e}");
            ProcessExit::from(ExitCode::Distcc as u8)
        }
    }
}
