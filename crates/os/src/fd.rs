//! Descriptors handed down by a parent process by number, such as ccache's
//! `UNCACHED_ERR_FD`: checked before use, never taken over.

use std::fs::File;
use std::os::fd::FromRawFd;

/// A close-on-exec duplicate of the inherited descriptor `fd`, if `fd` is open for writing.
/// The original stays open and untouched (children still inherit it); a number that is not
/// an open, writable descriptor gives `None`.
pub fn inherited_writer(fd: i32) -> Option<File> {
    if fd < 0 {
        return None;
    }
    // SAFETY: F_GETFL only reads the flags of a descriptor number; a closed one gives -1.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        return None;
    }
    // SAFETY: F_DUPFD_CLOEXEC makes a new descriptor (or fails with -1); nothing else owns
    // the new one, so the File below is its only owner.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return None;
    }
    // SAFETY: `dup` is a fresh descriptor owned by no one else (see above).
    Some(unsafe { File::from_raw_fd(dup) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn a_writable_descriptor_is_duplicated_and_others_refused() {
        let mut dir = std::env::temp_dir();
        dir.push(format!("distcc-os-fd-{}", std::process::id()));
        std::fs::write(&dir, b"").unwrap();
        let w = std::fs::OpenOptions::new().append(true).open(&dir).unwrap();
        let mut dup = inherited_writer(w.as_raw_fd()).expect("writable");
        assert_ne!(dup.as_raw_fd(), w.as_raw_fd());
        dup.write_all(b"x").unwrap();
        let r = File::open(&dir).unwrap();
        assert!(inherited_writer(r.as_raw_fd()).is_none(), "read-only");
        assert!(inherited_writer(-1).is_none());
        assert!(inherited_writer(999_999).is_none(), "not open");
        let mut s = String::new();
        File::open(&dir).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "x");
        let _ = std::fs::remove_file(&dir);
    }
}
