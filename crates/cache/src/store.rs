//! Entries on disk: `<dir>/<2 hex digits>/<62 hex digits>`, one file per key.
//!
//! - **Writes** go to `.tmp.<pid>.<n>` beside the entry and are renamed over it: a reader
//!   sees a whole old entry, a whole new one, or none. No `fsync`: a file torn by a crash
//!   fails its checksum and is a miss.
//! - **Reads** check the entry (`entry::Entry::decode`); a bad one is removed and reported as
//!   [`Found::Corrupt`]. A hit sets the entry's mtime to now: eviction is least recently
//!   used by mtime (atime is unreliable under `relatime`/`noatime`).
//! - **Size**: `<dir>/size` holds the running total of entry bytes, changed under an fcntl
//!   lock (`size.lock`) by each write; when a write takes it past the bound, that writer
//!   cleans up (one at a time: `evict.lock`, tried without waiting): it walks every entry,
//!   removes the least recently used until the total is at most 90 % of the bound, removes
//!   temp files older than an hour (a writer that died), and recounts the total (keeping
//!   what other writers added meanwhile).
//!
//! Many processes may use one directory at once (the daemon's threads, every client of a
//! `$DISTCC_DIR`); nothing here holds a lock while reading or writing an entry. fcntl locks
//! belong to a process, not a thread (two threads both "hold" one, and closing any
//! descriptor of the file drops the process's lock), so within a process a mutex
//! ([`SIZE`]) and a flag ([`EVICTING`]) come first and only one thread touches the lock
//! files at a time.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::entry::{Corrupt, Entry};
use crate::key::Key;

/// The size file's lock among this process's threads (the fcntl lock is among processes).
static SIZE: Mutex<()> = Mutex::new(());
/// Set while a thread of this process cleans up (the fcntl `evict.lock` is among processes).
static EVICTING: AtomicBool = AtomicBool::new(false);

/// Holds the size file for one read-modify-write: this process's mutex, then the fcntl lock.
struct SizeLock {
    _file: os::wake::BlockingLock,
    _thread: std::sync::MutexGuard<'static, ()>,
}

fn lock_size(dir: &Path) -> io::Result<SizeLock> {
    let thread = SIZE.lock().unwrap_or_else(|p| p.into_inner());
    Ok(SizeLock {
        _file: os::wake::BlockingLock::acquire(&dir.join("size.lock"))?,
        _thread: thread,
    })
}

/// Temp files older than this belong to a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A cache directory with a size bound.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    max_bytes: u64,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Found {
    Hit(Entry),
    Miss,
    /// A damaged entry, now removed (a miss).
    Corrupt(Corrupt),
}

/// Entries and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub entries: u64,
    pub bytes: u64,
}

impl Store {
    /// The store in `dir` (created by the first write), holding at most `max_bytes` of entries.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Store {
        Store {
            dir: dir.into(),
            max_bytes,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where `key`'s entry lives.
    pub fn path(&self, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Looks `key` up. An unreadable entry is a miss; a damaged one is removed.
    pub fn get(&self, key: &Key) -> Found {
        let path = self.path(key);
        let Ok(mut file) = File::open(&path) else {
            return Found::Miss;
        };
        let len = file.metadata().map_or(0, |m| m.len());
        // An entry larger than the whole cache was never written by `put`.
        if len > self.max_bytes {
            let _ = fs::remove_file(&path);
            return Found::Corrupt(Corrupt::WrongSize {
                expected: u128::from(self.max_bytes),
                actual: usize::try_from(len).unwrap_or(usize::MAX),
            });
        }
        let mut bytes = Vec::with_capacity(len as usize);
        if file.read_to_end(&mut bytes).is_err() {
            return Found::Miss;
        }
        match Entry::decode(&bytes) {
            Ok(entry) => {
                let _ = file.set_modified(SystemTime::now());
                Found::Hit(entry)
            }
            Err(why) => {
                let _ = fs::remove_file(&path);
                Found::Corrupt(why)
            }
        }
    }

    /// Stores `entry` under `key` (replacing any), then cleans up if the bound is passed.
    /// An entry larger than a quarter of the bound is not stored (`Ok(false)`).
    pub fn put(&self, key: &Key, entry: &Entry) -> io::Result<bool> {
        let bytes = entry.encode();
        let size = bytes.len() as u64;
        if size > self.max_bytes / 4 {
            return Ok(false);
        }
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.dir);
        let old = fs::metadata(&path).map_or(0, |m| m.len());
        fs::create_dir_all(parent)?;
        let tmp = parent.join(temp_name());
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let total = self.add_size(size as i64 - old as i64)?;
        if total > self.max_bytes {
            self.evict()?;
        }
        Ok(true)
    }

    /// The running total, moved by `delta`; returns the new total.
    fn add_size(&self, delta: i64) -> io::Result<u64> {
        let _held = lock_size(&self.dir)?;
        let now = read_size(&self.dir).saturating_add_signed(delta);
        write_size(&self.dir, now)?;
        Ok(now)
    }

    /// Removes least recently used entries until at most 90 % of the bound is used. Does
    /// nothing when another process is already cleaning.
    pub fn evict(&self) -> io::Result<()> {
        if EVICTING.swap(true, Ordering::Acquire) {
            return Ok(());
        }
        struct Done;
        impl Drop for Done {
            fn drop(&mut self) {
                EVICTING.store(false, Ordering::Release);
            }
        }
        let _done = Done;
        let Some(_cleaning) = os::lock::FileLock::try_lock(&self.dir.join("evict.lock"))? else {
            return Ok(());
        };
        let counted_before = {
            let _held = lock_size(&self.dir)?;
            read_size(&self.dir)
        };
        let mut entries = self.walk(true);
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let target = self.max_bytes / 10 * 9;
        entries.sort_by_key(|e| e.2);
        for (path, len, _) in entries {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        let _held = lock_size(&self.dir)?;
        // Keep what other writers added while this one walked.
        let added = read_size(&self.dir).saturating_sub(counted_before);
        write_size(&self.dir, total.saturating_add(added))
    }

    /// Every entry: path, size, mtime. With `clean`, stale temp files are removed.
    fn walk(&self, clean: bool) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut out = Vec::new();
        let Ok(top) = fs::read_dir(&self.dir) else {
            return out;
        };
        let now = SystemTime::now();
        for sub in top.flatten() {
            let name = sub.file_name();
            if name.len() != 2 || !sub.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(files) = fs::read_dir(sub.path()) else {
                continue;
            };
            for f in files.flatten() {
                let Ok(meta) = f.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if f.file_name().as_encoded_bytes().starts_with(b".tmp.") {
                    let stale = now.duration_since(mtime).is_ok_and(|d| d > STALE_TEMP);
                    if clean && stale {
                        let _ = fs::remove_file(f.path());
                    }
                    continue;
                }
                out.push((f.path(), meta.len(), mtime));
            }
        }
        out
    }

    /// Counts entries and bytes (walks the directory).
    pub fn usage(&self) -> Usage {
        let entries = self.walk(false);
        Usage {
            entries: entries.len() as u64,
            bytes: entries.iter().map(|e| e.1).sum(),
        }
    }

    /// Removes every entry; returns what was removed.
    pub fn clear(&self) -> io::Result<Usage> {
        let mut removed = Usage::default();
        for (path, len, _) in self.walk(true) {
            if fs::remove_file(&path).is_ok() {
                removed.entries += 1;
                removed.bytes += len;
            }
        }
        if self.dir.is_dir() {
            let _held = lock_size(&self.dir)?;
            write_size(&self.dir, self.usage().bytes)?;
        }
        Ok(removed)
    }
}

fn read_size(dir: &Path) -> u64 {
    fs::read_to_string(dir.join("size"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Rewritten in place: the file is small and only changed under `size.lock`.
fn write_size(dir: &Path, n: u64) -> io::Result<()> {
    fs::write(dir.join("size"), format!("{n}\n"))
}

fn temp_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        ".tmp.{}.{nanos:x}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key;

    fn k(i: u32) -> Key {
        key::plain("f", "t", &["gcc"], &i.to_le_bytes())
    }

    fn e(n: usize) -> Entry {
        Entry {
            object: vec![7; n],
            ..Entry::default()
        }
    }

    #[test]
    fn put_get_corrupt_clear() {
        let t = os::tempdir::TempDir::new("cache-store-").unwrap();
        let s = Store::new(t.path().join("c"), 1 << 20);
        assert!(matches!(s.get(&k(1)), Found::Miss));
        assert!(s.put(&k(1), &e(100)).unwrap());
        match s.get(&k(1)) {
            Found::Hit(got) => assert_eq!(got, e(100)),
            other => panic!("{other:?}"),
        }
        // Truncated on disk: a miss, and removed.
        let p = s.path(&k(1));
        let len = fs::metadata(&p).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        assert!(matches!(
            s.get(&k(1)),
            Found::Corrupt(Corrupt::WrongSize { .. })
        ));
        assert!(!p.exists());
        assert!(matches!(s.get(&k(1)), Found::Miss));
        s.put(&k(2), &e(10)).unwrap();
        s.put(&k(3), &e(10)).unwrap();
        assert_eq!(s.usage().entries, 2);
        assert_eq!(s.clear().unwrap().entries, 2);
        assert_eq!(s.usage(), Usage::default());
        assert_eq!(read_size(s.dir()), 0);
        // Too big for the bound: not stored.
        assert!(!s.put(&k(4), &e(1 << 19)).unwrap());
    }

    /// Many threads of one process (the daemon's) writing at once keep the running total
    /// exact: fcntl alone would let them all into the size file together.
    #[test]
    fn threads_of_one_process_keep_the_total() {
        let t = os::tempdir::TempDir::new("cache-store-").unwrap();
        let s = Store::new(t.path().join("c"), 1 << 30);
        std::thread::scope(|scope| {
            for th in 0..8u32 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..40 {
                        s.put(&k(th * 1000 + i), &e(100 + i as usize)).unwrap();
                    }
                });
            }
        });
        assert_eq!(s.usage().entries, 320);
        assert_eq!(read_size(s.dir()), s.usage().bytes);
    }

    #[test]
    fn the_bound_holds_and_recent_entries_stay() {
        let t = os::tempdir::TempDir::new("cache-store-").unwrap();
        let s = Store::new(t.path().join("c"), 20_000);
        let old = SystemTime::now() - Duration::from_secs(1000);
        for i in 0..40 {
            s.put(&k(i), &e(900)).unwrap();
            // Entries written earlier are older (mtime granularity is coarse otherwise).
            let f = File::options().write(true).open(s.path(&k(i))).unwrap();
            f.set_modified(old + Duration::from_secs(u64::from(i)))
                .unwrap();
            // Entry 0 is used all the time.
            let _ = s.get(&k(0));
            assert!(s.usage().bytes <= 20_000, "after {i}: {:?}", s.usage());
        }
        assert!(matches!(s.get(&k(0)), Found::Hit(_)));
        assert!(matches!(s.get(&k(39)), Found::Hit(_)));
        assert!(matches!(s.get(&k(1)), Found::Miss));
        assert_eq!(read_size(s.dir()), s.usage().bytes);
    }
}
