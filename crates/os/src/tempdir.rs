//! Private temporary directories that are removed whatever happens.
//!
//! A [`TempDir`] is made with `mkdtemp` (mode 0700, a name nobody can predict) under
//! `$TMPDIR` or `/tmp`, and removed with everything in it when dropped. Removal never follows
//! symbolic links out of the directory (`std::fs::remove_dir_all` unlinks links, it does not
//! descend through them), so a hostile link inside cannot make cleanup delete other files.
//!
//! When the process runs a `janitor`, the directory is also removed if the process is killed.
//!
//! What to put inside, and with what checks, is the caller's business.

use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A directory that exists until this value is dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new directory named `<prefix>XXXXXX` under `$TMPDIR` (or `/tmp`).
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        TempDir::new_in(&tmpdir(), prefix)
    }

    /// A new directory named `<prefix>XXXXXX` under `parent`.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<TempDir> {
        let mut template = parent.as_os_str().as_bytes().to_vec();
        template.push(b'/');
        template.extend_from_slice(prefix.as_bytes());
        template.extend_from_slice(b"XXXXXX");
        let c = CString::new(template)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a nul byte"))?;
        let mut raw = c.into_bytes_with_nul();
        // SAFETY: raw is a writable, nul-terminated template as mkdtemp requires.
        let p = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(io::Error::last_os_error());
        }
        raw.pop();
        let path = PathBuf::from(OsString::from_vec(raw));
        // A daemon's janitor removes it if the daemon is killed before it can.
        crate::janitor::watch_dir(&path);
        Ok(TempDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory and its contents in place when dropped (and when the process is
    /// killed): distccd's `DISTCC_SAVE_TEMPS`.
    pub fn keep(&mut self) {
        self.keep = true;
        crate::janitor::forget_dir(&self.path);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Files the job left unwritable to us would stop removal; make directories writable
        // first is not needed because we own every directory we created (mode 0700 or umask).
        let _ = std::fs::remove_dir_all(&self.path);
        crate::janitor::forget_dir(&self.path);
    }
}

/// `$TMPDIR` if set to an absolute path, else `/tmp`.
pub fn tmpdir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
        _ => PathBuf::from("/tmp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_private_and_removed_on_drop() {
        let outside = TempDir::new("os-tempdir-outside-").unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let t = TempDir::new("os-tempdir-").unwrap();
        let p = t.path().to_owned();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::create_dir(p.join("sub")).unwrap();
        std::fs::write(p.join("sub/f"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), p.join("link")).unwrap();
        drop(t);
        assert!(!p.exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let mut kept = TempDir::new_in(outside.path(), "kept-").unwrap();
        let k = kept.path().to_owned();
        kept.keep();
        drop(kept);
        assert!(k.is_dir(), "a kept directory stays");
    }
}
