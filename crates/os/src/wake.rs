//! Waiting without polling, for clients that share slots through 3.4's lock files: a
//! per-waiter doorbell (a named FIFO that another process rings with one byte), a watch on a
//! directory for files closed after writing (how a 3.4 client's slot release shows up, since
//! it wakes nobody), a lock probe (`F_GETLK`, which never takes the lock), and a blocking
//! whole-file lock for short read-modify-write sections.
//!
//! Everything here vanishes with its process: a doorbell nobody holds open refuses to ring
//! (`ENXIO`), so a crashed waiter is recognised and its name can be removed; fcntl locks and
//! inotify watches are released by the kernel. Which doorbell to ring, and what a wake-up
//! means, is the caller's policy.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// A named FIFO this process listens on. It appears under its final name only once it is
/// open, so a ringer never mistakes a half-made doorbell for a dead one. Removed on drop.
#[derive(Debug)]
pub struct Doorbell {
    file: File,
    path: PathBuf,
}

impl Doorbell {
    /// Creates `dir/name` (via `dir/.tmp.name` and a rename) and opens it.
    pub fn create(dir: &Path, name: &str) -> io::Result<Doorbell> {
        let tmp = dir.join(format!(".tmp.{name}"));
        let _ = std::fs::remove_file(&tmp);
        let c = cstr(&tmp)?;
        // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // Read-write, so that the FIFO always has a writer: poll then never reports a
        // hang-up after a ringer closes, only readable bytes.
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let path = dir.join(name);
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(Doorbell { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the doorbell rings, `watch` sees a closed file, or `timeout` passes.
    /// Returns true when woken by either. Pending rings are consumed.
    pub fn wait(&self, timeout: Duration, watch: Option<&DirWatch>) -> io::Result<bool> {
        let mut fds = [
            libc::pollfd {
                fd: self.file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: watch.map_or(-1, |w| w.fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call; a
        // negative fd is ignored by poll.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n == -1 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        self.pending();
        if let Some(w) = watch {
            w.drain();
        }
        Ok(n > 0)
    }

    /// Consumes pending rings without waiting; true if there were any.
    pub fn pending(&self) -> bool {
        let mut buf = [0u8; 64];
        let mut any = false;
        while matches!((&self.file).read(&mut buf), Ok(n) if n > 0) {
            any = true;
        }
        any
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What ringing a doorbell found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ring {
    /// Somebody holds it open; the byte is queued for them (or a ring already was).
    Rung,
    /// Nobody listens (the waiter exited or crashed) or the name is gone.
    Gone,
}

/// Rings the doorbell at `path` without ever blocking.
pub fn ring(path: &Path) -> io::Result<Ring> {
    let file = match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO) | Some(libc::ENOENT)) => {
            return Ok(Ring::Gone);
        }
        Err(e) => return Err(e),
    };
    match (&file).write(b"!") {
        Ok(_) => Ok(Ring::Rung),
        // A full pipe holds thousands of rings already.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Ring::Rung),
        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => Ok(Ring::Gone),
        Err(e) => Err(e),
    }
}

/// Whether somebody listens on the doorbell at `path`, without ringing it: opening a FIFO
/// for writing without blocking fails (`ENXIO`) exactly when no reader holds it.
pub fn listening(path: &Path) -> io::Result<bool> {
    match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO) | Some(libc::ENOENT)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Notices files in one directory being closed after they were open for writing: a 3.4
/// client releasing a slot closes its lock file, and that is all it does.
#[derive(Debug)]
pub struct DirWatch {
    fd: OwnedFd,
}

impl DirWatch {
    pub fn new(dir: &Path) -> io::Result<DirWatch> {
        // SAFETY: plain syscall with constant flags.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let c = cstr(dir)?;
        // SAFETY: valid descriptor and NUL-terminated path.
        if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_CLOSE_WRITE) }
            == -1
        {
            return Err(io::Error::last_os_error());
        }
        Ok(DirWatch { fd })
    }

    fn drain(&self) {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is writable for its length; the descriptor is open.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast::<libc::c_void>(),
                    buf.len(),
                )
            };
            if n <= 0 {
                break;
            }
        }
    }
}

/// A whole-file fcntl write lock taken by waiting (`F_SETLKW`): for read-modify-write of
/// small shared files, held for microseconds. Released on drop.
#[derive(Debug)]
pub struct BlockingLock {
    _file: File,
}

impl BlockingLock {
    pub fn acquire(path: &Path) -> io::Result<BlockingLock> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let param = crate::lock::whole_file(libc::F_WRLCK);
        loop {
            // SAFETY: open descriptor, valid struct that outlives the call.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &param) } != -1 {
                return Ok(BlockingLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("distcc-wake-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn ring_wakes_a_waiter_and_is_consumed() {
        let d = dir("ring");
        let bell = Doorbell::create(&d, "w1").unwrap();
        assert!(!d.join(".tmp.w1").exists());
        assert!(!bell.wait(Duration::from_millis(1), None).unwrap());
        // Asking whether it listens is not a ring.
        assert!(listening(bell.path()).unwrap());
        assert!(!bell.wait(Duration::from_millis(1), None).unwrap());
        assert_eq!(ring(bell.path()).unwrap(), Ring::Rung);
        assert_eq!(ring(bell.path()).unwrap(), Ring::Rung);
        let t = Instant::now();
        assert!(bell.wait(Duration::from_secs(5), None).unwrap());
        assert!(t.elapsed() < Duration::from_secs(1));
        // Both rings were consumed by the one wake-up.
        assert!(!bell.wait(Duration::from_millis(1), None).unwrap());
        let path = bell.path().to_owned();
        drop(bell);
        assert!(!path.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_doorbell_nobody_holds_is_gone() {
        let d = dir("gone");
        let path = d.join("stale");
        let c = cstr(&path).unwrap();
        // SAFETY: valid path; a FIFO left behind as a crashed waiter would leave it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(!listening(&path).unwrap());
        assert_eq!(ring(&path).unwrap(), Ring::Gone);
        assert_eq!(ring(&d.join("missing")).unwrap(), Ring::Gone);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn watch_sees_a_file_closed_after_writing() {
        let d = dir("watch");
        let bell = Doorbell::create(&d, "w").unwrap();
        let lockdir = d.join("lock");
        std::fs::create_dir_all(&lockdir).unwrap();
        let watch = DirWatch::new(&lockdir).unwrap();
        assert!(!bell.wait(Duration::from_millis(1), Some(&watch)).unwrap());
        drop(File::create(lockdir.join("cpu_localhost_0")).unwrap());
        assert!(bell.wait(Duration::from_secs(5), Some(&watch)).unwrap());
        assert!(!bell.wait(Duration::from_millis(1), Some(&watch)).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn probe_and_blocking_lock() {
        let d = dir("probe");
        let p = d.join("f");
        assert_eq!(crate::lock::holder(&p).unwrap(), None);
        let held = BlockingLock::acquire(&p).unwrap();
        // Our own lock never conflicts with our own probe.
        assert_eq!(crate::lock::holder(&p).unwrap(), None);
        drop(held);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
