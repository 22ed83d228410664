//! distccd's command line, parsed by hand into a plain [`Options`] value.
//!
//! Accepts what distcc 3.4's popt table accepts (`--port 3632`, `--port=3632`, `-p 3632`,
//! `-p3632`), so init scripts written for 3.4 keep working. This module only says what the
//! user asked for; resolving it (binding, opening files, dropping root) is the binary's job.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use proto::Limits;

use crate::access::{AllowList, Cidr};
use crate::log::Level;

/// Where the compiler allow-list lives unless `--allowed-compilers` or
/// `DISTCCD_ALLOWED_COMPILERS` says otherwise (Debian's masquerade directory).
pub const DEFAULT_COMPILER_DIR: &str = "/usr/lib/distcc";

/// Everything the user said, with 3.4's defaults filled in.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    pub no_detach: bool,
    pub port: u16,
    pub listen: Option<IpAddr>,
    pub allow: AllowList,
    /// `None` means CPUs + 2, decided when the daemon starts.
    pub jobs: Option<u32>,
    pub nice: i32,
    pub user: Option<String>,
    pub pid_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub log_level: Level,
    pub log_stderr: bool,
    /// `--job-lifetime`: a compile running longer is killed and reported as status 118.
    pub job_lifetime: Option<Duration>,
    /// `--lifetime`: the daemon exits after this long (3.4's testing aid).
    pub lifetime: Option<Duration>,
    /// Accepted for compatibility; the allow-list stays on regardless.
    pub enable_tcp_insecure: bool,
    /// `--zeroconf`: accepted; the daemon warns at start-up that it does not register.
    pub zeroconf: bool,
    pub compiler_dir: PathBuf,
    pub max_connections: usize,
    /// Longest wait for any one read of a request.
    pub read_timeout: Duration,
    /// Longest time from accepting a connection to having the whole request.
    pub request_timeout: Duration,
    pub limits: Limits,
    /// `--stats`: serve the stats port.
    pub stats: bool,
    /// `--stats-port` (3.4's default 3633).
    pub stats_port: u16,
}

/// How the daemon runs; 3.4 decides by `--inetd`/`--daemon`, else by whether stdin is a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Unspecified,
    Daemon,
    Inetd,
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Parsed {
    Run(Box<Options>),
    Help,
    Version,
}

/// A command line that cannot be used; the binary exits 101 as 3.4 does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Unspecified,
            no_detach: false,
            port: 3632,
            listen: None,
            allow: AllowList::default(),
            jobs: None,
            nice: 5,
            user: None,
            pid_file: None,
            log_file: None,
            log_level: Level::Notice,
            log_stderr: false,
            job_lifetime: None,
            lifetime: None,
            enable_tcp_insecure: false,
            zeroconf: false,
            compiler_dir: PathBuf::from(DEFAULT_COMPILER_DIR),
            max_connections: 2048,
            read_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(600),
            limits: Limits::DEFAULT,
            stats: false,
            stats_port: 3633,
        }
    }
}

/// 3.4's `--allow-private` list (3.4 skips the last entry by an off-by-one; we do not).
pub const PRIVATE_NETWORKS: &[&str] = &[
    "192.168.0.0/16",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "127.0.0.0/8",
    "fe80::/10",
    "fc00::/7",
    "::1/128",
];

/// How an option takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    Value,
}

/// Long name, short letter, value. Sorted by long name; a test checks the order.
const TABLE: &[(&str, Option<char>, Takes)] = &[
    ("allow", Some('a'), Takes::Value),
    ("allow-private", None, Takes::Nothing),
    ("allowed-compilers", None, Takes::Value),
    ("daemon", None, Takes::Nothing),
    ("enable-tcp-insecure", None, Takes::Nothing),
    ("help", None, Takes::Nothing),
    ("inetd", None, Takes::Nothing),
    ("job-lifetime", None, Takes::Value),
    ("jobs", Some('j'), Takes::Value),
    ("lifetime", None, Takes::Value),
    ("listen", None, Takes::Value),
    ("log-file", None, Takes::Value),
    ("log-level", None, Takes::Value),
    ("log-stderr", None, Takes::Nothing),
    ("make-me-a-botnet", None, Takes::Nothing),
    ("max-body-mb", None, Takes::Value),
    ("max-connections", None, Takes::Value),
    ("max-files", None, Takes::Value),
    ("nice", Some('N'), Takes::Value),
    ("no-detach", None, Takes::Nothing),
    ("no-fifo", None, Takes::Nothing),
    ("no-fork", None, Takes::Nothing),
    ("pid-file", Some('P'), Takes::Value),
    ("port", Some('p'), Takes::Value),
    ("read-timeout", None, Takes::Value),
    ("request-timeout", None, Takes::Value),
    ("stats", None, Takes::Nothing),
    ("stats-port", None, Takes::Value),
    ("user", None, Takes::Value),
    ("verbose", None, Takes::Nothing),
    ("version", None, Takes::Nothing),
    ("wizard", Some('W'), Takes::Nothing),
    ("zeroconf", None, Takes::Nothing),
];

/// Parses `args` (without the program name). `env_compiler_dir` is the value of
/// `DISTCCD_ALLOWED_COMPILERS`, passed in so this stays pure.
pub fn parse(args: &[String], env_compiler_dir: Option<&str>) -> Result<Parsed, UsageError> {
    let mut o = Options::default();
    if let Some(d) = env_compiler_dir.filter(|d| !d.is_empty()) {
        o.compiler_dir = PathBuf::from(d);
    }
    let mut allow_private = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (name, inline): (&str, Option<String>) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (lookup_long(n, arg)?, Some(v.to_owned())),
                None => (lookup_long(long, arg)?, None),
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = short.chars().next().unwrap_or('-');
            let rest = &short[c.len_utf8()..];
            let name = TABLE
                .iter()
                .find(|(_, s, _)| *s == Some(c))
                .map(|(n, _, _)| *n)
                .ok_or_else(|| UsageError(format!("{arg}: unknown option")))?;
            (name, (!rest.is_empty()).then(|| rest.to_owned()))
        } else {
            return Err(UsageError(format!("{arg}: unexpected argument")));
        };
        let takes = TABLE
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, t)| *t)
            .unwrap_or(Takes::Nothing);
        let value = match (takes, inline) {
            (Takes::Nothing, None) => String::new(),
            (Takes::Nothing, Some(_)) => {
                return Err(UsageError(format!("--{name}: option takes no value")));
            }
            (Takes::Value, Some(v)) => v,
            (Takes::Value, None) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| UsageError(format!("--{name}: missing argument")))?;
                i += 1;
                v.clone()
            }
        };
        match name {
            "allow" => o.allow.push(Cidr::parse(&value).map_err(UsageError)?),
            "allow-private" => allow_private = true,
            "allowed-compilers" => o.compiler_dir = PathBuf::from(value),
            "daemon" => o.mode = Mode::Daemon,
            "enable-tcp-insecure" => o.enable_tcp_insecure = true,
            "help" => return Ok(Parsed::Help),
            "inetd" => o.mode = Mode::Inetd,
            "job-lifetime" => {
                let s: u64 = number(name, &value)?;
                o.job_lifetime = (s > 0).then(|| Duration::from_secs(s));
            }
            "jobs" => {
                let j: u32 = number(name, &value)?;
                if !(1..=200).contains(&j) {
                    return Err(UsageError("--jobs argument must be between 1 and 200".into()));
                }
                o.jobs = Some(j);
            }
            "lifetime" => {
                let s: u64 = number(name, &value)?;
                o.lifetime = (s > 0).then(|| Duration::from_secs(s));
            }
            "listen" => {
                o.listen = Some(value.parse().map_err(|_| {
                    UsageError(format!("--listen: {value:?} is not an ip address"))
                })?)
            }
            "log-file" => o.log_file = Some(PathBuf::from(value)),
            "log-level" => {
                o.log_level = Level::from_name(&value).ok_or_else(|| {
                    UsageError(format!(
                        "invalid --log-level argument {value:?}: use critical, error, warning, notice, info or debug"
                    ))
                })?
            }
            "log-stderr" => o.log_stderr = true,
            "max-body-mb" => {
                let mb: u32 = number(name, &value)?;
                let bytes = mb.checked_mul(1024 * 1024).filter(|b| *b > 0).ok_or_else(|| {
                    UsageError("--max-body-mb must be between 1 and 4095".into())
                })?;
                o.limits.max_body = bytes;
                o.limits.max_unpacked = u64::from(bytes) * 2;
            }
            "max-connections" => {
                o.max_connections = number(name, &value)?;
                if o.max_connections == 0 {
                    return Err(UsageError("--max-connections must be at least 1".into()));
                }
            }
            "max-files" => o.limits.max_files = number(name, &value)?,
            "nice" => o.nice = number(name, &value)?,
            "no-detach" => o.no_detach = true,
            "pid-file" => o.pid_file = Some(PathBuf::from(value)),
            "port" => o.port = number(name, &value)?,
            "read-timeout" => o.read_timeout = Duration::from_secs(number(name, &value)?),
            "request-timeout" => o.request_timeout = Duration::from_secs(number(name, &value)?),
            "stats" => o.stats = true,
            "stats-port" => o.stats_port = number(name, &value)?,
            "user" => o.user = Some(value),
            "verbose" => o.log_level = Level::Debug,
            "version" => return Ok(Parsed::Version),
            "wizard" => {
                o.log_stderr = true;
                o.mode = Mode::Daemon;
                o.no_detach = true;
                o.log_level = Level::Debug;
            }
            // Accepted so 3.4 init scripts keep working; they change nothing here (threads
            // replace fork and the fifo).
            "no-fifo" | "no-fork" | "make-me-a-botnet" => {}
            // Not implemented yet: start-up says so (src/bin/distccd.rs).
            "zeroconf" => o.zeroconf = true,
            other => return Err(UsageError(format!("--{other}: unknown option"))),
        }
    }
    if allow_private {
        for n in PRIVATE_NETWORKS {
            o.allow
                .push(Cidr::parse(n).expect("the built-in private networks parse"));
        }
    }
    Ok(Parsed::Run(Box::new(o)))
}

fn lookup_long<'a>(name: &str, arg: &str) -> Result<&'a str, UsageError> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, _)| *n)
        .ok_or_else(|| UsageError(format!("{arg}: unknown option")))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, UsageError> {
    value
        .trim()
        .parse()
        .map_err(|_| UsageError(format!("--{name}: {value:?} is not a valid number")))
}

/// The text of `--help`.
pub const USAGE: &str = "\
Usage:
   distccd [OPTIONS]

Options:
    --help                     explain usage and exit
    --version                  show version and exit
    -P, --pid-file FILE        save daemon process id to file
    -N, --nice LEVEL           lower priority, 20=most nice
    --user USER                if run by root, change to this persona
    --jobs, -j LIMIT           maximum tasks at any time
    --job-lifetime SECONDS     maximum lifetime of a compile request
  Networking:
    -p, --port PORT            TCP port to listen on
    --listen ADDRESS           IP address to listen on
    -a, --allow IP[/BITS]      client address access control
    --stats                    serve statistics: 3.4's page at /, /json,
                               /metrics (Prometheus), /dashboard
    --stats-port PORT          port for --stats (3633)
    --allow-private            allow loopback and private networks
    --max-connections N        most connections open at once (2048)
    --read-timeout SECONDS     longest wait for one read of a request (120)
    --request-timeout SECONDS  longest time to receive a whole request (600)
    --max-body-mb N            largest body on the wire, in MiB (512)
    --max-files N              most files in a pump request (65536)
    --zeroconf                 not implemented yet: accepted with a warning
  Compilers:
    --allowed-compilers DIR    only run compilers named in DIR (/usr/lib/distcc;
                               also DISTCCD_ALLOWED_COMPILERS)
    --enable-tcp-insecure      accepted for compatibility; the list stays on
  Debug and trace:
    --log-level=LEVEL          set detail level for log file
      levels: critical, error, warning, notice, info, debug
    --verbose                  set log level to \"debug\"
    --no-detach                don't detach from parent (for daemontools, etc)
    --log-file=FILE            send messages here instead of syslog
    --log-stderr               send messages to stderr
    --wizard                   for running under gdb
  Mode of operation:
    --inetd                    serve client connected to stdin
    --daemon                   bind and listen on socket

Environment:
    DISTCC_CMDLIST FILE        serve only compilers matching a line of FILE
    DISTCC_CMDLIST_NUMWORDS N  ... in their last N path components (1)
    DISTCCD_PATH PATH          look compilers up (and run them) with this PATH
    DISTCC_SAVE_TEMPS=1        keep job directories
    DISTCC_TCP_DEFER_ACCEPT=1  accept a connection only once it has sent data

distccd runs either from inetd or as a standalone daemon to compile
files submitted by the distcc client.

distccd should only run on trusted networks.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, UsageError> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&v, None)? {
            Parsed::Run(o) => Ok(*o),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn table_is_sorted() {
        let names: Vec<&str> = TABLE.iter().map(|(n, _, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn long_short_and_equals_forms() {
        let o = run(&[
            "--port",
            "3700",
            "-j",
            "3",
            "-N10",
            "--pid-file=/x",
            "-P",
            "/y",
        ])
        .unwrap();
        assert_eq!(o.port, 3700);
        assert_eq!(o.jobs, Some(3));
        assert_eq!(o.nice, 10);
        assert_eq!(o.pid_file, Some(PathBuf::from("/y")));
        let o = run(&["--port=3701", "-p3702"]).unwrap();
        assert_eq!(o.port, 3702);
    }

    #[test]
    fn the_libgit2_command_line() {
        let o = run(&[
            "--daemon",
            "--no-detach",
            "--port",
            "4000",
            "--listen",
            "127.0.0.1",
            "--allow",
            "127.0.0.1/32",
            "--log-file",
            "/tmp/f",
            "--log-level",
            "info",
        ])
        .unwrap();
        assert_eq!(o.mode, Mode::Daemon);
        assert!(o.no_detach);
        assert_eq!(o.listen, Some("127.0.0.1".parse().unwrap()));
        assert!(o.allow.allows("127.0.0.1".parse().unwrap()));
        assert!(!o.allow.allows("127.0.0.2".parse().unwrap()));
        assert_eq!(o.log_level, Level::Info);
    }

    #[test]
    fn errors_are_clear() {
        assert_eq!(run(&["--bogus"]).unwrap_err().0, "--bogus: unknown option");
        assert_eq!(run(&["-x"]).unwrap_err().0, "-x: unknown option");
        assert!(
            run(&["--jobs", "0"])
                .unwrap_err()
                .0
                .contains("between 1 and 200")
        );
        assert!(run(&["--port"]).unwrap_err().0.contains("missing argument"));
        assert!(
            run(&["--port", "x"])
                .unwrap_err()
                .0
                .contains("not a valid number")
        );
        assert!(run(&["--allow", "1.2.3.4/33"]).is_err());
        assert!(run(&["--daemon=1"]).is_err());
        assert!(run(&["--log-level", "loud"]).is_err());
    }

    #[test]
    fn allow_private_and_defaults() {
        let o = run(&["--allow-private"]).unwrap();
        assert!(o.allow.allows("10.1.2.3".parse().unwrap()));
        assert!(o.allow.allows("::1".parse().unwrap()));
        assert!(!o.allow.allows("8.8.8.8".parse().unwrap()));
        assert_eq!(o.nice, 5);
        assert_eq!(o.port, 3632);
        assert!(run(&[]).unwrap().allow.is_empty());
    }

    #[test]
    fn stats_options() {
        let o = run(&["--stats", "--stats-port", "4001"]).unwrap();
        assert!(o.stats);
        assert_eq!(o.stats_port, 4001);
        let o = run(&["--stats-port=4002"]).unwrap();
        assert!(!o.stats);
        assert_eq!(o.stats_port, 4002);
        assert_eq!(run(&[]).unwrap().stats_port, 3633);
        assert!(run(&["--stats-port", "x"]).is_err());
    }

    #[test]
    fn compiler_dir_from_env_then_option() {
        let v = vec![];
        let Parsed::Run(o) = parse(&v, Some("/e")).unwrap() else {
            panic!()
        };
        assert_eq!(o.compiler_dir, PathBuf::from("/e"));
        let v = vec!["--allowed-compilers".to_string(), "/o".to_string()];
        let Parsed::Run(o) = parse(&v, Some("/e")).unwrap() else {
            panic!()
        };
        assert_eq!(o.compiler_dir, PathBuf::from("/o"));
    }
}
