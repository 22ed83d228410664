//! Issue 19, where a user meets it: the .deb built by `scripts/build-deb.sh` and installed
//! with dpkg into a scratch root; `systemd-analyze verify` on its units; distccd started by
//! `systemd-socket-activate` with a passed socket and by the service wrapper with Debian's
//! settings; `READY=1` on `NOTIFY_SOCKET`; the allow-list and masquerade helpers; the
//! completions parsed by bash, zsh and fish. Tools missing under `CI=true` fail the test.

use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, distccd_bin, free_port, require};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn distcc_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distcc"))
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child in its own process group, killed with the group on drop.
struct Group(Option<Child>);

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        Group(Some(
            cmd.stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}")),
        ))
    }

    fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }

    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.0.take()?;
        crate::proc::stop_group(&mut c, Duration::from_secs(10))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An allow-list directory for gcc made by our helper, and a C file.
fn allow_dir_and_source(dir: &Path) -> PathBuf {
    let allow = dir.join("allow");
    ok(Command::new(repo().join("dist/helpers/distcc-allowlist"))
        .arg("--dir")
        .arg(&allow));
    assert!(allow.join("gcc").exists() || allow.join("gcc").is_symlink());
    std::fs::write(dir.join("x.c"), "int answer(void) { return 42; }\n").unwrap();
    allow
}

/// Compiles `x.c` in `dir` with our client against `hosts`, no fallback, and checks the
/// object.
fn compile_through(dir: &Path, hosts: &str) {
    let _ = std::fs::remove_file(dir.join("x.o"));
    ok(Command::new(distcc_bin())
        .args(["gcc", "-c", "x.c", "-o", "x.o"])
        .current_dir(dir)
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_DIR", dir.join(".distcc"))
        .env("DISTCC_BACKOFF_PERIOD", "0"));
    let obj = std::fs::read(dir.join("x.o")).expect("x.o written");
    assert!(obj.starts_with(b"\x7fELF"), "x.o is not an object");
}

fn programs() -> [&'static str; 10] {
    [
        "distcc",
        "distccd",
        "lsdistcc",
        "distccmon-text",
        "distcc-farm",
        "distcc-coordinator",
        "distcc-zeroconf",
        "distcc-reapi",
        "pump",
        "include-server",
    ]
}

/// The .deb: built from the test's binaries, installed by dpkg into a scratch root (its
/// maintainer scripts run with DPKG_ROOT), every file where it belongs, the programs run,
/// `man` finds our pages, the allow-list is made, the units verify; then removed and purged.
#[test]
fn deb_installs_into_a_scratch_root_and_removes_cleanly() {
    if !require(&[
        "dpkg",
        "dpkg-deb",
        "strip",
        "gzip",
        "man",
        "systemd-analyze",
    ]) {
        return;
    }
    let t = TempDir::new("deb");
    let bin_dir = distcc_bin().parent().unwrap().to_path_buf();
    let out = ok(Command::new("bash")
        .arg(repo().join("scripts/build-deb.sh"))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(t.path()));
    let deb = PathBuf::from(out.trim());
    let size = std::fs::metadata(&deb).expect("the .deb exists").len();
    eprintln!("package: {} is {size} bytes", deb.display());
    let info = ok(Command::new("dpkg-deb").arg("--info").arg(&deb));
    for field in [
        "Package: distcc-rs",
        "Conflicts: distcc, distcc-pump",
        "Provides: distcc, distcc-pump",
        "Depends: libc6 (>= 2.",
        "libgcc-s1",
    ] {
        assert!(info.contains(field), "{field} missing:\n{info}");
    }

    let root = t.path().join("root");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let dpkg = |args: &[&str]| {
        ok(Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args([
                "--force-script-chrootless",
                "--force-depends",
                "--force-not-root",
                "--log=/dev/null",
            ])
            .args(args))
    };
    dpkg(&["-i", deb.to_str().unwrap()]);

    let mut expected: Vec<String> = programs().iter().map(|p| format!("usr/bin/{p}")).collect();
    expected.extend(
        [
            "usr/bin/distcc-masquerade",
            "usr/sbin/distcc-allowlist",
            "usr/libexec/distcc-rs/distccd-service",
            "lib/systemd/system/distccd.service",
            "lib/systemd/system/distccd.socket",
            "usr/share/distcc-rs/default",
            "usr/share/doc/distcc-rs/copyright",
            "usr/share/man/man8/distcc-allowlist.8.gz",
            "usr/share/man/man1/distcc-masquerade.1.gz",
            "etc/default/distcc",
        ]
        .map(String::from),
    );
    for p in programs().iter().chain(&["distcc-masquerade"]) {
        expected.push(format!("usr/share/man/man1/{p}.1.gz"));
    }
    for p in programs()
        .iter()
        .chain(&["distcc-masquerade", "distcc-allowlist"])
    {
        expected.push(format!("usr/share/bash-completion/completions/{p}"));
        expected.push(format!("usr/share/zsh/vendor-completions/_{p}"));
        expected.push(format!("usr/share/fish/vendor_completions.d/{p}.fish"));
    }
    for f in &expected {
        assert!(root.join(f).is_file(), "{f} is not installed");
    }
    let listed = dpkg(&["-L", "distcc-rs"]);
    assert!(listed.contains("/usr/bin/distccd"), "{listed}");

    // The programs run (stripped, from the package).
    let v = ok(Command::new(root.join("usr/bin/distccd")).arg("--version"));
    assert!(v.contains("distcc-rs"), "{v}");
    let h = ok(Command::new(root.join("usr/bin/distcc")).arg("--help"));
    assert!(h.contains("--show-hosts"), "{h}");

    // `man distcc` finds ours in the installed tree, and renders it.
    let man_dir = root.join("usr/share/man");
    let found = ok(Command::new("man")
        .arg("-M")
        .arg(&man_dir)
        .args(["-w", "distcc"]));
    assert!(
        found.trim() == man_dir.join("man1/distcc.1.gz").display().to_string(),
        "{found}"
    );
    let page = ok(Command::new("man")
        .arg("-M")
        .arg(&man_dir)
        .arg("distccd")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80"));
    assert!(page.contains("distcc-rs") && page.contains("LISTEN_FDS"));

    // postinst made the allow-list (links to the client) in the scratch root.
    let allow = root.join("usr/lib/distcc");
    let gcc = std::fs::read_link(allow.join("gcc")).expect("usr/lib/distcc/gcc made by postinst");
    assert_eq!(gcc, Path::new("../../bin/distcc"));
    let settings = std::fs::read_to_string(root.join("etc/default/distcc")).unwrap();
    assert!(settings.contains("STARTDISTCC=\"false\""));

    // The units, as installed, verify: systemd's own units are copied in for their targets.
    let units = root.join("lib/systemd/system");
    for e in std::fs::read_dir("/lib/systemd/system").unwrap().flatten() {
        let to = units.join(e.file_name());
        if !to.exists() && e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .args(["distccd.service", "distccd.socket"]));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );

    // Removal takes the files and the allow-list links; purge the settings file.
    dpkg(&["-r", "distcc-rs"]);
    assert!(!root.join("usr/bin/distccd").exists());
    assert!(
        !allow.join("gcc").is_symlink(),
        "allow-list links left behind"
    );
    assert!(root.join("etc/default/distcc").exists());
    dpkg(&["--purge", "distcc-rs"]);
    assert!(!root.join("etc/default/distcc").exists());
}

/// `systemd-socket-activate` listens, passes both sockets (compiles and stats, told apart by
/// `--fdname`) to distccd at the first connection, and a compile goes through.
#[test]
fn socket_activation_passes_the_socket_to_distccd() {
    if !require(&["systemd-socket-activate", "gcc"]) {
        return;
    }
    let t = TempDir::new("sockact");
    let allow = allow_dir_and_source(t.path());
    let port = free_port();
    let stats_port = free_port();
    let log = t.path().join("distccd.log");
    let mut act = Group::spawn(
        Command::new("systemd-socket-activate")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--listen=127.0.0.1:{stats_port}"))
            .arg("--fdname=distccd:stats")
            .arg(distccd_bin())
            .args(["--daemon", "--no-detach", "--allow", "127.0.0.1", "--stats"])
            // Ports that must not be used: the passed sockets replace them.
            .args(["--port", "1", "--stats-port", "2"])
            .arg("--allowed-compilers")
            .arg(&allow)
            .arg("--log-file")
            .arg(&log)
            .args(["--log-level", "info"])
            .env("TMPDIR", t.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("systemd-socket-activate to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    compile_through(t.path(), &format!("127.0.0.1:{port}"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("listening on the socket systemd passed"),
        "{text}"
    );
    wait_for("the job's log line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("x.c exit 0"))
    });
    // The stats socket was passed too.
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", stats_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /json HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.contains("200") && reply.contains("\"ok\""), "{reply}");
    // It shows the ports it really serves, not the --port/--stats-port it was given.
    assert!(
        reply.contains(&format!("\"port\":{port},\"stats_port\":{stats_port}")),
        "{reply}"
    );
    let st = act.terminate().expect("distccd exited");
    assert!(st.success(), "distccd exited with {st}");
}

/// A socket from systemd that is not listening is refused with a clear message, exit 102.
#[test]
fn a_passed_socket_that_does_not_listen_is_refused() {
    let t = TempDir::new("badfd");
    let allow = allow_dir_and_source(t.path());
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    // LISTEN_PID must be distccd's own pid: exec through sh, which knows it ($$).
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(distccd_bin())
        .args([
            "--daemon",
            "--no-detach",
            "--allow",
            "127.0.0.1",
            "--log-stderr",
        ])
        .arg("--allowed-compilers")
        .arg(&allow)
        .env("LISTEN_FDS", "1");
    // SAFETY: only dup2, which is async-signal-safe, runs between fork and exec.
    unsafe {
        sh.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run(&mut sh);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(102), "{err}");
    assert!(
        err.contains("descriptor 3 from systemd is not a listening TCP socket"),
        "{err}"
    );
}

/// distccd tells `NOTIFY_SOCKET` `READY=1` (with its pid) once it accepts connections, and
/// `STOPPING=1` when told to stop.
#[test]
fn notify_socket_gets_ready_then_stopping() {
    let t = TempDir::new("notify");
    let allow = allow_dir_and_source(t.path());
    let path = t.path().join("notify");
    let rx = UnixDatagram::bind(&path).unwrap();
    // Writable by the user distccd drops to, as systemd's own notify socket is.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let port = free_port();
    let mut d = Group::spawn(
        Command::new(distccd_bin())
            .args(["--daemon", "--no-detach", "--listen", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--allow", "127.0.0.1"])
            .arg("--allowed-compilers")
            .arg(&allow)
            .arg("--log-file")
            .arg(t.path().join("log"))
            .env("NOTIFY_SOCKET", &path)
            .env("TMPDIR", t.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let mut buf = [0u8; 512];
    let n = rx.recv(&mut buf).expect("a notification within 20 s");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.contains("READY=1"), "{msg}");
    assert!(msg.contains(&format!("MAINPID={}", d.pid())), "{msg}");
    TcpStream::connect(("127.0.0.1", port)).expect("listening once READY=1 is sent");
    compile_through(t.path(), &format!("127.0.0.1:{port}"));
    // SAFETY: the daemon we started, not yet reaped.
    unsafe { libc::kill(d.pid(), libc::SIGTERM) };
    let n = rx.recv(&mut buf).expect("STOPPING=1 within 20 s");
    assert_eq!(&buf[..n], b"STOPPING=1");
    d.terminate();
}

/// distccd.service's wrapper turns Debian's /etc/default/distcc into distccd's arguments:
/// STARTDISTCC decides ExecCondition, an empty ALLOWEDNETS is refused, and the daemon it
/// starts listens on LISTENER, runs at NICE and serves a compile.
#[test]
fn service_wrapper_honours_etc_default_distcc() {
    if !require(&["gcc"]) {
        return;
    }
    let wrapper = repo().join("dist/helpers/distccd-service");
    let cond = |v: Option<&str>| {
        let mut c = Command::new(&wrapper);
        c.arg("--condition").env_remove("STARTDISTCC");
        if let Some(v) = v {
            c.env("STARTDISTCC", v);
        }
        run(&mut c)
    };
    assert!(cond(Some("true")).status.success());
    let no = cond(Some("false"));
    assert_eq!(no.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no.stderr).contains("STARTDISTCC"));
    assert!(!cond(None).status.success());

    let empty = run(Command::new(&wrapper)
        .env("DISTCCD", distccd_bin())
        .env("ALLOWEDNETS", ""));
    assert_eq!(empty.status.code(), Some(101));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("ALLOWEDNETS is empty"));

    let t = TempDir::new("wrapper");
    let allow = allow_dir_and_source(t.path());
    let port = free_port();
    let log = t.path().join("log");
    let d = Group::spawn(
        Command::new(&wrapper)
            // A drop-in's extra arguments, after the settings.
            .args(["--port", &port.to_string(), "--allowed-compilers"])
            .arg(&allow)
            .arg("--log-file")
            .arg(&log)
            .env("DISTCCD", distccd_bin())
            .env("ALLOWEDNETS", "10.0.0.0/8 127.0.0.1")
            .env("LISTENER", "127.0.0.1")
            .env("NICE", "7")
            .env("JOBS", "3")
            .env("ZEROCONF", "false")
            .env("TMPDIR", t.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("distccd from the wrapper to listen", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    // The wrapper exec'd: the pid is distccd's, with the settings as arguments.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", d.pid())).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let joined = args.join(" ");
    for want in [
        "--daemon --no-detach --log-stderr",
        "--allow 10.0.0.0/8 --allow 127.0.0.1",
        "--listen 127.0.0.1",
        "--nice 7",
        "--jobs 3",
    ] {
        assert!(joined.contains(want), "{want} not in {joined}");
    }
    assert!(!joined.contains("--zeroconf"), "{joined}");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", d.pid())).unwrap();
    let nice: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(16)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(nice, 7, "{stat}");
    compile_through(t.path(), &format!("127.0.0.1:{port}"));
}

/// distcc-allowlist fills a directory from a bin directory as update-distcc-symlinks would,
/// removes links whose compiler went away, leaves other entries alone, and distccd warns,
/// naming it, while the directory is empty.
#[test]
fn allowlist_helper_fills_and_refreshes_a_directory() {
    let t = TempDir::new("allowlist");
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for name in [
        "cc", "c++", "gcc", "g++", "clang", "clang-14", "clangd", "nvcc", "ls",
    ] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let helper = repo().join("dist/helpers/distcc-allowlist");
    let dir = t.path().join("allow");
    let listed = ok(Command::new(&helper)
        .arg("--bin-dir")
        .arg(&bin)
        .arg("--list"));
    assert_eq!(listed, "c++\ncc\nclang\nclang-14\ng++\ngcc\nnvcc\n");
    let dry = ok(Command::new(&helper)
        .args(["--dry-run", "--dir"])
        .arg(&dir)
        .arg("--bin-dir")
        .arg(&bin));
    assert!(dry.contains("adding") && !dir.exists(), "{dry}");
    // Without --dir, the directory distccd would read: DISTCCD_ALLOWED_COMPILERS first.
    let dry = ok(Command::new(&helper)
        .arg("-n")
        .arg("--bin-dir")
        .arg(&bin)
        .env("DISTCCD_ALLOWED_COMPILERS", &dir));
    assert!(
        dry.contains(&format!("adding {}/gcc", dir.display())),
        "{dry}"
    );

    // Empty: distccd warns at start, naming the helper.
    std::fs::create_dir(&dir).unwrap();
    let warned = run(Command::new(distccd_bin())
        .args([
            "--daemon",
            "--no-detach",
            "--allow",
            "127.0.0.1",
            "--listen",
            "127.0.0.1",
        ])
        .args(["--port", &free_port().to_string(), "--lifetime", "1"])
        .arg("--allowed-compilers")
        .arg(&dir)
        .arg("--log-file")
        .arg(t.path().join("log")));
    let err = String::from_utf8_lossy(&warned.stderr);
    assert!(
        err.contains("is empty") && err.contains("distcc-allowlist"),
        "{err}"
    );

    ok(Command::new(&helper)
        .args(["--target", "/usr/bin/distcc", "--dir"])
        .arg(&dir)
        .arg("--bin-dir")
        .arg(&bin));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["c++", "cc", "clang", "clang-14", "g++", "gcc", "nvcc"]
    );
    assert_eq!(
        std::fs::read_link(dir.join("gcc")).unwrap(),
        Path::new("/usr/bin/distcc")
    );

    // gcc goes away; an entry made by hand stays.
    std::fs::remove_file(bin.join("gcc")).unwrap();
    std::fs::write(dir.join("mycc"), "").unwrap();
    let v = ok(Command::new(&helper)
        .args(["-v", "--dir"])
        .arg(&dir)
        .arg("--bin-dir")
        .arg(&bin));
    assert!(v.contains("removing") && v.contains("/gcc"), "{v}");
    assert!(!dir.join("gcc").is_symlink());
    assert!(dir.join("mycc").exists() && dir.join("g++").is_symlink());

    let bad = run(Command::new(&helper).arg("--bogus"));
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bogus: unknown argument"));
}

/// distcc-masquerade makes a directory that, first on PATH, sends `gcc -c` through distcc
/// to a daemon.
#[test]
fn masquerade_helper_sends_plain_gcc_through_distcc() {
    if !require(&["gcc"]) {
        return;
    }
    let d = crate::support::OurDaemon::start(&[]);
    let t = TempDir::new("masq");
    std::fs::write(t.path().join("y.c"), "int y(void) { return 1; }\n").unwrap();
    let line = ok(Command::new(repo().join("dist/helpers/distcc-masquerade"))
        .arg("--dir")
        .arg(t.path().join("m"))
        .arg("--distcc")
        .arg(distcc_bin()));
    assert!(line.starts_with("export PATH="), "{line}");
    assert_eq!(
        std::fs::read_link(t.path().join("m/gcc")).unwrap(),
        distcc_bin()
    );
    ok(Command::new("sh")
        .arg("-c")
        .arg(format!("{line} gcc -c y.c -o y.o"))
        .current_dir(t.path())
        .env("DISTCC_HOSTS", format!("127.0.0.1:{}", d.port))
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_DIR", t.path().join(".distcc")));
    assert!(t.path().join("y.o").exists());
    d.wait_log("y.c");

    let none = run(Command::new(repo().join("dist/helpers/distcc-masquerade"))
        .env_remove("DISTCC_DIR")
        .env_remove("HOME")
        .arg("--distcc")
        .arg(distcc_bin()));
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("neither DISTCC_DIR nor HOME"));
}

/// scripts/install.sh stages everything under a prefix (as into /usr/local, beside Debian's
/// distcc), the units pointing at that prefix; `man` finds the pages there.
#[test]
fn install_script_stages_everything_under_a_prefix() {
    if !require(&["man"]) {
        return;
    }
    let t = TempDir::new("install");
    let bin_dir = distcc_bin().parent().unwrap().to_path_buf();
    ok(Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--destdir")
        .arg(t.path())
        .args(["--prefix", "/opt/distcc-rs", "--systemd"]));
    let root = t.path().join("opt/distcc-rs");
    for p in programs().iter().chain(&["distcc-masquerade"]) {
        assert!(root.join("bin").join(p).is_file(), "bin/{p}");
        assert!(
            root.join(format!("share/man/man1/{p}.1")).is_file(),
            "{p}.1"
        );
        assert!(
            root.join(format!("share/bash-completion/completions/{p}"))
                .is_file()
        );
        assert!(
            root.join(format!("share/zsh/site-functions/_{p}"))
                .is_file()
        );
        assert!(
            root.join(format!("share/fish/vendor_completions.d/{p}.fish"))
                .is_file()
        );
    }
    assert!(root.join("sbin/distcc-allowlist").is_file());
    assert!(root.join("share/man/man8/distcc-allowlist.8").is_file());
    let unit =
        std::fs::read_to_string(t.path().join("etc/systemd/system/distccd.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/opt/distcc-rs/libexec/distcc-rs/distccd-service\n")
            && unit.contains("Environment=DISTCCD=/opt/distcc-rs/bin/distccd\n")
            && !unit.contains("/usr/libexec"),
        "{unit}"
    );
    assert!(t.path().join("etc/default/distcc").is_file());
    let found = ok(Command::new("man")
        .arg("-M")
        .arg(root.join("share/man"))
        .args(["-w", "distccd"]));
    assert!(found.starts_with(&root.display().to_string()), "{found}");
    let bad = run(Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .args(["--prefix", "relative"]));
    assert_eq!(bad.status.code(), Some(2));
}

/// Every option the helpers' page lists is in their `--help`, and the reverse.
#[test]
fn helper_usage_matches_their_pages() {
    for (script, table) in [
        ("distcc-allowlist", manual::tables::DISTCC_ALLOWLIST),
        ("distcc-masquerade", manual::tables::DISTCC_MASQUERADE),
    ] {
        let help = ok(Command::new(repo().join("dist/helpers").join(script)).arg("--help"));
        let mut in_help: Vec<String> = help
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| w.starts_with('-') && w.len() > 1 && !w.starts_with("-$"))
            .map(String::from)
            .collect();
        in_help.sort();
        in_help.dedup();
        let mut in_table: Vec<String> = Vec::new();
        for o in table {
            if let Some(c) = o.short {
                in_table.push(format!("-{c}"));
            }
            in_table.push(format!("--{}", o.long));
        }
        in_table.sort();
        assert_eq!(in_help, in_table, "{script}");
    }
}

/// The generated completions load in bash, zsh and fish.
#[test]
fn completions_parse_in_bash_zsh_and_fish() {
    if !require(&["bash", "zsh", "fish"]) {
        return;
    }
    let dir = repo().join("dist/completions");
    for e in std::fs::read_dir(dir.join("bash")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let out = ok(Command::new("bash").arg("-c").arg(format!(
            "source '{}' && complete -p {name}",
            e.path().display()
        )));
        assert!(
            out.contains(&format!("-F _{}", name.replace('-', "_"))),
            "{out}"
        );
    }
    // bash really completes: distccd --lo<TAB>.
    let out = ok(Command::new("bash").arg("-c").arg(format!(
        "source '{}'; COMP_WORDS=(distccd --log-l); COMP_CWORD=1; _distccd; echo \"${{COMPREPLY[@]}}\"",
        dir.join("bash/distccd").display()
    )));
    assert_eq!(out.trim(), "--log-level");
    for e in std::fs::read_dir(dir.join("zsh")).unwrap().flatten() {
        ok(Command::new("zsh").arg("-n").arg(e.path()));
    }
    for e in std::fs::read_dir(dir.join("fish")).unwrap().flatten() {
        ok(Command::new("fish").arg("--no-execute").arg(e.path()));
    }
    let out = ok(Command::new("fish").arg("-c").arg(format!(
        "source '{}'; complete -C 'distccd --log-le'",
        dir.join("fish/distccd.fish").display()
    )));
    assert!(out.contains("--log-level"), "{out}");
}

/// The mounts distccd.service asks systemd for, emulated in a private mount namespace (no
/// systemd runs here as pid 1): distccd, started inside them, must still be able to sandbox
/// each job (its user namespace mounts a fresh `/proc`, which the kernel refuses when
/// `/proc` has read-only overmounts, as ProtectKernelTunables= makes), and a compile goes
/// through. Each setting the unit sets is applied as systemd applies it.
#[test]
fn the_units_protections_leave_room_for_the_job_sandbox() {
    if !require(&["unshare", "gcc"]) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            !crate::support::ci(),
            "CI runs as root: mount namespaces need it"
        );
        eprintln!("skipping: not root");
        return;
    }
    let unit = std::fs::read_to_string(repo().join("dist/systemd/distccd.service")).unwrap();
    let set = |key: &str, value: &str| unit.lines().any(|l| l.trim() == format!("{key}={value}"));
    let mut steps: Vec<&str> = Vec::new();
    if set("ProtectProc", "invisible") {
        steps.push("mount -t proc -o hidepid=invisible proc /proc");
    }
    if set("ProtectKernelTunables", "yes") {
        steps.push("mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys");
    }
    if set("ProtectKernelLogs", "yes") {
        steps.push("mount --bind /dev/null /proc/kmsg");
    }
    if set("ProtectControlGroups", "yes") {
        steps.push(
            "mount --bind /sys/fs/cgroup /sys/fs/cgroup && mount -o remount,bind,ro /sys/fs/cgroup",
        );
    }
    if set("PrivateDevices", "yes") {
        steps.push(
            "d=$(mktemp -d) && mount -t tmpfs -o mode=755 tmpfs $d && \
             for n in null zero full random urandom tty; do touch $d/$n && mount --bind /dev/$n $d/$n; done && \
             mount --move $d /dev",
        );
    }
    assert!(set("PrivateTmp", "yes") || unit.contains("DynamicUser=yes"));
    steps.push("mount -t tmpfs -o mode=1777 tmpfs /tmp");
    if set("ProtectSystem", "strict") {
        steps.push("mount -o remount,bind,ro /");
    }
    assert!(steps.len() >= 4, "the unit changed shape: {steps:?}");
    let port = free_port();
    let script = format!(
        "set -e; {}; mkdir /tmp/allow; for c in gcc cc x86_64-linux-gnu-gcc; do ln -s /usr/bin/distcc /tmp/allow/$c; done; \
         exec \"$0\" --daemon --no-detach --allow 127.0.0.1 --listen 127.0.0.1 --port {port} \
         --allowed-compilers /tmp/allow --log-stderr --log-level info",
        steps.join("; ")
    );
    let t = TempDir::new("unitns");
    let stderr = t.path().join("stderr");
    let mut d = Group::spawn(
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(distccd_bin())
            .env("TMPDIR", "/tmp")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap()),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        let said = std::fs::read_to_string(&stderr).unwrap_or_default();
        assert!(
            Instant::now() < deadline && !said.contains("ERROR"),
            "distccd did not start under the unit's protections:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(t.path().join("x.c"), "int f(void) { return 7; }\n").unwrap();
    compile_through(t.path(), &format!("127.0.0.1:{port}"));
    let said = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(said.contains("jobs run in a sandbox"), "{said}");
    d.terminate();
}
