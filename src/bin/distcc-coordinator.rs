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

const USAGE: &str = "usage: distcc-coordinator [--listen ADDR] [--port PORT] [--lease-secs SECONDS] [--daemon-silence SECONDS] [--verbose]\n";

fn parse(args: &[String]) -> Result<(SocketAddr, Config), String> {
    let mut ip: IpAddr = "0.0.0.0"
        .parse()
        .map_err(|_| "bad default address".to_owned())?;
    let mut port = DEFAULT_PORT;
    let mut cfg = Config::default();
    let mut it = args.iter();
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
            other => return Err(format!("{other}: unknown option")),
        }
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
