//! File identity: what says, without reading a file, that it has not changed since it was
//! hashed. Device, inode, size, mtime and ctime (both to the nanosecond) of every program a
//! fingerprint covers, and of every symbolic link on the way to the driver (an alternatives
//! switch replaces a link, not a program).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One file's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// `dev ino size mtime.ns ctime.ns`, as the cache stores it.
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {}.{} {}.{}",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }

    pub fn decode(s: &str) -> Option<FileStamp> {
        let mut w = s.split(' ');
        let mut num = || w.next()?.parse::<u64>().ok();
        let (dev, ino, size) = (num()?, num()?, num()?);
        let mut time = || {
            let (a, b) = w.next()?.split_once('.')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let (mtime, ctime) = (time()?, time()?);
        w.next().is_none().then_some(FileStamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        })
    }
}

/// How a path is looked at: a link itself (`lstat`) or what it names (`stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Link,
    File,
}

/// The identities of every file a fingerprint depends on, in the order they were taken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamps(pub Vec<(Kind, PathBuf, FileStamp)>);

impl Stamps {
    /// True when every file still has its recorded identity: one `lstat`/`stat` each.
    pub fn still_valid(&self) -> bool {
        self.0.iter().all(|(kind, path, stamp)| {
            let meta = match kind {
                Kind::Link => std::fs::symlink_metadata(path),
                Kind::File => std::fs::metadata(path),
            };
            meta.is_ok_and(|m| FileStamp::of(&m) == *stamp)
        })
    }

    /// Records the links from `path` to the file it finally names (at most 40, as the
    /// kernel allows), then that file. Returns the file's real path.
    pub fn follow(&mut self, path: &Path) -> std::io::Result<PathBuf> {
        let mut at = path.to_path_buf();
        for _ in 0..40 {
            let meta = std::fs::symlink_metadata(&at)?;
            if !meta.file_type().is_symlink() {
                break;
            }
            self.0.push((Kind::Link, at.clone(), FileStamp::of(&meta)));
            let target = std::fs::read_link(&at)?;
            at = match at.parent() {
                Some(dir) => dir.join(target),
                None => target,
            };
        }
        let meta = std::fs::metadata(&at)?;
        self.0.push((Kind::File, at.clone(), FileStamp::of(&meta)));
        std::fs::canonicalize(&at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_text_round_trips() {
        let s = FileStamp {
            dev: 2049,
            ino: 12345,
            size: 1301496,
            mtime: (1_700_000_000, 123_456_789),
            ctime: (-1, 0),
        };
        assert_eq!(FileStamp::decode(&s.encode()), Some(s));
        assert_eq!(FileStamp::decode("1 2 3 4.5"), None);
        assert_eq!(FileStamp::decode("1 2 3 4.5 6.7 8"), None);
    }

    #[test]
    fn follow_records_each_link_and_the_file() {
        let t = os::tempdir::TempDir::new("identity-stamp-").unwrap();
        let real = t.path().join("real");
        std::fs::write(&real, "x").unwrap();
        std::os::unix::fs::symlink("real", t.path().join("a")).unwrap();
        std::os::unix::fs::symlink(t.path().join("a"), t.path().join("b")).unwrap();
        let mut s = Stamps::default();
        let got = s.follow(&t.path().join("b")).unwrap();
        assert_eq!(got, real.canonicalize().unwrap());
        let kinds: Vec<Kind> = s.0.iter().map(|e| e.0).collect();
        assert_eq!(kinds, [Kind::Link, Kind::Link, Kind::File]);
        assert!(s.still_valid());
        // Re-pointing a link is a change even though the program is the same.
        std::fs::remove_file(t.path().join("a")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("a")).unwrap();
        assert!(!s.still_valid());
    }
}
