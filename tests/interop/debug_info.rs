//! Debug information through our client and our daemon equals a local build's (issue 13,
//! item 2): Lua (from ../shared/corpus) with gcc and clang and every debug option the issue
//! names, and libgit2 Debug, in plain mode (`DISTCC_IDENTICAL_DEBUG=1`, the source route) and
//! in pump mode (our `pump`); every object, `.d` and `.dwo` compared with a local build in the
//! same directory, and the route each job took read from the client's log and the daemon's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::{libgit2_source, lua_source};
use crate::libgit2::{PLAIN_LAUNCHER, build_lock, configure_with, run};
use crate::support::{Daemon, Impl, TempDir, require};

const PUMP: &str = env!("CARGO_BIN_EXE_pump");
const DISTCC: &str = env!("CARGO_BIN_EXE_distcc");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Protocol 3 from local `-fdirectives-only`/`-frewrite-includes` text.
    Plain,
    /// Without `DISTCC_IDENTICAL_DEBUG`: fully preprocessed source, as 3.4.
    Classic,
    Pump,
}

/// Every object, dependency file and split-DWARF file under `dir`, by relative path.
fn outputs(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path
                .extension()
                .is_some_and(|e| e == "o" || e == "d" || e == "dwo")
            {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn objects(o: &BTreeMap<PathBuf, Vec<u8>>) -> usize {
    o.keys()
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .count()
}

/// What one distributed build did, from the logs.
struct Routes {
    /// Jobs the daemon ran.
    remote: usize,
    /// Jobs the client sent by the source route.
    source: usize,
    /// Jobs the client sent in pump mode.
    pump: usize,
}

/// Runs `make` (or `pump make`) with `args` and `env` in a fresh client state; returns what
/// the logs say.
fn make(mode: Mode, daemon: &Daemon, args: &[String], env: &[(&str, &str)]) -> Routes {
    let state = TempDir::new("debug-state");
    let log = state.path().join("client.log");
    let before = jobs(&daemon.log_text());
    let mut cmd = if mode == Mode::Pump {
        let mut c = Command::new(PUMP);
        c.arg("make");
        c
    } else {
        Command::new("make")
    };
    let hosts = match mode {
        Mode::Pump => format!("127.0.0.1:{}/4,lzo,cpp", daemon.port),
        _ => format!("127.0.0.1:{}/4,lzo", daemon.port),
    };
    cmd.args(args)
        .envs(env.iter().copied())
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_DIR", state.path())
        .env("DISTCC_LOG", &log)
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_FALLBACK", "0")
        .env_remove("DISTCC_SKIP_LOCAL_RETRY")
        .env_remove("INCLUDE_SERVER_PORT");
    if mode == Mode::Plain {
        cmd.env("DISTCC_IDENTICAL_DEBUG", "1");
    } else {
        cmd.env_remove("DISTCC_IDENTICAL_DEBUG");
    }
    run(&mut cmd);
    let client = std::fs::read_to_string(&log).unwrap_or_default();
    // The daemon logs a job after its reply: wait for the count to settle.
    let mut remote = jobs(&daemon.log_text()) - before;
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = jobs(&daemon.log_text()) - before;
        if now == remote {
            break;
        }
        remote = now;
    }
    Routes {
        remote,
        source: client
            .matches("its macros not, for identical debug information\n")
            .count(),
        pump: client.matches(" files and links for ").count(),
    }
}

fn jobs(log: &str) -> usize {
    log.lines().filter(|l| l.contains(" exit 0 ")).count()
}

/// Compares `built` with `local`: (objects compared, outputs that differ or are missing).
fn compare(local: &BTreeMap<PathBuf, Vec<u8>>, built: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    local
        .iter()
        .filter(|(k, v)| built.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Lua's sources copied into `dir/src` with a Makefile (`CC`, `CFLAGS` on make's line; `SRC`
/// names the sources' directory, `src` or an absolute one, as cmake names them).
fn lua_tree(source: &Path, dir: &Path) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for entry in std::fs::read_dir(source).unwrap().flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "c" || e == "h") {
            std::fs::copy(&p, src.join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.join("Makefile"),
        "CC = cc\nCFLAGS = -g\nSRC = src\nOBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))\nall: $(OBJS)\n\
         src/%.o: $(SRC)/%.c\n\t$(CC) $(CFLAGS) -Wall -DLUA_USE_LINUX -MD -c $< -o $@\n\
         clean:\n\trm -f src/*.o src/*.d src/*.dwo\n",
    )
    .unwrap();
}

/// One Lua build per mode with `compiler` and `flags`; every output compared with the local
/// build. `remote_expected`: whether the distributed modes reach the daemon (not for options
/// that compile locally by design). Returns the objects compared per distributed build.
fn lua_case(
    dir: &Path,
    daemon: &Daemon,
    compiler: &str,
    flags: &str,
    modes: &[Mode],
    remote_expected: bool,
) -> usize {
    let args = |cc: String| {
        vec![
            "-C".to_owned(),
            dir.display().to_string(),
            "-j2".to_owned(),
            format!("CC={cc}"),
            format!(
                "CFLAGS={}",
                flags
                    .replace("{dir}", &dir.display().to_string())
                    .replace(" {abs}", "")
            ),
            if flags.contains("{abs}") {
                format!("SRC={}/src", dir.display())
            } else {
                "SRC=src".to_owned()
            },
        ]
    };
    let clean = || run(Command::new("make").arg("-C").arg(dir).arg("clean"));
    clean();
    run(Command::new("make").args(args(compiler.to_owned())));
    let local = outputs(dir);
    let n = objects(&local);
    assert!(n >= 30, "the local Lua build made {n} objects");
    for &mode in modes {
        clean();
        let r = make(mode, daemon, &args(format!("{DISTCC} {compiler}")), &[]);
        let differ = compare(&local, &outputs(dir));
        let case = format!("Lua {compiler} {flags} {mode:?}");
        if mode == Mode::Classic {
            // 3.4's route, kept without the variable: its -g objects differ (what the
            // source route fixes), so this comparison shows the test can see a difference.
            assert!(
                !differ.is_empty(),
                "{case}: fully preprocessed -g objects matched"
            );
            eprintln!(
                "debug_info: {case}: {} of {n} objects differ (3.4's route)",
                differ.len()
            );
            continue;
        }
        assert!(
            differ.is_empty(),
            "{case}: {} outputs differ, first {:?}",
            differ.len(),
            differ.first()
        );
        let expect = if remote_expected { n } else { 0 };
        assert_eq!(r.remote, expect, "{case}: jobs on the daemon");
        match mode {
            Mode::Plain => assert_eq!(r.source, expect, "{case}: jobs by the source route"),
            Mode::Pump => assert_eq!(r.pump, expect, "{case}: jobs in pump mode"),
            _ => {}
        }
        eprintln!(
            "debug_info: {case}: {n} objects (and their .d{}) identical to local, {} compiled remotely",
            if flags.contains("split") {
                ", .dwo"
            } else {
                ""
            },
            r.remote
        );
    }
    n
}

#[test]
fn lua_with_gcc_debug_options_equals_a_local_build() {
    if !require(&["gcc", "make"]) {
        return;
    }
    let Some(source) = lua_source() else { return };
    let t = TempDir::new("debug-lua-gcc");
    lua_tree(&source, t.path());
    let d = Daemon::start(Impl::Ours, 4);
    let both = [Mode::Plain, Mode::Pump];
    lua_case(
        t.path(),
        &d,
        "gcc",
        "-g",
        &[Mode::Plain, Mode::Pump, Mode::Classic],
        true,
    );
    lua_case(t.path(), &d, "gcc", "-g3 -O2", &both, true);
    lua_case(t.path(), &d, "gcc", "-ggdb -O1", &both, true);
    lua_case(
        t.path(),
        &d,
        "gcc",
        "-g -fdebug-prefix-map={dir}=/lua",
        &both,
        true,
    );
    // -gsplit-dwarf writes a second file no protocol returns: compiled here, by design.
    // Sources named by absolute paths (` {abs}`), as cmake names them, with a prefix map.
    let abs = "-g3 -fdebug-prefix-map={dir}=/lua {abs}";
    lua_case(t.path(), &d, "gcc", abs, &both, true);
    lua_case(t.path(), &d, "gcc", "-g -gsplit-dwarf", &both, false);
}

#[test]
fn lua_with_clang_debug_options_equals_a_local_build() {
    if !require(&["clang", "make"]) {
        return;
    }
    let Some(source) = lua_source() else { return };
    let t = TempDir::new("debug-lua-clang");
    lua_tree(&source, t.path());
    let d = Daemon::start(Impl::Ours, 4);
    // DWARF 5 (clang's default) holds MD5 sums of the files read: pump mode sends the real
    // files; plain mode cannot, so the source route compiles it here.
    lua_case(t.path(), &d, "clang", "-g", &[Mode::Pump], true);
    lua_case(t.path(), &d, "clang", "-g", &[Mode::Plain], false);
    let abs = "-gdwarf-4 -g3 {abs}";
    lua_case(t.path(), &d, "clang", abs, &[Mode::Plain, Mode::Pump], true);
    lua_case(
        t.path(),
        &d,
        "clang",
        "-g3 -O2 -fdebug-prefix-map={dir}=/lua",
        &[Mode::Pump],
        true,
    );
    lua_case(
        t.path(),
        &d,
        "clang",
        "-gdwarf-4 -g3",
        &[Mode::Plain, Mode::Pump],
        true,
    );
    lua_case(
        t.path(),
        &d,
        "clang",
        "-gdwarf-4 -ggdb -O2",
        &[Mode::Plain],
        true,
    );
}

/// libgit2 Debug (`-g`) and Debug with `-g3`, plain and pump.
#[test]
fn libgit2_debug_through_our_client_and_daemon_equals_a_local_build() {
    if !require(&["gcc", "make", "cmake"]) {
        return;
    }
    let Some(source) = libgit2_source() else {
        return;
    };
    let _lock = build_lock();
    let d = Daemon::start(Impl::Ours, 4);
    for (flavour, extra) in [("-g", &[][..]), ("-g3", &["-DCMAKE_C_FLAGS=-g3"][..])] {
        let t = TempDir::new("debug-libgit2");
        let build = configure_with(&source, t.path(), "Debug", PLAIN_LAUNCHER, extra);
        let args = vec![
            "-C".to_owned(),
            build.display().to_string(),
            "-j2".to_owned(),
        ];
        run(Command::new("make").args(&args).env("LAUNCH", ""));
        let local = outputs(&build);
        let n = objects(&local);
        assert!(n > 150, "the local libgit2 build made {n} objects");
        let macros = local
            .values()
            .filter(|b| b.windows(12).any(|w| w == b".debug_macro"))
            .count();
        assert_eq!(
            macros > 0,
            flavour == "-g3",
            "{flavour}: objects with .debug_macro"
        );
        for mode in [Mode::Plain, Mode::Pump] {
            run(Command::new("make").arg("-C").arg(&build).arg("clean"));
            let r = make(mode, &d, &args, &[("LAUNCH", DISTCC)]);
            let differ = compare(&local, &outputs(&build));
            let case = format!("libgit2 Debug {flavour} {mode:?}");
            assert!(
                differ.is_empty(),
                "{case}: {} outputs differ, first {:?}",
                differ.len(),
                differ.first()
            );
            assert_eq!(r.remote, n, "{case}: jobs on the daemon");
            let routed = if mode == Mode::Pump { r.pump } else { r.source };
            assert_eq!(routed, n, "{case}: jobs by the route");
            eprintln!(
                "debug_info: {case}: {n} objects and .d identical to local, {} compiled remotely",
                r.remote
            );
        }
    }
}

/// `DISTCC_IDENTICAL_DEBUG` with 3.4's daemon on the other side (a misconfiguration): 3.4's
/// distccd accepts the source route's request but leaves its job directory in the object;
/// the client notices, says so, and compiles here, so the objects still equal the local
/// build's.
#[test]
fn identical_debug_against_distccd34_compiles_here_and_says_why() {
    if !require(&["gcc", "make", "distccd"]) {
        return;
    }
    let Some(source) = lua_source() else {
        return;
    };
    let t = TempDir::new("debug-lua-34");
    lua_tree(&source, t.path());
    let dir = t.path();
    let args = |cc: &str| {
        vec![
            "-C".to_owned(),
            dir.display().to_string(),
            "-j2".to_owned(),
            format!("CC={cc}"),
            "CFLAGS=-g".to_owned(),
        ]
    };
    run(Command::new("make").args(args("gcc")));
    let local = outputs(dir);
    let n = objects(&local);
    run(Command::new("make").arg("-C").arg(dir).arg("clean"));
    let d = Daemon::start(Impl::Distcc34, 4);
    let state = TempDir::new("debug-34-state");
    let log = state.path().join("client.log");
    run(Command::new("make")
        .args(args(&format!("{DISTCC} gcc")))
        .env("DISTCC_HOSTS", d.host(true, 4))
        .env("DISTCC_DIR", state.path())
        .env("DISTCC_LOG", &log)
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_IDENTICAL_DEBUG", "1"));
    let differ = compare(&local, &outputs(dir));
    assert!(
        differ.is_empty(),
        "{} outputs differ, first {:?}",
        differ.len(),
        differ.first()
    );
    let client = std::fs::read_to_string(&log).unwrap_or_default();
    let noticed = client.matches("not a distcc-rs daemon, which").count();
    assert_eq!(noticed, n, "every job noticed 3.4's daemon:\n{client}");
    eprintln!(
        "debug_info: Lua gcc -g against distccd 3.4: {n} objects identical, all compiled here after the check"
    );
}
