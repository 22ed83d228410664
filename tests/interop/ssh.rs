//! Our client over ssh to a real OpenSSH server on loopback (keys generated per test), with
//! Debian's `distccd --inetd` (3.4) on the far side, and ours once it exists: a multi-file
//! project byte-identical to a local build, one handshake for many jobs when hoarding, one per
//! job without; a dead, hung or refusing connection holder replaced without failing a job;
//! the holder gone after its idle time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;

// distccd34.rs includes the same helpers privately; a second copy here is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../it/client_support.rs"]
mod client_support;
#[path = "sshd.rs"]
pub mod sshd;

use client_support::Sandbox;
use sshd::{GOOD, Sshd};

/// Source files added to the sandbox's project: more C files, and C++ whose preprocessed
/// text has lines starting with ssh escape sequences (`~.` would end an interactive ssh
/// session, `~C` open its command line): the tunnel must pass every byte through.
fn add_files(sb: &Sandbox) {
    for i in 1..=4 {
        fs::write(
            sb.path().join(format!("src/more{i}.c")),
            format!(
                "#include \"util.h\"\nstatic int table[{i}0];\nint more{i}(int x) {{ table[x % {i}0] = x; return twice(x) + {i}; }}\n"
            ),
        )
        .unwrap();
    }
    fs::write(
        sb.path().join("src/escapes.cpp"),
        "struct Cleanup { ~Cleanup(); };\nCleanup::\n~Cleanup() {}\nconst char *escapes = R\"(\n~.\n~C\n~?\n~~\n)\";\n",
    )
    .unwrap();
}

/// Compile lines and the files each leaves behind.
const CASES: &[(&[&str], &[&str])] = &[
    (
        &[
            "gcc",
            "-O2",
            "-Iinclude",
            "-c",
            "src/main.c",
            "-o",
            "out/main.o",
        ],
        &["out/main.o"],
    ),
    (
        &[
            "gcc",
            "-Iinclude",
            "-MD",
            "-c",
            "src/util.c",
            "-o",
            "out/util.o",
        ],
        &["out/util.o", "out/util.d"],
    ),
    (
        &[
            "gcc",
            "-O1",
            "-Iinclude",
            "-c",
            "src/more1.c",
            "-o",
            "out/more1.o",
        ],
        &["out/more1.o"],
    ),
    (
        &[
            "gcc",
            "-O2",
            "-Iinclude",
            "-c",
            "src/more2.c",
            "-o",
            "out/more2.o",
        ],
        &["out/more2.o"],
    ),
    (
        &[
            "gcc",
            "-g",
            "-Iinclude",
            "-c",
            "src/more3.c",
            "-o",
            "out/more3.o",
        ],
        &["out/more3.o"],
    ),
    (
        &["gcc", "-Iinclude", "-c", "src/more4.c", "-o", "out/more4.o"],
        &["out/more4.o"],
    ),
    (
        &[
            "g++",
            "-O2",
            "-Iinclude",
            "-c",
            "src/shapes.cpp",
            "-o",
            "out/shapes.o",
        ],
        &["out/shapes.o"],
    ),
    (
        &["g++", "-c", "src/escapes.cpp", "-o", "out/escapes.o"],
        &["out/escapes.o"],
    ),
];

fn ssh_env(sshd: &Sshd, hoard: bool) -> Vec<(&str, &str)> {
    vec![
        ("DISTCC_SSH", sshd.wrapper.to_str().unwrap()),
        ("DISTCC_SSH_HOARD", if hoard { "1" } else { "0" }),
        ("DISTCC_FALLBACK", "0"),
    ]
}

/// Our distccd beside our distcc, when the daemon has landed in this tree.
fn our_distccd() -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/distccd.rs");
    if !source.is_file() {
        eprintln!("skipping our daemon over ssh: src/bin/distccd.rs has not landed");
        return None;
    }
    Some(Path::new(env!("CARGO_BIN_EXE_distcc")).with_file_name("distccd"))
}

/// Builds every case over ssh to `far` (`None`: the far side's `distccd` on PATH), checks
/// the objects against local builds, links and runs the program, and checks how many ssh
/// handshakes that took.
fn build_project(sshd: &Sshd, far: Option<&Path>, hoard: bool, lzo: bool) {
    build_project_with(sshd, far, hoard, lzo, &[]);
}

fn build_project_with(
    sshd: &Sshd,
    far: Option<&Path>,
    hoard: bool,
    lzo: bool,
    extra: &[(&str, &str)],
) {
    let sb = Sandbox::new("ssh-build");
    add_files(&sb);
    let command = far.map_or(String::new(), |p| format!(":{}", p.display()));
    let lzo_opt = if lzo { ",lzo" } else { "" };
    let hosts = format!("@{GOOD}/4{command}{lzo_opt}");
    let mut env = ssh_env(sshd, hoard);
    env.extend_from_slice(extra);
    let before = sshd.handshakes();
    let sessions_before = sshd.sessions();
    for (cmd, outputs) in CASES {
        sb.same_as_local(&hosts, &env, cmd, outputs);
    }
    let handshakes = sshd.handshakes() - before;
    let sessions = sshd.sessions() - sessions_before;
    let log = sb.log_text();
    let what = format!("(far {far:?}, hoard {hoard}, lzo {lzo})");
    assert_eq!(
        log.matches(&format!("on {hosts}")).count(),
        CASES.len(),
        "every case compiled over ssh {what}:\n{log}"
    );
    assert!(!log.contains("locally"), "nothing fell back {what}:\n{log}");
    let masters = Sshd::masters_under(&sb.distcc_dir);
    let held_jobs = log.matches("through the held connection's forward").count();
    if hoard && far.is_some() {
        // Ours on the far side: the first job's session starts the held daemon; every later
        // job is a channel to it over the held connection, without a session.
        assert_eq!(handshakes, 1, "one handshake for every job {what}:\n{log}");
        assert_eq!(masters.len(), 1, "one connection held {what}");
        assert_eq!(sessions, 1, "one session for every job {what}:\n{log}");
        assert_eq!(held_jobs, CASES.len() - 1, "{what}:\n{log}");
        // The first reply advertised protocol 4 too: every later job spoke it, over the
        // held daemon's socket.
        assert_eq!(
            log.matches("speaking protocol 4").count(),
            CASES.len() - 1,
            "{what}:\n{log}"
        );
        assert_eq!(
            sshd.held_daemons().len(),
            2,
            "one held daemon and its janitor {what}"
        );
        assert_private(&sshd.home().join(".distcc/held"), 0o700);
        assert_private(&sb.distcc_dir.join("ssh"), 0o700);
        for dir in [sshd.home().join(".distcc/held"), sb.distcc_dir.join("ssh")] {
            for e in fs::read_dir(&dir).unwrap().flatten() {
                use std::os::unix::fs::FileTypeExt;
                if e.file_type().unwrap().is_socket() {
                    assert_private(&e.path(), 0o600);
                }
            }
        }
    } else if hoard {
        // 3.4 on the far side advertises nothing: a session per job over one connection.
        assert_eq!(handshakes, 1, "one handshake for every job {what}:\n{log}");
        assert_eq!(masters.len(), 1, "one connection held {what}");
        assert_eq!(sessions, CASES.len(), "a session per job {what}");
        assert_eq!(held_jobs, 0, "{what}:\n{log}");
        assert_eq!(
            log.matches("reusing the held ssh connection").count(),
            CASES.len() - 1,
            "{what}:\n{log}"
        );
        let forwards = fs::read_dir(sb.distcc_dir.join("ssh"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains('-'))
            .count();
        assert_eq!(forwards, 0, "no forward without an advertisement {what}");
    } else {
        assert_eq!(handshakes, CASES.len(), "a handshake per job {what}");
        assert!(masters.is_empty(), "nothing held without hoarding {what}");
    }
    Sshd::kill_masters_under(&sb.distcc_dir);
    let objects = [
        "out/main.o",
        "out/util.o",
        "out/more1.o",
        "out/more2.o",
        "out/more3.o",
        "out/more4.o",
    ];
    let linked = Command::new("gcc")
        .args(objects)
        .args(["-o", "out/prog"])
        .current_dir(sb.path())
        .status()
        .unwrap();
    assert!(linked.success(), "the objects link {what}");
    let run = Command::new(sb.path().join("out/prog")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello 42\n");
}

#[test]
fn a_project_over_ssh_to_distccd_3_4_inetd_matches_local_builds() {
    if !sshd::available() || !support::require(&["distccd", "gcc", "g++"]) {
        return;
    }
    let sshd = Sshd::start();
    build_project(&sshd, None, true, false);
    build_project(&sshd, None, true, true);
    build_project(&sshd, None, false, false);
}

#[test]
fn a_project_over_ssh_to_our_distccd_inetd_matches_local_builds() {
    if !sshd::available() || !support::require(&["gcc", "g++"]) {
        return;
    }
    let Some(ours) = our_distccd() else {
        return;
    };
    let sshd = Sshd::start();
    // A stalled exchange fails in 20 s rather than after the 300 s default.
    let quick = [("DISTCC_IO_TIMEOUT", "20")];
    build_project_with(&sshd, Some(&ours), true, false, &quick);
    build_project_with(&sshd, Some(&ours), true, true, &quick);
    build_project_with(&sshd, Some(&ours), false, true, &quick);
}

/// `path` exists, is not a link, and has exactly `mode` for its permission bits.
fn assert_private(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let m = fs::symlink_metadata(path).unwrap();
    assert!(!m.file_type().is_symlink(), "{}", path.display());
    assert_eq!(
        m.permissions().mode() & 0o777,
        mode,
        "mode of {}",
        path.display()
    );
}

fn compile_one(sb: &Sandbox, sshd: &Sshd, extra: &[(&str, &str)], out: &str) {
    let args = ["gcc", "-Iinclude", "-c", "src/util.c", "-o", out];
    let hosts = format!("@{GOOD}/4");
    let mut c = sb.distcc(&hosts, &args);
    c.envs(ssh_env(sshd, true)).envs(extra.iter().copied());
    let o = c.output().unwrap();
    sb.assert_ok(&o, "distcc");
}

fn stop_and_reap(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: kill(2) on a connection master this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[test]
fn a_dead_or_hung_holder_is_replaced_without_failing_the_job() {
    if !sshd::available() || !support::require(&["distccd", "gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let sb = Sandbox::new("ssh-dead");
    compile_one(&sb, &sshd, &[], "out/a.o");
    let first = Sshd::masters_under(&sb.distcc_dir);
    assert_eq!(first.len(), 1, "a holder after the first job");
    // Killed outright: its socket stays behind, refusing connections.
    stop_and_reap(&first);
    std::thread::sleep(Duration::from_millis(100));
    compile_one(&sb, &sshd, &[], "out/b.o");
    let log = sb.log_text();
    assert!(
        log.contains("replacing a dead ssh connection holder"),
        "{log}"
    );
    let second = Sshd::masters_under(&sb.distcc_dir);
    assert_eq!(second.len(), 1, "a new holder");
    assert_ne!(second, first);
    // Stopped: it accepts on its socket but never answers.
    // SAFETY: kill(2) on the master this test caused to start.
    unsafe { libc::kill(second[0], libc::SIGSTOP) };
    let t = Instant::now();
    compile_one(&sb, &sshd, &[], "out/c.o");
    let took = t.elapsed();
    stop_and_reap(&second);
    let log = sb.log_text();
    assert_eq!(
        log.matches("replacing a dead ssh connection holder")
            .count(),
        2,
        "{log}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let third: Vec<i32> = Sshd::masters_under(&sb.distcc_dir)
        .into_iter()
        .filter(|p| !second.contains(p))
        .collect();
    assert_eq!(third.len(), 1, "a third holder");
    assert!(!log.contains("locally"), "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn a_holder_refusing_sessions_is_replaced_and_every_job_still_runs_remotely() {
    if !sshd::available() || !support::require(&["distccd", "g++"]) {
        return;
    }
    // One session per connection: jobs overlapping on the held connection are refused.
    let sshd = Sshd::start_with(1);
    let sb = Sandbox::new("ssh-refuse");
    compile_one(&sb, &sshd, &[], "out/first.o");
    let hosts = format!("@{GOOD}/8");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let out = format!("out/s{i}.o");
            let args = [
                "g++",
                "-O2",
                "-Iinclude",
                "-c",
                "src/shapes.cpp",
                "-o",
                &out,
            ];
            let mut c = sb.distcc(&hosts, &args);
            c.envs(ssh_env(&sshd, true));
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "{}", sb.log_text());
    }
    let log = sb.log_text();
    assert_eq!(log.matches(&format!("on {hosts}")).count(), 4, "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
    // Whether the four overlapped on the held connection depends on timing; when they did,
    // the refused ones went through the replacement path, which is what must not fail.
    if log.contains("failed (") {
        assert!(
            log.contains("replacing it and trying again"),
            "a refused session is retried:\n{log}"
        );
    }
}

#[test]
fn the_holder_goes_away_after_its_idle_time() {
    if !sshd::available() || !support::require(&["distccd", "gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let sb = Sandbox::new("ssh-idle");
    compile_one(&sb, &sshd, &[("DISTCC_SSH_PERSIST", "2")], "out/a.o");
    assert_eq!(Sshd::masters_under(&sb.distcc_dir).len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Sshd::masters_under(&sb.distcc_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the holder outlived its idle time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let socket_dir = sb.distcc_dir.join("ssh");
    let left = fs::read_dir(&socket_dir).map_or(0, |d| d.count());
    assert_eq!(left, 0, "its socket is gone too");
}

/// Hosts for our far `distccd` (its held daemon on), and the client's environment.
fn held_setup(sshd: &Sshd) -> Option<(String, Vec<(&'static str, String)>)> {
    let ours = our_distccd()?;
    let hosts = format!("@{GOOD}/4:{}", ours.display());
    let env = vec![
        ("DISTCC_SSH", sshd.wrapper.display().to_string()),
        ("DISTCC_SSH_HOARD", "1".to_owned()),
        ("DISTCC_FALLBACK", "0".to_owned()),
        ("DISTCC_IO_TIMEOUT", "20".to_owned()),
    ];
    Some((hosts, env))
}

/// `gcc -Iinclude -c src/util.c -o out` through `hosts`, which must succeed.
fn compile_held(sb: &Sandbox, hosts: &str, env: &[(&str, String)], out: &str) {
    run_held(
        sb,
        hosts,
        env,
        &["gcc", "-Iinclude", "-c", "src/util.c", "-o", out],
    );
}

/// `distcc args` through `hosts` with the held-connection `env`, which must succeed.
fn run_held(sb: &Sandbox, hosts: &str, env: &[(&str, String)], args: &[&str]) {
    let o = sb
        .distcc(hosts, args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    sb.assert_ok(&o, "distcc");
}

/// True when `ancestor` is `pid`'s parent, grandparent, … (from /proc).
fn descends_from(mut pid: i32, ancestor: i32) -> bool {
    for _ in 0..64 {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(ppid) = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            return false;
        };
        if ppid == ancestor {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

#[test]
fn killing_the_held_daemon_between_and_during_jobs_fails_no_compile() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let Some((hosts, env)) = held_setup(&sshd) else {
        return;
    };
    let sb = Sandbox::new("ssh-held-kill");
    let compile = |out: &str| compile_held(&sb, &hosts, &env, out);
    compile("out/a.o");
    compile("out/b.o");
    let held = |log: &str| log.matches("through the held connection's forward").count();
    assert_eq!(held(&sb.log_text()), 1, "{}", sb.log_text());
    let kill_held = || {
        let pids = sshd.held_daemons();
        assert!(!pids.is_empty(), "a held daemon runs");
        for pid in &pids {
            // SAFETY: kill(2) on the held daemon this test's sessions started.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        pids
    };
    // Between jobs: the next job finds the forward's far end gone.
    let first = kill_held();
    std::thread::sleep(Duration::from_millis(100));
    compile("out/c.o");
    let log = sb.log_text();
    assert_eq!(
        log.matches("this job takes an ssh session of its own")
            .count(),
        1,
        "{log}"
    );
    // That job's own session started a new held daemon, and the next job uses it.
    compile("out/d.o");
    assert_eq!(held(&sb.log_text()), 2, "{}", sb.log_text());
    let second = sshd.held_daemons();
    assert!(
        second.iter().all(|p| !first.contains(p)),
        "a new held daemon"
    );
    // During a job: killed while its compiler runs.
    let body: String = (0..600)
        .map(|n| {
            format!(
                "int f{n}(int *a, int k) {{ int s = 0; for (int i = 0; i < k; i++) {{ s += a[i] * {n}; if (s > {n}) s ^= a[i / 2]; }} return s; }}\n"
            )
        })
        .collect();
    fs::write(sb.path().join("src/heavy.c"), body).unwrap();
    let mut child = sb
        .distcc(
            &hosts,
            &["gcc", "-O2", "-c", "src/heavy.c", "-o", "out/heavy.o"],
        )
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
        .spawn()
        .unwrap();
    let daemon = second
        .iter()
        .copied()
        .find(|p| !second.iter().any(|q| descends_from(*p, *q)))
        .expect("the held daemon among its janitor");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut killed_during = false;
    while Instant::now() < deadline {
        let compiling = sshd::processes_whose_cmdline_has("cc1")
            .into_iter()
            .any(|p| descends_from(p, daemon));
        if compiling {
            kill_held();
            killed_during = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait().unwrap();
    let log = sb.log_text();
    assert!(status.success(), "{log}");
    assert!(
        killed_during,
        "the heavy job ran on the held daemon:\n{log}"
    );
    assert_eq!(
        log.matches("this job takes an ssh session of its own")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(log.matches(&format!("on {hosts}")).count(), 5, "{log}");
    assert!(!log.contains("locally"), "{log}");
    let backoffs = fs::read_dir(sb.distcc_dir.join("lock"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("backoff"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(backoffs, 0, "the host was not backed off:\n{log}");
    // The object equals a local build's.
    let local = Command::new("gcc")
        .args(["-O2", "-c", "src/heavy.c", "-o", "out/heavy-local.o"])
        .current_dir(sb.path())
        .status()
        .unwrap();
    assert!(local.success());
    assert_eq!(
        fs::read(sb.path().join("out/heavy.o")).unwrap(),
        fs::read(sb.path().join("out/heavy-local.o")).unwrap()
    );
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn many_jobs_at_once_start_one_held_daemon() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let Some((hosts, env)) = held_setup(&sshd) else {
        return;
    };
    let sb = Sandbox::new("ssh-held-race");
    // No master, no held daemon yet: eight jobs race for both.
    let hosts8 = hosts.replace("/4", "/8");
    let children: Vec<_> = (0..8)
        .map(|i| {
            let out = format!("out/r{i}.o");
            sb.distcc(
                &hosts8,
                &["gcc", "-Iinclude", "-c", "src/util.c", "-o", &out],
            )
            .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "{}", sb.log_text());
    }
    assert_eq!(
        sshd.held_daemons().len(),
        2,
        "one held daemon (and its janitor) for all"
    );
    for i in 0..4 {
        compile_held(&sb, &hosts8, &env, &format!("out/s{i}.o"));
    }
    let log = sb.log_text();
    assert!(
        log.matches("through the held connection's forward").count() >= 4,
        "{log}"
    );
    assert!(!log.contains("locally"), "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn a_held_directory_open_to_others_or_a_link_is_never_used() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sshd = Sshd::start();
    let Some((hosts, env)) = held_setup(&sshd) else {
        return;
    };
    let held_dir = sshd.home().join(".distcc/held");
    fs::create_dir_all(&held_dir).unwrap();
    fs::set_permissions(&held_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let sb = Sandbox::new("ssh-held-open");
    let before = sshd.sessions();
    for out in ["out/a.o", "out/b.o"] {
        compile_held(&sb, &hosts, &env, out);
    }
    assert_eq!(sshd.sessions() - before, 2, "a session per job");
    assert!(sshd.held_daemons().is_empty(), "no held daemon");
    // A link to a private directory elsewhere: not followed either.
    fs::remove_dir(&held_dir).unwrap();
    let elsewhere = sshd.home().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &held_dir).unwrap();
    compile_held(&sb, &hosts, &env, "out/c.o");
    assert_eq!(sshd.sessions() - before, 3, "a session per job");
    assert!(sshd.held_daemons().is_empty(), "no held daemon");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    let log = sb.log_text();
    assert_eq!(log.matches(&format!("on {hosts}")).count(), 3, "{log}");
    assert!(!log.contains("held connection's forward"), "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn a_forward_to_the_held_daemon_does_not_keep_the_master_alive() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let Some((hosts, mut env)) = held_setup(&sshd) else {
        return;
    };
    env.push(("DISTCC_SSH_PERSIST", "2".to_owned()));
    let sb = Sandbox::new("ssh-held-idle");
    let compile = |out: &str| compile_held(&sb, &hosts, &env, out);
    compile("out/a.o");
    compile("out/b.o");
    let log = sb.log_text();
    assert_eq!(
        log.matches("through the held connection's forward").count(),
        1,
        "{log}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Sshd::masters_under(&sb.distcc_dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the holder outlived its idle time with a forward"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The next job finds the forward dead, takes a session (which holds a new connection)
    // and sets the forward up again for the one after.
    compile("out/c.o");
    compile("out/d.o");
    let log = sb.log_text();
    assert_eq!(
        log.matches("through the held connection's forward").count(),
        2,
        "{log}"
    );
    assert!(!log.contains("locally"), "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
}

#[test]
fn chunked_sources_go_through_the_held_daemon_and_match_local_builds() {
    if !sshd::available() || !support::require(&["gcc"]) {
        return;
    }
    let sshd = Sshd::start();
    let Some((hosts, env)) = held_setup(&sshd) else {
        return;
    };
    let sb = Sandbox::new("ssh-held-chunks");
    // Sources that share many system headers, each preprocessed far past the client's
    // chunking threshold.
    crate::sources::write_big_sources(sb.path());
    // The first job (1-3 through a session) learns the held daemon and that it keeps chunks.
    compile_held(&sb, &hosts, &env, "out/u.o");
    for name in ["big_a", "big_b", "big_b"] {
        let src = format!("src/{name}.c");
        let out = format!("out/{name}.o");
        run_held(&sb, &hosts, &env, &["gcc", "-O2", "-c", &src, "-o", &out]);
        let remote = fs::read(sb.path().join(&out)).unwrap();
        let st = Command::new("gcc")
            .args(["-O2", "-c", &src, "-o", "out/local.o"])
            .current_dir(sb.path())
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(
            remote,
            fs::read(sb.path().join("out/local.o")).unwrap(),
            "{name}"
        );
    }
    let log = sb.log_text();
    let sent: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("chunks: sending"))
        .collect();
    assert_eq!(sent.len(), 3, "{log}");
    // The second big_b: the held daemon had every chunk from this ssh user.
    assert!(sent[2].contains("sending 0 of"), "{log}");
    assert!(
        log.matches("through the held connection's forward").count() >= 3,
        "{log}"
    );
    assert!(!log.contains("locally"), "{log}");
    Sshd::kill_masters_under(&sb.distcc_dir);
}
