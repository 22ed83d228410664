//! Backoff files, compatible with 3.4: `$DISTCC_DIR/lock/backoff_<host>_0`, whose mtime marks
//! the host as failed for `DISTCC_BACKOFF_PERIOD` seconds. A successful job removes it.
//!
//! Unlike 3.4, callers mark a host only for a communication failure or a server-side
//! failure; a compile error in the user's code, or a local preprocessor failure, is never
//! the host's fault. Time is passed in, so tests need no clock.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::hosts::Host;

pub fn path(lock_dir: &Path, host: &Host) -> PathBuf {
    lock_dir.join(format!("backoff_{}_0", host.lock_stem()))
}

/// True while the host's backoff file is younger than `period`. A zero period disables
/// backoff, as in 3.4.
pub fn is_backed_off(lock_dir: &Path, host: &Host, period: Duration, now: SystemTime) -> bool {
    if period.is_zero() {
        return false;
    }
    let Ok(meta) = std::fs::metadata(path(lock_dir, host)) else {
        return false;
    };
    let Ok(mtime) = meta.modified() else {
        return false;
    };
    // A file from the future (clock skew) counts as fresh, as 3.4's difftime would.
    now.duration_since(mtime).map_or(true, |age| age < period)
}

/// Marks the host bad now: writes one byte, which also updates the mtime.
pub fn mark(lock_dir: &Path, host: &Host, period: Duration) -> io::Result<()> {
    if period.is_zero() {
        return Ok(());
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(path(lock_dir, host))?;
    f.write_all(b"x")
}

/// Forgets a failure after a job on the host went well.
pub fn clear(lock_dir: &Path, host: &Host, period: Duration) {
    if period.is_zero() {
        return;
    }
    let _ = std::fs::remove_file(path(lock_dir, host));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_check_clear() {
        let dir = std::env::temp_dir().join(format!("distcc-backoff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let host = crate::hosts::parse("h:4000", "t").unwrap().hosts.remove(0);
        let period = Duration::from_secs(60);
        let now = SystemTime::now();
        assert!(!is_backed_off(&dir, &host, period, now));
        mark(&dir, &host, period).unwrap();
        assert_eq!(
            path(&dir, &host).file_name().unwrap(),
            "backoff_tcp_h_4000_0"
        );
        assert!(is_backed_off(&dir, &host, period, SystemTime::now()));
        assert!(!is_backed_off(
            &dir,
            &host,
            period,
            now + Duration::from_secs(120)
        ));
        assert!(!is_backed_off(&dir, &host, Duration::ZERO, now));
        clear(&dir, &host, period);
        assert!(!is_backed_off(&dir, &host, period, now));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
