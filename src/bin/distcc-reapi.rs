//! `distcc-reapi`: the REAPI side of distcc, kept out of the lean `distcc` client.
//!
//! - `distcc-reapi submit reapi://HOST:PORT/INSTANCE[,tls]`: run by `distcc` for a `reapi://` host,
//!   with the distcc request on standard input and the reply on standard output.
//! - `distcc-reapi worker --engine reapi://HOST:PORT/INSTANCE[,tls] [--daemon HOST:PORT]
//!   [--bots N] [--compiler NAME]… [--property KEY=VALUE]…`: bots of an engine whose jobs a
//!   distccd runs.

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: distcc-reapi submit reapi://HOST:PORT/INSTANCE[,tls]\n       \
         distcc-reapi worker --engine reapi://HOST:PORT/INSTANCE[,tls] [--daemon HOST:PORT] \
         [--bots N] [--compiler NAME]... [--property KEY=VALUE]..."
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("submit") if args.len() == 2 => {
            let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
            match reapi::submit::run(&args[1], &mut input, &mut output) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("distcc-reapi: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("worker") => match worker_config(&args[1..]).and_then(reapi::worker::run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("distcc-reapi worker: {e}");
                ExitCode::FAILURE
            }
        },
        _ => usage(),
    }
}

fn worker_config(args: &[String]) -> Result<reapi::worker::Config, String> {
    let mut engine = None;
    let mut daemon = "127.0.0.1:3632".to_owned();
    let mut bots = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut compilers = Vec::new();
    let mut properties = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--engine" => engine = Some(reapi::endpoint::Endpoint::parse(&value()?)?),
            "--daemon" => daemon = value()?,
            "--bots" => {
                bots = value()?
                    .parse()
                    .ok()
                    .filter(|&n: &usize| (1..=1024).contains(&n))
                    .ok_or("--bots takes a number from 1 to 1024")?
            }
            "--compiler" => compilers.push(value()?),
            "--property" => properties.extend(reapi::submit::parse_properties(&value()?)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if compilers.is_empty() {
        compilers = ["cc", "gcc", "c++", "g++", "clang", "clang++"]
            .map(String::from)
            .to_vec();
    }
    let daemon = std::net::ToSocketAddrs::to_socket_addrs(&daemon)
        .map_err(|e| format!("--daemon {daemon}: {e}"))?
        .next()
        .ok_or("--daemon: no address")?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    Ok(reapi::worker::Config {
        endpoint: engine.ok_or("--engine is required")?,
        daemon,
        bots,
        compilers,
        properties,
        id: format!("distcc-{}-{}", host.trim(), std::process::id()),
        credentials: reapi::endpoint::Credentials::from_env(),
    })
}
