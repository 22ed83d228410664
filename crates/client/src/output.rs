//! Putting results where the user expects them: output files as the compiler itself would
//! leave them, and compiler messages relayed whole lines at a time.
//!
//! gcc opens an output with `open(O_WRONLY|O_CREAT|O_TRUNC)`: a device stays a device, a FIFO
//! feeds its reader, a symlink's target gets the bytes and every hard link of a file sees
//! them. We do better than that only where it changes nothing else: a path that does not
//! exist yet, or is a plain file of ours with one link, gets the bytes under a temporary name
//! in its directory and a rename, so a reader (or a build interrupted midway) sees the old
//! file or the new one whole. Anything else is written through, exactly as gcc would.

use std::fs::{OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How an output path is to be written; see the module's doc.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// Temporary name and rename; `Some(mode)` keeps the permission bits of the file replaced.
    Replace(Option<u32>),
    /// Open the path itself, following links, and write into it (devices, FIFOs, sockets,
    /// symlinks, files with other hard links, files owned by someone else).
    Through,
}

/// Decides how `path` is written, from what is there now (`lstat`, never followed).
pub fn how_to_put(path: &Path) -> io::Result<Put> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Put::Replace(None)),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_file() && m.nlink() == 1 && m.uid() == euid() => {
            Ok(Put::Replace(Some(m.mode() & 0o7777)))
        }
        Ok(_) => Ok(Put::Through),
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Writes `data` to the output `path` as the compiler would have (see the module's doc).
pub fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    match how_to_put(path)? {
        Put::Replace(mode) => match write_atomic(path, data, mode) {
            // A directory we may not create in, holding a file we may write: gcc writes the
            // file in place, and so do we.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && mode.is_some() => {
                write_through(path, data)
            }
            r => r,
        },
        Put::Through => write_through(path, data),
    }
}

/// gcc's own way: open (following links, creating 0666 less the umask, truncating a regular
/// file) and write.
fn write_through(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)?;
    f.write_all(data)?;
    f.flush()
}

/// Writes `data` to `path` through a temporary name in the same directory and a rename.
/// `mode`, when given, is set on the new file first (the replaced file's permission bits).
fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "output has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.distcc-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _interrupt = os::interrupt::RemoveOnInterrupt::new(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&tmp)?;
        if let Some(mode) = mode {
            f.set_permissions(Permissions::from_mode(mode))?;
        }
        f.write_all(data)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Pipes and terminals take a write of at most this size in one piece.
const ATOMIC_WRITE: usize = 4096;

/// Writes compiler messages so that other processes writing to the same terminal or pipe can
/// only come between lines: each write is a batch of whole lines (at most 4 KiB unless one
/// line is longer).
pub fn relay(out: &mut dyn Write, data: &[u8]) -> io::Result<()> {
    let (mut start, mut end) = (0, 0);
    for line in data.split_inclusive(|&b| b == b'\n') {
        if end > start && end - start + line.len() > ATOMIC_WRITE {
            out.write_all(&data[start..end])?;
            start = end;
        }
        end += line.len();
    }
    if end > start {
        out.write_all(&data[start..end])?;
    }
    out.flush()
}

/// Relays what a running compiler writes to `input` as `relay` does, line batches as they
/// complete, until end of file: clang writes a diagnostic a few bytes at a time, and two
/// compilers sharing a pipe would otherwise interleave inside each other's lines. A line
/// longer than 64 KiB goes out in pieces; a last line without a newline at end of file.
pub fn relay_lines(mut input: impl io::Read, out: &mut dyn Write) -> io::Result<()> {
    const MAX_PENDING: usize = 64 * 1024;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        pending.extend_from_slice(&chunk[..n]);
        let whole = match pending.iter().rposition(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None if pending.len() >= MAX_PENDING => pending.len(),
            None => continue,
        };
        relay(out, &pending[..whole])?;
        pending.drain(..whole);
    }
    if !pending.is_empty() {
        relay(out, &pending)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Writes(Vec<Vec<u8>>);
    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn relay_writes_whole_lines_in_batches() {
        let mut w = Writes(Vec::new());
        relay(&mut w, b"a\nb\nc").unwrap();
        assert_eq!(w.0, [b"a\nb\nc".to_vec()]);
        let line = [b'x'; 3000];
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        let mut w = Writes(Vec::new());
        relay(&mut w, &data).unwrap();
        assert_eq!(w.0.len(), 3);
        assert!(w.0.iter().all(|c| c.len() == 3001 && c.ends_with(b"\n")));
        let long = [b'y'; 9000];
        let mut w = Writes(Vec::new());
        relay(&mut w, &long).unwrap();
        assert_eq!(w.0.len(), 1);
    }

    /// Hands out its bytes a few at a time, as clang writes them.
    struct Trickle(Vec<u8>, usize);
    impl io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn a_trickle_is_relayed_in_whole_lines() {
        let text = b"a.c:2:3: warning: x\n    2 | int y;\n      |     ^\nno newline".to_vec();
        let mut w = Writes(Vec::new());
        relay_lines(Trickle(text.clone(), 3), &mut w).unwrap();
        assert_eq!(w.0.concat(), text);
        let (last, lines) = w.0.split_last().unwrap();
        assert!(lines.iter().all(|c| c.ends_with(b"\n")), "{:?}", w.0);
        assert_eq!(last, b"no newline");
        let long = vec![b'z'; 200 * 1024];
        let mut w = Writes(Vec::new());
        relay_lines(Trickle(long.clone(), 10_000), &mut w).unwrap();
        assert_eq!(w.0.concat(), long);
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("distcc-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_plain_file_is_replaced_whole_and_keeps_its_mode() {
        let dir = scratch("plain");
        let p = dir.join("x.o");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, Permissions::from_mode(0o640)).unwrap();
        let before = std::fs::metadata(&p).unwrap().ino();
        assert_eq!(how_to_put(&p).unwrap(), Put::Replace(Some(0o640)));
        write(&p, b"new object").unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new object");
        assert_ne!(m.ino(), before, "a plain file is replaced by a rename");
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let new = dir.join("new.o");
        assert_eq!(how_to_put(&new).unwrap(), Put::Replace(None));
        write(&new, b"fresh").unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"fresh");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_gets_the_bytes() {
        let dir = scratch("link");
        let target = dir.join("real.o");
        std::fs::write(&target, b"old").unwrap();
        let link = dir.join("x.o");
        std::os::unix::fs::symlink("real.o", &link).unwrap();
        write(&link, b"object").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"object");
        // A dangling link: gcc's open creates the target, and so do we.
        let dangling = dir.join("d.o");
        std::os::unix::fs::symlink("made.o", &dangling).unwrap();
        write(&dangling, b"made").unwrap();
        assert_eq!(std::fs::read(dir.join("made.o")).unwrap(), b"made");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_with_other_links_is_written_in_place() {
        let dir = scratch("hard");
        let a = dir.join("a.o");
        let b = dir.join("b.o");
        std::fs::write(&a, b"old old old").unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        assert_eq!(how_to_put(&a).unwrap(), Put::Through);
        write(&a, b"new").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&a).unwrap().ino(),
            std::fs::metadata(&b).unwrap().ino()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_feeds_its_reader() {
        let dir = scratch("fifo");
        let fifo = dir.join("x.o");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let m = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dev_null_stays_a_device() {
        let null = Path::new("/dev/null");
        assert_eq!(how_to_put(null).unwrap(), Put::Through);
        write(null, b"discarded").unwrap();
        let m = std::fs::symlink_metadata(null).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &m.file_type()
        ));
    }
}
