//! Our scheduler and distcc 3.4's client on one machine, sharing one `DISTCC_DIR`: a slot
//! that a 3.4 client holds is never used by ours, and ours notices the 3.4 client letting go
//! without polling (3.4 wakes nobody; our first waiter watches the lock directory). The farm
//! is Debian's distccd 3.4 with a slow, logging `cc` (tests/it/sched_support.rs).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::support;

#[path = "../it/sched_support.rs"]
mod sched_support;

use sched_support::{SlowDaemon, assert_no_overlap, longest_handover_ms, wait_until, waiting};

fn client(program: &Path, work: &Path, hosts: &str, i: usize, pause_ms: &str) -> Child {
    // 3.4 does not create DISTCC_DIR (it fails with "no hosts" without one).
    std::fs::create_dir_all(work.join("distcc-dir")).unwrap();
    let src = format!("f{i}.c");
    std::fs::write(
        work.join(&src),
        format!("int f{i}(void) {{ return {i}; }}\n"),
    )
    .unwrap();
    Command::new(program)
        .args(["cc", "-c", &src, "-o", &format!("f{i}.o")])
        .current_dir(work)
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_DIR", work.join("distcc-dir"))
        .env("DISTCC_LOG", work.join("distcc.log"))
        .env("DISTCC_VERBOSE", "1")
        .env("DISTCC_PAUSE_TIME_MSEC", pause_ms)
        .env("DISTCC_FALLBACK", "0")
        // Keep `cc` as `cc`, the name the daemon runs as the slow wrapper.
        .env("DISTCC_NO_REWRITE_CROSS", "1")
        .env_remove("_DISTCC_SAFEGUARD")
        .stdin(Stdio::null())
        .spawn()
        .expect("starting a client")
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_distcc"))
}

fn finish(mut c: Child, what: &str, work: &Path) {
    let status = c.wait().unwrap();
    let log = std::fs::read_to_string(work.join("distcc.log")).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}); log:\n{log}");
}

#[test]
fn a_slot_held_by_a_3_4_client_is_respected_and_its_release_noticed() {
    if !support::require(&["distcc", "distccd", "gcc"]) {
        return;
    }
    let theirs = support::which("distcc").expect("distcc 3.4");
    let d = SlowDaemon::start(4, 400);
    let work = support::TempDir::new("sched-interop");
    let hosts = d.host(1);
    let held = client(&theirs, work.path(), &hosts, 0, "50");
    wait_until(20, "3.4's job to start", || d.started() == 1);
    // Ours wait for 5 s between looks unless woken: only the watch can hand over quickly.
    let a = client(ours(), work.path(), &hosts, 1, "5000");
    wait_until(20, "ours to queue", || {
        waiting(&work.path().join("distcc-dir")) == 1
    });
    let b = client(ours(), work.path(), &hosts, 2, "5000");
    wait_until(20, "ours to queue", || {
        waiting(&work.path().join("distcc-dir")) == 2
    });
    assert_eq!(d.started(), 1, "ours took a slot that 3.4's client holds");
    finish(held, "3.4's client", work.path());
    finish(a, "our first client", work.path());
    finish(b, "our second client", work.path());
    let jobs = d.intervals();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert_no_overlap(&jobs);
    let gap = longest_handover_ms(&jobs);
    eprintln!("longest hand-over: {gap} ms");
    assert!(gap < 500, "a hand-over took {gap} ms");
}

#[test]
fn a_mixed_crowd_of_3_4_and_our_clients_never_overfills_a_slot() {
    if !support::require(&["distcc", "distccd", "gcc"]) {
        return;
    }
    let theirs = support::which("distcc").expect("distcc 3.4");
    let d = SlowDaemon::start(4, 150);
    let work = support::TempDir::new("sched-mixed");
    let hosts = d.host(1);
    let clients: Vec<(Child, &str)> = (0..6)
        .map(|i| {
            if i % 2 == 0 {
                (
                    client(&theirs, work.path(), &hosts, i, "50"),
                    "3.4's client",
                )
            } else {
                (client(ours(), work.path(), &hosts, i, "5000"), "our client")
            }
        })
        .collect();
    for (c, what) in clients {
        finish(c, what, work.path());
    }
    let jobs = d.intervals();
    assert_eq!(jobs.len(), 6, "{jobs:?}");
    assert_no_overlap(&jobs);
    assert_eq!(waiting(&work.path().join("distcc-dir")), 0);
}
