//! Identities of real compilers (gcc-12, gcc-11, clang) and of a scripted stand-in whose
//! probes can be counted and whose files can be changed. Under `CI=true` a missing compiler
//! fails the test instead of skipping it (`scripts/install-deps.sh` installs them).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Instant;

use distcc_identity::{Candidate, Identity, Index, Language, Preprocessed};

fn require(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| !Path::new("/usr/bin").join(t).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and required compilers are missing: {missing:?}"
    );
    eprintln!("skipping: missing {missing:?}");
    false
}

fn tmp() -> os::tempdir::TempDir {
    os::tempdir::TempDir::new("identity-test-").unwrap()
}

fn client(compiler: &str, language: Language, cache: &Path) -> Identity {
    Identity::for_client(Path::new(compiler), language, cache)
        .unwrap_or_else(|e| panic!("{compiler}: {e}"))
}

#[test]
fn different_compilers_have_different_fingerprints() {
    if !require(&["gcc-12", "gcc-11", "clang"]) {
        return;
    }
    let t = tmp();
    // Timed, for the report: a probe is what a cache miss costs (no assertion on time).
    let timed = |compiler: &str, language| {
        let started = Instant::now();
        let id = client(compiler, language, t.path());
        println!(
            "probe {id} ({language:?}): {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        id
    };
    let g12 = timed("/usr/bin/gcc-12", Language::C);
    let g11 = timed("/usr/bin/gcc-11", Language::C);
    let clang = timed("/usr/bin/clang", Language::C);
    timed("/usr/bin/g++-12", Language::Cxx);
    assert_eq!(g12.version, "12.2.0");
    assert!(g11.version.starts_with("11."), "{g11}");
    assert!(clang.version.starts_with("14."), "{clang}");
    assert_eq!(g12.target, "x86_64-linux-gnu");
    assert!(!g12.matches(&g11) && !g12.matches(&clang) && !g11.matches(&clang));
    // gcc runs another compiler proper for C++: another fingerprint; clang runs itself.
    let g12xx = client("/usr/bin/g++-12", Language::Cxx, t.path());
    assert!(!g12xx.matches(&client("/usr/bin/gcc-12", Language::Cxx, t.path())));
    let gcc_cxx = client("/usr/bin/gcc-12", Language::Cxx, t.path());
    assert!(!gcc_cxx.matches(&client("/usr/bin/gcc-12", Language::C, t.path())));
    // g++ compiles C sources as C++: the same programs either way.
    assert!(g12xx.matches(&client("/usr/bin/g++-12", Language::C, t.path())));
    // clang++ is a link to clang, but another driver (argv[0] makes `x.c` C++): another
    // identity; clang's C and C++ are one program.
    let clangxx = client("/usr/bin/clang++", Language::Cxx, t.path());
    assert!(!clangxx.matches(&client("/usr/bin/clang", Language::Cxx, t.path())));
    assert!(clangxx.matches(&client("/usr/bin/clang++", Language::C, t.path())));
}

#[test]
fn the_same_compiler_under_another_name_is_the_same() {
    if !require(&["gcc-12", "x86_64-linux-gnu-gcc-12"]) {
        return;
    }
    let t = tmp();
    let link = t.path().join("my-cc");
    symlink("/usr/bin/gcc-12", &link).unwrap();
    let names = [
        "/usr/bin/gcc",
        "/usr/bin/gcc-12",
        "/usr/bin/x86_64-linux-gnu-gcc-12",
    ];
    let base = client(names[0], Language::Cxx, t.path());
    for n in names.iter().copied().chain([link.to_str().unwrap()]) {
        let id = client(n, Language::Cxx, t.path());
        assert!(base.matches(&id), "{base} / {id}");
        assert_eq!(id.name, Path::new(n).file_name().unwrap().to_str().unwrap());
        // A preprocessed C++ source runs the same programs.
        let ii = client(n, Language::Preprocessed(Preprocessed::Cxx), t.path());
        assert!(id.matches(&ii));
    }
}

/// A stand-in compiler: a script that answers the probes as gcc does, names `cc1` beside it
/// as its compiler proper, and counts its runs in `runs`.
struct Fake {
    dir: os::tempdir::TempDir,
}

impl Fake {
    fn new(version: &str) -> Fake {
        let dir = tmp();
        let f = Fake { dir };
        f.write_driver(version);
        std::fs::write(f.cc1(), "cc1 one").unwrap();
        f
    }

    fn driver(&self) -> PathBuf {
        self.dir.path().join("fakecc")
    }

    fn cc1(&self) -> PathBuf {
        self.dir.path().join("cc1")
    }

    fn write_driver(&self, version: &str) {
        let script = format!(
            "#!/bin/sh\necho x >> '{d}/runs'\n[ -z \"$FAKE_SLEEP\" ] || sleep \"$FAKE_SLEEP\"\ncase \"$1\" in\n\
             -dumpmachine) echo fake-linux-gnu;;\n\
             -dumpfullversion) echo {version};;\n\
             -print-prog-name=cc1) echo '{d}/cc1';;\n\
             *) echo \"$1\";;\nesac\n",
            d = self.dir.path().display()
        );
        let tmp = self.dir.path().join("fakecc.new");
        std::fs::write(&tmp, script).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&tmp, self.driver()).unwrap();
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("runs"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

#[test]
fn a_cache_hit_runs_nothing_and_a_changed_file_is_probed_again() {
    let fake = Fake::new("1.0");
    let cache = tmp();
    let driver = fake.driver();
    let first = Identity::for_client(&driver, Language::C, cache.path()).unwrap();
    assert_eq!(first.version, "1.0");
    assert_eq!(first.target, "fake-linux-gnu");
    assert_eq!(
        fake.runs(),
        3,
        "-dumpmachine, -dumpfullversion, -print-prog-name"
    );
    // Hits: the same identity, no run. Timed, for the report (no assertion on time).
    let n = 2000;
    let started = Instant::now();
    for _ in 0..n {
        let again = Identity::for_client(&driver, Language::C, cache.path()).unwrap();
        assert_eq!(again, first);
    }
    println!(
        "cache hit: {:.1} us per lookup (mean of {n})",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    assert_eq!(fake.runs(), 3);
    // Another language is another cache entry (another compiler proper).
    Identity::for_client(&driver, Language::Cxx, cache.path()).unwrap();
    assert_eq!(fake.runs(), 6);
    // The compiler proper changes (same size, so only mtime/ctime/inode tell): probed again,
    // and the fingerprint follows the contents.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let new_cc1 = fake.dir.path().join("cc1.new");
    std::fs::write(&new_cc1, "cc1 two").unwrap();
    std::fs::rename(&new_cc1, fake.cc1()).unwrap();
    let second = Identity::for_client(&driver, Language::C, cache.path()).unwrap();
    assert_eq!(fake.runs(), 9);
    assert!(!second.matches(&first));
    // The driver changes: probed again.
    fake.write_driver("2.0");
    let third = Identity::for_client(&driver, Language::C, cache.path()).unwrap();
    assert_eq!(third.version, "2.0");
    assert_eq!(fake.runs(), 12);
    assert!(!third.matches(&second));
    // A link re-pointed to another compiler (an alternatives switch) is a change too.
    let other = Fake::new("3.0");
    let link = cache.path().join("cc");
    symlink(&driver, &link).unwrap();
    let via_link = Identity::for_client(&link, Language::C, cache.path()).unwrap();
    assert!(via_link.matches(&third));
    std::fs::remove_file(&link).unwrap();
    symlink(other.driver(), &link).unwrap();
    let switched = Identity::for_client(&link, Language::C, cache.path()).unwrap();
    assert_eq!(switched.version, "3.0");
}

#[test]
fn a_corrupt_cache_file_is_probed_again() {
    let fake = Fake::new("1.0");
    let cache = tmp();
    let id = Identity::for_client(&fake.driver(), Language::C, cache.path()).unwrap();
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replace("fingerprint=", "fingerprint=zz")).unwrap();
    }
    assert_eq!(
        Identity::for_client(&fake.driver(), Language::C, cache.path()).unwrap(),
        id
    );
    assert_eq!(fake.runs(), 6);
    // An unwritable cache costs a probe per call, never a failure.
    let missing = Path::new("/proc/nonexistent/identity");
    assert_eq!(
        Identity::for_client(&fake.driver(), Language::C, missing).unwrap(),
        id
    );
}

#[test]
fn a_program_that_is_no_compiler_has_no_identity() {
    let cache = tmp();
    let err = Identity::for_client(Path::new("/bin/false"), Language::C, cache.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot identify compiler /bin/false"),
        "{err}"
    );
    assert!(
        Identity::for_client(Path::new("/nonexistent/gcc"), Language::C, cache.path()).is_err()
    );
}

fn cand(name: &str, path: impl Into<PathBuf>) -> Candidate {
    Candidate {
        name: name.into(),
        path: path.into(),
    }
}

#[test]
fn the_index_finds_the_clients_compiler_by_identity_whatever_its_name() {
    if !require(&["gcc-12", "gcc-11", "clang", "x86_64-linux-gnu-gcc-12"]) {
        return;
    }
    let t = tmp();
    // This host's `gcc` is gcc-11; gcc-12 is there only under its full name.
    let gcc = t.path().join("gcc");
    symlink("/usr/bin/gcc-11", &gcc).unwrap();
    // And so is its `cc`: another name of the same program, merged into gcc's entry.
    let cc = t.path().join("cc");
    symlink("/usr/bin/gcc-11", &cc).unwrap();
    let index = Index::build([
        cand("gcc", &gcc),
        cand("cc", &cc),
        cand(
            "x86_64-linux-gnu-gcc-12",
            "/usr/bin/x86_64-linux-gnu-gcc-12",
        ),
        cand("gcc-12", "/usr/bin/gcc-12"),
        cand("clang", "/usr/bin/clang"),
        cand("clang-14", "/usr/bin/clang-14"),
        cand("clang++", "/usr/bin/clang++"),
    ]);
    // Names of one program and driver are merged; clang++ is another driver.
    assert_eq!(index.len(), 4);
    let g12 = client("/usr/bin/gcc", Language::C, t.path());
    assert_eq!(
        index.find(&g12, Language::C).unwrap(),
        PathBuf::from("/usr/bin/x86_64-linux-gnu-gcc-12")
    );
    let clang = client("/usr/bin/clang", Language::C, t.path());
    assert_eq!(
        index.find(&clang, Language::C).unwrap(),
        PathBuf::from("/usr/bin/clang")
    );
    let g11 = client("/usr/bin/gcc-11", Language::C, t.path());
    assert_eq!(index.find(&g11, Language::C).unwrap(), gcc);
    // What a program in the index is (what a 1-3 job by name would run).
    let ran = index.identify(&gcc, Language::C).unwrap();
    assert!(ran.matches(&g11) && !ran.matches(&g12));
    // By another name of the same entry (what `resolve` gives for `cc`).
    let ran = index.identify(&cc, Language::C).unwrap();
    assert!(ran.matches(&g11) && !ran.matches(&g12));
    assert_eq!(
        index.identify(Path::new("/usr/bin/true"), Language::C),
        None
    );
    let clangxx = client("/usr/bin/clang++", Language::Cxx, t.path());
    assert_eq!(
        index.find(&clangxx, Language::Cxx).unwrap(),
        PathBuf::from("/usr/bin/clang++")
    );

    // A host with only gcc-11: refused, naming both sides.
    let only11 = Index::build([cand("gcc", &gcc)]);
    let m = only11.find(&g12, Language::C).unwrap_err();
    let text = m.to_string();
    println!("{text}");
    assert!(text.contains(&g12.describe()), "{text}");
    assert!(
        text.contains(&format!("gcc {} x86_64-linux-gnu sha256:", g11.version)),
        "{text}"
    );
    assert!(text.len() < 4096);
    // Same fingerprint, other target: not the same compiler.
    let mut cross = g11.clone();
    cross.target = "aarch64-linux-gnu".into();
    assert!(only11.find(&cross, Language::C).is_err());
    // No compiler for the language at all.
    let none = Index::build([cand("false", "/bin/false")]);
    let text = none.find(&g12, Language::Cxx).unwrap_err().to_string();
    assert!(
        text.ends_with("this host has no allow-listed compiler for C++"),
        "{text}"
    );
}

#[test]
fn the_index_checks_a_program_again_before_running_it() {
    let fake = Fake::new("1.0");
    let cache = tmp();
    let index = Index::build([cand("fakecc", fake.driver())]);
    let wanted = Identity::for_client(&fake.driver(), Language::C, cache.path()).unwrap();
    assert_eq!(index.find(&wanted, Language::C).unwrap(), fake.driver());
    let runs = fake.runs();
    assert_eq!(index.find(&wanted, Language::C).unwrap(), fake.driver());
    assert_eq!(fake.runs(), runs, "known and unchanged: no probe");
    // Upgraded under the daemon's feet: found changed, probed again, no longer a match.
    std::fs::write(fake.cc1(), "cc1 upgraded").unwrap();
    let m = index.find(&wanted, Language::C).unwrap_err();
    assert_eq!(fake.runs(), runs + 3);
    assert_eq!(m.have.len(), 1);
    assert_eq!(m.have[0].1, ["fakecc"]);
}

/// Run as a child by `concurrent_misses_probe_once`: one lookup, then exit.
#[test]
fn child_lookup() {
    let (Some(driver), Some(cache)) = (
        std::env::var_os("IDENTITY_TEST_DRIVER"),
        std::env::var_os("IDENTITY_TEST_CACHE"),
    ) else {
        return;
    };
    Identity::for_client(Path::new(&driver), Language::C, Path::new(&cache)).unwrap();
}

#[test]
fn concurrent_misses_probe_once() {
    let fake = Fake::new("1.0");
    // Each probe takes a while, so the children overlap.
    let slow = fake.dir.path().join("slow");
    std::fs::write(&slow, "").unwrap();
    let cache = tmp();
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&me)
                .args(["--exact", "child_lookup", "--test-threads=1"])
                .env("IDENTITY_TEST_DRIVER", fake.driver())
                .env("IDENTITY_TEST_CACHE", cache.path())
                .env("FAKE_SLEEP", "0.3")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(fake.runs(), 3, "one probe for four processes");
}

#[test]
fn a_listing_index_sees_compilers_listed_after_it_was_built() {
    let listed = tmp();
    let a = Fake::new("1.0");
    let b = Fake::new("2.0");
    let dir = listed.path().to_path_buf();
    // The candidates: every link in `dir`, as the daemon lists its allow-list directory.
    let source = move || {
        let mut c: Vec<Candidate> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                cand(&p.file_name().unwrap().to_string_lossy(), p.clone())
            })
            .collect();
        c.sort_by(|x, y| x.name.cmp(&y.name));
        c
    };
    symlink(a.driver(), listed.path().join("a")).unwrap();
    let index = Index::listing(Box::new(source), vec![listed.path().to_path_buf()]);
    assert_eq!(index.len(), 1);
    let cache = tmp();
    let want_b = Identity::for_client(&b.driver(), Language::C, cache.path()).unwrap();
    let want_a = Identity::for_client(&a.driver(), Language::C, cache.path()).unwrap();
    assert!(index.find(&want_b, Language::C).is_err());
    // Listed now: the directory changed, so the next find lists again and finds it.
    symlink(b.driver(), listed.path().join("b")).unwrap();
    assert_eq!(
        index.find(&want_b, Language::C).unwrap(),
        listed.path().join("b")
    );
    assert_eq!(index.len(), 2);
    // What was probed of `a` was kept: no new probe for it.
    let runs = a.runs();
    assert_eq!(
        index.find(&want_a, Language::C).unwrap(),
        listed.path().join("a")
    );
    assert_eq!(a.runs(), runs);
}
