//! `distccmon-text [DELAY]`: print the jobs of the distcc clients of this user, once, or every
//! DELAY (fractional) seconds, in distcc 3.4's format. The state lives in
//! `$DISTCC_DIR/state` (default `~/.distcc/state`); reading and rendering are in the
//! `monitor` crate.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use monitor::{read, text};
use os::exit::ExitCode as DistccExit;

const USAGE: &str = "usage: distccmon-text [DELAY]

Displays current compilation jobs in text form.

If delay is specified, repeatedly updates after that many (fractional)
seconds.  Otherwise, runs just once.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let delay = match parse_delay(&args) {
        Some(d) => d,
        None => {
            eprint!("{USAGE}");
            return ExitCode::from(1);
        }
    };
    let Some(dir) = read::state_dir_from_env() else {
        eprintln!("distccmon-text: neither DISTCC_DIR nor HOME is set");
        return exit(DistccExit::Distcc);
    };
    let mut stdout = io::stdout().lock();
    loop {
        let jobs = match read::poll(&dir, SystemTime::now(), &os::alive::process_exists) {
            Ok(jobs) => jobs,
            Err(e) => {
                eprintln!("distccmon-text: failed to read {}: {e}", dir.display());
                return exit(DistccExit::IoError);
            }
        };
        let mut out = Vec::new();
        text::render(&jobs, &mut out);
        // Written and flushed per block, as 3.4 line-buffers stdout for pipes. A reader that
        // went away (`| head`) ends the program quietly.
        if stdout
            .write_all(&out)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::SUCCESS;
        }
        match delay {
            Some(d) => std::thread::sleep(d),
            None => return ExitCode::SUCCESS,
        }
    }
}

/// No argument: print once (`Some(None)`). One argument: a delay in seconds, read as
/// `strtod` reads it (leading blanks allowed, nothing after the number); zero also means
/// once. Negative, infinite or unparsable delays and extra arguments are usage errors (3.4
/// would sleep for a wrapped-around time on a negative one).
fn parse_delay(args: &[String]) -> Option<Option<Duration>> {
    match args {
        [] => Some(None),
        [d] => {
            let d = d.trim_start();
            let secs: f64 = if d.is_empty() { 0.0 } else { d.parse().ok()? };
            if !secs.is_finite() || secs < 0.0 {
                return None;
            }
            if secs == 0.0 {
                return Some(None);
            }
            Duration::try_from_secs_f64(secs).ok().map(Some)
        }
        _ => None,
    }
}

fn exit(code: DistccExit) -> ExitCode {
    ExitCode::from(code as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Option<Option<Duration>> {
        parse_delay(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn delays() {
        assert_eq!(p(&[]), Some(None));
        assert_eq!(p(&["0"]), Some(None));
        assert_eq!(p(&["1"]), Some(Some(Duration::from_secs(1))));
        assert_eq!(p(&[" 0.5"]), Some(Some(Duration::from_millis(500))));
        assert_eq!(p(&["-1"]), None);
        assert_eq!(p(&["1x"]), None);
        assert_eq!(p(&["--help"]), None);
        assert_eq!(p(&["inf"]), None);
        assert_eq!(p(&["1", "2"]), None);
    }
}
