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
