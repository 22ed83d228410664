//! Issue 20's regression suite: an attacker with nothing but an address that `--allow`
//! admits, against our real daemon (started as root, so it drops to its own user and
//! sandboxes every job). Each class of attack is tried in at least three spellings, with real
//! gcc; a stand-in for a compromised compiler (a shell script on the allow-list) shows what
//! the sandbox alone contains, whatever the option filter lets through. After each: no
//! marker file, no byte of a server file in any reply, nothing written outside the job, no
//! process left, daemon memory under a stated bound, and the next client still served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::{
    Entry, assert_normal_job_works, decode, exchange, inetd_exchange, plain_request, pump_request,
    slow_source, string, tok, vm_rss_kib,
};
use crate::support::{OurDaemon, TempDir, ci, require};

/// Root, or (outside CI) a skip: the daemon must start as root to drop to its own user.
fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return require(&["gcc", "bash", "setsid"]);
    }
    assert!(!ci(), "under CI=true the sandbox suite must run as root");
    false
}

/// A directory every user may read and write, for markers and would-be escapes.
fn open_dir(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// A file that the daemon's user could read on this machine (mode 0644), holding `marker`.
fn secret(dir: &Path, marker: &str) -> PathBuf {
    let p = dir.join("secret.txt");
    std::fs::write(&p, format!("{marker}\n{marker} line two\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    p
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A v1 request (nothing compressed, so a reply's bytes can be searched as they are).
fn v1(args: &[&str], source: &str) -> Vec<u8> {
    plain_request(1, args, source.as_bytes())
}

const COMPILE: [&str; 5] = ["-c", "a.c", "-o", "a.o", "-O0"];

fn gcc_with(extra: &[&str]) -> Vec<String> {
    let mut v = vec!["gcc".to_owned()];
    v.extend(extra.iter().map(|s| s.to_string()));
    v.extend(COMPILE.map(String::from));
    v
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn a_program_that_is_not_a_compiler_never_runs() {
    if !as_root() {
        return;
    }
    let d = OurDaemon::start(&[]);
    let out = open_dir("sandbox-marks");
    let o = out.path().display().to_string();
    // A directory with programs named as gcc's own, each leaving a marker when run.
    let bin = open_dir("sandbox-fakebin");
    for prog in ["cc1", "as", "collect2", "mark.sh"] {
        let p = bin.path().join(prog);
        std::fs::write(&p, format!("#!/bin/sh\ntouch {o}/ran-{prog}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let b = bin.path().display().to_string();
    let spec = bin.path().join("evil.specs");
    std::fs::write(&spec, format!("*cc1:\n+ ; touch {o}/ran-specs\n")).unwrap();
    let s = spec.display().to_string();
    let spellings: Vec<Vec<String>> = vec![
        gcc_with(&[&format!(
            "-fcompare-debug=-wrapper /bin/sh,-c,touch {o}/ran-1"
        )]),
        gcc_with(&["-wrapper", &format!("/bin/sh,-c,touch {o}/ran-2")]),
        gcc_with(&[&format!("-fcompare-debug=-B{b}/")]),
        gcc_with(&["-B", &format!("{b}/")]),
        gcc_with(&[&format!("-B{b}/")]),
        gcc_with(&[&format!("-specs={s}")]),
        gcc_with(&[&format!("-fcompare-debug=-specs={s}")]),
        gcc_with(&["-Xpreprocessor", &format!("-fplugin={b}/x.so")]),
        gcc_with(&[&format!("-Wp,-fplugin={b}/x.so")]),
        gcc_with(&["--for-assembler", &format!("@{b}/mark.sh")]),
        gcc_with(&["-Xclang", "-load", "-Xclang", &format!("{b}/x.so")]),
    ];
    for args in &spellings {
        let r = decode(1, &exchange(&d, &v1(&refs(args), "int x;\n")));
        assert_ne!(r.status, 0, "{args:?} compiled");
        let why = String::from_utf8_lossy(&r.stderr);
        assert!(why.contains("refused"), "{args:?}: {why}");
    }
    assert_eq!(
        entries(out.path()),
        Vec::<String>::new(),
        "a marker program ran"
    );
    assert_normal_job_works(&d, out.path());
}

#[test]
fn no_byte_of_a_server_file_comes_back() {
    if !as_root() {
        return;
    }
    let d = OurDaemon::start(&[]);
    let dir = open_dir("sandbox-secret");
    let marker = format!("SERVER-SECRET-{}", std::process::id());
    let f = secret(dir.path(), &marker).display().to_string();
    let dir_s = dir.path().display().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (gcc_with(&[]), format!("asm(\".incbin \\\"{f}\\\"\");\n")),
        (gcc_with(&[]), format!("asm(\".include \\\"{f}\\\"\");\n")),
        (
            gcc_with(&[]),
            "asm(\".incbin \\\"/etc/passwd\\\"\");\n".to_owned(),
        ),
        (gcc_with(&[]), format!("# 1 \"{f}\"\nint x = ;\n")),
        (gcc_with(&[&format!("-Wa,@{f}")]), "int x;\n".to_owned()),
        (gcc_with(&["-include", &f]), "int x;\n".to_owned()),
        (
            gcc_with(&[&format!("-Wa,-I{dir_s}")]),
            "asm(\".include \\\"secret.txt\\\"\");\n".to_owned(),
        ),
    ];
    for (args, source) in &cases {
        let reply = exchange(&d, &v1(&refs(args), source));
        assert!(
            !contains(&reply, &marker),
            "{args:?} with {source:?} sent back the secret"
        );
        assert!(
            !contains(&reply, "root:x:0:0"),
            "{args:?} sent back /etc/passwd"
        );
    }
    assert_normal_job_works(&d, dir.path());
}

#[test]
fn nothing_is_written_outside_the_job_directory() {
    if !as_root() {
        return;
    }
    let d = OurDaemon::start(&[]);
    let out = open_dir("sandbox-outside");
    let o = out.path().display().to_string();
    let plain: Vec<Vec<String>> = vec![
        gcc_with(&[&format!("--output={o}/w1")]),
        gcc_with(&["-dumpdir", &format!("{o}/"), "-fdump-tree-original"]),
        gcc_with(&[&format!("-Wp,-MD,{o}/w3")]),
        gcc_with(&[
            "-Xpreprocessor",
            "-MD",
            "-Xpreprocessor",
            &format!("{o}/w4"),
        ]),
        gcc_with(&[&format!("-fdump-tree-original={o}/w5")]),
        gcc_with(&[&format!("-Wa,-alh={o}/w6")]),
        gcc_with(&["--dumpdir", &format!("{o}/")]),
        gcc_with(&["-aux-info", &format!("{o}/w8")]),
    ];
    for args in &plain {
        let r = decode(
            1,
            &exchange(&d, &v1(&refs(args), "int f(void) { return 1; }\n")),
        );
        assert_ne!(r.status, 0, "{args:?} compiled");
    }
    // Pump: a planted link that later outputs would be written through, with options whose
    // relative names pass every argv check.
    let link: Vec<Entry> = vec![
        ("/home/u/p/a.c", Some("int f(void) { return 1; }\n"), None),
        ("/home/u/p/out", None, Some(&o)),
        ("/home/u/p/a.su", None, Some(&o)),
    ];
    for extra in [
        &["-dumpdir", "out/", "-fdump-tree-original"][..],
        &["-save-temps", "-dumpbase", "out/w"][..],
        &["-fstack-usage", "-dumpbase", "a"][..],
    ] {
        let mut args = vec!["gcc", "-O0"];
        args.extend_from_slice(extra);
        args.extend(["-c", "/home/u/p/a.c", "-o", "a.o"]);
        let _ = exchange(&d, &pump_request("/home/u/p", &args, &link));
    }
    assert_eq!(
        entries(out.path()),
        Vec::<String>::new(),
        "a job wrote outside"
    );
    assert_normal_job_works(&d, out.path());
}

#[test]
fn a_job_cannot_see_another_job() {
    if !as_root() {
        return;
    }
    let d = OurDaemon::start(&["--jobs", "4"]);
    let marker = format!("JOB-A-SOURCE-{}", std::process::id());
    let mut slow = format!("/* {marker} */\n").into_bytes();
    slow.extend(slow_source());
    let port = d.port;
    let a = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&plain_request(
            1,
            &["gcc", "-O2", "-c", "a.c", "-o", "a.o"],
            &slow,
        ))
        .unwrap();
        let mut r = Vec::new();
        let _ = s.read_to_end(&mut r);
        r
    });
    let pid = crate::faults::wait_for_compiling(&d.jobs_dir());
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    let job = cwd.display();
    for path in [
        format!("/proc/{pid}/cwd/input.i"),
        format!("/proc/{pid}/root{job}/input.i"),
        format!("{job}/input.i"),
        format!("/proc/{pid}/environ"),
    ] {
        let source = format!("asm(\".incbin \\\"{path}\\\"\");\n");
        let reply = exchange(&d, &v1(&refs(&gcc_with(&[])), &source));
        assert!(
            !contains(&reply, &marker),
            "{path} let a job read another's source"
        );
    }
    let first = decode(1, &a.join().unwrap());
    assert_eq!(
        first.status,
        0,
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
}

/// A stand-in for a compromised compiler: it reports what it can see and do, starts
/// processes meant to outlive the job, and writes the object gcc would.
fn evil_compiler(bin: &Path, secret: &Path, jobs: &Path, out: &Path, port: u16) {
    let script = format!(
        r#"#!/bin/bash
# The identity probe (fixed arguments, run outside the sandbox by design: ARCHITECTURE.md,
# `identity`) that a 1-3 job's advertisement (`ran=`) asks for: not a job; no answer here.
case "$1" in -dump*|-print-prog-name=*) exit 1;; esac
o=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && o="$a"; prev="$a"; done
{{
echo "uid=$(id -u) pid=$$ procs=$(ls /proc | grep -c '^[0-9]')"
head -1 /etc/passwd 2>/dev/null | sed 's/^/passwd=/'
cat {secret} 2>/dev/null | sed 's/^/secret=/'
cat {jobs}/*/input.i 2>/dev/null | grep -o 'OTHER-JOB-MARKER' | sed 's/^/other=/'
(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo net=open || echo net=closed
touch {out}/escaped 2>/dev/null && echo wrote=outside
ls /home /root /var 2>/dev/null | head -3 | sed 's/^/sees=/'
}} >&2
setsid sleep 3001.5 </dev/null >/dev/null 2>&1 &
(sleep 3002.5 </dev/null >/dev/null 2>&1 &)
nohup sleep 3003.5 </dev/null >/dev/null 2>&1 &
disown -a
echo object > "$o"
exit 0
"#,
        secret = secret.display(),
        jobs = jobs.display(),
        out = out.display(),
    );
    let p = bin.join("evilcc");
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(bin, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_compromised_compiler_is_contained_by_the_sandbox_alone() {
    if !as_root() {
        return;
    }
    // The "compiler" lives in a directory of its own: its installation is what the sandbox
    // shows of it.
    let install = TempDir::new("sandbox-evilcc");
    let bin = install.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::set_permissions(install.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = open_dir("sandbox-evil-out");
    let marker = format!("EVIL-SECRET-{}", std::process::id());
    let secret = secret(dir.path(), &marker);
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o777)).unwrap();
    // The daemon's port is only known once it runs; the script reads it from a file.
    let port_file = bin.join("port");
    std::fs::write(&port_file, "1").unwrap();
    let jobs_guess = TempDir::new("sandbox-evil-jobs");
    evil_compiler(&bin, &secret, jobs_guess.path(), &outside, 1);
    let d = OurDaemon::start_with_compilers(&[], &bin, &["evilcc"]);
    evil_compiler(&bin, &secret, &d.jobs_dir(), &outside, d.port);
    // Another client's job directory, as the daemon's own user could read it.
    let other = d.jobs_dir().join("distccd_otherjob");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("input.i"), "/* OTHER-JOB-MARKER */\n").unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();

    let reply = exchange(&d, &v1(&["evilcc", "-c", "a.c", "-o", "a.o"], "int x;\n"));
    let r = decode(1, &reply);
    let report = String::from_utf8_lossy(&r.stderr).into_owned();
    eprintln!("what the compromised compiler saw:\n{report}");
    assert_eq!(r.status, 0, "{report}");
    assert_eq!(r.object, b"object\n");
    assert!(
        report.contains(" pid=1 "),
        "not pid 1 of its own namespace: {report}"
    );
    assert!(!report.contains("uid=0 "), "ran as root: {report}");
    let procs: u32 = report
        .split("procs=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a process count");
    assert!(procs < 10, "sees {procs} processes");
    for leak in [
        "passwd=", "secret=", "other=", "wrote=", "sees=", "net=open",
    ] {
        assert!(!report.contains(leak), "{leak} in {report}");
    }
    assert!(report.contains("net=closed"), "{report}");
    assert!(!contains(&reply, &marker));
    assert_eq!(entries(&outside), Vec::<String>::new());
    std::fs::remove_dir_all(&other).unwrap();
    // Every process it started died with it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = crate::daemon::processes_with("sleep 300");
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "outlived the job: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_normal_job_works(&d, dir.path());
}

/// An LZO1X stream of about `zeros` + 7 bytes that expands to about 255 × `zeros` bytes:
/// one literal, then one match of distance 1 whose length is a run of zero bytes.
fn lzo_bomb(zeros: usize) -> Vec<u8> {
    let mut v = vec![0x12, b'x', 0x20];
    v.resize(3 + zeros, 0);
    v.extend_from_slice(&[0xff, 0x00, 0x00, 0x11, 0x00, 0x00]);
    v
}

fn peak_kib(pid: u32) -> u64 {
    crate::daemon::proc_status_kib(pid, "VmHWM:")
}

#[test]
fn bombs_and_floods_are_refused_within_a_memory_bound() {
    if !as_root() {
        return;
    }
    // Bound: the memory budget (256 MiB) plus what the daemon needs besides (under 64 MiB).
    const BUDGET_MB: u64 = 256;
    const BOUND_KIB: u64 = (BUDGET_MB + 64) * 1024;
    // 127.0.0.0/8 admitted: the flood comes from 127.0.0.1, another client from 127.0.0.2.
    let d = OurDaemon::start_in(
        None,
        "127.0.0.1",
        &["127.0.0.0/8"],
        None,
        &[
            "--memory-budget-mb",
            "256",
            "--max-object-mb",
            "16",
            "--job-memory-mb",
            "1024",
        ],
    );
    let scratch = open_dir("sandbox-bombs");
    // 4 MiB of wire bytes expanding to 1 GiB: a DOTI body, four at once, and pump FILEs.
    let bomb = lzo_bomb(4 << 20);
    let doti_bomb = {
        let mut r = tok("DIST", 2);
        r.extend(crate::daemon::argv(&["gcc", "-c", "a.c", "-o", "a.o"]));
        r.extend(tok("DOTI", bomb.len() as u32));
        r.extend_from_slice(&bomb);
        r
    };
    let pump_bomb = {
        let mut r = tok("DIST", 3);
        r.extend(string("CDIR", b"/p"));
        r.extend(crate::daemon::argv(&["gcc", "-c", "/p/a.c", "-o", "a.o"]));
        r.extend(tok("NFIL", 3));
        for n in ["/p/a.c", "/p/b.h", "/p/c.h"] {
            r.extend(string("NAME", n.as_bytes()));
            r.extend(tok("FILE", bomb.len() as u32));
            r.extend_from_slice(&bomb);
        }
        r
    };
    let send = |req: Vec<u8>| {
        let port = d.port;
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let _ = s.write_all(&req);
            let mut r = Vec::new();
            let _ = s.read_to_end(&mut r);
            r
        })
    };
    let mut threads = vec![send(doti_bomb.clone()), send(pump_bomb)];
    for _ in 0..4 {
        threads.push(send(doti_bomb.clone()));
    }
    for t in threads {
        let reply = t.join().unwrap();
        assert!(
            !contains(&reply, "DOTO") || decode(2, &reply).status != 0,
            "a bomb compiled"
        );
    }
    assert_normal_job_works(&d, scratch.path());
    let peak = peak_kib(d.pid());
    eprintln!("distccd peak RSS after six 1 GiB bombs: {peak} kB (bound {BOUND_KIB} kB)");
    assert!(peak < BOUND_KIB, "peak RSS {peak} kB");
    assert!(
        d.log_text().contains("memory budget"),
        "no refusal logged:\n{}",
        d.log_text()
    );

    // Outputs past --max-object-mb (16 MiB; a job may write no file over 32 MiB).
    for source in [
        "asm(\".fill 0x1800000, 1, 0\");\n",
        "asm(\".space 0x4000000\");\n",
        "char big[0x3000000] = { 1 };\n",
        "asm(\".incbin \\\"/dev/zero\\\"\");\n",
    ] {
        let started = Instant::now();
        let r = decode(1, &exchange(&d, &v1(&refs(&gcc_with(&[])), source)));
        assert_ne!(r.status, 0, "{source} compiled");
        assert!(r.object.is_empty());
        eprintln!(
            "{source:?}: refused in {} ms: {}",
            started.elapsed().as_millis(),
            String::from_utf8_lossy(&r.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    let peak = peak_kib(d.pid());
    assert!(
        peak < BOUND_KIB,
        "peak RSS {peak} kB after the object bombs"
    );
    eprintln!("distccd RSS now {} kB", vm_rss_kib(d.pid()));

    // A flood of idle connections from one address: it gets its share (128), another
    // address is still served.
    crate::daemon::raise_nofile();
    let idle: Vec<TcpStream> = (0..1000).map(|_| d.connect()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let closed = idle
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            matches!((&**s).read(&mut [0u8; 1]), Ok(0))
        })
        .count();
    assert!(
        closed >= 1000 - 128,
        "only {closed} of 1000 flood connections were closed"
    );
    let from = SocketAddr::from(([127, 0, 0, 2], 0));
    let sock = socket2_connect(from, d.port);
    let mut s = sock;
    let i = crate::daemon::preprocessed(scratch.path());
    s.write_all(&plain_request(
        1,
        &["gcc", "-O2", "-c", "a.c", "-o", "a.o"],
        &i,
    ))
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let r = decode(1, &reply);
    assert_eq!(r.status, 0, "another address was not served during a flood");
    assert_eq!(r.object, crate::daemon::local_object(scratch.path(), &i));
    drop(idle);
}

/// A TCP connection to 127.0.0.1:`port` from the source address `from`.
fn socket2_connect(from: SocketAddr, port: u16) -> TcpStream {
    // SAFETY: a plain socket, bound and connected with valid sockaddr_in structs.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let SocketAddr::V4(f) = from else {
            unreachable!()
        };
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from_ne_bytes(f.ip().octets());
        assert_eq!(
            libc::bind(
                fd,
                (&a as *const libc::sockaddr_in).cast(),
                size_of_val(&a) as u32
            ),
            0
        );
        a.sin_port = port.to_be();
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        assert_eq!(
            libc::connect(
                fd,
                (&a as *const libc::sockaddr_in).cast(),
                size_of_val(&a) as u32
            ),
            0
        );
        let s = <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd);
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    }
}

/// A daemon that cannot sandbox says so and does not start; `--no-sandbox` is explicit and
/// shown in the stats.
#[test]
fn a_daemon_that_cannot_sandbox_refuses_to_start_without_no_sandbox() {
    if !as_root() {
        return;
    }
    // A /proc with something mounted over part of it, as containers have: no sandbox can
    // mount a /proc of its own there.
    let run = |extra: &str| {
        let cmd = format!(
            "mount -t tmpfs none /proc/sys && exec {} --daemon --no-detach --log-stderr \
             --allow 127.0.0.1 --listen 127.0.0.1 --port {} --lifetime 1 {extra}",
            crate::support::distccd_bin().display(),
            crate::support::free_port()
        );
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &cmd])
            .output()
            .unwrap()
    };
    let out = run("");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(100), "{err}");
    assert!(err.contains("cannot sandbox jobs here"), "{err}");
    assert!(err.contains("(mount /proc)"), "{err}");
    assert!(err.contains("--no-sandbox runs jobs unconfined"), "{err}");
    let out = run("--no-sandbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("--no-sandbox: jobs run unconfined"), "{err}");
}

/// SSH mode: `distccd --inetd` started by an ordinary user (as sshd starts it for the user who
/// logs in) sandboxes its job too, with no privilege at all.
#[test]
fn an_unprivileged_inetd_daemon_sandboxes_its_job() {
    if !as_root() || !require(&["setpriv"]) {
        return;
    }
    let nobody = [
        "setpriv",
        "--reuid",
        "nobody",
        "--regid",
        "nogroup",
        "--clear-groups",
    ];
    let t = open_dir("sandbox-inetd");
    let source = format!(
        "asm(\".incbin \\\"{}\\\"\");\nint twice(int x) {{ return 2 * x; }}\n",
        secret(t.path(), "INETD-SECRET").display()
    );
    let (reply, out) = inetd_exchange(&nobody, t.path(), &v1(&refs(&gcc_with(&[])), &source));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("jobs run in a sandbox"), "{log}");
    assert!(
        !contains(&reply, "INETD-SECRET"),
        "the job read a file of the server"
    );
    assert_ne!(
        decode(1, &reply).status,
        0,
        "the .incbin of a server file assembled"
    );
    // And an ordinary compile goes through.
    let i = crate::daemon::preprocessed(t.path());
    let req = plain_request(1, &["gcc", "-O2", "-c", "a.c", "-o", "a.o"], &i);
    let (reply, out) = inetd_exchange(&nobody, t.path(), &req);
    assert!(out.status.success());
    let r = decode(1, &reply);
    assert_eq!(r.status, 0, "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(r.object, crate::daemon::local_object(t.path(), &i));
}
