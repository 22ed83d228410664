//! File system look-ups for the closure, cached across requests and kept honest.
//!
//! - Whether `dir/name` exists is remembered per directory, and a directory's memo is
//!   dropped when its (dev, inode, mtime) changes: creating, removing or renaming a header
//!   changes its directory's mtime, so a header that appears between two builds is found.
//!   Each directory is stat'ed at most once per request.
//! - Each file reached is stat'ed once per request; its realpath is reused while its
//!   (dev, inode) stay the same.
//! - Parsed directives are kept per realpath and re-read when the file's
//!   (dev, inode, size, mtime) change, so an edited header is re-scanned.
//!
//! What it leaves to others: search order (`analyze`), parsing (`directives`).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::directives::{self, Directives};

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Missing,
    Dir,
    File,
}

#[derive(Debug)]
struct Dir {
    checked: u64,
    stamp: Option<Stamp>,
    names: HashMap<OsString, Kind>,
}

#[derive(Debug)]
struct FileInfo {
    checked: u64,
    stamp: Option<Stamp>,
    real: Option<PathBuf>,
}

/// The caches; one per include server.
#[derive(Debug, Default)]
pub struct Fs {
    generation: u64,
    dirs: HashMap<PathBuf, Dir>,
    files: HashMap<PathBuf, FileInfo>,
    parsed: HashMap<PathBuf, (Stamp, Arc<Directives>)>,
    real_dirs: HashMap<PathBuf, (u64, Option<PathBuf>)>,
    /// Files scanned (not served from the cache), for statistics and tests.
    pub scans: u64,
}

impl Fs {
    /// Starts a request: every stat result from before may be stale now.
    pub fn begin(&mut self) {
        self.generation += 1;
    }

    fn dir(&mut self, dir: &Path) -> &mut Dir {
        let generation = self.generation;
        let d = self.dirs.entry(dir.to_path_buf()).or_insert_with(|| Dir {
            checked: 0,
            stamp: None,
            names: HashMap::new(),
        });
        if d.checked != generation {
            d.checked = generation;
            let now = std::fs::metadata(dir)
                .ok()
                .filter(|m| m.is_dir())
                .map(|m| Stamp::of(&m));
            // Size is irrelevant for a directory's memo; mtime and identity are what change.
            if now != d.stamp {
                d.names.clear();
                d.stamp = now;
            }
        }
        d
    }

    fn kind(&mut self, dir: &Path, name: &std::ffi::OsStr) -> Kind {
        let d = self.dir(dir);
        if d.stamp.is_none() {
            return Kind::Missing;
        }
        if let Some(k) = d.names.get(name) {
            return *k;
        }
        let k = match std::fs::metadata(dir.join(name)) {
            Ok(m) if m.is_dir() => Kind::Dir,
            Ok(m) if m.is_file() => Kind::File,
            _ => Kind::Missing,
        };
        d.names.insert(name.to_os_string(), k);
        k
    }

    /// True if `dir/rel` is a regular file (following links), `rel` being relative.
    pub fn is_file(&mut self, dir: &Path, rel: &Path) -> bool {
        let mut cur = dir.to_path_buf();
        let comps: Vec<Component> = rel.components().collect();
        for (k, c) in comps.iter().enumerate() {
            let last = k + 1 == comps.len();
            match c {
                Component::CurDir => {
                    if last {
                        return false;
                    }
                }
                Component::ParentDir => {
                    if last {
                        return false;
                    }
                    cur.push("..");
                    if self.dir(&cur).stamp.is_none() {
                        return false;
                    }
                }
                Component::Normal(n) => {
                    let want = if last { Kind::File } else { Kind::Dir };
                    if self.kind(&cur, n) != want {
                        return false;
                    }
                    cur.push(n);
                }
                Component::RootDir | Component::Prefix(_) => return false,
            }
        }
        !comps.is_empty()
    }

    /// The stamp and realpath of an absolute path, stat'ed once per request.
    pub fn file(&mut self, abs: &Path) -> Option<(Stamp, PathBuf)> {
        let generation = self.generation;
        let f = self
            .files
            .entry(abs.to_path_buf())
            .or_insert_with(|| FileInfo {
                checked: 0,
                stamp: None,
                real: None,
            });
        if f.checked != generation {
            f.checked = generation;
            let now = std::fs::metadata(abs)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| Stamp::of(&m));
            let same_file =
                matches!((now, f.stamp), (Some(a), Some(b)) if a.dev == b.dev && a.ino == b.ino);
            if !same_file || f.real.is_none() {
                f.real = now.and_then(|_| std::fs::canonicalize(abs).ok());
            }
            f.stamp = now;
        }
        Some((f.stamp?, f.real.clone()?))
    }

    /// The realpath of a directory, resolved once per request.
    pub fn real_dir(&mut self, dir: &Path) -> Option<PathBuf> {
        let generation = self.generation;
        if let Some((g, r)) = self.real_dirs.get(dir)
            && *g == generation
        {
            return r.clone();
        }
        let r = std::fs::canonicalize(dir).ok();
        self.real_dirs
            .insert(dir.to_path_buf(), (generation, r.clone()));
        r
    }

    /// The directives of the file at `real`, scanned again only when its stamp changed.
    pub fn directives(&mut self, real: &Path, stamp: Stamp) -> std::io::Result<Arc<Directives>> {
        if let Some((s, d)) = self.parsed.get(real)
            && *s == stamp
        {
            return Ok(d.clone());
        }
        let bytes = std::fs::read(real)?;
        self.scans += 1;
        let d = Arc::new(directives::scan(&bytes));
        self.parsed.insert(real.to_path_buf(), (stamp, d.clone()));
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_header_is_found_after_dir_changes() {
        let t = os::tempdir::TempDir::new("fscache-test.").unwrap();
        let dir = t.path();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let mut fs = Fs::default();
        fs.begin();
        assert!(!fs.is_file(dir, Path::new("sub/a.h")));
        std::fs::write(dir.join("sub/a.h"), "x").unwrap();
        // Same request: the memo holds (3.4 assumes no change during one compile either).
        fs.begin();
        assert!(fs.is_file(dir, Path::new("sub/a.h")));
        assert!(fs.is_file(dir, Path::new("sub/../sub/a.h")));
        assert!(!fs.is_file(dir, Path::new("sub")));
    }

    #[test]
    fn edited_file_is_rescanned() {
        let t = os::tempdir::TempDir::new("fscache-test.").unwrap();
        let p = t.path().join("a.h");
        std::fs::write(&p, "#include \"b.h\"\n").unwrap();
        let mut fs = Fs::default();
        fs.begin();
        let (s, real) = fs.file(&p).unwrap();
        assert_eq!(fs.directives(&real, s).unwrap().includes.len(), 1);
        assert_eq!(fs.directives(&real, s).unwrap().includes.len(), 1);
        assert_eq!(fs.scans, 1);
        std::fs::write(&p, "#include \"b.h\"\n#include \"c.h\"\n").unwrap();
        fs.begin();
        let (s2, real) = fs.file(&p).unwrap();
        assert_ne!(s, s2);
        assert_eq!(fs.directives(&real, s2).unwrap().includes.len(), 2);
        assert_eq!(fs.scans, 2);
    }
}
