//! Probing a compiler: which programs run when it compiles a language, and their
//! fingerprint.
//!
//! The driver is asked `-dumpmachine` (the target), `-dumpfullversion` (gcc's `12.2.0`;
//! when it fails or prints nothing, `-dumpversion`, which is clang's full version) and
//! `-print-prog-name=<cc1…>` for the language's compiler proper. gcc answers with an
//! absolute path, which is hashed after the driver; clang answers with the bare name (it
//! compiles in its own process), so the clang binary after links is the only program.
//!
//! The fingerprint is SHA-256 over, for each program in that order, its length as 8 bytes
//! little-endian and then its contents. File identities are taken before the contents are
//! read, so a program replaced while it is hashed is seen as changed at the next look.
//!
//! After the programs come the shared libraries that hold a compiler's own code
//! (`libclang*`, `libLLVM*`, see [`compiler_libraries`]), hashed and stamped the same way.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::stamp::Stamps;
use crate::{Identity, Language, MAX_VALUE, Preprocessed, proper_name};

/// An identity and the file identities it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub identity: Identity,
    pub stamps: Stamps,
    /// The programs hashed, real paths, in order (driver first).
    pub programs: Vec<PathBuf>,
}

/// Longest a probe of the driver may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Probes `compiler` for `language`; `name` becomes the identity's name.
pub fn probe(compiler: &Path, name: &str, language: Language) -> io::Result<Probed> {
    let mut stamps = Stamps::default();
    let driver = stamps.follow(compiler)?;
    let target = ask(compiler, "-dumpmachine")?;
    let version = match ask(compiler, "-dumpfullversion") {
        Ok(v) => v,
        Err(_) => ask(compiler, "-dumpversion")?,
    };
    // A C++ driver compiles C (`.c`, `.i`) as C++ (gcc's manual: g++ treats .c and .i files
    // as C++), so its compiler proper for them is cc1plus.
    let runs_as = match language {
        Language::C | Language::Preprocessed(Preprocessed::C) if cxx_driver(compiler) => {
            Language::Cxx
        }
        other => other,
    };
    let proper = ask(
        compiler,
        &format!("-print-prog-name={}", proper_name(runs_as)),
    )?;
    let mut programs = vec![driver];
    if proper.starts_with('/') {
        programs.push(stamps.follow(Path::new(&proper))?);
    }
    for lib in compiler_libraries(&programs) {
        let real = stamps.follow(&lib)?;
        if !programs.contains(&real) {
            programs.push(real);
        }
    }
    let fingerprint = fingerprint(&programs, cxx_driver(compiler))?;
    let mut name: String = name.chars().filter(|c| !c.is_control()).collect();
    if name.is_empty() {
        name.push('?');
    }
    while name.len() > MAX_VALUE {
        name.pop();
    }
    Ok(Probed {
        identity: Identity {
            target,
            version,
            fingerprint,
            name,
        },
        stamps,
        programs,
    })
}

/// The shared libraries that hold a compiler's own code: clang's driver is a small program
/// whose compiler is `libclang-cpp` and `libLLVM` (Debian's clang-14: 141 KB of binary, 110 MB
/// of `libLLVM-14.so.1`). Found as the loader finds them, by `ldd` (a static program has
/// none). System libraries (libc, libstdc++, gmp…) are left out on purpose: a host with another
/// patch level of those still runs the same compiler.
fn compiler_libraries(programs: &[PathBuf]) -> Vec<PathBuf> {
    let ldd = if Path::new("/usr/bin/ldd").exists() {
        "/usr/bin/ldd"
    } else {
        "ldd"
    };
    let mut found = Vec::new();
    for p in programs {
        let Ok(out) = os::process::Command::new(ldd)
            .arg(p)
            .stdout(os::process::Output::Capture { limit: 64 << 10 })
            .timeout(PROBE_TIMEOUT)
            .run()
        else {
            continue;
        };
        if !out.success() {
            continue;
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // `\tlibLLVM-14.so.1 => /lib/x86_64-linux-gnu/libLLVM-14.so.1 (0x…)`
            let Some((name, rest)) = line.trim().split_once(" => ") else {
                continue;
            };
            let path = rest.rsplit_once(" (").map_or(rest, |(p, _)| p);
            if (name.starts_with("libLLVM") || name.starts_with("libclang"))
                && path.starts_with('/')
            {
                let path = PathBuf::from(path);
                if !found.contains(&path) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// Runs `compiler arg` and returns its one line of output, which must be a plain value.
fn ask(compiler: &Path, arg: &str) -> io::Result<String> {
    let out = os::process::Command::new(compiler)
        .arg(arg)
        .stdout(os::process::Output::Capture { limit: 4096 })
        .timeout(PROBE_TIMEOUT)
        .run()?;
    let bad = |why: &str| {
        io::Error::other(format!(
            "cannot identify compiler {}: `{} {arg}` {why}",
            compiler.display(),
            compiler.display()
        ))
    };
    if !out.success() {
        return Err(bad(&format!("failed (wait status {:#x})", out.status)));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| bad("printed no text"))?;
    let value = text.trim();
    if value.is_empty()
        || value.len() > MAX_VALUE
        || value.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(bad(&format!("printed {value:?}")));
    }
    Ok(value.to_owned())
}

/// True when the driver runs as a C++ driver because of the name it is run under:
/// `clang++` is a link to `clang`, one binary whose argv[0] decides whether `x.c` is C or
/// C++ (pump mode sends sources under their own names). gcc's C++ driver is a binary of its
/// own, but the rule is the same for all: a file name containing `++`.
pub fn cxx_driver(compiler: &Path) -> bool {
    compiler
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().windows(2).any(|w| w == b"++"))
}

/// Hex SHA-256 over each program's length (8 bytes, little-endian) and contents, then, for a
/// driver run as a C++ driver ([`cxx_driver`]), the 10 bytes `driver=c++`.
pub fn fingerprint(programs: &[PathBuf], cxx: bool) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    for p in programs {
        let mut f = std::fs::File::open(p)?;
        let len = f.metadata()?.len();
        h.update(len.to_le_bytes());
        let mut seen = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            seen += n as u64;
            h.update(&buf[..n]);
        }
        if seen != len {
            return Err(io::Error::other(format!(
                "{} changed while it was read",
                p.display()
            )));
        }
    }
    if cxx {
        h.update(b"driver=c++");
    }
    Ok(h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have(p: &str) -> bool {
        let ok = Path::new(p).exists();
        assert!(
            ok || std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and {p} is missing"
        );
        ok
    }

    #[test]
    fn clang_is_its_binary_and_llvm_libraries_gcc_its_driver_and_cc1() {
        if have("/usr/bin/clang") {
            let p = probe(Path::new("/usr/bin/clang"), "clang", Language::C).unwrap();
            let names: Vec<String> = p
                .programs
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert!(names[0].starts_with("clang"), "{names:?}");
            assert!(names.iter().any(|n| n.starts_with("libLLVM")), "{names:?}");
            assert!(!names.iter().any(|n| n.starts_with("libc.")), "{names:?}");
        }
        if have("/usr/bin/g++-12") {
            // g++ compiles a .c file as C++: with cc1plus.
            let p = probe(Path::new("/usr/bin/g++-12"), "g++-12", Language::C).unwrap();
            assert!(p.programs[1].ends_with("cc1plus"), "{:?}", p.programs);
        }
        if have("/usr/bin/gcc-12") {
            let p = probe(Path::new("/usr/bin/gcc-12"), "gcc-12", Language::Cxx).unwrap();
            assert_eq!(p.programs.len(), 2, "{:?}", p.programs);
            assert!(p.programs[1].ends_with("cc1plus"));
            // Links on the way are stamped: gcc-12 -> x86_64-linux-gnu-gcc-12.
            assert!(p.stamps.0.len() >= 3, "{:?}", p.stamps);
        }
    }
}
