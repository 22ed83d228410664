//! `distcc`: the client. A thin main: it reads the environment once, works out what was
//! asked (see `client::invoke`), runs it, and maps every error to distcc's exit codes here,
//! in one place.

use std::ffi::OsString;
use std::io::Write;

use client::hosts::{self, Source};
use client::invoke::{self, Request};
use client::log::Log;
use client::{Client, ClientError, Config};
use os::exit::ExitCode;

const USAGE: &str = "\
Usage:
   distcc [COMPILER] [compile options] -o OBJECT -c SOURCE
   distcc [--help|--version|--show-hosts|-j|--show-stats|--zero-stats]
   distcc [--clear-cache|--cache-on|--cache-off]
   distcc --scan-includes [COMPILER] [compile options] -c SOURCE

Options:
   COMPILER                   Defaults to \"cc\".
   --help                     Explain usage, and exit.
   --version                  Show version, and exit.
   --show-hosts               Show host list, and exit.
   -j                         Show the concurrency level, as calculated from
                              the host list, and exit.
   --show-stats               Show this user's statistics (jobs per host, local
                              compiles, fallbacks and backoffs by reason), and exit.
   --zero-stats               Start the statistics afresh, and exit.
   --clear-cache              Remove every entry of the result cache, and exit.
   --cache-on, --cache-off    Switch the result cache (on by default) on or off
                              for good (DISTCC_CACHE=1 or 0 decides for one build).
   --scan-includes            Under pump: list the files the include server
                              would send for this compile, and exit.

Environment variables:
   See the manual page for a complete list.
   DISTCC_VERBOSE=1           Give debug messages.
   DISTCC_LOG                 Send messages to file, not stderr.
   DISTCC_DIR                 Directory for host list and locks.

Server specification:
A list of servers is taken from the environment variable $DISTCC_HOSTS, or
$DISTCC_DIR/hosts, or ~/.distcc/hosts, or /etc/distcc/hosts.
Each host can be given in any of these forms, see the manual for details:

   localhost                  Run in place.
   HOST                       TCP connection, port 3632.
   HOST:PORT                  TCP connection, specified port.
   HOST/LIMIT                 At most LIMIT jobs at once on HOST.
   @HOST                      SSH connection to the host (runs `distccd --inetd` there).
   USER@HOST                  SSH connection to specified username at host.
   HOSTSPEC,lzo               Enable compression.
   HOSTSPEC,cpp,lzo           Pump mode; this client preprocesses locally and uses ,lzo.
   --randomize                Randomize the server list before execution.
   --localslots=N             Local jobs at once (default 4).
   --localslots_cpp=N         Local preprocessors at once (default 8).

distcc distributes compilation jobs across volunteer machines running
distccd.  Jobs that cannot be distributed, such as linking, are run locally.
distcc should be used with make's -jN option to execute in parallel on
several machines.
";

/// `distcc VERSION TARGET` on the first line, as 3.4 prints it (`distcc 3.4
/// x86_64-pc-linux-gnu`) and scripts parse it, with our version; the protocols we speak.
fn version() -> String {
    format!(
        "distcc {} {}\n  (distcc-rs, a Rust re-implementation of distcc 3.4)\n  \
         (protocols 1, 2 and 3) (default port 3632)\n\n\
         distcc-rs comes with ABSOLUTELY NO WARRANTY.  It is free software, and you may use,\n\
         modify and redistribute it under the terms of the GNU General Public License\n\
         version 2 or later.\n",
        env!("CARGO_PKG_VERSION"),
        gnu_target()
    )
}

/// The GNU triple configure would have given 3.4 on this machine (`x86_64-pc-linux-gnu`).
fn gnu_target() -> String {
    let arch = std::env::consts::ARCH;
    let vendor = if matches!(arch, "x86_64" | "x86") {
        "pc"
    } else {
        "unknown"
    };
    let arch = if arch == "x86" { "i686" } else { arch };
    let os = match (std::env::consts::OS, cfg!(target_env = "musl")) {
        ("linux", true) => "linux-musl",
        ("linux", false) => "linux-gnu",
        (os, _) => os,
    };
    format!("{arch}-{vendor}-{os}")
}

fn host_list(config: &Config, log: &Log) -> Result<hosts::HostList, String> {
    match hosts::find(config).map_err(|e| e.to_string())? {
        Source::Found { name, text } => {
            let mut list = hosts::parse(&text, &name).map_err(|e| e.to_string())?;
            client::discover::expand(&mut list, config, log);
            Ok(list)
        }
        Source::None => Err(
            "no host list is set ($DISTCC_HOSTS, $DISTCC_DIR/hosts or /etc/distcc/hosts); \
                 can't distribute work"
                .into(),
        ),
    }
}

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let config = Config::from_env();
    let log = Log::from_config(&config);
    if argv.len() == 2 && (argv[1] == "--show-stats" || argv[1] == "--zero-stats") {
        std::process::exit(stats_command(&config, &log, argv[1] == "--zero-stats"));
    }
    if argv.len() == 2
        && (argv[1] == "--clear-cache" || argv[1] == "--cache-on" || argv[1] == "--cache-off")
    {
        std::process::exit(cache_command(&config, &log, &argv[1]));
    }
    let code = match invoke::parse(&argv) {
        Request::Help => {
            let _ = std::io::stdout().write_all(format!("{}\n{USAGE}", version()).as_bytes());
            0
        }
        Request::Version => {
            let _ = std::io::stdout().write_all(version().as_bytes());
            0
        }
        Request::ShowHosts | Request::Concurrency => match host_list(&config, &log) {
            Ok(list) => {
                let text = if invoke::parse(&argv) == Request::ShowHosts {
                    list.hosts.iter().map(|h| format!("{}\n", h.spec)).collect()
                } else {
                    format!("{}\n", list.total_slots())
                };
                let _ = std::io::stdout().write_all(text.as_bytes());
                0
            }
            Err(e) => {
                log.fatal(format_args!("{e}"));
                ExitCode::BadHostspec.code()
            }
        },
        Request::MissingOperand => {
            let me = argv[0].to_string_lossy();
            eprintln!("{me}: missing option/operand\nTry `{me} --help' for more information.");
            ExitCode::BadArguments.code()
        }
        Request::ScanIncludes { argv } => match client::scan_includes::scan(&config, &argv) {
            Ok(lines) => {
                let _ = std::io::stdout().write_all(lines.as_bytes());
                0
            }
            Err(e) => {
                log.fatal(format_args!("{e}"));
                ExitCode::Distcc.code()
            }
        },
        Request::Compile { argv, masquerade } => {
            // Ctrl-C must reach the compiler (each child has a process group of its own) and
            // leave no temporary files: forward, clean up, die of the signal, as gcc does.
            if let Err(e) = os::interrupt::install() {
                log.warning(format_args!("cannot install signal handlers: {e}"));
            }
            let client = Client {
                config: &config,
                log: &log,
                self_exe: std::env::current_exe().and_then(std::fs::canonicalize).ok(),
            };
            match client.run(argv, masquerade) {
                Ok(code) => code,
                Err(e) => report(&log, &e),
            }
        }
    };
    std::process::exit(code);
}

/// `--show-stats` / `--zero-stats`.
fn stats_command(config: &Config, log: &Log, zero: bool) -> i32 {
    let Some(top) = config.top_dir() else {
        log.fatal(format_args!("neither DISTCC_DIR nor HOME is set"));
        return ExitCode::Distcc.code();
    };
    let done = if zero {
        client::stats::zero(&top).map(|()| String::new())
    } else {
        client::stats::read(&top)
            .map(|t| client::stats::show(&t, &top) + &client::cache::show(config, &top))
    };
    match done {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            log.fatal(format_args!("{}: {e}", client::stats::path(&top).display()));
            ExitCode::IoError.code()
        }
    }
}

/// `--clear-cache`, `--cache-on`, `--cache-off`.
fn cache_command(config: &Config, log: &Log, what: &OsString) -> i32 {
    let Some(top) = config.top_dir() else {
        log.fatal(format_args!("neither DISTCC_DIR nor HOME is set"));
        return ExitCode::Distcc.code();
    };
    let done = if what == "--clear-cache" {
        let store = client::cache::store(config, &top);
        store.clear().map(|u| {
            format!(
                "removed {} entries ({}) from {}\n",
                u.entries,
                client::stats::size(u.bytes),
                store.dir().display()
            )
        })
    } else {
        let on = what == "--cache-on";
        client::cache::set_enabled(&top, on).map(|()| {
            format!(
                "result cache {} (in {})\n",
                if on { "on" } else { "off" },
                top.join(client::cache::SETTING_FILE).display()
            )
        })
    };
    match done {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            log.fatal(format_args!("{}: {e}", what.to_string_lossy()));
            ExitCode::IoError.code()
        }
    }
}

fn report(log: &Log, e: &ClientError) -> i32 {
    log.fatal(format_args!("{e}"));
    e.exit_code().code()
}
