//! Our client against Debian's distccd 3.4 on loopback: protocols 1 and 2 with fallback
//! off, objects and .d files byte-identical to local builds; and our client and 3.4's
//! sharing one host limited to two jobs never run more than two at once.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::{self, Daemon, Impl, TempDir};

#[path = "../it/client_support.rs"]
mod client_support;

use client_support::Sandbox;

/// Every kind of compile line that matters for .d files and outputs.
const CASES: &[(&[&str], &[&str])] = &[
    (
        &[
            "gcc",
            "-O2",
            "-Iinclude",
            "-MD",
            "-c",
            "src/main.c",
            "-o",
            "out/main.o",
        ],
        &["out/main.o", "out/main.d"],
    ),
    (
        &["gcc", "-Iinclude", "-MMD", "-MP", "-c", "src/util.c"],
        &["util.o", "util.d"],
    ),
    (
        &[
            "gcc",
            "-Iinclude",
            "-MD",
            "-MF",
            "deps/u.dep",
            "-MT",
            "custom",
            "-c",
            "src/util.c",
            "-o",
            "out/u.o",
        ],
        &["out/u.o", "deps/u.dep"],
    ),
    (
        &[
            "gcc",
            "-Iinclude",
            "-MMD",
            "-MQ",
            "$weird",
            "-c",
            "src/util.c",
            "-o",
            "out/q.o",
        ],
        &["out/q.o", "out/q.d"],
    ),
    (
        &[
            "gcc",
            "-Iinclude",
            "-Wp,-MD,deps/wp.d",
            "-c",
            "src/util.c",
            "-o",
            "out/wp.o",
        ],
        &["out/wp.o", "deps/wp.d"],
    ),
    (
        &[
            "gcc",
            "-Iinclude",
            "-DX=1",
            "-S",
            "src/util.c",
            "-o",
            "out/util.s",
        ],
        &["out/util.s"],
    ),
    (
        &[
            "g++",
            "-O2",
            "-Iinclude",
            "-MD",
            "-c",
            "src/shapes.cpp",
            "-o",
            "out/shapes.o",
        ],
        &["out/shapes.o", "out/shapes.d"],
    ),
    (
        &[
            "clang",
            "-O1",
            "-Iinclude",
            "-MD",
            "-c",
            "src/util.c",
            "-o",
            "out/cl.o",
        ],
        &["out/cl.o", "out/cl.d"],
    ),
];

#[test]
fn objects_and_dep_files_match_local_builds_over_protocols_1_and_2() {
    if !support::require(&["distccd", "gcc", "g++", "clang"]) {
        return;
    }
    let daemon = Daemon::start(Impl::Distcc34, 4);
    for lzo in [false, true] {
        let sb = Sandbox::new("client-34");
        let hosts = daemon.host(lzo, 4);
        for (cmd, outputs) in CASES {
            sb.same_as_local(&hosts, &[("DISTCC_FALLBACK", "0")], cmd, outputs);
        }
        let log = sb.log_text();
        let remote = log.matches(&format!("on {hosts}")).count();
        assert_eq!(
            remote,
            CASES.len(),
            "every case compiled on the server (lzo={lzo}):\n{log}"
        );
        assert!(
            !log.contains("locally"),
            "nothing fell back (lzo={lzo}):\n{log}"
        );
    }
}

/// Starts 3.4's distccd with `dir` first on PATH, so the server runs our counting `gcc`.
fn start_counting_daemon(dir: &Path, port: u16) -> Child {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("distccd")
        .args(["--daemon", "--no-detach", "--log-stderr", "--jobs", "8"])
        .args([
            "--port",
            &port.to_string(),
            "--listen",
            "127.0.0.1",
            "--allow",
            "127.0.0.1/32",
        ])
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so that 3.4's pre-forked workers die with it.
        .process_group(0)
        .spawn()
        .expect("starting distccd")
}

/// Kills a daemon's whole process group when dropped, so a failing assertion does not leave
/// 3.4's pre-forked children running.
struct GroupKiller(std::process::Child);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group of the daemon this test started.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

#[test]
fn our_client_and_the_3_4_client_share_a_two_slot_host() {
    if !support::require(&["distccd", "distcc", "gcc"]) {
        return;
    }
    let wrap = TempDir::new("counting-gcc");
    let events = wrap.path().join("events");
    let script = format!(
        "#!/bin/sh\necho \"start $(date +%s.%N)\" >> {e}\nsleep 0.4\n/usr/bin/gcc \"$@\"\nrc=$?\necho \"end $(date +%s.%N)\" >> {e}\nexit $rc\n",
        e = events.display()
    );
    let gcc = wrap.path().join("gcc");
    fs::write(&gcc, script).unwrap();
    Command::new("chmod")
        .arg("0755")
        .arg(&gcc)
        .status()
        .unwrap();
    let port = support::free_port();
    let mut daemon = GroupKiller(start_counting_daemon(wrap.path(), port));
    support::wait_listening(&mut daemon.0, port, "distccd 3.4", None);
    let sb = Sandbox::new("share");
    // 3.4's client refuses to run without an existing DISTCC_DIR (ours creates it); it must
    // not depend on which client happens to start first.
    fs::create_dir_all(&sb.distcc_dir).unwrap();
    let hosts = format!("127.0.0.1:{port}/2");
    let mut children = Vec::new();
    for i in 0..8 {
        let out = format!("out/j{i}.o");
        let args = ["gcc", "-Iinclude", "-c", "src/util.c", "-o", out.as_str()];
        let mut c = if i % 2 == 0 {
            sb.distcc(&hosts, &args)
        } else {
            let mut c = Command::new("distcc");
            c.args(args);
            sb.env(&mut c, &hosts);
            c
        };
        // Both clients would otherwise rename gcc for cross-compiling.
        c.env("DISTCC_NO_REWRITE_CROSS", "1")
            .env("DISTCC_FALLBACK", "0");
        children.push(c.spawn().unwrap());
    }
    for mut c in children {
        assert!(
            c.wait().unwrap().success(),
            "a client failed:\n{}",
            sb.log_text()
        );
    }
    drop(daemon);
    let text = fs::read_to_string(&events).unwrap_or_default();
    let mut points: Vec<(f64, i32)> = text
        .lines()
        .filter_map(|l| {
            let (kind, t) = l.split_once(' ')?;
            Some((t.parse().ok()?, if kind == "start" { 1 } else { -1 }))
        })
        .collect();
    assert_eq!(points.len(), 16, "every job ran on the server:\n{text}");
    points.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut now, mut most) = (0, 0);
    for (_, d) in points {
        now += d;
        most = most.max(now);
    }
    assert!(
        most <= 2,
        "{most} jobs ran at once on a host limited to 2:\n{text}"
    );
    assert_eq!(most, 2, "the two slots were both used");
}
