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

/// A compile running longer than this is killed unless `--job-lifetime` says otherwise
/// (3.4 has no default: a job could run for ever).
pub const DEFAULT_JOB_LIFETIME: Duration = Duration::from_secs(3600);

/// `--ssh-hold`'s default: the held daemon's idle time, as the client's `DISTCC_SSH_PERSIST`.
pub const DEFAULT_SSH_HOLD: Duration = Duration::from_secs(300);

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
    /// `--zeroconf`: announce the daemon over mDNS (`zeroconf::Advert`).
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
    /// False with `--no-sandbox`: jobs run unconfined (see `os::sandbox`).
    pub sandbox: bool,
    /// `--sandbox-path DIR`: more directories a job sees read-only (a toolchain outside
    /// `/usr`; the allow-listed compiler's own installation is added by itself).
    pub sandbox_paths: Vec<PathBuf>,
    /// `--job-memory-mb`: the address space of each process of a job, in bytes.
    pub job_memory: u64,
    /// `--max-object-mb`: the largest object (or other output) sent back, in bytes; a job's
    /// processes may not write a file of more than twice this.
    pub max_object: u64,
    /// `--memory-budget-mb`: bytes of request bodies and results all connections may hold at
    /// once; a request past it is refused, never buffered.
    pub memory_budget: u64,
    /// `--max-connections-per-peer`: connections one client address may hold open.
    pub max_per_peer: usize,
    /// `--ssh-hold`: under `--inetd` started by sshd, the idle time of the user's held daemon
    /// (`daemon::held`); `None` (0) turns it off.
    pub ssh_hold: Option<Duration>,
    /// `--held-socket`: serve on this unix socket as the ssh user's held daemon.
    pub held_socket: Option<PathBuf>,
    /// `--coordinator` and its companions: farm coordinators to register with.
    pub coordinator: crate::coordinator::Settings,
    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`, `--tls-tokens`: TLS on the daemon's
    /// port, beside plain connections (`secure`). `None` without `--tls-cert`.
    pub tls: Option<tls::server::ServerSettings>,
    /// `--tls-allow`: the client names (certificate CN or DNS name, token name) that may
    /// compile; empty: every client that proved itself.
    pub tls_allow: Vec<String>,
    /// `--tls-only`: plain connections get a failure reply saying TLS is required.
    pub tls_only: bool,
    /// `--cache-dir`: the shared result cache (`distcc-cache`), off when `None`.
    pub cache_dir: Option<PathBuf>,
    /// `--cache-size`: its bound in bytes.
    pub cache_size: u64,
    /// `--chunk-store`: bytes of chunked sources kept in memory (protocol 4 `chunks=1`);
    /// 0 turns chunks off.
    pub chunk_store: u64,
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
            job_lifetime: Some(DEFAULT_JOB_LIFETIME),
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
            sandbox: true,
            sandbox_paths: Vec::new(),
            job_memory: 8192 << 20,
            max_object: 512 << 20,
            memory_budget: 2048 << 20,
            max_per_peer: 128,
            ssh_hold: Some(DEFAULT_SSH_HOLD),
            held_socket: None,
            coordinator: crate::coordinator::Settings::default(),
            tls: None,
            tls_allow: Vec::new(),
            tls_only: false,
            cache_dir: None,
            cache_size: 10 << 30,
            chunk_store: 256 << 20,
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

use cli::{Arg, Opt, opt};

const GENERAL: &str = "General";
const SANDBOX: &str = "Jobs' sandbox and limits";
const NET: &str = "Networking";
const COMPILERS: &str = "Compilers";
const DEBUG: &str = "Debug and trace";
const MODE: &str = "Mode of operation";
const TLS: &str = "TLS and client authentication";

/// Every option distccd accepts: the parser, `--help`, the man page and the completions all
/// read this one table. Sorted by long name; a test checks the order.
pub const OPTIONS: &[Opt] = &[
    opt(
        "allow",
        Some('a'),
        Arg::text("IP[/BITS]"),
        "client address access control; repeat for more networks (IPv4 or IPv6 CIDR)",
        NET,
    ),
    opt(
        "allow-private",
        None,
        None,
        "allow loopback and private networks (192.168.0.0/16, 10.0.0.0/8, 172.16.0.0/12, 127.0.0.0/8, fe80::/10, fc00::/7, ::1)",
        NET,
    ),
    opt(
        "allowed-compilers",
        None,
        Arg::dir("DIR"),
        "only run compilers named in DIR (/usr/lib/distcc; also DISTCCD_ALLOWED_COMPILERS)",
        COMPILERS,
    ),
    opt(
        "auth",
        None,
        None,
        "3.4's GSS-API authentication: not implemented, refused at start; authenticate clients with TLS (--tls-client-ca, --tls-tokens)",
        TLS,
    ),
    opt(
        "cache-dir",
        None,
        Arg::dir("DIR"),
        "keep the results of the compiles run here in DIR and serve them to any client that asks with the same key (protocol 4, plain and pump mode; off unless given)",
        GENERAL,
    ),
    opt(
        "cache-size",
        None,
        Arg::text("SIZE"),
        "the bound of --cache-dir: bytes, or with K, M, G, T (default 10G); least recently used results go first",
        GENERAL,
    ),
    opt(
        "chunk-store",
        None,
        Arg::text("SIZE"),
        "keep up to SIZE bytes (K, M, G suffixes; default 256M) of the sources our clients send in chunks, in memory, so each distinct piece travels once (protocol 4, plain mode); 0 turns chunks off",
        GENERAL,
    ),
    opt(
        "coordinator",
        None,
        Arg::text("HOST[:PORT][,tls]"),
        "register with this farm coordinator (port 3634 by default; ,tls: over TLS with the DISTCC_TLS_* variables as a client's) and report slots and load to it; repeat for more",
        NET,
    ),
    opt(
        "coordinator-max-load",
        None,
        Arg::text("LOAD"),
        "offer the coordinator fewer slots while the load that is not distcc's is above LOAD",
        NET,
    ),
    opt(
        "coordinator-name",
        None,
        Arg::text("HOST"),
        "the name or address clients reach this daemon by (default: the address it reaches the coordinator from)",
        NET,
    ),
    opt(
        "coordinator-withdraw-file",
        None,
        Arg::file("FILE"),
        "offer the coordinator no slots while FILE exists",
        NET,
    ),
    opt("daemon", None, None, "bind and listen on socket", MODE),
    opt(
        "enable-tcp-insecure",
        None,
        None,
        "accepted for compatibility; the allow-list stays on",
        COMPILERS,
    ),
    opt(
        "held-socket",
        None,
        Arg::file("FILE"),
        "serve on this unix socket as the ssh user's held daemon (started by --inetd through ssh; see --ssh-hold)",
        MODE,
    ),
    opt("help", None, None, "explain usage and exit", GENERAL),
    opt("inetd", None, None, "serve client connected to stdin", MODE),
    opt(
        "job-lifetime",
        None,
        Arg::text("SECONDS"),
        "maximum lifetime of a compile request (3600; 0: none); a longer compile is killed and reported as exit 118",
        GENERAL,
    ),
    opt(
        "job-memory-mb",
        None,
        Arg::text("N"),
        "address space of each job process, in MiB (8192)",
        SANDBOX,
    ),
    opt(
        "jobs",
        Some('j'),
        Arg::text("LIMIT"),
        "maximum tasks at any time (1 to 200; default: CPUs + 2)",
        GENERAL,
    ),
    opt(
        "lifetime",
        None,
        Arg::text("SECONDS"),
        "exit after this long (for testing)",
        DEBUG,
    ),
    opt(
        "listen",
        None,
        Arg::text("ADDRESS"),
        "IP address to listen on",
        NET,
    ),
    opt(
        "log-file",
        None,
        Arg::file("FILE"),
        "send messages here instead of syslog",
        DEBUG,
    ),
    opt(
        "log-level",
        None,
        Arg::one_of(
            "LEVEL",
            &["critical", "error", "warning", "notice", "info", "debug"],
        ),
        "set detail level for log file: critical, error, warning, notice, info or debug",
        DEBUG,
    ),
    opt("log-stderr", None, None, "send messages to stderr", DEBUG),
    opt(
        "make-me-a-botnet",
        None,
        None,
        "accepted for compatibility; does nothing",
        COMPILERS,
    ),
    opt(
        "max-body-mb",
        None,
        Arg::text("N"),
        "largest body on the wire, in MiB (512)",
        NET,
    ),
    opt(
        "max-connections",
        None,
        Arg::text("N"),
        "most connections open at once (2048)",
        NET,
    ),
    opt(
        "max-connections-per-peer",
        None,
        Arg::text("N"),
        "connections one address may hold (128)",
        NET,
    ),
    opt(
        "max-files",
        None,
        Arg::text("N"),
        "most files in a pump request (65536)",
        NET,
    ),
    opt(
        "max-object-mb",
        None,
        Arg::text("N"),
        "largest result sent back, in MiB (512)",
        SANDBOX,
    ),
    opt(
        "memory-budget-mb",
        None,
        Arg::text("N"),
        "request bodies and results held at once, all connections together, in MiB (2048)",
        SANDBOX,
    ),
    opt(
        "nice",
        Some('N'),
        Arg::text("LEVEL"),
        "lower priority, 20=most nice (default 5)",
        GENERAL,
    ),
    opt(
        "no-detach",
        None,
        None,
        "don't detach from parent (for daemontools, systemd, etc)",
        DEBUG,
    ),
    opt(
        "no-fifo",
        None,
        None,
        "accepted for compatibility; does nothing",
        DEBUG,
    ),
    opt(
        "no-fork",
        None,
        None,
        "accepted for compatibility; does nothing (connections are served by threads)",
        DEBUG,
    ),
    opt(
        "no-sandbox",
        None,
        None,
        "run jobs unconfined (no namespaces, private root or limits): only where the kernel cannot sandbox, and only for trusted clients",
        SANDBOX,
    ),
    opt(
        "pid-file",
        Some('P'),
        Arg::file("FILE"),
        "save daemon process id to file",
        GENERAL,
    ),
    opt(
        "port",
        Some('p'),
        Arg::text("PORT"),
        "TCP port to listen on (3632)",
        NET,
    ),
    opt(
        "read-timeout",
        None,
        Arg::text("SECONDS"),
        "longest wait for one read of a request (120)",
        NET,
    ),
    opt(
        "request-timeout",
        None,
        Arg::text("SECONDS"),
        "longest time to receive a whole request (600)",
        NET,
    ),
    opt(
        "sandbox-path",
        None,
        Arg::dir("DIR"),
        "a directory jobs see read-only, besides /usr and the compiler's own installation; repeat for more",
        SANDBOX,
    ),
    opt(
        "ssh-hold",
        None,
        Arg::text("SECONDS"),
        "under --inetd started by sshd: serve later jobs from one daemon of the ssh user on a unix socket in ~/.distcc/held/, which exits after SECONDS idle (300; 0: off)",
        MODE,
    ),
    opt(
        "stats",
        None,
        None,
        "serve statistics: 3.4's page at /, /json, /metrics (Prometheus), /dashboard",
        NET,
    ),
    opt(
        "stats-port",
        None,
        Arg::text("PORT"),
        "port for --stats (3633)",
        NET,
    ),
    opt(
        "tls-allow",
        None,
        Arg::text("NAME"),
        "only these clients may compile: a client certificate's subject CN or DNS name, or a token's name; repeat or separate with commas (needs --tls-client-ca or --tls-tokens)",
        TLS,
    ),
    opt(
        "tls-cert",
        None,
        Arg::file("FILE"),
        "serve TLS on the same port as plain connections, with this certificate chain (PEM); its SHA-256 is logged for DISTCC_TLS_PIN",
        TLS,
    ),
    opt(
        "tls-client-ca",
        None,
        Arg::file("FILE"),
        "accept client certificates issued by these CAs (PEM); without --tls-tokens, TLS clients must present one",
        TLS,
    ),
    opt(
        "tls-key",
        None,
        Arg::file("FILE"),
        "the private key of --tls-cert (PEM)",
        TLS,
    ),
    opt(
        "tls-only",
        None,
        None,
        "refuse plain connections with a reply saying TLS is required",
        TLS,
    ),
    opt(
        "tls-tokens",
        None,
        Arg::file("FILE"),
        "accept clients by token: \"name token\" lines (DISTCC_TLS_TOKEN on the client)",
        TLS,
    ),
    opt(
        "user",
        None,
        Arg::text("USER"),
        "if run by root, change to this persona (default: distcc, then distccd, then nobody)",
        GENERAL,
    ),
    opt("verbose", None, None, "set log level to \"debug\"", DEBUG),
    opt("version", None, None, "show version and exit", GENERAL),
    opt(
        "wizard",
        Some('W'),
        None,
        "for running under gdb: --daemon --no-detach --log-stderr --verbose",
        DEBUG,
    ),
    opt(
        "zeroconf",
        None,
        None,
        "announce this server over mDNS as distcc 3.4 does (_distcc._tcp with its TXT records and compiler subtype), on the interface of --listen, or on every interface",
        NET,
    ),
];

/// Parses `args` (without the program name). `env_compiler_dir` is the value of
/// `DISTCCD_ALLOWED_COMPILERS`, passed in so this stays pure.
pub fn parse(args: &[String], env_compiler_dir: Option<&str>) -> Result<Parsed, UsageError> {
    let mut o = Options::default();
    if let Some(d) = env_compiler_dir.filter(|d| !d.is_empty()) {
        o.compiler_dir = PathBuf::from(d);
    }
    let mut allow_private = false;
    let (mut tls_cert, mut tls_key, mut tls_client_ca, mut tls_tokens) = (None, None, None, None);
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
            let name = Opt::find_short(OPTIONS, c)
                .map(|o| o.long)
                .ok_or_else(|| UsageError(format!("{arg}: unknown option")))?;
            (name, (!rest.is_empty()).then(|| rest.to_owned()))
        } else {
            return Err(UsageError(format!("{arg}: unexpected argument")));
        };
        let takes_value = Opt::find_long(OPTIONS, name).is_some_and(|o| o.arg.is_some());
        let value = match (takes_value, inline) {
            (false, None) => String::new(),
            (false, Some(_)) => {
                return Err(UsageError(format!("--{name}: option takes no value")));
            }
            (true, Some(v)) => v,
            (true, None) => {
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
            "auth" => {
                return Err(UsageError(
                    "--auth: 3.4's GSS-API authentication is not implemented; authenticate clients with TLS instead (--tls-cert, --tls-key and --tls-client-ca or --tls-tokens)".into(),
                ));
            }
            "coordinator" => o.coordinator.coordinators.push(
                crate::coordinator::parse_target(&value).ok_or_else(|| {
                    UsageError(format!("--coordinator: {value:?} is not HOST[:PORT]"))
                })?,
            ),
            "coordinator-max-load" => {
                let l: f64 = number(name, &value)?;
                if !(l.is_finite() && l >= 0.0) {
                    return Err(UsageError(format!("--{name}: {value:?} is not a load")));
                }
                o.coordinator.max_load = Some(l);
            }
            "coordinator-name" => o.coordinator.name = Some(value),
            "coordinator-withdraw-file" => {
                o.coordinator.withdraw_file = Some(PathBuf::from(value))
            }
            "daemon" => o.mode = Mode::Daemon,
            "enable-tcp-insecure" => o.enable_tcp_insecure = true,
            "held-socket" => {
                let p = PathBuf::from(&value);
                if !p.is_absolute() {
                    return Err(UsageError(format!(
                        "--held-socket: {value:?} is not an absolute path"
                    )));
                }
                o.held_socket = Some(p);
            }
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
            "cache-dir" => o.cache_dir = Some(PathBuf::from(&value)),
            "chunk-store" => {
                o.chunk_store = cache::parse_size(&value).ok_or_else(|| {
                    UsageError(format!("--chunk-store: {value:?} is not a size"))
                })?
            }
            "cache-size" => {
                o.cache_size = cache::parse_size(&value)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        UsageError(format!(
                            "--cache-size: {value:?} is not a size"
                        ))
                    })?
            }
            "max-connections-per-peer" => {
                o.max_per_peer = number(name, &value)?;
                if o.max_per_peer == 0 {
                    return Err(UsageError(
                        "--max-connections-per-peer must be at least 1".into(),
                    ));
                }
            }
            "job-memory-mb" => o.job_memory = mebibytes(name, &value)?,
            "max-object-mb" => o.max_object = mebibytes(name, &value)?,
            "memory-budget-mb" => o.memory_budget = mebibytes(name, &value)?,
            "no-sandbox" => o.sandbox = false,
            "sandbox-path" => {
                let p = PathBuf::from(&value);
                if !p.is_absolute() {
                    return Err(UsageError(format!(
                        "--sandbox-path: {value:?} is not an absolute path"
                    )));
                }
                o.sandbox_paths.push(p);
            }
            "nice" => o.nice = number(name, &value)?,
            "no-detach" => o.no_detach = true,
            "pid-file" => o.pid_file = Some(PathBuf::from(value)),
            "port" => o.port = number(name, &value)?,
            "read-timeout" => o.read_timeout = Duration::from_secs(number(name, &value)?),
            "request-timeout" => o.request_timeout = Duration::from_secs(number(name, &value)?),
            "ssh-hold" => {
                let s: u64 = number(name, &value)?;
                o.ssh_hold = (s > 0).then(|| Duration::from_secs(s));
            }
            "stats" => o.stats = true,
            "stats-port" => o.stats_port = number(name, &value)?,
            "tls-allow" => o.tls_allow.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            ),
            "tls-cert" => tls_cert = Some(PathBuf::from(value)),
            "tls-client-ca" => tls_client_ca = Some(PathBuf::from(value)),
            "tls-key" => tls_key = Some(PathBuf::from(value)),
            "tls-only" => o.tls_only = true,
            "tls-tokens" => tls_tokens = Some(PathBuf::from(value)),
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
    o.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(tls::server::ServerSettings {
            cert,
            key,
            client_ca: tls_client_ca,
            tokens: tls_tokens,
        }),
        (None, None) => {
            if tls_client_ca.is_some()
                || tls_tokens.is_some()
                || o.tls_only
                || !o.tls_allow.is_empty()
            {
                return Err(UsageError(
                    "--tls-client-ca, --tls-tokens, --tls-allow and --tls-only need --tls-cert and --tls-key".into(),
                ));
            }
            None
        }
        _ => {
            return Err(UsageError(
                "--tls-cert and --tls-key go together: give both".into(),
            ));
        }
    };
    if let Some(t) = &o.tls
        && !o.tls_allow.is_empty()
        && t.client_ca.is_none()
        && t.tokens.is_none()
    {
        return Err(UsageError(
            "--tls-allow names clients, which needs --tls-client-ca or --tls-tokens to know them"
                .into(),
        ));
    }
    if allow_private {
        for n in PRIVATE_NETWORKS {
            o.allow
                .push(Cidr::parse(n).expect("the built-in private networks parse"));
        }
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// A size in MiB, at least 1, as bytes.
fn mebibytes(name: &str, value: &str) -> Result<u64, UsageError> {
    let mb: u64 = number(name, value)?;
    mb.checked_mul(1 << 20)
        .filter(|b| *b > 0 && mb <= 1 << 30)
        .ok_or_else(|| UsageError(format!("--{name}: {value:?} is not a size in MiB")))
}

fn lookup_long(name: &str, arg: &str) -> Result<&'static str, UsageError> {
    Opt::find_long(OPTIONS, name)
        .map(|o| o.long)
        .ok_or_else(|| UsageError(format!("{arg}: unknown option")))
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, UsageError> {
    value
        .trim()
        .parse()
        .map_err(|_| UsageError(format!("--{name}: {value:?} is not a valid number")))
}

/// The environment variables distccd reads (besides `DISTCCD_ALLOWED_COMPILERS`), as
/// `--help` lists them.
const ENVIRONMENT: &str = "\
Environment:
    DISTCC_CMDLIST FILE        serve only compilers matching a line of FILE
    DISTCC_CMDLIST_NUMWORDS N  ... in their last N path components (1)
    DISTCCD_PATH PATH          look compilers up (and run them) with this PATH
    DISTCC_SAVE_TEMPS=1        keep job directories
    DISTCC_TCP_DEFER_ACCEPT=1  accept a connection only once it has sent data
";

/// The text of `--help`, made from [`OPTIONS`].
pub fn usage() -> String {
    format!(
        "Usage:\n   distccd [OPTIONS]\n\nOptions:\n{}\n{ENVIRONMENT}\n\
         distccd runs either from inetd or as a standalone daemon to compile\n\
         files submitted by the distcc client.\n\n\
         distccd should only run on trusted networks.\n",
        cli::usage(OPTIONS, cli::Style::Gnu, GROUPS)
    )
}

/// The order of the option groups in `--help` and on the page.
pub const GROUPS: &[&str] = &[GENERAL, SANDBOX, NET, TLS, COMPILERS, DEBUG, MODE];

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

    /// Every entry of the table (so every option on the page and in the completions) is
    /// handled by the parser: none falls through to "unknown option".
    #[test]
    fn every_table_option_is_handled() {
        for o in OPTIONS {
            let mut args = vec![format!("--{}", o.long)];
            if let Some(a) = o.arg {
                args.push(
                    match (a.kind, a.name) {
                        (cli::ArgKind::OneOf(w), _) => w[0],
                        (_, "IP[/BITS]") => "10.0.0.0/8",
                        (_, "ADDRESS") => "127.0.0.1",
                        (_, "DIR" | "FILE") => "/x",
                        (_, "USER") => "nobody",
                        _ => "3",
                    }
                    .to_owned(),
                );
            }
            if o.long == "auth" {
                // 3.4's GSS-API: refused with a pointer to TLS, never silently ignored.
                let e = parse(&args, None).unwrap_err();
                assert!(e.0.contains("--tls-client-ca"), "{e}");
                continue;
            }
            if o.long.starts_with("tls-") {
                // The TLS options need a certificate, and --tls-allow a way to name clients.
                for a in ["--tls-cert", "/x", "--tls-key", "/x", "--tls-tokens", "/x"] {
                    args.push(a.to_owned());
                }
            }
            let parsed = parse(&args, None);
            assert!(parsed.is_ok(), "{args:?}: {parsed:?}");
            if let Some(c) = o.short {
                args[0] = format!("-{c}");
                assert!(parse(&args, None).is_ok(), "{args:?}");
            }
        }
    }

    #[test]
    fn tls_options_need_a_certificate_and_a_way_to_name_clients() {
        let p = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>(), None);
        let e = p(&["--tls-only"]).unwrap_err();
        assert!(e.0.contains("need --tls-cert"), "{e}");
        let e = p(&["--tls-cert", "/c"]).unwrap_err();
        assert!(e.0.contains("go together"), "{e}");
        let e = p(&["--tls-cert", "/c", "--tls-key", "/k", "--tls-allow", "a"]).unwrap_err();
        assert!(e.0.contains("--tls-client-ca or --tls-tokens"), "{e}");
        let Ok(Parsed::Run(o)) = p(&[
            "--tls-cert",
            "/c",
            "--tls-key",
            "/k",
            "--tls-client-ca",
            "/ca",
            "--tls-allow",
            "alice,bob",
            "--tls-allow=carol",
            "--tls-only",
        ]) else {
            panic!("a full TLS command line parses");
        };
        assert_eq!(o.tls_allow, ["alice", "bob", "carol"]);
        assert!(o.tls_only);
        let t = o.tls.unwrap();
        assert_eq!(
            (
                t.cert.to_str(),
                t.client_ca.as_deref().and_then(|p| p.to_str())
            ),
            (Some("/c"), Some("/ca"))
        );
    }

    #[test]
    fn table_is_sorted() {
        let names: Vec<&str> = OPTIONS.iter().map(|o| o.long).collect();
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
