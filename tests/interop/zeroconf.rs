//! Zeroconf against distcc 3.4 and Avahi, inside network namespaces this test makes (two,
//! joined by a veth; mDNS never leaves that link): 3.4's client with `+zeroconf` (through
//! Avahi) finds our `distccd --zeroconf` and builds through it; our client with `+zeroconf`
//! finds 3.4's `distccd --zeroconf` (announced by Avahi) and ours, and builds through both.
//!
//! Avahi needs a system D-Bus; each Avahi runs with its own D-Bus in a private mount and pid
//! namespace (`unshare`), on a private `/run`, so nothing of the host's is touched and killing
//! the namespace's first process ends them all.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../it/netns.rs"]
#[allow(dead_code)]
mod netns;

use super::support::{TempDir, ci, free_port, require};

const AVAHI_NS: &str = r#"set -e
iface=$1; name=$2; work=$3
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/avahi-daemon
chown avahi:avahi /run/avahi-daemon
dbus-daemon --system --fork
cat > "$work/avahi.conf" <<CONF
[server]
host-name=$name
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
CONF
avahi-daemon -f "$work/avahi.conf" --no-chroot --no-rlimits -D
touch "$work/ready"
exec sleep 100000
"#;

/// A D-Bus and an Avahi limited to `iface`, in a mount and pid namespace inside `netns`;
/// commands run there through `nsenter`. Everything in it is killed on drop.
struct Avahi {
    unshare: Child,
    init: u32,
    _work: TempDir,
}

impl Avahi {
    fn start(netns: &str, iface: &str, name: &str) -> Avahi {
        let work = TempDir::new("avahi");
        let script = work.path().join("avahi-ns.sh");
        std::fs::write(&script, AVAHI_NS).unwrap();
        let mut unshare = Command::new("ip")
            .args([
                "netns", "exec", netns, "unshare", "--mount", "--pid", "--fork",
            ])
            .args(["--kill-child", "--propagation", "private", "sh"])
            .arg(&script)
            .args([iface, name])
            .arg(work.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(work.path().join("stderr")).unwrap())
            .spawn()
            .expect("starting unshare");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !work.path().join("ready").exists() {
            if let Ok(Some(st)) = unshare.try_wait() {
                panic!(
                    "avahi namespace exited ({st}): {}",
                    std::fs::read_to_string(work.path().join("stderr")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "avahi-daemon did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // `ip netns exec` execs unshare, whose one child is the namespace's first process.
        let pid = unshare.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        let init: u32 = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the namespace's first process");
        Avahi {
            unshare,
            init,
            _work: work,
        }
    }

    /// `program` inside the namespaces, in directory `cwd`.
    fn command(&self, cwd: &Path, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.init.to_string(), "-m", "-p", "-n"])
            .arg(format!("--wd={}", cwd.display()))
            .arg(program);
        c
    }
}

impl Drop for Avahi {
    fn drop(&mut self) {
        // SIGKILL to the first process of a pid namespace kills every process in it.
        // SAFETY: plain syscall on our namespace's first process.
        unsafe { libc::kill(self.init as i32, libc::SIGKILL) };
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// A child process killed (its group) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        crate::proc::stop_group(&mut self.0, Duration::from_secs(5));
    }
}

fn ours(name: &str) -> PathBuf {
    match name {
        "distcc" => PathBuf::from(env!("CARGO_BIN_EXE_distcc")),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_distccd")),
    }
}

fn have_tools() -> bool {
    if !require(&[
        "gcc",
        "ip",
        "unshare",
        "nsenter",
        "avahi-daemon",
        "dbus-daemon",
        "distcc",
        "distccd",
    ]) {
        return false;
    }
    if netns::available() {
        return true;
    }
    assert!(!ci(), "CI=true but the zeroconf tests need root and ip(8)");
    eprintln!("skipping: the zeroconf tests need root and ip(8)");
    false
}

/// Our distccd with `--zeroconf` in `netns` on `listen`, its log in `dir`.
fn our_daemon(netns: &str, listen: &str, allow: &str, dir: &Path) -> (Proc, u16, PathBuf) {
    let allow_dir = dir.join("allow");
    std::fs::create_dir_all(&allow_dir).unwrap();
    for c in ["gcc", "cc", "x86_64-linux-gnu-gcc"] {
        std::os::unix::fs::symlink("/usr/bin/distcc", allow_dir.join(c)).unwrap();
    }
    let port = free_port();
    let log = dir.join("ours.log");
    let child = Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(ours("distccd"))
        .args(["--daemon", "--no-detach", "--zeroconf", "--listen", listen])
        .args(["--port", &port.to_string(), "--allow", allow])
        .arg("--allowed-compilers")
        .arg(&allow_dir)
        .arg("--log-file")
        .arg(&log)
        .args(["--log-level", "info"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting our distccd");
    let p = Proc(child);
    wait_for(&log, "announced as distcc@");
    (p, port, log)
}

fn wait_for(log: &Path, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never said {needle:?}:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `make_cmd()` (a `--show-hosts` with `+zeroconf`) until its output holds every `want`.
fn until_listed(mut make_cmd: impl FnMut() -> Command, want: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = make_cmd().output().expect("running distcc --show-hosts");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if want
            .iter()
            .all(|w| text.lines().any(|l| l.starts_with(w.as_str())))
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "+zeroconf listed {text:?}, not all of {want:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn write_sources(dir: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let f = format!("z{i}.c");
            std::fs::write(
                dir.join(&f),
                format!("int f{i}(int x) {{ return x * {i} + 1; }}\n"),
            )
            .unwrap();
            f
        })
        .collect()
}

fn same_as_local(dir: &Path, src: &str) {
    let obj = src.replace(".c", ".o");
    let remote = std::fs::read(dir.join(&obj)).unwrap_or_else(|e| panic!("{obj}: {e}"));
    let st = Command::new("gcc")
        .args(["-O2", "-c", src, "-o", "local.o"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        remote == std::fs::read(dir.join("local.o")).unwrap(),
        "{obj} differs from a local build"
    );
}

#[test]
fn distcc34_client_finds_our_zeroconf_daemon_through_avahi() {
    if !have_tools() {
        return;
    }
    let link = netns::Link::new().expect("making namespaces");
    let dir = TempDir::new("zc34c");
    let allow = format!("{}/32", link.client_addr);
    let (_d, port, log) = our_daemon(&link.server.name, &link.server_addr, &allow, dir.path());
    let avahi = Avahi::start(&link.client.name, &link.client_if, "dcc-zc-client");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let distcc_dir = work.join(".distcc");
    // 3.4 makes its subdirectories, not DISTCC_DIR itself.
    std::fs::create_dir_all(&distcc_dir).unwrap();
    let env = |c: &mut Command| {
        c.env("DISTCC_HOSTS", "+zeroconf")
            .env("DISTCC_DIR", &distcc_dir)
            .env_remove("DISTCC_LOG")
            .env_remove("DISTCC_VERBOSE");
    };
    until_listed(
        || {
            let mut c = avahi.command(&work, "/usr/bin/distcc");
            c.arg("--show-hosts");
            env(&mut c);
            c
        },
        &[format!("{}:{port}/", link.server_addr)],
    );
    for src in write_sources(&work, 3) {
        let obj = src.replace(".c", ".o");
        let mut c = avahi.command(&work, "/usr/bin/distcc");
        c.args(["gcc", "-O2", "-c", &src, "-o", &obj]);
        env(&mut c);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "3.4's distcc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // 3.4 falls back to a local compile without failing: our daemon's log is the proof.
        wait_for(&log, &format!("{src} exit 0"));
        same_as_local(&work, &src);
    }
}

#[test]
fn our_zeroconf_client_finds_distccd34_through_avahi_and_ours() {
    if !have_tools() {
        return;
    }
    let link = netns::Link::new().expect("making namespaces");
    let dir = TempDir::new("zc34d");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let allow = format!("{}/32", link.client_addr);
    let avahi = Avahi::start(&link.server.name, &link.server_if, "dcc-zc-server");
    // 3.4's distccd, announced through Avahi.
    let port34 = free_port();
    let log34 = dir.path().join("distccd34.log");
    let d34 = avahi
        .command(dir.path(), "/usr/bin/distccd")
        .args(["--daemon", "--no-detach", "--zeroconf", "--log-stderr"])
        .args(["--log-level", "info", "--listen", &link.server_addr])
        .args(["--port", &port34.to_string(), "--allow", &allow])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log34).unwrap())
        .process_group(0)
        .spawn()
        .expect("starting 3.4's distccd");
    let _d34 = Proc(d34);
    let (_d, port, log) = our_daemon(&link.server.name, &link.server_addr, &allow, dir.path());

    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let distcc_dir = work.join(".distcc");
    let client_log = work.join("distcc.log");
    let env = |c: &mut Command| {
        c.current_dir(&work)
            .env("DISTCC_HOSTS", "+zeroconf")
            .env("DISTCC_DIR", &distcc_dir)
            .env("DISTCC_LOG", &client_log)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_FALLBACK", "0");
    };
    let _browser = KillBrowser(distcc_dir.clone());
    until_listed(
        || {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &link.client.name])
                .arg(ours("distcc"))
                .arg("--show-hosts");
            env(&mut c);
            c
        },
        &[
            format!("{}:{port34}/", link.server_addr),
            format!("{}:{port}/", link.server_addr),
        ],
    );
    // Eight compiles at once: more than either host's slots, so both serve.
    let sources = write_sources(&work, 8);
    let children: Vec<Child> = sources
        .iter()
        .map(|src| {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &link.client.name])
                .arg(ours("distcc"))
                .args(["gcc", "-O2", "-c", src, "-o", &src.replace(".c", ".o")]);
            env(&mut c);
            c.stdout(Stdio::null()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for (c, src) in children.into_iter().zip(&sources) {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{src}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&client_log).unwrap_or_default()
        );
        same_as_local(&work, src);
    }
    let served34 = std::fs::read_to_string(&log34)
        .unwrap_or_default()
        .matches("COMPILE_OK")
        .count();
    let served = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches(" exit 0")
        .count();
    assert_eq!(served34 + served, 8, "3.4 served {served34}, ours {served}");
    assert!(
        served34 > 0 && served > 0,
        "3.4 served {served34}, ours {served}"
    );
}

/// Kills the `+zeroconf` browser our client started under a `$DISTCC_DIR`, on drop.
struct KillBrowser(PathBuf);

impl Drop for KillBrowser {
    fn drop(&mut self) {
        let pid_file = self.0.join("zeroconf").join("browser.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|&p| p > 1)
        {
            // SAFETY: plain syscall on the pid the browser wrote.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}
