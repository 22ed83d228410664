//! Monitor notes for one compile: a thin adapter over `monitor::write::StateFile`, which owns
//! the `$DISTCC_DIR/state/binstate_<pid>` file (record format in `proto::state`). Failures to
//! write are ignored because the monitor is only a convenience.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use proto::state::Phase;

/// This process's state file; removed when dropped.
#[derive(Debug)]
pub struct StateFile {
    inner: RefCell<monitor::write::StateFile>,
    source: PathBuf,
}

impl StateFile {
    /// `top` is the resolved `DISTCC_DIR`; `source` the file being compiled.
    pub fn new(top: &Path, source: &Path) -> StateFile {
        StateFile {
            inner: RefCell::new(monitor::write::StateFile::new(top)),
            source: source.to_path_buf(),
        }
    }

    pub fn note(&self, phase: Phase, host: &str, slot: u32) {
        let mut s = self.inner.borrow_mut();
        s.set_slot(slot);
        let _ = s.note(phase, Some(&self.source), Some(host.as_bytes()));
    }
}
