//! REAPI (issue 18) against a real engine: BuildGrid 0.9.1 over PostgreSQL 15
//! (`scripts/buildgrid.sh`, a fresh database per test), our `distccd` as its worker through
//! `distcc-reapi worker`, our client submitting through `distcc-reapi submit`, real gcc.
//! Under `CI=true` an engine that cannot be brought up is a failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Impl, TempDir, ci, free_port, require};

/// One engine at a time: each takes a PostgreSQL and a BuildGrid (both CPUs for seconds).
static ONE_ENGINE: Mutex<()> = Mutex::new(());

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/buildgrid.sh")
}

/// BuildGrid on a fresh database; stopped on drop.
struct Engine {
    dir: TempDir,
    port: u16,
}

impl Engine {
    /// None when the engine cannot be had here (a failure under `CI=true`).
    fn start() -> Option<Engine> {
        Engine::start_env(&[])
    }

    /// As `start`, with `env` for `scripts/buildgrid.sh up` (TLS, JWT: see the script).
    fn start_env(env: &[(&str, &Path)]) -> Option<Engine> {
        if !require(&["runuser", "bash"]) {
            return None;
        }
        let installed = Command::new("bash").arg(script()).arg("install").status();
        if !installed.is_ok_and(|s| s.success()) {
            assert!(!ci(), "CI=true and scripts/buildgrid.sh install failed");
            eprintln!("skipping: scripts/buildgrid.sh install failed");
            return None;
        }
        let dir = TempDir::new("buildgrid");
        let (port, pgport) = (free_port(), free_port());
        let out = Command::new("bash")
            .arg(script())
            .arg("up")
            .arg(dir.path())
            .args([port.to_string(), pgport.to_string()])
            .envs(env.iter().copied())
            .output()
            .expect("running scripts/buildgrid.sh");
        let engine = Engine { dir, port };
        assert!(
            out.status.success(),
            "scripts/buildgrid.sh up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(engine)
    }

    fn url(&self) -> String {
        format!("reapi://127.0.0.1:{}/main", self.port)
    }

    fn stop(&self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `distcc-reapi worker` feeding `daemon`; killed on drop.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(engine: &Engine, daemon: &Daemon, dir: &Path) -> Worker {
        Worker::start_with(&engine.url(), daemon, dir, 2, &["gcc"], &[])
    }

    /// As `start`, with `bots` bots offering `compilers`, on the engine at `url` (`,tls` for
    /// TLS), with `env` added to the worker's environment.
    fn start_with(
        url: &str,
        daemon: &Daemon,
        dir: &Path,
        bots: u32,
        compilers: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Worker {
        let log = dir.join(format!("worker-{}.log", daemon.port));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_distcc-reapi"));
        cmd.args(["worker", "--engine", url])
            .args(["--daemon", &format!("127.0.0.1:{}", daemon.port)])
            .args(["--bots", &bots.to_string()]);
        for c in compilers {
            cmd.args(["--compiler", c]);
        }
        let child = cmd
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting distcc-reapi worker");
        Worker { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Jobs the daemon has run (one `job PEER COMPILER INPUT exit N` line each in its log).
fn served(daemon: &Daemon) -> usize {
    daemon
        .log_text()
        .lines()
        .filter(|l| l.contains(" job ") && l.contains(" exit "))
        .count()
}

/// Compiles `src` to `out` with our client and `hosts`; returns its stderr.
fn distcc(hosts: &str, state: &Path, extra_env: &[(&str, &str)], src: &Path, out: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_distcc"))
        .args(["gcc", "-O2", "-c"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .current_dir(src.parent().unwrap())
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_DIR", state)
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_REAPI_DEBUG", "1")
        // The REAPI action cache is what is measured: our own result cache (on by default)
        // would answer a rebuild before any REAPI call.
        .env("DISTCC_CACHE", "0")
        .envs(extra_env.iter().copied())
        .output()
        .expect("running distcc");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "distcc failed: {err}");
    err
}

fn local(src: &Path, out: &Path) {
    let st = Command::new("gcc")
        .args(["-O2", "-c"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .current_dir(src.parent().unwrap())
        .status()
        .unwrap();
    assert!(st.success());
}

/// A small multi-file C project: Lua's sources when the corpus has them, else a few files.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(lua) = crate::corpus::lua_source() {
        for e in std::fs::read_dir(&lua).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "c") {
                let copy = dir.join(p.file_name().unwrap());
                std::fs::copy(&p, &copy).unwrap();
                files.push(copy);
            } else if p.extension().is_some_and(|x| x == "h") {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    for i in 0..3 {
        let p = dir.join(format!("unit{i}.c"));
        std::fs::write(
            &p,
            format!(
                "#include <stdio.h>\nint f{i}(int x) {{ printf(\"%d\\n\", x); return x * {i}; }}\n"
            ),
        )
        .unwrap();
        files.push(p);
    }
    files.sort();
    files
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reapi_builds_match_local_then_a_clean_rebuild_comes_from_the_action_cache_and_g_too() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(engine) = Engine::start() else {
        return;
    };
    let daemon = Daemon::start(Impl::Ours, 2);
    let work = TempDir::new("reapi-build");
    let worker = Worker::start(&engine, &daemon, work.path());
    let state = work.path().join("state");
    let srcdir = work.path().join("src");
    std::fs::create_dir(&srcdir).unwrap();
    let files = sources(&srcdir);
    let hosts = engine.url();

    for (round, expect_cache) in [(0, false), (1, true)] {
        let before = served(&daemon);
        for src in &files {
            let ours = src.with_extension("reapi.o");
            let theirs = src.with_extension("local.o");
            let said = distcc(&hosts, &state, &[], src, &ours);
            assert!(
                said.contains(&format!("on {hosts}")) || said.contains("compiled"),
                "{}: not compiled through the engine: {said}",
                src.display()
            );
            assert!(
                !said.contains("running locally"),
                "fell back: {said}\nworker: {}",
                worker.log_text()
            );
            if expect_cache {
                assert!(
                    said.contains("served from the action cache"),
                    "{}: rebuild not from the action cache: {said}",
                    src.display()
                );
            }
            local(src, &theirs);
            assert!(
                std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap(),
                "{}: object differs from a local build",
                src.display()
            );
            std::fs::remove_file(&ours).unwrap();
        }
        let expected = if expect_cache {
            before
        } else {
            before + files.len()
        };
        // The log line is written after the reply.
        wait_for("the daemon's log", 10, || served(&daemon) >= expected);
        assert_eq!(
            served(&daemon),
            expected,
            "round {round}: jobs the daemon ran (a rebuild must come from the action cache)"
        );
    }
    // With debug information: the client's source route (protocol 3, its file list as the
    // input root, its directory as the working directory) gives objects identical to a
    // local -g build, and the dependency file gcc would write.
    for src in &files {
        let (ours, theirs) = (src.with_extension("g.o"), src.with_extension("local-g.o"));
        let o = Command::new(env!("CARGO_BIN_EXE_distcc"))
            .args(["gcc", "-g", "-O2", "-MD", "-c"])
            .arg(src)
            .arg("-o")
            .arg(&ours)
            .current_dir(&srcdir)
            .env("DISTCC_HOSTS", &hosts)
            .env("DISTCC_DIR", &state)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_CACHE", "0")
            .env("DISTCC_IDENTICAL_DEBUG", "1")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{said}");
        assert!(!said.contains("running locally"), "fell back: {said}");
        assert!(said.contains("for identical debug information"), "{said}");
        let ours_d = std::fs::read(ours.with_extension("d")).unwrap();
        let st = Command::new("gcc")
            .args(["-g", "-O2", "-MD", "-c"])
            .arg(src)
            .arg("-o")
            .arg(&theirs)
            .current_dir(&srcdir)
            .status()
            .unwrap();
        assert!(st.success());
        assert!(
            std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap(),
            "{}: -g object differs from a local build",
            src.display()
        );
        let theirs_d = String::from_utf8(std::fs::read(theirs.with_extension("d")).unwrap())
            .unwrap()
            .replacen("local-g.o", "g.o", 1);
        assert_eq!(
            String::from_utf8(ours_d).unwrap(),
            theirs_d,
            "{}",
            src.display()
        );
    }
}

#[test]
fn reapi_a_platform_no_worker_has_times_out_then_compiles_locally_and_a_stopped_engine_falls_back()
{
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(engine) = Engine::start() else {
        return;
    };
    let daemon = Daemon::start(Impl::Ours, 2);
    let work = TempDir::new("reapi-faults");
    let worker = Worker::start(&engine, &daemon, work.path());
    let src = work.path().join("a.c");
    std::fs::write(&src, "int main(void) { return 42; }\n").unwrap();
    let (ours, theirs) = (work.path().join("a.o"), work.path().join("b.o"));
    local(&src, &theirs);

    let start = Instant::now();
    let said = distcc(
        &engine.url(),
        &work.path().join("state1"),
        &[
            ("DISTCC_REAPI_PROPERTIES", "distcc-pool=nowhere"),
            ("DISTCC_REAPI_TIMEOUT", "3"),
        ],
        &src,
        &ours,
    );
    let took = start.elapsed();
    assert!(said.contains("no worker took the job"), "{said}");
    assert!(said.contains("running locally"), "{said}");
    assert!(
        took >= Duration::from_secs(3),
        "gave up before the deadline: {took:?}"
    );
    assert!(std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap());

    // The engine stopped: the host fails at once and the compile is done here.
    engine.stop();
    wait_for("the engine to stop", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", engine.port)).is_err()
    });
    std::fs::remove_file(&ours).unwrap();
    let said = distcc(&engine.url(), &work.path().join("state2"), &[], &src, &ours);
    assert!(said.contains("running locally"), "{said}");
    assert!(std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap());
    drop(worker);
}

#[test]
fn reapi_a_worker_killed_mid_build_costs_no_compile() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(engine) = Engine::start() else {
        return;
    };
    let daemon = Daemon::start(Impl::Ours, 2);
    let work = TempDir::new("reapi-killed");
    let srcdir = work.path().join("src");
    std::fs::create_dir(&srcdir).unwrap();
    let files: Vec<PathBuf> = (0..8)
        .map(|i| {
            let p = srcdir.join(format!("k{i}.c"));
            // Each file a little different, so no Action repeats another.
            let body: String = (0..200)
                .map(|j| format!("int f{i}_{j}(int x) {{ return x * {j} + {i}; }}\n"))
                .collect();
            std::fs::write(&p, body).unwrap();
            p
        })
        .collect();
    let mut first = Worker::start(&engine, &daemon, work.path());
    let state = work.path().join("state");
    let url = engine.url();
    // Two compiles at a time, in the background; the worker dies after the first result.
    let mut children: Vec<(PathBuf, std::process::Child)> = Vec::new();
    let spawn = |src: &Path| {
        Command::new(env!("CARGO_BIN_EXE_distcc"))
            .args(["gcc", "-O2", "-c"])
            .arg(src)
            .arg("-o")
            .arg(src.with_extension("o"))
            .current_dir(src.parent().unwrap())
            .env("DISTCC_HOSTS", &url)
            .env("DISTCC_DIR", &state)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_CACHE", "0")
            .env("DISTCC_REAPI_TIMEOUT", "20")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut second = None;
    let mut messages = String::new();
    for (n, src) in files.iter().enumerate() {
        children.push((src.clone(), spawn(src)));
        if children.len() == 2 || n + 1 == files.len() {
            let (src, child) = children.remove(0);
            let out = child.wait_with_output().unwrap();
            messages.push_str(&String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{}: {messages}", src.display());
            if second.is_none() {
                first.kill();
                second = Some(Worker::start(&engine, &daemon, work.path()));
            }
        }
    }
    for (src, child) in children {
        let out = child.wait_with_output().unwrap();
        messages.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {messages}", src.display());
    }
    for src in &files {
        let theirs = src.with_extension("local.o");
        local(src, &theirs);
        assert!(
            std::fs::read(src.with_extension("o")).unwrap() == std::fs::read(&theirs).unwrap(),
            "{}: object differs from a local build: {messages}",
            src.display()
        );
    }
    // The later jobs went through the engine (to the second worker) or, where the engine
    // still held them for the dead one past the deadline, were compiled here.
    assert!(messages.contains(&format!("on {url}")), "{messages}");
}

/// Issue 18's "done when": libgit2 Release through the engine, every object and `.d`
/// identical to a local build; then a clean rebuild that the Action Cache serves whole.
#[test]
fn reapi_libgit2_release_identical_then_a_clean_rebuild_from_the_action_cache() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    if crate::corpus::libgit2_source().is_none() {
        return;
    }
    let Some(engine) = Engine::start() else {
        return;
    };
    let daemon = Daemon::start(Impl::Ours, 4);
    let work = TempDir::new("reapi-libgit2");
    let mut worker =
        Worker::start_with(&engine.url(), &daemon, work.path(), 4, &["cc", "gcc"], &[]);
    let hosts = engine.url();
    let text = || daemon.log_text();
    let first = crate::libgit2::release_through(&hosts, &text);
    let ran = served(&daemon);
    let second = crate::libgit2::release_through(&hosts, &text);
    worker.kill();
    let Some(n) = first else {
        return;
    };
    assert_eq!(second, Some(n));
    assert!(ran >= n, "the daemon ran {ran} jobs for {n} objects");
    assert_eq!(
        served(&daemon),
        ran,
        "the clean rebuild ran jobs the Action Cache should have served"
    );
    eprintln!("libgit2 Release through BuildGrid: {n} objects identical; rebuild all from the AC");
}

/// `program -O2 -c SRC -o OUT` run here, in SRC's directory.
fn local_with(program: &str, src: &Path, out: &Path) -> Vec<u8> {
    let st = Command::new(program)
        .args(["-O2", "-c"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .current_dir(src.parent().unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "{program}");
    std::fs::read(out).unwrap()
}

/// The Action pins the compiler's protocol 4 identity, and the worker's distccd checks it.
/// The client's `gcc` is first gcc-12, then gcc-11 under the same name (an upgrade or a
/// downgrade in place). The worker offers both (`--compiler gcc --compiler gcc-11`), but its
/// distccd allow-lists gcc-12 only. The gcc-11 compile must not be served by the Action
/// Cache entry of the gcc-12 one (another fingerprint, another Action), and when the worker
/// takes it, distccd refuses it (`RSLT 300`: no compiler with that fingerprint) instead of
/// running its own `gcc`: the lease fails, and the client compiles locally with gcc-11.
#[test]
fn reapi_the_action_pins_the_fingerprint_and_the_worker_never_runs_another_compiler() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    if !require(&["distcc", "gcc-12", "gcc-11"]) {
        return;
    }
    let Some(engine) = Engine::start() else {
        return;
    };
    let work = TempDir::new("reapi-identity");
    let allow = work.path().join("allow");
    let bin11 = work.path().join("bin11");
    std::fs::create_dir(&allow).unwrap();
    std::fs::create_dir(&bin11).unwrap();
    // The daemon's allow-list: `gcc` only, which is gcc-12 on its PATH.
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        std::os::unix::fs::symlink("/usr/bin/distcc", allow.join(name)).unwrap();
    }
    std::os::unix::fs::symlink("/usr/bin/gcc-11", bin11.join("gcc")).unwrap();
    let daemon = Daemon::start_env(
        Impl::Ours,
        2,
        &["--allowed-compilers", allow.to_str().unwrap()],
        &[("DISTCCD_PATH", "/usr/bin:/bin".as_ref())],
    );
    let mut worker = Worker::start_with(
        &engine.url(),
        &daemon,
        work.path(),
        1,
        &["gcc", "gcc-11"],
        &[],
    );
    let src = work.path().join("u.c");
    std::fs::write(&src, "int scale(int x) { return x * 3 + 1; }\n").unwrap();
    let out = work.path().join("u.o");
    let gcc12 = local_with("gcc-12", &src, &work.path().join("local12.o"));
    let gcc11 = local_with("gcc-11", &src, &work.path().join("local11.o"));
    assert_ne!(gcc12, gcc11, "gcc-11 and gcc-12 make the same object here");
    let state = work.path().join("state");

    // gcc-12 as `gcc`: run by the worker.
    let said = distcc(&engine.url(), &state, &[], &src, &out);
    assert!(
        !said.contains("running locally"),
        "{said}\n{}",
        worker.log_text()
    );
    assert!(std::fs::read(&out).unwrap() == gcc12);
    wait_for("the daemon's log", 10, || served(&daemon) >= 1);
    let ran = served(&daemon);

    // gcc-11 as `gcc`, the same command in the same directory: not the cached gcc-12
    // object, and never run by the daemon's gcc-12.
    std::fs::remove_file(&out).unwrap();
    let path11 = format!("{}:/usr/bin:/bin", bin11.display());
    let said = distcc(
        &engine.url(),
        &state,
        &[("PATH", path11.as_str()), ("DISTCC_REAPI_TIMEOUT", "60")],
        &src,
        &out,
    );
    worker.kill();
    assert!(
        !said.contains("served from the action cache"),
        "another compiler got the Action Cache's entry: {said}"
    );
    assert!(said.contains("running locally"), "{said}");
    assert!(
        std::fs::read(&out).unwrap() == gcc11,
        "the gcc-11 compile did not give gcc-11's object: {said}"
    );
    assert!(
        worker.log_text().contains("RSLT 300"),
        "the worker's distccd did not refuse the lease: {}",
        worker.log_text()
    );
    assert_eq!(served(&daemon), ran, "the daemon ran the gcc-11 job");
}

/// `reapi://…,tls` against BuildGrid serving TLS (certificates made here) and checking JWT
/// bearer tokens (HS256, minted by `scripts/buildgrid.sh token`): the worker and the client
/// with the CA and a good token compile on the engine, identical to local; a pin works as a
/// CA does; a wrong token, no token, and a certificate from another CA each end in a clear
/// message and a local compile, never a plain-text retry.
#[test]
fn reapi_over_tls_with_a_bearer_token_and_each_bad_credential_falls_back() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let work = TempDir::new("reapi-tls");
    let (ca, cert, key) = crate::pki::loopback_files(work.path(), "engine");
    let (other_ca, _, _) = crate::pki::loopback_files(work.path(), "other");
    let secret = work.path().join("jwt.secret");
    std::fs::write(&secret, "a-secret-of-at-least-thirty-two-bytes-for-hs256\n").unwrap();
    let Some(engine) = Engine::start_env(&[
        ("DISTCC_BUILDGRID_TLS_CERT", &cert),
        ("DISTCC_BUILDGRID_TLS_KEY", &key),
        ("DISTCC_BUILDGRID_JWT_SECRET", &secret),
    ]) else {
        return;
    };
    let minted = Command::new("bash")
        .arg(script())
        .args(["token"])
        .arg(&secret)
        .output()
        .unwrap();
    assert!(minted.status.success(), "{minted:?}");
    let token_file = work.path().join("token");
    std::fs::write(&token_file, &minted.stdout).unwrap();
    let url = format!("{},tls", engine.url());
    let daemon = Daemon::start(Impl::Ours, 2);
    let mut worker = Worker::start_with(
        &url,
        &daemon,
        work.path(),
        1,
        &["gcc"],
        &[
            ("DISTCC_TLS_CA", ca.as_ref()),
            ("DISTCC_REAPI_TOKEN_FILE", token_file.as_ref()),
        ],
    );
    let src = work.path().join("t.c");
    std::fs::write(&src, "int twice(int x) { return 2 * x; }\n").unwrap();
    let (ours, theirs) = (work.path().join("t.o"), work.path().join("local.o"));
    local(&src, &theirs);
    let local_obj = std::fs::read(&theirs).unwrap();
    let (ca_s, other_s, token_s) = (
        ca.to_str().unwrap(),
        other_ca.to_str().unwrap(),
        token_file.to_str().unwrap(),
    );
    let pin = tls::fingerprint(&tls::load_certs(&cert, "the engine's certificate").unwrap()[0]);
    let mut state_n = 0;
    let mut run = |env: &[(&str, &str)]| {
        state_n += 1;
        let _ = std::fs::remove_file(&ours);
        let said = distcc(
            &url,
            &work.path().join(format!("state{state_n}")),
            env,
            &src,
            &ours,
        );
        assert!(std::fs::read(&ours).unwrap() == local_obj, "{said}");
        said
    };

    // The CA and a good token: compiled by the worker through the engine.
    let said = run(&[
        ("DISTCC_TLS_CA", ca_s),
        ("DISTCC_REAPI_TOKEN_FILE", token_s),
    ]);
    assert!(
        !said.contains("running locally"),
        "{said}\nworker: {}",
        worker.log_text()
    );
    wait_for("the daemon's log", 10, || served(&daemon) >= 1);
    // The pin instead of the CA (served from the Action Cache now: the TLS and the token
    // are what is tested).
    let said = run(&[
        ("DISTCC_TLS_PIN", pin.as_str()),
        ("DISTCC_REAPI_TOKEN_FILE", token_s),
    ]);
    assert!(!said.contains("running locally"), "{said}");
    // A wrong token, and none: the engine refuses; compiled here.
    let said = run(&[
        ("DISTCC_TLS_CA", ca_s),
        ("DISTCC_REAPI_TOKEN", "not.a.token"),
    ]);
    assert!(said.contains("running locally"), "{said}");
    assert!(said.contains("Unauthenticated"), "{said}");
    let said = run(&[("DISTCC_TLS_CA", ca_s)]);
    assert!(said.contains("running locally"), "{said}");
    // Another CA: the handshake fails, with a message saying so; compiled here.
    let said = run(&[
        ("DISTCC_TLS_CA", other_s),
        ("DISTCC_REAPI_TOKEN_FILE", token_s),
    ]);
    assert!(said.contains("running locally"), "{said}");
    assert!(said.to_lowercase().contains("certificate"), "{said}");
    worker.kill();
    assert_eq!(served(&daemon), 1, "worker: {}", worker.log_text());
}

/// The engine stopped in the middle of a `make -j4` of 24 files through it: the compiles in
/// flight on the engine and those after it all fall back (the stream breaks, or the engine
/// refuses connections), every object is identical to a local build, the build succeeds,
/// and it ends well within the deadline (nothing waits on a dead engine).
#[test]
fn reapi_the_engine_stopped_mid_build_every_compile_falls_back_and_nothing_hangs() {
    let _one = ONE_ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    if !require(&["make"]) {
        return;
    }
    let Some(engine) = Engine::start() else {
        return;
    };
    let daemon = Daemon::start(Impl::Ours, 2);
    let work = TempDir::new("reapi-stopped");
    let worker = Worker::start(&engine, &daemon, work.path());
    let srcdir = work.path().join("src");
    std::fs::create_dir(&srcdir).unwrap();
    let n = 24;
    let mut objects = Vec::new();
    for i in 0..n {
        let body: String = (0..150)
            .map(|j| {
                format!(
                    "int g{i}_{j}(int x) {{ int s = 0; for (int k = 0; k < x; k++) s += k * {j} ^ {i}; return s; }}\n"
                )
            })
            .collect();
        std::fs::write(srcdir.join(format!("m{i}.c")), body).unwrap();
        objects.push(format!("m{i}.o"));
    }
    std::fs::write(
        srcdir.join("Makefile"),
        format!(
            "all: {objs}\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
            objs = objects.join(" ")
        ),
    )
    .unwrap();
    let make_log = work.path().join("make.log");
    let started = Instant::now();
    let mut make = Command::new("make")
        .args(["-j4", "-k"])
        .arg(format!("CC={} gcc", env!("CARGO_BIN_EXE_distcc")))
        .current_dir(&srcdir)
        .env("DISTCC_HOSTS", engine.url())
        .env("DISTCC_DIR", work.path().join("state"))
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_REAPI_TIMEOUT", "60")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&make_log).unwrap())
        .spawn()
        .unwrap();
    // Some objects made through the engine, the rest still to come: stop it.
    wait_for("the first objects", 120, || served(&daemon) >= 3);
    engine.stop();
    let stopped_at = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = make.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = make.kill();
            let _ = make.wait();
            panic!(
                "make still running 120 s after the engine stopped: {}",
                std::fs::read_to_string(&make_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let said = std::fs::read_to_string(&make_log).unwrap_or_default();
    assert!(status.success(), "make failed: {said}");
    drop(worker);
    for o in &objects {
        let src = srcdir.join(o).with_extension("c");
        let theirs = work.path().join(format!("local-{o}"));
        local(&src, &theirs);
        assert!(
            std::fs::read(srcdir.join(o)).unwrap() == std::fs::read(&theirs).unwrap(),
            "{o}: object differs from a local build"
        );
    }
    let remote = served(&daemon);
    let fell_back = said.matches("running locally").count();
    assert!(
        remote >= 3 && fell_back >= 1,
        "ran remotely {remote}, fell back {fell_back}: {said}"
    );
    eprintln!(
        "engine stopped at {stopped_at:?}: {remote} of {n} compiles on the engine, the rest here; make took {:?}",
        started.elapsed()
    );
}
