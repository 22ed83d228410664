//! The client's scheduler end to end: several real `distcc` processes at once against
//! Debian's distccd 3.4 on loopback, whose `cc` takes a while and logs when each job ran.
//! `DISTCC_PAUSE_TIME_MSEC` is set to 5 s, so a hand-over in well under a second can only come
//! from a waiter being woken, never from polling.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

// client.rs includes the same helpers; a second copy here is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../interop/support.rs"]
mod support;

#[path = "sched_support.rs"]
mod sched_support;

use sched_support::{SlowDaemon, assert_no_overlap, longest_handover_ms, wait_until, waiting};
use support::TempDir;

fn have_peer() -> bool {
    support::require(&["distccd", "gcc"])
}

/// A work directory with `n` small sources and its own `DISTCC_DIR` and log.
struct Work {
    dir: TempDir,
    distcc_dir: PathBuf,
    log: PathBuf,
}

impl Work {
    fn new(tag: &str, n: usize) -> Work {
        let dir = TempDir::new(tag);
        for i in 0..n {
            std::fs::write(
                dir.path().join(format!("f{i}.c")),
                format!("int f{i}(int x) {{ return x * {i}; }}\n"),
            )
            .unwrap();
        }
        Work {
            distcc_dir: dir.path().join("distcc-dir"),
            log: dir.path().join("distcc.log"),
            dir,
        }
    }

    fn client(&self, hosts: &str, i: usize) -> Child {
        Command::new(env!("CARGO_BIN_EXE_distcc"))
            .args(["cc", "-c", &format!("f{i}.c"), "-o", &format!("f{i}.o")])
            .current_dir(self.dir.path())
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_DIR", &self.distcc_dir)
            .env("DISTCC_LOG", &self.log)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_PAUSE_TIME_MSEC", "5000")
            // Scheduling is measured on jobs that reach the daemons.
            .env("DISTCC_CACHE", "0")
            .env("DISTCC_FALLBACK", "0")
            // Keep `cc` as `cc`, the name the daemon runs as the slow wrapper.
            .env("DISTCC_NO_REWRITE_CROSS", "1")
            .env_remove("_DISTCC_SAFEGUARD")
            .stdin(Stdio::null())
            .spawn()
            .expect("starting distcc")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn object(&self, i: usize) -> bool {
        self.dir.path().join(format!("f{i}.o")).is_file()
    }
}

fn finish(mut c: Child, what: &str, log: &str) {
    let status = c.wait().unwrap();
    assert!(status.success(), "{what} failed ({status}); log:\n{log}");
}

/// The order in which the clients' "compiled fN.c" lines appear in the shared log.
fn completion_order(log: &str) -> Vec<usize> {
    log.lines()
        .filter_map(|l| l.split("compiled f").nth(1))
        .filter_map(|rest| rest.split('.').next()?.parse().ok())
        .collect()
}

#[test]
fn waiting_clients_take_a_freed_slot_in_arrival_order_without_polling() {
    if !have_peer() {
        return;
    }
    let d = SlowDaemon::start(4, 300);
    let w = Work::new("sched-order", 5);
    let hosts = d.host(1);
    let mut clients = vec![w.client(&hosts, 0)];
    wait_until(20, "the first job to start", || d.started() == 1);
    for i in 1..5 {
        clients.push(w.client(&hosts, i));
        // Each one joins the queue before the next arrives: arrival order is i.
        wait_until(20, "a client to join the queue", || {
            waiting(&w.distcc_dir) == i
        });
    }
    for (i, c) in clients.into_iter().enumerate() {
        finish(c, &format!("client {i}"), &w.log_text());
        assert!(w.object(i));
    }
    let log = w.log_text();
    assert_eq!(completion_order(&log), vec![0, 1, 2, 3, 4], "log:\n{log}");
    let jobs = d.intervals();
    assert_eq!(jobs.len(), 5, "{jobs:?}");
    assert_no_overlap(&jobs);
    let gap = longest_handover_ms(&jobs);
    assert!(gap < 500, "a hand-over took {gap} ms; log:\n{log}");
    // Remote slots only: a client may also wait briefly for a local preprocessor slot.
    let waited = log
        .lines()
        .filter(|l| l.contains(" info: slot ") && l.contains("; waited "))
        .count();
    assert_eq!(waited, 4, "log:\n{log}");
    assert_eq!(waiting(&w.distcc_dir), 0, "the queue is left empty");
}

#[test]
fn a_crashed_waiter_never_wedges_the_queue() {
    if !have_peer() {
        return;
    }
    let d = SlowDaemon::start(4, 400);
    let w = Work::new("sched-crash", 3);
    let hosts = d.host(1);
    let first = w.client(&hosts, 0);
    wait_until(20, "the first job to start", || d.started() == 1);
    let mut doomed = w.client(&hosts, 1);
    wait_until(20, "a client to join the queue", || {
        waiting(&w.distcc_dir) == 1
    });
    let last = w.client(&hosts, 2);
    wait_until(20, "a client to join the queue", || {
        waiting(&w.distcc_dir) == 2
    });
    // Killed while waiting: its doorbell stays behind, with nobody listening.
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    assert_eq!(waiting(&w.distcc_dir), 2);
    finish(first, "client 0", &w.log_text());
    finish(last, "client 2", &w.log_text());
    let jobs = d.intervals();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_no_overlap(&jobs);
    let gap = longest_handover_ms(&jobs);
    assert!(gap < 500, "the hand-over past a dead waiter took {gap} ms");
    assert_eq!(
        waiting(&w.distcc_dir),
        0,
        "the dead waiter's name is removed"
    );
}

#[test]
fn host_speed_is_learned_and_the_faster_free_host_wins() {
    if !have_peer() {
        return;
    }
    // 1.5 s more a job: clearly slower (the check below wants twice the time) even when a
    // loaded machine makes the compile itself take a second (500 ms did not always).
    let slow = SlowDaemon::start(4, 1500);
    let fast = SlowDaemon::start(4, 0);
    let w = Work::new("sched-speed", 11);
    // The slow host first: 3.4's breadth-first search would always try it first.
    let hosts = format!("{} {}", slow.host(2), fast.host(2));
    let mut next = 0;
    // Two batches of four fill all four slots: both hosts are measured.
    for _ in 0..2 {
        let batch: Vec<Child> = (next..next + 4).map(|i| w.client(&hosts, i)).collect();
        for c in batch {
            finish(c, "a client", &w.log_text());
        }
        next += 4;
    }
    let speeds = std::fs::read_to_string(w.distcc_dir.join("sched/speed")).unwrap();
    let rate = |port: u16| -> f64 {
        let stem = format!("tcp_127.0.0.1_{port} ");
        let line = speeds.lines().find(|l| l.starts_with(&stem)).unwrap();
        line.split(' ').nth(1).unwrap().parse().unwrap()
    };
    assert!(
        rate(slow.port) > 2.0 * rate(fast.port),
        "speed file:\n{speeds}"
    );
    // One at a time now: every job goes to the fast host although the slow one is free
    // and listed first.
    let before = fast.intervals().len();
    for i in next..next + 3 {
        finish(w.client(&hosts, i), "a client", &w.log_text());
    }
    assert_eq!(fast.intervals().len(), before + 3, "log:\n{}", w.log_text());
    let log = w.log_text();
    let fast_spec = fast.host(2);
    assert!(
        log.contains(&format!("slot {fast_spec} #0: faster: ")),
        "log:\n{log}"
    );
    assert!(Path::new(&w.distcc_dir.join("sched/speed.lock")).exists());
}

/// A client waiting for a busy local slot sleeps until the slot is freed: its own failed
/// tries must not wake it (a failed write-open of a slot file, once closed, is the same
/// `IN_CLOSE_WRITE` a freed slot makes), or the first waiter spins on a CPU the whole time.
#[test]
fn a_waiter_for_a_local_slot_sleeps_instead_of_spinning() {
    if !support::require(&["gcc"]) {
        return;
    }
    let w = Work::new("sched-sleep", 1);
    let lock_dir = w.distcc_dir.join("lock");
    std::fs::create_dir_all(&lock_dir).unwrap();
    // Every local slot there could be (3.4 never looks past 50), held here for the first
    // part of the wait, so that the client's preprocessor has to queue for one.
    let held: Vec<_> = (0..50)
        .map(|n| {
            os::lock::FileLock::try_lock(&lock_dir.join(format!("cpu_localhost_{n}")))
                .unwrap()
                .expect("the slot is free at first")
        })
        .collect();
    // Nobody listens there: after preprocessing, the client falls back to a local compile.
    let dead = crate::ports::DeadPort::new();
    let mut client = Command::new(env!("CARGO_BIN_EXE_distcc"))
        .args(["cc", "-c", "f0.c", "-o", "f0.o"])
        .current_dir(w.dir.path())
        .env("DISTCC_HOSTS", format!("127.0.0.1:{}/1", dead.port))
        .env("DISTCC_DIR", &w.distcc_dir)
        .env("DISTCC_LOG", &w.log)
        .env("DISTCC_VERBOSE", "1")
        .env_remove("DISTCC_FALLBACK")
        .env_remove("_DISTCC_SAFEGUARD")
        .stdin(Stdio::null())
        .spawn()
        .expect("starting distcc");
    let queue = w.distcc_dir.join("sched").join("local");
    wait_until(20, "the client to join the local queue", || {
        std::fs::read_dir(&queue).is_ok_and(|d| {
            d.filter_map(Result::ok)
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(held);
    // SAFETY: all-zero bytes are a valid rusage; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    // SAFETY: waits for our own child, with valid out-pointers.
    let pid = unsafe { libc::wait4(client.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(pid, client.id() as i32);
    let log = w.log_text();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "distcc failed ({status}); log:\n{log}"
    );
    assert!(w.object(0));
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = cpu(ru.ru_utime) + cpu(ru.ru_stime);
    // The whole run, gcc included, takes about 0.04 s of CPU here; the spinning waiter took
    // 0.5 s of the 1.5 s wait.
    assert!(
        cpu < 0.25,
        "the waiting client used {cpu:.2} s of CPU over a 1.5 s wait; log:\n{log}"
    );
    // Reaped above: stop `Child`'s drop from caring.
    let _ = client.try_wait();
}
