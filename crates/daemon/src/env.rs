//! distccd's environment variables (3.4's), read once into a plain struct; pure, so tests
//! need no environment. What each one does here:
//! - `DISTCC_CMDLIST` / `DISTCC_CMDLIST_NUMWORDS` (1): the command list `compiler::CmdList`
//!   checks requests against, on top of the allow-list, read at start-up (3.4 reads it at the
//!   first job; an unreadable list fails start-up here instead of every job).
//! - `DISTCCD_PATH`: the `PATH` compilers are looked up on and run with, as given (3.4 then
//!   skips its masquerade-directory pruning; here the allow-list directory and links to
//!   distcc are skipped whatever the path says).
//! - `DISTCC_SAVE_TEMPS`: job directories are kept after the job (and logged).
//! - `DISTCC_TCP_DEFER_ACCEPT`: `TCP_DEFER_ACCEPT` on the listening socket. 3.4 turns it on
//!   unless the variable says 0; here it is off unless the variable says 1, because a
//!   connection the kernel holds back is invisible to `--max-connections`, to the read
//!   deadlines and to the stats page's count of silent clients, and a thread per connection
//!   (not 3.4's pre-forked workers) costs little while a client is silent.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Env {
    pub cmdlist: Option<PathBuf>,
    pub cmdlist_words: usize,
    pub path: Option<OsString>,
    pub save_temps: bool,
    pub defer_accept: bool,
}

/// 3.4's reading of a flag: unset gives `default`; otherwise C's `atoi` of the value is not 0
/// (so `1` is on; `0`, empty and words are off), as the client reads its flags.
fn flag(v: Option<OsString>, default: bool) -> bool {
    let Some(v) = v else { return default };
    let s = v.to_string_lossy();
    let s = s.trim_start();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    s.chars().take_while(char::is_ascii_digit).any(|c| c != '0')
}

impl Env {
    /// Reads the variables through `get`; a bad `DISTCC_CMDLIST_NUMWORDS` is an error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Env, String> {
        let cmdlist_words = match get("DISTCC_CMDLIST_NUMWORDS") {
            None => 1,
            Some(v) => {
                let s = v.to_string_lossy();
                match s.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => n,
                    _ => {
                        return Err(format!(
                            "DISTCC_CMDLIST_NUMWORDS must be a number of 1 or more, not {s:?}"
                        ));
                    }
                }
            }
        };
        Ok(Env {
            cmdlist: get("DISTCC_CMDLIST")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cmdlist_words,
            path: get("DISTCCD_PATH").filter(|v| !v.is_empty()),
            save_temps: flag(get("DISTCC_SAVE_TEMPS"), false),
            defer_accept: flag(get("DISTCC_TCP_DEFER_ACCEPT"), false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<Env, String> {
        Env::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults_and_values() {
        let e = env(&[]).unwrap();
        assert_eq!(e.cmdlist_words, 1);
        assert!(!e.save_temps && !e.defer_accept && e.cmdlist.is_none() && e.path.is_none());
        let e = env(&[
            ("DISTCC_CMDLIST", "/etc/distcc/commands.allow"),
            ("DISTCC_CMDLIST_NUMWORDS", "3"),
            ("DISTCCD_PATH", "/opt/bin:/usr/bin"),
            ("DISTCC_SAVE_TEMPS", "1"),
            ("DISTCC_TCP_DEFER_ACCEPT", "1"),
        ])
        .unwrap();
        assert_eq!(e.cmdlist_words, 3);
        assert_eq!(e.path.as_deref(), Some("/opt/bin:/usr/bin".as_ref()));
        assert!(e.save_temps && e.defer_accept);
        for off in ["0", "", "00"] {
            assert!(
                !env(&[("DISTCC_SAVE_TEMPS", off)]).unwrap().save_temps,
                "{off:?}"
            );
        }
        for bad in ["0", "x", "-1", ""] {
            assert!(env(&[("DISTCC_CMDLIST_NUMWORDS", bad)]).is_err(), "{bad:?}");
        }
    }
}
