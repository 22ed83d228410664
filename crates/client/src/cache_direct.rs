//! Direct mode of the result cache (`DISTCC_CACHE_DIRECT=1`, off by default): a hit without
//! running the preprocessor, as ccache's direct mode.
//!
//! A *manifest*, stored in the same store under a key of its own (the compiler identity, the
//! working directory, the whole command line, the include-path environment and the main
//! source's contents), lists every file the preprocessor read (from the line markers of its
//! output) with the SHA-256 of its contents, the result key, and the `.d` file the
//! preprocessor wrote. A lookup hashes those files again: all equal, the result is replayed
//! and the `.d` written; anything else is a miss and the usual route runs.
//!
//! Not made (counted nowhere, the plain cache still works): when any of those files uses
//! `__DATE__`/`__TIME__`/`__TIMESTAMP__` (the expansion is not in a manifest's key), or was
//! changed in the last two seconds (it may have changed while the preprocessor read it).
//! Known hole, as in ccache's direct mode: a header created later in an earlier directory of
//! the include path, which would now shadow a listed one, is not noticed; hence off by default.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cache::key::{Builder, Mode};
use cache::{Entry, Found, Key, Store};
use sha2::{Digest, Sha256};

/// Most files one manifest lists.
const MAX_FILES: usize = 100_000;

/// The include-path environment the preprocessor reads.
const ENV: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "SOURCE_DATE_EPOCH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
];

/// The manifest key of `job` (`None` when the main source cannot be read).
pub fn manifest_key(id: &identity::Identity, job: &args::Job, cwd: &Path) -> Option<Key> {
    let source = std::fs::read(&job.input).ok()?;
    let argv: Vec<&[u8]> = job.argv.iter().map(|a| a.as_encoded_bytes()).collect();
    let mut env = Vec::new();
    for k in ENV {
        env.extend_from_slice(k.as_bytes());
        env.push(b'=');
        if let Some(v) = std::env::var_os(k) {
            env.extend_from_slice(v.as_encoded_bytes());
        }
        env.push(0);
    }
    let whole: Vec<u8> = argv.join(&0u8);
    Some(
        Builder::new(&id.fingerprint, &id.target, Mode::Plain, &argv[..1])
            .cwd(cwd.as_os_str().as_encoded_bytes())
            .file(b"direct-mode argv", &whole)
            .file(b"direct-mode env", &env)
            .source(&source)
            .finish(),
    )
}

/// A file's identity: device, inode, size, mtime and ctime (ns). Equal identity means equal
/// contents (any write changes ctime), which spares hashing unchanged headers on every lookup,
/// as ccache's inode cache does; a different identity means hashing the contents again.
type Stamp = [u64; 5];

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let ns = |s: i64, n: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(n as u64)
    };
    [
        meta.dev(),
        meta.ino(),
        meta.size(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    ]
}

/// What a manifest says.
struct Manifest {
    files: Vec<(PathBuf, [u8; 32], Stamp)>,
    result: Key,
    dotd: Option<Vec<u8>>,
}

fn encode(m: &Manifest) -> Entry {
    let mut body = Vec::new();
    for (p, h, st) in &m.files {
        let b = p.as_os_str().as_encoded_bytes();
        body.extend_from_slice(&(b.len() as u32).to_le_bytes());
        body.extend_from_slice(b);
        body.extend_from_slice(h);
        for v in st {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    Entry {
        status: 0,
        object: body,
        dotd: m.dotd.clone(),
        stderr: Vec::new(),
        stdout: m.result.0.to_vec(),
    }
}

fn decode(e: Entry) -> Option<Manifest> {
    let result = Key(e.stdout.as_slice().try_into().ok()?);
    let mut files = Vec::new();
    let mut rest = e.object.as_slice();
    while !rest.is_empty() {
        if files.len() >= MAX_FILES || rest.len() < 4 {
            return None;
        }
        let n = u32::from_le_bytes(rest[..4].try_into().ok()?) as usize;
        rest = &rest[4..];
        if rest.len() < n.checked_add(32 + 40)? {
            return None;
        }
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(&rest[..n]));
        let hash: [u8; 32] = rest[n..n + 32].try_into().ok()?;
        let mut st = [0u64; 5];
        for (i, v) in st.iter_mut().enumerate() {
            let at = n + 32 + 8 * i;
            *v = u64::from_le_bytes(rest[at..at + 8].try_into().ok()?);
        }
        files.push((path, hash, st));
        rest = &rest[n + 32 + 40..];
    }
    Some(Manifest {
        files,
        result,
        dotd: e.dotd,
    })
}

fn hash_file(p: &Path) -> Option<[u8; 32]> {
    let bytes = std::fs::read(p).ok()?;
    Some(Sha256::digest(&bytes).into())
}

/// The result a manifest under `key` leads to, if every file it lists is unchanged: the
/// entry and the `.d` text to write.
pub fn lookup(store: &Store, key: &Key) -> Option<(Entry, Option<Vec<u8>>)> {
    let Found::Hit(e) = store.get(key) else {
        return None;
    };
    let m = decode(e)?;
    for (p, h, st) in &m.files {
        let meta = std::fs::metadata(p).ok()?;
        if stamp(&meta) != *st && hash_file(p)? != *h {
            return None;
        }
    }
    match store.get(&m.result) {
        Found::Hit(e) if e.status == 0 => Some((e, m.dotd)),
        _ => None,
    }
}

/// The files a preprocessed text names in its line markers (`# 12 "path" …`), in order,
/// each once; `<built-in>` and `<command-line>` left out.
pub fn included_files(text: &[u8]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let Some(rest) = line.strip_prefix(b"# ") else {
            continue;
        };
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            continue;
        }
        let Some(quoted) = rest[digits..].strip_prefix(b" \"") else {
            continue;
        };
        let mut name = Vec::new();
        let mut it = quoted.iter();
        let mut closed = false;
        while let Some(&b) = it.next() {
            match b {
                b'\\' => match it.next() {
                    Some(&c) => name.push(c),
                    None => break,
                },
                b'"' => {
                    closed = true;
                    break;
                }
                _ => name.push(b),
            }
        }
        if !closed || name.first() == Some(&b'<') || !seen.insert(name.clone()) {
            continue;
        }
        out.push(PathBuf::from(std::ffi::OsStr::from_bytes(&name)));
    }
    out
}

/// Stores the manifest of a compile whose preprocessed `text` led to `result`, with the
/// `.d` file at `dotd_path` (when the compile wrote one). `started`: when the compile began
/// (files changed after it are not trusted). Returns why not, when it is not stored.
pub fn store_manifest(
    store: &Store,
    key: &Key,
    result: &Key,
    text: &[u8],
    dotd_path: Option<&Path>,
    started: SystemTime,
) -> Result<(), &'static str> {
    let mut files = Vec::new();
    let recent = started - Duration::from_secs(2);
    for p in included_files(text) {
        let bytes = std::fs::read(&p).map_err(|_| "an included file cannot be read")?;
        if cache::rules::text(&bytes).is_some() {
            return Err("an included file uses __DATE__, __TIME__ or __TIMESTAMP__");
        }
        let meta = std::fs::metadata(&p).map_err(|_| "an included file cannot be read")?;
        let changed = meta.modified().unwrap_or(SystemTime::now());
        if changed > recent {
            return Err("an included file changed during the compile");
        }
        // Read after the contents: a write in between changes ctime, and the stamp then
        // fails to match next time (a hash, not a wrong hit).
        files.push((p, Sha256::digest(&bytes).into(), stamp(&meta)));
    }
    let dotd = match dotd_path {
        Some(p) => Some(std::fs::read(p).map_err(|_| "the dependency file cannot be read")?),
        None => None,
    };
    let m = Manifest {
        files,
        result: *result,
        dotd,
    };
    store
        .put(key, &encode(&m))
        .map_err(|_| "the manifest cannot be written")
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_markers_name_the_files() {
        let text = b"# 0 \"a.c\"\n# 0 \"<built-in>\"\n# 1 \"/usr/include/stdio.h\" 1 3 4\nint x;\n# 2 \"dir/q\\\"x.h\" 2\n# 5 \"a.c\" 2\n#pragma once\n";
        let got = included_files(text);
        assert_eq!(
            got,
            vec![
                PathBuf::from("a.c"),
                PathBuf::from("/usr/include/stdio.h"),
                PathBuf::from("dir/q\"x.h")
            ]
        );
    }

    #[test]
    fn manifests_round_trip_and_notice_a_changed_file() {
        let t = os::tempdir::TempDir::new("cache-direct-").unwrap();
        let store = Store::new(t.path().join("c"), 1 << 20);
        let h = t.path().join("h.h");
        std::fs::write(&h, "int h;\n").unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        let age = || {
            std::fs::File::options()
                .write(true)
                .open(&h)
                .unwrap()
                .set_modified(old)
                .unwrap()
        };
        age();
        let result = cache::key::plain("f", "t", &["gcc"], b"x");
        store
            .put(
                &result,
                &Entry {
                    object: b"obj".to_vec(),
                    ..Entry::default()
                },
            )
            .unwrap();
        let text = format!("# 1 \"{}\"\nint h;\n", h.display());
        let key = cache::key::plain("f", "t", &["manifest"], b"y");
        let store_now = || {
            store_manifest(
                &store,
                &key,
                &result,
                text.as_bytes(),
                None,
                SystemTime::now(),
            )
        };
        store_now().unwrap();
        let (e, dotd) = lookup(&store, &key).unwrap();
        assert_eq!(e.object, b"obj");
        assert_eq!(dotd, None);
        std::fs::write(&h, "int g;\n").unwrap();
        assert!(lookup(&store, &key).is_none());
        // Recently changed: no manifest.
        assert!(store_now().is_err());
        std::fs::write(&h, "const char *d = __DATE__;\n").unwrap();
        age();
        assert_eq!(
            store_now(),
            Err("an included file uses __DATE__, __TIME__ or __TIMESTAMP__")
        );
    }
}
