//! `lsdistcc [OPTIONS] [FORMAT | HOST…]`: print the distcc servers that are up, one per line,
//! in Debian's distcc 3.4 format (`name[:port][,lzo[,cpp]][,down][ latency]`), ready for
//! `DISTCC_HOSTS`.
//! Exit status 0 if any server is up, 1 otherwise (including on a usage error). Scanning and
//! probing are in `monitor::lsdistcc`; this main only prints.
//!
//! `--help` prints the usage and exits 0 (3.4 calls it a bad option).
//! Unlike 3.4, reaching the `-t` timeout does not turn the exit status into 0 when nothing
//! was found: the status always says whether any server is up.

use std::io::{self, Write};
use std::process::ExitCode;

use monitor::lsdistcc::{Options, Outcome, options::usage, scan};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if Options::wants_help(&args) {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lsdistcc: {e}");
            print!("{}", usage());
            return ExitCode::from(1);
        }
    };
    let domain = if opts.domain {
        match dns_domain() {
            Some(d) => Some(d),
            None => {
                eprintln!("lsdistcc: can't get domain name");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let mut stdout = io::stdout().lock();
    let mut log = |line: &str| eprintln!("lsdistcc: {line}");
    let mut report = |o: &Outcome| {
        if let Some(line) = opts.line(o) {
            // Each host is printed as soon as it is known; a closed stdout only loses output.
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        }
    };
    let up = scan(&opts, domain.as_deref(), &mut log, &mut report);
    if up > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The DNS domain of this machine, found as 3.4 finds it: from `HOST` or `HOSTNAME` when they
/// hold a dotted name (the longer wins), else from the kernel's host name. 3.4 then asks DNS
/// for the canonical name of an undotted host name; this does not, and reports no domain.
fn dns_domain() -> Option<String> {
    let dotted = |v: Option<String>| v.filter(|s| s.contains('.'));
    let host = dotted(std::env::var("HOST").ok());
    let hostname = dotted(std::env::var("HOSTNAME").ok());
    let fqdn = match (host, hostname) {
        (Some(a), Some(b)) => Some(if b.len() > a.len() { b } else { a }),
        (a, b) => a.or(b),
    }
    .or_else(|| {
        let k = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
        dotted(Some(k.trim().to_string()))
    })?;
    let legal = fqdn.len() <= 512
        && fqdn
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !legal {
        eprintln!("lsdistcc: host name {fqdn:?} is not a legal DNS name");
        return None;
    }
    let (_, domain) = fqdn.split_once('.')?;
    (!domain.is_empty()).then(|| domain.to_string())
}
