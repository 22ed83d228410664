//! Protocol 4 (docs/protocol-4.md) with real parts: our distccd fed raw `DIST 4` requests
//! (plain and pump, refusals by class, truncated, oversized and garbage zstd frames), and our
//! client against a fake protocol 4 daemon on loopback that answers each `RSLT` class and
//! each kind of broken frame; what the client does for each (backoff or not, which host,
//! local compile, the text shown, a clear error and never a crash).

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use proto::{Answer, Compression, Limits, Token, Version};

use crate::client::client_support::Sandbox;
use crate::daemon::{argv, local_object, preprocessed, string, tok};
use crate::support::{OurDaemon, TempDir, require};

/// The identity of this machine's gcc for C, as our client sends it.
fn gcc_ccid(cache: &Path) -> Vec<u8> {
    identity::Identity::for_client(Path::new("/usr/bin/gcc"), identity::Language::C, cache)
        .expect("gcc's identity")
        .encode()
}

fn zstd_body(token: Token, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    proto::write_body(&mut v, token, Compression::Zstd, data).unwrap();
    v
}

fn v4_head(ccid: &[u8], pump: bool) -> Vec<u8> {
    let mut r = tok("DIST", 4);
    r.extend(string("CCID", ccid));
    r.extend(tok("FLAG", u32::from(pump)));
    r
}

fn v4_plain(ccid: &[u8], args: &[&str], i: &[u8]) -> Vec<u8> {
    let mut r = v4_head(ccid, false);
    r.extend(argv(args));
    r.extend(zstd_body(Token::DOTI, i));
    r
}

/// Sends `req` and reads everything the daemon answers (never half-closing: the daemon takes
/// that for a client that hung up).
fn exchange(d: &OurDaemon, req: &[u8]) -> Vec<u8> {
    exchange_then(d, req, false)
}

/// [`exchange`], half-closing after `req` when `eof` (a truncated request then ends now).
fn exchange_then(d: &OurDaemon, req: &[u8], eof: bool) -> Vec<u8> {
    let mut s = d.connect();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(req);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    reply
}

fn answer(reply: &[u8]) -> Answer {
    let (a, trailer) = proto::read_answer(&mut &reply[..], Version::V4, &Limits::DEFAULT)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(reply)));
    assert_eq!(trailer, None);
    a
}

#[test]
fn daemon_compiles_v4_plain_and_pump_with_the_clients_compiler() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--log-level", "debug"]);
    let t = TempDir::new("p4-daemon");
    let ccid = gcc_ccid(&t.path().join("identity"));
    let i = preprocessed(t.path());
    let reply = exchange(
        &d,
        &v4_plain(&ccid, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i),
    );
    assert!(reply.starts_with(b"DONE00000004RSLT00000000STAT00000000ULEN"));
    let Answer::Ran(r) = answer(&reply) else {
        panic!("refused: {}", String::from_utf8_lossy(&reply));
    };
    assert_eq!(r.object, local_object(t.path(), &i));
    assert_eq!(r.dotd, None);
    // The reply is exactly its five bodies, then the advertisement (which a `,tls` client,
    // never answered in 1-3, learns from).
    let mut back = Vec::new();
    proto::write_reply(&mut back, &r).unwrap();
    assert!(reply.starts_with(&back), "the reply is its five bodies");
    let advert = proto::advert::parse(&reply[back.len()..])
        .expect("an advertisement")
        .expect("a whole advertisement");
    assert_eq!(advert.get("protocol"), Some("4"));
    assert_eq!(
        advert.get("ran"),
        None,
        "protocol 4 ran the client's compiler"
    );

    // Pump: the daemon preprocesses the files it is sent and returns the .d.
    let mut req = v4_head(&ccid, true);
    req.extend(string("CDIR", b"/p"));
    req.extend(argv(&["gcc", "-O2", "-c", "/p/a.c", "-o", "obj/a.o"]));
    req.extend(tok("NFIL", 2));
    for (name, text) in [
        (
            "/p/a.c",
            "#include \"a.h\"\nint twice(int x) { return x * A; }\n",
        ),
        ("/p/a.h", "#define A 2\n"),
    ] {
        req.extend(string("NAME", name.as_bytes()));
        req.extend(zstd_body(Token::FILE, text.as_bytes()));
    }
    let reply = exchange(&d, &req);
    let Answer::Ran(r) = answer(&reply) else {
        panic!("refused: {}", String::from_utf8_lossy(&reply));
    };
    assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!r.object.is_empty());
    let dotd = String::from_utf8(r.dotd.expect("a .d")).unwrap();
    assert!(
        dotd.starts_with("obj/a.o:") && dotd.contains("/p/a.h"),
        "{dotd}"
    );
    let log = d.wait_log("protocol 4 pump request");
    assert!(log.contains("protocol 4 request"), "{log}");
}

#[test]
fn daemon_refusals_carry_their_class_and_reason() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("p4-refusals");
    let ccid = gcc_ccid(&t.path().join("identity"));
    let i = preprocessed(t.path());
    let refused = |req: &[u8]| -> (u32, String) {
        match answer(&exchange(&d, req)) {
            Answer::Refused(r) => (r.code, r.text),
            Answer::Ran(r) => panic!("ran: status {}", r.status),
        }
    };
    // No identity, or one no compiler here has: 300, naming both sides.
    let (code, text) = refused(&v4_plain(b"", &["gcc", "-c", "a.c"], &i));
    assert_eq!(code, 300, "{text}");
    assert!(text.contains("compiler identity is unusable"), "{text}");
    let other = String::from_utf8(ccid.clone())
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("fingerprint=") {
                format!("fingerprint={}", "0".repeat(64))
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let (code, text) = refused(&v4_plain(other.as_bytes(), &["gcc", "-c", "a.c"], &i));
    assert_eq!(code, 300, "{text}");
    assert!(
        text.contains("no compiler on this host matches") && text.contains("this host has"),
        "{text}"
    );
    // The request's fault: 202 for code loaded into the compiler, 201 for a link.
    let (code, text) = refused(&v4_plain(
        &ccid,
        &["gcc", "-fplugin=x.so", "-c", "a.c", "-o", "a.o"],
        &i,
    ));
    assert_eq!(code, 202, "{text}");
    assert!(text.starts_with("distccd: "), "{text}");
    // A pump name escaping the job: 203.
    let mut req = v4_head(&ccid, true);
    req.extend(string("CDIR", b"/p"));
    req.extend(argv(&["gcc", "-c", "/p/a.c", "-o", "/p/a.o"]));
    req.extend(tok("NFIL", 1));
    req.extend(string("NAME", b"/p/../../etc/x"));
    req.extend(zstd_body(Token::FILE, b"x"));
    let (code, text) = refused(&req);
    assert_eq!(code, 203, "{text}");
    // 1-3 are untouched: a refusal is 3.4's failure reply, then the advertisement.
    let mut req = tok("DIST", 1);
    req.extend(argv(&["gcc", "-fplugin=x.so", "-c", "a.c", "-o", "a.o"]));
    req.extend(string("DOTI", &i));
    let reply = exchange(&d, &req);
    assert!(reply.starts_with(b"DONE00000001STAT"), "{reply:?}");
    assert!(reply.ends_with(b"ADVT00000014protocol=4\nchunks=1\n"));
}

#[test]
fn daemon_closes_on_bad_v4_frames_and_keeps_serving() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--max-body-mb", "1"]);
    let t = TempDir::new("p4-frames");
    let ccid = gcc_ccid(&t.path().join("identity"));
    let i = preprocessed(t.path());
    let good = v4_plain(&ccid, &["gcc", "-c", "a.c", "-o", "a.o"], &i);
    let body_at = good.len() - zstd_body(Token::DOTI, &i).len();
    let head = &good[..body_at];
    let with = |body: &[u8]| [head, body].concat();
    let mut wrong_len = zstd_body(Token::DOTI, &i);
    wrong_len[4..12].copy_from_slice(format!("{:08x}", i.len() + 1).as_bytes());
    let mut garbage = tok("ULEN", 100);
    garbage.extend(string("DOTI", &[0x55u8; 40]));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated frame",
            with(&zstd_body(Token::DOTI, &i)[..40]),
            "request incomplete",
        ),
        (
            "ULEN over the cap",
            with(&tok("ULEN", 0x7fff_ffff)),
            "exceeds the limit",
        ),
        (
            "frame longer than ULEN says",
            with(&wrong_len),
            "decodes to less than its ULEN",
        ),
        ("not zstd", with(&garbage), "bad zstd body in DOTI"),
        (
            "CCID over 4 KiB",
            [tok("DIST", 4), tok("CCID", 5000)].concat(),
            "exceeds the limit",
        ),
        (
            "unknown FLAG bits",
            [tok("DIST", 4), string("CCID", b""), tok("FLAG", 8)].concat(),
            "unknown flag bits",
        ),
        (
            "a short cache key with pump",
            [
                tok("DIST", 4),
                string("CCID", b""),
                tok("FLAG", 3),
                string("CDIR", b"/"),
                tok("ARGC", 1),
                string("ARGV", b"gcc"),
                string("CKEY", &[1; 16]),
            ]
            .concat(),
            "a cache key is 32 bytes",
        ),
    ];
    for (what, req, logged) in cases {
        let reply = exchange_then(&d, &req, true);
        assert!(reply.is_empty(), "{what}: answered {reply:?}");
        d.wait_log(logged);
    }
    // Still serving.
    let Answer::Ran(r) = answer(&exchange(&d, &good)) else {
        panic!("refused after bad frames");
    };
    assert_eq!(r.status, 0);
}

/// A protocol 4 daemon of the test's own on loopback: reads each request in full (as ours
/// would) and answers it with what `reply` makes of it; counts connections.
struct FakeDaemon {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    fn start(reply: Answerer) -> FakeDaemon {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, s) = (connections.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((sock, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                c.fetch_add(1, Ordering::Relaxed);
                sock.set_nonblocking(false).unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                serve_fake(sock, reply);
            }
        });
        FakeDaemon {
            port,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a fake daemon answers to a request.
type Answerer = fn(&proto::RequestHead) -> Vec<u8>;

fn serve_fake(mut sock: TcpStream, reply: Answerer) {
    let mut r = BufReader::new(sock.try_clone().unwrap());
    let limits = Limits::DEFAULT;
    let Ok(version) = proto::read_version_greeting(&mut r) else {
        return;
    };
    let head = proto::read_request_head(&mut r, version, &limits).unwrap();
    assert!(!head.is_pump());
    proto::read_body(
        &mut r,
        Token::DOTI,
        version.compression(),
        &limits,
        &mut std::io::sink(),
    )
    .unwrap();
    let answer = reply(&head);
    // After a 1-3 reply, its advertisement comes a little later: the client waits for it.
    let at = match answer.windows(4).rposition(|w| w == b"ADVT") {
        Some(at) if version != Version::V4 => at,
        _ => answer.len(),
    };
    let _ = sock.write_all(&answer[..at]);
    if at < answer.len() {
        std::thread::sleep(Duration::from_millis(300));
        let _ = sock.write_all(&answer[at..]);
    }
}

fn refusal(code: u32, text: &str) -> Vec<u8> {
    let mut v = Vec::new();
    proto::write_refusal(&mut v, code, text).unwrap();
    v
}

/// A sandbox whose client remembers `hosts` as protocol 4 daemons.
fn remembering(tag: &str, hosts: &[&str]) -> Sandbox {
    let sb = Sandbox::new(tag);
    let dir = sb.distcc_dir.join("adverts");
    std::fs::create_dir_all(&dir).unwrap();
    for h in hosts {
        let stem = format!("tcp_{}", h.replace(':', "_"));
        std::fs::write(dir.join(stem), "protocol=4\n").unwrap();
    }
    sb
}

fn backoff_file(sb: &Sandbox, host: &str) -> std::path::PathBuf {
    sb.distcc_dir
        .join(format!("lock/backoff_tcp_{}_0", host.replace(':', "_")))
}

const COMPILE: &[&str] = &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/util.o"];

/// A 1-3 reply (an "object" no compiler made) whose advertisement says another gcc ran the job;
/// protocol 4: no compiler matches.
fn another_compiler_ran(head: &proto::RequestHead) -> Vec<u8> {
    if head.version == Version::V4 {
        return refusal(300, "distccd: no compiler on this host matches");
    }
    let reply = proto::Reply {
        version: head.version,
        status: 0,
        stderr: Vec::new(),
        stdout: Vec::new(),
        object: b"an object from another compiler".to_vec(),
        dotd: None,
    };
    let mut v = Vec::new();
    proto::write_reply(&mut v, &reply).unwrap();
    let fingerprint = "b".repeat(64);
    let entries = [
        ("protocol", "4"),
        ("ran", &fingerprint),
        ("ran-target", "x86_64-linux-gnu"),
        ("ran-version", "11.3.0"),
    ];
    proto::advert::encode(
        &mut v,
        &proto::advert::Advert {
            entries: entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
    );
    v
}

#[test]
fn a_first_job_run_by_another_compiler_is_discarded_and_retried_in_protocol_4() {
    if !require(&["gcc"]) {
        return;
    }
    let fake = FakeDaemon::start(another_compiler_ran);
    // Nothing remembered: the first job goes in 1-3.
    let sb = Sandbox::new("p4-ran-other");
    sb.same_as_local(&fake.host(), &[], COMPILE, &["out/util.o"]);
    let log = sb.log_text();
    assert!(
        log.contains(&format!(
            "{} ran another compiler than this client's: gcc 11.3.0 x86_64-linux-gnu sha256:bbbbbbbb, not gcc ",
            fake.host()
        )) && log.contains("discarding its result and sending the job again in protocol 4"),
        "{log}"
    );
    assert!(log.contains("answered 300"), "{log}");
    // One 1-3 job, one protocol 4 retry; what the host can do is remembered, not what ran.
    assert_eq!(fake.connections(), 2);
    let memory = sb
        .distcc_dir
        .join(format!("adverts/tcp_{}", fake.host().replace(':', "_")));
    assert_eq!(std::fs::read_to_string(&memory).unwrap(), "protocol=4\n");
    assert!(!backoff_file(&sb, &fake.host()).exists(), "{log}");
}

#[test]
fn client_acts_on_each_result_class() {
    if !require(&["gcc"]) {
        return;
    }
    // 1xx: the host's fault: backed off, the text shown, the job compiled elsewhere (here
    // locally: no other host).
    let busy = FakeDaemon::start(|_| refusal(101, "distccd: too busy right now"));
    let sb = remembering("p4-class1", &[&busy.host()]);
    let out = sb.same_as_local(&busy.host(), &[], COMPILE, &["out/util.o"]);
    let log = sb.log_text();
    assert!(
        log.contains(&format!(
            "{} answered 101: distccd: too busy right now",
            busy.host()
        )),
        "{log}"
    );
    assert!(backoff_file(&sb, &busy.host()).exists(), "{log}");
    assert_eq!(busy.connections(), 1);
    drop(out);

    // 2xx: the request's fault: compiled here at once, no backoff, the next host not asked
    // (whichever of the two the scheduler picks first).
    let argv_refused = FakeDaemon::start(|_| refusal(202, "distccd: -fplugin= is refused"));
    let spare = FakeDaemon::start(|_| refusal(202, "distccd: -fplugin= is refused"));
    let hosts = format!("{}/1 {}/1", argv_refused.host(), spare.host());
    let sb = remembering("p4-class2", &[&argv_refused.host(), &spare.host()]);
    sb.same_as_local(&hosts, &[], COMPILE, &["out/util.o"]);
    let log = sb.log_text();
    assert!(
        log.contains("answered 202: distccd: -fplugin= is refused"),
        "{log}"
    );
    assert!(log.contains("running locally instead"), "{log}");
    assert!(!backoff_file(&sb, &argv_refused.host()).exists(), "{log}");
    assert!(!backoff_file(&sb, &spare.host()).exists(), "{log}");
    assert_eq!(argv_refused.connections() + spare.connections(), 1, "{log}");

    // 3xx: this host lacks this compiler: skipped for this compiler only, no backoff, the
    // next host tried; the next compile does not ask it again.
    let lacks = FakeDaemon::start(|_| refusal(300, "distccd: no compiler matches gcc 12"));
    let other = FakeDaemon::start(|_| refusal(100, "distccd: internal failure"));
    let hosts = format!("{}/1 {}/1", lacks.host(), other.host());
    let sb = remembering("p4-class3", &[&lacks.host(), &other.host()]);
    sb.same_as_local(&hosts, &[], COMPILE, &["out/util.o"]);
    let log = sb.log_text();
    assert!(
        log.contains("answered 300: distccd: no compiler matches gcc 12"),
        "{log}"
    );
    assert!(!backoff_file(&sb, &lacks.host()).exists(), "{log}");
    assert_eq!((lacks.connections(), other.connections()), (1, 1), "{log}");
    let skips: Vec<_> = std::fs::read_dir(sb.distcc_dir.join("adverts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".skip-"))
        .collect();
    assert_eq!(skips.len(), 1, "{skips:?}");
    assert!(skips[0].starts_with(&format!("tcp_{}", lacks.host().replace(':', "_"))));
    let _ = std::fs::remove_file(backoff_file(&sb, &other.host()));
    sb.same_as_local(&hosts, &[], COMPILE, &["out/util.o"]);
    assert_eq!((lacks.connections(), other.connections()), (1, 2));
    assert!(sb.log_text().contains("lacks this compiler"));

    // 4xx: the client's credentials: no backoff, the text says what to fix.
    let creds = FakeDaemon::start(|_| refusal(401, "distccd: token missing; set DISTCC_TLS_TOKEN"));
    let sb = remembering("p4-class4", &[&creds.host()]);
    sb.same_as_local(&creds.host(), &[], COMPILE, &["out/util.o"]);
    let log = sb.log_text();
    assert!(
        log.contains("answered 401: distccd: token missing; set DISTCC_TLS_TOKEN"),
        "{log}"
    );
    assert!(!backoff_file(&sb, &creds.host()).exists(), "{log}");
}

#[test]
fn client_survives_broken_v4_replies_with_a_clear_error() {
    if !require(&["gcc"]) {
        return;
    }
    let replies: [(&str, Answerer, &str); 5] = [
        (
            "ULEN over the cap",
            |_| {
                let mut v = b"DONE00000004RSLT00000000STAT00000000".to_vec();
                v.extend(tok("ULEN", 0x7fff_ffff));
                v
            },
            "ULEN length 2147483647 exceeds the limit",
        ),
        (
            "truncated frame",
            |_| {
                let mut v = b"DONE00000004RSLT00000000STAT00000000".to_vec();
                let body = zstd_body(Token::SERR, &b"warning: x\n".repeat(100));
                v.extend_from_slice(&body[..body.len() - 3]);
                v
            },
            "truncated one",
        ),
        (
            "not zstd",
            |_| {
                let mut v = b"DONE00000004RSLT00000000STAT00000000".to_vec();
                v.extend(tok("ULEN", 100));
                v.extend(string("SERR", &[0x55u8; 40]));
                v
            },
            "bad zstd body in SERR",
        ),
        (
            "TEXT over 4 KiB",
            |_| {
                let mut v = b"DONE00000004RSLT0000012c".to_vec();
                v.extend(string("TEXT", &[b'x'; 5000]));
                v
            },
            "TEXT length 5000 exceeds the limit",
        ),
        (
            "RSLT out of range",
            |_| b"DONE00000004RSLT00010000".to_vec(),
            "RSLT length 65536 exceeds the limit",
        ),
    ];
    for (what, reply, logged) in replies {
        let fake = FakeDaemon::start(reply);
        let sb = remembering("p4-broken", &[&fake.host()]);
        sb.same_as_local(&fake.host(), &[], COMPILE, &["out/util.o"]);
        let log = sb.log_text();
        assert!(log.contains(logged), "{what}: {log}");
        assert!(log.contains("running locally instead"), "{what}: {log}");
        assert_eq!(fake.connections(), 1, "{what}: sent once, no 1-3 retry");
    }
}

#[test]
fn distcc_protocol_3_keeps_protocols_1_to_3() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--log-level", "debug"]);
    let host = format!("127.0.0.1:{}", d.port);
    let sb = remembering("p4-cap", &[&host]);
    sb.same_as_local(
        &format!("{host},lzo"),
        &[("DISTCC_PROTOCOL", "3"), ("DISTCC_FALLBACK", "0")],
        COMPILE,
        &["out/util.o"],
    );
    let log = d.wait_log("protocol 2 request");
    assert!(!log.contains("protocol 4 request"), "{log}");
    // Without the cap the same host gets protocol 4.
    sb.same_as_local(
        &format!("{host},lzo"),
        &[("DISTCC_FALLBACK", "0")],
        COMPILE,
        &["out/util.o"],
    );
    d.wait_log("protocol 4 request");
}

#[test]
fn the_trailer_teaches_the_client_protocol_4() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--log-level", "debug"]);
    let host = format!("127.0.0.1:{}", d.port);
    let sb = Sandbox::new("p4-learn");
    let env = [("DISTCC_FALLBACK", "0")];
    sb.same_as_local(&host, &env, COMPILE, &["out/util.o"]);
    d.wait_log("protocol 1 request");
    let memory = sb
        .distcc_dir
        .join(format!("adverts/tcp_{}", host.replace(':', "_")));
    assert_eq!(
        std::fs::read_to_string(&memory).unwrap(),
        "protocol=4\nchunks=1\n"
    );
    sb.same_as_local(
        &host,
        &env,
        &["gcc", "-c", "src/main.c", "-Iinclude", "-o", "out/main.o"],
        &["out/main.o"],
    );
    sb.same_as_local(
        &host,
        &env,
        &["g++", "-c", "src/shapes.cpp", "-Iinclude", "-o", "out/s.o"],
        &["out/s.o"],
    );
    let log = d.log_text();
    assert_eq!(log.matches("protocol 4 request").count(), 2, "{log}");
    assert!(sb.log_text().contains("speaking protocol 4"));
}
