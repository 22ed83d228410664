//! What the user said: every `DISTCC_*` (and related) environment variable, read once into a
//! plain struct. Pure: it takes the variables as a lookup function, so tests need no
//! environment. Turning paths into directories and host text into hosts happens later.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The client's settings, as 3.4 reads them, with 3.4's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DISTCC_VERBOSE`: log debug messages too.
    pub verbose: bool,
    /// `DISTCC_LOG`: append messages to this file instead of standard error.
    pub log_file: Option<PathBuf>,
    /// `UNCACHED_ERR_FD` (set by ccache): where messages go instead of standard error when
    /// `DISTCC_LOG` is unset. 3.4's `atoi`: 0 or junk means standard error.
    pub uncached_err_fd: Option<i32>,
    /// `DISTCC_DIR`, if set (else `$HOME/.distcc`).
    pub distcc_dir: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `DISTCC_SAVE_TEMPS`: keep temporary files.
    pub save_temps: bool,
    /// `DISTCC_IO_TIMEOUT` (300 s): the longest one read or write on a connection may take.
    pub io_timeout: Duration,
    /// `DISTCC_PAUSE_TIME_MSEC` (1000 ms): how long to wait when every slot is busy.
    pub pause_time: Duration,
    /// `DISTCC_TCP_CORK` (on): cork the socket while sending a request.
    pub tcp_cork: bool,
    /// `DISTCC_NO_REWRITE_CROSS`: never rename `cc`/`gcc` or add `-target`.
    pub no_rewrite_cross: bool,
    /// `DISTCC_FALLBACK` (on): compile locally when distribution fails.
    pub fallback: bool,
    /// `DISTCC_SKIP_LOCAL_RETRY`: after a remote compile error, report it instead of
    /// recompiling locally.
    pub skip_local_retry: bool,
    /// `DISTCC_IDENTICAL_DEBUG`: objects with debug information must equal a local build's;
    /// the hosts are distcc-rs daemons (see `compile`'s source route).
    pub identical_debug: bool,
    /// `DISTCC_BACKOFF_PERIOD` (60 s): how long a failed host is avoided; zero disables.
    pub backoff_period: Duration,
    /// `DISTCC_HOSTS`, verbatim.
    pub hosts: Option<String>,
    /// `DISTCC_COORDINATOR`: the farm coordinators to ask for a lease first (`client::coord`).
    pub coordinator: Option<String>,
    /// `TMPDIR` (else `/tmp`).
    pub tmpdir: PathBuf,
    /// `_DISTCC_SAFEGUARD`: how many distcc processes are above this one.
    pub safeguard: u32,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `DEPENDENCIES_OUTPUT` or `SUNPRO_DEPENDENCIES` is set (the name of the first).
    pub dependency_env: Option<&'static str>,
    /// `DISTCC_SSH`: the ssh program and its options, split on spaces later (`ssh` module).
    pub ssh: Option<String>,
    /// `DISTCC_SSH_HOARD` (on; ours): keep ssh connections open between jobs.
    pub ssh_hoard: bool,
    /// `DISTCC_CHUNKS` (on; ours): send a large plain protocol 4 source in chunks to a host
    /// that advertised `chunks=1`, so it gets each piece once (`chunks`).
    pub chunks: bool,
    /// `DISTCC_SSH_PERSIST` (300 s; ours): idle time after which a held connection closes.
    pub ssh_persist: Duration,
    /// `INCLUDE_SERVER_PORT`: the include server's socket (set by `pump`).
    pub include_server_port: Option<PathBuf>,
    /// `DISTCC_MAX_DISCREPANCY`, verbatim: pump failures that succeeded locally before pump
    /// mode is given up for the build (3.4's default 1).
    pub max_discrepancy: Option<String>,
    /// `CPATH`, `C_INCLUDE_PATH` or `CPLUS_INCLUDE_PATH` is set (the name of the first):
    /// include directories the include server does not see, so no pump mode.
    pub include_path_env: Option<&'static str>,
    /// `DISTCC_TLS_CA`, `DISTCC_TLS_PIN`, `DISTCC_TLS_CERT`, `DISTCC_TLS_KEY`,
    /// `DISTCC_TLS_TOKEN`, `DISTCC_TLS_TOKEN_FILE`: how `,tls` hosts are reached.
    pub tls: tls::client::ClientSettings,
    /// The result cache's settings (ours; `cache`): `DISTCC_CACHE`, `DISTCC_CACHE_DIR`,
    /// `DISTCC_CACHE_SIZE`.
    pub cache: crate::cache::Settings,
    /// `DISTCC_PROTOCOL`: the highest protocol spoken (4 unless set lower). Below 4, never
    /// protocol 4; the host entry's `,lzo`/`,cpp` choose among 1–3 as in 3.4.
    pub max_protocol: u32,
}

/// 3.4's `dcc_getenv_bool`: unset gives the default; otherwise anything but `0` and empty
/// (3.4 compares with atoi) is true.
fn env_bool(value: Option<OsString>, default: bool) -> bool {
    match value {
        None => default,
        Some(v) => atoi(&v.to_string_lossy()) != 0,
    }
}

/// C's `atoi`: leading blanks, an optional sign, digits; anything else stops it; no digits is 0.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in rest.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

fn nonempty_path(v: Option<OsString>) -> Option<PathBuf> {
    v.filter(|v| !v.is_empty()).map(PathBuf::from)
}

impl Config {
    /// Reads the settings through `get` (for the real environment, `std::env::var_os`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Config {
        let secs = |name: &str, default: u64| match get(name) {
            Some(v) => Duration::from_secs(atoi(&v.to_string_lossy()).max(0) as u64),
            None => Duration::from_secs(default),
        };
        let verbose = env_bool(get("DISTCC_VERBOSE"), false);
        let io_timeout = match secs("DISTCC_IO_TIMEOUT", 300) {
            // 3.4 rejects a zero or unparsable timeout and keeps the default.
            d if d.is_zero() => Duration::from_secs(300),
            d => d,
        };
        let pause_time = match get("DISTCC_PAUSE_TIME_MSEC") {
            Some(v) => Duration::from_millis(atoi(&v.to_string_lossy()).max(0) as u64),
            None => Duration::from_millis(1000),
        };
        let dependency_env = ["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"]
            .into_iter()
            .find(|n| get(n).is_some());
        Config {
            verbose,
            log_file: nonempty_path(get("DISTCC_LOG")),
            uncached_err_fd: get("UNCACHED_ERR_FD")
                .and_then(|v| i32::try_from(atoi(&v.to_string_lossy())).ok())
                .filter(|fd| *fd > 0),
            distcc_dir: nonempty_path(get("DISTCC_DIR")),
            home: nonempty_path(get("HOME")),
            save_temps: env_bool(get("DISTCC_SAVE_TEMPS"), false),
            io_timeout,
            pause_time,
            tcp_cork: env_bool(get("DISTCC_TCP_CORK"), true),
            // 3.4 only checks whether it is set.
            no_rewrite_cross: get("DISTCC_NO_REWRITE_CROSS").is_some(),
            fallback: env_bool(get("DISTCC_FALLBACK"), true),
            skip_local_retry: get("DISTCC_SKIP_LOCAL_RETRY").is_some(),
            identical_debug: env_bool(get("DISTCC_IDENTICAL_DEBUG"), false),
            backoff_period: secs("DISTCC_BACKOFF_PERIOD", 60),
            hosts: get("DISTCC_HOSTS").map(|v| v.to_string_lossy().into_owned()),
            coordinator: get("DISTCC_COORDINATOR")
                .map(|v| v.to_string_lossy().into_owned())
                .filter(|v| !v.trim().is_empty()),
            tmpdir: nonempty_path(get("TMPDIR")).unwrap_or_else(|| PathBuf::from("/tmp")),
            safeguard: match get("_DISTCC_SAFEGUARD") {
                None => 0,
                // 3.4: set but not a positive number still counts as one level.
                Some(v) => u32::try_from(atoi(&v.to_string_lossy()))
                    .unwrap_or(0)
                    .max(1),
            },
            path: get("PATH"),
            dependency_env,
            ssh: get("DISTCC_SSH").map(|v| v.to_string_lossy().into_owned()),
            ssh_hoard: env_bool(get("DISTCC_SSH_HOARD"), true),
            chunks: env_bool(get("DISTCC_CHUNKS"), true),
            ssh_persist: secs("DISTCC_SSH_PERSIST", 300),
            include_server_port: nonempty_path(get("INCLUDE_SERVER_PORT")),
            cache: crate::cache::Settings {
                enabled: get("DISTCC_CACHE").map(|v| atoi(&v.to_string_lossy()) != 0),
                dir: nonempty_path(get("DISTCC_CACHE_DIR")),
                size: get("DISTCC_CACHE_SIZE").map(|v| v.to_string_lossy().into_owned()),
                direct: env_bool(get("DISTCC_CACHE_DIRECT"), false),
                under_ccache: get("UNCACHED_ERR_FD").is_some(),
            },
            max_discrepancy: get("DISTCC_MAX_DISCREPANCY")
                .map(|v| v.to_string_lossy().into_owned()),
            include_path_env: ["CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH"]
                .into_iter()
                .find(|n| get(n).is_some()),
            tls: tls::client::ClientSettings::from_lookup(|k| {
                get(k).map(|v| v.to_string_lossy().into_owned())
            }),
            // Unset, empty, or not a number from 1 up: the highest this client speaks.
            max_protocol: match get("DISTCC_PROTOCOL").map(|v| atoi(&v.to_string_lossy())) {
                Some(n @ 1..=3) => n as u32,
                _ => 4,
            },
        }
    }

    /// Reads the real environment.
    pub fn from_env() -> Config {
        Config::from_lookup(|k| std::env::var_os(k))
    }

    /// `$DISTCC_DIR`, or `~/.distcc`; `None` when neither can be named.
    pub fn top_dir(&self) -> Option<PathBuf> {
        self.distcc_dir
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".distcc")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_3_4s() {
        let c = cfg(&[]);
        assert!(!c.verbose);
        assert!(c.fallback);
        assert!(c.tcp_cork);
        assert!(!c.skip_local_retry);
        assert_eq!(c.io_timeout, Duration::from_secs(300));
        assert_eq!(c.pause_time, Duration::from_millis(1000));
        assert_eq!(c.backoff_period, Duration::from_secs(60));
        assert_eq!(c.tmpdir, PathBuf::from("/tmp"));
        assert_eq!(c.safeguard, 0);
        assert_eq!(c.top_dir(), None);
    }

    #[test]
    fn values_are_read_as_3_4_reads_them() {
        let c = cfg(&[
            ("DISTCC_VERBOSE", "1"),
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_IO_TIMEOUT", "7"),
            ("DISTCC_PAUSE_TIME_MSEC", "50"),
            ("DISTCC_BACKOFF_PERIOD", "0"),
            ("DISTCC_SKIP_LOCAL_RETRY", ""),
            ("DISTCC_NO_REWRITE_CROSS", "0"),
            ("HOME", "/home/u"),
            ("_DISTCC_SAFEGUARD", "x"),
            ("SUNPRO_DEPENDENCIES", "a.d t"),
        ]);
        assert!(c.verbose);
        assert!(!c.fallback);
        assert_eq!(c.io_timeout, Duration::from_secs(7));
        assert_eq!(c.pause_time, Duration::from_millis(50));
        assert!(c.backoff_period.is_zero());
        assert!(c.skip_local_retry);
        assert!(c.no_rewrite_cross);
        assert_eq!(c.top_dir(), Some(PathBuf::from("/home/u/.distcc")));
        assert_eq!(c.safeguard, 1);
        assert_eq!(c.dependency_env, Some("SUNPRO_DEPENDENCIES"));
        assert_eq!(
            cfg(&[("DISTCC_IO_TIMEOUT", "junk")]).io_timeout,
            Duration::from_secs(300)
        );
        assert_eq!(
            cfg(&[("DISTCC_DIR", "/d"), ("HOME", "/h")]).top_dir(),
            Some(PathBuf::from("/d"))
        );
    }

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi("  42abc"), 42);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x"), 0);
    }
}
