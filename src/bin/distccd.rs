//! `distccd`: the distcc server. Parses the command line, sets the process up in the order
//! that matters (log file and listening socket while still root, detach, pid file, drop root,
//! then threads), and maps failures to distcc's exit codes. The logic lives in `daemon`.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode as ProcessExit;
use std::sync::Arc;

use daemon::compiler::{CmdList, CompilerPolicy};
use daemon::env::Env;
use daemon::log::{self as dlog, Level, Sink};
use daemon::log_at;
use daemon::options::{self, Mode, Options, Parsed};
use daemon::serve::{Conn, ServeConfig, Slots, serve};
use daemon::server::{self, ServerConfig};
use daemon::stats::{self, Stats};
use os::exit::ExitCode;

const VERSION: &str = concat!(
    "distccd ",
    env!("CARGO_PKG_VERSION"),
    " (distcc-rs; protocols 1, 2 and 3, compatible with distcc 3.4) (default port 3632)\n"
);

fn fail(code: ExitCode, msg: &str) -> ProcessExit {
    let _ = writeln!(std::io::stderr(), "distccd: ERROR: {msg}");
    log_at!(Level::Error, "{msg}");
    ProcessExit::from(code.code() as u8)
}

fn main() -> ProcessExit {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_dir = std::env::var("DISTCCD_ALLOWED_COMPILERS").ok();
    let o = match options::parse(&args, env_dir.as_deref()) {
        Ok(Parsed::Run(o)) => *o,
        Ok(Parsed::Help) => {
            print!("{VERSION}\n{}", options::USAGE);
            return ProcessExit::SUCCESS;
        }
        Ok(Parsed::Version) => {
            print!("{VERSION}");
            return ProcessExit::SUCCESS;
        }
        Err(e) => return fail(ExitCode::BadArguments, &e.0),
    };
    let env = match Env::from_lookup(|k| std::env::var_os(k)) {
        Ok(e) => e,
        Err(e) => return fail(ExitCode::BadArguments, &e),
    };
    if let Some(path) = &env.path {
        // SAFETY: no thread has started yet (threads start after the privilege drop), so
        // nothing reads the environment concurrently. Compilers are looked up on this PATH
        // (`CompilerPolicy::new`) and inherit it.
        unsafe { std::env::set_var("PATH", path) };
    }
    let sink = if let Some(path) = &o.log_file {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Sink::File(f),
            Err(e) => {
                return fail(
                    ExitCode::IoError,
                    &format!("cannot open log file {}: {e}", path.display()),
                );
            }
        }
    } else if o.log_stderr {
        Sink::Stderr
    } else {
        Sink::Syslog
    };
    dlog::init(sink, o.log_level);
    let inetd = match o.mode {
        Mode::Inetd => true,
        Mode::Daemon => false,
        Mode::Unspecified => server::stdin_is_socket(),
    };
    if o.enable_tcp_insecure {
        log_at!(
            Level::Notice,
            "--enable-tcp-insecure accepted for compatibility; the compiler allow-list stays on"
        );
    }
    if o.zeroconf {
        let msg = "--zeroconf: zeroconf (mDNS) registration is not implemented yet; this \
                   server is not announced, so clients must list it in their host list";
        log_at!(Level::Warning, "{msg}");
        if o.log_file.is_some() || !o.log_stderr {
            // The log is a file or syslog: say it where the person starting us looks too.
            let _ = writeln!(std::io::stderr(), "distccd: warning: {msg}");
        }
    }
    if let Some(p) = &env.path {
        log_at!(
            Level::Info,
            "compilers are looked up on DISTCCD_PATH={}",
            p.to_string_lossy()
        );
    }
    let cmdlist = match &env.cmdlist {
        None => None,
        Some(path) => match CmdList::load(path, env.cmdlist_words) {
            Ok(l) => {
                log_at!(
                    Level::Info,
                    "DISTCC_CMDLIST {}: {} commands, matched on their last {} word(s)",
                    path.display(),
                    l.len(),
                    env.cmdlist_words
                );
                Some(l)
            }
            Err(e) => {
                return fail(
                    ExitCode::IoError,
                    &format!("cannot read DISTCC_CMDLIST {}: {e}", path.display()),
                );
            }
        },
    };
    let setup = Setup { env, cmdlist };
    if o.nice != 0
        && let Err(e) = os::daemonize::nice(o.nice)
    {
        log_at!(Level::Warning, "nice({}) failed: {e}", o.nice);
    }
    if inetd {
        run_inetd(&o, &setup)
    } else {
        run_daemon(&o, &setup)
    }
}

/// What the environment set up (`daemon::env`).
struct Setup {
    env: Env,
    cmdlist: Option<CmdList>,
}

fn serve_config(o: &Options, setup: &Setup, shutdown_fd: Option<i32>) -> ServeConfig {
    let jobs = o.jobs.map(|j| j as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            + 2
    });
    let stats = Stats::new(stats::Config {
        version: concat!("distccd ", env!("CARGO_PKG_VERSION"), " (distcc-rs)").to_owned(),
        jobs,
        listen: o.listen.map(|a| a.to_string()).unwrap_or_default(),
        port: o.port,
        stats_port: o.stats_port,
        allow: o.allow.rules().iter().map(|r| r.to_string()).collect(),
        allowed_compilers: o.compiler_dir.display().to_string(),
        job_lifetime_secs: o.job_lifetime.map(|d| d.as_secs()),
        max_connections: o.max_connections,
    });
    ServeConfig {
        stats,
        policy: CompilerPolicy::new(o.compiler_dir.clone()).with_cmdlist(setup.cmdlist.clone()),
        save_temps: setup.env.save_temps,
        limits: o.limits,
        read_timeout: o.read_timeout,
        request_timeout: o.request_timeout,
        job_lifetime: o.job_lifetime,
        slots: Slots::new(jobs),
        shutdown_fd,
    }
}

fn drop_root(o: &Options) -> Result<(), ProcessExit> {
    // Debian's package runs as `distccd`; upstream 3.4 prefers `distcc`; then `nobody`.
    let candidates: Vec<&str> = match &o.user {
        Some(u) => vec![u.as_str(), "nobody"],
        None => vec!["distcc", "distccd", "nobody"],
    };
    match os::user::drop_root(&candidates) {
        Ok(Some(p)) => {
            log_at!(
                Level::Info,
                "dropped root: running as {} (uid {})",
                p.name,
                p.uid
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(fail(
            ExitCode::SetuidFailed,
            &format!("cannot drop root: {e}"),
        )),
    }
}

fn run_inetd(o: &Options, setup: &Setup) -> ProcessExit {
    if let Err(code) = drop_root(o) {
        return code;
    }
    os::signal::ignore_sigpipe();
    let cfg = serve_config(o, setup, None);
    // Unbuffered duplicates of 0 and 1: the request reader polls the descriptor before each
    // read, which a buffered stdin would defeat (bytes waiting in its buffer, none in the pipe).
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned().map(std::fs::File::from);
    let (r, mut w) = match (
        dup(std::io::stdin().as_fd()),
        dup(std::io::stdout().as_fd()),
    ) {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => return fail(ExitCode::IoError, &format!("stdin/stdout: {e}")),
    };
    let fd = r.as_fd();
    serve(
        Conn {
            fd,
            reader: &mut &r,
            writer: &mut w,
            peer: "inetd".to_owned(),
        },
        &cfg,
    );
    ProcessExit::SUCCESS
}

fn run_daemon(o: &Options, setup: &Setup) -> ProcessExit {
    if o.allow.is_empty() {
        return fail(
            ExitCode::BadArguments,
            "--allow option is mandatory: say which clients may connect \
             (for example --allow 192.168.0.0/16, or --allow-private)",
        );
    }
    let listener = match server::bind(o.listen, o.port) {
        Ok(l) => l,
        Err(e) => {
            return fail(
                ExitCode::BindFailed,
                &format!("cannot listen on port {}: {e}", o.port),
            );
        }
    };
    if setup.env.defer_accept {
        use std::os::fd::AsRawFd;
        if let Err(e) = os::tcp::set_defer_accept(listener.as_raw_fd(), 1) {
            log_at!(Level::Warning, "cannot set TCP_DEFER_ACCEPT: {e}");
        } else {
            log_at!(Level::Info, "TCP_DEFER_ACCEPT on (DISTCC_TCP_DEFER_ACCEPT)");
        }
    }
    // The stats port binds the same address, before detaching, as the main port does.
    let stats_listener = if o.stats {
        match server::bind(o.listen, o.stats_port) {
            Ok(l) => Some(l),
            Err(e) => {
                return fail(
                    ExitCode::BindFailed,
                    &format!("cannot listen on stats port {}: {e}", o.stats_port),
                );
            }
        }
    } else {
        None
    };
    if !o.no_detach
        && let Err(e) = os::daemonize::detach()
    {
        return fail(ExitCode::Distcc, &format!("cannot detach: {e}"));
    }
    if let Some(p) = &o.pid_file
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        return fail(
            ExitCode::IoError,
            &format!("cannot write pid file {}: {e}", p.display()),
        );
    }
    if let Err(code) = drop_root(o) {
        return code;
    }
    // Forked while single-threaded and already unprivileged: if this process is killed (even
    // with SIGKILL), the janitor kills its running compilers and removes their job dirs.
    match os::janitor::start() {
        Ok(pid) => log_at!(Level::Debug, "janitor process {pid} started"),
        Err(e) => log_at!(
            Level::Warning,
            "cannot start the janitor process: a killed daemon may leave compilers running: {e}"
        ),
    }
    // Threads start only after this point (the privilege drop must reach all of them).
    let shutdown = match os::signal::install_shutdown_handlers() {
        Ok(fd) => fd,
        Err(e) => {
            return fail(
                ExitCode::Distcc,
                &format!("cannot install signal handlers: {e}"),
            );
        }
    };
    use std::os::fd::AsRawFd;
    let sfd = shutdown.as_raw_fd();
    let cfg = Arc::new(serve_config(o, setup, Some(sfd)));
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    log_at!(Level::Notice, "listening on {local}");
    if let Some(l) = stats_listener {
        let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let (allow, st) = (o.allow.clone(), cfg.stats.clone());
        let spawned = std::thread::Builder::new()
            .name("stats".into())
            .spawn(move || stats::http::run(l, allow, st, sfd));
        match spawned {
            Ok(_) => log_at!(
                Level::Notice,
                "stats on http://{addr}/ (/json, /metrics, /dashboard)"
            ),
            Err(e) => {
                return fail(
                    ExitCode::Distcc,
                    &format!("cannot start the stats thread: {e}"),
                );
            }
        }
    }
    let sc = ServerConfig {
        allow: o.allow.clone(),
        max_connections: o.max_connections,
        lifetime: o.lifetime,
    };
    match server::run(listener, &sc, cfg, sfd) {
        Ok(()) => ProcessExit::SUCCESS,
        Err(e) => fail(ExitCode::Distcc, &format!("accept loop failed: {e}")),
    }
}
