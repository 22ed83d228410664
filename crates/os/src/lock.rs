//! Whole-file fcntl write locks, the kind distcc 3.4 takes on its slot files.
//!
//! 3.4 locks `$DISTCC_DIR/lock/cpu_*` with `fcntl(F_SETLK, F_WRLCK)`. `flock` (and
//! `std::fs::File::lock`) is a different lock family that 3.4 never sees, so a C client and
//! a Rust client on one machine would both think a slot is free. This module only takes and
//! releases such locks; which files to lock, and what a busy slot means, is the caller's call.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A held lock. Dropping it releases the lock (closing the descriptor does, for fcntl locks).
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Opens (creating with mode 0666 less the umask, as 3.4 does) and write-locks `path`
    /// without waiting. `Ok(None)` means another process holds the lock.
    ///
    /// A slot that is held is found through a read-only descriptor, never by a write-open
    /// that fails to lock: closing a descriptor opened for writing is an `IN_CLOSE_WRITE` in
    /// the lock directory, which is how waiting clients learn that a slot was freed, and a
    /// waiter whose own failed tries woke it would look again at once, for ever.
    pub fn try_lock(path: &Path) -> io::Result<Option<FileLock>> {
        if holder(path)?.is_some() {
            return Ok(None);
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(path)?;
        match set_lock(&file, libc::F_WRLCK) {
            Ok(()) => Ok(Some(FileLock { file })),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Releases the lock explicitly (dropping does the same, silently).
    pub fn unlock(self) -> io::Result<()> {
        set_lock(&self.file, libc::F_UNLCK)
    }
}

/// The pid of a process holding a conflicting fcntl lock on `path`, without taking it.
/// `Ok(None)`: free (or missing). Locks this process holds never conflict with its own probe.
pub fn holder(path: &Path) -> io::Result<Option<i32>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut param = whole_file(libc::F_WRLCK);
    // SAFETY: the descriptor is open and `param` is a valid struct that outlives the call.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut param) } == -1 {
        return Err(io::Error::last_os_error());
    }
    if param.l_type == libc::F_UNLCK as libc::c_short {
        Ok(None)
    } else {
        Ok(Some(param.l_pid))
    }
}

/// Waits for a whole-file fcntl lock on an open file, shared (`F_RDLCK`, the file must be
/// open for reading) or exclusive (`F_WRLCK`, open for writing): how 3.4's zeroconf browser
/// and its clients take turns on the host file. Released by [`unlock_file`] or by closing.
pub fn wait_lock(file: &File, exclusive: bool) -> io::Result<()> {
    let param = whole_file(if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    });
    loop {
        // SAFETY: the descriptor is open for the lifetime of `file`, and `param` is a valid
        // `struct flock` that outlives the call.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &param) } != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Releases a lock taken with [`wait_lock`].
pub fn unlock_file(file: &File) -> io::Result<()> {
    set_lock(file, libc::F_UNLCK)
}

/// Sets the file's access time to now, leaving its modification time: "last used", which
/// 3.4's zeroconf browser reads to know when to exit (atime alone is unreliable under
/// `relatime` and `noatime` mounts).
pub fn touch_atime(file: &File) -> io::Result<()> {
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    ];
    // SAFETY: the descriptor is open; `times` is a valid array of two timespecs.
    if unsafe { libc::futimens(file.as_raw_fd(), times.as_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A `struct flock` of `kind` (`F_WRLCK`, `F_UNLCK`) covering the whole file, as 3.4 locks.
pub(crate) fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value, and
    // zero `l_start` and `l_len` mean the whole file.
    let mut param: libc::flock = unsafe { std::mem::zeroed() };
    param.l_type = kind as libc::c_short;
    param.l_whence = libc::SEEK_SET as libc::c_short;
    param
}

fn set_lock(file: &File, kind: libc::c_int) -> io::Result<()> {
    let param = whole_file(kind);
    // SAFETY: the descriptor is open for the lifetime of `file`, and `param` is a valid
    // `struct flock` that outlives the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &param) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_from_another_process_is_refused() {
        let dir = std::env::temp_dir().join(format!("distcc-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cpu_localhost_0");
        let held = FileLock::try_lock(&path).unwrap().expect("first lock");
        // fcntl locks are per process, so ask another process. The child uses only raw,
        // async-signal-safe calls because the test harness is multi-threaded.
        let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: see above; the child ends with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: open/fcntl/_exit are async-signal-safe; `cpath` outlives the calls.
            unsafe {
                let fd = libc::open(cpath.as_ptr(), libc::O_WRONLY);
                let mut p: libc::flock = std::mem::zeroed();
                p.l_type = libc::F_WRLCK as libc::c_short;
                let busy = libc::fcntl(fd, libc::F_SETLK, &p) == -1;
                libc::_exit(if busy { 0 } else { 1 });
            }
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(libc::WEXITSTATUS(status), 0, "child saw the slot as free");
        held.unlock().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
