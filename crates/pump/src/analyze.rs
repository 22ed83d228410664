//! The include closure of one compile: every file any `#include`, `#include_next` or
//! `#import` of any reached file may name, regardless of `#if`, resolved the way gcc
//! searches (the includer's directory for `"…"`, then `-iquote`, `-I`, `-isystem`, the
//! compiler's built-in directories, `-idirafter`; `#include_next` continues after the
//! directory the includer was found in). Computed includes are evaluated over every
//! `#define` of every reached file and every `-D`, after the plain includes, until no new
//! file appears. A computed include none of whose macros is defined anywhere is skipped (gcc
//! would reject it, so an `#if` keeps it out).
//!
//! Files under the built-in directories are walked (they may define macros or include
//! project headers) but not reported as files to send. An include that names no existing
//! file is ignored, as gcc would fail on it locally too (3.4 does the same). A computed
//! include with no value of the form `"…"` or `<…>`, or an absolute include of a file
//! outside the built-in directories, gives up: the client then preprocesses locally.
//! What it leaves to others: caches (`fscache`), writing the client root (`root`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::command::{Command, NotCovered};
use crate::defaults::Defaults;
use crate::directives::{Directives, Target};
use crate::fscache::Fs;
use crate::macros::{self, Name, Table};

/// The files a compile may read.
#[derive(Debug, Clone, Default)]
pub struct Closure {
    /// Realpaths of files outside the built-in directories, in discovery order, each with
    /// the first absolute spelling it was reached by (3.4 then prefixes a `#line` so the
    /// server's compiler reports the client's name).
    pub files: Vec<(PathBuf, Option<PathBuf>)>,
    /// Every resolved path as spelled (made absolute, `..` and links kept), for mirroring.
    pub spelled: Vec<PathBuf>,
    /// The built-in directories of this compiler and language.
    pub system_dirs: Vec<PathBuf>,
    /// Number of files reached, system ones included.
    pub reached: usize,
    /// Absolute includes of non-system files left out (`--unsafe_absolute_includes`).
    pub ignored_absolute: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Node {
    spelled: PathBuf,
    found: Option<usize>,
}

struct Pending {
    expr: String,
    includer_dir: PathBuf,
    found: Option<usize>,
    next: bool,
}

struct Walk<'a> {
    fs: &'a mut Fs,
    cwd: &'a Path,
    chain: Vec<PathBuf>,
    /// `chain` joined with the cwd, once.
    chain_abs: Vec<PathBuf>,
    /// (name, first index) → index found, for this request: most names recur in many files.
    found_memo: HashMap<(String, usize), Option<usize>>,
    angle_start: usize,
    system: Vec<PathBuf>,
    seen: HashSet<Node>,
    /// (realpath, realpath of the directory it was named in, chain index): what decides what
    /// a file's includes resolve to. Spellings with `..` can grow without end around an
    /// include cycle (`a/../b/../a/…`); this key cannot.
    visited: HashSet<(PathBuf, PathBuf, Option<usize>)>,
    work: Vec<Node>,
    real_index: HashMap<PathBuf, usize>,
    out: Closure,
    /// `--unsafe_absolute_includes`: leave absolute includes of non-system files out.
    unsafe_absolute: bool,
    reached: Vec<Arc<Directives>>,
    pending: Vec<Pending>,
}

/// Strips leading `./` and trailing `/`, as 3.4 does; `.` becomes the empty path (cwd).
fn norm(dir: &str) -> PathBuf {
    let mut d = dir;
    while let Some(r) = d.strip_prefix("./") {
        d = r;
    }
    let d = if d == "." { "" } else { d };
    let t = d.trim_end_matches('/');
    PathBuf::from(if t.is_empty() && d.starts_with('/') {
        "/"
    } else {
        t
    })
}

/// Computes the closure of `cmd` run in `cwd`.
pub fn closure(
    fs: &mut Fs,
    defaults: &mut Defaults,
    cwd: &Path,
    cmd: &Command,
) -> Result<Closure, NotCovered> {
    closure_with(fs, defaults, cwd, cmd, false)
}

/// `closure`; with `unsafe_absolute` (`--unsafe_absolute_includes`) an absolute include of a
/// file outside the built-in directories is left out (and listed in `ignored_absolute`)
/// instead of making the analysis give up.
pub fn closure_with(
    fs: &mut Fs,
    defaults: &mut Defaults,
    cwd: &Path,
    cmd: &Command,
    unsafe_absolute: bool,
) -> Result<Closure, NotCovered> {
    fs.begin();
    let system: Vec<PathBuf> = if cmd.nostdinc {
        Vec::new()
    } else {
        defaults
            .dirs(&cmd.compiler, cmd.sysroot.as_deref(), &cmd.language)?
            .to_vec()
    };
    // gcc drops a -I/-isystem directory that is also a built-in one: it keeps its place.
    let not_builtin =
        |d: &String| std::fs::canonicalize(cwd.join(d)).map_or(true, |c| !system.contains(&c));
    let mut chain: Vec<PathBuf> = cmd.quote_dirs.iter().map(|d| norm(d)).collect();
    let angle_start = chain.len();
    chain.extend(
        cmd.i_dirs
            .iter()
            .filter(|d| not_builtin(d))
            .map(|d| norm(d)),
    );
    chain.extend(
        cmd.system_dirs
            .iter()
            .filter(|d| not_builtin(d))
            .map(|d| norm(d)),
    );
    chain.extend(system.iter().cloned());
    chain.extend(cmd.after_dirs.iter().map(|d| norm(d)));

    let chain_abs = chain.iter().map(|d| cwd.join(d)).collect();
    let mut w = Walk {
        fs,
        cwd,
        chain,
        chain_abs,
        found_memo: HashMap::new(),
        angle_start,
        system: system.clone(),
        seen: HashSet::new(),
        visited: HashSet::new(),
        work: Vec::new(),
        real_index: HashMap::new(),
        out: Closure {
            system_dirs: system,
            ..Closure::default()
        },
        unsafe_absolute,
        reached: Vec::new(),
        pending: Vec::new(),
    };

    // The source first, then -include/-imacros files (searched in cwd, then the chain).
    let src = PathBuf::from(&cmd.source);
    let found = if src.is_absolute() {
        w.fs.file(&src).is_some()
    } else {
        w.fs.is_file(cwd, &src)
    };
    if !found {
        return Err(NotCovered(format!(
            "could not find translation unit '{}'",
            cmd.source
        )));
    }
    w.push(src, None);
    for f in &cmd.include_files {
        let p = PathBuf::from(f);
        if p.is_absolute() || w.fs.is_file(cwd, &p) {
            w.push(p, None);
        } else if !w.search(f, 0) {
            return Err(NotCovered(format!("could not find include file '{f}'")));
        }
    }
    let mut cmdline = Table::new();
    for (name, value) in &cmd.defines {
        cmdline
            .entry(name.clone())
            .or_default()
            .push(crate::directives::Define {
                name: name.clone(),
                params: None,
                body: value.clone(),
            });
    }
    let mut evaluated = (0, 0);
    loop {
        while let Some(node) = w.work.pop() {
            w.visit(node)?;
        }
        if w.pending.is_empty() || evaluated == (w.pending.len(), w.reached.len()) {
            break;
        }
        // New definitions may give old computed includes new values: evaluate all again.
        let mut table = Table::new();
        for d in &w.reached {
            for def in &d.defines {
                table.entry(def.name.clone()).or_default().push(def.clone());
            }
        }
        evaluated = (w.pending.len(), w.reached.len());
        let pending = std::mem::take(&mut w.pending);
        for p in &pending {
            let names = macros::evaluate(&p.expr, &[&cmdline, &table]);
            if names.is_empty() && !macros::any_defined(&p.expr, &[&cmdline, &table]) {
                // Only under an #if that is false here: gcc would fail on it otherwise.
                continue;
            }
            if names.is_empty() {
                return Err(NotCovered(format!(
                    "computed include '{}' has no value of the form \"…\" or <…>",
                    p.expr
                )));
            }
            for n in names {
                let (name, quote) = match &n {
                    Name::Quote(s) => (s.as_str(), true),
                    Name::Angle(s) => (s.as_str(), false),
                };
                w.include(name, quote, p.next, &p.includer_dir, p.found)?;
            }
        }
        w.pending = pending;
    }
    w.out.reached = w.real_index.len();
    Ok(w.out)
}

impl Walk<'_> {
    fn push(&mut self, spelled: PathBuf, found: Option<usize>) {
        let n = Node { spelled, found };
        if !self.seen.contains(&n) {
            self.seen.insert(n.clone());
            self.work.push(n);
        }
    }

    fn is_system(&self, real: &Path) -> bool {
        self.system.iter().any(|d| real.starts_with(d))
    }

    /// Searches the chain from `start`; true if found (and queued).
    fn search(&mut self, name: &str, start: usize) -> bool {
        let key = (name.to_string(), start);
        let found = match self.found_memo.get(&key) {
            Some(f) => *f,
            None => {
                let f = (start..self.chain.len())
                    .find(|&idx| self.fs.is_file(&self.chain_abs[idx], Path::new(name)));
                self.found_memo.insert(key, f);
                f
            }
        };
        if let Some(idx) = found {
            let spelled = self.chain[idx].join(name);
            self.push(spelled, Some(idx));
        }
        found.is_some()
    }

    fn include(
        &mut self,
        name: &str,
        quote: bool,
        next: bool,
        includer_dir: &Path,
        found: Option<usize>,
    ) -> Result<(), NotCovered> {
        if name.is_empty() {
            return Ok(());
        }
        if Path::new(name).is_absolute() {
            if let Some((_, real)) = self.fs.file(Path::new(name)) {
                if !self.is_system(&real) {
                    if self.unsafe_absolute {
                        self.out.ignored_absolute.push(name.to_owned());
                        return Ok(());
                    }
                    return Err(NotCovered(format!("absolute include of '{name}'")));
                }
                self.push(PathBuf::from(name), None);
            }
            return Ok(());
        }
        if next {
            let start = match found {
                Some(i) => i + 1,
                None if quote => 0,
                None => self.angle_start,
            };
            self.search(name, start);
            return Ok(());
        }
        if quote {
            let dir = self.cwd.join(includer_dir);
            if self.fs.is_file(&dir, Path::new(name)) {
                self.push(includer_dir.join(name), None);
                return Ok(());
            }
            self.search(name, 0);
        } else {
            self.search(name, self.angle_start);
        }
        Ok(())
    }

    fn visit(&mut self, node: Node) -> Result<(), NotCovered> {
        let abs = self.cwd.join(&node.spelled);
        let Some((stamp, real)) = self.fs.file(&abs) else {
            return Ok(());
        };
        let real_dir = abs
            .parent()
            .and_then(|d| self.fs.real_dir(d))
            .unwrap_or_default();
        if !self.visited.insert((real.clone(), real_dir, node.found)) {
            return Ok(());
        }
        self.out.spelled.push(abs);
        let system = self.is_system(&real);
        let first = !self.real_index.contains_key(&real);
        if first {
            self.real_index.insert(real.clone(), self.out.files.len());
            if !system {
                self.out.files.push((real.clone(), None));
            }
        }
        if !system && node.spelled.is_absolute() {
            let k = self.real_index[&real];
            if let Some(entry) = self.out.files.get_mut(k)
                && entry.1.is_none()
            {
                entry.1 = Some(node.spelled.clone());
            }
        }
        let d = self
            .fs
            .directives(&real, stamp)
            .map_err(|e| NotCovered(format!("cannot read '{}': {e}", real.display())))?;
        if first {
            self.reached.push(d.clone());
        }
        let includer_dir = node
            .spelled
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for inc in &d.includes {
            match &inc.target {
                Target::Quote(n) => self.include(n, true, inc.next, &includer_dir, node.found)?,
                Target::Angle(n) => self.include(n, false, inc.next, &includer_dir, node.found)?,
                Target::Computed(e) if first => self.pending.push(Pending {
                    expr: e.clone(),
                    includer_dir: includer_dir.clone(),
                    found: node.found,
                    next: inc.next,
                }),
                Target::Computed(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::norm;
    use std::path::PathBuf;

    #[test]
    fn dir_spellings() {
        assert_eq!(norm("./a/"), PathBuf::from("a"));
        assert_eq!(norm("."), PathBuf::from(""));
        assert_eq!(norm("/"), PathBuf::from("/"));
        assert_eq!(norm("/usr/include/"), PathBuf::from("/usr/include"));
    }
}

#[cfg(test)]
mod cycle_tests {
    use super::*;

    /// Headers including each other through `..` end (distinct spellings, same files).
    #[test]
    fn dotdot_include_cycle_ends() {
        let t = os::tempdir::TempDir::new("analyze-test.").unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("a")).unwrap();
        std::fs::create_dir_all(d.join("b")).unwrap();
        std::fs::write(d.join("a/x.h"), "#include \"../b/y.h\"\n").unwrap();
        std::fs::write(d.join("b/y.h"), "#include \"../a/x.h\"\n").unwrap();
        std::fs::write(d.join("m.c"), "#include \"a/x.h\"\n").unwrap();
        let cmd =
            crate::command::parse(&["gcc".into(), "-nostdinc".into(), "-c".into(), "m.c".into()])
                .unwrap();
        let c = closure(&mut Fs::default(), &mut Defaults::default(), d, &cmd).unwrap();
        assert_eq!(c.files.len(), 3);
    }
}
