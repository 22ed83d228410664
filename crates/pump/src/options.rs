//! The include server's command line: 3.4's `include_server.py` options (getopt
//! `d:estvwx` and its long options), read into a plain struct. Pure.
//!
//! What each one does here:
//! - `--port SOCKET` (required), `--pid_file FILE`, `-s`/`--statistics` (counters on stderr
//!   at exit), `--foreground` (ours: no fork);
//! - `-dPAT`/`--debug_pattern=PAT`: bit 1 (on by default, as in 3.4) prints warnings — why a
//!   compile is not covered, absolute includes ignored; the other bits (3.4's traces of its
//!   Python functions) are accepted and print nothing more;
//! - `-t`/`--time`: elapsed, user and system time on stderr at exit;
//! - `--unsafe_absolute_includes`: an absolute `#include` of a non-system file is left out
//!   of the closure (with a warning) instead of making the include server give up;
//! - `--no_force_dirs`: no `forcing_technique_271828` files (only the working directory is
//!   still made to exist), as 3.4;
//! - `-e`/`--email`, `--no-email`, `--email_bound N`: accepted; no e-mail is ever sent (a
//!   warning says so for `-e`);
//! - `-v`/`--verify`, `-w`/`--write_include_closure`, `-x`/`--exact_analysis`,
//!   `--stat_reset_triggers=LIST`, `--path_observation_re=RE`, `--simple_algorithm`:
//!   accepted; not implemented here (a warning names each at start-up). Changed headers are
//!   noticed without `--stat_reset_triggers`.
//!
//! Anything else is a usage error (exit 1), as 3.4's getopt.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub port: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub statistics: bool,
    pub foreground: bool,
    pub debug_pattern: u32,
    pub time: bool,
    pub unsafe_absolute_includes: bool,
    pub force_dirs: bool,
    pub email: bool,
    /// Accepted options that change nothing here, for the start-up warning.
    pub ignored: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: None,
            pid_file: None,
            statistics: false,
            foreground: false,
            debug_pattern: 1,
            time: false,
            unsafe_absolute_includes: false,
            force_dirs: true,
            email: false,
            ignored: Vec::new(),
        }
    }
}

impl Options {
    /// Warnings are printed (`--debug_pattern` bit 1).
    pub fn warnings(&self) -> bool {
        self.debug_pattern & 1 != 0
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Options),
    Help,
}

fn pattern(v: &str) -> Result<u32, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("bad --debug_pattern value {v:?}: expected a number"))
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("--{name} needs a value"))
            };
            match name {
                "port" => o.port = Some(PathBuf::from(value()?)),
                "pid_file" => o.pid_file = Some(PathBuf::from(value()?)),
                "debug_pattern" => o.debug_pattern = pattern(&value()?)?,
                "email" => o.email = true,
                "no-email" => o.email = false,
                "email_bound" => {
                    value()?;
                }
                "statistics" => o.statistics = true,
                "time" => o.time = true,
                "unsafe_absolute_includes" => o.unsafe_absolute_includes = true,
                "no_force_dirs" => o.force_dirs = false,
                "foreground" => o.foreground = true,
                "help" => return Ok(Parsed::Help),
                "stat_reset_triggers" | "path_observation_re" => {
                    value()?;
                    o.ignored.push(format!("--{name}"));
                }
                "verify" | "write_include_closure" | "exact_analysis" | "simple_algorithm" => {
                    o.ignored.push(format!("--{name}"));
                }
                _ => return Err(format!("unknown option --{name}")),
            }
            continue;
        }
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(format!("unexpected argument {a:?}"));
        };
        for (i, c) in flags.char_indices() {
            match c {
                'd' => {
                    let rest = &flags[i + 1..];
                    let v = if rest.is_empty() {
                        it.next().cloned().ok_or("-d needs a value")?
                    } else {
                        rest.to_string()
                    };
                    o.debug_pattern = pattern(&v)?;
                    break;
                }
                'e' => o.email = true,
                's' => o.statistics = true,
                't' => o.time = true,
                'v' => o.ignored.push("-v (--verify)".into()),
                'w' => o.ignored.push("-w (--write_include_closure)".into()),
                'x' => o.ignored.push("-x (--exact_analysis)".into()),
                'h' => return Ok(Parsed::Help),
                _ => return Err(format!("unknown option -{c}")),
            }
        }
    }
    Ok(Parsed::Run(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v)? {
            Parsed::Run(o) => Ok(o),
            Parsed::Help => Err("help".into()),
        }
    }

    #[test]
    fn options_of_3_4() {
        let o = run(&[
            "--port",
            "/s",
            "--pid_file=/p",
            "-d3",
            "-st",
            "--no_force_dirs",
        ])
        .unwrap();
        assert_eq!(o.port, Some(PathBuf::from("/s")));
        assert_eq!(o.pid_file, Some(PathBuf::from("/p")));
        assert_eq!(o.debug_pattern, 3);
        assert!(o.statistics && o.time && !o.force_dirs && o.warnings());
        let o = run(&[
            "-d",
            "0",
            "--unsafe_absolute_includes",
            "-e",
            "--email_bound",
            "3",
        ])
        .unwrap();
        assert!(!o.warnings() && o.unsafe_absolute_includes && o.email);
        let o = run(&["-vwx", "--stat_reset_triggers=/a:/b", "--simple_algorithm"]).unwrap();
        assert_eq!(o.ignored.len(), 5, "{:?}", o.ignored);
        assert!(
            run(&[]).unwrap().warnings(),
            "warnings are on by default, as in 3.4"
        );
        assert!(run(&["--help"]).is_err() && run(&["-h"]).is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            &["--bogus"][..],
            &["-q"],
            &["-d"],
            &["-dx"],
            &["--port"],
            &["stray"],
            &["-"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
    }
}
