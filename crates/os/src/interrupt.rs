//! Dying cleanly of SIGINT, SIGTERM, SIGHUP or SIGQUIT, as gcc's driver does: the signal is
//! forwarded to the process group of every registered child, those children get a moment to
//! exit (then their groups are killed), every registered file is removed, and the process dies
//! of the same signal, so a shell or `make` sees it interrupted (status 130 for SIGINT).
//!
//! Why it is needed: `process` starts each child in a process group of its own, so a Ctrl-C
//! typed at a terminal reaches only the caller; without forwarding, a local compiler would run
//! on, and the caller's temporary files would be left behind.
//!
//! Only a short-lived foreground process (the client) should call [`install`]; until then
//! registration does nothing, so a daemon spawning many children pays nothing for it.
//! Everything the handler touches is async-signal-safe: fixed tables of atomics and byte
//! buffers, `kill`, `waitpid`, `nanosleep`, `unlink`, `raise`. It never blocks signals with
//! a mask, which children started by `posix_spawn` would inherit. A file or child beyond the
//! table's capacity is simply not registered; which files to register is the caller's choice.

use std::cell::UnsafeCell;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};

/// The signals that mean "stop now" from a terminal, a session or `kill`.
pub const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

const MAX_GROUPS: usize = 8;
const MAX_FILES: usize = 8;
/// Longest registered path, with its NUL.
const PATH_CAP: usize = 4096;
/// How long registered children get to exit after the forwarded signal.
const GRACE_MS: u32 = 2000;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static GROUPS: [AtomicI32; MAX_GROUPS] = [const { AtomicI32::new(0) }; MAX_GROUPS];

const FREE: u8 = 0;
const FILLING: u8 = 1;
const READY: u8 = 2;
/// Taken by the handler, which is removing it; never reused (the process is dying).
const CLAIMED: u8 = 3;

struct FileSlot {
    state: AtomicU8,
    path: UnsafeCell<[u8; PATH_CAP]>,
}

// SAFETY: `path` is written only by the thread that moved `state` FREE → FILLING, and read
// only by a handler that moved it READY → CLAIMED (after the writer's release store).
unsafe impl Sync for FileSlot {}

static FILES: [FileSlot; MAX_FILES] = [const {
    FileSlot {
        state: AtomicU8::new(FREE),
        path: UnsafeCell::new([0; PATH_CAP]),
    }
}; MAX_FILES];

extern "C" fn on_interrupt(sig: libc::c_int) {
    if SPAWNING.load(Ordering::Acquire) > 0 {
        // A child is being started and not yet registered: let the spawner raise it again.
        PENDING.store(sig, Ordering::Release);
        return;
    }
    // SAFETY: only async-signal-safe calls on plain integers and our static buffers.
    unsafe {
        let mut live = [0 as libc::pid_t; MAX_GROUPS];
        for (g, out) in GROUPS.iter().zip(live.iter_mut()) {
            let pid = g.load(Ordering::Acquire);
            if pid > 0 {
                libc::kill(-pid, sig);
                *out = pid;
            }
        }
        // Let the children clean up after themselves (gcc removes its outputs on SIGINT).
        let step = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        let mut waited = 0;
        while waited < GRACE_MS && live.iter().any(|p| *p > 0) {
            for p in live.iter_mut().filter(|p| **p > 0) {
                let mut status = 0;
                let r = libc::waitpid(*p, &mut status, libc::WNOHANG);
                if r == *p || r < 0 {
                    // Reaped (or reaped by another thread): its group may hold stragglers.
                    libc::kill(-*p, libc::SIGKILL);
                    *p = 0;
                }
            }
            libc::nanosleep(&step, std::ptr::null_mut());
            waited += 10;
        }
        for p in live.iter().filter(|p| **p > 0) {
            libc::kill(-*p, libc::SIGKILL);
        }
        for f in &FILES {
            if f.state
                .compare_exchange(READY, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                libc::unlink((*f.path.get()).as_ptr().cast());
            }
        }
        // Die of the same signal: it is blocked while this handler runs, so it is delivered,
        // with the default action, the moment the handler returns.
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs the handler for [`SIGNALS`] (once). A signal the process was started with
/// ignored (`nohup`, a background job) stays ignored, as gcc does.
pub fn install() -> io::Result<()> {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    for sig in SIGNALS {
        // SAFETY: sigaction on a zeroed struct; the handler is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            // One handler at a time: a second signal waits until the first one's handler is
            // done (and then kills the process with its default action).
            libc::sigemptyset(&mut sa.sa_mask);
            for s in SIGNALS {
                libc::sigaddset(&mut sa.sa_mask, s);
            }
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// True once [`install`] has run.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Spawns under way (see [`Deferred`]), and a signal that arrived during one.
static SPAWNING: AtomicUsize = AtomicUsize::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Holds back the handler while a child is started and registered, so the handler cannot
/// miss it: a signal arriving meanwhile is noted and raised again when the last spawn under
/// way ends. Not a signal mask: `std` starts children with `posix_spawn`, which passes the
/// caller's mask on, and a compiler that blocks SIGINT would never see the forwarded one.
pub(crate) struct Deferred {
    active: bool,
}

impl Deferred {
    pub(crate) fn new() -> Deferred {
        if !installed() {
            return Deferred { active: false };
        }
        SPAWNING.fetch_add(1, Ordering::AcqRel);
        Deferred { active: true }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if self.active && SPAWNING.fetch_sub(1, Ordering::AcqRel) == 1 {
            let sig = PENDING.swap(0, Ordering::AcqRel);
            if sig != 0 {
                // SAFETY: re-raises the signal the handler deferred; the handler runs now.
                unsafe {
                    libc::raise(sig);
                }
            }
        }
    }
}

/// Registers a child's process group for forwarding; `None` when not installed or full.
pub(crate) fn watch_group(pgid: libc::pid_t) -> Option<usize> {
    if !installed() || pgid <= 0 {
        return None;
    }
    GROUPS.iter().position(|g| {
        g.compare_exchange(0, pgid, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

/// Forgets a group registered by [`watch_group`] (call before reaping the child).
pub(crate) fn unwatch_group(slot: usize) {
    if let Some(g) = GROUPS.get(slot) {
        g.store(0, Ordering::Release);
    }
}

/// A file removed if the process is interrupted while this value lives. Dropping it only
/// forgets the file: removing it in the ordinary course is the owner's job.
#[derive(Debug)]
pub struct RemoveOnInterrupt {
    slot: Option<usize>,
}

impl RemoveOnInterrupt {
    /// Registers `path` (does nothing when [`install`] has not run, the path is too long or
    /// holds a NUL, or the table is full).
    pub fn new(path: &Path) -> RemoveOnInterrupt {
        let bytes = path.as_os_str().as_bytes();
        if !installed() || bytes.len() >= PATH_CAP || bytes.contains(&0) {
            return RemoveOnInterrupt { slot: None };
        }
        for (i, f) in FILES.iter().enumerate() {
            if f.state
                .compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: FILLING gives this thread sole access to the buffer (see FileSlot).
                let buf = unsafe { &mut *f.path.get() };
                buf[..bytes.len()].copy_from_slice(bytes);
                buf[bytes.len()] = 0;
                f.state.store(READY, Ordering::Release);
                return RemoveOnInterrupt { slot: Some(i) };
            }
        }
        RemoveOnInterrupt { slot: None }
    }

    /// True when the file is registered.
    pub fn is_registered(&self) -> bool {
        self.slot.is_some()
    }
}

impl Drop for RemoveOnInterrupt {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            // CLAIMED (the handler is removing it) stays claimed: the process is dying.
            let _ =
                FILES[i]
                    .state
                    .compare_exchange(READY, FREE, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_registered_before_install() {
        // Unit tests share one process, so `install` (which changes how the whole test binary
        // reacts to SIGINT) is exercised end to end by the client's tests instead.
        assert!(!installed());
        assert!(!RemoveOnInterrupt::new(Path::new("/tmp/x")).is_registered());
        assert_eq!(watch_group(12345), None);
    }
}
