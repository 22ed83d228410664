//! `distcc-farm [--stats-port N] [--timeout SECS] [DELAY]`: the whole farm at once. Reads the
//! host list the client uses (`DISTCC_HOSTS`, `$DISTCC_DIR/hosts`, …) and this user's backoff
//! files, asks every TCP host's stats port (`distccd --stats`) for `/json`, and prints one
//! line per host: answering or down, backed off (with the time left and the most frequent
//! reason from `distcc --show-stats`), busy slots, counts and the jobs running now.
//!
//! A host's stats port is `--stats-port` if given, else its distcc port + 1 (3632 → 3633,
//! 3.4's default pairing). With DELAY the view is redrawn every DELAY seconds (the screen is
//! cleared when standard output is a terminal); without, it prints once.

use std::io::{IsTerminal, Write};
use std::process::ExitCode as ProcessExit;
use std::time::{Duration, SystemTime};

use client::Config;
use client::hosts::{self, Source, Transport};
use monitor::farm::{self, Target};
use os::exit::ExitCode;

const USAGE: &str = "usage: distcc-farm [--stats-port PORT] [--timeout SECONDS] [DELAY]\n";

struct Args {
    stats_port: Option<u16>,
    timeout: Duration,
    delay: Option<Duration>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        stats_port: None,
        timeout: Duration::from_secs(2),
        delay: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name}: missing argument"))
        };
        match arg.as_str() {
            "--stats-port" => {
                let v = value(arg)?;
                a.stats_port = Some(
                    v.parse()
                        .map_err(|_| format!("--stats-port: bad port {v:?}"))?,
                );
            }
            "--timeout" => {
                let v = value(arg)?;
                let s: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 3600.0)
                    .ok_or_else(|| format!("--timeout: bad number {v:?}"))?;
                a.timeout = Duration::from_secs_f64(s);
            }
            d if !d.starts_with('-') && a.delay.is_none() => {
                let s: f64 = d
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 86400.0)
                    .ok_or_else(|| format!("bad delay {d:?}"))?;
                a.delay = (s > 0.0).then(|| Duration::from_secs_f64(s));
            }
            other => return Err(format!("{other}: unknown argument")),
        }
    }
    Ok(a)
}

/// The host list's `coord://` entries (none when there is no list or it is malformed:
/// [`targets`] then says why).
fn listed_coordinators(config: &Config) -> Vec<client::coord::Target> {
    match hosts::find(config) {
        Ok(Source::Found { name, text }) => hosts::parse(&text, &name)
            .map(|l| l.coordinators)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn targets(config: &Config, args: &Args) -> Result<Vec<Target>, String> {
    let list = match hosts::find(config).map_err(|e| e.to_string())? {
        Source::Found { name, text } => {
            let mut list = hosts::parse(&text, &name).map_err(|e| e.to_string())?;
            // SRV names and +zeroconf stand for the hosts they find, as for a compile.
            client::discover::expand(&mut list, config, &client::log::Log::from_config(config));
            list
        }
        Source::None => {
            return Err(
                "no host list is set (DISTCC_HOSTS, ~/.distcc/hosts or /etc/distcc/hosts)".into(),
            );
        }
    };
    let top = config.top_dir();
    let reasons = top
        .as_deref()
        .and_then(|t| client::stats::read(t).ok())
        .unwrap_or_default();
    let now = SystemTime::now();
    Ok(list
        .hosts
        .iter()
        .map(|h| {
            let stats = match &h.transport {
                Transport::Tcp { host, port } => Some((
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                    args.stats_port.unwrap_or(port.saturating_add(1)),
                )),
                _ => None,
            };
            // The client's own backoff file: its mtime plus the backoff period.
            let backoff_left = top.as_ref().and_then(|t| {
                let f = t.join("lock").join(format!("backoff_{}_0", h.lock_stem()));
                let age = now
                    .duration_since(std::fs::metadata(f).ok()?.modified().ok()?)
                    .ok()?;
                config
                    .backoff_period
                    .checked_sub(age)
                    .filter(|l| !l.is_zero())
            });
            let prefix = format!("{}: ", h.spec);
            let backoff_reasons = reasons
                .of(client::stats::kind::BACKOFF)
                .into_iter()
                .filter_map(|(l, n)| Some((l.strip_prefix(&prefix)?.to_owned(), n)))
                .collect();
            Target {
                spec: h.spec.clone(),
                stats,
                list_slots: h.slots,
                backoff_left,
                backoff_reasons,
            }
        })
        .collect())
}

fn main() -> ProcessExit {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help") {
        print!("{USAGE}");
        return ProcessExit::SUCCESS;
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprint!("distcc-farm: {e}\n{USAGE}");
            return ProcessExit::from(ExitCode::BadArguments.code() as u8);
        }
    };
    let config = Config::from_env();
    let tty = std::io::stdout().is_terminal();
    // DISTCC_COORDINATOR, else the host list's coord:// entries (as for a compile): each
    // coordinator's view comes first; the host list is then optional.
    let coordinators = config
        .coordinator
        .as_deref()
        .map(client::coord::parse_list)
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| listed_coordinators(&config));
    loop {
        let mut text = String::new();
        for c in &coordinators {
            // The pages are served in plain HTTP even by a TLS coordinator.
            let got = farm::fetch(&c.host, c.port, args.timeout);
            text.push_str(&farm::coordinator::render(
                &format!("{}:{}", c.host, c.port),
                &got,
            ));
        }
        match targets(&config, &args) {
            Ok(t) => {
                let reaches = farm::poll(&t, args.timeout);
                text.push_str(&farm::render(&t, &reaches));
            }
            Err(_) if !coordinators.is_empty() => {}
            Err(e) => {
                eprintln!("distcc-farm: {e}");
                return ProcessExit::from(ExitCode::BadHostspec.code() as u8);
            }
        }
        if args.delay.is_some() {
            text = if tty {
                format!("\x1b[H\x1b[2J{text}")
            } else {
                format!("{text}\n")
            };
        }
        let mut out = std::io::stdout().lock();
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            // A closed pipe (`distcc-farm 1 | head`): stop quietly.
            return ProcessExit::SUCCESS;
        }
        drop(out);
        match args.delay {
            Some(d) => std::thread::sleep(d),
            None => return ProcessExit::SUCCESS,
        }
    }
}
