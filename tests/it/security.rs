//! Security of our distccd against hostile requests, beyond the refusals and pump escapes in
//! `daemon.rs`: the access list for IPv4, IPv6 and IPv4-mapped peers (a dual-stack listener in
//! a network namespace of our own, peers bound to chosen source addresses), the privilege
//! drop (the daemon and the compilers it runs, read from /proc), and the promise that no
//! request makes the daemon execute anything but an allow-listed compiler: every attack
//! below points at programs that would leave a marker file if they ever ran.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::faults::wait_for_process;
use crate::netns::{self, Netns};
use crate::support::{OurDaemon, TempDir, ci, require};

/// One pump entry: name, then `FILE` contents or a `LINK` target.
type Entry<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>);
/// The same, owned.
type OwnedEntry = (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

fn tok(t: &str, n: u32) -> Vec<u8> {
    format!("{t}{n:08x}").into_bytes()
}

fn string(t: &str, s: &[u8]) -> Vec<u8> {
    let mut v = tok(t, s.len() as u32);
    v.extend_from_slice(s);
    v
}

fn argv(args: &[&[u8]]) -> Vec<u8> {
    let mut v = tok("ARGC", args.len() as u32);
    for a in args {
        v.extend(string("ARGV", a));
    }
    v
}

fn plain_request(version: u32, args: &[&[u8]], i: &[u8]) -> Vec<u8> {
    let mut r = tok("DIST", version);
    r.extend(argv(args));
    if version == 1 {
        r.extend(string("DOTI", i));
    } else {
        r.extend(string("DOTI", &proto::lzo::compress(i)));
    }
    r
}

/// A v3 (pump) request: working directory, argv, then files (`FILE`) and links (`LINK`).
fn pump_request(cwd: &[u8], args: &[&[u8]], files: &[Entry<'_>]) -> Vec<u8> {
    let mut r = tok("DIST", 3);
    r.extend(string("CDIR", cwd));
    r.extend(argv(args));
    r.extend(tok("NFIL", files.len() as u32));
    for (name, file, link) in files {
        r.extend(string("NAME", name));
        if let Some(f) = file {
            r.extend(string("FILE", &proto::lzo::compress(f)));
        }
        if let Some(l) = link {
            r.extend(string("LINK", l));
        }
    }
    r
}

fn exchange_on(mut s: TcpStream, req: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let _ = s.write_all(req);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    crate::daemon::strip_trailer(reply)
}

fn decode(version: u32, reply: &[u8]) -> proto::Reply {
    let v = proto::Version::from_wire(version).unwrap();
    proto::read_reply(&mut &reply[..], v, &proto::Limits::DEFAULT).expect("a well-formed reply")
}

const SMALL_I: &[u8] = b"int twice(int x) { return 2 * x; }\n";

fn have_root(what: &str) -> bool {
    if netns::available() {
        return true;
    }
    assert!(!ci(), "CI=true but {what} needs root and ip(8)");
    eprintln!("skipping {what}: needs root and ip(8)");
    false
}

/// A TCP connection from `src` (port chosen by the kernel) to `dst`, made by the calling
/// thread (so in that thread's network namespace).
fn connect_from(src: IpAddr, dst: SocketAddr) -> std::io::Result<TcpStream> {
    let (domain, sa, len) = sockaddr(SocketAddr::new(src, 0));
    let (_, da, dlen) = sockaddr(dst);
    // SAFETY: plain socket calls on a descriptor we own until TcpStream takes it.
    unsafe {
        let fd = libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let s = TcpStream::from_raw_fd(fd);
        if libc::bind(fd, (&sa as *const libc::sockaddr_storage).cast(), len) != 0
            || libc::connect(fd, (&da as *const libc::sockaddr_storage).cast(), dlen) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(s)
    }
}

fn sockaddr(a: SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroed storage is a valid sockaddr_storage; we fill one variant.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            (
                libc::AF_INET,
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                libc::AF_INET6,
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// Runs `f` on a thread that has joined network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("opening the namespace");
        // SAFETY: setns on this thread only (network namespaces are per thread).
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

#[test]
fn access_list_matches_ipv4_ipv6_and_ipv4_mapped_peers() {
    if !require(&["gcc"]) || !have_root("the access-list test") {
        return;
    }
    let ns = Netns::new("acl").expect("namespace");
    for a in ["10.200.0.1/32", "10.200.0.2/32"] {
        ns.exec("ip", &["addr", "add", a, "dev", "lo"]).unwrap();
    }
    for a in ["fd00:200::1/128", "fd00:200::2/128"] {
        ns.exec("ip", &["-6", "addr", "add", a, "dev", "lo", "nodad"])
            .unwrap();
    }
    // Dual-stack (`::`) inside the namespace: IPv4 clients arrive as ::ffff:a.b.c.d and must
    // match the IPv4 rule. A second daemon listens on IPv4 only.
    let allow = ["10.200.0.1/32", "fd00:200::1/128"];
    let dual = OurDaemon::start_in(Some(&ns.name), "::", &allow, None, &[]);
    let v4 = OurDaemon::start_in(Some(&ns.name), "10.200.0.1", &allow, None, &[]);
    let cases: Vec<(&str, &str, &str, u16, bool)> = vec![
        (
            "ipv4-mapped allowed",
            "10.200.0.1",
            "10.200.0.2",
            dual.port,
            true,
        ),
        (
            "ipv4-mapped denied",
            "10.200.0.2",
            "10.200.0.1",
            dual.port,
            false,
        ),
        (
            "ipv6 allowed",
            "fd00:200::1",
            "fd00:200::2",
            dual.port,
            true,
        ),
        (
            "ipv6 denied",
            "fd00:200::2",
            "fd00:200::1",
            dual.port,
            false,
        ),
        ("ipv4 allowed", "10.200.0.1", "10.200.0.1", v4.port, true),
        ("ipv4 denied", "10.200.0.2", "10.200.0.1", v4.port, false),
    ];
    let req = plain_request(1, &[b"gcc", b"-c", b"a.c", b"-o", b"a.o"], SMALL_I);
    for (what, src, dst, port, allowed) in cases {
        let src: IpAddr = src.parse().unwrap();
        let dst = SocketAddr::new(dst.parse().unwrap(), port);
        let req = req.clone();
        let reply = in_netns(&ns.name, move || {
            let s = connect_from(src, dst).expect("connect inside the namespace");
            exchange_on(s, &req)
        });
        if allowed {
            let r = decode(1, &reply);
            assert_eq!(
                r.status,
                0,
                "{what}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(!r.object.is_empty(), "{what}");
        } else {
            assert!(reply.is_empty(), "{what}: a denied peer got {reply:?}");
        }
    }
    let log = dual.wait_log("[::ffff:10.200.0.2]");
    assert!(log.contains("denied by the access list"), "{log}");
    dual.wait_log("[fd00:200::2]");
    v4.wait_log("10.200.0.2:");
    assert_eq!(
        dual.log_text().matches("denied by the access list").count(),
        2
    );
    assert_eq!(
        v4.log_text().matches("denied by the access list").count(),
        1
    );
}

/// `Uid:`/`Gid:` (real, effective, saved, fs) and `Groups:` of a process.
fn ids(pid: u32) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let field = |name: &str| -> Vec<u32> {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    (field("Uid:"), field("Gid:"), field("Groups:"))
}

#[test]
fn a_daemon_started_as_root_runs_itself_and_its_compilers_unprivileged() {
    if !require(&["gcc"]) {
        return;
    }
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!ci(), "CI=true but the privilege-drop test needs root");
        eprintln!("skipping: not root");
        return;
    }
    let expect_uid = |user: &str| -> u32 {
        let out = Command::new("id").args(["-u", user]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(u32::MAX)
    };
    // Default (distcc, then distccd, then nobody) and an explicit --user.
    let default_uid = ["distcc", "distccd", "nobody"]
        .iter()
        .map(|u| expect_uid(u))
        .find(|u| *u != u32::MAX)
        .unwrap_or(65534);
    for (extra, want) in [
        (vec![], default_uid),
        (vec!["--user", "nobody"], expect_uid("nobody")),
    ] {
        let d = OurDaemon::start(&extra);
        let (uid, gid, groups) = ids(d.pid());
        assert!(
            uid.iter().all(|u| *u == want),
            "daemon uids {uid:?}, want {want}"
        );
        assert!(gid.iter().all(|g| *g != 0), "daemon gids {gid:?}");
        assert!(!groups.contains(&0), "daemon groups {groups:?}");
        // A compile that takes a while: look at the compiler the daemon started.
        let src = crate::faults::slow_source();
        let s = d.connect();
        let req = plain_request(
            1,
            &[b"gcc", b"-O2", b"-c", b"s.c", b"-o", b"s.o"],
            src.as_bytes(),
        );
        let t = std::thread::spawn(move || exchange_on(s, &req));
        let cc1 = wait_for_process("cc1", &d.jobs_dir());
        let (cuid, cgid, cgroups) = ids(cc1 as u32);
        assert!(cuid.iter().all(|u| *u == want), "cc1 uids {cuid:?}");
        assert!(
            cgid.iter().all(|g| *g != 0) && !cgroups.contains(&0),
            "cc1 {cgid:?} {cgroups:?}"
        );
        let reply = t.join().unwrap();
        assert_eq!(decode(1, &reply).status, 0);
        assert!(
            d.log_text().contains(&format!("(uid {want})")),
            "{}",
            d.log_text()
        );
        eprintln!("security: daemon {extra:?} runs as uid {want}, and so does its cc1 (pid {cc1})");
    }
}

/// Programs that leave a marker if they ever run, and a response file and specs file that
/// point at them.
struct Trap {
    dir: TempDir,
}

impl Trap {
    fn new() -> Trap {
        let dir = TempDir::new("trap");
        let t = Trap { dir };
        let script = format!(
            "#!/bin/sh\necho \"$0 $*\" >> {}\nexit 1\n",
            t.marker().display()
        );
        for name in [
            "cc1",
            "as",
            "collect2",
            "ld",
            "wrapper",
            "gcc",
            "sh",
            "x86_64-linux-gnu-as",
        ] {
            let p = t.evil().join(name);
            std::fs::create_dir_all(t.evil()).unwrap();
            std::fs::write(&p, &script).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(t.evil(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let rsp = format!("-B{}/\n", t.evil().display());
        std::fs::write(t.evil().join("rsp"), rsp).unwrap();
        let specs = format!("*cc1:\n+ -wrapper {}/wrapper\n", t.evil().display());
        std::fs::write(t.evil().join("specs"), specs).unwrap();
        t
    }

    fn evil(&self) -> std::path::PathBuf {
        self.dir.path().join("evil")
    }

    fn marker(&self) -> std::path::PathBuf {
        self.dir.path().join("ran")
    }

    fn sprung(&self) -> Option<String> {
        std::fs::read_to_string(self.marker()).ok()
    }
}

#[test]
fn no_request_makes_the_daemon_run_a_program_that_is_not_an_allow_listed_compiler() {
    if !require(&["gcc", "clang"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    // clang too, so its plugin options meet the option check, not the name check.
    std::os::unix::fs::symlink("/usr/bin/distcc", d.dir.path().join("allow/clang")).unwrap();
    let trap = Trap::new();
    let e = trap.evil().display().to_string();
    let b_dir = format!("-B{e}/");
    let wrapper = format!("{e}/wrapper");
    let rsp = format!("@{e}/rsp");
    let specs = format!("--specs={e}/specs");
    let specs1 = format!("-specs={e}/specs");
    let prefix = format!("--prefix={e}/");
    let plugin = format!("-fplugin={e}/p.so");
    let pass = format!("-fpass-plugin={e}/p.so");
    let so = format!("{e}/p.so");
    let toolchain = format!("--gcc-toolchain={e}");
    let abs = format!("{e}/gcc");
    let up = format!("/usr/bin/../../{e}/gcc");
    let c = |v: &[&str]| -> Vec<Vec<u8>> { v.iter().map(|a| a.as_bytes().to_vec()).collect() };
    let compile = ["-c", "a.c", "-o", "a.o"];
    let with = |cc: &str, opts: &[&str]| -> Vec<Vec<u8>> {
        let mut v = c(&[cc]);
        v.extend(c(opts));
        v.extend(c(&compile));
        v
    };
    let mut attacks: Vec<(String, Vec<Vec<u8>>)> = vec![
        ("-B dir".into(), with("gcc", &["-B", &format!("{e}/")])),
        ("-Bdir".into(), with("gcc", &[&b_dir])),
        ("-wrapper".into(), with("gcc", &["-wrapper", &wrapper])),
        ("response file".into(), with("gcc", &[&rsp])),
        ("--specs=".into(), with("gcc", &[&specs])),
        ("-specs=".into(), with("gcc", &[&specs1])),
        ("--prefix=".into(), with("clang", &[&prefix])),
        ("-fplugin=".into(), with("gcc", &[&plugin])),
        ("-fpass-plugin=".into(), with("clang", &[&pass])),
        (
            "-Xclang -load".into(),
            with("clang", &["-Xclang", "-load", "-Xclang", &so]),
        ),
        (
            "--gcc-toolchain=".into(),
            with("clang", &[&toolchain, "-fno-integrated-as"]),
        ),
    ];
    for name in [
        "sh",
        "/bin/sh",
        "env",
        "/usr/bin/env",
        "cc1",
        "/usr/bin/gcc/../../bin/sh",
        "/usr/local/bin/../../../bin/sh",
        "./gcc",
        &abs,
        &up,
        "gcc;sh",
        "gcc sh",
        "gcc|sh",
        "gcc&&sh",
        "gcc\nsh",
        "`sh`",
        "$(sh)",
        "gcc>x",
        "~/gcc",
        "gcc/",
    ] {
        attacks.push((format!("compiler {name:?}"), with(name, &[])));
    }
    attacks.push(("compiler with a NUL".into(), {
        let mut v = with("gcc", &[]);
        v[0] = b"gcc\0sh".to_vec();
        v
    }));
    let mut refused = 0;
    for (what, args) in &attacks {
        for version in [1, 2] {
            let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
            let reply = exchange_on(d.connect(), &plain_request(version, &refs, SMALL_I));
            if reply.is_empty() {
                // Malformed at the protocol level (a NUL in ARGV): closed, as 3.4 does.
                assert!(what.contains("NUL"), "{what}: closed without a reply");
                d.wait_log("bad request, closing");
                continue;
            }
            let r = decode(version, &reply);
            let serr = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status, 101 << 8, "{what}: not refused: {serr}");
            assert!(serr.starts_with("distccd: "), "{what}: {serr}");
            assert!(r.object.is_empty());
            refused += 1;
        }
        assert_eq!(trap.sprung(), None, "{what} ran a program");
    }
    // Pump: upload the trap programs into the job and point -B at them.
    let as_script = std::fs::read(trap.evil().join("as")).unwrap();
    let files: Vec<Entry<'_>> = vec![
        (b"/p/a.c", Some(SMALL_I), None),
        (b"/p/evil/as", Some(&as_script), None),
        (b"/p/evil/cc1", Some(&as_script), None),
    ];
    for opt in [&b"-B/p/evil/"[..], b"-Bevil/", b"@/p/evil/as"] {
        let reply = exchange_on(
            d.connect(),
            &pump_request(
                b"/p",
                &[b"gcc", opt, b"-c", b"/p/a.c", b"-o", b"a.o"],
                &files,
            ),
        );
        let r = decode(3, &reply);
        assert_eq!(r.status, 101 << 8, "pump {}", String::from_utf8_lossy(opt));
        refused += 1;
    }
    assert_eq!(trap.sprung(), None, "a pump request ran a program");
    // And an ordinary compile still works.
    let reply = exchange_on(
        d.connect(),
        &plain_request(1, &[b"gcc", b"-c", b"a.c", b"-o", b"a.o"], SMALL_I),
    );
    assert_eq!(decode(1, &reply).status, 0);
    eprintln!(
        "security: {refused} hostile requests ({} kinds) refused, nothing ran",
        attacks.len() + 3
    );
}

#[test]
fn pump_paths_in_odd_forms_stay_inside_the_job_directory() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let t = TempDir::new("odd-escape");
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = outside.display().to_string();
    let long = format!("/p/{}", "d/".repeat(3000));
    let deep = format!("/p/{}x", "d/".repeat(1500));
    let climb_cdir = format!("/p/../../../../../../../../..{o}");
    let climb_link = format!("../../../../../../../../../../../..{o}");
    let nul = b"/p/x\0/../../../../../../../../tmp/y".to_vec();
    let cases: Vec<(&str, Vec<u8>, Vec<OwnedEntry>)> = vec![
        (
            "cdir climbing out",
            climb_cdir.clone().into_bytes(),
            vec![(b"/p/a.c".to_vec(), Some(SMALL_I.to_vec()), None)],
        ),
        (
            "name with a NUL",
            b"/p".to_vec(),
            vec![(nul, Some(b"x".to_vec()), None)],
        ),
        (
            "name past PATH_MAX, thousands of levels deep",
            b"/p".to_vec(),
            vec![(long.into_bytes(), Some(b"x".to_vec()), None)],
        ),
        (
            "deep but short name (stack of the job dir's removal)",
            b"/p".to_vec(),
            vec![(deep.into_bytes(), Some(b"x".to_vec()), None)],
        ),
        (
            "link out, then a directory under it",
            b"/p".to_vec(),
            vec![
                (
                    b"/p/l".to_vec(),
                    None,
                    Some(climb_link.clone().into_bytes()),
                ),
                (b"/p/l/sub/x".to_vec(), Some(b"x".to_vec()), None),
            ],
        ),
        (
            "dot segments",
            b"/p".to_vec(),
            vec![(
                format!("/p/./.{o}/x").into_bytes(),
                Some(b"x".to_vec()),
                None,
            )],
        ),
    ];
    for (what, cdir, files) in cases {
        let f: Vec<Entry<'_>> = files
            .iter()
            .map(|(n, c, l)| (&n[..], c.as_deref(), l.as_deref()))
            .collect();
        let reply = exchange_on(
            d.connect(),
            &pump_request(&cdir, &[b"gcc", b"-c", b"/p/a.c", b"-o", b"a.o"], &f),
        );
        assert!(
            TcpStream::connect(("127.0.0.1", d.port)).is_ok(),
            "{what}: the daemon died: {}\n{}",
            d.stderr_text(),
            d.log_text()
        );
        // Refused with a reason, or closed as malformed: never compiled, never written.
        if !reply.is_empty() {
            let r = decode(3, &reply);
            assert_ne!(r.status, 0, "{what}: compiled");
        }
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{what}: wrote outside"
        );
        assert!(!Path::new("/tmp/y").exists(), "{what}: wrote /tmp/y");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(d.jobs_dir()).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "job dirs left behind");
        std::thread::sleep(Duration::from_millis(20));
    }
}
