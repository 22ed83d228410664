//! `distccd`: the distcc server. Parses the command line, sets the process up in the order
//! that matters (log file and listening socket while still root, detach, pid file, drop root,
//! then threads), and maps failures to distcc's exit codes. The logic lives in `daemon`.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode as ProcessExit;
use std::sync::Arc;

use daemon::budget::Budget;
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

/// SIGTERM/SIGINT/SIGHUP handlers and the descriptor that becomes readable on shutdown.
fn shutdown_handlers() -> Result<std::os::fd::BorrowedFd<'static>, ProcessExit> {
    os::signal::install_shutdown_handlers().map_err(|e| {
        fail(
            ExitCode::Distcc,
            &format!("cannot install signal handlers: {e}"),
        )
    })
}

fn main() -> ProcessExit {
    // Taken first, before any file is opened: systemd's sockets start at descriptor 3.
    let var = |n: &str| std::env::var(n).ok();
    let passed = os::systemd::listen_fds(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_dir = std::env::var("DISTCCD_ALLOWED_COMPILERS").ok();
    let o = match options::parse(&args, env_dir.as_deref()) {
        Ok(Parsed::Run(o)) => *o,
        Ok(Parsed::Help) => {
            print!("{VERSION}\n{}", options::usage());
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
    if o.zeroconf && inetd {
        log_at!(
            Level::Warning,
            "--zeroconf does nothing under inetd: only a listening daemon is announced"
        );
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
    let tls = match &o.tls {
        None => None,
        Some(_) if inetd => {
            return fail(
                ExitCode::BadArguments,
                "--tls-* options serve TLS on the daemon's own port, not under --inetd (ssh already encrypts)",
            );
        }
        // Read before the privilege drop: the key may be readable by root only.
        Some(settings) => match tls::server::Server::new(settings) {
            Ok(server) => {
                log_at!(
                    Level::Notice,
                    "TLS on: certificate {} (DISTCC_TLS_PIN={}); clients by {}{}",
                    settings.cert.display(),
                    server.pin(),
                    match (&settings.client_ca, &settings.tokens) {
                        (Some(_), Some(_)) => "certificate or token",
                        (Some(_), None) => "certificate",
                        (None, Some(_)) => "token",
                        (None, None) => "nothing (any client may compile)",
                    },
                    if o.tls_only {
                        "; plain connections refused"
                    } else {
                        ""
                    }
                );
                Some(std::sync::Arc::new(daemon::secure::Secure {
                    server,
                    allow: o.tls_allow.clone(),
                    only: o.tls_only,
                }))
            }
            Err(e) => return fail(ExitCode::BadArguments, &e.to_string()),
        },
    };
    let setup = Setup { env, cmdlist, tls };
    if o.nice != 0
        && let Err(e) = os::daemonize::nice(o.nice)
    {
        log_at!(Level::Warning, "nice({}) failed: {e}", o.nice);
    }
    let passed = match passed {
        Ok(p) => p,
        Err(e) => return fail(ExitCode::BindFailed, &e.to_string()),
    };
    if let Some(w) = daemon::compiler::allow_list_warning(&o.compiler_dir) {
        // Also on the terminal that started a daemon, which may never read the log.
        if !inetd && !dlog_sink_is_stderr(&o) {
            let _ = writeln!(std::io::stderr(), "distccd: WARNING: {w}");
        }
        log_at!(Level::Warning, "{w}");
    }
    if let Some(socket) = &o.held_socket {
        run_held(&o, &setup, socket)
    } else if inetd {
        run_inetd(&o, &setup)
    } else {
        run_daemon(&o, &setup, passed)
    }
}

/// Announces this daemon over mDNS as 3.4's `--zeroconf` does, on the interface of
/// `--listen` (every interface when it is not given or is a wildcard).
fn announce(o: &Options, listener: &std::net::TcpListener) -> Result<zeroconf::Advert, String> {
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let jobs = o.jobs.unwrap_or(cpus + 2);
    let compiler = discovery::zeroconf::local_compiler();
    if compiler.is_none() {
        log_at!(
            Level::Warning,
            "--zeroconf: cc -dumpmachine/-dumpversion failed; announced without the compiler subtype"
        );
    }
    let scope = match o.listen {
        Some(ip) if !ip.is_unspecified() => zeroconf::Scope::Addr(ip),
        _ => zeroconf::Scope::All,
    };
    let a = zeroconf::Announcement {
        hostname: zeroconf::hostname(),
        port,
        cpus,
        jobs,
        distcc_version: env!("CARGO_PKG_VERSION").to_owned(),
        gnu_host: format!("{}-pc-linux-gnu", std::env::consts::ARCH),
        compiler: compiler.clone(),
    };
    let advert = zeroconf::Advert::start(&a, scope)?;
    log_at!(
        Level::Notice,
        "announced as {} over mDNS{}",
        advert.fullname(),
        compiler
            .map(|c| format!(", subtype {}", discovery::zeroconf::subtype(&c)))
            .unwrap_or_default()
    );
    Ok(advert)
}

/// What the environment set up (`daemon::env`).
struct Setup {
    env: Env,
    cmdlist: Option<CmdList>,
    tls: Option<std::sync::Arc<daemon::secure::Secure>>,
}

/// Whether log lines already go to stderr (then a warning is not printed twice).
fn dlog_sink_is_stderr(o: &Options) -> bool {
    o.log_file.is_none() && o.log_stderr
}

/// The main and stats listeners from systemd's sockets: the one named `stats`
/// (`FileDescriptorName=stats`) serves the stats port, the first other one the compiles;
/// unnamed sockets are taken in order.
fn split_passed(
    passed: Vec<os::systemd::Passed>,
) -> (Option<std::net::TcpListener>, Option<std::net::TcpListener>) {
    let (mut main, mut stats) = (None, None);
    for p in passed {
        if p.name == "stats" && stats.is_none() {
            stats = Some(p.listener);
        } else if main.is_none() {
            main = Some(p.listener);
        } else if stats.is_none() {
            stats = Some(p.listener);
        } else {
            log_at!(
                Level::Warning,
                "ignoring an extra socket from systemd ({})",
                p.name
            );
        }
    }
    (main, stats)
}

/// Tells systemd (when it started us with `Type=notify`) how things stand; a failure to do so
/// is logged, never fatal.
fn notify(state: &str) {
    let target = std::env::var("NOTIFY_SOCKET").ok();
    if let Err(e) = os::systemd::notify(target.as_deref(), state) {
        log_at!(Level::Warning, "cannot notify systemd: {e}");
    }
}

/// Every job's sandbox, tried once here (after the privilege drop, before any thread): a
/// daemon that cannot sandbox says so and refuses to start unless `--no-sandbox` asks for
/// unconfined jobs. Returns the configuration and how the stats describe it.
fn sandbox(o: &Options) -> Result<(Option<os::sandbox::Prepared>, String), ProcessExit> {
    if !o.sandbox {
        log_at!(
            Level::Warning,
            "--no-sandbox: jobs run unconfined, with this daemon's user and view of the machine"
        );
        return Ok((None, "off: --no-sandbox".to_owned()));
    }
    let limits = os::sandbox::Limits {
        cpu_seconds: o.job_lifetime.map(|d| d.as_secs().max(1)),
        file_size: Some(o.max_object.saturating_mul(2)),
        memory: Some(o.job_memory),
        tmp_size: 64 << 20,
    };
    // The system's part is read once, here; each job adds its own directory to it. The
    // probe's directory lives until the probe is over.
    let tried = os::sandbox::Prepared::system(&o.sandbox_paths, limits).and_then(|system| {
        let dir = os::tempdir::TempDir::new("distccd_probe")?;
        let probed = system.for_job(dir.path(), &[], dir.path())?.probe();
        Ok(probed.map(|()| system))
    });
    let system = match tried.unwrap_or_else(|e| Err(e.to_string())) {
        Ok(s) => s,
        Err(why) => {
            return Err(fail(
                ExitCode::Distcc,
                &format!(
                    "cannot sandbox jobs here ({why}); a sandbox needs unprivileged user \
                 namespaces and a /proc with nothing mounted over it (a container may hide \
                 both); --no-sandbox runs jobs unconfined, for clients you trust"
                ),
            ));
        }
    };
    let how = format!(
        "namespaces (user, mount, pid, ipc, uts, cgroup), a private read-only root, no \
         sockets (seccomp); per process: {} MiB address space, {} MiB files, {} cpu",
        o.job_memory >> 20,
        (o.max_object * 2) >> 20,
        o.job_lifetime
            .map_or("unlimited".to_owned(), |d| format!("{} s", d.as_secs()))
    );
    log_at!(Level::Info, "jobs run in a sandbox: {how}");
    Ok((Some(system), how))
}

fn serve_config(
    o: &Options,
    setup: &Setup,
    shutdown_fd: Option<i32>,
    sandbox: (Option<os::sandbox::Prepared>, String),
    inetd: bool,
) -> ServeConfig {
    let jobs = o.jobs.map(|j| j as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            + 2
    });
    let budget = Budget::new(o.memory_budget);
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
        max_per_peer: o.max_per_peer,
        sandbox: sandbox.1,
        max_object: o.max_object,
        budget: Some(budget.clone()),
    });
    let policy = CompilerPolicy::new(o.compiler_dir.clone()).with_cmdlist(setup.cmdlist.clone());
    let identities = identity_index(&policy, inetd);
    ServeConfig {
        identities,
        sandbox: sandbox.0,
        budget,
        max_object: o.max_object,
        stats,
        policy,
        save_temps: setup.env.save_temps,
        limits: o.limits,
        read_timeout: o.read_timeout,
        request_timeout: o.request_timeout,
        job_lifetime: o.job_lifetime,
        slots: Slots::new(jobs),
        shutdown_fd,
        ssh_socket: None,
        cache: o
            .cache_dir
            .as_ref()
            .map(|d| cache::Store::new(d, o.cache_size)),
        // A daemon that lives for one job (`--inetd`) keeps nothing for the next: chunks
        // only with a held daemon behind it (set by `run_inetd`).
        chunks: (o.chunk_store > 0 && !inetd)
            .then(|| Arc::new(daemon::chunks::ChunkStore::new(o.chunk_store))),
    }
}

/// The allow-listed compilers by identity, one log line each (at debug level under inetd,
/// where a daemon lives for one job), listed again whenever the allow-list directory
/// changes. Nothing is probed here (see `identity::Index`). A
/// daemon that lives for one job (`--inetd`, ssh) caches identities on disk, under
/// `$DISTCC_DIR/identity` or `~/.distcc/identity`, as the client does; a listening daemon
/// keeps them in memory.
fn identity_index(policy: &CompilerPolicy, inetd: bool) -> identity::Index {
    // Listed again when the allow-list directory changes (an entry added or removed), as a
    // 1-3 request sees the directory as it is now.
    let lister = policy.clone();
    let index = identity::Index::listing(
        Box::new(move || lister.candidates()),
        vec![policy.allow_dir().to_path_buf()],
    );
    let level = if inetd { Level::Debug } else { Level::Info };
    for (path, names) in &index.compilers() {
        log_at!(
            level,
            "compiler {} (allow-listed as {}): indexed for protocol 4, identified when first asked for",
            path.display(),
            names.join(", ")
        );
    }
    if index.is_empty() {
        log_at!(
            level,
            "no allow-listed compiler found: protocol 4 jobs will be refused"
        );
    }
    let cache = inetd
        .then(|| {
            std::env::var_os("DISTCC_DIR")
                .filter(|d| !d.is_empty())
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .filter(|h| !h.is_empty())
                        .map(|h| std::path::PathBuf::from(h).join(".distcc"))
                })
        })
        .flatten()
        .map(|d| d.join("identity"));
    index.with_cache(cache)
}

/// `--cache-dir` must be a directory this (unprivileged) daemon can write: made if missing,
/// then a file created and removed in it. Checked at start-up, so a daemon never runs
/// without the cache it was asked for.
fn check_cache_dir(o: &Options) -> Result<(), ProcessExit> {
    let Some(dir) = &o.cache_dir else {
        return Ok(());
    };
    let probe = dir.join(format!(".probe.{}", std::process::id()));
    let checked = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe));
    checked.map_err(|e| {
        fail(
            ExitCode::IoError,
            &format!(
                "--cache-dir {}: this daemon's user (after dropping root) cannot write there: {e}",
                dir.display()
            ),
        )
    })
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

/// Under `--inetd` started by sshd: finds or starts the ssh user's held daemon
/// (`daemon::held`) and returns its socket, to be advertised. Any failure is logged and
/// costs nothing but the advertisement: this job is served here either way.
fn held_daemon(o: &Options) -> Option<std::path::PathBuf> {
    let idle = o.ssh_hold?;
    if !daemon::held::under_ssh() {
        return None;
    }
    let found = (|| {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or("HOME is not set")?;
        let dir = daemon::held::private_dir(std::path::Path::new(&home))?;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let args: Vec<String> = std::env::args().skip(1).collect();
        let socket = daemon::held::socket_path(&dir, &exe, &args)
            .ok_or_else(|| format!("{} is too long for a socket path", dir.display()))?;
        daemon::held::ensure(&socket, &mut || {
            // The new daemon binds, then detaches: its first process exits once it listens.
            let mut cmd = os::process::Command::new(&exe);
            cmd.args(daemon::held::held_args(&args, &socket));
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
            match child.wait_timeout(daemon::held::START_WAIT) {
                Ok(out) if out.success() => Ok(()),
                Ok(out) => Err(format!(
                    "the held daemon failed to start ({:?}, exit {:?})",
                    out.ended,
                    out.exit_code()
                )),
                Err(e) => Err(format!("waiting for the held daemon: {e}")),
            }
        })?;
        log_at!(
            Level::Debug,
            "held daemon on {} (idle limit {} s)",
            socket.display(),
            idle.as_secs()
        );
        Ok::<_, String>(socket)
    })();
    match found {
        Ok(s) => Some(s),
        Err(why) => {
            log_at!(Level::Warning, "no held daemon for ssh jobs: {why}");
            None
        }
    }
}

/// `--held-socket`: the ssh user's held daemon. Binds the socket (before dropping root, as a
/// port is bound), detaches, drops root, and serves like `--inetd` until idle; never binds
/// anything on the network (no port, no stats port, no mDNS).
fn run_held(o: &Options, setup: &Setup, socket: &std::path::Path) -> ProcessExit {
    let listener = match daemon::held::bind(socket) {
        Ok(l) => l,
        Err(e) => {
            return fail(
                ExitCode::BindFailed,
                &format!("cannot listen on {}: {e}", socket.display()),
            );
        }
    };
    if let Err(e) = os::daemonize::detach() {
        return fail(ExitCode::Distcc, &format!("cannot detach: {e}"));
    }
    if let Err(code) = drop_root(o) {
        return code;
    }
    match os::janitor::start() {
        Ok(pid) => log_at!(Level::Debug, "janitor process {pid} started"),
        Err(e) => log_at!(
            Level::Warning,
            "cannot start the janitor process: a killed daemon may leave compilers running: {e}"
        ),
    }
    os::signal::ignore_sigpipe();
    let sb = match sandbox(o) {
        Ok(sb) => sb,
        Err(code) => return code,
    };
    let shutdown = match shutdown_handlers() {
        Ok(fd) => fd,
        Err(exit) => return exit,
    };
    use std::os::fd::AsRawFd;
    let sfd = shutdown.as_raw_fd();
    // Long-lived: compiler identities are kept in memory, as by a listening daemon.
    let cfg = Arc::new(serve_config(o, setup, Some(sfd), sb, false));
    let idle = o.ssh_hold.unwrap_or(options::DEFAULT_SSH_HOLD);
    log_at!(
        Level::Notice,
        "held daemon listening on {} (exits after {} s idle)",
        socket.display(),
        idle.as_secs()
    );
    let ran = daemon::held::run(listener, socket, idle, o.max_connections, cfg, sfd);
    match ran {
        Ok(()) => ProcessExit::SUCCESS,
        Err(e) => fail(ExitCode::Distcc, &format!("accept loop failed: {e}")),
    }
}

fn run_inetd(o: &Options, setup: &Setup) -> ProcessExit {
    // As root too: the socket lives in the ssh user's home, the daemon drops root itself.
    let held = held_daemon(o);
    if let Err(code) = drop_root(o) {
        return code;
    }
    os::signal::ignore_sigpipe();
    let sb = match sandbox(o) {
        Ok(sb) => sb,
        Err(code) => return code,
    };
    if let Err(code) = check_cache_dir(o) {
        return code;
    }
    let mut cfg = serve_config(o, setup, None, sb, true);
    // The held daemon keeps chunks, so its address's advertisement offers them; a job that
    // still reaches this one-job daemon sends every chunk.
    if held.is_some() && o.chunk_store > 0 {
        cfg.chunks = Some(Arc::new(daemon::chunks::ChunkStore::new(o.chunk_store)));
    }
    cfg.ssh_socket = held;
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
            principal: daemon::chunks::ssh_principal(),
        },
        &cfg,
    );
    ProcessExit::SUCCESS
}

fn run_daemon(o: &Options, setup: &Setup, passed: Option<Vec<os::systemd::Passed>>) -> ProcessExit {
    if o.allow.is_empty() {
        return fail(
            ExitCode::BadArguments,
            "--allow option is mandatory: say which clients may connect \
             (for example --allow 192.168.0.0/16, or --allow-private)",
        );
    }
    let activated = passed.is_some();
    let (passed_main, passed_stats) = split_passed(passed.unwrap_or_default());
    if activated && passed_main.is_none() {
        return fail(
            ExitCode::BindFailed,
            "systemd passed only a stats socket: the socket unit needs a ListenStream= for compiles",
        );
    }
    let listener = match passed_main
        .map(Ok)
        .unwrap_or_else(|| server::bind(o.listen, o.port))
    {
        Ok(l) => l,
        Err(e) => {
            return fail(
                ExitCode::BindFailed,
                &format!("cannot listen on port {}: {e}", o.port),
            );
        }
    };
    if activated {
        log_at!(
            Level::Info,
            "listening on the socket systemd passed; --port and --listen do not apply"
        );
    }
    if setup.env.defer_accept {
        use std::os::fd::AsRawFd;
        if let Err(e) = os::tcp::set_defer_accept(listener.as_raw_fd(), 1) {
            log_at!(Level::Warning, "cannot set TCP_DEFER_ACCEPT: {e}");
        } else {
            log_at!(Level::Info, "TCP_DEFER_ACCEPT on (DISTCC_TCP_DEFER_ACCEPT)");
        }
    }
    // The stats port binds the same address, before detaching, as the main port does.
    let stats_listener = if o.stats && passed_stats.is_some() {
        passed_stats
    } else if o.stats {
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
    let sb = match sandbox(o) {
        Ok(sb) => sb,
        Err(code) => return code,
    };
    if let Err(code) = check_cache_dir(o) {
        return code;
    }
    // Threads start only after this point (the privilege drop must reach all of them).
    let shutdown = match shutdown_handlers() {
        Ok(fd) => fd,
        Err(exit) => return exit,
    };
    use std::os::fd::AsRawFd;
    let sfd = shutdown.as_raw_fd();
    // The stats page shows the ports really served (systemd's sockets may be on others).
    let mut shown = o.clone();
    if let Ok(a) = listener.local_addr() {
        shown.port = a.port();
    }
    if let Some(a) = stats_listener.as_ref().and_then(|l| l.local_addr().ok()) {
        shown.stats_port = a.port();
    }
    let cfg = Arc::new(serve_config(&shown, setup, Some(sfd), sb, false));
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    log_at!(Level::Notice, "listening on {local}");
    // Announced once listening, after the privilege drop (mdns-sd runs a thread); withdrawn
    // when this function returns.
    let _advert = if o.zeroconf {
        match announce(o, &listener) {
            Ok(a) => Some(a),
            Err(e) => return fail(ExitCode::Distcc, &format!("--zeroconf: {e}")),
        }
    } else {
        None
    };
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
    if !o.coordinator.coordinators.is_empty() {
        let port = listener.local_addr().map_or(o.port, |a| a.port());
        fn note(msg: &str) {
            log_at!(Level::Notice, "{msg}");
        }
        // The allow-listed compilers' identities, probed off the registration path: a
        // daemon registers at once and lists its compilers when they are known.
        let ccids = daemon::coordinator::Ccids::default();
        let probe = cfg.clone();
        let started = daemon::coordinator::start_identities(
            move || daemon::coordinator::farm_keys(&probe.identities),
            ccids.clone(),
            sfd,
        )
        .and_then(|()| {
            daemon::coordinator::start(
                o.coordinator.clone(),
                port,
                cfg.stats.clone(),
                ccids,
                sfd,
                note,
            )
        });
        if let Err(e) = started {
            return fail(
                ExitCode::Distcc,
                &format!("cannot start the coordinator thread: {e}"),
            );
        }
    }
    let sc = ServerConfig {
        allow: o.allow.clone(),
        max_connections: o.max_connections,
        max_per_peer: o.max_per_peer,
        lifetime: o.lifetime,
        tls: setup.tls.clone(),
    };
    notify(&format!(
        "READY=1\nMAINPID={}\nSTATUS=listening on {local}",
        std::process::id()
    ));
    let ran = server::run(listener, &sc, cfg, sfd);
    notify("STOPPING=1");
    match ran {
        Ok(()) => ProcessExit::SUCCESS,
        Err(e) => fail(ExitCode::Distcc, &format!("accept loop failed: {e}")),
    }
}
