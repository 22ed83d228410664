//! One compile, start to finish: classify, pick a slot, preprocess locally while connecting,
//! run remotely, and fall back (to another host, then to this machine) with a logged reason.
//!
//! Policy lives here; the pieces it calls each do one thing: `args` (what the command line
//! means), `hosts` (the list), `slots` (which host), `remote` (the exchange), `backoff`,
//! `output` (files and messages), `os::process` (every child process).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use args::{Classified, Job, LocalReason};
use os::exit::ExitCode;
use os::process::{Command, Input, Output};
use proto::state::Phase;

use crate::config::Config;
use crate::error::ClientError;
use crate::hosts::{self, Host, HostList};
use crate::log::Log;
use crate::remote::{self, Attempt, Progress};
use crate::state::StateFile;
use crate::{backoff, cross, invoke, output, pump, slots, source};

/// The stats reason of a local compile run for the messages a remote one printed.
pub const MESSAGES_REASON: &str = "a remote compile printed messages";

/// The stats reason of a local compile that no remote one could match (`DISTCC_IDENTICAL_DEBUG`).
pub const IDENTICAL_DEBUG_REASON: &str = "identical debug information needs a local compile";

/// Most compiler messages kept from a local preprocessor.
const CPP_STDERR_LIMIT: usize = 16 * 1024 * 1024;

/// Everything one compile needs to know about its surroundings.
pub struct Client<'a> {
    pub config: &'a Config,
    pub log: &'a Log,
    /// This binary, canonical, to recognise masquerade links.
    pub self_exe: Option<PathBuf>,
}

/// The compiler to run on this machine, and the environment its children get.
struct LocalCompiler {
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl LocalCompiler {
    fn command(&self, argv: &[OsString]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&argv[1..]);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// Directories under `$DISTCC_DIR`.
struct Dirs {
    top: PathBuf,
    lock: PathBuf,
}

impl Client<'_> {
    /// Runs the compiler command line `argv` (compiler first) and returns the exit code.
    pub fn run(&self, argv: Vec<OsString>, masquerade: bool) -> Result<i32, ClientError> {
        let started = Instant::now();
        let cfg = self.config;
        let sg = cfg.safeguard;
        if sg > u32::from(masquerade) {
            return Err(ClientError::Recursion);
        }
        let compiler = self.local_compiler(&argv, masquerade)?;
        if sg > 0 {
            // A masquerade link called from a distcc child: compile here, take no locks.
            self.log
                .debug(format_args!("recursion guard set: compiling locally"));
            return self.run_here(&compiler, &argv);
        }
        let dirs = self.dirs()?;
        let classified = match args::classify(&argv) {
            Classified::Distribute(_) if self.clang_with_dependency_env(&argv) => {
                Classified::Local(LocalReason::DependencyEnvironment(
                    cfg.dependency_env.unwrap_or_default().to_owned(),
                ))
            }
            c => c,
        };
        let code = match classified {
            Classified::NotACompile => {
                self.log
                    .info(format_args!("not a compile: running the compiler as given"));
                crate::stats::local("not a compile");
                self.run_local_locked(&dirs, None, &compiler, &argv)?
            }
            Classified::Local(reason) => {
                self.log.info(format_args!("compiling locally: {reason}"));
                crate::stats::local(&reason.to_string());
                let hosts = self.hosts().ok().flatten();
                self.run_local_locked(&dirs, hosts.as_ref(), &compiler, &argv)?
            }
            Classified::Distribute(job) => self.distribute(&dirs, &compiler, &argv, job)?,
        };
        self.log.info(format_args!(
            "elapsed compilation time {:.6}s",
            started.elapsed().as_secs_f64()
        ));
        if let Err(e) = crate::stats::flush(&dirs.top, started.elapsed()) {
            self.log.info(format_args!("cannot record statistics: {e}"));
        }
        Ok(code)
    }

    fn clang_with_dependency_env(&self, argv: &[OsString]) -> bool {
        self.config.dependency_env.is_some()
            && Path::new(&argv[0])
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("clang"))
    }

    fn local_compiler(
        &self,
        argv: &[OsString],
        masquerade: bool,
    ) -> Result<LocalCompiler, ClientError> {
        let name = argv.first().ok_or(ClientError::NoCompiler)?;
        let path = self.config.path.as_deref();
        let (program, _) = invoke::resolve(name, path, self.self_exe.as_deref())
            .ok_or_else(|| ClientError::CompilerNotFound(name.to_string_lossy().into_owned()))?;
        let mut env = vec![(
            OsString::from("_DISTCC_SAFEGUARD"),
            OsString::from((self.config.safeguard + 1).to_string()),
        )];
        if masquerade && let (Some(path), Some(me)) = (path, self.self_exe.as_deref()) {
            env.push((
                OsString::from("PATH"),
                invoke::path_without_self(name, path, me),
            ));
        }
        Ok(LocalCompiler { program, env })
    }

    fn dirs(&self) -> Result<Dirs, ClientError> {
        let top = self.config.top_dir().ok_or(ClientError::NoDistccDir)?;
        let make = |p: PathBuf| -> Result<PathBuf, ClientError> {
            std::fs::create_dir_all(&p).map_err(|e| ClientError::DistccDir {
                path: p.clone(),
                err: e,
            })?;
            Ok(p)
        };
        Ok(Dirs {
            lock: make(top.join("lock"))?,
            top,
        })
    }

    /// The slot scheduler for this `$DISTCC_DIR`.
    fn slots<'s>(&'s self, dirs: &'s Dirs) -> slots::Slots<'s> {
        slots::Slots {
            lock_dir: &dirs.lock,
            top: &dirs.top,
            pause: self.config.pause_time,
            log: self.log,
        }
    }

    /// The host list; `Ok(None)` when none is configured anywhere.
    fn hosts(&self) -> Result<Option<HostList>, ClientError> {
        let (name, text) = match hosts::find(self.config).map_err(ClientError::HostsFile)? {
            hosts::Source::Found { name, text } => (name, text),
            hosts::Source::None => return Ok(None),
        };
        let mut list = hosts::parse(&text, &name).map_err(ClientError::BadHostSpec)?;
        crate::discover::expand(&mut list, self.config, self.log);
        if list.randomize {
            list.randomize(u64::from(std::process::id()));
        }
        Ok(Some(list))
    }

    /// Runs the compiler here with the caller's stdio, holding nothing. Its messages go
    /// through `output::relay_lines` (whole lines, never split by another job's) unless
    /// standard error is a terminal: there the compiler must see the terminal itself, as
    /// it decides colours and line widths by it.
    fn run_here(&self, compiler: &LocalCompiler, argv: &[OsString]) -> Result<i32, ClientError> {
        use std::io::IsTerminal;
        let relay = !std::io::stderr().is_terminal();
        let mut cmd = compiler.command(argv);
        cmd.stdin(Input::Inherit)
            .stdout(Output::Inherit)
            .stderr(if relay { Output::Pipe } else { Output::Inherit });
        let spawned = |e| ClientError::Spawn(compiler.program.clone(), e);
        let mut child = cmd.spawn().map_err(spawned)?;
        // Should no thread start, the pipe closes and the compiler's messages are lost
        // with it; the compile itself still runs and reports its status.
        let relaying = child.take_stderr().and_then(|pipe| {
            std::thread::Builder::new()
                .name("messages".into())
                .spawn(move || output::relay_lines(pipe, &mut std::io::stderr()))
                .ok()
        });
        let outcome = child.wait();
        if let Some(t) = relaying {
            let _ = t.join();
        }
        Ok(exit_code_of(outcome.map_err(spawned)?.status))
    }

    /// Runs the compiler here holding a local slot (`--localslots`).
    fn run_local_locked(
        &self,
        dirs: &Dirs,
        hosts: Option<&HostList>,
        compiler: &LocalCompiler,
        argv: &[OsString],
    ) -> Result<i32, ClientError> {
        let slots = hosts.map_or(4, |h| h.local_slots);
        let _slot = self
            .slots(dirs)
            .acquire_local(slots, "a local compile")
            .map_err(|e| ClientError::Lock(dirs.lock.clone(), e))?;
        self.run_here(compiler, argv)
    }

    fn distribute(
        &self,
        dirs: &Dirs,
        compiler: &LocalCompiler,
        argv: &[OsString],
        job: Job,
    ) -> Result<i32, ClientError> {
        let cfg = self.config;
        let input = job.input.to_string_lossy().into_owned();
        // As 3.4: a host list that is missing, empty or malformed is warned about, and the
        // compile runs here (unless DISTCC_FALLBACK=0).
        let no_list = |code: ExitCode, why: String| (code, format!("{why}; can't distribute work"));
        let found = self.hosts();
        // The farm coordinators: `DISTCC_COORDINATOR`, else the host list's `coord://`
        // entries; asked first for every try (`coord`).
        let coordinators: Vec<crate::coord::Target> = match cfg
            .coordinator
            .as_deref()
            .map(crate::coord::parse_list)
            .filter(|l| !l.is_empty())
        {
            Some(l) => l,
            None => match &found {
                Ok(Some(l)) => l.coordinators.clone(),
                _ => Vec::new(),
            },
        };
        let list = match found {
            Ok(Some(l)) if !l.hosts.is_empty() => Ok(l),
            // A list of coordinators only: their daemons are the farm.
            Ok(Some(l)) if !coordinators.is_empty() => Ok(l),
            Ok(Some(l)) => Err(no_list(
                ExitCode::NoHosts,
                format!("{} contained no hosts", l.source),
            )),
            Ok(None) => Err(no_list(
                ExitCode::NoHosts,
                "no host list is set ($DISTCC_HOSTS, $DISTCC_DIR/hosts or /etc/distcc/hosts)"
                    .to_owned(),
            )),
            Err(ClientError::BadHostSpec(e)) => Err(no_list(ExitCode::BadHostspec, e.to_string())),
            Err(e) => return Err(e),
        };
        let list = match list {
            Ok(l) => l,
            // With a coordinator the farm is its daemons; a list is only for falling back.
            Err(_) if !coordinators.is_empty() => {
                hosts::parse("", "DISTCC_COORDINATOR").map_err(ClientError::BadHostSpec)?
            }
            Err((code, why)) => {
                return self.fall_back(dirs, None, compiler, argv, &input, code, &why);
            }
        };
        let now = SystemTime::now();
        let mut candidates: Vec<&Host> = list
            .hosts
            .iter()
            .filter(|h| {
                if h.down {
                    self.log
                        .info(format_args!("{} is marked down in the host list", h.spec));
                    return false;
                }
                let off = backoff::is_backed_off(&dirs.lock, h, cfg.backoff_period, now);
                if off {
                    crate::stats::skipped(&h.spec);
                    self.log.info(format_args!(
                        "{} is backing off after a recent failure",
                        h.spec
                    ));
                }
                off.then_some(()).is_none()
            })
            .collect();
        // The compiler identity protocol 4 sends (`CCID`), and the key under which a host that
        // lacks this compiler (`RSLT 3xx`) is skipped. Also wanted by a 1-3 job to a host not
        // known yet: if our daemon runs it, its advertisement names the compiler that ran
        // (`ran=`), which `remote` compares with this (a cache hit: a few `stat`s).
        // An REAPI engine needs it whatever the protocol: its Action pins the compiler.
        let identity = if (cfg.max_protocol >= 4
            && candidates.iter().any(|h| {
                matches!(
                    h.transport,
                    hosts::Transport::Tcp { .. } | hosts::Transport::Ssh { .. }
                )
            }))
            || candidates
                .iter()
                .any(|h| matches!(h.transport, hosts::Transport::Reapi { .. }))
        {
            self.compiler_identity(compiler, &job, &dirs.top)
        } else {
            Vec::new()
        };
        let skip_key = skip_key(&identity, argv);
        let mut lacking = false;
        candidates.retain(|h| {
            let lacks = crate::learned::skipped(&dirs.top, h, &skip_key, now);
            if lacks {
                self.log.info(format_args!(
                    "{} lacks this compiler (it said so within the last day); not asking it",
                    h.spec
                ));
            }
            lacking |= lacks;
            !lacks
        });
        let state = StateFile::new(&dirs.top, Path::new(&job.input));
        let mut server_argv = job.server_argv();
        if !cfg.no_rewrite_cross {
            cross::rewrite(
                &mut server_argv,
                cfg.path.as_deref(),
                Path::new(cross::ALLOW_DIR),
            );
        }
        let server_argv: Vec<Vec<u8>> = server_argv.into_iter().map(OsString::into_vec).collect();
        // Debug information equal to a local build's (`DISTCC_IDENTICAL_DEBUG`): in plain mode
        // the source route or, where none gives it, a local compile; pump mode gives it as is.
        let mut route = source::route(cfg.identical_debug, &job, &compiler.program);
        if let source::Route::Source { argv, .. } = &mut route
            && !cfg.no_rewrite_cross
        {
            cross::rewrite(argv, cfg.path.as_deref(), Path::new(cross::ALLOW_DIR));
        }
        let cwd = match (&route, std::env::current_dir()) {
            (_, Ok(cwd)) => cwd,
            (source::Route::Source { .. }, Err(e)) => {
                self.log.warning(format_args!(
                    "cannot read the working directory ({e}); sending {input} fully preprocessed"
                ));
                route = source::Route::Classic;
                PathBuf::new()
            }
            (_, Err(_)) => PathBuf::new(),
        };
        // Pump mode is for `,cpp` hosts only, and only when this compile allows it.
        let mut pump = PumpState::Off;
        if candidates.iter().any(|h| h.cpp) {
            let mut argv = job.argv.clone();
            if !cfg.no_rewrite_cross {
                cross::rewrite(&mut argv, cfg.path.as_deref(), Path::new(cross::ALLOW_DIR));
            }
            match pump::plan(cfg, &job, &argv) {
                Ok(plan) => pump = PumpState::Planned(plan),
                Err(no) if no.warn => self.log.warning(format_args!(
                    "not using pump mode for {input}: {}; preprocessing locally",
                    no.why
                )),
                Err(no) => self.log.info(format_args!(
                    "not using pump mode for {input}: {}; preprocessing locally",
                    no.why
                )),
            }
        }
        // A pump compile failed on a server (a discrepancy if it then succeeds in plain mode).
        let mut pump_failed = false;
        let ssh = crate::ssh::Settings::new(cfg, &dirs.top);
        let tls = crate::transport::Tls::new(cfg.tls.clone());
        let mut link = remote::Link {
            io_timeout: cfg.io_timeout,
            cork: cfg.tcp_cork,
            ssh: &ssh,
            tls: &tls,
            log: self.log,
            top: &dirs.top,
            max_protocol: cfg.max_protocol,
            ccid: &identity,
            cache_key: None,
            chunks: cfg.chunks,
        };
        let mut cpp = Cpp::NotStarted;
        // The farm coordinator, asked first for every try (`coord`); `None` once it failed
        // or refused: then the client schedules over the host list by itself.
        let mut coordinator = Some(coordinators).filter(|l| !l.is_empty());
        // The job's compiler, as the coordinator matches it against its daemons' (`LEAS
        // ccid=`): from the same cache as protocol 4's `CCID`; none when it cannot be had.
        let coord_ccid = match &coordinator {
            Some(_) => match crate::ccid::for_job(&compiler.program, job.language, &dirs.top) {
                Ok(id) => id.farm_key(),
                Err(e) => {
                    self.log.info(format_args!(
                        "cannot tell the identity of {} ({e}); any coordinated host may get this job",
                        compiler.program.display()
                    ));
                    String::new()
                }
            },
            None => String::new(),
        };
        // Hosts leased in this compile so far (at most `coord::MAX_LEASES`, then the client
        // schedules by itself): one that left the candidates failed, and is not asked for again.
        let mut leased_specs: Vec<String> = Vec::new();
        let all_remote = (coordinator.is_some() || !candidates.is_empty())
            && candidates.iter().all(|h| !h.is_local());
        // Every candidate in pump mode: ask the include server before taking a remote slot,
        // for the reason below.
        if all_remote && candidates.iter().all(|h| h.cpp) {
            pump = self.resolve_pump(dirs, &list, pump, &input);
        }
        // The result cache (issue 16, `cache`): a hit replays the whole result here, by its
        // manifest before any preprocessing (direct mode) or by the preprocessed source below;
        // a miss is stored when the remote compile succeeds.
        // In pump mode the include server's files are the key: with the cache on they are
        // asked for before any slot is taken.
        if matches!(pump, PumpState::Planned(_)) && crate::cache::enabled(cfg, &dirs.top) {
            pump = self.resolve_pump(dirs, &list, pump, &input);
        }
        let cache_route = match (&pump, &route) {
            (PumpState::Ready(..), _) => crate::cache::Route::Pump,
            (PumpState::Planned(_), _) => crate::cache::Route::PumpUnresolved,
            (_, source::Route::Classic) => crate::cache::Route::Classic,
            _ => crate::cache::Route::Source,
        };
        // Only asked under ccache (no local store): a file read per host.
        let shared = cfg.cache.under_ccache
            && candidates.iter().any(|h| {
                remote::host_shares_cache(&dirs.top, h, matches!(pump, PumpState::Ready(..)))
            });
        let mut cache_plan =
            crate::cache::plan(cfg, self.log, &dirs.top, &job, cache_route, shared);
        if let Some(plan) = &mut cache_plan
            && let Some(code) = plan.direct(&compiler.program, &job)
        {
            return Ok(code);
        }
        // When every candidate is remote, the job will need its preprocessed source whichever
        // host it gets: preprocess first, holding no remote slot (3.4 takes the remote slot
        // first and holds it while it waits for a local one and while cpp runs), so that
        // connecting overlaps cpp and a busy farm is not kept waiting by local work.
        if all_remote && !pump.may_pump() {
            if let source::Route::Local(why) = route {
                return self.identical_debug_here(dirs, &list, compiler, argv, &input, why);
            }
            cpp = self.start_cpp(dirs, compiler, &job, &list, &route)?;
        }
        // The result cache, after the preprocessor (see above).
        let mut cached = None;
        if let Some(plan) = cache_plan {
            let look = if let PumpState::Ready(p, closure) = &pump {
                plan.look_pump(
                    &compiler.program,
                    &job,
                    &p.server_argv,
                    &p.cwd,
                    closure,
                    p.deps_file.as_deref(),
                )
            } else {
                if let Cpp::NotStarted = cpp {
                    cpp = self.start_cpp(dirs, compiler, &job, &list, &route)?;
                }
                let source = cpp.wait(self.log);
                plan.look(
                    &compiler.program,
                    &job,
                    &server_argv,
                    source.as_deref(),
                    cpp.stderr(),
                )
            };
            match look {
                crate::cache::Look::Hit(code) => return Ok(code),
                crate::cache::Look::Miss(pending) => {
                    link.cache_key = Some(pending.key());
                    cached = Some(pending);
                }
                crate::cache::Look::Skip => {}
            }
        }
        let mut last_failure = (
            ExitCode::NoHosts,
            if list.hosts.iter().all(|h| h.down) {
                "every host is marked down"
            } else if lacking {
                "every host is backing off, marked down or lacks this compiler"
            } else {
                "every host is backing off or marked down"
            }
            .to_owned(),
        );
        while !candidates.is_empty() || coordinator.is_some() {
            state.note(Phase::Blocked, "", 0);
            if leased_specs.len() >= crate::coord::MAX_LEASES {
                coordinator = None;
            }
            let leased = match &coordinator {
                Some(list) => {
                    let avoid: Vec<String> = leased_specs
                        .iter()
                        .filter(|s| !candidates.iter().any(|h| &h.spec == *s))
                        .cloned()
                        .collect();
                    let got = self.lease(
                        dirs,
                        list,
                        &job,
                        &coord_ccid,
                        &avoid,
                        &mut candidates,
                        || cpp.reap_in_background(),
                    );
                    if let Some(slot) = &got {
                        leased_specs.push(candidates[slot.host].spec.clone());
                    }
                    if got.is_none() {
                        coordinator = None;
                        continue;
                    }
                    got
                }
                None => None,
            };
            let slot = match leased {
                Some(slot) => slot,
                None => self
                    .slots(dirs)
                    // Waiting for a remote slot: let the preprocessor's local slot go the
                    // moment it exits, not when this client gets a host.
                    .acquire(&candidates, || cpp.reap_in_background())
                    .map_err(|e| ClientError::Lock(dirs.lock.clone(), e))?,
            };
            let host = candidates[slot.host];
            if host.is_local() {
                self.log.info(format_args!(
                    "compiling {input} on localhost (slot {})",
                    slot.n
                ));
                state.note(Phase::Compile, "localhost", slot.n);
                crate::stats::local("a localhost slot was chosen");
                return self.run_here(compiler, argv);
            }
            if host.cpp && matches!(pump, PumpState::Planned(_)) {
                pump = self.resolve_pump(dirs, &list, pump, &input);
            }
            let host_name = match &host.transport {
                hosts::Transport::Tcp { host, .. } | hosts::Transport::Ssh { host, .. } => {
                    host.clone()
                }
                hosts::Transport::Srv { name } => name.clone(),
                hosts::Transport::Zeroconf => "+zeroconf".to_owned(),
                hosts::Transport::Reapi { url } => url.clone(),
                hosts::Transport::Local => "localhost".to_owned(),
            };
            let mut progress = Notes {
                state: &state,
                host: &host_name,
                slot: slot.n,
            };
            if host.cpp
                && let PumpState::Ready(plan, closure) = &pump
            {
                let sent_at = Instant::now();
                let mut body = remote::Body::Pump {
                    cwd: &plan.cwd,
                    closure,
                };
                let attempt =
                    remote::attempt(host, &plan.server_argv, &link, &mut progress, &mut body);
                let reply = match attempt {
                    Attempt::Reply(reply) => reply,
                    Attempt::Comm(f) | Attempt::NoV4(f) => {
                        last_failure = self.host_failed(dirs, host, &input, f.code, f.why);
                        candidates.remove(slot.host);
                        continue;
                    }
                    Attempt::Refused(r) => match self.refused(dirs, host, &input, &r, &skip_key) {
                        AfterRefusal::TryAnother(failure) => {
                            last_failure = failure;
                            candidates.remove(slot.host);
                            continue;
                        }
                        AfterRefusal::Local(code, why) => {
                            drop(slot);
                            return self.fall_back(
                                dirs,
                                Some(&list),
                                compiler,
                                argv,
                                &input,
                                code,
                                &why,
                            );
                        }
                    },
                    // A pump request runs no preprocessor; should it ever say so, plain mode.
                    Attempt::CppFailed => {
                        pump.demote();
                        continue;
                    }
                };
                let exit = match self.reply_came(dirs, host, &input, &reply, closure.bytes, sent_at)
                {
                    Ok(exit) => exit,
                    Err(failure) => {
                        last_failure = failure;
                        candidates.remove(slot.host);
                        continue;
                    }
                };
                // Not folded into the speed model: its unit is KB of preprocessed source, and a
                // pump request carries compressed headers that the include server may have
                // sent before (and no system headers), which would make the host look slow.
                if exit == 0 && self.messages_need_local_compile(&[], &reply) {
                    drop(slot);
                    return self.compile_here_for_messages(dirs, &list, compiler, argv, &input);
                }
                if exit == 0 {
                    match (&plan.deps_file, &reply.dotd) {
                        (Some(d), Some(text)) => {
                            let text = args::dotd::rewrap(text).unwrap_or_else(|| text.clone());
                            output::write(d, &text)
                                .map_err(|e| ClientError::Output(d.clone(), e))?;
                        }
                        (Some(_), None) => {
                            // Never an object without the dependency file asked for.
                            self.log.warning(format_args!(
                                "{} returned no dependency file for {input}; compiling it again in plain mode",
                                host.spec
                            ));
                            pump.demote();
                            continue;
                        }
                        (None, _) => {}
                    }
                    output::write(Path::new(&job.output), &reply.object)
                        .map_err(|e| ClientError::Output(PathBuf::from(&job.output), e))?;
                    if let Some(pending) = &cached {
                        pending.store(self.log, &reply, &[]);
                    }
                    self.relay(&[], &reply.stderr, &reply.stdout);
                    state.note(Phase::Done, &host_name, slot.n);
                    self.log.info(format_args!(
                        "compiled {input} on {} in pump mode",
                        host.spec
                    ));
                    return Ok(0);
                }
                // The compile failed on the server. In pump mode that may be the include
                // server's fault (a header it missed), so the failure is never reported as
                // it is: compile here as 3.4 does, or, when that is not allowed, again on a
                // server in plain mode.
                drop(slot);
                if cfg.fallback && !cfg.skip_local_retry {
                    self.log.warning(format_args!(
                        "remote compilation of {input} failed on {} in pump mode, retrying locally",
                        host.spec
                    ));
                    crate::stats::local("retry after a remote compile error");
                    let code = self.run_local_locked(dirs, Some(&list), compiler, argv)?;
                    if code != exit {
                        self.note_pump_discrepancy(plan, &input);
                    }
                    return Ok(code);
                }
                self.log.warning(format_args!(
                    "remote compilation of {input} failed on {} in pump mode, retrying in plain mode",
                    host.spec
                ));
                pump_failed = true;
                pump.demote();
                continue;
            }
            if let source::Route::Local(why) = route {
                drop(slot);
                return self.identical_debug_here(dirs, &list, compiler, argv, &input, why);
            }
            // Pump mode given up, or a host without it: a pump key names another request.
            if cached.as_ref().is_some_and(crate::cache::Pending::is_pump) {
                cached = None;
                link.cache_key = None;
            }
            if let Cpp::NotStarted = cpp {
                cpp = self.start_cpp(dirs, compiler, &job, &list, &route)?;
            }
            // The host's share of the job, for the speed model: from the preprocessed source
            // being ready to the reply.
            let mut sent: Option<(Instant, u64)> = None;
            let mut wait_cpp = || {
                let source = cpp.wait(self.log);
                sent = source.as_ref().map(|s| (Instant::now(), s.len() as u64));
                source
            };
            let attempt = match &route {
                source::Route::Source {
                    argv: source_argv, ..
                } => {
                    let request = wait_cpp().map(|text| {
                        source::request(source_argv, &text, &cwd, job.input.as_os_str())
                    });
                    match request {
                        Some(Ok((argv, closure))) => {
                            self.log.info(format_args!(
                                "sending {input} with its includes expanded and its macros not, for identical debug information"
                            ));
                            let mut body = remote::Body::Pump {
                                cwd: cwd.as_os_str().as_bytes(),
                                closure: &closure,
                            };
                            remote::attempt(host, &argv, &link, &mut progress, &mut body)
                        }
                        Some(Err(why)) => {
                            drop(slot);
                            return self
                                .identical_debug_here(dirs, &list, compiler, argv, &input, why);
                        }
                        None => Attempt::CppFailed,
                    }
                }
                _ => remote::attempt(
                    host,
                    &server_argv,
                    &link,
                    &mut progress,
                    &mut remote::Body::Preprocessed(&mut wait_cpp),
                ),
            };
            match attempt {
                Attempt::Reply(reply) => {
                    let (at, bytes) = sent.unwrap_or((Instant::now(), 0));
                    let exit = match self.reply_came(dirs, host, &input, &reply, bytes, at) {
                        Ok(exit) => exit,
                        Err(failure) => {
                            last_failure = failure;
                            candidates.remove(slot.host);
                            continue;
                        }
                    };
                    if let Some((at, bytes)) = sent {
                        self.slots(dirs).record(host, at.elapsed(), bytes);
                        slot.ran(at.elapsed());
                    }
                    if exit == 0 && self.messages_need_local_compile(cpp.stderr(), &reply) {
                        drop(slot);
                        if pump_failed && let Some(plan) = pump.plan() {
                            self.note_pump_discrepancy(plan, &input);
                        }
                        return self.compile_here_for_messages(dirs, &list, compiler, argv, &input);
                    }
                    if exit == 0
                        && matches!(route, source::Route::Source { .. })
                        && source::names_a_job_root(&reply.object, &cwd, job.input.as_bytes())
                    {
                        self.log.warning(format_args!(
                            "{} left its job directory in the debug information of {input}: not a distcc-rs daemon, which DISTCC_IDENTICAL_DEBUG needs",
                            host.spec
                        ));
                        drop(slot);
                        let why = "the server is not a distcc-rs daemon";
                        return self.identical_debug_here(dirs, &list, compiler, argv, &input, why);
                    }
                    if exit == 0 {
                        output::write(Path::new(&job.output), &reply.object)
                            .map_err(|e| ClientError::Output(PathBuf::from(&job.output), e))?;
                        if let Some(pending) = &cached {
                            pending.store(self.log, &reply, cpp.stderr());
                        }
                        self.relay(cpp.stderr(), &reply.stderr, &reply.stdout);
                        state.note(Phase::Done, &host_name, slot.n);
                        self.log
                            .info(format_args!("compiled {input} on {}", host.spec));
                        if pump_failed && let Some(plan) = pump.plan() {
                            self.note_pump_discrepancy(plan, &input);
                        }
                        return Ok(0);
                    }
                    if cfg.skip_local_retry || !cfg.fallback {
                        self.relay(cpp.stderr(), &reply.stderr, &reply.stdout);
                        return Ok(exit);
                    }
                    // The user's own compile error, not a distcc problem: the local retry
                    // prints gcc's words, so at the default level nothing is added to them.
                    self.log.info(format_args!(
                        "remote compilation of {input} failed on {}, retrying locally",
                        host.spec
                    ));
                    drop(slot);
                    crate::stats::local("retry after a remote compile error");
                    let hosts = Some(&list);
                    return self.run_local_locked(dirs, hosts, compiler, argv);
                }
                Attempt::CppFailed => {
                    drop(slot);
                    if !cfg.fallback {
                        let (code, text) = cpp.failure();
                        self.relay(&text, &[], &[]);
                        return Ok(code);
                    }
                    self.log.info(format_args!(
                        "local preprocessing of {input} failed; compiling locally to report the errors"
                    ));
                    crate::stats::local("the local preprocessor failed");
                    return self.run_local_locked(dirs, Some(&list), compiler, argv);
                }
                Attempt::Comm(f) | Attempt::NoV4(f) => {
                    last_failure = self.host_failed(dirs, host, &input, f.code, f.why);
                    candidates.remove(slot.host);
                }
                Attempt::Refused(r) => match self.refused(dirs, host, &input, &r, &skip_key) {
                    AfterRefusal::TryAnother(failure) => {
                        last_failure = failure;
                        candidates.remove(slot.host);
                    }
                    AfterRefusal::Local(code, why) => {
                        drop(slot);
                        return self.fall_back(
                            dirs,
                            Some(&list),
                            compiler,
                            argv,
                            &input,
                            code,
                            &why,
                        );
                    }
                },
            }
        }
        let (code, why) = last_failure;
        self.fall_back(dirs, Some(&list), compiler, argv, &input, code, &why)
    }

    /// Asks the coordinators in `list` for a lease (`coord::ask`). Granted: the leased
    /// daemon becomes the last candidate and the slot holds the lease. `None` when no
    /// coordinator can help (logged): the caller then schedules over the host list.
    #[allow(clippy::too_many_arguments)]
    fn lease(
        &self,
        dirs: &Dirs,
        list: &[crate::coord::Target],
        job: &Job,
        ccid: &str,
        avoid: &[String],
        candidates: &mut Vec<&Host>,
        on_wait: impl FnOnce(),
    ) -> Option<slots::Slot> {
        let size = std::fs::metadata(&job.input).map_or(0, |m| m.len());
        let ask = crate::coord::Job {
            size,
            ccid: ccid.to_owned(),
            avoid: avoid.to_vec(),
        };
        let lease = match crate::coord::ask(list, &dirs.top.join("coord"), &ask, on_wait) {
            crate::coord::Answer::Granted(l) => l,
            crate::coord::Answer::Refused(why) | crate::coord::Answer::Unavailable(why) => {
                self.log.info(format_args!(
                    "not using the coordinator for {}: {why}; scheduling by the host list",
                    job.input.to_string_lossy()
                ));
                return None;
            }
        };
        let host = match hosts::parse(&lease.spec, "the coordinator") {
            Ok(l) if l.hosts.len() == 1 && !l.hosts[0].is_local() => l.hosts,
            _ => {
                self.log.warning(format_args!(
                    "the coordinator leased an unusable host {:?}; scheduling by the host list",
                    lease.spec
                ));
                return None;
            }
        };
        self.log.info(format_args!(
            "lease {} from the coordinator: {} slot {} ({})",
            lease.id, lease.spec, lease.slot, lease.why
        ));
        // One small host per lease for the rest of this process, which ends with the compile.
        let host: &'static Host = &Box::leak(host.into_boxed_slice())[0];
        candidates.push(host);
        Some(slots::Slot::leased(candidates.len() - 1, lease))
    }

    /// A remote compile succeeded but it, or the local preprocessor, printed something (a
    /// warning, a note): the server's words are not the ones a local compile prints (no source
    /// excerpt, caret or fix-it lines, columns of preprocessed text, the job directory's
    /// names), so the compile is run here for the compiler's own messages, unless local
    /// compiles are ruled out (`DISTCC_FALLBACK=0`, `DISTCC_SKIP_LOCAL_RETRY`): then the
    /// server's are relayed.
    fn messages_need_local_compile(&self, cpp_stderr: &[u8], reply: &proto::Reply) -> bool {
        let printed =
            !cpp_stderr.is_empty() || !reply.stderr.is_empty() || !reply.stdout.is_empty();
        printed && self.config.fallback && !self.config.skip_local_retry
    }

    /// Compiles here, holding a local slot, because no remote compile would give an object
    /// equal to this one (`DISTCC_IDENTICAL_DEBUG`, `source::Route::Local`).
    fn identical_debug_here(
        &self,
        dirs: &Dirs,
        list: &HostList,
        compiler: &LocalCompiler,
        argv: &[OsString],
        input: &str,
        why: &str,
    ) -> Result<i32, ClientError> {
        let said = format!("compiling {input} locally for identical debug information: {why}");
        self.compile_here(dirs, list, compiler, argv, &said, IDENTICAL_DEBUG_REASON)
    }

    /// Compiles here, holding a local slot, because the remote compile printed messages
    /// (`messages_need_local_compile`); counted in the client's stats under that reason.
    fn compile_here_for_messages(
        &self,
        dirs: &Dirs,
        list: &HostList,
        compiler: &LocalCompiler,
        argv: &[OsString],
        input: &str,
    ) -> Result<i32, ClientError> {
        let said = format!(
            "the remote compile of {input} printed messages; compiling here for the compiler's own"
        );
        self.compile_here(dirs, list, compiler, argv, &said, MESSAGES_REASON)
    }

    /// A local compile after a remote route: logged (`said`) and counted under `reason`.
    fn compile_here(
        &self,
        dirs: &Dirs,
        list: &HostList,
        compiler: &LocalCompiler,
        argv: &[OsString],
        said: &str,
        reason: &'static str,
    ) -> Result<i32, ClientError> {
        self.log.info(format_args!("{said}"));
        crate::stats::local(reason);
        self.run_local_locked(dirs, Some(list), compiler, argv)
    }

    /// Asks the include server for a planned pump compile's files, holding a local slot as
    /// 3.4 does for include scanning. On failure pump mode is off for this compile (plain
    /// mode: local preprocessing, protocol 2), and the log says why.
    fn resolve_pump(
        &self,
        dirs: &Dirs,
        list: &HostList,
        pump: PumpState,
        input: &str,
    ) -> PumpState {
        let PumpState::Planned(plan) = pump else {
            return pump;
        };
        let started = Instant::now();
        let result = (|| {
            let _slot = self
                .slots(dirs)
                .acquire_local(list.local_slots_cpp, "the include server")
                .map_err(|e| format!("cannot lock a local slot: {e}"))?;
            let timeout = self.config.io_timeout.min(pump::INCLUDE_SERVER_TIMEOUT);
            let names = pump::ask(&plan, timeout).map_err(|e| e.to_string())?;
            pump::load(&names)
        })();
        match result {
            Ok(closure) => {
                self.log.info(format_args!(
                    "include server: {} files and links for {input} in {:.3}s",
                    closure.entries.len(),
                    started.elapsed().as_secs_f64()
                ));
                PumpState::Ready(plan, closure)
            }
            Err(why) => {
                self.log.warning(format_args!(
                    "failed to get includes from the include server for {input} ({why}); preprocessing locally"
                ));
                PumpState::Failed(plan)
            }
        }
    }

    /// A pump compile failed on a server but succeeded another way: counted in 3.4's file,
    /// which the `pump` script reports and which turns pump mode off for the rest of the
    /// build when it reaches `DISTCC_MAX_DISCREPANCY`.
    fn note_pump_discrepancy(&self, plan: &pump::Plan, input: &str) {
        self.log.warning(format_args!(
            "pump-mode compilation of {input} failed on the server but succeeded another way"
        ));
        let Some(file) = &plan.discrepancy_file else {
            return;
        };
        match pump::note_discrepancy(file, plan.max_discrepancy) {
            Ok(true) => self.log.warning(format_args!(
                "now using plain distcc for the rest of this build: {} pump-mode failure(s) that succeeded otherwise (DISTCC_MAX_DISCREPANCY)",
                plan.max_discrepancy
            )),
            Ok(false) => {}
            Err(e) => self.log.error(format_args!(
                "cannot count the discrepancy in {}: {e}",
                file.display()
            )),
        }
    }

    /// A reply from `host`, for a request of `sent` bytes sent at `at`: the compile's exit code,
    /// counted and with the host's backoff cleared; or, when the server rather than the user's
    /// code failed, the failure (counted, logged, host backed off) and another host may do
    /// better.
    fn reply_came(
        &self,
        dirs: &Dirs,
        host: &Host,
        input: &str,
        reply: &proto::Reply,
        sent: u64,
        at: Instant,
    ) -> Result<i32, (ExitCode, String)> {
        if let Some(why) = server_failure(reply) {
            return Err(self.host_failed(dirs, host, input, ExitCode::CompilerCrashed, why));
        }
        let exit = exit_code_of(reply.status as i32);
        backoff::clear(&dirs.lock, host, self.config.backoff_period);
        let received = reply.object.len() + reply.stderr.len() + reply.stdout.len();
        crate::stats::remote(&host.spec, exit == 0, sent, received as u64, at.elapsed());
        Ok(exit)
    }

    /// The compiler identity sent as `CCID` in protocol 4 (`ccid::for_job`, cached by file
    /// identity under `$DISTCC_DIR/identity/`). Empty when it cannot be had: this job then
    /// goes in protocol 1-3, which carries none (`remote::attempt`), and the log says why.
    fn compiler_identity(&self, compiler: &LocalCompiler, job: &Job, top: &Path) -> Vec<u8> {
        match crate::ccid::for_job(&compiler.program, job.language, top) {
            Ok(id) => id.encode(),
            Err(e) => {
                self.log.info(format_args!(
                    "cannot tell the identity of {} ({e}); not using protocol 4 for this job",
                    compiler.program.display()
                ));
                Vec::new()
            }
        }
    }

    /// A protocol 4 server refused the job or failed, and said why: its text is shown, and
    /// its class decides (docs/protocol-4.md): 1xx the host's fault (backed off, another host
    /// tried); 2xx the request's (compiled here, no backoff); 3xx this host lacks this
    /// compiler (skipped for this compiler identity only, another host tried, no backoff);
    /// 4xx the client's credentials (another host tried, no backoff).
    fn refused(
        &self,
        dirs: &Dirs,
        host: &Host,
        input: &str,
        r: &proto::Refusal,
        skip_key: &[u8],
    ) -> AfterRefusal {
        let text = r.text.trim_end();
        let why = format!("{} answered {}: {text}", host.spec, r.code);
        match r.code / 100 {
            2 => AfterRefusal::Local(ExitCode::BadArguments, why),
            3 => {
                self.log.warning(format_args!(
                    "{why}; not sending this compiler's jobs there for a day"
                ));
                crate::learned::skip(&dirs.top, host, skip_key);
                AfterRefusal::TryAnother((ExitCode::CompilerMissing, why))
            }
            4 => {
                self.log.warning(format_args!("{why}"));
                AfterRefusal::TryAnother((ExitCode::AccessDenied, why))
            }
            _ => {
                AfterRefusal::TryAnother(self.host_failed(dirs, host, input, ExitCode::Distcc, why))
            }
        }
    }

    /// The link or the server failed, not the user's code: counts and logs it, backs the host
    /// off, and returns the failure a fallback would report.
    fn host_failed(
        &self,
        dirs: &Dirs,
        host: &Host,
        input: &str,
        code: ExitCode,
        why: String,
    ) -> (ExitCode, String) {
        crate::stats::backoff(&host.spec, code);
        self.log.warning(format_args!(
            "failed to distribute {input} to {}: {why}",
            host.spec
        ));
        if let Err(e) = backoff::mark(&dirs.lock, host, self.config.backoff_period) {
            self.log.warning(format_args!(
                "cannot write the backoff file for {}: {e}",
                host.spec
            ));
        }
        (code, why)
    }

    #[allow(clippy::too_many_arguments)]
    fn fall_back(
        &self,
        dirs: &Dirs,
        list: Option<&HostList>,
        compiler: &LocalCompiler,
        argv: &[OsString],
        input: &str,
        code: ExitCode,
        why: &str,
    ) -> Result<i32, ClientError> {
        if !self.config.fallback {
            return Err(ClientError::NotDistributed {
                code,
                why: why.to_owned(),
            });
        }
        self.log.warning(format_args!(
            "failed to distribute {input} ({why}), running locally instead"
        ));
        crate::stats::fallback(code);
        crate::stats::local("fallback after failing to distribute");
        self.run_local_locked(dirs, list, compiler, argv)
    }

    /// Starts the local preprocessor, holding a local cpp slot while it runs.
    fn start_cpp(
        &self,
        dirs: &Dirs,
        compiler: &LocalCompiler,
        job: &Job,
        list: &HostList,
        route: &source::Route,
    ) -> Result<Cpp, ClientError> {
        if job.is_preprocessed() {
            let file = TempFile {
                path: PathBuf::from(&job.input),
                keep: true,
                _interrupt: None,
            };
            return Ok(Cpp::Done(Ok((file, Vec::new()))));
        }
        let lock = self
            .slots(dirs)
            .acquire_local(list.local_slots_cpp, "the preprocessor")
            .map_err(|e| ClientError::Lock(dirs.lock.clone(), e))?;
        let tmp = temp_name(&self.config.tmpdir, job.preprocessed_extension());
        // Registered before the spawn creates it: an interrupt from here on removes it.
        let interrupt = os::interrupt::RemoveOnInterrupt::new(&tmp);
        let cpp_argv = match route {
            source::Route::Source { family, .. } => family.cpp_argv(job.cpp_argv()),
            _ => job.cpp_argv(),
        };
        self.log
            .debug(format_args!("running the preprocessor: {:?}", cpp_argv));
        let mut cmd = compiler.command(&cpp_argv);
        cmd.stdin(Input::Null)
            .stdout(Output::File(tmp.clone()))
            .stderr(Output::Capture {
                limit: CPP_STDERR_LIMIT,
            });
        let child = cmd
            .spawn()
            .map_err(|e| ClientError::Spawn(compiler.program.clone(), e))?;
        let tmp = TempFile {
            path: tmp,
            keep: self.config.save_temps,
            _interrupt: (!self.config.save_temps).then_some(interrupt),
        };
        Ok(Cpp::Running { child, tmp, lock })
    }

    fn relay(&self, cpp_stderr: &[u8], stderr: &[u8], stdout: &[u8]) {
        let mut err = std::io::stderr().lock();
        let _ = output::relay(&mut err, cpp_stderr);
        let _ = output::relay(&mut err, stderr);
        drop(err);
        let mut out = std::io::stdout().lock();
        let _ = output::relay(&mut out, stdout);
        let _ = out.flush();
    }
}

/// How far pump mode got for one compile.
enum PumpState {
    /// No `,cpp` host, or this compile may not use pump mode (logged).
    Off,
    /// Pump mode may be used; the include server has not been asked yet.
    Planned(pump::Plan),
    /// The include server answered: these files go to a `,cpp` host.
    Ready(pump::Plan, pump::Closure),
    /// The include server failed (logged): plain mode for this compile.
    Failed(pump::Plan),
}

impl PumpState {
    /// True while a pump compile may still happen.
    fn may_pump(&self) -> bool {
        matches!(self, PumpState::Planned(_) | PumpState::Ready(..))
    }

    /// Plain mode for the rest of this compile, keeping the plan (its discrepancy counter).
    fn demote(&mut self) {
        *self = match std::mem::replace(self, PumpState::Off) {
            PumpState::Planned(p) | PumpState::Ready(p, _) | PumpState::Failed(p) => {
                PumpState::Failed(p)
            }
            PumpState::Off => PumpState::Off,
        };
    }

    fn plan(&self) -> Option<&pump::Plan> {
        match self {
            PumpState::Planned(p) | PumpState::Ready(p, _) | PumpState::Failed(p) => Some(p),
            PumpState::Off => None,
        }
    }
}

/// A file removed when dropped, unless it is kept (`DISTCC_SAVE_TEMPS`, or not ours); also
/// removed if the client is interrupted (`os::interrupt`) while it lives.
struct TempFile {
    path: PathBuf,
    keep: bool,
    _interrupt: Option<os::interrupt::RemoveOnInterrupt>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The local preprocessor: not started, running (reaped by this thread, or by a helper
/// thread while this one waits for a slot), or finished with its output file and messages (or
/// its exit code and messages).
#[allow(
    clippy::large_enum_variant,
    reason = "one per compile, on the stack; boxing the running variant buys nothing"
)]
enum Cpp {
    NotStarted,
    Running {
        child: os::process::Child,
        tmp: TempFile,
        lock: slots::Slot,
    },
    Reaping {
        reaper: std::thread::JoinHandle<std::io::Result<os::process::Outcome>>,
        tmp: TempFile,
    },
    Done(Result<(TempFile, Vec<u8>), (i32, Vec<u8>)>),
}

impl Cpp {
    /// Hands a running preprocessor to a thread that waits for it and frees its local slot as
    /// soon as it exits (this thread is about to block on something else). If no thread can
    /// be started, the preprocessor is left to `wait`.
    fn reap_in_background(&mut self) {
        let Cpp::Running { .. } = self else { return };
        let Cpp::Running { child, tmp, lock } = std::mem::replace(self, Cpp::NotStarted) else {
            unreachable!("matched just above")
        };
        // The child and the lock move into the thread; if spawning fails they come back.
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Some((child, lock))));
        let theirs = std::sync::Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("cpp".into())
            .spawn(move || {
                let taken = theirs.lock().ok().and_then(|mut g| g.take());
                let (child, lock) = taken.ok_or_else(|| std::io::Error::other("cpp taken"))?;
                let result = child.wait();
                drop(lock);
                result
            });
        *self = match spawned {
            Ok(reaper) => Cpp::Reaping { reaper, tmp },
            Err(_) => match shared.lock().ok().and_then(|mut g| g.take()) {
                Some((child, lock)) => Cpp::Running { child, tmp, lock },
                None => Cpp::Done(Err((ExitCode::LocalCpp.code(), Vec::new()))),
            },
        };
    }

    /// Waits for the preprocessor (once) and returns the preprocessed source.
    fn wait(&mut self, log: &Log) -> Option<Vec<u8>> {
        if matches!(self, Cpp::Running { .. } | Cpp::Reaping { .. }) {
            let result = match std::mem::replace(self, Cpp::NotStarted) {
                Cpp::Running { child, tmp, lock } => {
                    let result = child.wait();
                    drop(lock);
                    (result, tmp)
                }
                Cpp::Reaping { reaper, tmp } => {
                    let result = reaper.join().unwrap_or_else(|_| {
                        Err(std::io::Error::other("the preprocessor's reaper panicked"))
                    });
                    (result, tmp)
                }
                _ => unreachable!("matched just above"),
            };
            *self = match result {
                (Ok(o), tmp) if o.success() => Cpp::Done(Ok((tmp, o.stderr))),
                (Ok(o), _) => Cpp::Done(Err((exit_code_of(o.status), o.stderr))),
                (Err(e), _) => Cpp::Done(Err((
                    ExitCode::LocalCpp.code(),
                    format!("distcc: cannot run the preprocessor: {e}\n").into_bytes(),
                ))),
            };
        }
        match self {
            Cpp::Done(Ok((file, _))) => match std::fs::read(&file.path) {
                Ok(data) => Some(data),
                Err(e) => {
                    log.error(format_args!("cannot read {}: {e}", file.path.display()));
                    None
                }
            },
            _ => None,
        }
    }

    fn stderr(&self) -> &[u8] {
        match self {
            Cpp::Done(Ok((_, e))) | Cpp::Done(Err((_, e))) => e,
            _ => &[],
        }
    }

    fn failure(&self) -> (i32, Vec<u8>) {
        match self {
            Cpp::Done(Err((code, e))) => (*code, e.clone()),
            _ => (ExitCode::LocalCpp.code(), Vec::new()),
        }
    }
}

/// What follows a protocol 4 refusal ([`Client::refused`]).
enum AfterRefusal {
    /// This host will not do it; another may (the failure a fallback would report).
    TryAnother((ExitCode, String)),
    /// No server will: compile here, with this code and reason if that is not allowed.
    Local(ExitCode, String),
}

/// The key under which a host lacking this compiler is remembered: the identity, or the
/// compiler's name while there is none.
fn skip_key(identity: &[u8], argv: &[OsString]) -> Vec<u8> {
    if identity.is_empty() {
        argv.first()
            .map(|a| a.as_bytes().to_vec())
            .unwrap_or_default()
    } else {
        identity.to_vec()
    }
}

/// Monitor notes for one attempt.
struct Notes<'a> {
    state: &'a StateFile,
    host: &'a str,
    slot: u32,
}

impl Progress for Notes<'_> {
    fn connecting(&mut self) {
        self.state.note(Phase::Connect, self.host, self.slot);
    }
    fn preprocessing(&mut self) {
        self.state.note(Phase::Cpp, self.host, self.slot);
    }
    fn sending(&mut self) {
        self.state.note(Phase::Send, self.host, self.slot);
    }
    fn compiling(&mut self) {
        self.state.note(Phase::Compile, self.host, self.slot);
    }
    fn receiving(&mut self) {
        self.state.note(Phase::Receive, self.host, self.slot);
    }
}

/// A fresh name in `dir` for a temporary file with `ext`.
fn temp_name(dir: &Path, ext: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!(
        "distcc_{}_{:x}_{}.{ext}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The exit code a shell would report for a wait status: the code, or 128 + signal.
pub fn exit_code_of(status: i32) -> i32 {
    if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    }
}

/// Why a reply means the server, not the user's code, failed (killed, the compiler missing, a
/// job timeout: a distcc exit code 100-120): another host may do better. `None` for a compile
/// that ran, whether or not the code compiled.
fn server_failure(reply: &proto::Reply) -> Option<String> {
    let exit = exit_code_of(reply.status as i32);
    if reply.status & 0x7f == 0 && !(100..=120).contains(&exit) {
        return None;
    }
    Some(format!(
        "the server failed with status {:#x}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.stderr).trim_end()
    ))
}
