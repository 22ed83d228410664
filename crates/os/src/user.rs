//! Dropping root: switching the whole process to an unprivileged user.
//!
//! Call [`drop_root`] before any thread starts: `setuid` in a multi-threaded process would
//! have to reach every thread, which the C library does but raw syscalls do not. Which users
//! to prefer is the caller's policy.

use std::ffi::CString;
use std::io;

/// Who the process runs as after [`drop_root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// True when the real or effective user is root.
pub fn is_root() -> bool {
    // SAFETY: plain syscalls.
    unsafe { libc::getuid() == 0 || libc::geteuid() == 0 }
}

/// Looks up a user by name.
pub fn lookup(name: &str) -> Option<Persona> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy out at once and
    // this runs before any thread starts, so nobody else can overwrite it meanwhile.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: pw is non-null and points to a valid passwd.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Some(Persona {
        name: name.to_owned(),
        uid,
        gid,
    })
}

/// If running as root, becomes the first of `candidates` that exists (else uid/gid 65534)
/// and checks that root cannot be regained. Returns `None` when not root to begin with.
pub fn drop_root(candidates: &[&str]) -> io::Result<Option<Persona>> {
    if !is_root() {
        return Ok(None);
    }
    let p = candidates
        .iter()
        .find_map(|n| lookup(n))
        .unwrap_or(Persona {
            name: "65534".to_owned(),
            uid: 65534,
            gid: 65534,
        });
    if p.uid == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refusing to run as user {} (uid 0)", p.name),
        ));
    }
    // SAFETY: plain syscalls; order matters: groups and gid while still root, uid last.
    unsafe {
        if libc::setgroups(1, &p.gid) != 0 || libc::setgid(p.gid) != 0 || libc::setuid(p.uid) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if is_root() || unsafe { libc::setuid(0) } == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "still have root privileges after trying to discard them",
        ));
    }
    Ok(Some(p))
}
