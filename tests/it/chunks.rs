//! Protocol 4's chunked source (docs/protocol-4.md "Chunked source") with real gcc and our
//! real daemon on loopback: objects identical to local builds; a sibling source sends only
//! its new chunks (the daemon's own byte counter); a tiny store (evictions) and an empty one
//! change nothing but bytes; chunks are kept per namespace, principal and client key (a
//! second client address, or a second `DISTCC_DIR` at the same address, uploads its own;
//! the same `DISTCC_DIR` reuses); bad chunk lists, bodies and cut exchanges close the stream and
//! store nothing; `--chunk-store 0` is not advertised and gets plain bodies.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::Duration;

use proto::chunks::{ChunkRef, Key, Need};
use proto::{Answer, Compression, Limits, Token, Version};

use crate::client::client_support::Sandbox;
use crate::daemon::{argv, local_object, preprocessed, string, tok};
use crate::support::{OurDaemon, TempDir, require};

fn hosts(d: &OurDaemon) -> String {
    format!("127.0.0.1:{}", d.port)
}

/// Compiles `src/<name>.c` through distcc (no fallback) and locally; the objects must match.
fn build(s: &Sandbox, d: &OurDaemon, env: &[(&str, &str)], name: &str) {
    let mut e = vec![("DISTCC_FALLBACK", "0")];
    e.extend_from_slice(env);
    let out = format!("{name}.o");
    s.same_as_local(
        &hosts(d),
        &e,
        &["gcc", "-O2", "-c", &format!("src/{name}.c"), "-o", &out],
        &[&out],
    );
}

/// What the client remembers its daemon advertised.
fn remembered(s: &Sandbox) -> String {
    let mut text = String::new();
    for f in std::fs::read_dir(s.distcc_dir.join("adverts"))
        .into_iter()
        .flatten()
        .flatten()
    {
        text.push_str(&std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    text
}

/// Bytes the daemon has read from clients, from its stats page.
fn bytes_in(stats_port: u16) -> u64 {
    super::stats::json_number(&super::stats::http_get(stats_port, "/json").1, "bytes_in")
}

#[test]
fn a_sibling_source_sends_only_its_new_chunks_and_objects_match_local() {
    if !require(&["gcc"]) {
        return;
    }
    let (d, sp) = super::stats::daemon_with_stats(2, &["--log-level", "debug"]);
    let s = Sandbox::new("chunks-sibling");
    crate::sources::write_big_sources(s.path());
    // The first job (1-3) teaches the client what the daemon offers.
    s.same_as_local(
        &hosts(&d),
        &[("DISTCC_FALLBACK", "0")],
        &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"],
        &["util.o"],
    );
    assert!(remembered(&s).contains("chunks=1"), "{}", remembered(&s));
    let b0 = bytes_in(sp);
    build(&s, &d, &[], "big_a");
    let b1 = bytes_in(sp);
    build(&s, &d, &[], "big_b");
    let b2 = bytes_in(sp);
    let (first, second) = (b1 - b0, b2 - b1);
    d.wait_log("chunked source");
    // The headers both include went once: the sibling sent its list and its own chunks.
    assert!(
        second * 4 < first,
        "first {first} bytes, sibling {second} bytes\n{}",
        d.log_text()
    );
    // Chunks off: the whole source again, zstd-compressed.
    build(&s, &d, &[("DISTCC_CHUNKS", "0")], "big_c");
    let third = bytes_in(sp) - b2;
    assert!(third > second * 4, "chunks off: {third}, sibling {second}");
    // The same source again: nothing but the list and a few headers.
    build(&s, &d, &[], "big_a");
    let again = bytes_in(sp) - b2 - third;
    assert!(again <= second, "again {again}, sibling {second}");
}

#[test]
fn another_distcc_dir_at_the_same_address_uploads_its_own_chunks() {
    if !require(&["gcc"]) {
        return;
    }
    let (d, sp) = super::stats::daemon_with_stats(2, &["--log-level", "debug"]);
    let learn = |s: &Sandbox| {
        s.same_as_local(
            &hosts(&d),
            &[("DISTCC_FALLBACK", "0")],
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"],
            &["util.o"],
        );
        assert!(remembered(s).contains("chunks=1"), "{}", remembered(s));
    };
    let s1 = Sandbox::new("chunks-ns-1");
    crate::sources::write_big_sources(s1.path());
    learn(&s1);
    let b0 = bytes_in(sp);
    build(&s1, &d, &[], "big_a");
    let first = bytes_in(sp) - b0;
    // A second client at the same address (127.0.0.1), its own DISTCC_DIR: the same source,
    // the same chunks, but it must upload them itself.
    let s2 = Sandbox::new("chunks-ns-2");
    crate::sources::write_big_sources(s2.path());
    learn(&s2);
    let b1 = bytes_in(sp);
    build(&s2, &d, &[], "big_a");
    let second = bytes_in(sp) - b1;
    assert!(
        second * 2 > first,
        "another DISTCC_DIR reused the first's chunks: {first} then {second} bytes"
    );
    let (k1, k2) = (
        std::fs::read(s1.distcc_dir.join("chunk-key")).unwrap(),
        std::fs::read(s2.distcc_dir.join("chunk-key")).unwrap(),
    );
    assert_eq!(k1.len(), 16);
    assert_ne!(k1, k2);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s2.distcc_dir.join("chunk-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // A third work directory sharing the first's DISTCC_DIR: the same key, its chunks reused.
    let s3 = Sandbox::new("chunks-ns-3");
    crate::sources::write_big_sources(s3.path());
    let dir1 = s1.distcc_dir.to_str().unwrap();
    let b2 = bytes_in(sp);
    build(&s3, &d, &[("DISTCC_DIR", dir1)], "big_a");
    let third = bytes_in(sp) - b2;
    assert!(
        third * 4 < first,
        "the same DISTCC_DIR did not reuse its chunks: {first} then {third} bytes"
    );
    d.wait_log("chunked source");
}

#[test]
fn a_tiny_store_evicts_and_objects_stay_identical() {
    if !require(&["gcc"]) {
        return;
    }
    // 4 KiB: almost every chunk is evicted before the next job (or before its own assembly:
    // the chunks it was told are there are held). An empty store, as after a restart, is the
    // first job's case here.
    let d = OurDaemon::start(&["--chunk-store", "4K", "--log-level", "debug"]);
    let s = Sandbox::new("chunks-tiny");
    crate::sources::write_big_sources(s.path());
    s.same_as_local(
        &hosts(&d),
        &[("DISTCC_FALLBACK", "0")],
        &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"],
        &["util.o"],
    );
    for name in ["big_a", "big_b", "big_a", "big_c", "big_b"] {
        build(&s, &d, &[], name);
    }
    d.wait_log("chunked source");
}

#[test]
fn chunk_store_0_is_not_advertised_and_gets_plain_bodies() {
    if !require(&["gcc"]) {
        return;
    }
    let (d, sp) =
        super::stats::daemon_with_stats(2, &["--chunk-store", "0", "--log-level", "debug"]);
    let s = Sandbox::new("chunks-off");
    crate::sources::write_big_sources(s.path());
    s.same_as_local(
        &hosts(&d),
        &[("DISTCC_FALLBACK", "0")],
        &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"],
        &["util.o"],
    );
    let adverts = remembered(&s);
    assert!(adverts.contains("protocol=4"), "{adverts}");
    assert!(!adverts.contains("chunks"), "{adverts}");
    let b0 = bytes_in(sp);
    build(&s, &d, &[], "big_a");
    let b1 = bytes_in(sp);
    build(&s, &d, &[], "big_b");
    let (first, second) = (b1 - b0, bytes_in(sp) - b1);
    assert!(second * 2 > first, "first {first}, second {second}");
    let log = d.log_text();
    assert!(log.contains("protocol 4 request"), "{log}");
    assert!(!log.contains("chunked source"), "{log}");
}

// ---------------------------------------------------------------------------------------
// Raw exchanges: principals and bad input.

/// The identity of this machine's gcc for C, as our client sends it.
fn gcc_ccid(cache: &Path) -> Vec<u8> {
    identity::Identity::for_client(Path::new("/usr/bin/gcc"), identity::Language::C, cache)
        .expect("gcc's identity")
        .encode()
}

/// `DIST 4`, `CCID`, `FLAG 4` and the command line of a plain compile.
fn chunked_head(ccid: &[u8]) -> Vec<u8> {
    let mut r = tok("DIST", 4);
    r.extend(string("CCID", ccid));
    r.extend(tok("FLAG", 4));
    r.extend(argv(&["gcc", "-O2", "-c", "a.c", "-o", "a.o"]));
    r
}

fn chunk(data: &[u8]) -> ChunkRef {
    ChunkRef {
        hash: proto::chunks::hash(data),
        len: data.len() as u32,
    }
}

/// The namespace key of the raw exchanges, unless they say another.
const KEY: Key = [0x5a; proto::chunks::KEY_LEN];

fn list_bytes(list: &[ChunkRef]) -> Vec<u8> {
    let mut v = Vec::new();
    proto::chunks::encode_list(&mut v, &KEY, list);
    v
}

fn body(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    proto::write_body(&mut v, Token::DOTI, Compression::Zstd, data).unwrap();
    v
}

/// A TCP connection to `port` on 127.0.0.1 from source address `from` (another loopback
/// address is another client principal to the daemon).
fn connect_from(from: Ipv4Addr, port: u16) -> TcpStream {
    let addr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a new socket, bound and connected with valid sockaddr_in values; the descriptor
    // is owned by the returned stream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let src = addr(from, 0);
        assert_eq!(
            libc::bind(fd, (&raw const src).cast(), len),
            0,
            "bind {from}"
        );
        let dst = addr(Ipv4Addr::LOCALHOST, port);
        assert_eq!(
            libc::connect(fd, (&raw const dst).cast(), len),
            0,
            "connect"
        );
        let s = TcpStream::from_raw_fd(fd);
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }
}

/// Sends a chunked request for `parts` (the source cut there) from `from` and returns the
/// daemon's `NEED`; then sends what it asks for and returns the answer.
fn chunked_compile(d: &OurDaemon, from: Ipv4Addr, ccid: &[u8], parts: &[&[u8]]) -> (Need, Answer) {
    chunked_compile_keyed(d, from, &KEY, ccid, parts)
}

/// [`chunked_compile`] with the namespace key `key`.
fn chunked_compile_keyed(
    d: &OurDaemon,
    from: Ipv4Addr,
    key: &Key,
    ccid: &[u8],
    parts: &[&[u8]],
) -> (Need, Answer) {
    let mut s = connect_from(from, d.port);
    let list: Vec<ChunkRef> = parts.iter().map(|p| chunk(p)).collect();
    let mut req = chunked_head(ccid);
    proto::chunks::encode_list(&mut req, key, &list);
    s.write_all(&req).unwrap();
    let need = proto::chunks::read_need(&mut s, list.len() as u32).expect("a NEED");
    let missing: Vec<u8> = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| need.get(*i))
        .flat_map(|(_, p)| p.to_vec())
        .collect();
    s.write_all(&body(&missing)).unwrap();
    let (answer, _) = proto::read_answer(&mut s, Version::V4, &Limits::DEFAULT).expect("an answer");
    (need, answer)
}

/// Sends `req` (and half-closes when `eof`), then reads what the daemon sends back until it
/// closes.
fn raw(d: &OurDaemon, req: &[u8], eof: bool) -> Vec<u8> {
    let mut s = connect_from(Ipv4Addr::LOCALHOST, d.port);
    let _ = s.write_all(req);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut back = Vec::new();
    let _ = s.read_to_end(&mut back);
    back
}

fn halves(i: &[u8]) -> (&[u8], &[u8]) {
    i.split_at(i.len() / 2)
}

fn loopback_daemon() -> OurDaemon {
    OurDaemon::start_in(
        None,
        "127.0.0.1",
        &["127.0.0.0/8"],
        None,
        &["--log-level", "debug"],
    )
}

#[test]
fn chunks_are_kept_per_principal_and_key() {
    if !require(&["gcc"]) {
        return;
    }
    let d = loopback_daemon();
    let t = TempDir::new("chunks-principals");
    let ccid = gcc_ccid(&t.path().join("identity"));
    let i = preprocessed(t.path());
    let want = local_object(t.path(), &i);
    let (x, y) = halves(&i);
    let (a, b) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
    // One chunked compile of both halves from `from` with `key`: how many chunks the daemon
    // asked for, and an object equal to the local one.
    let step = |from: Ipv4Addr, key: &Key, asked: usize, why: &str| {
        let (need, answer) = chunked_compile_keyed(&d, from, key, &ccid, &[x, y]);
        assert_eq!(need.count(), asked, "{why}");
        match answer {
            Answer::Ran(r) => {
                assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
                assert_eq!(r.object, want);
            }
            Answer::Refused(r) => panic!("refused: {r:?}"),
        }
    };
    step(a, &KEY, 2, "A uploads both chunks");
    step(a, &KEY, 0, "then A has them");
    step(
        b,
        &KEY,
        2,
        "B, at another address, was told it has A's chunks",
    );
    step(b, &KEY, 0, "then B has its own");
    // Another key at A's address is another namespace: it uploads its own, then has them;
    // A's key still has A's.
    let other = [0xa5; proto::chunks::KEY_LEN];
    step(a, &other, 2, "another key was told it has A's chunks");
    step(a, &other, 0, "then the other key has its own");
    step(a, &KEY, 0, "A's key still has A's");
    // A repeated chunk is asked for once, and assembled twice (a declaration may repeat).
    let decl: &[u8] = b"int declared_twice(int);\n";
    let (need, answer) = chunked_compile(&d, a, &ccid, &[decl, decl, &i]);
    assert_eq!(need.count(), 2, "{need:?}");
    assert!(need.get(0) && !need.get(1) && need.get(2));
    let Answer::Ran(r) = answer else {
        panic!("refused")
    };
    assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn bad_chunks_close_the_stream_and_nothing_is_stored_under_a_wrong_hash() {
    if !require(&["gcc"]) {
        return;
    }
    let d = loopback_daemon();
    let t = TempDir::new("chunks-bad");
    let ccid = gcc_ccid(&t.path().join("identity"));
    let i = preprocessed(t.path());
    let (x, y) = halves(&i);
    let local = Ipv4Addr::LOCALHOST;

    // A chunk whose bytes are not its hash (same length): closed after NEED, no reply.
    let mut forged = x.to_vec();
    forged[0] ^= 1;
    let mut req = chunked_head(&ccid);
    req.extend(list_bytes(&[chunk(x), chunk(y)]));
    let mut s = connect_from(local, d.port);
    s.write_all(&req).unwrap();
    let need = proto::chunks::read_need(&mut s, 2).unwrap();
    assert_eq!(need.count(), 2);
    s.write_all(&body(&[&forged[..], y].concat())).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "a reply to a forged chunk: {rest:?}");
    d.wait_log("a chunk does not match its hash");
    // Neither the forged bytes nor the good chunk sent beside them were kept.
    let (need, _) = chunked_compile(&d, local, &ccid, &[x, y]);
    assert_eq!(need.count(), 2, "something of a forged upload was stored");
    let (need, _) = chunked_compile(&d, local, &ccid, &[&forged]);
    assert_eq!(need.count(), 1, "forged bytes were stored");

    // A body of another length than the missing chunks'.
    let mut req = chunked_head(&ccid);
    let extra = b"int extra;\n";
    req.extend(list_bytes(&[chunk(extra)]));
    let mut s = connect_from(local, d.port);
    s.write_all(&req).unwrap();
    proto::chunks::read_need(&mut s, 1).unwrap();
    s.write_all(&body(b"int extra;\nint more;\n")).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    d.wait_log("not the length of the missing chunks");

    // Counts and lengths over the caps: closed before anything is reserved or answered.
    let mut too_many = chunked_head(&ccid);
    too_many.extend(tok("CHNK", Limits::DEFAULT.max_chunks + 1));
    assert!(raw(&d, &too_many, true).is_empty());
    let mut too_long = chunked_head(&ccid);
    too_long.extend(list_bytes(&[ChunkRef {
        hash: [1; proto::chunks::HASH_LEN],
        len: Limits::DEFAULT.max_chunk_len + 1,
    }]));
    assert!(raw(&d, &too_long, true).is_empty());
    let mut empty = chunked_head(&ccid);
    empty.extend(tok("CHNK", 0));
    assert!(raw(&d, &empty, true).is_empty());
    // A list cut short, and an exchange cut after NEED.
    let mut cut = chunked_head(&ccid);
    cut.extend(&list_bytes(&[chunk(x), chunk(y)])[..40]);
    assert!(raw(&d, &cut, true).is_empty());
    let mut after_need = chunked_head(&ccid);
    after_need.extend(list_bytes(&[chunk(b"int never_sent;\n")]));
    let back = raw(&d, &after_need, true);
    assert_eq!(back, b"NEED00000001\x01", "only NEED, then the close");
    // A pump request may not say chunks.
    let mut pump = tok("DIST", 4);
    pump.extend(string("CCID", &ccid));
    pump.extend(tok("FLAG", 5));
    assert!(raw(&d, &pump, true).is_empty());
    // The daemon is still serving (the honest upload above is kept), and never crashed.
    let (need, answer) = chunked_compile(&d, local, &ccid, &[x, y]);
    assert_eq!(need.count(), 0);
    assert!(matches!(answer, Answer::Ran(r) if r.status == 0));
    let log = d.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn a_refusal_comes_in_place_of_need() {
    if !require(&["gcc"]) {
        return;
    }
    let d = loopback_daemon();
    let t = TempDir::new("chunks-refused");
    let ccid = gcc_ccid(&t.path().join("identity"));
    // No -c: not a compile (201), answered after the list instead of NEED.
    let mut req = tok("DIST", 4);
    req.extend(string("CCID", &ccid));
    req.extend(tok("FLAG", 4));
    req.extend(argv(&["gcc", "a.c", "-o", "a"]));
    req.extend(list_bytes(&[chunk(b"int x;\n")]));
    let mut s = connect_from(Ipv4Addr::LOCALHOST, d.port);
    s.write_all(&req).unwrap();
    match proto::chunks::read_need_or_answer(&mut s, 1, &Limits::DEFAULT).unwrap() {
        proto::chunks::NeedOr::Answer(Answer::Refused(r)) => {
            assert!((200..300).contains(&r.code), "{r:?}")
        }
        other => panic!("{other:?}"),
    }
    // A small source with FLAG 4 may come as an ordinary body.
    let i = preprocessed(t.path());
    let mut req = chunked_head(&ccid);
    req.extend(body(&i));
    let back = raw(&d, &req, false);
    let (a, _) = proto::read_answer(&mut &back[..], Version::V4, &Limits::DEFAULT).unwrap();
    assert!(
        matches!(&a, Answer::Ran(r) if r.object == local_object(t.path(), &i)),
        "{a:?}"
    );
}
