//! Our client in pump mode (protocol 3) with Debian's distcc 3.4 include server, started the
//! way 3.4's `pump` starts it (`distcc-pump --startup`, then `--shutdown` in a drop guard), so
//! our `distcc` is tested as a drop-in for 3.4's under `pump make`.
//!
//! Debian 12's include server cannot run unaided on Python ≥ 3.10: its C extension was built
//! without `PY_SSIZE_T_CLEAN`, so its three functions that take `s#` arguments raise
//! `SystemError` and every compile falls back to plain mode. The tests put a
//! `sitecustomize.py` on `PYTHONPATH` that loads Debian's own extension and replaces only
//! those three (`OsPathExists`, `OsPathIsFile`: `stat`; `CompressLzo1xAlloc`: a valid LZO1X
//! stream of one literal run, of the file's original bytes) — the rest of the include server,
//! its analysis, its socket protocol and its file tree are Debian's, unchanged.
//!
//! Measured: small project (several `-I` directories, `#include_next`, a computed include,
//! an absolute `-I`, system headers, `-MD` with and without `-MF`) against our daemon and 3.4's;
//! objects and `.d` byte-identical to local gcc; compile errors reported as local gcc reports
//! them; a header the include server could not know about (a discrepancy, counted in 3.4's
//! file); the include server absent or killed mid-build; libgit2 Release in pump mode.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::libgit2::{PLAIN_LAUNCHER, configure, is_object, outputs, run};
use crate::support::{Daemon, Impl, TempDir, ci, require};

/// Replaces the three functions of Debian's include-server extension that Python ≥ 3.10 breaks.
const SITECUSTOMIZE: &str = r#"
import glob, importlib.machinery, importlib.util, os, stat, sys

def _load():
    so = glob.glob('/usr/lib/python3/dist-packages/include_server/distcc_pump_c_extensions*.so')[0]
    loader = importlib.machinery.ExtensionFileLoader('distcc_pump_c_extensions', so)
    spec = importlib.util.spec_from_file_location('distcc_pump_c_extensions', so, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod

def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False

def _is_file(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False

def _lzo_literals(data):
    # The include server reads files as latin-1 text; these are the file's bytes again.
    if isinstance(data, str):
        data = data.encode('latin-1')
    n = len(data)
    if n == 0:
        return b'\x11\x00\x00'
    if n <= 238:
        head = bytes([17 + n])
    else:
        zeros, last = divmod(n - 18, 255)
        if last == 0:
            zeros, last = zeros - 1, 255
        head = b'\x00' * (1 + zeros) + bytes([last])
    return head + data + b'\x11\x00\x00'

_m = _load()
_m.OsPathExists = _exists
_m.OsPathIsFile = _is_file
_m.CompressLzo1xAlloc = _lzo_literals
sys.modules['distcc_pump_c_extensions'] = _m
"#;

/// Debian's include server, started by `distcc-pump --startup`; shut down with
/// `distcc-pump --shutdown` (and killed if that fails) when dropped.
pub(crate) struct IncludeServer {
    pid: i32,
    dir: String,
    port: String,
    _shim: TempDir,
}

impl IncludeServer {
    pub(crate) fn start(hosts: &str) -> IncludeServer {
        let shim = TempDir::new("pump-shim");
        std::fs::write(shim.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let out = Command::new("distcc-pump")
            .arg("--startup")
            .env("DISTCC_HOSTS", hosts)
            .env("PYTHONPATH", shim.path())
            .output()
            .expect("running distcc-pump --startup");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}='")))
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_owned)
        };
        let (Some(pid), Some(dir), Some(port)) = (
            var("INCLUDE_SERVER_PID"),
            var("INCLUDE_SERVER_DIR"),
            var("INCLUDE_SERVER_PORT"),
        ) else {
            panic!(
                "distcc-pump --startup failed ({}):\n{text}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        };
        IncludeServer {
            pid: pid.parse().expect("a numeric INCLUDE_SERVER_PID"),
            dir,
            port,
            _shim: shim,
        }
    }

    pub(crate) fn env(&self) -> [(&'static str, String); 3] {
        [
            ("INCLUDE_SERVER_PID", self.pid.to_string()),
            ("INCLUDE_SERVER_DIR", self.dir.clone()),
            ("INCLUDE_SERVER_PORT", self.port.clone()),
        ]
    }

    fn alive(&self) -> bool {
        // SAFETY: kill(2) with signal 0 only checks the pid; it touches no memory.
        unsafe { libc::kill(self.pid, 0) == 0 }
    }

    fn kill(&self) {
        // SAFETY: as above; SIGKILL to the include server this guard started.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the include server wrote (its stderr is kept in its directory until shutdown).
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(Path::new(&self.dir).join("stderr")).unwrap_or_default()
    }

    fn discrepancies(&self) -> u64 {
        std::fs::metadata(Path::new(&self.dir).join("discrepancy_counter")).map_or(0, |m| m.len())
    }
}

impl Drop for IncludeServer {
    fn drop(&mut self) {
        let _ = Command::new("distcc-pump")
            .arg("--shutdown")
            .envs(self.env())
            .output();
        if self.alive() {
            self.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The tools these tests need; panics under `CI=true` when one is missing.
pub(crate) fn pump_ready() -> bool {
    if !require(&["distcc-pump", "gcc", "distcc", "distccd"]) {
        return false;
    }
    let ext = std::fs::read_dir("/usr/lib/python3/dist-packages/include_server")
        .map(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("distcc_pump_c_extensions")
            })
        })
        .unwrap_or(false);
    if !ext || !Path::new("/usr/bin/python3").is_file() {
        assert!(
            !ci(),
            "CI=true and Debian's include server (distcc-pump) is incomplete"
        );
        eprintln!("skipping: Debian's include server (distcc-pump) is incomplete");
        return false;
    }
    true
}

pub(crate) fn our_client() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distcc"))
}

/// A small project whose headers exercise the include server: several `-I` directories,
/// `#include_next`, a computed include, an absolute `-I` directory (sent as `.lzo.abs` with a
/// `#line`), system headers.
pub(crate) fn small_project() -> TempDir {
    let dir = TempDir::new("pump-project");
    let files: &[(&str, &str)] = &[
        (
            "inc1/common.h",
            "#include_next <common.h>\n#define FROM_INC1 1\n",
        ),
        ("inc2/common.h", "#define FROM_INC2 2\n"),
        (
            "inc2/x.h",
            "static inline int x(void) { return 7 + (int)sizeof(size_t); }\n",
        ),
        ("abs/absolute.h", "#define ABSOLUTE_VALUE 11\n"),
        (
            "src/a.c",
            "#include <stdio.h>\n#include <string.h>\n#include \"common.h\"\n#define HDR \"x.h\"\n#include HDR\nint a(void) { return FROM_INC1 + FROM_INC2 + x() + (int)strlen(\"ab\"); }\n",
        ),
        (
            "src/local.h",
            "#include <stdlib.h>\nstruct point { int x, y; };\n",
        ),
        (
            "src/b.c",
            "#include \"local.h\"\n#include <common.h>\n#include <absolute.h>\nint b(void) { struct point p = { FROM_INC2, ABSOLUTE_VALUE }; return abs(p.x - p.y); }\n",
        ),
        (
            "src/main.c",
            "#include <stdio.h>\n#include \"common.h\"\nint a(void);\nint b(void);\nint main(void) { printf(\"%d %s\\n\", a() + b() + FROM_INC1, __FILE__); return 0; }\n",
        ),
    ];
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("obj")).unwrap();
    dir
}

/// The compile commands of the small project (after the compiler name).
pub(crate) fn small_units(dir: &Path) -> Vec<Vec<String>> {
    let abs = format!("-I{}", dir.join("abs").display());
    let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let mut b = words("-O2 -Iinc1 -Iinc2 -Isrc -MD -c src/b.c -o obj/b.o");
    b.insert(1, abs);
    vec![
        words("-O2 -Iinc1 -Iinc2 -MD -MF obj/a.deps -c src/a.c -o obj/a.o"),
        b,
        words("-O2 -Iinc1 -Iinc2 -MMD -c src/main.c -o obj/main.o"),
    ]
}

/// The project's compile commands, each run by gcc here, and the outputs they made (taken
/// away, so that a distributed build starts from none).
pub(crate) fn local_build(dir: &Path) -> (Vec<Vec<String>>, BTreeMap<String, Vec<u8>>) {
    let units = small_units(dir);
    for u in &units {
        let out = gcc_in(dir, u);
        assert!(out.status.success(), "local gcc {u:?}: {out:?}");
    }
    (units, take_outputs(dir))
}

/// Every file under `dir/obj`, by name, and removes them.
pub(crate) fn take_outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("obj")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        out.insert(name, std::fs::read(e.path()).unwrap());
        std::fs::remove_file(e.path()).unwrap();
    }
    out
}

pub(crate) fn run_in(
    dir: &Path,
    program: &Path,
    args: &[String],
    env: &[(&str, String)],
) -> Output {
    Command::new(program)
        .current_dir(dir)
        .arg("gcc")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

pub(crate) fn gcc_in(dir: &Path, args: &[String]) -> Output {
    Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running gcc")
}

/// The client environment for pump mode through `hosts`.
pub(crate) fn client_env(
    hosts: &str,
    state: &Path,
    server: Option<&IncludeServer>,
    fallback: bool,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DISTCC_HOSTS", hosts.to_owned()),
        ("DISTCC_DIR", state.display().to_string()),
        ("DISTCC_LOG", state.join("client.log").display().to_string()),
        ("DISTCC_VERBOSE", "1".to_owned()),
        (
            "DISTCC_FALLBACK",
            if fallback { "1" } else { "0" }.to_owned(),
        ),
    ];
    if let Some(s) = server {
        env.extend(s.env());
    }
    env
}

/// Compiles our client reports as done in pump mode.
pub(crate) fn pump_compiles(log: &str) -> usize {
    text_lines(log, "info: compiled ", " in pump mode")
}

pub(crate) fn count(text: &str, pat: &str) -> usize {
    text.lines().filter(|l| l.contains(pat)).count()
}

/// Pump jobs in our daemon's debug log: the compiler runs inside the job's `root`.
pub(crate) fn daemon_pump_jobs(log: &str) -> usize {
    text_lines(log, "running [", "/root/")
}

pub(crate) fn daemon_plain_jobs(log: &str) -> usize {
    text_lines(log, "running [", "input.i")
}

pub(crate) fn text_lines(log: &str, a: &str, b: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(a) && l.contains(b))
        .count()
}

fn small_project_through(which: Impl) {
    if !pump_ready() {
        return;
    }
    let project = small_project();
    let dir = project.path();
    let (units, local) = local_build(dir);
    assert_eq!(
        local.len(),
        6,
        "3 objects and 3 dependency files: {:?}",
        local.keys()
    );

    let daemon = Daemon::start_with(which, 4, &["--log-level", "debug"]);
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);
    let server = IncludeServer::start(&hosts);
    let state = TempDir::new("pump-state");
    let env = client_env(&hosts, state.path(), Some(&server), false);
    let started = Instant::now();
    for u in &units {
        let out = run_in(dir, &our_client(), u, &env);
        assert!(
            out.status.success(),
            "{u:?}: {out:?}\nclient log:\n{}\ninclude server:\n{}",
            std::fs::read_to_string(state.path().join("client.log")).unwrap_or_default(),
            server.stderr()
        );
    }
    let elapsed = started.elapsed();
    let built = take_outputs(dir);
    for (name, bytes) in &local {
        assert!(
            built.get(name) == Some(bytes),
            "{name} differs from the local build:\n{}",
            String::from_utf8_lossy(built.get(name).map_or(&[][..], |b| b))
        );
    }
    assert_eq!(built.len(), local.len());
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    let pump = pump_compiles(&log);
    assert_eq!(
        pump,
        units.len(),
        "every compile in pump mode; client log:\n{log}"
    );
    if which == Impl::Ours {
        let d = daemon.log_text();
        assert_eq!(daemon_pump_jobs(&d), units.len(), "daemon log:\n{d}");
        assert_eq!(daemon_plain_jobs(&d), 0, "daemon log:\n{d}");
    }
    eprintln!(
        "pump small project against {which:?}: {pump}/{} pump jobs, outputs identical, {:.2}s",
        units.len(),
        elapsed.as_secs_f64()
    );
}

#[test]
fn pump_client_to_our_daemon_matches_local_build() {
    small_project_through(Impl::Ours);
}

#[test]
fn pump_client_to_distccd34_matches_local_build() {
    small_project_through(Impl::Distcc34);
}

/// A real compile error in pump mode: the same diagnostics and exit code as local gcc, and
/// no discrepancy counted. A source changed after the include server read it: plain mode,
/// never the old copy's object. A discrepancy counted in 3.4's file: plain mode.
#[test]
fn pump_compile_errors_and_discrepancies() {
    if !pump_ready() {
        return;
    }
    let project = small_project();
    let dir = project.path();
    std::fs::write(
        dir.join("src/bad.c"),
        "#include \"common.h\"\nint bad(void) { return FROM_INC1 + ; }\n",
    )
    .unwrap();
    let bad: Vec<String> = "-Iinc1 -Iinc2 -c src/bad.c -o obj/bad.o"
        .split(' ')
        .map(str::to_owned)
        .collect();
    let local = gcc_in(dir, &bad);
    assert!(!local.status.success());

    let daemon = Daemon::start_with(Impl::Ours, 4, &["--log-level", "debug"]);
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);
    let server = IncludeServer::start(&hosts);
    let state = TempDir::new("pump-state");
    let env = client_env(&hosts, state.path(), Some(&server), true);
    let out = run_in(dir, &our_client(), &bad, &env);
    assert_eq!(out.status.code(), local.status.code());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&local.stderr),
        "diagnostics as local gcc's"
    );
    assert!(!dir.join("obj/bad.o").exists());
    assert_eq!(server.discrepancies(), 0, "a real error is no discrepancy");

    // The include server analyses c.c once and keeps its copy; then c.c changes (which
    // pump forbids, and 3.4's client would compile the old copy without a word): our client
    // sees the copy is older than the file and compiles in plain mode, correctly.
    std::fs::write(dir.join("src/c.c"), "int c(void) { return 1; }\n").unwrap();
    let c: Vec<String> = "-Iinc1 -c src/c.c -o obj/c.o"
        .split(' ')
        .map(str::to_owned)
        .collect();
    let out = run_in(dir, &our_client(), &c, &env);
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(dir.join("src/late.h"), "#define LATE 5\n").unwrap();
    std::fs::write(
        dir.join("src/c.c"),
        "#include \"late.h\"\nint c(void) { return LATE; }\n",
    )
    .unwrap();
    let out = run_in(dir, &our_client(), &c, &env);
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert!(out.status.success(), "{out:?}\n{log}");
    let want = gcc_in(
        dir,
        &["-Iinc1", "-c", "src/c.c", "-o", "obj/c-local.o"].map(String::from),
    );
    assert!(want.status.success());
    assert_eq!(
        std::fs::read(dir.join("obj/c.o")).unwrap(),
        std::fs::read(dir.join("obj/c-local.o")).unwrap(),
        "the object of the current source, not of the include server's old copy"
    );
    assert!(
        log.contains("changed after the include server read it"),
        "{log}"
    );
    assert_eq!(pump_compiles(&log), 1, "{log}");

    // A discrepancy counted by an earlier client (3.4's or ours) demotes the build to plain
    // mode (DISTCC_MAX_DISCREPANCY, default 1), and each compile says why.
    std::fs::write(Path::new(&server.dir).join("discrepancy_counter"), "@").unwrap();
    let a: Vec<String> = "-Iinc1 -Iinc2 -c src/a.c -o obj/a.o"
        .split(' ')
        .map(str::to_owned)
        .collect();
    let plain_before = daemon_plain_jobs(&daemon.log_text());
    let out = run_in(dir, &our_client(), &a, &env);
    assert!(out.status.success());
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert!(
        log.contains("pump mode was given up for this build"),
        "{log}"
    );
    assert_eq!(daemon_plain_jobs(&daemon.log_text()), plain_before + 1);
    // With a higher limit the same build is in pump mode again.
    let mut env2 = env.clone();
    env2.push(("DISTCC_MAX_DISCREPANCY", "2".to_owned()));
    assert!(run_in(dir, &our_client(), &a, &env2).status.success());
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert_eq!(pump_compiles(&log), 2, "{log}");
    eprintln!("pump errors: diagnostics as gcc's; changed source caught; demotion honoured");
}

/// No include server, then one killed mid-build: every compile still succeeds on the server
/// in plain mode (`DISTCC_FALLBACK=0`: nothing compiles here), the log says why, and the
/// outputs equal a local build's.
#[test]
fn include_server_down_or_killed_falls_back_to_plain_mode() {
    if !pump_ready() {
        return;
    }
    let project = small_project();
    let dir = project.path();
    let (units, local) = local_build(dir);
    let daemon = Daemon::start_with(Impl::Ours, 4, &["--log-level", "debug"]);
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);

    // Not under pump at all.
    let state = TempDir::new("pump-state");
    let env = client_env(&hosts, state.path(), None, false);
    for u in &units {
        let out = run_in(dir, &our_client(), u, &env);
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(take_outputs(dir), local);
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert_eq!(
        count(&log, "INCLUDE_SERVER_PORT is not set"),
        units.len(),
        "{log}"
    );

    // A socket name with nothing behind it.
    let state = TempDir::new("pump-state");
    let mut env = client_env(&hosts, state.path(), None, false);
    env.push((
        "INCLUDE_SERVER_PORT",
        state.path().join("socket").display().to_string(),
    ));
    for u in &units {
        assert!(run_in(dir, &our_client(), u, &env).status.success());
    }
    assert_eq!(take_outputs(dir), local);
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert_eq!(
        count(&log, "cannot connect to include server"),
        units.len(),
        "{log}"
    );

    // Killed after the first compile.
    let server = IncludeServer::start(&hosts);
    let state = TempDir::new("pump-state");
    let env = client_env(&hosts, state.path(), Some(&server), false);
    for (i, u) in units.iter().enumerate() {
        if i == 1 {
            server.kill();
        }
        let out = run_in(dir, &our_client(), u, &env);
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(take_outputs(dir), local);
    let log = std::fs::read_to_string(state.path().join("client.log")).unwrap();
    assert_eq!(pump_compiles(&log), 1, "{log}");
    assert_eq!(
        count(&log, "failed to get includes from the include server"),
        2,
        "{log}"
    );
    let d = daemon.log_text();
    // 3 plain + 3 plain + 1 pump + 2 plain.
    assert_eq!(daemon_pump_jobs(&d), 1, "{d}");
    assert_eq!(daemon_plain_jobs(&d), 2 * units.len() + 2, "{d}");
    eprintln!(
        "pump fallbacks: no server, dead socket, killed server: all plain, outputs identical"
    );
}

/// libgit2 Release in pump mode through our client and our daemon, over protocol 4 (the
/// libgit2 matrix's ours-with-ours pump entry): every object and `.d` equal to a local
/// build's, `DISTCC_FALLBACK=0`. Files the include server cannot cover go
/// in plain mode; 3.4's own client, run the same way, is the reference for how many.
#[test]
fn libgit2_release_in_pump_mode() {
    if !pump_ready() || !require(&["cmake", "make"]) {
        return;
    }
    let Some(source) = crate::libgit2::libgit2_source() else {
        return;
    };
    let tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libgit2-pump");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).unwrap();
    let build = configure(&source, &tree, "Release", PLAIN_LAUNCHER);
    let make = |env: &[(&str, String)]| {
        run(Command::new("make").arg("-C").arg(&build).arg("clean"));
        let t = Instant::now();
        run(Command::new("make")
            .arg("-C")
            .arg(&build)
            .arg("-j4")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str()))));
        t.elapsed()
    };
    let local_time = make(&[("LAUNCH", String::new())]);
    let reference = outputs(&build);
    let objects = reference.keys().filter(|p| is_object(p)).count();
    assert!(objects > 150, "the local build made {objects} objects");

    let daemon = Daemon::start_with(Impl::Ours, 4, &["--log-level", "debug"]);
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);
    let ours = {
        let server = IncludeServer::start(&hosts);
        let state = TempDir::new("pump-state");
        // Protocol 4 from the first job (as after any earlier reply of this daemon).
        let adverts = state.path().join("adverts");
        std::fs::create_dir_all(&adverts).unwrap();
        std::fs::write(
            adverts.join(format!("tcp_127.0.0.1_{}", daemon.port)),
            "protocol=4\n",
        )
        .unwrap();
        let mut env = client_env(&hosts, state.path(), Some(&server), false);
        env.push(("LAUNCH", our_client().display().to_string()));
        let t = make(&env);
        let built = outputs(&build);
        let differ: Vec<_> = reference
            .iter()
            .filter(|(k, v)| built.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        let log = std::fs::read_to_string(state.path().join("client.log")).unwrap_or_default();
        assert!(
            differ.is_empty() && built.len() == reference.len(),
            "{} of {} outputs differ from the local build, first {:?}",
            differ.len(),
            reference.len(),
            differ.first()
        );
        (
            pump_compiles(&log),
            t,
            count(&log, "failed to get includes"),
        )
    };
    let d = daemon.log_text();
    let (our_pump, our_plain) = (daemon_pump_jobs(&d), daemon_plain_jobs(&d));
    assert_eq!(our_pump, ours.0, "client and daemon agree on pump jobs");
    assert_eq!(
        d.matches("protocol 4 pump request").count(),
        our_pump,
        "every pump job in protocol 4"
    );
    assert!(!d.contains("protocol 3 "), "no pump job in protocol 3");
    assert_eq!(
        our_pump + our_plain,
        objects,
        "every object compiled on the server"
    );

    // 3.4's client the same way, against a fresh daemon of ours and include server.
    let daemon34 = Daemon::start_with(Impl::Ours, 4, &["--log-level", "debug"]);
    let hosts34 = format!("127.0.0.1:{}/4,cpp,lzo", daemon34.port);
    let t34 = {
        let server = IncludeServer::start(&hosts34);
        let state = TempDir::new("pump-state34");
        let mut env = client_env(&hosts34, state.path(), Some(&server), true);
        env.retain(|(k, _)| *k != "DISTCC_LOG" && *k != "DISTCC_VERBOSE");
        env.push((
            "LAUNCH",
            crate::support::which("distcc")
                .unwrap()
                .display()
                .to_string(),
        ));
        make(&env)
    };
    // Our daemon wraps the server's dependency rule again where gcc wraps the client-side
    // names (3.4's daemon does not), so even 3.4's client gets every `.d` as a local build.
    let built34 = outputs(&build);
    let differ34: Vec<_> = reference
        .iter()
        .filter(|(k, v)| built34.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        differ34.is_empty() && built34.len() == reference.len(),
        "3.4's client through our daemon: {} of {} outputs differ from the local build, first {:?}",
        differ34.len(),
        reference.len(),
        differ34.first()
    );
    let d34 = daemon34.log_text();
    let (pump34, plain34) = (daemon_pump_jobs(&d34), daemon_plain_jobs(&d34));
    eprintln!(
        "libgit2 Release pump: {objects} objects identical; ours {our_pump} pump + {our_plain} plain ({} include-server refusals) in {:.1}s; 3.4's client {pump34} pump + {plain34} plain in {:.1}s; local {:.1}s",
        ours.2,
        ours.1.as_secs_f64(),
        t34.as_secs_f64(),
        local_time.as_secs_f64()
    );
    assert!(
        our_pump >= pump34,
        "our client used pump mode for {our_pump} files, 3.4's for {pump34}"
    );
    assert!(our_pump > objects / 2, "pump mode for most files");
    let _ = std::fs::remove_dir_all(&tree);
}
