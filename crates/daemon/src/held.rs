//! The held daemon of an ssh user: what makes a job over a hoarded ssh connection cost what
//! a TCP job costs.
//!
//! `distccd --inetd` started by sshd (`SSH_CONNECTION` set) finds, or starts, one long-lived
//! `distccd --held-socket PATH` of the same user with the same options, listening on a unix
//! socket in `~/.distcc/held/` (mode 0700, checked: a real directory, ours, private), and
//! advertises that path (`ssh-socket=`) after its reply. The client then has its held OpenSSH
//! master forward a local socket to it; each later job is one channel over the held
//! connection, with no new session and no process start on this side.
//!
//! Guarantees kept from `--inetd`: the daemon runs as the ssh user (root drops privileges as
//! `--inetd` does), the compiler allow-list and sandbox are the same (the same options and
//! environment, and the socket is named by a hash of them, so other options get another
//! daemon), and nothing listens on the network: only the unix socket, which file permissions
//! and a peer-uid check reserve to the user. Starting is race-free (a lock beside the socket),
//! a socket whose daemon is gone is replaced, and the daemon exits after `--ssh-hold` seconds
//! without a connection.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use os::listen::{self, Wake};

use crate::log::Level;
use crate::log_at;
use crate::serve::{Conn, ServeConfig, serve};

/// How long a starting held daemon has to listen before the `--inetd` one gives up on it.
pub const START_WAIT: Duration = Duration::from_secs(5);

/// The longest unix socket path (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The environment variables that change what a daemon does: part of the socket's name.
const ENV_KEYS: &[&str] = &[
    "DISTCCD_ALLOWED_COMPILERS",
    "DISTCCD_PATH",
    "DISTCC_CMDLIST",
    "DISTCC_CMDLIST_NUMWORDS",
    "DISTCC_SAVE_TEMPS",
    "TMPDIR",
    "PATH",
];

/// True when this `--inetd` daemon was started by sshd.
pub fn under_ssh() -> bool {
    std::env::var_os("SSH_CONNECTION").is_some_and(|v| !v.is_empty())
}

/// `~/.distcc/held`, made if missing (0700) and checked: a directory (not a link), owned by
/// this user, with no access for group or others. `home` is `$HOME`.
pub fn private_dir(home: &Path) -> Result<PathBuf, String> {
    let top = home.join(".distcc");
    let dir = top.join("held");
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
    {
        return Err(format!("cannot create {}: {e}", dir.display()));
    }
    check_private(&dir)?;
    Ok(dir)
}

/// The directory must be a real directory of ours that nobody else can enter.
fn check_private(dir: &Path) -> Result<(), String> {
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !m.file_type().is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if m.uid() != me {
        return Err(format!(
            "{} belongs to uid {}, not to this user ({me})",
            dir.display(),
            m.uid()
        ));
    }
    if m.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is open to others (mode {:o}); it must be 0700",
            dir.display(),
            m.permissions().mode() & 0o7777
        ));
    }
    Ok(())
}

/// The socket's name for a daemon with these arguments: a hash of the program (path, inode
/// and change time, so an upgraded binary gets a new daemon), the arguments and the
/// environment that changes what a job may do. `None` when the path would be too long.
pub fn socket_path(dir: &Path, program: &Path, args: &[String]) -> Option<PathBuf> {
    let mut h = Fnv::new();
    h.write(program.as_os_str().as_encoded_bytes());
    if let Ok(m) = std::fs::metadata(program) {
        h.write(&m.ino().to_le_bytes());
        h.write(&m.ctime().to_le_bytes());
        h.write(&m.ctime_nsec().to_le_bytes());
    }
    for a in args {
        h.write(a.as_bytes());
    }
    for k in ENV_KEYS {
        h.write(k.as_bytes());
        h.write(std::env::var_os(k).unwrap_or_default().as_encoded_bytes());
    }
    let path = dir.join(format!("distccd-{:016x}", h.0));
    (path.as_os_str().len() <= MAX_SOCKET_PATH).then_some(path)
}

/// The arguments of the held daemon: the `--inetd` one's, without the mode, plus the socket.
pub fn held_args(args: &[String], socket: &Path) -> Vec<String> {
    let mut v: Vec<String> = args
        .iter()
        .filter(|a| !matches!(a.as_str(), "--inetd" | "--daemon" | "--no-detach"))
        .cloned()
        .collect();
    v.push("--held-socket".to_owned());
    v.push(socket.display().to_string());
    v
}

/// Makes sure a held daemon listens on `socket`: one connect when it does; otherwise, under
/// a lock beside the socket (so many jobs arriving at once start one daemon), removes a
/// stale socket (ours, a socket, nobody listening), calls `start` (which must return once the
/// new daemon listens, or fail) and checks that it does.
pub fn ensure(socket: &Path, start: &mut dyn FnMut() -> Result<(), String>) -> Result<(), String> {
    if UnixStream::connect(socket).is_ok() {
        return Ok(());
    }
    let lock_path = socket.with_extension("lock");
    let _lock = os::wake::BlockingLock::acquire(&lock_path)
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    match UnixStream::connect(socket) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(_) => remove_stale(socket)?,
    }
    start()?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        match UnixStream::connect(socket) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "the held daemon did not listen on {} within {} s: {e}",
                    socket.display(),
                    START_WAIT.as_secs()
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Removes what a dead held daemon left: only a socket file of this user.
fn remove_stale(socket: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let m = std::fs::symlink_metadata(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !m.file_type().is_socket() || m.uid() != me {
        return Err(format!(
            "{} is not a socket of this user; not touching it",
            socket.display()
        ));
    }
    log_at!(
        Level::Info,
        "replacing the stale held socket {}",
        socket.display()
    );
    std::fs::remove_file(socket).map_err(|e| format!("cannot remove {}: {e}", socket.display()))
}

/// A bound held socket, and which file it is (device, inode): at exit only that file is
/// removed, never one a newer daemon bound in its place.
pub struct Bound {
    pub listener: UnixListener,
    file: (u64, u64),
}

/// Binds the held daemon's socket (mode 0600 whatever the umask) in a private directory. The
/// caller has the lock or is the process the locker started.
pub fn bind(socket: &Path) -> io::Result<Bound> {
    if let Some(dir) = socket.parent() {
        check_private(dir).map_err(io::Error::other)?;
    }
    let listener = UnixListener::bind(socket)?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    let m = std::fs::symlink_metadata(socket)?;
    Ok(Bound {
        listener,
        file: (m.dev(), m.ino()),
    })
}

/// Live connections, and when the last one ended: the idle clock.
struct Active {
    state: Mutex<(usize, Instant)>,
    cv: Condvar,
}

struct Guard(Arc<Active>);

impl Drop for Guard {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 -= 1;
        s.1 = Instant::now();
        self.0.cv.notify_all();
    }
}

/// Stack of a connection thread (as `server`'s).
const CONNECTION_STACK: usize = 256 * 1024;

/// The held daemon's accept loop: a connection only from this user (`SO_PEERCRED`), served as
/// `--inetd` serves; ends after `idle` without any connection, on shutdown, or at
/// `max_connections` it refuses more. Waits for running jobs before returning.
pub fn run(
    bound: Bound,
    socket: &Path,
    idle: Duration,
    max_connections: usize,
    cfg: Arc<ServeConfig>,
    shutdown_fd: RawFd,
) -> io::Result<()> {
    let Bound { listener, file } = bound;
    listener.set_nonblocking(true)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let active = Arc::new(Active {
        state: Mutex::new((0, Instant::now())),
        cv: Condvar::new(),
    });
    loop {
        let left = {
            let s = active.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.0 > 0 {
                idle
            } else {
                idle.saturating_sub(s.1.elapsed())
            }
        };
        if left.is_zero() {
            log_at!(
                Level::Notice,
                "idle for {} s: the held daemon exits",
                idle.as_secs()
            );
            break;
        }
        match listen::wait(listener.as_raw_fd(), shutdown_fd, Some(left))? {
            Wake::Shutdown => {
                log_at!(Level::Notice, "shutdown requested");
                break;
            }
            Wake::TimedOut => continue,
            Wake::Ready => {}
        }
        loop {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_at!(Level::Error, "accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    break;
                }
            };
            let uid = peer_uid(&stream);
            if uid != Some(me) && uid != Some(0) {
                log_at!(
                    Level::Warning,
                    "held socket: connection from uid {uid:?} refused (only uid {me} may use it)"
                );
                continue;
            }
            {
                let mut s = active.state.lock().unwrap_or_else(|p| p.into_inner());
                if s.0 >= max_connections {
                    log_at!(
                        Level::Warning,
                        "connection limit of {max_connections} reached: dropping one"
                    );
                    continue;
                }
                s.0 += 1;
            }
            cfg.stats.accepted();
            let guard = Guard(active.clone());
            let cfg = cfg.clone();
            let spawned = std::thread::Builder::new()
                .name("held conn".into())
                .stack_size(CONNECTION_STACK)
                .spawn(move || {
                    let _guard = guard;
                    if stream.set_nonblocking(false).is_err()
                        || stream.set_write_timeout(Some(cfg.read_timeout)).is_err()
                    {
                        return;
                    }
                    let (mut r, mut w) = (&stream, &stream);
                    serve(
                        Conn {
                            fd: stream.as_fd(),
                            reader: &mut r,
                            writer: &mut w,
                            peer: "ssh-held".to_owned(),
                            principal: crate::chunks::ssh_principal(),
                        },
                        &cfg,
                    );
                });
            if let Err(e) = spawned {
                log_at!(Level::Error, "cannot start a connection thread: {e}");
            }
        }
    }
    // Under the starters' lock, so that a socket a new daemon has just bound in our place is
    // never removed; as root-turned-nobody the lock may be out of reach, and then the socket
    // stays for the next `--inetd` to replace as stale.
    if let Ok(_lock) = os::wake::BlockingLock::acquire(&socket.with_extension("lock"))
        && std::fs::symlink_metadata(socket).is_ok_and(|m| (m.dev(), m.ino()) == file)
    {
        let _ = std::fs::remove_file(socket);
    }
    drop(listener);
    let mut s = active.state.lock().unwrap_or_else(|p| p.into_inner());
    while s.0 > 0 {
        s = active.cv.wait(s).unwrap_or_else(|p| p.into_inner());
    }
    Ok(())
}

/// The uid of the process at the other end of a unix socket.
fn peer_uid(s: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt into a properly sized ucred on an open socket.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(cred.uid)
}

/// FNV-1a, 64 bits, with a separator after each word.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain([0u8].iter()) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("distccd-held-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_directory_is_made_private_and_checked() {
        let home = tmp("dir");
        let dir = private_dir(&home).unwrap();
        assert_eq!(dir, home.join(".distcc/held"));
        let m = std::fs::symlink_metadata(&dir).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_dir(&home).unwrap_err().contains("open to others"));
        std::fs::remove_dir(&dir).unwrap();
        let elsewhere = home.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        assert!(private_dir(&home).unwrap_err().contains("not a directory"));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn the_socket_name_follows_the_options_and_args_drop_the_mode() {
        let d = Path::new("/h/.distcc/held");
        let p = Path::new("/nonexistent/distccd");
        let a = socket_path(d, p, &["--inetd".into(), "--jobs".into(), "2".into()]).unwrap();
        let b = socket_path(d, p, &["--inetd".into(), "--jobs".into(), "3".into()]).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            a,
            socket_path(d, p, &["--inetd".into(), "--jobs".into(), "2".into()]).unwrap()
        );
        assert!(socket_path(&PathBuf::from("/".repeat(100)), p, &[]).is_none());
        assert_eq!(
            held_args(&["--inetd".into(), "-j2".into()], Path::new("/s")),
            ["-j2", "--held-socket", "/s"]
        );
    }

    #[test]
    fn ensure_starts_once_and_replaces_a_stale_socket() {
        let home = tmp("ensure");
        let dir = private_dir(&home).unwrap();
        let sock = dir.join("s");
        // A stale socket: bound, then its listener gone.
        drop(bind(&sock).unwrap());
        let mut kept = None;
        let mut starts = 0;
        ensure(&sock, &mut || {
            starts += 1;
            kept = Some(bind(&sock).map_err(|e| e.to_string())?);
            Ok(())
        })
        .unwrap();
        assert_eq!(starts, 1);
        ensure(&sock, &mut || panic!("already listening")).unwrap();
        drop(kept);
        // Not a socket: left alone.
        std::fs::remove_file(&sock).unwrap();
        std::fs::write(&sock, "x").unwrap();
        let e = ensure(&sock, &mut || Ok(())).unwrap_err();
        assert!(e.contains("not a socket"), "{e}");
        // A start that never listens.
        std::fs::remove_file(&sock).unwrap();
        assert!(ensure(&sock, &mut || Err("no".into())).is_err());
        std::fs::remove_dir_all(&home).unwrap();
    }
}
