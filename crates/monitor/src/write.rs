//! The client's side of the monitor: keep `$DISTCC_DIR/state/binstate_<pid>` up to date with
//! the phase of the running compile, so that `distccmon-text` (ours or distcc 3.4's) can show
//! it. The client crate depends on this module; it does nothing but small file writes.
//!
//! Each note rewrites the whole record into a temporary file in the same directory and renames
//! it over the state file, so a reader sees the old record or the new one, never a torn
//! one (3.4 truncates and rewrites in place, which its readers must tolerate). The temporary
//! name does not start with `binstate_`, so neither 3.4's reader nor ours looks at it. Nothing
//! is synced to disk: the file describes a process that lives for seconds.
//!
//! Whether to keep a state file at all, and where `DISTCC_DIR` is, is the client's decision.

use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use proto::state::{FILE_PREFIX, Phase, StateRecord};

/// The state file of one client process.
///
/// Dropping it removes the file, but `std::process::exit` runs no destructors: a client that
/// exits that way must call [`StateFile::remove`] first (3.4 uses `atexit` for the same job).
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
    record: StateRecord,
    written: bool,
}

impl StateFile {
    /// The state file of this process under `distcc_dir` (the resolved `DISTCC_DIR`, for
    /// example `~/.distcc`). Nothing is written until the first [`note`](Self::note).
    pub fn new(distcc_dir: &Path) -> StateFile {
        StateFile::with_pid(distcc_dir, std::process::id())
    }

    /// As [`new`](Self::new), for a given pid (tests, or a parent noting for a child).
    pub fn with_pid(distcc_dir: &Path, pid: u32) -> StateFile {
        let dir = distcc_dir.join("state");
        StateFile {
            path: dir.join(format!("{FILE_PREFIX}{pid}")),
            tmp: dir.join(format!(".tmp.{FILE_PREFIX}{pid}")),
            dir,
            record: StateRecord {
                pid: u64::from(pid),
                file: Vec::new(),
                host: Vec::new(),
                slot: 0,
                phase: Phase::Startup,
            },
            written: false,
        }
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record as it was last noted (or will be written next).
    pub fn record(&self) -> &StateRecord {
        &self.record
    }

    /// Sets the slot shown with the host; it is written with the next note, as in 3.4.
    pub fn set_slot(&mut self, slot: u32) {
        self.record.slot = i32::try_from(slot).unwrap_or(i32::MAX);
    }

    /// Records a new phase and writes the file. `source` is reduced to its basename; `None`
    /// for `source` or `host` keeps the previous value, as 3.4's `dcc_note_state` does.
    /// Creates the `state` directory if needed, but not `distcc_dir` itself.
    pub fn note(
        &mut self,
        phase: Phase,
        source: Option<&Path>,
        host: Option<&[u8]>,
    ) -> io::Result<()> {
        if let Some(source) = source {
            self.record.file = basename(source.as_os_str().as_bytes()).to_vec();
        }
        if let Some(host) = host {
            self.record.host = host.to_vec();
        }
        self.record.phase = phase;
        self.write()
    }

    fn write(&mut self) -> io::Result<()> {
        let bytes = self.record.encode();
        match self.write_tmp(&bytes) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir(&self.dir)?;
                self.write_tmp(&bytes)?;
            }
            other => other?,
        }
        if let Err(e) = fs::rename(&self.tmp, &self.path) {
            let _ = fs::remove_file(&self.tmp);
            return Err(e);
        }
        self.written = true;
        Ok(())
    }

    fn write_tmp(&self, bytes: &[u8]) -> io::Result<()> {
        // Mode 0666 less the umask, as 3.4 creates it.
        let mut f = fs::File::create(&self.tmp)?;
        f.write_all(bytes)
    }

    /// Removes the state file. Missing is fine: it may never have been written.
    pub fn remove(&mut self) -> io::Result<()> {
        self.written = false;
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        if self.written {
            let _ = self.remove();
        }
    }
}

fn create_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// The part after the last `/`, as 3.4's `dcc_find_basename`.
fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("distcc-monitor-write-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn notes_write_a_3_4_record_and_drop_removes_it() {
        let top = tempdir("note");
        let path;
        {
            let mut sf = StateFile::with_pid(&top, 1234);
            path = sf.path().to_path_buf();
            assert!(!path.exists(), "nothing before the first note");
            sf.note(Phase::Startup, Some(Path::new("src/dir/foo.c")), None)
                .unwrap();
            sf.set_slot(2);
            sf.note(Phase::Connect, None, Some(b"buildhost")).unwrap();
            let rec = StateRecord::decode(&fs::read(&path).unwrap()).unwrap();
            assert_eq!(rec.pid, 1234);
            assert_eq!(rec.file, b"foo.c");
            assert_eq!(rec.host, b"buildhost");
            assert_eq!(rec.slot, 2);
            assert_eq!(rec.phase, Phase::Connect);
            let names: Vec<_> = fs::read_dir(top.join("state"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, [std::ffi::OsString::from("binstate_1234")]);
        }
        assert!(!path.exists(), "drop removes the state file");
        fs::remove_dir_all(&top).unwrap();
    }

    #[test]
    fn remove_before_any_note_is_fine() {
        let top = tempdir("remove");
        let mut sf = StateFile::with_pid(&top, 99);
        sf.remove().unwrap();
        fs::remove_dir_all(&top).unwrap();
    }

    #[test]
    fn missing_distcc_dir_is_an_error_not_created() {
        let top = tempdir("missing").join("nope");
        let mut sf = StateFile::with_pid(&top, 5);
        assert!(sf.note(Phase::Startup, None, None).is_err());
        assert!(!top.exists());
    }

    #[test]
    fn basename_matches_3_4() {
        assert_eq!(basename(b"a/b/c.c"), b"c.c");
        assert_eq!(basename(b"c.c"), b"c.c");
        assert_eq!(basename(b"dir/"), b"");
    }
}
