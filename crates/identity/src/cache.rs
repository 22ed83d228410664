//! The on-disk cache of identities (the client's, under `$DISTCC_DIR/identity/`).
//!
//! One file per compiler path (as the caller names it) and compiler proper, named by a hash
//! of both. It holds the identity and the file identity of every link and program it was
//! computed from; a lookup reads it and `stat`s those files, and probes again when any
//! differs, when the file is unreadable or malformed, or when it names another compiler (a
//! hash collision). Written to a temporary name and renamed, so a reader sees a whole file
//! or none. Failing to write it is not an error: the next compile probes again. A miss takes
//! a lock beside the file (`<name>.lock`, fcntl) so concurrent misses probe once.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::probe::{Probed, probe};
use crate::stamp::{FileStamp, Kind, Stamps};
use crate::{Identity, Language, proper_name};

/// First line of a cache file; a different one is a format this version does not read.
const MAGIC: &str = "distcc-identity 1";
/// Most bytes of a cache file read.
const MAX_FILE: u64 = 64 << 10;

/// The cache file for `compiler` and `language` under `dir` (and this process's
/// `GCC_EXEC_PREFIX` and `COMPILER_PATH`), named by a 128-bit FNV-1a hash of them. Not
/// SHA-256: the name has no security role (a file found under it that names another compiler
/// is a miss, see [`decode`]), and a client runs this on every compile, where SHA-256's first
/// use costs its CPU feature probe (`cpuid`, 7 µs each in a virtual machine).
pub fn file_for(dir: &Path, compiler: &Path, language: Language) -> PathBuf {
    let mut h = Fnv128::default();
    h.update(compiler.as_os_str().as_encoded_bytes());
    h.update(&[0]);
    h.update(proper_name(language).as_bytes());
    // gcc's driver looks for its compiler proper there first: another value, perhaps another
    // `cc1`, so another entry.
    for var in ["GCC_EXEC_PREFIX", "COMPILER_PATH"] {
        h.update(&[0]);
        if let Some(v) = std::env::var_os(var) {
            h.update(v.as_encoded_bytes());
        }
    }
    dir.join(format!("{:032x}", h.0))
}

/// FNV-1a, 128 bits.
struct Fnv128(u128);

impl Default for Fnv128 {
    fn default() -> Self {
        Fnv128(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }
}

impl Fnv128 {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self
                .0
                .wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
}

/// The lock file beside a cache file (kept, as 3.4 keeps its lock files).
fn lock_for(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The cached identity when still valid, else a new probe (cached when `dir` is given).
pub fn lookup_or_probe(
    compiler: &Path,
    name: &str,
    language: Language,
    dir: Option<&Path>,
) -> io::Result<Probed> {
    if let Some(dir) = dir {
        let file = file_for(dir, compiler, language);
        if let Some(mut hit) = read(&file, compiler, language).filter(|p| p.stamps.still_valid()) {
            name.clone_into(&mut hit.identity.name);
            return Ok(hit);
        }
        // One probe at a time per compiler and language, across processes: the compiles of
        // a parallel build that all miss at once wait for the first one's answer instead of
        // each hashing the compiler (clang's 160 MB: 0.45 s). fcntl, so a crashed prober
        // holds nothing; without the lock (an unwritable cache) every miss probes.
        let _lock = std::fs::create_dir_all(dir)
            .and_then(|()| os::wake::BlockingLock::acquire(&lock_for(&file)))
            .ok();
        if let Some(mut hit) = read(&file, compiler, language).filter(|p| p.stamps.still_valid()) {
            name.clone_into(&mut hit.identity.name);
            return Ok(hit);
        }
        let probed = probe(compiler, name, language)?;
        let _ = write(dir, &file, compiler, language, &probed);
        return Ok(probed);
    }
    probe(compiler, name, language)
}

fn encode(compiler: &Path, language: Language, p: &Probed) -> Option<String> {
    let path = |p: &Path| {
        let s = p.to_str()?;
        (!s.contains('\n')).then(|| s.to_owned())
    };
    let mut out = format!(
        "{MAGIC}\ncompiler={}\nproper={}\n",
        path(compiler)?,
        proper_name(language)
    );
    out.push_str(std::str::from_utf8(&p.identity.encode()).ok()?);
    for (kind, file, stamp) in &p.stamps.0 {
        let k = match kind {
            Kind::Link => "link",
            Kind::File => "file",
        };
        out.push_str(&format!("{k} {} {}\n", stamp.encode(), path(file)?));
    }
    for prog in &p.programs {
        out.push_str(&format!("program {}\n", path(prog)?));
    }
    Some(out)
}

fn write(
    dir: &Path,
    file: &Path,
    compiler: &Path,
    language: Language,
    p: &Probed,
) -> io::Result<()> {
    let text = encode(compiler, language, p).ok_or_else(|| io::Error::other("unencodable"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp.{}.{}",
        std::process::id(),
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The cache file's identity if it is well formed and for this compiler and language.
fn read(file: &Path, compiler: &Path, language: Language) -> Option<Probed> {
    // Room for a whole cache file (under 1 KB for gcc) at once: one read, not a doubling
    // series of them from 32 bytes, on every compile.
    let mut bytes = Vec::with_capacity(8 << 10);
    std::fs::File::open(file)
        .ok()?
        .take(MAX_FILE)
        .read_to_end(&mut bytes)
        .ok()?;
    decode(std::str::from_utf8(&bytes).ok()?, compiler, language)
}

fn decode(text: &str, compiler: &Path, language: Language) -> Option<Probed> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC
        || lines.next()?.strip_prefix("compiler=")? != compiler.to_str()?
        || lines.next()?.strip_prefix("proper=")? != proper_name(language)
    {
        return None;
    }
    let mut id = String::new();
    for _ in 0..4 {
        id.push_str(lines.next()?);
        id.push('\n');
    }
    let identity = Identity::parse(id.as_bytes()).ok()?;
    let mut stamps = Stamps::default();
    let mut programs = Vec::new();
    for line in lines {
        let (word, rest) = line.split_once(' ')?;
        if word == "program" {
            programs.push(PathBuf::from(rest));
            continue;
        }
        let kind = match word {
            "link" => Kind::Link,
            "file" => Kind::File,
            _ => return None,
        };
        // `dev ino size mtime ctime path`: the path is the rest after five fields.
        let mut cut = rest.splitn(6, ' ');
        let fields: Vec<&str> = cut.by_ref().take(5).collect();
        let path = cut.next()?;
        let stamp = FileStamp::decode(&fields.join(" "))?;
        stamps.0.push((kind, PathBuf::from(path), stamp));
    }
    (!stamps.0.is_empty() && !programs.is_empty()).then_some(Probed {
        identity,
        stamps,
        programs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_fnv1a_128_of_compiler_and_proper() {
        // The published FNV-1a 128 vectors.
        let fnv = |b: &[u8]| {
            let mut h = Fnv128::default();
            h.update(b);
            h.0
        };
        assert_eq!(fnv(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
        let d = Path::new("/d");
        let gcc = file_for(d, Path::new("/usr/bin/gcc"), Language::C);
        assert_eq!(gcc.parent(), Some(d));
        assert_eq!(gcc.file_name().unwrap().len(), 32);
        assert_eq!(gcc, file_for(d, Path::new("/usr/bin/gcc"), Language::C));
        assert_ne!(gcc, file_for(d, Path::new("/usr/bin/gcc"), Language::Cxx));
        assert_ne!(gcc, file_for(d, Path::new("/usr/bin/cc"), Language::C));
    }

    #[test]
    fn cache_text_round_trips_and_refuses_another_compiler() {
        let fp = "cd".repeat(32);
        let p = Probed {
            identity: Identity {
                target: "x86_64-linux-gnu".into(),
                version: "12.2.0".into(),
                fingerprint: fp,
                name: "gcc".into(),
            },
            stamps: Stamps(vec![(
                Kind::File,
                PathBuf::from("/usr/bin/my gcc"),
                FileStamp {
                    dev: 1,
                    ino: 2,
                    size: 3,
                    mtime: (4, 5),
                    ctime: (6, 7),
                },
            )]),
            programs: vec![PathBuf::from("/usr/bin/my gcc")],
        };
        let gcc = Path::new("/usr/bin/gcc");
        let text = encode(gcc, Language::C, &p).unwrap();
        assert_eq!(decode(&text, gcc, Language::C), Some(p.clone()));
        assert_eq!(decode(&text, Path::new("/usr/bin/cc"), Language::C), None);
        assert_eq!(decode(&text, gcc, Language::Cxx), None);
        assert_eq!(decode(&text[..text.len() / 2], gcc, Language::C), None);
        assert_eq!(
            decode(&text.replace("file 1", "bogus 1"), gcc, Language::C),
            None
        );
        assert!(encode(Path::new("/a\nb"), Language::C, &p).is_none());
    }
}
