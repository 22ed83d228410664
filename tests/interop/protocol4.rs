//! Protocol 4 (docs/protocol-4.md) between real parts: our client and our daemon over it,
//! plain and pump (Debian's include server), every object and `.d` equal to local gcc's;
//! Debian's distccd 3.4 put at an address our client remembers as protocol 4 (the job goes
//! at once in 1-3 on the same host: no failed compile, no backoff); and our client against
//! distccd 3.4 sends, byte for byte and connection for connection, what 3.4's own client
//! sends (through a recording relay): no extra round trip, nothing 3.4 would not get.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::pump_client::{
    IncludeServer, client_env, daemon_pump_jobs, local_build, our_client, pump_compiles,
    pump_ready, run_in, small_project, take_outputs,
};
use crate::support::{Daemon, Impl, TempDir, require};

/// Makes the client in `state` remember `port` on loopback as a protocol 4 host.
fn remember_v4(state: &Path, port: u16) -> PathBuf {
    let dir = state.join("adverts");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("tcp_127.0.0.1_{port}"));
    std::fs::write(&p, "protocol=4\n").unwrap();
    p
}

fn client_log(state: &Path) -> String {
    std::fs::read_to_string(state.join("client.log")).unwrap_or_default()
}

/// Builds the small project's units through `hosts` and asserts every output equals the
/// local build's.
fn build_and_compare(
    dir: &Path,
    units: &[Vec<String>],
    local: &std::collections::BTreeMap<String, Vec<u8>>,
    env: &[(&str, String)],
    state: &Path,
) {
    for u in units {
        let out = run_in(dir, &our_client(), u, env);
        assert!(
            out.status.success(),
            "{u:?}: {out:?}\nclient log:\n{}",
            client_log(state)
        );
    }
    let built = take_outputs(dir);
    assert_eq!(built.len(), local.len(), "{:?}", built.keys());
    for (name, bytes) in local {
        assert!(
            built.get(name) == Some(bytes),
            "{name} differs from the local build"
        );
    }
}

#[test]
fn ours_to_ours_over_protocol_4_plain_and_pump_match_local_builds() {
    if !pump_ready() {
        return;
    }
    let project = small_project();
    let dir = project.path();
    let (units, local) = local_build(dir);
    let daemon = Daemon::start_with(Impl::Ours, 4, &["--log-level", "debug"]);

    // Plain: preprocessed here, zstd DOTI, the compiler fed as the source arrives.
    let state = TempDir::new("p4-plain");
    remember_v4(state.path(), daemon.port);
    let hosts = format!("127.0.0.1:{}/4", daemon.port);
    let env = client_env(&hosts, state.path(), None, false);
    build_and_compare(dir, &units, &local, &env, state.path());
    let log = daemon.log_text();
    assert_eq!(
        log.matches("protocol 4 request").count(),
        units.len(),
        "{log}"
    );
    assert!(!log.contains("protocol 1 request"), "{log}");

    // Pump: the include server's files as zstd FILE bodies, the .d back.
    let hosts = format!("127.0.0.1:{}/4,cpp,lzo", daemon.port);
    let server = IncludeServer::start(&hosts);
    let state = TempDir::new("p4-pump");
    remember_v4(state.path(), daemon.port);
    let env = client_env(&hosts, state.path(), Some(&server), false);
    build_and_compare(dir, &units, &local, &env, state.path());
    let log = daemon.log_text();
    assert_eq!(
        log.matches("protocol 4 pump request").count(),
        units.len(),
        "{log}"
    );
    assert_eq!(daemon_pump_jobs(&log), units.len(), "{log}");
    assert!(!log.contains("protocol 3"), "{log}");
    assert_eq!(pump_compiles(&client_log(state.path())), units.len());
    eprintln!(
        "protocol 4 small project: {} plain and {} pump jobs, outputs identical",
        units.len(),
        units.len()
    );
}

#[test]
fn a_3_4_daemon_at_a_host_remembered_as_protocol_4_gets_the_job_in_1_to_3_at_once() {
    if !pump_ready() {
        return;
    }
    let project = small_project();
    let dir = project.path();
    let (units, local) = local_build(dir);
    let daemon = Daemon::start(Impl::Distcc34, 4);
    for (mode, hosts) in [
        ("plain", format!("127.0.0.1:{}/4,lzo", daemon.port)),
        ("pump", format!("127.0.0.1:{}/4,cpp,lzo", daemon.port)),
    ] {
        let server = (mode == "pump").then(|| IncludeServer::start(&hosts));
        let state = TempDir::new("p4-fallback");
        let memory = remember_v4(state.path(), daemon.port);
        let env = client_env(&hosts, state.path(), server.as_ref(), false);
        // DISTCC_FALLBACK=0: a failed remote compile would fail the build.
        build_and_compare(dir, &units, &local, &env, state.path());
        let log = client_log(state.path());
        assert_eq!(
            log.matches("did not answer protocol 4").count(),
            1,
            "{mode}: forgotten once, then 1-3 from the start:\n{log}"
        );
        assert!(!memory.exists(), "{mode}: the memory is forgotten");
        let backoffs: Vec<_> = std::fs::read_dir(state.path().join("lock"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("backoff_"))
            .collect();
        assert!(backoffs.is_empty(), "{mode}: no backoff: {backoffs:?}");
        assert_eq!(
            log.matches("running locally instead").count(),
            0,
            "{mode}: {log}"
        );
        if mode == "pump" {
            assert_eq!(pump_compiles(&log), units.len(), "{log}");
        }
    }
}

/// A TCP relay on loopback that records what clients send, one entry per connection.
struct Relay {
    port: u16,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    _thread: JoinHandle<()>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let record = sent.clone();
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let back = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s2, &mut c2);
                    let _ = c2.shutdown(Shutdown::Write);
                });
                let mut bytes = Vec::new();
                let mut buf = [0u8; 65536];
                loop {
                    match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            bytes.extend_from_slice(&buf[..n]);
                            if server.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = server.shutdown(Shutdown::Write);
                let _ = back.join();
                record.lock().unwrap().push(bytes);
            }
        });
        Relay {
            port,
            sent,
            _thread: thread,
        }
    }

    /// What the clients sent so far, waiting until `n` connections have ended.
    fn take(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let mut s = self.sent.lock().unwrap();
            if s.len() >= n || std::time::Instant::now() > deadline {
                return std::mem::take(&mut *s);
            }
            drop(s);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

#[test]
fn our_client_sends_distccd_3_4_exactly_what_3_4s_client_sends() {
    if !require(&["gcc", "distcc", "distccd"]) {
        return;
    }
    let daemon = Daemon::start(Impl::Distcc34, 4);
    let relay = Relay::start(daemon.port);
    let work = TempDir::new("p4-relay");
    std::fs::write(
        work.path().join("a.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    )
    .unwrap();
    let distcc34 = crate::support::which("distcc").unwrap();
    for hosts in [
        format!("127.0.0.1:{}/2", relay.port),
        format!("127.0.0.1:{}/2,lzo", relay.port),
    ] {
        let mut requests = Vec::new();
        for (who, client) in [
            ("3.4", distcc34.clone()),
            ("ours", PathBuf::from(env!("CARGO_BIN_EXE_distcc"))),
            // Twice: a 3.4 daemon advertises nothing, so our client never learns protocol 4.
            ("ours again", PathBuf::from(env!("CARGO_BIN_EXE_distcc"))),
        ] {
            let state = TempDir::new("p4-relay-state");
            let out = Command::new(&client)
                .args(["gcc", "-O2", "-c", "a.c", "-o", "a.o"])
                .current_dir(work.path())
                .env("DISTCC_HOSTS", &hosts)
                .env("DISTCC_DIR", state.path())
                .env("DISTCC_FALLBACK", "0")
                .env_remove("DISTCC_LOG")
                .output()
                .unwrap();
            assert!(out.status.success(), "{who}: {out:?}");
            let mut sent = relay.take(1);
            assert_eq!(sent.len(), 1, "{who}: one connection per compile");
            requests.push((who, sent.remove(0)));
            if who != "3.4" {
                let adverts = state.path().join("adverts");
                assert!(
                    std::fs::read_dir(&adverts).map_or(true, |mut d| d.next().is_none()),
                    "{who}: learned something from a 3.4 daemon"
                );
            }
        }
        let (_, reference) = &requests[0];
        assert!(reference.starts_with(b"DIST0000000"), "{reference:?}");
        for (who, bytes) in &requests[1..] {
            assert!(
                bytes == reference,
                "{who} sent {} bytes, 3.4's client {} ({hosts}); first difference at {:?}",
                bytes.len(),
                reference.len(),
                bytes.iter().zip(reference).position(|(a, b)| a != b)
            );
        }
    }
}
