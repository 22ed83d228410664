//! The daemon's side: every allow-listed compiler, found by identity whatever its name.
//!
//! [`Index::build`] takes the allow-listed compilers (the daemon's `compiler` module lists
//! them) and merges names that are the same program after links (`cc`, `gcc`, `gcc-12`,
//! `x86_64-linux-gnu-gcc-12` on Debian). It runs nothing: identities are probed lazily, per
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
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cache::lookup_or_probe;
use crate::probe::Probed;
use crate::stamp::Stamps;
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

/// The allow-listed compilers of a daemon, by identity.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Entry>,
    cache_dir: Option<PathBuf>,
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
    /// one it is shown and probed under). Candidates that are the same file after links
    /// become one entry with several names. Runs no program.
    pub fn build(candidates: impl IntoIterator<Item = Candidate>) -> Index {
        let mut entries: Vec<(Option<PathBuf>, Entry)> = Vec::new();
        for c in candidates {
            let real = std::fs::canonicalize(&c.path).ok();
            if let Some(e) = entries
                .iter_mut()
                .find(|(r, e)| e.path == c.path || real.is_some() && *r == real)
            {
                if !e.1.names.contains(&c.name) {
                    e.1.names.push(c.name);
                }
                continue;
            }
            entries.push((
                real,
                Entry {
                    names: vec![c.name],
                    path: c.path,
                    known: Mutex::default(),
                },
            ));
        }
        Index {
            entries: entries.into_iter().map(|(_, e)| e).collect(),
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
    pub fn compilers(&self) -> impl Iterator<Item = (&Path, &[String])> {
        self.entries
            .iter()
            .map(|e| (e.path.as_path(), e.names.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The program whose identity for `language` matches `wanted`: the entry named as the
    /// client names its compiler first, then the others in order. Its files' identities are
    /// checked just before it is returned. `Mismatch` lists what this host has.
    pub fn find(&self, wanted: &Identity, language: Language) -> Result<PathBuf, Box<Mismatch>> {
        let named = self
            .entries
            .iter()
            .filter(|e| e.names.contains(&wanted.name));
        let others = self
            .entries
            .iter()
            .filter(|e| !e.names.contains(&wanted.name));
        for e in named.chain(others) {
            if let Ok(p) = self.identity_of(e, language)
                && p.identity.matches(wanted)
            {
                return Ok(e.path.clone());
            }
        }
        let mut have: Vec<(Identity, Vec<String>)> = Vec::new();
        for e in &self.entries {
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

    /// Every program's identity for `language`, probing those not yet known (for the
    /// daemon's log and stats; `find` probes only as far as it must).
    pub fn identities(&self, language: Language) -> Vec<(PathBuf, Result<Identity, String>)> {
        self.entries
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
