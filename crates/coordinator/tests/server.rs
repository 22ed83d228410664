//! The coordinator's port over loopback with literal bytes: registration, a lease and its
//! release, a queued request granted when a connection closes, the pages, and hostile input
//! (garbage, over-long frames, a lease released by another connection) closing only the
//! offender's connection.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use distcc_coordinator::server::{Config, Server};

struct Running {
    port: u16,
    stop: UnixStream,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Writing to the pair makes the server's shutdown descriptor readable.
        let _ = self.stop.write_all(b"x");
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn start() -> Running {
    start_with(Config::default())
}

fn start_with(cfg: Config) -> Running {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (stop, theirs) = UnixStream::pair().unwrap();
    let thread = std::thread::spawn(move || {
        let mut s = Server::new(l, cfg).unwrap();
        s.run(theirs.as_raw_fd()).unwrap();
    });
    Running {
        port,
        stop,
        thread: Some(thread),
    }
}

fn conn(r: &Running) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", r.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn frame(token: &str, body: &str) -> Vec<u8> {
    format!("{token}{:08x}{body}", body.len()).into_bytes()
}

/// Reads one frame: (token, body).
fn read_frame(s: &mut TcpStream) -> (String, String) {
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    let len = usize::from_str_radix(std::str::from_utf8(&head[4..]).unwrap(), 16).unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (
        String::from_utf8(head[..4].to_vec()).unwrap(),
        String::from_utf8(body).unwrap(),
    )
}

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

fn get(r: &Running, path: &str) -> String {
    let mut s = conn(r);
    write!(s, "GET {path} HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn register_lease_queue_and_release() {
    let r = start();
    let mut d = conn(&r);
    d.write_all(&frame(
        "HELO",
        "role=daemon\nhost=127.0.0.1:3632/1,lzo\njobs=1\n",
    ))
    .unwrap();
    assert_eq!(
        read_frame(&mut d),
        ("HELO".into(), "role=coordinator\n".into())
    );

    let mut a = conn(&r);
    a.write_all(&frame("LEAS", "size=100\nbuild=m:1\n"))
        .unwrap();
    let (t, body) = read_frame(&mut a);
    assert_eq!(t, "GRNT");
    assert!(body.starts_with("lease=") && body.contains("host=127.0.0.1:3632/1,lzo\nslot=0\n"));

    let mut b = conn(&r);
    b.write_all(&frame("LEAS", "size=100\nbuild=m:2\n"))
        .unwrap();
    assert_eq!(read_frame(&mut b), ("WAIT".into(), "ahead=0\n".into()));
    // a's connection closes: its lease goes to b at once.
    drop(a);
    assert_eq!(read_frame(&mut b).0, "GRNT");
    let j = get(&r, "/json");
    assert!(j.starts_with("HTTP/1.1 200 OK\r\n"), "{j}");
    assert!(j.contains("\"leased\":1,"), "{j}");
    assert!(get(&r, "/metrics").contains("distcc_coordinator_granted_total 2"));
    assert!(get(&r, "/nope").starts_with("HTTP/1.1 404"));
}

#[test]
fn hostile_input_closes_only_its_own_connection() {
    let r = start();
    let mut d = conn(&r);
    d.write_all(&frame("HELO", "role=daemon\nhost=:3632/2\njobs=2\n"))
        .unwrap();
    assert_eq!(read_frame(&mut d).0, "HELO");
    let mut good = conn(&r);
    good.write_all(&frame("LEAS", "size=1\n")).unwrap();
    let (_, g) = read_frame(&mut good);
    // The daemon's address was taken from its connection.
    assert!(g.contains("host=127.0.0.1:3632/2\n"), "{g}");
    let lease = g
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("lease=")
        .to_owned();

    for bad in [
        b"XXXX00000000".to_vec(),
        b"LEASffffffff".to_vec(),
        b"LEAS0000zzzz".to_vec(),
        frame("LEAS", "no equals sign\n"),
        frame("LEAS", "k=\u{1}\n"),
        frame("HELO", "role=daemon\n"), // no host=
        frame("GRNT", "lease=1\n"),     // not a client's message
    ] {
        let mut s = conn(&r);
        s.write_all(&bad).unwrap();
        assert!(closed(&mut s), "{}", String::from_utf8_lossy(&bad));
    }
    // Another connection cannot release someone else's lease.
    let mut thief = conn(&r);
    thief.write_all(&frame("HELO", "role=client\n")).unwrap();
    thief
        .write_all(&frame("FREE", &format!("lease={lease}\n")))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(get(&r, "/json").contains("\"leased\":1,"));
    // Two requests at once on one connection: refused by closing.
    let mut greedy = conn(&r);
    greedy.write_all(&frame("LEAS", "size=1\n")).unwrap();
    assert_eq!(read_frame(&mut greedy).0, "GRNT");
    greedy.write_all(&frame("LEAS", "size=1\n")).unwrap();
    assert_eq!(read_frame(&mut greedy).0, "WAIT");
    greedy.write_all(&frame("LEAS", "size=1\n")).unwrap();
    assert!(closed(&mut greedy));
    // The good client and the daemon are still served.
    good.write_all(&frame("FREE", &format!("lease={lease}\nms=5\n")))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let j = get(&r, "/json");
    assert!(
        j.contains("\"leased\":0,") && j.contains("\"released\":2,"),
        "{j}"
    );
}

/// A TLS configuration with a throw-away self-signed certificate.
fn tls_config(dir: &std::path::Path, only: bool) -> Config {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("c.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("tokens"), "farm t0k3n\n").unwrap();
    let settings = tls::server::ServerSettings {
        cert: dir.join("c.pem"),
        key: dir.join("c.key"),
        client_ca: None,
        tokens: Some(dir.join("tokens")),
    };
    Config {
        tls: Some(std::sync::Arc::new(
            tls::server::Server::new(&settings).unwrap(),
        )),
        tls_only: only,
        ..Config::default()
    }
}

#[test]
fn broken_tls_and_plain_frames_under_tls_only_never_stop_the_port() {
    let dir = std::env::temp_dir().join(format!("coord-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = start_with(tls_config(&dir, true));
    // A record header and garbage: rustls refuses, the connection closes.
    let mut s = conn(&r);
    s.write_all(b"\x16\x03\x01\x00\x05hello-garbage-garbage")
        .unwrap();
    assert!(closed(&mut s));
    // A half ClientHello, then silence and a hang-up: nothing left behind.
    let mut s = conn(&r);
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .unwrap();
    drop(s);
    // Plain frames are refused with a reason; the pages stay plain.
    let mut p = conn(&r);
    p.write_all(&frame("LEAS", "size=1\n")).unwrap();
    let (t, why) = read_frame(&mut p);
    assert_eq!(t, "NOPE");
    assert!(why.contains("TLS connections only"), "{why}");
    assert!(get(&r, "/json").starts_with("HTTP/1.1 200 OK"));
    let _ = std::fs::remove_dir_all(&dir);
}
