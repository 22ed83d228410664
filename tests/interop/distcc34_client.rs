//! Debian's distcc 3.4 client against our distccd on loopback: a small multi-file C project
//! and a C++ file over protocol 1 and 2 (LZO) with fallback off, objects byte-identical to
//! local builds, every job in our log; a compile error gives gcc's own diagnostics and exit
//! code. Under `CI=true` a missing distcc 3.4 or gcc fails the test.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{self, Daemon, Impl, TempDir};

const FILES: &[(&str, &str)] = &[
    (
        "inc/shape.h",
        "#pragma once\nstruct shape { int w, h; };\nint area(const struct shape *s);\nint perimeter(const struct shape *s);\n",
    ),
    (
        "src/area.c",
        "#include \"shape.h\"\nint area(const struct shape *s) { return s->w * s->h; }\n",
    ),
    (
        "src/perimeter.c",
        "#include \"shape.h\"\nint perimeter(const struct shape *s) { return 2 * (s->w + s->h); }\n",
    ),
    (
        "src/main.c",
        "#include <stdio.h>\n#include \"shape.h\"\nint main(void) { struct shape s = {3, 4}; printf(\"%d %d\\n\", area(&s), perimeter(&s)); return 0; }\n",
    ),
    (
        "src/vec.cpp",
        "#include <vector>\n#include <numeric>\nint sum(const std::vector<int> &v) { return std::accumulate(v.begin(), v.end(), 0); }\n",
    ),
    (
        "src/bad.c",
        "int broken(void) { return undeclared_thing; }\n",
    ),
];

/// (compiler, source, object) for every good file.
const JOBS: &[(&str, &str, &str)] = &[
    ("gcc", "src/area.c", "area.o"),
    ("gcc", "src/perimeter.c", "perimeter.o"),
    ("gcc", "src/main.c", "main.o"),
    ("g++", "src/vec.cpp", "vec.o"),
];

fn write_project(dir: &Path) {
    for (name, text) in FILES {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn compile(dir: &Path, distcc: Option<(&str, &Path)>, cc: &str, src: &str, obj: &str) -> Output {
    let mut c = match distcc {
        Some(_) => {
            let mut c = Command::new("distcc");
            c.arg(cc);
            c
        }
        None => Command::new(cc),
    };
    c.args(["-O2", "-Iinc", "-c", src, "-o", obj])
        .current_dir(dir);
    if let Some((hosts, state)) = distcc {
        c.env("DISTCC_HOSTS", hosts)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_DIR", state)
            .env_remove("DISTCC_VERBOSE");
    }
    c.output().expect("running the compiler")
}

#[test]
fn distcc_3_4_client_builds_through_our_daemon() {
    if !support::require(&["distcc", "gcc", "g++"]) {
        return;
    }
    let d = Daemon::start(Impl::Ours, 4);
    let work = TempDir::new("c34-client");
    let state = work.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let local = work.path().join("local");
    write_project(&local);
    for (cc, src, obj) in JOBS {
        let out = compile(&local, None, cc, src, obj);
        assert!(
            out.status.success(),
            "local {src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for lzo in [false, true] {
        let remote = work.path().join(if lzo { "lzo" } else { "plain" });
        write_project(&remote);
        let hosts = d.host(lzo, 4);
        for (cc, src, obj) in JOBS {
            let out = compile(&remote, Some((&hosts, &state)), cc, src, obj);
            assert!(
                out.status.success(),
                "distcc {src} via {hosts}: {}\nour log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                d.log_text()
            );
            assert_eq!(
                std::fs::read(remote.join(obj)).unwrap(),
                std::fs::read(local.join(obj)).unwrap(),
                "{obj} via {hosts} differs from the local build"
            );
        }
    }
    // Every job reached our daemon: two rounds of four, each logged with its source file.
    let log = d.log_text();
    for (_, src, _) in JOBS {
        let base = Path::new(src).file_name().unwrap().to_str().unwrap();
        let n = log
            .lines()
            .filter(|l| l.contains("job 127.0.0.1:") && l.contains(&format!(" {src} exit 0")))
            .count();
        assert_eq!(n, 2, "{base} should be logged twice:\n{log}");
    }
}

#[test]
fn compile_error_gives_gccs_diagnostics_and_exit_code() {
    if !support::require(&["distcc", "gcc"]) {
        return;
    }
    let d = Daemon::start(Impl::Ours, 2);
    let work = TempDir::new("c34-error");
    write_project(work.path());
    let local = compile(work.path(), None, "gcc", "src/bad.c", "bad.o");
    assert!(!local.status.success());
    for lzo in [false, true] {
        let hosts = d.host(lzo, 2);
        // 3.4 backs a host off after any failed compile, so each round gets fresh state.
        let state = work.path().join(format!("state-{lzo}"));
        std::fs::create_dir(&state).unwrap();
        let remote = compile(
            work.path(),
            Some((&hosts, &state)),
            "gcc",
            "src/bad.c",
            "bad.o",
        );
        assert_eq!(
            remote.status.code(),
            local.status.code(),
            "exit code via {hosts}"
        );
        let remote_err = String::from_utf8_lossy(&remote.stderr);
        // gcc's caret lines quote the source, which the server never has (3.4's daemon is
        // the same): every located diagnostic must match.
        let local_err = String::from_utf8_lossy(&local.stderr);
        let located: Vec<&str> = local_err
            .lines()
            .filter(|l| l.starts_with("src/bad.c"))
            .collect();
        assert!(located.len() >= 2, "{local_err}");
        for line in located {
            assert!(
                remote_err.contains(line),
                "missing {line:?} via {hosts} in:\n{remote_err}"
            );
        }
        assert!(!work.path().join("bad.o").exists());
    }
    // The daemon logs a job after its reply is sent: give the last line a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while d.log_text().matches("src/bad.c exit 1").count() < 2
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        d.log_text().matches("src/bad.c exit 1").count(),
        2,
        "{}",
        d.log_text()
    );
}
