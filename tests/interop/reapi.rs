//! REAPI (issue 18) against a real engine: BuildGrid 0.9.1 over PostgreSQL 15
//! (`scripts/buildgrid.sh`, a fresh database per test), our `distccd` as its worker through
//! `distcc-reapi worker`, our client submitting through `distcc-reapi submit`, real gcc.
//! Under `CI=true` an engine that cannot be brought up is a failure, never a skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Impl, TempDir, ci, require};

/// One engine at a time: each takes a PostgreSQL and a BuildGrid (both CPUs for seconds).
static ONE_ENGINE: Mutex<()> = Mutex::new(());

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/buildgrid.sh")
}

/// A free loopback port below 32768 (the ephemeral range starts there).
fn low_port() -> u16 {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    for i in 0..1000u64 {
        let port = 20000 + ((seed.wrapping_mul(2654435761).wrapping_add(i * 7919)) % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below 32768");
}

/// BuildGrid on a fresh database; stopped on drop.
struct Engine {
    dir: TempDir,
    port: u16,
}

impl Engine {
    /// None when the engine cannot be had here (a failure under `CI=true`).
    fn start() -> Option<Engine> {
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
        let (port, pgport) = (low_port(), low_port());
        let out = Command::new("bash")
            .arg(script())
            .arg("up")
            .arg(dir.path())
            .args([port.to_string(), pgport.to_string()])
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
        let log = dir.join(format!("worker-{}.log", daemon.port));
        let child = Command::new(env!("CARGO_BIN_EXE_distcc-reapi"))
            .args(["worker", "--engine", &engine.url()])
            .args(["--daemon", &format!("127.0.0.1:{}", daemon.port)])
            .args(["--bots", "2", "--compiler", "gcc"])
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
    let log = work.path().join("worker.log");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_distcc-reapi"))
        .args(["worker", "--engine", &engine.url()])
        .args(["--daemon", &format!("127.0.0.1:{}", daemon.port)])
        .args(["--bots", "4", "--compiler", "cc", "--compiler", "gcc"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let hosts = engine.url();
    let text = || daemon.log_text();
    let first = crate::libgit2::release_through(&hosts, &text);
    let ran = served(&daemon);
    let second = crate::libgit2::release_through(&hosts, &text);
    let _ = worker.kill();
    let _ = worker.wait();
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
