//! The farm coordinator with distcc 3.4's client (issue 15): 3.4 knows nothing of it and talks
//! to our daemon directly, and our daemon reports that job as a busy slot, so the coordinator
//! does not lease the slot to anyone else until the 3.4 job is done. The object 3.4's client
//! brings back equals a local compile's. Under `CI=true` a missing distcc 3.4 fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Daemon, Impl, TempDir, free_port};

struct Coordinator {
    port: u16,
    child: std::process::Child,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /json HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait_json(port: u16, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = json(port);
        if ok(&j) {
            return j;
        }
        assert!(Instant::now() < deadline, "never {what}: {j}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_34_clients_job_counts_as_a_busy_slot_at_the_coordinator() {
    if !support::require(&["distcc", "gcc"]) {
        return;
    }
    let port = free_port();
    let mut coord = Coordinator {
        port,
        child: Command::new(env!("CARGO_BIN_EXE_distcc-coordinator"))
            .args(["--listen", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let addr = format!("127.0.0.1:{port}");
    support::wait_listening(&mut coord.child, port, "the coordinator", None);
    let d = Daemon::start_with(Impl::Ours, 1, &["--coordinator", &addr]);
    wait_json(coord.port, "the daemon registered", |j| {
        j.contains("\"spec\":")
    });

    // A source that keeps cc1 busy for a while at -O2.
    let dir = TempDir::new("coord34");
    let mut src = String::new();
    for i in 0..400 {
        src.push_str(&format!(
            "int f{i}(int *a, int n) {{ int s = 0; for (int i = 0; i < n; i++) {{ s += a[i] * {i} ^ (s >> 3); if (s > {i}) s -= a[(i * {i}) % n]; }} return s; }}\n"
        ));
    }
    std::fs::write(dir.path().join("heavy.c"), src).unwrap();
    // 3.4 needs its DISTCC_DIR to exist.
    let ddir = dir.path().join("dd");
    std::fs::create_dir(&ddir).unwrap();
    let c34 = Command::new(support::which("distcc").unwrap())
        .args(["gcc", "-O2", "-c", "heavy.c", "-o", "remote.o"])
        .current_dir(dir.path())
        .env("DISTCC_HOSTS", d.host(false, 1))
        .env("DISTCC_DIR", &ddir)
        .env("DISTCC_FALLBACK", "0")
        .env_remove("DISTCC_COORDINATOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Our daemon reports the 3.4 job as busy: the coordinator has no free slot.
    let j = wait_json(coord.port, "the 3.4 job reported busy", |j| {
        j.contains("\"busy\":1,") && j.contains("\"free\":0,")
    });
    assert!(j.contains("\"leased\":0,"), "{j}");
    // A lease request waits for it.
    let mut s = TcpStream::connect(("127.0.0.1", coord.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(b"LEAS00000007size=1\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    got.extend_from_slice(&buf[..n]);
    assert!(
        got.starts_with(b"WAIT"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let out = c34.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Once it ends, the slot is leased.
    while !got.windows(4).any(|w| w == b"GRNT") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(d.log_text().contains("exit 0"), "{}", d.log_text());
    let local = Command::new("gcc")
        .args(["-O2", "-c", "heavy.c", "-o", "local.o"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(local.success());
    assert!(
        std::fs::read(dir.path().join("remote.o")).unwrap()
            == std::fs::read(dir.path().join("local.o")).unwrap(),
        "3.4's object differs from a local compile"
    );
}
