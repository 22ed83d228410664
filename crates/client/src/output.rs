//! Putting results where the user expects them: output files complete or not at all, and
//! compiler messages relayed whole lines at a time.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `data` to `path` through a temporary name in the same directory and a rename, so a
/// reader (or a build interrupted midway) sees the old file, or the new one whole.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
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
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
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

    #[test]
    fn atomic_write_replaces_whole() {
        let dir = std::env::temp_dir().join(format!("distcc-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.o");
        std::fs::write(&p, b"old").unwrap();
        write_atomic(&p, b"new object").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new object");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
