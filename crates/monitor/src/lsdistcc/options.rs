//! `lsdistcc`'s command line, read as 3.4 reads it: single-letter options with their value
//! glued on (`-t5`, `-pgcc`), up to the first word that does not start with `-`; then either
//! one name pattern containing `%d` or a list of host names.
//!
//! Differences from 3.4, all about bad input: a numeric option whose value is not a number
//! (`-tx`, or `-t` alone, which 3.4's `atoi` reads as 0) is a usage error here, and so is a
//! port above 65535.

use std::fmt;
use std::time::Duration;

use proto::Version;

use super::scan::Outcome;

/// 3.4's defaults (`lsdistcc.c`).
pub const DEFAULT_FORMAT: &str = "distcc%d";
pub const DEFAULT_PORT: u16 = 3632;
pub const DEFAULT_TIMEOUT_SECS: u64 = 7;
pub const DEFAULT_DNS_TIMEOUT_MS: u64 = 500;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 900;
pub const DEFAULT_COMPILE_TIMEOUT_MS: u64 = 1500;
pub const DEFAULT_OVERLAP: u32 = 1;
pub const DEFAULT_DNS_GAP: u32 = 0;
/// Names generated from a pattern run from 1 to this (3.4's `MAXHOSTS`).
pub const MAX_HOSTS: u32 = 500;

/// Which hosts to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Names made by putting 1, 2, 3, … in place of `%d`, until a name does not resolve.
    Pattern(String),
    /// Exactly these names, every one of them tried.
    Hosts(Vec<String>),
}

impl Targets {
    /// The `i`th candidate name (1-based), or `None` past the end.
    pub fn name(&self, i: u32) -> Option<String> {
        match self {
            Targets::Pattern(p) => (1..=MAX_HOSTS).contains(&i).then(|| expand(p, i)),
            Targets::Hosts(h) => h.get(usize::try_from(i).ok()?.checked_sub(1)?).cloned(),
        }
    }
}

/// Replaces the first `%d` with `i`, and `%%` with `%`, as `sprintf(format, i)` does for the
/// patterns 3.4 accepts; any other `%` is kept as it is rather than read as a conversion.
fn expand(pattern: &str, i: u32) -> String {
    let mut out = String::with_capacity(pattern.len() + 3);
    let mut used = false;
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("%d").filter(|_| !used) {
            out.push_str(&i.to_string());
            used = true;
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%%") {
            out.push('%');
            rest = after;
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Everything the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-l`: print the latency in milliseconds after each name.
    pub latency: bool,
    /// `-n`: print the address instead of the name.
    pub numeric: bool,
    /// `-x`: also print hosts that are down, with `,down` appended.
    pub show_down: bool,
    /// `-t`: stop everything after this long; `None` for `-t0` (no limit, like `alarm(0)`).
    pub timeout: Option<Duration>,
    /// `-h`: accepted for compatibility. 3.4 re-sends a DNS query after this long; the system
    /// resolver used here does its own retries.
    pub dns_timeout: Duration,
    /// `-c`: connect timeout; `None` (`-c0`) reports every resolved host as up unconnected.
    pub connect_timeout: Option<Duration>,
    /// `-k`: compile timeout; `None` (`-k0`) skips the compile test even with `-p`.
    pub compile_timeout: Option<Duration>,
    /// `-m`: leading bits of the address that must match the first host found.
    pub match_bits: u8,
    /// `-o`: extra lookups kept in flight while walking a pattern.
    pub overlap: u32,
    /// `-g`: unresolvable pattern names tolerated before the walk stops.
    pub dns_gap: u32,
    /// `-r`: the port to probe.
    pub port: u16,
    /// `-P`: protocol of the test compile, and the suffix printed (`,lzo`, `,lzo,cpp`).
    pub protocol: Version,
    /// `-p`: compiler for the test compile; no compile test without it.
    pub compiler: Option<String>,
    /// `-d`: append the DNS domain to every name.
    pub domain: bool,
    /// `-v` (repeatable): progress on stderr.
    pub verbose: u32,
    pub targets: Targets,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            latency: false,
            numeric: false,
            show_down: false,
            timeout: Some(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
            dns_timeout: Duration::from_millis(DEFAULT_DNS_TIMEOUT_MS),
            connect_timeout: Some(Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS)),
            compile_timeout: Some(Duration::from_millis(DEFAULT_COMPILE_TIMEOUT_MS)),
            match_bits: 0,
            overlap: DEFAULT_OVERLAP,
            dns_gap: DEFAULT_DNS_GAP,
            port: DEFAULT_PORT,
            protocol: Version::V1,
            compiler: None,
            domain: false,
            verbose: 0,
            targets: Targets::Pattern(DEFAULT_FORMAT.to_string()),
        }
    }
}

/// The command line was not understood; the binary prints the usage text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl Options {
    /// Whether `--help` is among the options (before the first word not starting with `-`).
    /// 3.4 calls it a bad option and prints the usage to exit 1; here it prints the usage
    /// and exits 0, as `--help` does everywhere else.
    pub fn wants_help<S: AsRef<str>>(args: &[S]) -> bool {
        args.iter()
            .map(AsRef::as_ref)
            .take_while(|a| a.starts_with('-'))
            .any(|a| a == "--help")
    }

    /// Parses the arguments after the program name.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Options, UsageError> {
        let mut o = Options::default();
        let mut i = 0;
        while let Some(arg) = args.get(i).map(AsRef::as_ref) {
            let Some(opt) = arg.strip_prefix('-') else {
                break;
            };
            let mut chars = opt.chars();
            let letter = chars.next();
            let value = chars.as_str();
            match letter {
                Some('m') => {
                    let bits = number(arg, value)?;
                    o.match_bits = u8::try_from(bits)
                        .ok()
                        .filter(|b| *b <= 31)
                        .ok_or_else(|| bad(arg))?;
                }
                Some('t') => {
                    let s = number(arg, value)?;
                    o.timeout = (s > 0).then(|| Duration::from_secs(s));
                }
                Some('h') => o.dns_timeout = Duration::from_millis(number(arg, value)?),
                Some('c') => o.connect_timeout = millis_or_off(number(arg, value)?),
                Some('k') => o.compile_timeout = millis_or_off(number(arg, value)?),
                Some('o') => o.overlap = small(arg, value)?,
                Some('g') => o.dns_gap = small(arg, value)?,
                Some('P') => {
                    o.protocol = match number(arg, value)? {
                        1 => Version::V1,
                        2 => Version::V2,
                        3 => Version::V3,
                        _ => return Err(bad(arg)),
                    }
                }
                Some('p') if !value.is_empty() => o.compiler = Some(value.to_string()),
                Some('r') => {
                    o.port = u16::try_from(number(arg, value)?)
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| bad(arg))?;
                }
                // 3.4 looks only at the letter, so `-lx` is `-l`.
                Some('l') => o.latency = true,
                Some('n') => o.numeric = true,
                Some('x') => o.show_down = true,
                Some('v') => o.verbose += 1,
                Some('d') => o.domain = true,
                _ => return Err(bad(arg)),
            }
            i += 1;
        }
        let rest: Vec<String> = args[i..].iter().map(|s| s.as_ref().to_string()).collect();
        if let Some(first) = rest.first() {
            // As in 3.4: a first word with `%d` is a pattern (and the rest is ignored);
            // otherwise every word is a host.
            o.targets = if first.contains("%d") {
                Targets::Pattern(first.clone())
            } else {
                Targets::Hosts(rest)
            };
        }
        Ok(o)
    }

    /// The line printed for a probed host, or `None` when it is down and `-x` was not given:
    /// name (or address with `-n`), `:port` when the port is not 3632, the protocol suffix,
    /// `,down`, and the latency with `-l`, as Debian's 3.4 prints it. The result is a valid
    /// `DISTCC_HOSTS` entry.
    pub fn line(&self, o: &Outcome) -> Option<String> {
        if !o.up && !self.show_down {
            return None;
        }
        let mut line = if self.numeric {
            o.addr.to_string()
        } else {
            o.name.clone()
        };
        if self.port != DEFAULT_PORT {
            line.push_str(&format!(":{}", self.port));
        }
        line.push_str(self.suffix());
        if !o.up {
            line.push_str(",down");
        }
        if self.latency {
            line.push_str(&format!(" {}", o.latency.as_millis()));
        }
        Some(line)
    }

    /// What 3.4 prints after each name: nothing, `,lzo` or `,lzo,cpp`.
    pub fn suffix(&self) -> &'static str {
        match self.protocol {
            Version::V1 => "",
            Version::V2 => ",lzo",
            // lsdistcc never probes with protocol 4 (its options stop at 3).
            Version::V3 | Version::V4 => ",lzo,cpp",
        }
    }
}

fn bad(arg: &str) -> UsageError {
    UsageError(format!("bad option {arg:?}"))
}

fn number(arg: &str, value: &str) -> Result<u64, UsageError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(arg));
    }
    value.parse().map_err(|_| bad(arg))
}

fn small(arg: &str, value: &str) -> Result<u32, UsageError> {
    u32::try_from(number(arg, value)?).map_err(|_| bad(arg))
}

fn millis_or_off(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// The usage text, with 3.4's options and defaults.
pub fn usage() -> String {
    format!(
        "Usage: lsdistcc [-tTIMEOUT] [-mBITS] [-nvd] [format]
       lsdistcc [options] host1 host2 ...
Tries format with %d replaced by 1, 2, 3, ... to name servers; stops after {t} seconds
or at the first name that does not resolve; prints the servers listening on distcc's port.
Default format is {f}. Given host names instead, checks exactly those hosts.
Options:
-l         Print the latency in milliseconds after each host (not counting DNS)
-n         Print the IP address instead of the name
-x         Also print down hosts, with ,down appended
-tTIMEOUT  Stop searching after this many seconds [{t}] (0: no limit)
-hHTIMEOUT Milliseconds before retrying a name lookup [{h}]
-cCTIMEOUT Milliseconds before giving up on a connect [{c}] (0: do not connect)
-kKTIMEOUT Milliseconds before giving up on a test compile [{k}] (0: no compile)
-mBITS     Leading address bits that must match the first host found [0]
-oOVERLAP  Extra name lookups to keep in flight [{o}]
-gDNSGAP   Names that may fail to resolve before the search stops [{g}]
-rPORT     Port to connect to [{r}]
-PPROTOCOL Protocol version of the test compile (1-3) [1]
-pCOMPILER Compiler for a test compile [none]
-d         Append the DNS domain name to each name
-v         Verbose (repeat for more)

Examples:
lsdistcc -l -p$COMPILER
lsdistcc -p$COMPILER hosta somehost hostx hosty
",
        t = DEFAULT_TIMEOUT_SECS,
        f = DEFAULT_FORMAT,
        h = DEFAULT_DNS_TIMEOUT_MS,
        c = DEFAULT_CONNECT_TIMEOUT_MS,
        k = DEFAULT_COMPILE_TIMEOUT_MS,
        o = DEFAULT_OVERLAP,
        g = DEFAULT_DNS_GAP,
        r = DEFAULT_PORT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_3_4() {
        let o = Options::parse::<&str>(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.port, 3632);
        assert_eq!(o.timeout, Some(Duration::from_secs(7)));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(900)));
        assert_eq!(o.targets, Targets::Pattern("distcc%d".into()));
        assert_eq!(o.suffix(), "");
    }

    #[test]
    fn glued_values_and_flags() {
        let o = Options::parse(&[
            "-l", "-n", "-x", "-t3", "-c250", "-k0", "-m24", "-o4", "-g2", "-r3700", "-P3",
            "-pgcc", "-v", "-v", "-d", "build%d",
        ])
        .unwrap();
        assert!(o.latency && o.numeric && o.show_down && o.domain);
        assert_eq!(o.timeout, Some(Duration::from_secs(3)));
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!(o.compile_timeout, None);
        assert_eq!(
            (o.match_bits, o.overlap, o.dns_gap, o.port),
            (24, 4, 2, 3700)
        );
        assert_eq!(o.protocol, Version::V3);
        assert_eq!(o.suffix(), ",lzo,cpp");
        assert_eq!(o.compiler.as_deref(), Some("gcc"));
        assert_eq!(o.verbose, 2);
        assert_eq!(o.targets, Targets::Pattern("build%d".into()));
    }

    #[test]
    fn host_list_and_options_stop_at_first_word() {
        let o = Options::parse(&["-c0", "a", "-l", "b"]).unwrap();
        assert_eq!(o.connect_timeout, None);
        assert!(!o.latency);
        assert_eq!(
            o.targets,
            Targets::Hosts(vec!["a".into(), "-l".into(), "b".into()])
        );
        assert_eq!(Options::parse(&["-t0"]).unwrap().timeout, None);
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for bad in [
            &["-q"][..],
            &["-"],
            &["--help"],
            &["-t"],
            &["-tx"],
            &["-t-1"],
            &["-m32"],
            &["-P0"],
            &["-P4"],
            &["-p"],
            &["-r0"],
            &["-r70000"],
        ] {
            assert!(Options::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_is_seen_among_options_only() {
        assert!(Options::wants_help(&["--help"]));
        assert!(Options::wants_help(&["-l", "--help"]));
        assert!(!Options::wants_help(&["host", "--help"]));
        assert!(!Options::wants_help(&["-h500"]));
    }

    #[test]
    fn pattern_expansion() {
        let t = Targets::Pattern("distcc%d".into());
        assert_eq!(t.name(1).as_deref(), Some("distcc1"));
        assert_eq!(t.name(500).as_deref(), Some("distcc500"));
        assert_eq!(t.name(501), None);
        assert_eq!(t.name(0), None);
        assert_eq!(expand("127.0.0.%d", 7), "127.0.0.7");
        assert_eq!(expand("a%%b%dc%d", 3), "a%b3c%d");
        assert_eq!(expand("x%s%d", 2), "x%s2");
    }

    #[test]
    fn lines_as_debian_3_4_prints_them() {
        let up = Outcome {
            name: "build1".into(),
            addr: [10, 0, 0, 1].into(),
            up: true,
            latency: Duration::from_millis(12),
            why: None,
        };
        let down = Outcome {
            up: false,
            ..up.clone()
        };
        let o = Options::default();
        assert_eq!(o.line(&up).as_deref(), Some("build1"));
        assert_eq!(o.line(&down), None);
        let o = Options::parse(&["-x", "-r4000", "-P3", "-l"]).unwrap();
        assert_eq!(o.line(&up).as_deref(), Some("build1:4000,lzo,cpp 12"));
        assert_eq!(
            o.line(&down).as_deref(),
            Some("build1:4000,lzo,cpp,down 12")
        );
        let o = Options::parse(&["-n", "-r3632"]).unwrap();
        assert_eq!(o.line(&up).as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn host_list_names() {
        let t = Targets::Hosts(vec!["a".into(), "b".into()]);
        assert_eq!(t.name(0), None);
        assert_eq!(t.name(1).as_deref(), Some("a"));
        assert_eq!(t.name(2).as_deref(), Some("b"));
        assert_eq!(t.name(3), None);
    }
}
