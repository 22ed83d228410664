//! Which program a request may run: distcc 3.4's allow-list, without its holes.
//!
//! A compiler is allowed when its basename has an entry in the allow-list directory
//! (`/usr/lib/distcc` by default, where Debian keeps its masquerade links). A name with a
//! slash is accepted only as an absolute path directly in `/bin`, `/usr/bin` or
//! `/usr/local/bin`, with no `.` or `..` component, whose basename is allowed; 3.4 also
//! accepts any such path by prefix and runs bare names from `PATH`, including the
//! masquerade links themselves (which would run distcc recursively).
//!
//! A bare name is resolved here, once, to an absolute path: the first `PATH` entry holding an
//! executable of that name that is not the allow-list directory and does not resolve to a
//! distcc binary. The caller runs exactly that path, so nothing is looked up at exec time.
//!
//! `DISTCC_CMDLIST` (3.4's, [`CmdList`]): a file of commands, one per line; a request's
//! compiler must match one of them in its last `DISTCC_CMDLIST_NUMWORDS` path components
//! (default 1) and is replaced by that line. The line is then checked as above, with one
//! difference: an absolute path the list names may be in any directory (the list's point is
//! compilers in unusual places), but it must have no `.`/`..` component, its basename must
//! still be allow-listed, and it must not be distcc. 3.4 lets the list replace its allow-list
//! altogether; here a program runs only when both agree.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Directories from which an absolute compiler path is accepted.
pub const TRUSTED_DIRS: &[&str] = &["/bin", "/usr/bin", "/usr/local/bin"];

/// Why a compiler name was refused; logged, and sent to the client in `SERR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompilerRefusal {
    /// The basename has no entry in the allow-list directory.
    NotAllowListed(String),
    /// A name with a slash that is not `/bin/X`, `/usr/bin/X` or `/usr/local/bin/X`.
    UntrustedPath(String),
    /// Empty, starting with `-`, `.` or `..`, or not valid in a file name.
    BadName(String),
    /// Allowed, but no real compiler of that name was found on `PATH`.
    NotFound(String),
    /// `DISTCC_CMDLIST` is set and no line of it matches.
    NotInCmdList(String),
}

impl std::fmt::Display for CompilerRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompilerRefusal::NotAllowListed(n) => write!(f, "compiler '{n}' is not allow-listed"),
            CompilerRefusal::UntrustedPath(n) => write!(
                f,
                "compiler path '{n}' is refused: only /bin, /usr/bin and /usr/local/bin are trusted"
            ),
            CompilerRefusal::BadName(n) => write!(f, "compiler name '{n}' is not a valid name"),
            CompilerRefusal::NotFound(n) => {
                write!(f, "compiler '{n}' is allow-listed but not installed")
            }
            CompilerRefusal::NotInCmdList(n) => {
                write!(f, "compiler '{n}' is not in DISTCC_CMDLIST")
            }
        }
    }
}

/// The allow-list directory and the search path for bare names.
#[derive(Debug, Clone)]
pub struct CompilerPolicy {
    allow_dir: PathBuf,
    search_path: Vec<PathBuf>,
    /// `search_path` less its relative entries and the allow-list directory itself (compared
    /// by canonical path), worked out on first use rather than for every job: a running
    /// daemon's directories do not move. Each candidate compiler is still checked every time.
    searched: OnceLock<Vec<PathBuf>>,
    /// `DISTCC_CMDLIST`, when set.
    cmdlist: Option<CmdList>,
}

/// 3.4's `DISTCC_CMDLIST` map: each line a command; a name matches the line whose last
/// `words` path components equal its own last `words` (all of them when it has fewer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdList {
    words: usize,
    lines: Vec<Vec<u8>>,
}

impl CmdList {
    /// The lines of `text` (blank lines and `#` comments skipped; 3.4 has neither), matched
    /// on their last `words` components; `words` below 1 is taken as 1.
    pub fn parse(text: &[u8], words: usize) -> CmdList {
        let lines = text
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).trim_ascii())
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
            .map(<[u8]>::to_vec)
            .collect();
        CmdList {
            words: words.max(1),
            lines,
        }
    }

    /// Reads the file `DISTCC_CMDLIST` names.
    pub fn load(path: &Path, words: usize) -> std::io::Result<CmdList> {
        Ok(CmdList::parse(&std::fs::read(path)?, words))
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The line `name` maps to (the first that matches), as 3.4's `stringmap_lookup`.
    pub fn lookup(&self, name: &[u8]) -> Option<&[u8]> {
        let want = last_words(name, self.words);
        self.lines
            .iter()
            .find(|l| last_words(l, self.words) == want)
            .map(Vec::as_slice)
    }
}

impl CmdList {
    /// The lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.lines.iter().map(Vec::as_slice)
    }
}

/// The last `n` `/`-separated components of `s` (all of `s` when it has fewer).
fn last_words(s: &[u8], n: usize) -> &[u8] {
    let mut seen = 0;
    for (i, b) in s.iter().enumerate().rev() {
        if *b == b'/' {
            seen += 1;
            if seen == n {
                return &s[i + 1..];
            }
        }
    }
    s
}

impl CompilerPolicy {
    /// A policy using `allow_dir` and the daemon's own `PATH`.
    pub fn new(allow_dir: PathBuf) -> CompilerPolicy {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        CompilerPolicy::with_search_path(allow_dir, std::env::split_paths(&path).collect())
    }

    /// A policy using `allow_dir` and `search_path` for bare names.
    pub fn with_search_path(allow_dir: PathBuf, search_path: Vec<PathBuf>) -> CompilerPolicy {
        CompilerPolicy {
            allow_dir,
            search_path,
            searched: OnceLock::new(),
            cmdlist: None,
        }
    }

    /// The allow-list directory.
    pub fn allow_dir(&self) -> &Path {
        &self.allow_dir
    }

    /// Requests must also match `DISTCC_CMDLIST` (see the module doc).
    pub fn with_cmdlist(mut self, cmdlist: Option<CmdList>) -> CompilerPolicy {
        self.cmdlist = cmdlist;
        self
    }

    fn searched(&self) -> &[PathBuf] {
        self.searched.get_or_init(|| {
            let allow_canon = self.allow_dir.canonicalize().ok();
            self.search_path
                .iter()
                .filter(|d| d.is_absolute())
                .filter(|d| allow_canon.is_none() || d.canonicalize().ok() != allow_canon)
                .cloned()
                .collect()
        })
    }

    /// Checks `argv0` and returns the absolute path to run.
    pub fn resolve(&self, argv0: &[u8]) -> Result<PathBuf, CompilerRefusal> {
        match &self.cmdlist {
            None => self.resolve_named(argv0, false),
            Some(list) => {
                let line = list.lookup(argv0).ok_or_else(|| {
                    CompilerRefusal::NotInCmdList(String::from_utf8_lossy(argv0).into_owned())
                })?;
                self.resolve_named(line, true)
            }
        }
    }

    /// `resolve` for a name; `listed`: it is a line of `DISTCC_CMDLIST`, so an absolute path
    /// may be in any directory, if it has no `.` or `..` component.
    fn resolve_named(&self, argv0: &[u8], listed: bool) -> Result<PathBuf, CompilerRefusal> {
        let shown = String::from_utf8_lossy(argv0).into_owned();
        let name: &[u8] = if argv0.contains(&b'/') {
            let Some(pos) = argv0.iter().rposition(|b| *b == b'/') else {
                unreachable!("contains a slash")
            };
            let (dir, base) = (&argv0[..pos], &argv0[pos + 1..]);
            let clean = argv0.starts_with(b"/")
                && argv0[1..]
                    .split(|b| *b == b'/')
                    .all(|c| !c.is_empty() && c != b"." && c != b"..");
            let trusted = TRUSTED_DIRS.iter().any(|d| d.as_bytes() == dir);
            if !(trusted || listed && clean) {
                return Err(CompilerRefusal::UntrustedPath(shown));
            }
            base
        } else {
            argv0
        };
        if name.is_empty() || name.starts_with(b"-") || name == b"." || name == b".." {
            return Err(CompilerRefusal::BadName(shown));
        }
        let name_os = OsStr::from_bytes(name);
        if self.allow_dir.join(name_os).symlink_metadata().is_err() {
            return Err(CompilerRefusal::NotAllowListed(shown));
        }
        if argv0.contains(&b'/') {
            let p = PathBuf::from(OsStr::from_bytes(argv0));
            return if is_real_compiler(&p) {
                Ok(p)
            } else {
                Err(CompilerRefusal::NotFound(shown))
            };
        }
        for dir in self.searched() {
            let cand = dir.join(name_os);
            if is_real_compiler(&cand) {
                return Ok(cand);
            }
        }
        Err(CompilerRefusal::NotFound(shown))
    }
}

impl CompilerPolicy {
    /// Every compiler a request may run, for the identity index (`identity::Index`): each
    /// name in the allow-list directory (sorted) and, with `DISTCC_CMDLIST`, each of its
    /// lines, resolved as a request naming it would be; those that do not resolve (not
    /// installed, not in the list, distcc itself) are left out. A name is the file name
    /// the request would use; one program may appear under several names.
    pub fn candidates(&self) -> Vec<identity::Candidate> {
        let mut names: Vec<Vec<u8>> = std::fs::read_dir(&self.allow_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().as_bytes().to_vec())
                    .filter(|n| !n.starts_with(b"."))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        if let Some(list) = &self.cmdlist {
            names.extend(list.lines().map(<[u8]>::to_vec));
        }
        let mut out: Vec<identity::Candidate> = Vec::new();
        for n in names {
            let Ok(path) = self.resolve(&n) else {
                continue;
            };
            let base = n.rsplit(|b| *b == b'/').next().unwrap_or(&n);
            let name = String::from_utf8_lossy(base).into_owned();
            if !out.iter().any(|c| c.name == name && c.path == path) {
                out.push(identity::Candidate { name, path });
            }
        }
        out
    }
}

/// An executable regular file (after links) that is not distcc itself.
fn is_real_compiler(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    match p.canonicalize() {
        Ok(real) => !real
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(b"distcc")),
        Err(_) => false,
    }
}

/// Where a compiler outside the system's directories is installed, which its sandbox must
/// show read-only: `/opt/cross/bin/arm-linux-gcc` → `/opt/cross` (its `libexec`, `lib` and
/// sysroot sit beside `bin`). `None` for a compiler under `/usr`, `/bin`, `/lib`…, which
/// every sandbox shows anyway.
pub fn installation(program: &Path) -> Option<PathBuf> {
    const SYSTEM: &[&str] = &[
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ];
    let real = program.canonicalize().ok()?;
    if SYSTEM.iter().any(|s| real.starts_with(s)) {
        return None;
    }
    let dir = real.parent()?;
    let root = if dir.file_name() == Some(OsStr::new("bin")) {
        dir.parent()?
    } else {
        dir
    };
    (root != Path::new("/")).then(|| root.to_path_buf())
}

/// True when `program` is known to read its input file exactly once: a gcc or clang driver
/// binary (after links; a target prefix such as `x86_64-linux-gnu-` and a version suffix
/// such as `-12` allowed), not a script and not a wrapper (ccache, icecc, distcc) that might
/// hash the input before the compiler reads it. Such a compiler may be given its input
/// through a pipe, which can be read only once; see `serve`.
pub fn reads_its_input_once(program: &Path) -> bool {
    let Ok(real) = program.canonicalize() else {
        return false;
    };
    let Some(name) = real.file_name().map(OsStr::as_bytes) else {
        return false;
    };
    if !driver_name(name) {
        return false;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(&real)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| magic == *b"\x7fELF")
}

/// `gcc`, `g++`, `cc`, `c++`, `clang` or `clang++`, maybe after a `TARGET-` prefix and before
/// a `-VERSION` suffix of digits and dots.
fn driver_name(name: &[u8]) -> bool {
    const DRIVERS: &[&[u8]] = &[b"gcc", b"g++", b"cc", b"c++", b"clang", b"clang++"];
    let mut base = name;
    if let Some(dash) = base.iter().rposition(|b| *b == b'-') {
        let suffix = &base[dash + 1..];
        if !suffix.is_empty()
            && suffix[0].is_ascii_digit()
            && suffix.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        {
            base = &base[..dash];
        }
    }
    DRIVERS.iter().any(|d| {
        base == *d
            || (base.len() > d.len() + 1
                && base.ends_with(d)
                && base[base.len() - d.len() - 1] == b'-')
    })
}

/// The helper that fills an allow-list directory, named in the warning below.
pub const ALLOW_LIST_HELPER: &str = "distcc-allowlist";

/// A warning for the daemon's start when the allow-list directory is missing, unreadable or
/// empty (every request would then be refused), naming the helper that fills it; `None` when
/// it holds at least one entry.
pub fn allow_list_warning(dir: &Path) -> Option<String> {
    let d = dir.display();
    let fix = format!(
        "run `{ALLOW_LIST_HELPER}` (or Debian's update-distcc-symlinks) as root to list the \
         installed compilers, or `{ALLOW_LIST_HELPER} --dir {d}` for this directory"
    );
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => None,
            None => Some(format!(
                "compiler allow-list {d} is empty: every compile will be refused; {fix}"
            )),
        },
        Err(e) => Some(format!(
            "compiler allow-list {d} cannot be read ({e}): every compile will be refused; {fix}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_warning_names_the_helper_when_missing_or_empty() {
        let base = std::env::temp_dir().join(format!("distcc-allow-warn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let w = allow_list_warning(&base).unwrap();
        assert!(
            w.contains("cannot be read") && w.contains(ALLOW_LIST_HELPER),
            "{w}"
        );
        std::fs::create_dir_all(&base).unwrap();
        let w = allow_list_warning(&base).unwrap();
        assert!(
            w.contains("is empty") && w.contains(ALLOW_LIST_HELPER),
            "{w}"
        );
        std::fs::write(base.join("gcc"), "").unwrap();
        assert_eq!(allow_list_warning(&base), None);
        std::fs::remove_dir_all(&base).unwrap();
    }

    fn policy(names: &[&str]) -> (os::tempdir::TempDir, CompilerPolicy) {
        let t = os::tempdir::TempDir::new("daemon-compiler-").unwrap();
        let allow = t.path().join("allow");
        std::fs::create_dir(&allow).unwrap();
        for n in names {
            std::os::unix::fs::symlink("/usr/bin/distcc", allow.join(n)).unwrap();
        }
        // The allow dir is first on PATH, as a careless admin might have it: never run it.
        let p = CompilerPolicy::with_search_path(
            allow.clone(),
            vec![allow, PathBuf::from("/usr/bin"), PathBuf::from("/bin")],
        );
        (t, p)
    }

    #[test]
    fn cmdlist_matches_last_words_as_3_4() {
        let l = CmdList::parse(
            b"# comment\n/usr/bin/gcc\n\n/opt/x/gcc-3.3/bin/sh4-linux-gcc\r\n/usr/bin/g++\n",
            1,
        );
        assert_eq!(l.len(), 3);
        assert_eq!(l.lookup(b"gcc"), Some(&b"/usr/bin/gcc"[..]));
        assert_eq!(l.lookup(b"/elsewhere/gcc"), Some(&b"/usr/bin/gcc"[..]));
        assert_eq!(l.lookup(b"clang"), None);
        let l3 = CmdList::parse(b"/opt/x/gcc-3.3/bin/sh4-linux-gcc\n", 3);
        assert_eq!(
            l3.lookup(b"/shared/gcc-3.3/bin/sh4-linux-gcc"),
            Some(&b"/opt/x/gcc-3.3/bin/sh4-linux-gcc"[..])
        );
        assert_eq!(l3.lookup(b"/shared/gcc-2.95/bin/sh4-linux-gcc"), None);
        assert_eq!(l3.lookup(b"sh4-linux-gcc"), None);
        assert_eq!(
            CmdList::parse(b"gcc\n", 0).lookup(b"gcc"),
            Some(&b"gcc"[..])
        );
    }

    #[test]
    fn cmdlist_and_allow_list_must_both_agree() {
        let (t, p) = policy(&["gcc", "true"]);
        // A compiler in an unusual directory, named by the list: runs under its listed path.
        let odd = t.path().join("tools/bin");
        std::fs::create_dir_all(&odd).unwrap();
        std::os::unix::fs::symlink("/usr/bin/gcc", odd.join("gcc")).unwrap();
        let text = format!(
            "{}\n/usr/bin/g++\n/usr/lib/distcc/true\n",
            odd.join("gcc").display()
        );
        let p = p.with_cmdlist(Some(CmdList::parse(text.as_bytes(), 1)));
        assert_eq!(p.resolve(b"gcc").unwrap(), odd.join("gcc"));
        assert_eq!(p.resolve(b"/usr/bin/gcc").unwrap(), odd.join("gcc"));
        // Listed but not allow-listed; allow-listed but not listed; listed, allow-listed,
        // but distcc itself.
        assert_eq!(
            p.resolve(b"g++").unwrap_err(),
            CompilerRefusal::NotAllowListed("/usr/bin/g++".into())
        );
        assert_eq!(
            p.resolve(b"cc").unwrap_err(),
            CompilerRefusal::NotInCmdList("cc".into())
        );
        assert!(p.resolve(b"true").is_err());
        let dotted = format!("{}/../bin/gcc\n", odd.display());
        let (_t2, p2) = policy(&["gcc"]);
        let p2 = p2.with_cmdlist(Some(CmdList::parse(dotted.as_bytes(), 1)));
        assert!(matches!(
            p2.resolve(b"gcc").unwrap_err(),
            CompilerRefusal::UntrustedPath(_)
        ));
    }

    #[test]
    fn bare_allowed_name_resolves_past_the_masquerade_dir() {
        let (_t, p) = policy(&["gcc", "sh"]);
        let got = p.resolve(b"gcc").unwrap();
        assert!(
            got.starts_with("/usr/bin") || got.starts_with("/bin"),
            "{got:?}"
        );
    }

    #[test]
    fn refusals() {
        let (_t, p) = policy(&["gcc", "sh"]);
        use CompilerRefusal::*;
        type Case = (&'static [u8], fn(String) -> CompilerRefusal);
        let cases: &[Case] = &[
            (b"cc1", NotAllowListed),
            (b"gcc;id", NotAllowListed),
            (b"$(id)", NotAllowListed),
            (b"/tmp/gcc", UntrustedPath),
            (b"/usr/bin/../bin/gcc", UntrustedPath),
            (b"/usr/bin/./gcc", UntrustedPath),
            (b"../gcc", UntrustedPath),
            (b"bin/gcc", UntrustedPath),
            (b"//usr/bin/gcc", UntrustedPath),
            (b"/usr/lib/distcc/gcc", UntrustedPath),
            (b"/usr/bin/cc1", NotAllowListed),
            (b"-gcc", BadName),
            (b"..", BadName),
            (b"/usr/bin/", BadName),
        ];
        for (name, want) in cases {
            let got = p.resolve(name).unwrap_err();
            assert_eq!(
                got,
                want(String::from_utf8_lossy(name).into_owned()),
                "{name:?}"
            );
        }
    }

    #[test]
    fn absolute_path_in_trusted_dir_is_run_as_given() {
        let (_t, p) = policy(&["gcc"]);
        assert_eq!(
            p.resolve(b"/usr/bin/gcc").unwrap(),
            PathBuf::from("/usr/bin/gcc")
        );
    }

    #[test]
    fn driver_names() {
        for yes in [
            "gcc",
            "g++",
            "cc",
            "c++",
            "clang",
            "clang++",
            "gcc-12",
            "clang-14",
            "clang++-14.0.6",
            "x86_64-linux-gnu-gcc-12",
            "aarch64-linux-gnu-g++",
        ] {
            assert!(driver_name(yes.as_bytes()), "{yes}");
        }
        for no in [
            "ccache",
            "distcc",
            "icecc",
            "cc1",
            "gcc-ar",
            "gcc-nm",
            "tcc",
            "xgcc",
            "gcc-",
            "-gcc",
            "clang-tidy",
            "sh",
        ] {
            assert!(!driver_name(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn only_a_real_driver_binary_reads_its_input_once() {
        let t = os::tempdir::TempDir::new("daemon-compiler-").unwrap();
        assert!(reads_its_input_once(Path::new("/usr/bin/gcc")));
        // A script named like a compiler might read its input twice (or hand it to a tool
        // that does), and so might a link named gcc to anything that is not a driver.
        let script = t.path().join("gcc");
        std::fs::write(&script, "#!/bin/sh\nexec /usr/bin/gcc \"$@\"\n").unwrap();
        assert!(!reads_its_input_once(&script));
        let wrapper = t.path().join("ccache");
        std::fs::copy("/usr/bin/gcc", &wrapper).unwrap();
        let link = t.path().join("g++");
        std::os::unix::fs::symlink(&wrapper, &link).unwrap();
        assert!(!reads_its_input_once(&link));
        assert!(!reads_its_input_once(&t.path().join("missing-gcc")));
    }

    #[test]
    fn candidates_are_the_allow_listed_compilers_that_resolve() {
        let (t, p) = policy(&["gcc", "cc", "not-installed-cc", "distcc"]);
        let got = p.candidates();
        let names: Vec<&str> = got.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["cc", "gcc"]);
        assert!(got.iter().all(|c| c.path.is_absolute()), "{got:?}");
        // With DISTCC_CMDLIST, only what the list names, under its path.
        let odd = t.path().join("tools/bin");
        std::fs::create_dir_all(&odd).unwrap();
        std::os::unix::fs::symlink("/usr/bin/gcc", odd.join("gcc")).unwrap();
        let text = format!("{}\n", odd.join("gcc").display());
        let p = p.with_cmdlist(Some(CmdList::parse(text.as_bytes(), 1)));
        assert_eq!(
            p.candidates(),
            [identity::Candidate {
                name: "gcc".into(),
                path: odd.join("gcc")
            }]
        );
    }

    #[test]
    fn a_link_to_distcc_is_never_a_compiler() {
        let (_t, p) = policy(&["distcc"]);
        assert!(matches!(
            p.resolve(b"distcc"),
            Err(CompilerRefusal::NotFound(_))
        ));
    }
}
