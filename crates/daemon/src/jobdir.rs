//! The client's file tree of a pump (protocol 3) request, rebuilt under the job's root
//! directory so that nothing the client names can land outside it.
//!
//! Every `NAME` must be absolute, free of `..` components, and is placed by walking from the
//! root descriptor one component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`: a
//! directory that is really a symbolic link stops the walk. So a `LINK` may point anywhere
//! (the include server links system directories with `../..` targets, and the compiler follows
//! them when reading) but no later `FILE` or `LINK` can be written through it. Files are
//! created with `O_EXCL | O_NOFOLLOW`, so an existing name (or a link in its place) is an
//! error rather than an overwrite. distcc 3.4 only prefixes the root, so `NAME /../../tmp/x`
//! writes outside it.
//!
//! What it leaves to others: reading entries off the wire (`proto`), and removing the tree
//! (the job's `os::tempdir::TempDir`).

use std::ffi::{CString, OsStr};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why a name could not be placed.
#[derive(Debug)]
pub enum PlaceError {
    /// The name breaks a rule (relative, `..`, empty).
    Refused {
        name: String,
        why: &'static str,
    },
    /// The walk met a symbolic link or a non-directory where a directory was needed.
    ThroughLink {
        name: String,
    },
    /// The name already exists.
    Exists {
        name: String,
    },
    Io {
        name: String,
        err: io::Error,
    },
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceError::Refused { name, why } => write!(f, "file name {name:?} refused: {why}"),
            PlaceError::ThroughLink { name } => write!(
                f,
                "file name {name:?} refused: a parent is a link or not a directory"
            ),
            PlaceError::Exists { name } => write!(f, "file name {name:?} refused: sent twice"),
            PlaceError::Io { name, err } => write!(f, "cannot create {name:?}: {err}"),
        }
    }
}

impl std::error::Error for PlaceError {}

/// The root of a job's rebuilt client tree.
#[derive(Debug)]
pub struct JobRoot {
    fd: OwnedFd,
    path: PathBuf,
}

fn show(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn cstr(b: &[u8]) -> CString {
    // Names come from proto, which rejects NUL bytes; components are slices of them.
    CString::new(b).expect("names from proto contain no NUL")
}

/// Longest name accepted: what the compiler could open anyway (PATH_MAX less the NUL).
const MAX_NAME: usize = 4095;
/// Most directory levels in one name. Real include paths have a dozen or two; thousands (a
/// 4 KiB name of `d/d/d/…`) made the job directory's recursive removal overflow a
/// connection thread's stack and abort the whole daemon.
const MAX_DEPTH: usize = 128;

/// Splits an absolute client path into its components, refusing anything that could climb
/// or that is too long or too deep to be a real file's name.
fn components(name: &[u8]) -> Result<Vec<&[u8]>, PlaceError> {
    let refuse = |why| PlaceError::Refused {
        name: show(name),
        why,
    };
    if name.first() != Some(&b'/') {
        return Err(refuse("not an absolute path"));
    }
    if name.contains(&0) {
        return Err(refuse("contains a NUL byte"));
    }
    if name.len() > MAX_NAME {
        return Err(refuse("longer than PATH_MAX"));
    }
    let mut out = Vec::new();
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(refuse("contains '..'")),
            c => out.push(c),
        }
    }
    if out.len() > MAX_DEPTH {
        return Err(refuse("too many directory levels"));
    }
    if out.is_empty() {
        return Err(refuse("names the root itself"));
    }
    Ok(out)
}

impl JobRoot {
    /// Creates `path` (which must not exist) and holds a descriptor to it.
    pub fn create(path: &Path) -> io::Result<JobRoot> {
        std::fs::create_dir(path)?;
        let c = cstr(path.as_os_str().as_bytes());
        // SAFETY: valid C string; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(JobRoot {
            // SAFETY: fd is a fresh descriptor we own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Walks (creating as needed) the directories `dirs` below the root, never through links.
    fn walk(&self, name: &[u8], dirs: &[&[u8]]) -> Result<OwnedFd, PlaceError> {
        // SAFETY: dup of a descriptor we own.
        let first = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if first < 0 {
            return Err(io_err(name));
        }
        // SAFETY: fresh descriptor.
        let mut cur = unsafe { OwnedFd::from_raw_fd(first) };
        for d in dirs {
            let c = cstr(d);
            // SAFETY: valid descriptor and C string.
            let rc = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) };
            if rc != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(PlaceError::Io {
                        name: show(name),
                        err: e,
                    });
                }
            }
            cur = open_dir_nofollow(cur.as_raw_fd(), &c).map_err(|e| {
                if matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) {
                    PlaceError::ThroughLink { name: show(name) }
                } else {
                    PlaceError::Io {
                        name: show(name),
                        err: e,
                    }
                }
            })?;
        }
        Ok(cur)
    }

    /// Creates the client directory `name` (for `CDIR`) and returns its path here.
    pub fn make_dir(&self, name: &[u8]) -> Result<PathBuf, PlaceError> {
        let comps = match components(name) {
            Ok(c) => c,
            // The client may work in `/` itself.
            Err(PlaceError::Refused { .. })
                if name.iter().all(|b| *b == b'/') && !name.is_empty() =>
            {
                return Ok(self.path.clone());
            }
            Err(e) => return Err(e),
        };
        self.walk(name, &comps)?;
        Ok(self.inside(&comps))
    }

    fn inside(&self, comps: &[&[u8]]) -> PathBuf {
        let mut p = self.path.clone();
        for c in comps {
            p.push(OsStr::from_bytes(c));
        }
        p
    }

    /// Writes a `FILE` entry.
    pub fn write_file(&self, name: &[u8], data: &[u8]) -> Result<(), PlaceError> {
        let comps = components(name)?;
        let (last, dirs) = comps.split_last().expect("components are never empty");
        let dir = self.walk(name, dirs)?;
        let c = cstr(last);
        // SAFETY: valid descriptor and C string; result checked.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(exists_or_io(name));
        }
        // SAFETY: fresh descriptor we own.
        let mut f = unsafe { File::from_raw_fd(fd) };
        f.write_all(data).map_err(|err| PlaceError::Io {
            name: show(name),
            err,
        })
    }

    /// Makes a `LINK` entry. An absolute target is rebased under the root, as 3.4 does; a
    /// relative one is kept, `..` and all.
    pub fn make_link(&self, name: &[u8], target: &[u8]) -> Result<(), PlaceError> {
        let comps = components(name)?;
        let (last, dirs) = comps.split_last().expect("components are never empty");
        let dir = self.walk(name, dirs)?;
        let target: Vec<u8> = if target.first() == Some(&b'/') {
            let mut t = self.path.as_os_str().as_bytes().to_vec();
            t.extend_from_slice(target);
            t
        } else {
            target.to_vec()
        };
        if target.is_empty() || target.contains(&0) {
            return Err(PlaceError::Refused {
                name: show(name),
                why: "empty link target",
            });
        }
        let (t, c) = (cstr(&target), cstr(last));
        // SAFETY: valid C strings and descriptor.
        if unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) } != 0 {
            return Err(exists_or_io(name));
        }
        Ok(())
    }
}

fn open_dir_nofollow(dir: RawFd, c: &CString) -> io::Result<OwnedFd> {
    // SAFETY: valid descriptor and C string; result checked.
    let fd = unsafe {
        libc::openat(
            dir,
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn io_err(name: &[u8]) -> PlaceError {
    PlaceError::Io {
        name: show(name),
        err: io::Error::last_os_error(),
    }
}

fn exists_or_io(name: &[u8]) -> PlaceError {
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EEXIST) => PlaceError::Exists { name: show(name) },
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => PlaceError::ThroughLink { name: show(name) },
        _ => PlaceError::Io {
            name: show(name),
            err: e,
        },
    }
}

/// A pump file without the `#line 1 "<its own name>"` that 3.4's include server (and ours)
/// puts before a file the client names by an absolute path (its `.lzo.abs` copies), so that
/// `__FILE__` shows the client's name on a daemon that leaves its root in names. Ours maps
/// the root away (`-ffile-prefix-map`, `argv::rewrite_pump`), and there the directive only
/// hurts: gcc then calls the main file by the rooted name and by the directive's, two files
/// in `-g3`'s `.debug_macro` (measured: libgit2 Debug `-g3` in pump mode, 217 of 217
/// objects differed from a local build). A `#line` naming anything else stays.
pub fn without_own_line_directive<'d>(name: &[u8], data: &'d [u8]) -> &'d [u8] {
    let mut directive = b"#line 1 \"".to_vec();
    directive.extend_from_slice(name);
    directive.extend_from_slice(b"\"\n");
    data.strip_prefix(directive.as_slice()).unwrap_or(data)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_line_directive_naming_the_file_itself_goes() {
        use super::without_own_line_directive as w;
        assert_eq!(w(b"/s/a.c", b"#line 1 \"/s/a.c\"\nint x;\n"), b"int x;\n");
        let other = b"#line 1 \"/t/a.c\"\nint x;\n";
        assert_eq!(w(b"/s/a.c", other), other);
        let later = b"int x;\n#line 1 \"/s/a.c\"\n";
        assert_eq!(w(b"/s/a.c", later), later);
    }

    use super::*;
    use os::tempdir::TempDir;

    fn setup() -> (TempDir, JobRoot) {
        let t = TempDir::new("daemon-jobdir-").unwrap();
        let r = JobRoot::create(&t.path().join("root")).unwrap();
        (t, r)
    }

    #[test]
    fn files_and_links_land_inside() {
        let (_t, r) = setup();
        r.write_file(b"/usr/include/a.h", b"int a;").unwrap();
        r.make_link(b"/src/b.h", b"../usr/include/a.h").unwrap();
        assert_eq!(std::fs::read(r.path().join("src/b.h")).unwrap(), b"int a;");
        let cwd = r.make_dir(b"/home/u/proj").unwrap();
        assert_eq!(cwd, r.path().join("home/u/proj"));
        assert!(cwd.is_dir());
        assert_eq!(r.make_dir(b"/").unwrap(), r.path());
    }

    #[test]
    fn climbing_names_are_refused() {
        let (t, r) = setup();
        for bad in [
            &b"/../../tmp/x"[..],
            b"relative/x",
            b"/a/../../x",
            b"",
            b"/",
            b"//",
        ] {
            assert!(
                matches!(r.write_file(bad, b"x"), Err(PlaceError::Refused { .. })),
                "{bad:?}"
            );
        }
        let deep = "/d".repeat(MAX_DEPTH + 1);
        let long = format!("/{}", "x".repeat(MAX_NAME));
        for bad in [deep.as_bytes(), long.as_bytes()] {
            assert!(
                matches!(r.write_file(bad, b"x"), Err(PlaceError::Refused { .. })),
                "{bad:?}"
            );
        }
        assert!(!t.path().join("tmp").exists());
    }

    #[test]
    fn writes_never_go_through_links() {
        let (t, r) = setup();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        // A link pointing out (relative and absolute-after-rebase), then writes through it.
        r.make_link(b"/esc", b"../outside").unwrap();
        assert!(matches!(
            r.write_file(b"/esc/x", b"x"),
            Err(PlaceError::ThroughLink { .. })
        ));
        assert!(matches!(
            r.make_link(b"/esc/y", b"z"),
            Err(PlaceError::ThroughLink { .. })
        ));
        // Writing onto the link itself must not follow it either.
        assert!(matches!(
            r.write_file(b"/esc", b"x"),
            Err(PlaceError::Exists { .. })
        ));
        r.make_link(b"/abs", b"/../outside").unwrap();
        assert!(matches!(
            r.write_file(b"/abs/x", b"x"),
            Err(PlaceError::ThroughLink { .. })
        ));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        r.write_file(b"/f", b"1").unwrap();
        assert!(matches!(
            r.write_file(b"/f", b"2"),
            Err(PlaceError::Exists { .. })
        ));
        assert!(matches!(
            r.write_file(b"/f/g", b"2"),
            Err(PlaceError::ThroughLink { .. })
        ));
    }
}
