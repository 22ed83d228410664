//! Option tables of the programs whose parsers do not read a table themselves (their
//! sources are checked against these by `tests/coverage.rs`), and of the two shell helpers
//! (checked against their `--help`).

use cli::{Arg, Opt, opt};

const G: &str = "Options";

/// `distcc`'s own options; each is recognised only as the sole argument.
pub const DISTCC: &[Opt] = &[
    opt("help", None, None, "Explain usage, and exit.", G),
    opt("version", None, None, "Show version, and exit.", G),
    opt(
        "show-hosts",
        None,
        None,
        "Show the host list (as parsed from DISTCC_HOSTS or the hosts files), and exit.",
        G,
    ),
    opt(
        "",
        Some('j'),
        None,
        "Show the concurrency level, as calculated from the host list (the sum of the slots of every host), and exit.",
        G,
    ),
    opt(
        "show-stats",
        None,
        None,
        "Show this user's statistics (jobs per host, local compiles, fallbacks and backoffs by reason), and exit.",
        G,
    ),
    opt(
        "zero-stats",
        None,
        None,
        "Start the statistics afresh, and exit.",
        G,
    ),
    opt(
        "clear-cache",
        None,
        None,
        "Remove every entry of the result cache (DISTCC_CACHE_DIR, else $DISTCC_DIR/cache), and exit.",
        G,
    ),
    opt(
        "cache-on",
        None,
        None,
        "Switch the result cache back on for good (it is on by default; written to $DISTCC_DIR/cache.setting), and exit; DISTCC_CACHE overrides it for one build.",
        G,
    ),
    opt(
        "cache-off",
        None,
        None,
        "Switch the result cache off for good (written to $DISTCC_DIR/cache.setting), and exit; DISTCC_CACHE=1 turns it on for one build.",
        G,
    ),
    opt(
        "scan-includes",
        None,
        None,
        "3.4's pump-mode include listing; not implemented: exits 101 with a message.",
        G,
    ),
];

/// `lsdistcc`'s single-letter options, value glued on (`-t5`).
pub const LSDISTCC: &[Opt] = &[
    opt(
        "",
        Some('l'),
        None,
        "Print the latency of each host in milliseconds after its name.",
        G,
    ),
    opt(
        "",
        Some('n'),
        None,
        "Print the IP address instead of the host name.",
        G,
    ),
    opt(
        "",
        Some('x'),
        None,
        "Also print hosts that are down, with ,down appended.",
        G,
    ),
    opt(
        "",
        Some('d'),
        None,
        "Append the DNS domain of this machine to every name.",
        G,
    ),
    opt(
        "",
        Some('v'),
        None,
        "Print progress on stderr; repeat for more.",
        G,
    ),
    opt(
        "",
        Some('t'),
        Arg::text("SECS"),
        "Stop everything after SECS seconds (default 7; 0: no limit).",
        G,
    ),
    opt(
        "",
        Some('h'),
        Arg::text("MSECS"),
        "Accepted for compatibility (3.4's DNS retry time, default 500); the system resolver does its own retries.",
        G,
    ),
    opt(
        "",
        Some('c'),
        Arg::text("MSECS"),
        "Connect timeout (default 900; 0 reports every resolved host as up without connecting).",
        G,
    ),
    opt(
        "",
        Some('k'),
        Arg::text("MSECS"),
        "Compile timeout for -p (default 1500; 0 skips the compile test).",
        G,
    ),
    opt(
        "",
        Some('m'),
        Arg::text("BITS"),
        "Only hosts whose address matches the first host found in its leading BITS bits (0 to 31).",
        G,
    ),
    opt(
        "",
        Some('o'),
        Arg::text("N"),
        "Extra DNS lookups kept in flight while walking a pattern (default 1).",
        G,
    ),
    opt(
        "",
        Some('g'),
        Arg::text("N"),
        "Unresolvable pattern names tolerated before the walk stops (default 0).",
        G,
    ),
    opt(
        "",
        Some('r'),
        Arg::text("PORT"),
        "The port to probe (default 3632); printed after the name when not 3632.",
        G,
    ),
    opt(
        "",
        Some('P'),
        Arg::text("VERSION"),
        "Protocol of the test compile, 1, 2 or 3; 2 prints ,lzo and 3 ,lzo,cpp after each name.",
        G,
    ),
    opt(
        "",
        Some('p'),
        Arg::text("COMPILER"),
        "Send a test compile of a one-line C file with COMPILER; a host is up only if it compiles it.",
        G,
    ),
];

/// `distccmon-text` takes no options, only an optional DELAY.
pub const DISTCCMON_TEXT: &[Opt] = &[];

/// `distcc-farm`'s options.
pub const DISTCC_FARM: &[Opt] = &[
    opt(
        "stats-port",
        None,
        Arg::text("PORT"),
        "Ask every host on this port; default: each host's port + 1 (3633 for 3632).",
        G,
    ),
    opt(
        "timeout",
        None,
        Arg::text("SECONDS"),
        "Connect and read timeout per host, fractional (default 2).",
        G,
    ),
    opt("help", None, None, "Explain usage, and exit.", G),
];

/// `distcc-coordinator`'s options.
pub const DISTCC_COORDINATOR: &[Opt] = &[
    opt(
        "listen",
        None,
        Arg::text("ADDRESS"),
        "IP address to listen on (default 0.0.0.0).",
        G,
    ),
    opt(
        "port",
        None,
        Arg::text("PORT"),
        "The one port for daemons, clients and the pages (default 3634).",
        G,
    ),
    opt(
        "lease-secs",
        None,
        Arg::text("SECONDS"),
        "Longest life of a lease (default 3600); a lease also ends when its client's connection closes.",
        G,
    ),
    opt(
        "daemon-silence",
        None,
        Arg::text("SECONDS"),
        "A daemon not heard from for this long is dropped (default 15; daemons report at least every 5 s).",
        G,
    ),
    opt(
        "tls-cert",
        None,
        Arg::file("FILE"),
        "This coordinator's certificate chain (PEM): TLS on the port, beside plain connections.",
        G,
    ),
    opt(
        "tls-key",
        None,
        Arg::file("FILE"),
        "Its private key (PEM).",
        G,
    ),
    opt(
        "tls-client-ca",
        None,
        Arg::file("FILE"),
        "Accept daemons and clients with a certificate from these CAs.",
        G,
    ),
    opt(
        "tls-tokens",
        None,
        Arg::file("FILE"),
        "Accept daemons and clients by token: name token lines.",
        G,
    ),
    opt(
        "tls-allow",
        None,
        Arg::text("NAME"),
        "Only these names (certificate CN or DNS name, token name) may use the port over TLS; repeatable.",
        G,
    ),
    opt(
        "tls-only",
        None,
        None,
        "Refuse plain connections' frames (the pages stay readable without TLS).",
        G,
    ),
    opt(
        "verbose",
        Some('v'),
        None,
        "Log connections and registrations to stderr.",
        G,
    ),
    opt("help", Some('h'), None, "Explain usage, and exit.", G),
    opt("version", None, None, "Print the version, and exit.", G),
];

/// `distcc-zeroconf` takes only its directory.
pub const DISTCC_ZEROCONF: &[Opt] = &[opt("help", Some('h'), None, "Explain usage, and exit.", G)];

/// `distcc-reapi worker`'s options (`submit` takes only the engine's address).
pub const DISTCC_REAPI: &[Opt] = &[
    opt(
        "engine",
        None,
        Arg::text("reapi://HOST:PORT/INSTANCE"),
        "The engine to join (required).",
        G,
    ),
    opt(
        "daemon",
        None,
        Arg::text("HOST:PORT"),
        "The distccd that runs the jobs (default 127.0.0.1:3632).",
        G,
    ),
    opt(
        "bots",
        None,
        Arg::text("N"),
        "Bot sessions, each running one job at a time (default: the number of CPUs).",
        G,
    ),
    opt(
        "compiler",
        None,
        Arg::text("NAME"),
        "A compiler to offer, repeatable (default cc gcc c++ g++ clang clang++; those that do not run are left out).",
        G,
    ),
    opt(
        "property",
        None,
        Arg::text("KEY=VALUE,..."),
        "Extra platform properties to advertise, repeatable.",
        G,
    ),
];

/// `pump`'s options; anything else is the command to run.
pub const PUMP: &[Opt] = &[
    opt(
        "startup",
        None,
        None,
        "Start the include server and print export lines for the environment, to be eval'ed by the caller.",
        G,
    ),
    opt(
        "shutdown",
        None,
        None,
        "Stop the include server named by INCLUDE_SERVER_PID and INCLUDE_SERVER_DIR, and remove its directory.",
        G,
    ),
    opt("help", Some('h'), None, "Explain usage, and exit.", G),
];

/// `include-server`'s options.
pub const INCLUDE_SERVER: &[Opt] = &[
    opt(
        "port",
        None,
        Arg::file("SOCKET"),
        "The unix socket to listen on (required; pump passes INCLUDE_SERVER_PORT).",
        G,
    ),
    opt(
        "pid_file",
        None,
        Arg::file("FILE"),
        "Write the server's process id to FILE once it runs.",
        G,
    ),
    opt(
        "debug_pattern",
        Some('d'),
        Arg::text("N"),
        "Bit 1 (on by default, as in 3.4) prints warnings: why a compile is not covered, absolute includes left out. Other bits (3.4's traces of its own functions) print nothing more.",
        G,
    ),
    opt(
        "statistics",
        Some('s'),
        None,
        "Print counters to stderr when the server exits.",
        G,
    ),
    opt(
        "time",
        Some('t'),
        None,
        "Print elapsed, user and system time to stderr when the server exits.",
        G,
    ),
    opt(
        "unsafe_absolute_includes",
        None,
        None,
        "Leave an absolute #include of a non-system file out of the closure (with a warning) instead of giving up on the compile.",
        G,
    ),
    opt(
        "no_force_dirs",
        None,
        None,
        "Make no forcing_technique_271828 files (only the working directory is still made to exist), as 3.4.",
        G,
    ),
    opt(
        "foreground",
        None,
        None,
        "Stay in the foreground instead of forking (tests, measurements).",
        G,
    ),
    opt(
        "email",
        Some('e'),
        None,
        "Accepted for compatibility with 3.4; no e-mail is ever sent (a warning says so).",
        G,
    ),
    opt(
        "no-email",
        None,
        None,
        "Accepted for compatibility with 3.4.",
        G,
    ),
    opt(
        "email_bound",
        None,
        Arg::text("N"),
        "Accepted for compatibility with 3.4; ignored.",
        G,
    ),
    opt(
        "verify",
        Some('v'),
        None,
        "Accepted for compatibility with 3.4; not implemented (a warning says so).",
        G,
    ),
    opt(
        "write_include_closure",
        Some('w'),
        None,
        "Accepted for compatibility with 3.4; not implemented (a warning says so).",
        G,
    ),
    opt(
        "exact_analysis",
        Some('x'),
        None,
        "Accepted for compatibility with 3.4; not implemented (a warning says so).",
        G,
    ),
    opt(
        "simple_algorithm",
        None,
        None,
        "Accepted for compatibility with 3.4; not implemented (a warning says so).",
        G,
    ),
    opt(
        "stat_reset_triggers",
        None,
        Arg::text("LIST"),
        "Accepted for compatibility with 3.4; ignored (changed headers are noticed anyway).",
        G,
    ),
    opt(
        "path_observation_re",
        None,
        Arg::text("RE"),
        "Accepted for compatibility with 3.4; ignored.",
        G,
    ),
    opt("help", Some('h'), None, "Explain usage, and exit 1.", G),
];

/// `distcc-allowlist`'s options (a shell script; `tests/helpers.rs` checks its `--help`).
pub const DISTCC_ALLOWLIST: &[Opt] = &[
    opt(
        "dir",
        None,
        Arg::dir("DIR"),
        "The allow-list directory to fill (default: DISTCCD_ALLOWED_COMPILERS, else /usr/lib/distcc, as distccd).",
        G,
    ),
    opt(
        "bin-dir",
        None,
        Arg::dir("DIR"),
        "Where compilers are looked for (default /usr/bin).",
        G,
    ),
    opt(
        "target",
        None,
        Arg::file("PATH"),
        "What each entry links to (default: the distcc client, ../../bin/distcc in /usr/lib/distcc, so the directory doubles as a masquerade directory).",
        G,
    ),
    opt(
        "dry-run",
        Some('n'),
        None,
        "Print what would be added and removed; change nothing.",
        G,
    ),
    opt(
        "list",
        None,
        None,
        "Print the compilers found, one per line, and exit.",
        G,
    ),
    opt(
        "verbose",
        Some('v'),
        None,
        "Print each entry added or removed.",
        G,
    ),
    opt("help", Some('h'), None, "Explain usage, and exit.", G),
];

/// `distcc-masquerade`'s options (a shell script; `tests/helpers.rs` checks its `--help`).
pub const DISTCC_MASQUERADE: &[Opt] = &[
    opt(
        "dir",
        None,
        Arg::dir("DIR"),
        "The masquerade directory (default $DISTCC_DIR/masquerade, else ~/.distcc/masquerade).",
        G,
    ),
    opt(
        "distcc",
        None,
        Arg::file("PATH"),
        "The distcc client the links point to (default: distcc found on PATH).",
        G,
    ),
    opt(
        "bin-dir",
        None,
        Arg::dir("DIR"),
        "Where compilers are looked for (default /usr/bin).",
        G,
    ),
    opt(
        "dry-run",
        Some('n'),
        None,
        "Print what would be added and removed; change nothing.",
        G,
    ),
    opt("help", Some('h'), None, "Explain usage, and exit.", G),
];
