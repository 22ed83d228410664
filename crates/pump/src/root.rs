//! The client root: the directory whose paths the include server gives the client. The
//! client strips its first three components to get the name it sends, reads each file as
//! already LZO-compressed bytes (`.lzo`, or `.lzo.abs` when a `#line` naming the client's
//! absolute path was prepended), and sends each symbolic link as a `LINK` with its target.
//!
//! - Compressed copies are made once per file version (the file's stamp) and reused.
//! - Directories that are symbolic links on the way to a file are mirrored as links to the
//!   link's realpath (the server prefixes its job root to an absolute target), and the
//!   directories a path walks through get an empty `forcing_technique_271828` file when
//!   nothing else would make the server create them, so `dir/../x.h` resolves there too.
//! - Each built-in directory of the compiler becomes a link `../../…/usr/include` deep
//!   enough to climb out of any server job root, so `-I/usr/include/foo` still finds the
//!   server's own system headers.
//!
//! Nothing is written outside the root: every path written is the root joined with a
//! canonical path, and its parent is checked to be inside the root after creation, so a
//! link made earlier cannot redirect a write. The root (a `mkdtemp` directory, mode 0700)
//! is removed when this value is dropped.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use os::tempdir::TempDir;

use crate::analyze::Closure;
use crate::fscache::{Fs, Stamp};

/// The depth 3.4's client strips from every name (`INCLUDE_SERVER_DIR_DEPTH`).
pub const DEPTH: usize = 3;
/// 3.4's name for the empty file that makes the server create a directory.
pub const FORCING: &str = "forcing_technique_271828";
/// Enough `..` to leave any server root: 3.4's `MAX_COMPONENTS_IN_SERVER_ROOT`.
const MAX_SERVER_ROOT_DEPTH: usize = 20;

#[derive(Debug, Default, Clone)]
struct Mirror {
    dirs: Vec<PathBuf>,
    links: Vec<PathBuf>,
}

/// The client root and what has been made in it.
#[derive(Debug)]
pub struct ClientRoot {
    base: TempDir,
    root: PathBuf,
    canonical: PathBuf,
    copies: HashMap<PathBuf, Stamp>,
    mirrors: HashMap<PathBuf, Mirror>,
    made_links: HashSet<PathBuf>,
    forced: HashSet<PathBuf>,
    /// Forcing files for walked directories (off with `--no_force_dirs`; the working
    /// directory still gets one).
    force_dirs: bool,
}

/// What one reply lists, for statistics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub files: usize,
    pub forcing: usize,
    pub links: usize,
    pub compressed: usize,
}

impl ClientRoot {
    /// A new root under `DISTCC_CLIENT_TMP`, else `/dev/shm` if usable, else `/tmp`, padded
    /// with `/padding` to exactly three components as the client requires.
    pub fn new() -> io::Result<ClientRoot> {
        let parent = match std::env::var_os("DISTCC_CLIENT_TMP") {
            Some(p) => PathBuf::from(p),
            None if writable_dir(Path::new("/dev/shm")) => PathBuf::from("/dev/shm"),
            None => PathBuf::from("/tmp"),
        };
        let levels = parent.components().count().saturating_sub(1);
        if !parent.is_absolute() || levels > DEPTH - 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "DISTCC_CLIENT_TMP must be absolute with at most two directory levels",
            ));
        }
        let base = TempDir::new_in(
            &parent,
            &format!("distcc-pump-root-{}.", std::process::id()),
        )?;
        let mut root = base.path().to_path_buf();
        for _ in levels + 1..DEPTH {
            root.push("padding");
        }
        std::fs::create_dir_all(&root)?;
        let canonical = std::fs::canonicalize(&root)?;
        Ok(ClientRoot {
            base,
            root,
            canonical,
            copies: HashMap::new(),
            mirrors: HashMap::new(),
            made_links: HashSet::new(),
            forced: HashSet::new(),
            force_dirs: true,
        })
    }

    /// The directory `mkdtemp` made (removed with everything in it on drop).
    /// `--no_force_dirs`: make no forcing files for the directories a path walks through.
    pub fn set_force_dirs(&mut self, on: bool) {
        self.force_dirs = on;
    }

    pub fn base(&self) -> &Path {
        self.base.path()
    }

    fn inside(&self, real: &Path) -> PathBuf {
        let rel = real.strip_prefix("/").unwrap_or(real);
        self.root.join(rel)
    }

    /// Creates `dir` (a path under the root) and checks it really is inside the root.
    fn make_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        if !std::fs::canonicalize(dir)?.starts_with(&self.canonical) {
            return Err(io::Error::other(format!(
                "refusing to write through a link out of the client root: {}",
                dir.display()
            )));
        }
        Ok(())
    }

    /// Makes (or reuses) everything the closure needs and returns the names for the client:
    /// compressed files, forcing files, then links.
    pub fn reply(
        &mut self,
        closure: &Closure,
        cwd: &Path,
        fs: &mut Fs,
    ) -> io::Result<(Vec<String>, Counts)> {
        let mut counts = Counts::default();
        let mut names = Vec::new();
        let mut covered: HashSet<PathBuf> = HashSet::new();
        let cover = |covered: &mut HashSet<PathBuf>, p: &Path| {
            for a in p.ancestors().skip(1) {
                if !covered.insert(a.to_path_buf()) {
                    break;
                }
            }
        };
        for (real, abs) in &closure.files {
            let mut copy = self.inside(real).into_os_string();
            copy.push(if abs.is_some() { ".lzo.abs" } else { ".lzo" });
            let copy = PathBuf::from(copy);
            let Some((stamp, _)) = fs.file(real) else {
                continue;
            };
            if self.copies.get(&copy) != Some(&stamp) {
                self.write_copy(real, abs.as_deref(), &copy)?;
                self.copies.insert(copy.clone(), stamp);
                counts.compressed += 1;
            }
            cover(&mut covered, real);
            names.push(copy);
            counts.files += 1;
        }

        let system = &closure.system_dirs;
        let mut dirs = BTreeSet::new();
        let mut links = Vec::new();
        let mut walk = closure.spelled.clone();
        walk.push(cwd.join(FORCING));
        for p in &walk {
            let m = match self.mirrors.get(p) {
                Some(m) => m.clone(),
                None => {
                    let m = self.mirror(p, system)?;
                    self.mirrors.insert(p.clone(), m.clone());
                    m
                }
            };
            dirs.extend(m.dirs);
            links.extend(m.links);
        }
        for l in &links {
            cover(&mut covered, l);
        }
        // Deepest first, so one forcing file also covers the directories above it.
        let mut by_depth: Vec<PathBuf> = dirs.into_iter().collect();
        by_depth.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in by_depth {
            if covered.contains(&d) || (!self.force_dirs && d != cwd) {
                continue;
            }
            let f = d.join(FORCING);
            let in_root = self.inside(&f);
            if !self.forced.contains(&in_root) {
                self.make_dir(&self.inside(&d))?;
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&in_root)?;
                self.forced.insert(in_root.clone());
            }
            covered.insert(d.clone());
            cover(&mut covered, &d);
            names.push(in_root);
            counts.forcing += 1;
        }
        for l in self.system_links(system)? {
            names.push(l);
            counts.links += 1;
        }
        let mut seen = HashSet::new();
        for l in links {
            if seen.insert(l.clone()) {
                names.push(self.inside(&l));
                counts.links += 1;
            }
        }
        let names = names
            .into_iter()
            .map(|p| String::from_utf8_lossy(p.as_os_str().as_bytes()).into_owned())
            .collect();
        Ok((names, counts))
    }

    fn write_copy(&self, real: &Path, abs: Option<&Path>, copy: &Path) -> io::Result<()> {
        let parent = copy.parent().unwrap_or(&self.root);
        self.make_dir(parent)?;
        let mut data = Vec::new();
        if let Some(a) = abs {
            data.extend_from_slice(b"#line 1 \"");
            data.extend_from_slice(a.as_os_str().as_bytes());
            data.extend_from_slice(b"\"\n");
        }
        data.extend_from_slice(&std::fs::read(real)?);
        let packed = proto::lzo::compress(&data);
        let mut tmp = copy.as_os_str().to_os_string();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, packed)?;
        std::fs::rename(&tmp, copy)
    }

    /// 3.4's `MirrorPath.DoPath`: for each prefix of `path`, the canonical directory holding
    /// it must exist, and a prefix that is a link is mirrored as a link to its realpath.
    fn mirror(&mut self, path: &Path, system: &[PathBuf]) -> io::Result<Mirror> {
        let mut m = Mirror::default();
        let mut p = path.to_path_buf();
        // Every prefix, `..` ones included: `src/../empty/../h.h` needs `empty` to exist on
        // the server too (the walk used to stop at the first `..`).
        while let Some(prefix) = p.parent() {
            if prefix.as_os_str().is_empty() {
                break;
            }
            let Ok(prefix_real) = std::fs::canonicalize(prefix) else {
                break;
            };
            if system.iter().any(|s| prefix_real.starts_with(s)) {
                break;
            }
            if prefix_real != Path::new("/") {
                m.dirs.push(prefix_real.clone());
            }
            let is_link = std::fs::symlink_metadata(&p).is_ok_and(|md| md.file_type().is_symlink());
            if is_link
                && let Some(suffix) = p.file_name()
                && let Ok(target) = std::fs::canonicalize(&p)
            {
                let name = prefix_real.join(suffix);
                let in_root = self.inside(&name);
                if !self.made_links.contains(&in_root) {
                    self.make_dir(&self.inside(&prefix_real))?;
                    if std::fs::symlink_metadata(&in_root).is_err() {
                        std::os::unix::fs::symlink(&target, &in_root)?;
                    }
                    self.made_links.insert(in_root);
                }
                m.links.push(name);
            }
            p = prefix.to_path_buf();
        }
        Ok(m)
    }

    /// Links for the built-in directories, shortest first so `/usr/include` covers
    /// `/usr/include/x86_64-linux-gnu`.
    fn system_links(&mut self, system: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
        let mut dirs: Vec<&PathBuf> = system.iter().collect();
        dirs.sort_by_key(|d| d.as_os_str().len());
        let mut linked: Vec<&PathBuf> = Vec::new();
        let mut out = Vec::new();
        for d in dirs {
            if linked.iter().any(|l| d.starts_with(l)) || d == Path::new("/") {
                continue;
            }
            linked.push(d);
            let name = self.inside(d);
            if !self.made_links.contains(&name) {
                let depth = d
                    .as_os_str()
                    .as_bytes()
                    .iter()
                    .filter(|&&c| c == b'/')
                    .count();
                let mut target = b"../".repeat(MAX_SERVER_ROOT_DEPTH + depth);
                target.extend_from_slice(&d.as_os_str().as_bytes()[1..]);
                self.make_dir(name.parent().unwrap_or(&self.root))?;
                if std::fs::symlink_metadata(&name).is_err() {
                    std::os::unix::fs::symlink(OsString::from_vec(target), &name)?;
                }
                self.made_links.insert(name.clone());
            }
            out.push(name);
        }
        Ok(out)
    }
}

fn writable_dir(p: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; access(2) only reads it.
    p.is_dir() && unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK | libc::X_OK) } == 0
}
