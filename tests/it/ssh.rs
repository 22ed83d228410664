//! Our client's ssh transport when ssh fails, against a real OpenSSH server on loopback: a key
//! the server does not know, a host key the client does not know, no daemon on the far side,
//! no ssh program at all. Each time ssh's own words reach the client's log, the build
//! succeeds by compiling locally, and with `DISTCC_FALLBACK=0` it fails with a clear message.

use std::path::Path;

// client.rs includes the same helpers; a second copy here is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../interop/support.rs"]
mod support;

#[allow(clippy::duplicate_mod)]
#[path = "client_support.rs"]
mod client_support;

#[path = "../interop/sshd.rs"]
mod sshd;

use client_support::Sandbox;
use sshd::{GOOD, NO_KEY, Sshd, UNKNOWN_HOST};

/// Compiles one file through `hosts` with fallback on, then off; checks the log and messages.
fn fails_over_ssh(ssh_program: &Path, hosts: &str, ssh_words: &str) {
    let sb = Sandbox::new("ssh-fail");
    let args = ["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/util.o"];
    let mut c = sb.distcc(hosts, &args);
    c.env("DISTCC_SSH", ssh_program);
    let o = c.output().unwrap();
    let log = sb.log_text();
    assert!(
        o.status.success(),
        "{hosts}: the build falls back: {}\n{log}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(sb.path().join("out/util.o").is_file(), "{hosts}: object");
    assert!(
        log.contains(ssh_words),
        "{hosts}: ssh's words {ssh_words:?} in:\n{log}"
    );
    assert!(log.contains("running locally instead"), "{log}");
    // 3.4's file names: the lock and backoff files of an ssh host.
    let machine = hosts
        .trim_start_matches('@')
        .split(['/', ':'])
        .next()
        .unwrap();
    let lock = sb.distcc_dir.join("lock");
    assert!(lock.join(format!("cpu_ssh_{machine}_0")).is_file());
    assert!(lock.join(format!("backoff_ssh_{machine}_0")).is_file());

    let sb = Sandbox::new("ssh-fail-nofallback");
    let mut c = sb.distcc(hosts, &args);
    c.env("DISTCC_SSH", ssh_program).env("DISTCC_FALLBACK", "0");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let log = sb.log_text();
    assert!(!o.status.success(), "{hosts}: fails without fallback");
    assert!(!sb.path().join("out/util.o").exists());
    let said = format!("{stderr}{log}");
    assert!(
        said.contains("failed to distribute and fallbacks are disabled")
            && said.contains(ssh_words),
        "{hosts}: a clear message naming ssh's words {ssh_words:?}:\n{said}"
    );
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn ssh_failures_are_reported_with_ssh_s_words_and_fall_back() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let w = sshd.wrapper.clone();
    fails_over_ssh(&w, &format!("@{NO_KEY}"), "Permission denied (publickey)");
    fails_over_ssh(
        &w,
        &format!("@{UNKNOWN_HOST}"),
        "Host key verification failed",
    );
    fails_over_ssh(
        &w,
        &format!("@{GOOD}/2:/nonexistent/distccd"),
        "/nonexistent/distccd: No such file or directory",
    );
    assert_eq!(
        sshd.handshakes(),
        2,
        "the missing daemon was reached through a real login, once per build"
    );
}

#[test]
fn a_missing_ssh_program_is_a_communication_failure() {
    if !support::require(&["gcc"]) {
        return;
    }
    fails_over_ssh(
        Path::new("/nonexistent/ssh"),
        "@somewhere",
        "cannot run /nonexistent/ssh",
    );
}
