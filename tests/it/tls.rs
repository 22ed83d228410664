//! TLS between our client and our daemon, with certificates made here (rcgen, ECDSA P-256):
//! builds over TLS equal local ones (CA file and pin; client certificate and token), each
//! bad credential is a clear message and a local compile (never a crash, never plain text),
//! and a packet capture of a TLS build holds nothing of the source.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::client::client_support::Sandbox;
use super::support::{OurDaemon, TempDir, require};
use crate::pki::{Ca, ca};

/// Certificate and key files for `names` (see `pki::leaf`), signed by `ca`, optionally long
/// expired.
fn leaf(dir: &Path, file: &str, ca: &Ca, names: &[&str], expired: bool) -> (PathBuf, PathBuf) {
    let (cert, key) = crate::pki::leaf(ca, names, expired);
    let (c, k) = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}.key")),
    );
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    (c, k)
}

/// The certificates of one test: a server CA and its server certificate for 127.0.0.1, a
/// client CA with a client "bob", a tokens file naming "alice".
struct Pki {
    dir: TempDir,
    server_ca: PathBuf,
    server: (PathBuf, PathBuf),
    client_ca: PathBuf,
    bob: (PathBuf, PathBuf),
    tokens: PathBuf,
    client_issuer: Ca,
    server_issuer: Ca,
}

fn pki() -> Pki {
    let dir = TempDir::new("tls-pki");
    let d = dir.path().to_owned();
    let server_issuer = ca("distcc test server ca");
    let client_issuer = ca("distcc test client ca");
    let server_ca = d.join("server-ca.pem");
    std::fs::write(&server_ca, &server_issuer.pem).unwrap();
    let client_ca = d.join("client-ca.pem");
    std::fs::write(&client_ca, &client_issuer.pem).unwrap();
    let server = leaf(
        &d,
        "server",
        &server_issuer,
        &["127.0.0.1", "localhost"],
        false,
    );
    let bob = leaf(&d, "bob", &client_issuer, &["bob"], false);
    let tokens = d.join("tokens");
    std::fs::write(&tokens, "# who may compile\nalice s3cret-alice\n").unwrap();
    Pki {
        dir,
        server_ca,
        server,
        client_ca,
        bob,
        tokens,
        client_issuer,
        server_issuer,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Our daemon with TLS: client certificates from the client CA or tokens, `--tls-only`.
fn tls_daemon(pki: &Pki, cert: &(PathBuf, PathBuf), extra: &[&str]) -> OurDaemon {
    let mut args = vec![
        "--tls-cert",
        s(&cert.0),
        "--tls-key",
        s(&cert.1),
        "--tls-client-ca",
        s(&pki.client_ca),
        "--tls-tokens",
        s(&pki.tokens),
        "--tls-only",
    ];
    args.extend_from_slice(extra);
    OurDaemon::start(&args)
}

/// The SHA-256 of the first certificate of a PEM file, as DISTCC_TLS_PIN takes it (hex).
fn pin_of(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", s(pem)])
        .output()
        .expect("running openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.trim().rsplit('=').next().unwrap().replace(':', "");
    assert_eq!(hex.len(), 64, "{text}");
    hex
}

const CMD: &[&str] = &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/util.o"];

#[test]
fn tls_builds_equal_local_builds_by_certificate_and_by_token() {
    if !require(&["gcc", "openssl"]) {
        return;
    }
    let pki = pki();
    let d = tls_daemon(&pki, &pki.server, &["--tls-allow", "bob,alice"]);
    let sb = Sandbox::new("tls-ok");
    let hosts = format!("127.0.0.1:{},tls", d.port);
    // A CA file and a client certificate.
    sb.same_as_local(
        &hosts,
        &[
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_TLS_CA", s(&pki.server_ca)),
            ("DISTCC_TLS_CERT", s(&pki.bob.0)),
            ("DISTCC_TLS_KEY", s(&pki.bob.1)),
        ],
        CMD,
        &["out/util.o"],
    );
    d.wait_log("(bob) x86_64-linux-gnu-gcc src/util.c exit 0");
    // A pin (the host named by another name than the certificate's: the pin is the trust)
    // and a token from a file; C++ too.
    let token_file = pki.dir.path().join("alice.token");
    std::fs::write(&token_file, "s3cret-alice\n").unwrap();
    let pin = pin_of(&pki.server.0);
    sb.same_as_local(
        &format!("localhost:{},lzo,tls", d.port),
        &[
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_TLS_PIN", &pin),
            ("DISTCC_TLS_TOKEN_FILE", s(&token_file)),
        ],
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
    );
    d.wait_log("(alice) x86_64-linux-gnu-g++ src/shapes.cpp exit 0");
    let log = sb.log_text();
    assert!(!log.contains("failed to distribute"), "{log}");
    // A `,tls` host is ours: protocol 4 from the first job, without a probe.
    assert!(log.contains("speaking protocol 4 to 127.0.0.1:"), "{log}");
}

/// Runs CMD through distcc with `env` (fallback on): it must succeed with the local
/// compiler's object, and the client's log must hold `why`.
fn falls_back(sb: &Sandbox, hosts: &str, env: &[(&str, &str)], why: &str) {
    let _ = std::fs::remove_file(&sb.log);
    let mut c = sb.distcc(hosts, CMD);
    c.env("DISTCC_BACKOFF_PERIOD", "0")
        .envs(env.iter().copied());
    let out = c.output().unwrap();
    let log = sb.log_text();
    assert!(out.status.success(), "{why}: {out:?}\n{log}");
    assert!(sb.path().join("out/util.o").exists());
    assert!(log.contains(why), "the log does not say {why:?}:\n{log}");
    assert!(
        log.contains("compiling src/util.c locally")
            || log.contains("running locally")
            || log.contains("locally"),
        "{log}"
    );
}

#[test]
fn bad_credentials_are_clear_errors_and_local_compiles() {
    if !require(&["gcc", "distccd"]) {
        return;
    }
    let pki = pki();
    let d = tls_daemon(&pki, &pki.server, &[]);
    let sb = Sandbox::new("tls-bad");
    let hosts = format!("127.0.0.1:{},tls", d.port);
    let ca = s(&pki.server_ca);
    let dir = pki.dir.path();

    // The server checked against another CA.
    let stranger = ca_file(dir, "stranger-ca");
    falls_back(
        &sb,
        &hosts,
        &[
            ("DISTCC_TLS_CA", s(&stranger)),
            ("DISTCC_TLS_TOKEN", "s3cret-alice"),
        ],
        "is not issued by a CA in DISTCC_TLS_CA",
    );
    // A wrong pin.
    falls_back(
        &sb,
        &hosts,
        &[
            ("DISTCC_TLS_PIN", &"ab".repeat(32)),
            ("DISTCC_TLS_TOKEN", "s3cret-alice"),
        ],
        "not DISTCC_TLS_PIN",
    );
    // A client certificate from another CA, and an expired one from the right CA.
    let other = self::ca("another client ca");
    let eve = leaf(dir, "eve", &other, &["eve"], false);
    falls_back(
        &sb,
        &hosts,
        &[
            ("DISTCC_TLS_CA", ca),
            ("DISTCC_TLS_CERT", s(&eve.0)),
            ("DISTCC_TLS_KEY", s(&eve.1)),
        ],
        "refused this client's certificate",
    );
    assert!(
        sb.log_text().contains("answered 400: TLS:"),
        "{}",
        sb.log_text()
    );
    let old = leaf(dir, "old", &pki.client_issuer, &["old"], true);
    falls_back(
        &sb,
        &hosts,
        &[
            ("DISTCC_TLS_CA", ca),
            ("DISTCC_TLS_CERT", s(&old.0)),
            ("DISTCC_TLS_KEY", s(&old.1)),
        ],
        "DISTCC_TLS_CERT has expired",
    );
    // A bad token, and no credentials at all.
    falls_back(
        &sb,
        &hosts,
        &[("DISTCC_TLS_CA", ca), ("DISTCC_TLS_TOKEN", "guessed")],
        "token is not accepted",
    );
    // Protocol 4's class for credentials: 401, no backoff (the client's to fix).
    let log = sb.log_text();
    assert!(log.contains("answered 401"), "{log}");
    assert!(!log.contains("failed to distribute src/util.c to"), "{log}");
    falls_back(
        &sb,
        &hosts,
        &[("DISTCC_TLS_CA", ca)],
        "requires a client certificate",
    );
    // A plain client to the --tls-only daemon.
    falls_back(
        &sb,
        &format!("127.0.0.1:{}", d.port),
        &[],
        "accepts only TLS connections (--tls-only)",
    );
    // No way to check the server: the client says what to set.
    falls_back(&sb, &hosts, &[], "needs DISTCC_TLS_CA");
    // The daemon's certificate has expired.
    let expired = leaf(
        dir,
        "expired-server",
        &pki.server_issuer,
        &["127.0.0.1"],
        true,
    );
    let d2 = tls_daemon(&pki, &expired, &[]);
    falls_back(
        &sb,
        &format!("127.0.0.1:{},tls", d2.port),
        &[("DISTCC_TLS_CA", ca), ("DISTCC_TLS_TOKEN", "s3cret-alice")],
        "has expired",
    );
    // A TLS client to distcc 3.4's daemon: no plain retry, a local compile.
    let d34 = Distccd34::start(sb.path());
    falls_back(
        &sb,
        &format!("127.0.0.1:{},tls", d34.port),
        &[("DISTCC_TLS_CA", ca)],
        "does not speak TLS on this port",
    );
    // Nothing crashed: the daemon still serves a good client.
    sb.same_as_local(
        &hosts,
        &[
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_TLS_CA", ca),
            ("DISTCC_TLS_TOKEN", "s3cret-alice"),
        ],
        CMD,
        &["out/util.o"],
    );
    let log = d.log_text();
    for said in [
        "not issued by --tls-client-ca",
        "expired",
        "token is not accepted",
        "TLS required",
    ] {
        assert!(
            log.contains(said),
            "the daemon's log does not say {said:?}:\n{log}"
        );
    }
}

fn ca_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{name}.pem"));
    std::fs::write(&p, ca(name).pem).unwrap();
    p
}

/// distcc 3.4's distccd on a free loopback port, in a process group of its own, killed with
/// its preforked children on drop.
struct Distccd34 {
    port: u16,
    child: Child,
}

impl Distccd34 {
    fn start(dir: &Path) -> Distccd34 {
        let port = super::support::free_port();
        let child = Command::new("distccd")
            .args([
                "--daemon",
                "--no-detach",
                "--listen",
                "127.0.0.1",
                "--allow",
                "127.0.0.1",
            ])
            .args(["--port", &port.to_string(), "--log-stderr"])
            .process_group(0)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting distcc 3.4's distccd");
        let mut child = child;
        super::support::wait_listening(&mut child, port, "distccd 3.4", None);
        Distccd34 { port, child }
    }
}

impl Drop for Distccd34 {
    fn drop(&mut self) {
        // The parent alone would leave 3.4's preforked children serving the port.
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill(2) on the group `start` created; it touches no memory.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// `tcpdump -i lo` on one port into a file, from when it says it listens until `stop`.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(dir: &Path, port: u16, tag: &str) -> Capture {
        let file = dir.join(format!("{tag}.pcap"));
        let err = dir.join(format!("{tag}.tcpdump.err"));
        let child = Command::new("tcpdump")
            // Immediate mode: with TPACKET_V3, packets still in an unfinished ring block are lost
            // when tcpdump is stopped (seen here: "14 received by filter, 0 captured").
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-s",
                "0",
                "-w",
                s(&file),
            ])
            .args(["tcp", "port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("starting tcpdump");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("listening on")
        {
            assert!(
                Instant::now() < deadline,
                "tcpdump did not start: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Capture { child, file }
    }

    /// Stops the capture and returns the packets' bytes.
    fn stop(mut self) -> Vec<u8> {
        // Let the last segments reach the capture before it ends.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill on the pid of a child we have not yet waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        std::fs::read(&self.file).unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_packet_capture_of_a_tls_build_holds_nothing_of_the_source() {
    if !require(&["gcc", "tcpdump"]) {
        return;
    }
    let pki = pki();
    // TLS and plain on the same port: the plain build is the capture's control.
    let d = OurDaemon::start(&[
        "--tls-cert",
        s(&pki.server.0),
        "--tls-key",
        s(&pki.server.1),
    ]);
    let sb = Sandbox::new("tls-pcap");
    let marker = "distcc_tls_marker_7c1e0f5a";
    std::fs::write(
        sb.path().join("src/secret.c"),
        format!("const char *secret = \"{marker}\";\nint {marker}_fn(void) {{ return 42; }}\n"),
    )
    .unwrap();
    let cmd = ["gcc", "-g", "-c", "src/secret.c", "-o", "out/secret.o"];
    // Protocol 1 for both builds: no compression, so whatever is not encrypted crosses the
    // wire as written (protocol 4's zstd would hide the marker from the control too).
    let env = [
        ("DISTCC_FALLBACK", "0"),
        ("DISTCC_TLS_CA", s(&pki.server_ca)),
        ("DISTCC_PROTOCOL", "1"),
    ];

    let cap = Capture::start(sb.path(), d.port, "tls");
    sb.same_as_local(
        &format!("127.0.0.1:{},tls", d.port),
        &env,
        &cmd,
        &["out/secret.o"],
    );
    let tls = cap.stop();
    let cap = Capture::start(sb.path(), d.port, "plain");
    sb.same_as_local(
        &format!("127.0.0.1:{}", d.port),
        &env,
        &cmd,
        &["out/secret.o"],
    );
    let plain = cap.stop();

    // The control: without TLS the marker crosses the wire (source and object).
    assert!(
        holds(&plain, marker.as_bytes()),
        "the plain capture ({} bytes) misses the marker",
        plain.len()
    );
    // Enough was captured to hold the job: the TLS build's packets are there.
    assert!(
        tls.len() > 2000,
        "the TLS capture holds only {} bytes",
        tls.len()
    );
    assert!(
        !holds(&tls, marker.as_bytes()),
        "the TLS capture holds the marker in clear"
    );
    assert!(
        !holds(&tls, b"DIST0000"),
        "the TLS capture holds a distcc request in clear"
    );
}

#[test]
fn a_tls_client_that_hangs_up_mid_compile_gets_its_compiler_killed() {
    if !require(&["gcc"]) {
        return;
    }
    let pki = pki();
    let d = tls_daemon(&pki, &pki.server, &[]);
    let sc = crate::faults::Scene::new("tls-hangup");
    let hosts = format!("127.0.0.1:{}/1,tls", d.port);
    let env = [
        ("DISTCC_TLS_CA", s(&pki.server_ca)),
        ("DISTCC_TLS_TOKEN", "s3cret-alice"),
    ];
    let mut c = sc.client(None, &hosts, "slow.c", "slow.o", &env);
    crate::faults::wait_for_compiling(&d.jobs_dir());
    // SAFETY: signals the client we started.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let _ = c.wait();
    // The proxy sees the TCP connection end and shuts the pair: serve's hang-up watch.
    d.wait_log("client hung up, compiler killed");
    crate::faults::assert_nothing_left("TLS client killed mid compile", &sc, &[&d]);
}

#[test]
fn broken_handshakes_and_bad_frames_over_tls_never_stop_the_daemon() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    if !require(&["gcc"]) {
        return;
    }
    let pki = pki();
    let d = tls_daemon(&pki, &pki.server, &[]);
    let connect = || {
        let s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    // A ClientHello cut short, and bytes that only start like one.
    connect().write_all(&[0x16, 3, 1, 0, 200, 1, 0]).unwrap();
    let mut raw = connect();
    raw.write_all(&[0x16; 64]).unwrap();
    let _ = raw.read(&mut [0u8; 64]);
    let client = tls::client::Client::new(&tls::client::ClientSettings {
        ca: Some(pki.server_ca.clone()),
        ..Default::default()
    })
    .unwrap();
    // Inside TLS: an AUTH frame past its cap, then a request whose ARGC is absurd.
    let mut t = client.connect("127.0.0.1", connect()).unwrap();
    t.write_all(b"AUTHffffffff").unwrap();
    let mut sink = Vec::new();
    let _ = t.read_to_end(&mut sink);
    let mut t = client.connect("127.0.0.1", connect()).unwrap();
    t.write_all(b"AUTH0000000cs3cret-aliceDIST00000001ARGCffffffff")
        .unwrap();
    let _ = t.read_to_end(&mut sink);
    d.wait_log("bad AUTH frame");
    d.wait_log("TLS handshake failed");
    // Still serving.
    let sb = Sandbox::new("tls-after-garbage");
    sb.same_as_local(
        &format!("127.0.0.1:{},tls", d.port),
        &[
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_TLS_CA", s(&pki.server_ca)),
            ("DISTCC_TLS_TOKEN", "s3cret-alice"),
        ],
        CMD,
        &["out/util.o"],
    );
}

#[test]
fn a_chunked_compile_works_over_tls_and_have_goes_by_tls_identity() {
    if !require(&["gcc", "openssl"]) {
        return;
    }
    let pki = pki();
    let d = tls_daemon(
        &pki,
        &pki.server,
        &["--tls-allow", "bob,alice", "--log-level", "debug"],
    );
    let hosts = format!("127.0.0.1:{},tls", d.port);
    let bob = [
        ("DISTCC_FALLBACK", "0"),
        ("DISTCC_TLS_CA", s(&pki.server_ca)),
        ("DISTCC_TLS_CERT", s(&pki.bob.0)),
        ("DISTCC_TLS_KEY", s(&pki.bob.1)),
    ];
    let token_file = pki.dir.path().join("alice.token");
    std::fs::write(&token_file, "s3cret-alice\n").unwrap();
    let alice = [
        ("DISTCC_FALLBACK", "0"),
        ("DISTCC_TLS_CA", s(&pki.server_ca)),
        ("DISTCC_TLS_TOKEN_FILE", s(&token_file)),
    ];
    let big = |name: &str| {
        let out = format!("{name}.o");
        let src = format!("src/{name}.c");
        (
            ["gcc", "-O2", "-c", &src, "-o", &out].map(str::to_owned),
            out,
        )
    };
    let run = |sb: &Sandbox, env: &[(&str, &str)], name: &str| {
        let (cmd, out) = big(name);
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        sb.same_as_local(&hosts, env, &cmd, &[&out]);
    };
    let sb_bob = Sandbox::new("tls-chunks-bob");
    crate::sources::write_big_sources(sb_bob.path());
    // A `,tls` host speaks protocol 4 from the first job; that reply's advertisement offers
    // chunks, so the next job sends its source in chunks.
    run(&sb_bob, &bob, "big_a");
    assert!(!d.log_text().contains("chunked source"));
    run(&sb_bob, &bob, "big_b");
    let log = d.wait_log("(bob): chunked source");
    let line = log
        .lines()
        .find(|l| l.contains("(bob): chunked source"))
        .unwrap();
    assert!(!line.contains(" 0 of "), "{line}");
    run(&sb_bob, &bob, "big_b");
    d.wait_log("(bob): chunked source of");
    let again = d.log_text();
    assert!(
        again
            .lines()
            .any(|l| l.contains("(bob): chunked source") && l.contains(" 0 of ")),
        "bob's second upload of big_b sent chunks again:\n{again}"
    );
    // Alice (a token) is another principal: she is not told bob's chunks are there.
    let sb_alice = Sandbox::new("tls-chunks-alice");
    crate::sources::write_big_sources(sb_alice.path());
    run(&sb_alice, &alice, "big_a");
    run(&sb_alice, &alice, "big_b");
    let log = d.wait_log("(alice): chunked source");
    let line = log
        .lines()
        .find(|l| l.contains("(alice): chunked source"))
        .unwrap();
    assert!(
        !line.contains(" 0 of "),
        "alice was told she has bob's chunks: {line}"
    );
}
