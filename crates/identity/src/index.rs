//! The daemon's side: every allow-listed compiler, found by identity whatever its name.
//!
//! [`Index::build`] takes the allow-listed compilers (the daemon's `compiler` module lists
//! them) and merges names that are the same program after links (`cc`, `gcc`, `gcc-12`,
//! `x86_64-linux-gnu-gcc-12` on Debian) and the same driver (not `clang` and `clang++`). It runs nothing: identities are probed lazily, per
//! compiler and language, the first time a request needs them, and kept in memory (and on
//! disk under a cache directory when one is given). Start-up stays instant, also in
//! `--inetd` mode where a daemon lives for one job, and a language nobody asks for is never
//! probed.
//!
//! [`Index::find`] tries the compiler whose name the client used first (the usual match),
//! then every other one in order; before it returns a program it checks that every file the
//! identity was computed from still has the same file identity, and probes again when not,
//! so an upgraded compiler is never run under its old identity.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::cache::lookup_or_probe;
use crate::probe::{Probed, cxx_driver};
use crate::stamp::{FileStamp, Stamps};
use crate::{Identity, Language, proper_name};

/// An allow-listed compiler: the name a request may use, and the program it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub path: PathBuf,
}

/// One program and every allow-listed name for it.
#[derive(Debug)]
struct Entry {
    names: Vec<String>,
    path: PathBuf,
    /// Per compiler proper (`cc1`, `cc1plus`, `cc1obj`, `cc1objplus`).
    known: Mutex<[Known; 4]>,
}

#[derive(Debug, Clone, Default)]
enum Known {
    #[default]
    Unprobed,
    Probed(Probed),
    /// The probe failed (not a compiler, or not of this language); tried again when a file
    /// it looked at changes.
    Failed(Stamps, String),
}

/// Lists the allow-listed compilers again (the daemon's `CompilerPolicy::candidates`).
pub type Source = Box<dyn Fn() -> Vec<Candidate> + Send + Sync>;

/// The allow-listed compilers of a daemon, by identity.
pub struct Index {
    entries: RwLock<Vec<Arc<Entry>>>,
    /// Where the candidates come from, when they can change while the daemon runs.
    source: Option<Source>,
    /// Files and directories (the allow-list directory, `DISTCC_CMDLIST`) whose change
    /// means the candidates must be listed again, and their identities when last listed.
    watched: Vec<PathBuf>,
    seen: Mutex<Vec<Option<FileStamp>>>,
    cache_dir: Option<PathBuf>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("entries", &self.snapshot().len())
            .field("watched", &self.watched)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl Default for Index {
    fn default() -> Index {
        Index::build([])
    }
}

/// No allow-listed compiler here has the client's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub wanted: Identity,
    pub language: &'static str,
    /// What this host has for the language: an identity and every name it goes by.
    pub have: Vec<(Identity, Vec<String>)>,
}

/// Most compilers a [`Mismatch`] message lists (its text goes in a 4 KiB `TEXT`).
const LISTED: usize = 8;

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no compiler on this host matches the client's {} ({});",
            self.wanted.describe(),
            self.language
        )?;
        if self.have.is_empty() {
            return write!(
                f,
                " this host has no allow-listed compiler for {}",
                self.language
            );
        }
        write!(f, " this host has")?;
        for (i, (id, names)) in self.have.iter().take(LISTED).enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            let mut d = id.clone();
            d.name = names.join(", ");
            write!(f, "{sep}{}", d.describe())?;
        }
        if self.have.len() > LISTED {
            write!(f, "; and {} more", self.have.len() - LISTED)?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

fn slot(language: Language) -> usize {
    match proper_name(language) {
        "cc1" => 0,
        "cc1plus" => 1,
        "cc1obj" => 2,
        _ => 3,
    }
}

/// What a language is called in messages.
fn language_name(language: Language) -> &'static str {
    match slot(language) {
        0 => "C",
        1 => "C++",
        2 => "Objective-C",
        _ => "Objective-C++",
    }
}

impl Index {
    /// The index of `candidates` (in the caller's order; the first name of a program is the
    /// one it is shown and probed under). Candidates that are the same file after links and
    /// the same driver become one entry with several names. Runs no program.
    pub fn build(candidates: impl IntoIterator<Item = Candidate>) -> Index {
        Index {
            entries: RwLock::new(group(candidates, &[])),
            source: None,
            watched: Vec::new(),
            seen: Mutex::new(Vec::new()),
            cache_dir: None,
        }
    }

    /// As `build` with what `source` lists now; listed again whenever one of `watched`
    /// changes (its file identity: an entry added to or removed from a directory changes
    /// its mtime), which costs one `stat` each per `find`, and once more before a job is
    /// refused (a compiler installed since). Probes already made are kept for the programs
    /// that are still listed under the same names.
    pub fn listing(source: Source, watched: Vec<PathBuf>) -> Index {
        let seen = stamps_of(&watched);
        Index {
            entries: RwLock::new(group(source(), &[])),
            source: Some(source),
            watched,
            seen: Mutex::new(seen),
            cache_dir: None,
        }
    }

    /// Identities are also cached on disk under `dir` (as the client's are): a daemon that
    /// lives for one job (`--inetd`, ssh) then probes a compiler once, not every job.
    pub fn with_cache(mut self, dir: Option<PathBuf>) -> Index {
        self.cache_dir = dir;
        self
    }

    /// Each program and its names, in order: for the daemon's start-up log.
    pub fn compilers(&self) -> Vec<(PathBuf, Vec<String>)> {
        self.snapshot()
            .iter()
            .map(|e| (e.path.clone(), e.names.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    fn snapshot(&self) -> Vec<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The entries, listed again first if a watched file changed (or `force`). Returns
    /// whether they were listed again.
    fn current(&self, force: bool) -> (Vec<Arc<Entry>>, bool) {
        let Some(source) = &self.source else {
            return (self.snapshot(), false);
        };
        let now = stamps_of(&self.watched);
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if !force && *seen == now {
                drop(seen);
                return (self.snapshot(), false);
            }
            *seen = now;
        }
        let listed = source();
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        *entries = group(listed, &entries);
        (entries.clone(), true)
    }

    /// The program whose identity for `language` matches `wanted`: the entry named as the
    /// client names its compiler first, then the others in order. Its files' identities are
    /// checked just before it is returned. `Mismatch` lists what this host has.
    pub fn find(&self, wanted: &Identity, language: Language) -> Result<PathBuf, Box<Mismatch>> {
        let (mut entries, mut relisted) = self.current(false);
        loop {
            if let Some(path) = self.search(&entries, wanted, language) {
                return Ok(path);
            }
            if relisted || self.source.is_none() {
                break;
            }
            // Before refusing: a compiler may have been installed or listed since.
            (entries, relisted) = self.current(true);
        }
        let mut have: Vec<(Identity, Vec<String>)> = Vec::new();
        for e in &entries {
            if let Ok(p) = self.identity_of(e, language) {
                match have.iter_mut().find(|(id, _)| id.matches(&p.identity)) {
                    Some((_, names)) => names.extend(e.names.iter().cloned()),
                    None => have.push((p.identity, e.names.clone())),
                }
            }
        }
        Err(Box::new(Mismatch {
            wanted: wanted.clone(),
            language: language_name(language),
            have,
        }))
    }

    fn search(
        &self,
        entries: &[Arc<Entry>],
        wanted: &Identity,
        language: Language,
    ) -> Option<PathBuf> {
        let named = entries.iter().filter(|e| e.names.contains(&wanted.name));
        let others = entries.iter().filter(|e| !e.names.contains(&wanted.name));
        named
            .chain(others)
            .find(|e| {
                self.identity_of(e, language)
                    .is_ok_and(|p| p.identity.matches(wanted))
            })
            .map(|e| e.path.clone())
    }

    /// The identity for `language` of `program` (a path as the candidates name it, e.g. what
    /// `CompilerPolicy::resolve` gave a 1-3 request), checked as `find` checks it; `None`
    /// for a program not in the index or that cannot be identified. For a daemon that wants
    /// to tell a client which compiler a 1-3 job ran (say, beside its advertisement), so the
    /// client can refuse an object from another compiler than its own.
    /// `program` may be any of an entry's names' paths: one program under several names is
    /// one entry (see [`Index::build`]), found again here by its real path and driver.
    pub fn identify(&self, program: &std::path::Path, language: Language) -> Option<Identity> {
        let (entries, _) = self.current(false);
        let e = match entries.iter().find(|e| e.path == program) {
            Some(e) => e,
            None => {
                let real = Some((std::fs::canonicalize(program).ok()?, cxx_driver(program)));
                entries.iter().find(|e| {
                    std::fs::canonicalize(&e.path)
                        .ok()
                        .map(|r| (r, cxx_driver(&e.path)))
                        == real
                })?
            }
        };
        self.identity_of(e, language).ok().map(|p| p.identity)
    }

    /// Every program's identity for `language`, probing those not yet known (for the
    /// daemon's log and stats; `find` probes only as far as it must).
    pub fn identities(&self, language: Language) -> Vec<(PathBuf, Result<Identity, String>)> {
        self.current(false)
            .0
            .iter()
            .map(|e| {
                (
                    e.path.clone(),
                    self.identity_of(e, language).map(|p| p.identity),
                )
            })
            .collect()
    }

    /// `e`'s identity for `language`: the one known while its files are unchanged, else a
    /// new probe. The entry stays locked while probing so a compiler is probed once.
    fn identity_of(&self, e: &Entry, language: Language) -> Result<Probed, String> {
        let mut known = e.known.lock().unwrap_or_else(|p| p.into_inner());
        let k = &mut known[slot(language)];
        match k {
            Known::Probed(p) if p.stamps.still_valid() => return Ok(p.clone()),
            Known::Failed(s, why) if !s.0.is_empty() && s.still_valid() => {
                return Err(why.clone());
            }
            _ => {}
        }
        let name = &e.names[0];
        match lookup_or_probe(&e.path, name, language, self.cache_dir.as_deref()) {
            Ok(p) => {
                *k = Known::Probed(p.clone());
                Ok(p)
            }
            Err(err) => {
                let mut s = Stamps::default();
                let _ = s.follow(&e.path);
                *k = Known::Failed(s, err.to_string());
                Err(err.to_string())
            }
        }
    }
}

/// The file identity of each path (`None`: missing).
fn stamps_of(paths: &[PathBuf]) -> Vec<Option<FileStamp>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).ok().map(|m| FileStamp::of(&m)))
        .collect()
}

/// Groups `candidates` into entries (one per program and driver), reusing from `old` the
/// entry of a program listed under the same names, with what was probed of it.
fn group(candidates: impl IntoIterator<Item = Candidate>, old: &[Arc<Entry>]) -> Vec<Arc<Entry>> {
    /// A program (its real path and whether run as a C++ driver) and its names.
    struct Group {
        real: Option<(PathBuf, bool)>,
        names: Vec<String>,
        path: PathBuf,
    }
    let mut groups: Vec<Group> = Vec::new();
    for c in candidates {
        // One program, run under a name that makes it the same driver (`clang` and
        // `clang++` are one binary but two drivers: see `probe::cxx_driver`).
        let real = std::fs::canonicalize(&c.path)
            .ok()
            .map(|r| (r, cxx_driver(&c.path)));
        if let Some(g) = groups
            .iter_mut()
            .find(|g| g.path == c.path || real.is_some() && g.real == real)
        {
            if !g.names.contains(&c.name) {
                g.names.push(c.name);
            }
            continue;
        }
        groups.push(Group {
            real,
            names: vec![c.name],
            path: c.path,
        });
    }
    groups
        .into_iter()
        .map(|Group { names, path, .. }| {
            old.iter()
                .find(|e| e.path == path && e.names == names)
                .cloned()
                .unwrap_or_else(|| {
                    Arc::new(Entry {
                        names,
                        path,
                        known: Mutex::default(),
                    })
                })
        })
        .collect()
}
