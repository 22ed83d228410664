//! The farm coordinator (issue 15) with real processes on loopback: `distcc-coordinator`, our
//! `distccd --coordinator` daemons (some with a `gcc` that sleeps first, so a build is still
//! running when a test kills something) and our client with `DISTCC_COORDINATOR`. Every build
//! runs with `DISTCC_FALLBACK=0`, so a job that was not compiled remotely fails the test, and
//! every object is compared with a local compile's.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{
    DEFAULT_COMPILER_NAMES, OurDaemon, TempDir, free_port, require, wait_listening,
};
use crate::client::client_support::Sandbox;
use crate::http::json_number;

/// `distcc-coordinator` on a free loopback port below 32768, killed on drop.
struct Coordinator {
    port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Coordinator {
    fn start() -> Coordinator {
        Coordinator::start_on(free_port())
    }

    fn start_on(port: u16) -> Coordinator {
        Coordinator::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> Coordinator {
        let dir = TempDir::new("coordinator");
        let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_distcc-coordinator"))
            .args(["--listen", "127.0.0.1", "--port", &port.to_string(), "-v"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("starting distcc-coordinator");
        let mut c = Coordinator {
            port,
            child: Some(child),
            dir,
        };
        let stderr = c.dir.path().join("stderr");
        wait_listening(
            c.child.as_mut().unwrap(),
            port,
            "the coordinator",
            Some(&stderr),
        );
        c
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("reading the page");
        assert!(out.starts_with("HTTP/1.1 200"), "{path}: {out}");
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }

    /// Polls `/json` until `ok` says yes (20 s at most); returns that page.
    fn wait_json(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let j = self.get("/json");
            if ok(&j) {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "never {what}: {j}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A directory holding `gcc` and `x86_64-linux-gnu-gcc` wrappers that sleep `secs` and then
/// run the real gcc: put first on a daemon's PATH, its jobs take a while.
fn slow_gcc(secs: f64) -> TempDir {
    let dir = TempDir::new("slow-gcc");
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\nsleep {secs}\nexec /usr/bin/gcc \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// Our daemon registered with `coord`, `jobs` slots, optionally with slow compilers.
fn daemon(coord: &Coordinator, jobs: u32, slow: Option<&Path>) -> OurDaemon {
    let j = jobs.to_string();
    let extra = ["--coordinator", &coord.addr(), "--jobs", &j];
    match slow {
        Some(bin) => OurDaemon::start_with_compilers(&extra, bin, &[]),
        None => OurDaemon::start(&extra),
    }
}

fn wait_hosts(coord: &Coordinator, n: usize) {
    coord.wait_json(&format!("{n} hosts registered"), |j| {
        j.matches("\"spec\":").count() == n
    });
}

/// Starts `distcc gcc -c -Iinclude src/util.c -o out/<name>.o` in `sb`, with `env`.
fn spawn_compile(sb: &Sandbox, hosts: &str, env: &[(&str, &str)], name: &str) -> Child {
    let out = format!("out/{name}.o");
    let mut c = sb.distcc(hosts, &["gcc", "-c", "-Iinclude", "src/util.c", "-o", &out]);
    c.envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().expect("starting distcc")
}

/// `n` compiles started at once as `spawn_compile` does, named `<prefix>0`, `<prefix>1`, ….
fn spawn_compiles(
    sb: &Sandbox,
    hosts: &str,
    env: &[(&str, &str)],
    prefix: &str,
    n: usize,
) -> Vec<(String, Child)> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}{i}");
            let c = spawn_compile(sb, hosts, env, &name);
            (name, c)
        })
        .collect()
}

/// Jobs a daemon's log says it compiled successfully.
fn jobs_done(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(" job ") && l.contains(" exit 0 "))
        .count()
}

/// Waits until `daemons` logged `n` successful jobs in all (a daemon logs a job after sending
/// its reply, so the client may be done first); returns their logs.
fn wait_jobs(daemons: &[&OurDaemon], n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs: String = daemons.iter().map(|d| d.log_text()).collect();
        if jobs_done(&logs) >= n || Instant::now() > deadline {
            return logs;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn local_object(sb: &Sandbox) -> Vec<u8> {
    let st = Command::new("gcc")
        .args(["-c", "-Iinclude", "src/util.c", "-o", "out/local.o"])
        .current_dir(sb.path())
        .status()
        .unwrap();
    assert!(st.success());
    sb.read("out/local.o")
}

fn finish_all(sb: &Sandbox, children: Vec<(String, Child)>) {
    let local = local_object(sb);
    for (name, c) in children {
        let out = c.wait_with_output().unwrap();
        sb.assert_ok(&out, format_args!("{name}"));
        assert!(
            sb.read(&format!("out/{name}.o")) == local,
            "{name}.o differs from a local compile"
        );
    }
}

#[test]
fn a_build_through_the_coordinator_equals_a_local_build() {
    if !require(&["gcc", "g++"]) {
        return;
    }
    let coord = Coordinator::start();
    let a = daemon(&coord, 2, None);
    let b = daemon(&coord, 2, None);
    wait_hosts(&coord, 2);
    let sb = Sandbox::new("coord-build");
    let env = [
        ("DISTCC_COORDINATOR", coord.addr()),
        ("DISTCC_FALLBACK", "0".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No host list at all: the farm is the coordinator's.
    for (cmd, out) in [
        (
            vec!["gcc", "-c", "-Iinclude", "src/util.c", "-o", "out/util.o"],
            "out/util.o",
        ),
        (
            vec!["gcc", "-c", "-Iinclude", "src/main.c", "-o", "out/main.o"],
            "out/main.o",
        ),
        (
            vec![
                "g++",
                "-c",
                "-Iinclude",
                "src/shapes.cpp",
                "-o",
                "out/shapes.o",
            ],
            "out/shapes.o",
        ),
    ] {
        sb.same_as_local("", &env, &cmd, &[out]);
    }
    let log = sb.log_text();
    assert_eq!(log.matches("from the coordinator").count(), 3, "{log}");
    let daemon_logs = wait_jobs(&[&a, &b], 3);
    assert_eq!(jobs_done(&daemon_logs), 3, "{daemon_logs}");
    let j = coord.wait_json("every lease released", |j| json_number(j, "released") == 3);
    assert_eq!(
        (json_number(&j, "granted"), json_number(&j, "leased")),
        (3, 0),
        "{j}"
    );
    assert!(j.contains("\"ms_per_kb\":"), "{j}");
    let m = coord.get("/metrics");
    assert!(m.contains("distcc_coordinator_granted_total 3"), "{m}");
    assert!(m.contains("distcc_coordinator_hosts 2"), "{m}");
    assert!(coord.get("/dashboard").contains("distcc coordinator"));
    // distcc-farm shows the coordinator's view, with no host list needed.
    let farm = Command::new(env!("CARGO_BIN_EXE_distcc-farm"))
        .env("DISTCC_COORDINATOR", coord.addr())
        .env("DISTCC_HOSTS", "")
        .env("DISTCC_DIR", &sb.distcc_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&farm.stdout);
    assert!(farm.status.success(), "{text}");
    assert!(
        text.starts_with(&format!(
            "coordinator {}: 2 hosts, 4 slots, 0 leased",
            coord.addr()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("host 127.0.0.1:{}/2,lzo", a.port)),
        "{text}"
    );
    assert!(text.contains("ms/KB"), "{text}");
}

#[test]
fn a_coordinator_killed_mid_build_leaves_the_build_to_finish_by_the_host_list() {
    if !require(&["gcc"]) {
        return;
    }
    let slow = slow_gcc(1.0);
    let mut coord = Coordinator::start();
    let a = daemon(&coord, 2, Some(slow.path()));
    let b = daemon(&coord, 2, Some(slow.path()));
    wait_hosts(&coord, 2);
    let sb = Sandbox::new("coord-kill");
    let hosts = format!("127.0.0.1:{}/2 127.0.0.1:{}/2", a.port, b.port);
    let addr = coord.addr();
    let env = [
        ("DISTCC_COORDINATOR", addr.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    let children = spawn_compiles(&sb, &hosts, &env, "k", 8);
    // Four leased, the rest queued at the coordinator: then it dies.
    coord.wait_json("a queue", |j| {
        json_number(j, "leased") == 4 && json_number(j, "waiting") >= 1
    });
    coord.kill9();
    finish_all(&sb, children);
    let log = sb.log_text();
    assert!(log.contains("from the coordinator"), "{log}");
    assert!(log.contains("not using the coordinator"), "{log}");
    assert!(log.contains("scheduling by the host list"), "{log}");
}

#[test]
fn a_daemon_killed_mid_build_frees_its_leases_and_its_jobs_go_elsewhere() {
    if !require(&["gcc"]) {
        return;
    }
    let slow = slow_gcc(2.0);
    let coord = Coordinator::start();
    let a = daemon(&coord, 2, Some(slow.path()));
    let b = daemon(&coord, 2, Some(slow.path()));
    wait_hosts(&coord, 2);
    let sb = Sandbox::new("coord-daemon-kill");
    let addr = coord.addr();
    let env = [
        ("DISTCC_COORDINATOR", addr.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    let children = spawn_compiles(&sb, "", &env, "d", 4);
    let a_spec = format!("\"host\":\"127.0.0.1:{}/", a.port);
    coord.wait_json("leases on both daemons", |j| {
        json_number(j, "leased") == 4 && j.contains(&a_spec)
    });
    a.signal(libc::SIGKILL);
    let j = coord.wait_json("the killed daemon gone", |j| {
        j.matches("\"spec\":").count() == 1
    });
    assert!(j.contains("left; "), "{j}");
    finish_all(&sb, children);
    let log = sb.log_text();
    assert!(
        log.contains(&format!(
            "failed to distribute src/util.c to 127.0.0.1:{}/",
            a.port
        )),
        "{log}"
    );
    let logs = wait_jobs(&[&b], 4);
    assert_eq!(jobs_done(&logs), 4, "{logs}");
    let j = coord.wait_json("every lease released", |j| json_number(j, "leased") == 0);
    assert!(!j.contains(&a_spec), "{j}");
}

#[test]
fn a_client_killed_while_holding_a_lease_frees_its_slot_at_once() {
    if !require(&["gcc"]) {
        return;
    }
    let slow = slow_gcc(30.0);
    let coord = Coordinator::start();
    let _d = daemon(&coord, 1, Some(slow.path()));
    wait_hosts(&coord, 1);
    let sb = Sandbox::new("coord-client-kill");
    let addr = coord.addr();
    let env = [
        ("DISTCC_COORDINATOR", addr.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    let mut c = spawn_compile(&sb, "", &env, "gone");
    coord.wait_json("the lease", |j| json_number(j, "leased") == 1);
    c.kill().unwrap();
    c.wait().unwrap();
    let j = coord.wait_json("the lease freed", |j| json_number(j, "leased") == 0);
    assert_eq!(json_number(&j, "released"), 1, "{j}");
    // The slot is free for the next client: a raw request is granted.
    let mut s = TcpStream::connect(("127.0.0.1", coord.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"LEAS00000007size=1\n").unwrap();
    let mut got = Vec::new();
    loop {
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).expect("an answer from the coordinator");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"GRNT") {
            break;
        }
    }
}

#[test]
fn a_daemon_withdraws_while_its_file_exists_and_registers_again_after_a_restart() {
    if !require(&["gcc"]) {
        return;
    }
    let coord = Coordinator::start();
    let switch = TempDir::new("coord-withdraw");
    let file = switch.path().join("busy-desktop");
    let f = file.to_str().unwrap();
    let mut d = OurDaemon::start(&[
        "--coordinator",
        &coord.addr(),
        "--jobs",
        "3",
        "--coordinator-withdraw-file",
        f,
    ]);
    wait_hosts(&coord, 1);
    assert_eq!(json_number(&coord.get("/json"), "slots"), 3);
    std::fs::write(&file, b"").unwrap();
    let j = coord.wait_json("the daemon withdrawn", |j| json_number(j, "slots") == 0);
    assert!(j.contains("offers 0 of 3 slots: withdrawn while"), "{j}");
    // A request now waits (the farm has a host, but no slot).
    let mut s = TcpStream::connect(("127.0.0.1", coord.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"LEAS00000007size=1\n").unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"WAIT"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    std::fs::remove_file(&file).unwrap();
    coord.wait_json("the slots offered again", |j| {
        json_number(j, "slots") == 3 && json_number(j, "leased") == 1
    });
    drop(s);
    // Restarted (SIGTERM, then a new daemon on another port): the old entry leaves, the new
    // one registers by itself.
    d.terminate();
    coord.wait_json("the daemon gone", |j| j.matches("\"spec\":").count() == 0);
    let d2 = daemon(&coord, 2, None);
    let j = coord.wait_json("the new daemon", |j| j.matches("\"spec\":").count() == 1);
    assert!(j.contains(&format!("127.0.0.1:{}/2,lzo", d2.port)), "{j}");
}

#[test]
fn a_daemon_started_before_its_coordinator_registers_when_it_comes() {
    if !require(&["gcc"]) {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _d = OurDaemon::start(&["--coordinator", &addr, "--jobs", "2"]);
    std::thread::sleep(Duration::from_millis(300));
    let coord = Coordinator::start_on(port);
    wait_hosts(&coord, 1);
}

#[test]
fn over_tls_with_tokens_daemons_register_and_clients_lease_and_strangers_are_refused() {
    if !require(&["gcc"]) {
        return;
    }
    let pki = TempDir::new("coord-tls");
    let [ca, cert, key] = {
        let (ca, cert, key) = crate::pki::loopback_files(pki.path(), "coord");
        [ca, cert, key].map(|p| p.to_str().unwrap().to_owned())
    };
    let tokens = pki.path().join("tokens");
    std::fs::write(&tokens, "farm tok-farm-0123\nbuilder tok-builder-4567\n").unwrap();
    let coord = Coordinator::start_with(
        free_port(),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-tokens",
            tokens.to_str().unwrap(),
            "--tls-only",
        ],
    );
    let target = format!("{},tls", coord.addr());
    let ca_os = std::ffi::OsString::from(&ca);
    let farm_token = std::ffi::OsString::from("tok-farm-0123");
    let d = OurDaemon::start_env(
        None,
        "127.0.0.1",
        &["127.0.0.1/32"],
        None,
        &["--coordinator", &target, "--jobs", "2"],
        &[
            ("DISTCC_TLS_CA", ca_os.as_os_str()),
            ("DISTCC_TLS_TOKEN", farm_token.as_os_str()),
        ],
    );
    wait_hosts(&coord, 1);
    assert!(d.log_text().contains("over TLS"), "{}", d.log_text());
    let sb = Sandbox::new("coord-tls");
    let env = [
        ("DISTCC_COORDINATOR", target.as_str()),
        ("DISTCC_TLS_CA", ca.as_str()),
        ("DISTCC_TLS_TOKEN", "tok-builder-4567"),
        ("DISTCC_FALLBACK", "0"),
    ];
    let cmd = ["gcc", "-c", "-Iinclude", "src/util.c", "-o", "out/util.o"];
    sb.same_as_local("", &env, &cmd, &["out/util.o"]);
    assert!(
        sb.log_text().contains("from the coordinator"),
        "{}",
        sb.log_text()
    );
    // A wrong token, and a plain connection: refused with a reason; the compile uses the
    // host list instead.
    let hosts = format!("127.0.0.1:{}/2", d.port);
    let bad = [
        ("DISTCC_COORDINATOR", target.as_str()),
        ("DISTCC_TLS_CA", ca.as_str()),
        ("DISTCC_TLS_TOKEN", "tok-wrong"),
        ("DISTCC_FALLBACK", "0"),
    ];
    sb.same_as_local(&hosts, &bad, &cmd, &["out/util.o"]);
    let log = sb.log_text();
    assert!(log.contains("token is not accepted"), "{log}");
    let addr = coord.addr();
    let plain = [
        ("DISTCC_COORDINATOR", addr.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    sb.same_as_local(&hosts, &plain, &cmd, &["out/util.o"]);
    let log = sb.log_text();
    assert!(log.contains("takes TLS connections only"), "{log}");
    let j = coord.get("/json");
    assert_eq!(json_number(&j, "granted"), 1, "{j}");
}

#[test]
fn two_coordinators_for_one_farm_the_second_takes_over_when_the_first_dies() {
    if !require(&["gcc"]) {
        return;
    }
    let mut first = Coordinator::start();
    let second = Coordinator::start();
    // The daemon registers with both.
    let d = OurDaemon::start(&[
        "--coordinator",
        &first.addr(),
        "--coordinator",
        &second.addr(),
        "--jobs",
        "2",
    ]);
    wait_hosts(&first, 1);
    wait_hosts(&second, 1);
    let sb = Sandbox::new("coord-two");
    let list = format!("{},{}", first.addr(), second.addr());
    let env = [
        ("DISTCC_COORDINATOR", list.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    let cmd = ["gcc", "-c", "-Iinclude", "src/util.c", "-o", "out/util.o"];
    // Clients use the first while it answers.
    sb.same_as_local("", &env, &cmd, &["out/util.o"]);
    first.wait_json("a lease released by the first", |j| {
        json_number(j, "released") == 1
    });
    assert_eq!(json_number(&second.get("/json"), "granted"), 0);
    // The first dies: the next compile is leased by the second, with no host list at all.
    first.kill9();
    sb.same_as_local("", &env, &cmd, &["out/util.o"]);
    let j = second.wait_json("a lease released by the second", |j| {
        json_number(j, "released") == 1
    });
    assert_eq!(json_number(&j, "granted"), 1, "{j}");
    assert_eq!(jobs_done(&wait_jobs(&[&d], 2)), 2);
}

/// The leases `log` (a client's) says it got, as the daemons' ports.
fn leased_ports(log: &str) -> Vec<u16> {
    log.lines()
        .filter_map(|l| l.split(" from the coordinator: 127.0.0.1:").nth(1))
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect()
}

#[test]
fn a_daemon_whose_gcc_is_another_compiler_never_gets_the_job() {
    if !require(&["gcc", "gcc-11", "gcc-12"]) {
        return;
    }
    let coord = Coordinator::start();
    // The first daemon's every compiler name is gcc-11 (the client's gcc is gcc-12), and it
    // has the most free slots: without identities the coordinator would choose it.
    let sb = Sandbox::new("coord-ccid");
    let bin = sb.path().join("host-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in DEFAULT_COMPILER_NAMES {
        std::os::unix::fs::symlink("/usr/bin/gcc-11", bin.join(name)).unwrap();
    }
    let addr = coord.addr();
    let old = OurDaemon::start_with_compilers(
        &[
            "--sandbox-path",
            bin.to_str().unwrap(),
            "--coordinator",
            &addr,
            "--jobs",
            "4",
        ],
        &bin,
        &[],
    );
    let new = daemon(&coord, 1, None);
    // Both registered, and both listed their compilers (probed after registering).
    let j = coord.wait_json("2 hosts with their compilers", |j| {
        j.matches("\"spec\":").count() == 2 && !j.contains("\"ccids\":0,")
    });
    assert!(j.contains("\"ccids\":"), "{j}");
    let env = [
        ("DISTCC_COORDINATOR", addr.as_str()),
        ("DISTCC_FALLBACK", "0"),
    ];
    for i in 0..4 {
        let out = format!("out/u{i}.o");
        sb.same_as_local(
            "",
            &env,
            &["gcc", "-c", "-Iinclude", "src/util.c", "-o", &out],
            &[&out],
        );
    }
    let log = sb.log_text();
    assert_eq!(leased_ports(&log), vec![new.port; 4], "{log}");
    let logs = wait_jobs(&[&new], 4);
    assert_eq!(jobs_done(&logs), 4, "{logs}");
    assert_eq!(jobs_done(&old.log_text()), 0, "{}", old.log_text());
}

#[test]
fn a_coordinator_named_only_in_the_host_list_leases_the_farm() {
    if !require(&["gcc"]) {
        return;
    }
    let coord = Coordinator::start();
    let d = daemon(&coord, 2, None);
    wait_hosts(&coord, 1);
    let sb = Sandbox::new("coord-hostlist");
    // No DISTCC_COORDINATOR (the sandbox sets none): only `coord://` in DISTCC_HOSTS.
    let hosts = format!("coord://{} # the farm", coord.addr());
    for out in ["out/a.o", "out/b.o"] {
        sb.same_as_local(
            &hosts,
            &[("DISTCC_FALLBACK", "0")],
            &["gcc", "-c", "-Iinclude", "src/util.c", "-o", out],
            &[out],
        );
    }
    let log = sb.log_text();
    assert_eq!(leased_ports(&log), vec![d.port; 2], "{log}");
    let j = coord.wait_json("both leases released", |j| json_number(j, "released") == 2);
    assert_eq!(json_number(&j, "granted"), 2, "{j}");
    // distcc-farm finds it there too.
    let farm = Command::new(env!("CARGO_BIN_EXE_distcc-farm"))
        .env_remove("DISTCC_COORDINATOR")
        .env("DISTCC_HOSTS", &hosts)
        .env("DISTCC_DIR", &sb.distcc_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&farm.stdout);
    assert!(farm.status.success(), "{text}");
    assert!(
        text.starts_with(&format!("coordinator {}: 1 hosts", coord.addr())),
        "{text}"
    );
    // And from a hosts file, beside a host entry (the fallback list).
    std::fs::write(
        sb.distcc_dir.join("hosts"),
        format!("127.0.0.1:1/1\ncoord://{}\n", coord.addr()),
    )
    .unwrap();
    let mut c = sb.distcc(
        "",
        &["gcc", "-c", "-Iinclude", "src/util.c", "-o", "out/c.o"],
    );
    c.env_remove("DISTCC_HOSTS").env("DISTCC_FALLBACK", "0");
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(sb.read("out/c.o"), local_object(&sb));
    coord.wait_json("the third lease released", |j| {
        json_number(j, "released") == 3
    });
}
