//! A real OpenSSH server on a loopback port for the ssh transport tests, with host and user
//! keys generated into a temp dir, and a `DISTCC_SSH` wrapper that runs `ssh -F <config>`
//! with host aliases for the good case and for each way ssh can fail. Dropping the server
//! stops it and every connection master (`ControlMaster`) a test left behind.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::support::{self, TempDir};

/// Host aliases in the generated ssh config.
pub const GOOD: &str = "sshtest";
/// The right server, but a key the server does not know.
pub const NO_KEY: &str = "sshnokey";
/// The right server, but an empty known-hosts file with strict checking.
pub const UNKNOWN_HOST: &str = "sshunknown";

/// Returns true when sshd, ssh and ssh-keygen are here and we are root (sshd must be, to
/// log in as anybody). Panics under `CI=true` otherwise; outside CI prints why and skips.
pub fn available() -> bool {
    let tools = ["ssh", "ssh-keygen"];
    let sshd = Path::new("/usr/sbin/sshd").is_file();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if support::which("ssh").is_some() && support::which("ssh-keygen").is_some() && sshd && root {
        return true;
    }
    let why = format!(
        "ssh tests need /usr/sbin/sshd ({sshd}), {} on PATH, and root (euid 0: {root})",
        tools.join(" and ")
    );
    if support::ci() {
        panic!("CI=true and {why}");
    }
    eprintln!("skipping: {why}");
    false
}

/// A running sshd and the client side of its set-up.
pub struct Sshd {
    pub port: u16,
    pub dir: TempDir,
    /// The `DISTCC_SSH` program: `ssh -F <config> "$@"`.
    pub wrapper: PathBuf,
    /// sshd's log (`-e`, `LogLevel VERBOSE`): one "Accepted publickey" line per handshake.
    pub log: PathBuf,
    child: Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_with(64)
    }

    /// A server allowing at most `max_sessions` sessions per connection (OpenSSH's default
    /// is 10), to make a held connection refuse sessions.
    pub fn start_with(max_sessions: u32) -> Sshd {
        let dir = TempDir::new("sshd");
        let d = dir.path();
        // The privilege separation directory sshd insists on.
        fs::create_dir_all("/run/sshd").expect("creating /run/sshd");
        for key in ["host_key", "user_key", "stranger_key"] {
            keygen(&d.join(key));
        }
        fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        // The far user's home, where its held daemon's socket lives (`~/.distcc/held`).
        fs::create_dir_all(d.join("home")).unwrap();
        let port = support::free_port();
        let config = d.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 MaxSessions {max_sessions}\nMaxStartups 64:30:128\nPrintMotd no\nLogLevel VERBOSE\nSetEnv SHLVL=1 HOME={d}/home\n",
                d = d.display()
            ),
        )
        .unwrap();
        let host_pub = fs::read_to_string(d.join("host_key.pub")).unwrap();
        let mut host_pub = host_pub.split_whitespace();
        let known = format!(
            "[127.0.0.1]:{port} {} {}\n",
            host_pub.next().unwrap(),
            host_pub.next().unwrap()
        );
        fs::write(d.join("known_hosts"), known).unwrap();
        fs::write(d.join("no_known_hosts"), "").unwrap();
        let alias = |name: &str, key: &str, known: &str| {
            format!(
                "Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
                 IdentityFile {d}/{key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/{known}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  CheckHostIP no\n  \
                 BatchMode yes\n  LogLevel ERROR\n",
                d = d.display()
            )
        };
        fs::write(
            d.join("ssh_config"),
            [
                alias(GOOD, "user_key", "known_hosts"),
                alias(NO_KEY, "stranger_key", "known_hosts"),
                alias(UNKNOWN_HOST, "user_key", "no_known_hosts"),
            ]
            .concat(),
        )
        .unwrap();
        let wrapper = d.join("ssh-wrapper");
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec ssh -F {} \"$@\"\n",
                d.join("ssh_config").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        let log = d.join("sshd.log");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("starting sshd");
        let mut s = Sshd {
            port,
            dir,
            wrapper,
            log,
            child,
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&mut self) {
        support::wait_listening(&mut self.child, self.port, "sshd", Some(&self.log));
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Completed ssh handshakes so far (each logs one accepted key).
    pub fn handshakes(&self) -> usize {
        self.log_text().matches("Accepted publickey").count()
    }

    /// Sessions started so far (each logs one "Starting session: command").
    pub fn sessions(&self) -> usize {
        self.log_text().matches("session: command for").count()
    }

    /// The far user's home (`$HOME` of every session).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Pids of the far side's held daemons (`distccd --held-socket` under this server's
    /// home), their janitors included.
    pub fn held_daemons(&self) -> Vec<i32> {
        let needle = format!("--held-socket\0{}", self.home().display());
        processes_whose_cmdline_has(&needle)
    }

    /// Pids of connection masters (`ssh: <path> [mux]`) whose control socket is under `dir`.
    pub fn masters_under(dir: &Path) -> Vec<i32> {
        let needle = dir.to_string_lossy().into_owned();
        let mut pids = Vec::new();
        let Ok(entries) = fs::read_dir("/proc") else {
            return pids;
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.starts_with("ssh: ")
                && cmdline.contains("[mux]")
                && cmdline.contains(&needle)
            {
                pids.push(pid);
            }
        }
        pids
    }

    /// Kills every connection master whose control socket is under `dir`.
    pub fn kill_masters_under(dir: &Path) {
        for pid in Sshd::masters_under(dir) {
            // SAFETY: kill(2) on a master process a test caused to start.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// The sshd log lines, for failure messages.
    pub fn log_lines(&self) -> Vec<String> {
        File::open(&self.log)
            .map(|f| BufReader::new(f).lines().map_while(Result::ok).collect())
            .unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Held daemons detach from sshd: stop them, or they would idle for minutes.
        for pid in self.held_daemons() {
            // SAFETY: kill(2) on a held daemon a test's ssh session started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Each connection is served by a child of sshd in a session of its own, so killing
        // sshd's group does not reach it. Kill those children first: every connection master
        // a test left behind then sees its connection close and exits by itself.
        for pid in children_of(self.child.id() as i32) {
            // SAFETY: kill(2) on a per-connection child of the sshd we started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        crate::proc::stop_group(&mut self.child, Duration::from_secs(5));
    }
}

/// Pids whose command line (NUL-separated, as in /proc) contains `needle`.
pub fn processes_whose_cmdline_has(needle: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let cmdline = fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

/// Pids whose parent is `parent`, from /proc.
pub fn children_of(parent: i32) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // Fields after the command name (which may hold spaces) end with ')'.
            let ppid = stat.rsplit(')').next()?.split_whitespace().nth(1)?;
            (ppid.parse::<i32>().ok()? == parent).then_some(pid)
        })
        .collect()
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "distcc-rs-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("running ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed for {}", path.display());
}
