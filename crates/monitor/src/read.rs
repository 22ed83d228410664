//! Reading the state directory: every `binstate_*` file that holds a valid, fresh record of a
//! live process, sorted by host and slot as 3.4's `dcc_mon_poll` sorts them.
//!
//! The files are written by other processes (distcc 3.4's client and ours) at any moment, so
//! every file may be missing, empty, half-written or not a record at all: such files are
//! skipped silently. A file older than [`MAX_AGE`] or whose pid is gone is skipped too. 3.4's
//! monitor deletes those; this reader never changes the directory.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proto::state::{FILE_PREFIX, Phase, RECORD_LEN, StateRecord};

/// State files older than this are leftovers of a client that died (3.4's
/// `dcc_phase_max_age`).
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// The state directory: `$DISTCC_DIR/state`, or `$HOME/.distcc/state` when `DISTCC_DIR` is
/// unset or empty. `None` when neither variable helps.
pub fn state_dir(distcc_dir: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let top = match distcc_dir.filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".distcc"),
    };
    Some(top.join("state"))
}

/// [`state_dir`] from this process's environment.
pub fn state_dir_from_env() -> Option<PathBuf> {
    state_dir(std::env::var_os("DISTCC_DIR"), std::env::var_os("HOME"))
}

/// Every current job in `dir`. A missing directory means no jobs (no client has run yet);
/// failing to list an existing one is an error. `now` and `alive` are injected so tests can
/// control age and liveness; the binaries pass the clock and `os::alive::process_exists`.
pub fn poll(
    dir: &Path,
    now: SystemTime,
    alive: &dyn Fn(u64) -> bool,
) -> io::Result<Vec<StateRecord>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut jobs = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        if !entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(FILE_PREFIX.as_bytes())
        {
            continue;
        }
        // Only regular files: opening a FIFO someone left here would block the monitor.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(rec) = read_one(&entry.path(), now, alive) {
            jobs.push(rec);
        }
    }
    // 3.4 sorts by host, then slot; the pid makes the order independent of readdir's.
    jobs.sort_by(|a, b| (&a.host, a.slot, a.pid).cmp(&(&b.host, b.slot, b.pid)));
    Ok(jobs)
}

/// One file, or `None` if it vanished, is stale, is not a record, or names a dead process.
fn read_one(path: &Path, now: SystemTime, alive: &dyn Fn(u64) -> bool) -> Option<StateRecord> {
    let file = fs::File::open(path).ok()?;
    let mtime = file.metadata().ok()?.modified().ok()?;
    // A file from the future (clock skew) counts as fresh, as in 3.4.
    if now.duration_since(mtime).is_ok_and(|age| age > MAX_AGE) {
        return None;
    }
    // One byte more than a record, so an over-long file is recognised without reading it all.
    let mut buf = Vec::with_capacity(RECORD_LEN + 1);
    file.take(RECORD_LEN as u64 + 1)
        .read_to_end(&mut buf)
        .ok()?;
    let rec = StateRecord::decode(&buf).ok()?;
    // A finished client may already be gone; 3.4 keeps such a record without asking.
    if rec.phase != Phase::Done && !alive(rec.pid) {
        return None;
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("distcc-monitor-read-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn rec(pid: u64, host: &str, slot: i32, phase: Phase) -> StateRecord {
        StateRecord {
            pid,
            file: format!("f{pid}.c").into_bytes(),
            host: host.as_bytes().to_vec(),
            slot,
            phase,
        }
    }

    fn put(dir: &Path, name: &str, bytes: &[u8]) {
        fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn state_dir_follows_distcc_dir_then_home() {
        assert_eq!(
            state_dir(Some("/x".into()), Some("/h".into())),
            Some(PathBuf::from("/x/state"))
        );
        assert_eq!(
            state_dir(Some("".into()), Some("/h".into())),
            Some(PathBuf::from("/h/.distcc/state"))
        );
        assert_eq!(state_dir(None, None), None);
    }

    #[test]
    fn missing_directory_is_no_jobs() {
        let d = tempdir("missing").join("state");
        assert!(poll(&d, SystemTime::now(), &|_| true).unwrap().is_empty());
        assert!(!d.exists(), "the monitor creates nothing");
    }

    #[test]
    fn sorted_by_host_then_slot_and_junk_is_skipped() {
        let d = tempdir("sort");
        put(&d, "binstate_1", &rec(1, "b", 0, Phase::Send).encode());
        put(&d, "binstate_2", &rec(2, "a", 1, Phase::Compile).encode());
        put(&d, "binstate_3", &rec(3, "a", 0, Phase::Cpp).encode());
        put(&d, "binstate_4", b"");
        put(
            &d,
            "binstate_5",
            &rec(5, "a", 0, Phase::Cpp).encode()[..100],
        );
        put(&d, "binstate_6", &[0xff; RECORD_LEN + 50]);
        put(&d, "other_7", &rec(7, "a", 0, Phase::Cpp).encode());
        fs::create_dir(d.join("binstate_8")).unwrap();
        let jobs = poll(&d, SystemTime::now(), &|_| true).unwrap();
        let pids: Vec<u64> = jobs.iter().map(|j| j.pid).collect();
        assert_eq!(pids, [3, 2, 1]);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_files_and_dead_pids_are_skipped_but_not_deleted() {
        let d = tempdir("stale");
        put(&d, "binstate_10", &rec(10, "h", 0, Phase::Send).encode());
        put(&d, "binstate_11", &rec(11, "h", 1, Phase::Send).encode());
        put(&d, "binstate_12", &rec(12, "h", 2, Phase::Done).encode());
        let alive = |pid: u64| pid == 10;
        let now = SystemTime::now();
        let pids: Vec<u64> = poll(&d, now, &alive)
            .unwrap()
            .iter()
            .map(|j| j.pid)
            .collect();
        assert_eq!(
            pids,
            [10, 12],
            "dead 11 dropped; Done kept without a pid check"
        );
        let later = now + MAX_AGE + Duration::from_secs(2);
        assert!(poll(&d, later, &|_| true).unwrap().is_empty());
        assert_eq!(fs::read_dir(&d).unwrap().count(), 3, "nothing deleted");
        fs::remove_dir_all(&d).unwrap();
    }
}
