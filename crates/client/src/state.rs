//! The monitor state file `$DISTCC_DIR/state/binstate_<pid>` that `distccmon-text` (3.4's or
//! ours) reads. The record format is `proto::state`; this module only writes and removes the
//! file. Each phase change replaces the file whole (temp name, then rename), so a reader never
//! sees half a record.

use std::path::PathBuf;

use proto::state::{FILE_PREFIX, Phase, StateRecord};

/// This process's state file. Removed when dropped.
#[derive(Debug)]
pub struct StateFile {
    path: Option<PathBuf>,
    file: Vec<u8>,
}

impl StateFile {
    /// `dir` is `$DISTCC_DIR/state`; `None` disables state notes.
    pub fn new(dir: Option<PathBuf>, source: &[u8]) -> StateFile {
        let base = source.rsplit(|&b| b == b'/').next().unwrap_or(source);
        StateFile {
            path: dir.map(|d| d.join(format!("{FILE_PREFIX}{}", std::process::id()))),
            file: base.to_vec(),
        }
    }

    /// Records the phase; failures are ignored because the monitor is only a convenience.
    pub fn note(&self, phase: Phase, host: &str, slot: u32) {
        let Some(path) = &self.path else { return };
        let record = StateRecord {
            pid: u64::from(std::process::id()),
            file: self.file.clone(),
            host: host.as_bytes().to_vec(),
            slot: i32::try_from(slot).unwrap_or(i32::MAX),
            phase,
        };
        // A dot name the monitor's `binstate_` prefix filter skips.
        let tmp = path.with_file_name(format!(".{FILE_PREFIX}{}.tmp", std::process::id()));
        if std::fs::write(&tmp, record.encode()).is_ok() && std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}
