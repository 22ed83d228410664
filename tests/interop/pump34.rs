//! Debian's distcc 3.4 client under OUR `pump` (so our include server), hosts
//! `127.0.0.1:PORT/N,cpp,lzo`, `DISTCC_FALLBACK=0`, against our distccd and 3.4's: a small
//! project exercising `-I`, `-iquote`, `-isystem`, `#include_next`, a computed include,
//! `..` and a symlinked include directory, then libgit2 Release. Every object must be
//! byte-identical to a local build, and the daemon's log must show every job arriving as
//! protocol 3 (3.4's debug log: `got DIST00000003`; ours: the compiler running inside the
//! job's `root`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::libgit2::{PLAIN_LAUNCHER, configure, is_object, libgit2_source, outputs, run};
use crate::support::{Daemon, Impl, TempDir, require};

const PUMP: &str = env!("CARGO_BIN_EXE_pump");

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project whose sources reach headers in every way the include server must follow.
fn small_project(dir: &Path) -> Vec<&'static str> {
    write(
        dir,
        "inc/util.h",
        "#include_next <util.h>\n#define UTIL_A 1\n",
    );
    write(dir, "inc2/util.h", "#define UTIL_B 2\n");
    write(
        dir,
        "quote/q.h",
        "#include \"../shared/up.h\"\n#define Q 3\n",
    );
    write(dir, "shared/up.h", "#define UP 4\n");
    write(dir, "sys/s.h", "#include <stddef.h>\n#define S 5\n");
    write(dir, "real/linked.h", "#define L 6\n");
    std::os::unix::fs::symlink("real", dir.join("linkdir")).unwrap();
    write(dir, "cfg/config_linux.h", "#define CFG 7\n");
    write(
        dir,
        "src/a.c",
        "#include <stdio.h>\n#include <util.h>\n#include \"q.h\"\n#include <s.h>\n\
         #include <linked.h>\n#define PLATFORM_HEADER \"config_linux.h\"\n#include PLATFORM_HEADER\n\
         int a(void) { printf(\"%s\\n\", __FILE__); return UTIL_A + UTIL_B + Q + UP + S + L + CFG; }\n",
    );
    write(
        dir,
        "src/b.c",
        "#include <string.h>\n#include \"b.h\"\nint b(const char *s) { return (int)strlen(s) + B; }\n",
    );
    write(dir, "src/b.h", "#define B 8\n");
    write(
        dir,
        "src/main.c",
        "int a(void); int b(const char *);\nint main(void) { return a() + b(\"x\"); }\n",
    );
    let abs_inc2 = dir.join("inc2");
    write(
        dir,
        "Makefile",
        &format!(
            "CFLAGS = -O2 -Iinc -I{} -iquote quote -isystem sys -I$(CURDIR)/linkdir -Icfg\n\
             OBJS = src/a.o src/b.o src/main.o\nall: $(OBJS)\n\
             src/%.o: $(CURDIR)/src/%.c\n\t$(CC) $(CFLAGS) -c $< -o $@\nclean:\n\trm -f $(OBJS)\n",
            abs_inc2.display()
        ),
    );
    vec!["src/a.o", "src/b.o", "src/main.o"]
}

fn objects(dir: &Path, names: &[&str]) -> BTreeMap<String, Vec<u8>> {
    names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                std::fs::read(dir.join(n)).unwrap_or_default(),
            )
        })
        .collect()
}

/// Protocol-3 jobs in a daemon's log.
fn pump_jobs(which: Impl, log: &str) -> usize {
    match which {
        Impl::Distcc34 => log.matches("got DIST00000003").count(),
        Impl::Ours => log
            .lines()
            .filter(|l| l.contains("running [") && l.contains("/root/"))
            .count(),
    }
}

fn daemon(which: Impl) -> Daemon {
    Daemon::start_with(which, 4, &["--log-level", "debug"])
}

fn pump_make(dir: &Path, daemon: &Daemon, state: &Path, extra: &[&str]) -> String {
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);
    run(Command::new(PUMP)
        .args(["make", "-C"])
        .arg(dir)
        .args(["-j2", "CC=/usr/bin/distcc gcc"])
        .args(extra)
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_DIR", state)
        .env_remove("INCLUDE_SERVER_PORT"))
}

fn small_project_through(which: Impl) {
    if !require(&["gcc", "make", "distcc", "distccd"]) {
        return;
    }
    let t = TempDir::new("pump34");
    let dir = t.path().join("proj");
    let objs = small_project(&dir);
    run(Command::new("make").arg("-C").arg(&dir).arg("CC=gcc"));
    let local = objects(&dir, &objs);
    run(Command::new("make").arg("-C").arg(&dir).arg("clean"));
    let d = daemon(which);
    let state = t.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let out = pump_make(&dir, &d, &state, &[]);
    assert!(
        out.contains("__________Using 1 distcc server in pump mode"),
        "{out}"
    );
    assert!(
        out.contains("__________Shutting down distcc-pump include server"),
        "{out}"
    );
    assert_eq!(
        objects(&dir, &objs),
        local,
        "objects differ from a local build\n{out}"
    );
    let log = d.log_text();
    assert_eq!(
        pump_jobs(which, &log),
        objs.len(),
        "protocol-3 jobs; daemon log:\n{log}"
    );
    eprintln!(
        "pump34: {which:?}: {} of {} jobs as protocol 3, objects identical",
        objs.len(),
        objs.len()
    );
}

#[test]
fn distcc34_client_under_our_pump_to_our_daemon() {
    small_project_through(Impl::Ours);
}

#[test]
fn distcc34_client_under_our_pump_to_distccd34() {
    small_project_through(Impl::Distcc34);
}

/// Configures libgit2 Release with a launcher script (`$LAUNCH /usr/bin/cc …`, plain cc when
/// empty) and builds it locally for the reference objects.
fn libgit2_tree(source: &Path, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let build = configure(source, dir, "Release", PLAIN_LAUNCHER);
    run(Command::new("make")
        .arg("-C")
        .arg(&build)
        .arg("-j2")
        .env("LAUNCH", ""));
    built_objects(&build)
}

/// The objects under `dir` (3.4's daemon keeps its own line breaks in pump `.d` files).
fn built_objects(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = outputs(dir);
    all.retain(|p, _| is_object(p));
    all
}

#[test]
fn distcc34_client_under_our_pump_builds_libgit2_release() {
    if !require(&["gcc", "make", "cmake", "distcc", "distccd"]) {
        return;
    }
    let Some(source) = libgit2_source() else {
        return;
    };
    let t = TempDir::new("pump34-libgit2");
    let reference = libgit2_tree(&source, t.path());
    assert!(reference.len() > 150, "too few objects in the local build");
    let build = t.path().join("build");
    for which in [Impl::Ours, Impl::Distcc34] {
        run(Command::new("make").arg("-C").arg(&build).arg("clean"));
        let d = daemon(which);
        let state = t.path().join(format!("state-{which:?}"));
        std::fs::create_dir(&state).unwrap();
        let hosts = format!("127.0.0.1:{}/4,cpp,lzo", d.port);
        let out = run(Command::new(PUMP)
            .args(["make", "-C"])
            .arg(&build)
            .arg("-j2")
            .env("LAUNCH", "/usr/bin/distcc")
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_DIR", &state)
            .env_remove("INCLUDE_SERVER_PORT"));
        let built = built_objects(&build);
        let differ: Vec<_> = reference
            .iter()
            .filter(|(k, v)| built.get(*k) != Some(v))
            .map(|(k, _)| k)
            .collect();
        assert!(
            differ.is_empty(),
            "{} objects differ or are missing, first {:?}\n{out}",
            differ.len(),
            differ.first()
        );
        let log = d.log_text();
        let jobs = pump_jobs(which, &log);
        eprintln!(
            "pump34 libgit2: {which:?}: {jobs} of {} objects sent as protocol 3",
            reference.len()
        );
        assert_eq!(
            jobs,
            reference.len(),
            "every libgit2 compile should go as protocol 3"
        );
    }
}
