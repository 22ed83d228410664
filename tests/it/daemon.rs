//! Our distccd over loopback with raw request bytes and real gcc: the three protocol
//! versions, hostile inputs (each closed or refused with a logged reason, nothing written
//! outside the job directory, the daemon still serving afterwards), idle connections,
//! job lifetime, client hang-up and SIGTERM draining.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{OurDaemon, TempDir, require};

pub(crate) fn tok(t: &str, n: u32) -> Vec<u8> {
    format!("{t}{n:08x}").into_bytes()
}

pub(crate) fn string(t: &str, s: &[u8]) -> Vec<u8> {
    let mut v = tok(t, s.len() as u32);
    v.extend_from_slice(s);
    v
}

pub(crate) fn argv(args: &[&str]) -> Vec<u8> {
    let mut v = tok("ARGC", args.len() as u32);
    for a in args {
        v.extend(string("ARGV", a.as_bytes()));
    }
    v
}

const SOURCE: &str = "#include \"a.h\"\nint twice(int x) { return x * A; }\n";
const HEADER: &str = "#define A 2\n";

/// Preprocesses SOURCE with its header, as a 3.4 client would before sending.
pub(crate) fn preprocessed(dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("a.c"), SOURCE).unwrap();
    std::fs::write(dir.join("a.h"), HEADER).unwrap();
    let out = Command::new("gcc")
        .args(["-E", "a.c"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

pub(crate) fn local_object(dir: &Path, i: &[u8]) -> Vec<u8> {
    local_object_by("gcc", dir, i)
}

fn local_object_by(compiler: &str, dir: &Path, i: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("local.i"), i).unwrap();
    let st = Command::new(compiler)
        .args(["-O2", "-c", "local.i", "-o", "local.o"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read(dir.join("local.o")).unwrap()
}

pub(crate) fn plain_request(version: u32, args: &[&str], i: &[u8]) -> Vec<u8> {
    let mut r = tok("DIST", version);
    r.extend(argv(args));
    if version == 1 {
        r.extend(string("DOTI", i));
    } else {
        r.extend(string("DOTI", &proto::lzo::compress(i)));
    }
    r
}

pub(crate) fn exchange(d: &OurDaemon, req: &[u8]) -> Vec<u8> {
    exchange_then(d, req, false)
}

/// Sends `req` (half-closing afterwards when `eof`, so a truncated request ends now rather
/// than at the read timeout) and returns every byte of the reply.
pub(crate) fn exchange_then(d: &OurDaemon, req: &[u8], eof: bool) -> Vec<u8> {
    let mut s = d.connect();
    // A refused or closed request may reset the connection while we still write.
    let _ = s.write_all(req);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    strip_trailer(reply)
}

/// A protocol 1–3 reply without the advertisement behind it, which must be there (3.4's
/// client never reads it; ours learns protocol 4 from it). After a compile it also names the
/// compiler that ran: `ran=` (64 hex digits), `ran-target=`, `ran-version=`.
pub(crate) fn strip_trailer(mut reply: Vec<u8>) -> Vec<u8> {
    let v123 = [&b"DONE00000001"[..], b"DONE00000002", b"DONE00000003"];
    if v123.iter().any(|p| reply.starts_with(p)) {
        let tail = String::from_utf8_lossy(&reply[reply.len().saturating_sub(200)..]).into_owned();
        let at = reply
            .windows(4)
            .rposition(|w| w == b"ADVT")
            .unwrap_or_else(|| panic!("no advertisement after a 1-3 reply: {tail:?}"));
        let len = std::str::from_utf8(&reply[at + 4..at + 12])
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .unwrap_or_else(|| panic!("bad advertisement header: {tail:?}"));
        assert_eq!(at + 12 + len, reply.len(), "{tail:?}");
        let body = std::str::from_utf8(&reply[at + 12..]).expect("text");
        assert!(body.starts_with("protocol=4\n"), "{tail:?}");
        for line in body.lines().skip(1) {
            let (k, v) = line.split_once('=').expect("key=value");
            match k {
                "ran" => assert!(
                    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{tail:?}"
                ),
                "ran-target" | "ran-version" => assert!(!v.is_empty(), "{tail:?}"),
                // The chunk store (`--chunk-store`, on by default).
                "chunks" => assert_eq!(v, "1", "{tail:?}"),
                _ => panic!("unexpected key {k} in {tail:?}"),
            }
        }
        reply.truncate(at);
    }
    reply
}

pub(crate) fn decode(version: u32, reply: &[u8]) -> proto::Reply {
    let v = proto::Version::from_wire(version).unwrap();
    proto::read_reply(&mut &reply[..], v, &proto::Limits::DEFAULT).expect("a well-formed reply")
}

/// Nothing but job directories (already removed) may appear in the daemon's TMPDIR.
fn assert_jobs_dir_empty(d: &OurDaemon) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<_> = std::fs::read_dir(d.jobs_dir()).unwrap().collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "job dirs left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn assert_normal_job_works(d: &OurDaemon, scratch: &Path) {
    let i = preprocessed(scratch);
    let reply = exchange(
        d,
        &plain_request(1, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i),
    );
    let r = decode(1, &reply);
    assert_eq!(
        r.status,
        0,
        "stderr: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(r.object, local_object(scratch, &i));
}

#[test]
fn v1_compile_replies_with_literal_tokens_and_the_local_object() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("v1");
    let i = preprocessed(t.path());
    let reply = exchange(
        &d,
        &plain_request(1, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i),
    );
    assert!(
        reply.starts_with(b"DONE00000001STAT00000000SERR00000000SOUT00000000DOTO"),
        "{:?}",
        String::from_utf8_lossy(&reply[..reply.len().min(80)])
    );
    let obj = local_object(t.path(), &i);
    assert_eq!(&reply[52..60], format!("{:08x}", obj.len()).as_bytes());
    assert_eq!(&reply[60..], &obj[..]);
    d.wait_log("job 127.0.0.1:");
    assert!(d.log_text().contains("gcc a.c exit 0"), "{}", d.log_text());
    assert_jobs_dir_empty(&d);
}

#[test]
fn v2_lzo_compile_and_compile_error() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("v2");
    let i = preprocessed(t.path());
    let reply = exchange(
        &d,
        &plain_request(2, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i),
    );
    assert!(reply.starts_with(b"DONE00000002STAT00000000SERR00000000SOUT00000000DOTO"));
    let r = decode(2, &reply);
    assert_eq!(r.object, local_object(t.path(), &i));
    // A compile error: the wait status of exit 1, gcc's diagnostics, DOTO 0.
    let reply = exchange(
        &d,
        &plain_request(
            2,
            &["gcc", "-c", "b.c", "-o", "b.o"],
            b"int f(void) { return y; }\n",
        ),
    );
    assert!(reply.starts_with(b"DONE00000002STAT00000100SERR"));
    assert!(reply.ends_with(b"SOUT00000000DOTO00000000"));
    let r = decode(2, &reply);
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("'y' undeclared")
            || String::from_utf8_lossy(&r.stderr).contains("‘y’ undeclared")
    );
    d.wait_log("b.c exit 1");
}

/// A pump file-list entry: name, then FILE contents or LINK target.
pub(crate) type Entry<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

pub(crate) fn pump_request(cwd: &str, args: &[&str], files: &[Entry]) -> Vec<u8> {
    let mut r = tok("DIST", 3);
    r.extend(string("CDIR", cwd.as_bytes()));
    r.extend(argv(args));
    r.extend(tok("NFIL", files.len() as u32));
    for (name, file, link) in files {
        r.extend(string("NAME", name.as_bytes()));
        match (file, link) {
            (Some(f), _) => r.extend(string("FILE", &proto::lzo::compress(f.as_bytes()))),
            (_, Some(l)) => r.extend(string("LINK", l.as_bytes())),
            _ => unreachable!(),
        }
    }
    r
}

#[test]
fn v3_pump_compile_rebuilds_files_and_sends_dotd() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let req = pump_request(
        "/home/u/proj",
        &[
            "gcc",
            "-O2",
            "-c",
            "/home/u/proj/a.c",
            "-o",
            "obj/a.o",
            "-I/home/u/proj/inc",
        ],
        &[
            ("/home/u/proj/a.c", Some(SOURCE), None),
            ("/home/u/proj/inc/a.h", Some(HEADER), None),
        ],
    );
    let reply = exchange(&d, &req);
    assert!(reply.starts_with(b"DONE00000003STAT00000000SERR00000000SOUT00000000DOTO"));
    let r = decode(3, &reply);
    assert!(!r.object.is_empty());
    let dotd = String::from_utf8(r.dotd.expect("DOTD after success")).unwrap();
    assert!(dotd.starts_with("obj/a.o:"), "{dotd}");
    assert!(dotd.contains("/home/u/proj/inc/a.h"), "{dotd}");
    assert!(
        !dotd.contains("distccd_"),
        "job dir leaked into the .d: {dotd}"
    );
    // A failed pump compile sends no DOTD.
    let req = pump_request(
        "/p",
        &["gcc", "-c", "/p/b.c"],
        &[("/p/b.c", Some("int f(void){return y;}\n"), None)],
    );
    let reply = exchange(&d, &req);
    assert!(reply.starts_with(b"DONE00000003STAT00000100"));
    assert!(reply.ends_with(b"DOTO00000000"));
    assert_jobs_dir_empty(&d);
}

#[test]
fn malformed_requests_are_closed_logged_and_harmless() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("bad");
    let mut lzo_garbage = tok("DIST", 2);
    lzo_garbage.extend(argv(&["gcc", "-c", "a.c", "-o", "a.o"]));
    lzo_garbage.extend(string("DOTI", &[0xff, 0xfe, 0x00, 0x11, 0x22, 0x00, 0x00]));
    let mut huge_doti = tok("DIST", 1);
    huge_doti.extend(argv(&["gcc", "-c", "a.c", "-o", "a.o"]));
    huge_doti.extend(tok("DOTI", 0xffff_ffff));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "4 GiB ARGV",
            [tok("DIST", 1), tok("ARGC", 1), tok("ARGV", 0xffff_ffff)].concat(),
            "exceeds the limit",
        ),
        ("4 GiB DOTI", huge_doti, "exceeds the limit"),
        (
            "version 5",
            tok("DIST", 5),
            "unsupported protocol version 5",
        ),
        ("bad hex", b"DIST0000000zARGC".to_vec(), "not hexadecimal"),
        (
            "wrong token",
            [tok("DIST", 1), tok("ARGX", 1)].concat(),
            "expected ARGC",
        ),
        (
            "truncated",
            [
                tok("DIST", 1),
                tok("ARGC", 2),
                string("ARGV", b"gcc"),
                b"ARGV0000".to_vec(),
            ]
            .concat(),
            "request incomplete",
        ),
        ("lzo garbage", lzo_garbage, "bad lzo body"),
    ];
    for (what, bytes, logged) in cases {
        let reply = exchange_then(&d, &bytes, true);
        assert!(
            reply.is_empty(),
            "{what}: expected a silent close, got {reply:?}"
        );
        d.wait_log(logged);
    }
    assert_jobs_dir_empty(&d);
    assert_normal_job_works(&d, t.path());
}

#[test]
fn refused_requests_are_explained_in_serr_and_logged() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("refuse");
    let marker = t.path().join("pwned");
    let shell = format!("gcc;touch {}", marker.display());
    let subst = format!("$(touch {})", marker.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["/tmp/gcc", "-c", "a.c", "-o", "a.o"],
            "only /bin, /usr/bin and /usr/local/bin are trusted",
        ),
        (
            vec!["/usr/bin/../bin/gcc", "-c", "a.c", "-o", "a.o"],
            "are trusted",
        ),
        (vec!["../gcc", "-c", "a.c", "-o", "a.o"], "are trusted"),
        (vec!["bin/gcc", "-c", "a.c", "-o", "a.o"], "are trusted"),
        (
            vec!["sh", "-c", "a.c", "-o", "a.o"],
            "compiler 'sh' is not allow-listed",
        ),
        (vec![&shell, "-c", "a.c", "-o", "a.o"], "are trusted"),
        (
            vec!["gcc;id", "-c", "a.c", "-o", "a.o"],
            "compiler 'gcc;id' is not allow-listed",
        ),
        (vec![&subst, "-c", "a.c", "-o", "a.o"], "are trusted"),
        (
            vec!["gcc", "-fplugin=/tmp/evil.so", "-c", "a.c", "-o", "a.o"],
            "option '-fplugin=/tmp/evil.so' is refused",
        ),
        (
            vec!["gcc", "-specs=/tmp/evil", "-c", "a.c", "-o", "a.o"],
            "option '-specs=/tmp/evil' is refused",
        ),
        (vec!["gcc", "a.c", "-o", "a.out"], "link lines are refused"),
    ];
    for (args, why) in cases {
        for version in [1, 2] {
            let reply = exchange(&d, &plain_request(version, &args, b"int x;\n"));
            assert!(!reply.is_empty(), "{args:?}: closed without a reply");
            let r = decode(version, &reply);
            assert_eq!(r.status, 101 << 8, "{args:?}");
            assert!(r.object.is_empty());
            let serr = String::from_utf8_lossy(&r.stderr);
            assert!(
                serr.starts_with("distccd: ") && serr.contains(why),
                "{args:?}: {serr}"
            );
        }
        d.wait_log(why);
    }
    assert!(!marker.exists(), "a refused compiler name ran a command");
    assert!(
        d.log_text().matches("refused:").count() >= 20,
        "{}",
        d.log_text()
    );
    assert_jobs_dir_empty(&d);
    assert_normal_job_works(&d, t.path());
}

#[test]
fn pump_names_cannot_escape_the_job_directory() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("escape");
    // Targets the daemon could reach: its own TMPDIR (parent of every job dir) and a test dir.
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(
        &outside,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let o = outside.display().to_string();
    let climb = format!("/../../../../../../..{o}/x");
    let far_link = format!("../../../../../../../../../..{o}");
    let abs_link = format!("/../../../../../../../..{o}");
    let cases: Vec<(&str, Vec<Entry>, &str)> = vec![
        (
            "dotdot name",
            vec![(&climb, Some("x"), None)],
            "contains '..'",
        ),
        (
            "3.4's escape",
            vec![("/../../tmp/x", Some("x"), None)],
            "contains '..'",
        ),
        (
            "relative name",
            vec![("tmp/x", Some("x"), None)],
            "not an absolute path",
        ),
        (
            "relative link out, then a write through it",
            vec![
                ("/p/esc", None, Some(&far_link)),
                ("/p/esc/x", Some("x"), None),
            ],
            "a parent is a link",
        ),
        (
            "absolute link out, then a link through it",
            vec![
                ("/p/esc", None, Some(&abs_link)),
                ("/p/esc/y", None, Some("z")),
            ],
            "a parent is a link",
        ),
        (
            "a write onto the link itself",
            vec![
                ("/p/esc", None, Some(&far_link)),
                ("/p/esc", Some("x"), None),
            ],
            "sent twice",
        ),
    ];
    for (what, files, why) in cases {
        let reply = exchange(
            &d,
            &pump_request("/p", &["gcc", "-c", "/p/a.c", "-o", "a.o"], &files),
        );
        assert!(!reply.is_empty(), "{what}: no reply");
        let r = decode(3, &reply);
        assert_eq!(r.status, 100 << 8, "{what}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains(why),
            "{what}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(r.dotd.is_none());
        d.wait_log(why);
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{what}: wrote outside"
        );
    }
    assert!(
        !Path::new("/tmp/x").exists() || std::fs::read("/tmp/x").map(|c| c != b"x").unwrap_or(true)
    );
    assert_jobs_dir_empty(&d);
    assert_normal_job_works(&d, t.path());
}

pub(crate) fn vm_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:` …).
pub(crate) fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Room for a thousand connections: each idle connection costs the test a descriptor too.
pub(crate) fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on our own process.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(8192);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[test]
fn a_thousand_idle_connections_do_not_stop_a_compile() {
    if !require(&["gcc"]) {
        return;
    }
    raise_nofile();
    // One address may hold 128 connections by default; this test is about the daemon's own
    // cost of many idle ones (security.rs checks the per-address cap).
    let d = OurDaemon::start(&["--jobs", "1", "--max-connections-per-peer", "2000"]);
    let t = TempDir::new("idle");
    let idle: Vec<TcpStream> = (0..1000).map(|_| d.connect()).collect();
    // Half of them have started a request and stalled.
    for s in idle.iter().step_by(2) {
        let _ = (&*s).write_all(b"DIST00000001ARGC0000");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_normal_job_works(&d, t.path());
    let rss = vm_rss_kib(d.pid());
    eprintln!("distccd VmRSS with 1000 idle connections: {rss} kB");
    assert!(rss < 200 * 1024, "RSS {rss} kB with 1000 idle connections");
    drop(idle);
}

/// A C file that keeps gcc -O2 busy for several seconds.
pub(crate) fn slow_source() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..4000 {
        s.push_str(&format!(
            "int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) s += a[j] * {i} ^ (s >> 3); return s; }}\n"
        ));
    }
    s.into_bytes()
}

pub(crate) fn compiler_processes_in(dir: &Path) -> usize {
    processes_with(&dir.display().to_string()).len()
}

/// Processes on this machine whose command line (words joined by spaces) contains `needle`.
pub(crate) fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let c = std::fs::read(e.path().join("cmdline")).ok()?;
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            c.contains(needle).then_some(c)
        })
        .collect()
}

/// A request's command line alone, as our client sends it while its preprocessor still runs.
pub(crate) fn head_only(version: u32, args: &[&str]) -> Vec<u8> {
    let mut r = tok("DIST", version);
    r.extend(argv(args));
    r
}

/// The source that completes a request begun with [`head_only`].
pub(crate) fn doti(version: u32, i: &[u8]) -> Vec<u8> {
    if version == 1 {
        string("DOTI", i)
    } else {
        string("DOTI", &proto::lzo::compress(i))
    }
}

/// Waits up to 20 s for `n` processes (the driver and cc1) of a job in `d`'s directories.
fn wait_for_compilers(d: &OurDaemon, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while compiler_processes_in(&d.jobs_dir()) < n {
        assert!(Instant::now() < deadline, "the compiler never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to 10 s until no process of a job is left in `d`'s directories.
fn wait_for_no_compilers(d: &OurDaemon, survived: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while compiler_processes_in(&d.jobs_dir()) > 0 {
        assert!(Instant::now() < deadline, "{survived}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn finish_request(mut s: TcpStream, rest: &[u8]) -> Vec<u8> {
    s.write_all(rest).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    strip_trailer(reply)
}

#[test]
fn a_compiler_started_before_its_source_arrives_builds_the_same_object() {
    if !require(&["gcc", "clang"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    // The test daemon allows gcc's names only; allow clang too (read for every job).
    std::os::unix::fs::symlink("/usr/bin/distcc", d.dir.path().join("allow/clang")).unwrap();
    let t = TempDir::new("early");
    let i = preprocessed(t.path());
    // Larger than a pipe holds, so the source is fed while the compiler reads it.
    let mut big = i.clone();
    big.extend_from_slice(&b"/* padding */\n".repeat(150_000));
    for (compiler, processes) in [("gcc", 2), ("clang", 1)] {
        for version in [1, 2] {
            for source in [&i, &big] {
                let s = d.connect();
                (&s).write_all(&head_only(
                    version,
                    &[compiler, "-O2", "-c", "a.c", "-o", "a.o"],
                ))
                .unwrap();
                // The compiler (gcc's driver and cc1; clang, which compiles in process)
                // starts on the command line alone, and waits for the source.
                wait_for_compilers(&d, processes);
                let reply = finish_request(s, &doti(version, source));
                let r = decode(version, &reply);
                assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
                assert_eq!(
                    r.object,
                    local_object_by(compiler, t.path(), source),
                    "{compiler}, version {version}"
                );
                assert_jobs_dir_empty(&d);
            }
        }
    }
    // A compile error in a fed source: gcc's status and words, as from a stored one.
    let s = d.connect();
    (&s).write_all(&head_only(1, &["gcc", "-c", "b.c", "-o", "b.o"]))
        .unwrap();
    wait_for_compilers(&d, 2);
    let reply = finish_request(s, &doti(1, b"int f(void) { return y; }\n"));
    let r = decode(1, &reply);
    assert_eq!(r.status, 1 << 8);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("undeclared"), "{err}");
    assert!(r.object.is_empty());
    assert_jobs_dir_empty(&d);
}

#[test]
fn a_compiler_that_quits_before_reading_its_source_is_reported() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = d.connect();
    (&s).write_all(&head_only(
        1,
        &["gcc", "-fno-such-option-anywhere", "-c", "a.c", "-o", "a.o"],
    ))
    .unwrap();
    // The driver rejects the option and exits without reading; the source (more than a pipe
    // holds) is still read to its end, and the client gets gcc's own complaint.
    std::thread::sleep(Duration::from_millis(300));
    let reply = finish_request(s, &doti(1, &b"/* padding */\n".repeat(100_000)));
    let r = decode(1, &reply);
    assert_eq!(r.status, 1 << 8);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("no-such-option-anywhere"), "{err}");
    assert_jobs_dir_empty(&d);
    assert_normal_job_works(&d, TempDir::new("early-after").path());
}

#[test]
fn a_client_that_hangs_up_before_its_source_leaves_no_compiler() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = d.connect();
    (&s).write_all(&head_only(1, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"]))
        .unwrap();
    wait_for_compilers(&d, 2);
    drop(s);
    d.wait_log("request incomplete");
    wait_for_no_compilers(&d, "the waiting compiler survived");
    assert_jobs_dir_empty(&d);
}

#[test]
fn a_compile_that_reads_its_source_twice_waits_for_all_of_it() {
    if !require(&["gcc"]) {
        return;
    }
    // -fcompare-debug compiles the input twice, which a pipe cannot give: the compiler must
    // not start before the source is stored.
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("twice");
    let i = preprocessed(t.path());
    let s = d.connect();
    (&s).write_all(&head_only(
        1,
        &["gcc", "-O2", "-fcompare-debug", "-c", "a.c", "-o", "a.o"],
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(compiler_processes_in(&d.jobs_dir()), 0);
    let reply = finish_request(s, &doti(1, &i));
    let r = decode(1, &reply);
    assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(r.object, local_object(t.path(), &i));
}

#[test]
fn job_lifetime_kills_the_compiler_and_reports_118() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--job-lifetime", "1"]);
    let start = Instant::now();
    let reply = exchange(
        &d,
        &plain_request(
            1,
            &["gcc", "-O2", "-c", "slow.c", "-o", "slow.o"],
            &slow_source(),
        ),
    );
    let r = decode(1, &reply);
    assert_eq!(r.status, 118 << 8, "{}", String::from_utf8_lossy(&r.stderr));
    assert!(reply.ends_with(b"DOTO00000000"));
    assert!(start.elapsed() < Duration::from_secs(30));
    d.wait_log("exceeded the job lifetime");
    assert_eq!(compiler_processes_in(&d.jobs_dir()), 0);
    assert_jobs_dir_empty(&d);
}

#[test]
fn client_hang_up_kills_the_compiler_group() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let mut s = d.connect();
    s.write_all(&plain_request(
        1,
        &["gcc", "-O2", "-c", "slow.c", "-o", "slow.o"],
        &slow_source(),
    ))
    .unwrap();
    // Wait until cc1 is running in the job dir, then hang up.
    wait_for_compilers(&d, 2);
    drop(s);
    d.wait_log("client hung up, compiler killed");
    wait_for_no_compilers(&d, "compiler survived the hang-up");
    assert_jobs_dir_empty(&d);
}

#[test]
fn sigterm_finishes_running_jobs_then_exits() {
    if !require(&["gcc"]) {
        return;
    }
    let mut d = OurDaemon::start(&[]);
    let mut s = d.connect();
    let src: Vec<u8> = slow_source().into_iter().take(200_000).collect();
    let cut = src.iter().rposition(|b| *b == b'\n').unwrap() + 1;
    s.write_all(&plain_request(
        1,
        &["gcc", "-O2", "-c", "slow.c", "-o", "slow.o"],
        &src[..cut],
    ))
    .unwrap();
    wait_for_compilers(&d, 2);
    let idle = d.connect();
    let status = d.terminate();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert!(
        reply.starts_with(b"DONE00000001STAT00000000"),
        "{:?}",
        &reply[..reply.len().min(40)]
    );
    assert!(status.success(), "{status}");
    let log = d.log_text();
    assert!(
        log.contains("shutdown requested") && log.contains("all jobs finished"),
        "{log}"
    );
    drop(idle);
    assert!(TcpStream::connect(("127.0.0.1", d.port)).is_err());
}

#[test]
fn daemon_mode_without_allow_refuses_to_start() {
    let out = Command::new(crate::support::distccd_bin())
        .args(["--daemon", "--no-detach", "--log-stderr", "--port", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow option is mandatory"));
    let out = Command::new(crate::support::distccd_bin())
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(101));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus: unknown option"));
}

#[test]
fn inetd_mode_serves_one_request_on_stdin() {
    if !require(&["gcc"]) {
        return;
    }
    let t = TempDir::new("inetd");
    let i = preprocessed(t.path());
    let req = plain_request(2, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i);
    let (reply, out) = inetd_exchange(&[], t.path(), &req);
    assert!(out.status.success());
    let r = decode(2, &reply);
    assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.object, local_object(t.path(), &i));
}

/// Runs `distccd --inetd` (after the `wrap` words, for example `setpriv …`) with `TMPDIR`
/// `tmp`, sends `req` on its stdin and returns the reply from its stdout and how it ended
/// (its log on stderr). Stdin stays open until the reply is read: its hang-up means the
/// client went away.
pub(crate) fn inetd_exchange(
    wrap: &[&str],
    tmp: &Path,
    req: &[u8],
) -> (Vec<u8>, std::process::Output) {
    let mut words: Vec<std::ffi::OsString> = wrap.iter().map(Into::into).collect();
    words.push(crate::support::distccd_bin().into());
    let mut child = Command::new(&words[0])
        .args(&words[1..])
        .args([
            "--inetd",
            "--log-stderr",
            "--log-level",
            "info",
            "--allowed-compilers",
            "/usr/lib/distcc",
        ])
        .env("TMPDIR", tmp)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(req).unwrap();
    let mut reply = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut reply)
        .unwrap();
    drop(stdin);
    (reply, child.wait_with_output().unwrap())
}
