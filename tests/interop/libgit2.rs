//! libgit2 (a real 200-file C library, from ../shared/corpus) built through distcc: every object
//! and every `.d` file must be byte-identical to a local build in the same directory.
//!
//! Covered pairs: Debian's 3.4 client against our daemon (Release and Debug, protocols 1 and
//! 2), our client against 3.4's daemon (protocols 1 and 2) and against ours (protocol 1 as a
//! launcher, protocol 2 as `cc` in a masquerade directory first on PATH). Debug objects of
//! 3.4's client are compared with 3.4's own distributed build (see `debug_reference` for why
//! a local `-g` build cannot be the reference for what 3.4's client sends; our client with
//! our daemon matches the local build: debug_info.rs). Builds run one at a time: the machine has two cores, and
//! the reference build of a build type is shared by every test of that type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::support::{Daemon, Impl, TempDir, require};

pub(crate) use crate::corpus::libgit2_source;

/// How a build reaches distcc. cmake's `CMAKE_C_COMPILER_LAUNCHER` is a script that gets
/// `/usr/bin/cc …`; with neither variable set it runs the compiler directly (the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The script runs `$LAUNCH /usr/bin/cc …`, as `CMAKE_C_COMPILER_LAUNCHER=distcc` does.
    Launcher,
    /// The script drops `/usr/bin/cc`, puts `$MASQ` first on PATH and runs plain `cc`: a
    /// masquerade directory whose `cc` is a symlink to distcc, as `/usr/lib/distcc` is used.
    Masquerade,
}

/// The launcher script shared by both ways.
const LAUNCH_SCRIPT: &str = "#!/bin/sh
if [ -n \"$MASQ\" ]; then shift; PATH=\"$MASQ:$PATH\"; exec cc \"$@\"; fi
exec $LAUNCH \"$@\"
";

/// A configured libgit2 build directory and its reference outputs. It lives under cargo's
/// per-target temp dir rather than /tmp: trees are shared by tests for the life of the
/// process, which never drops statics, so each run reuses (and cleans) the same path.
struct Tree {
    dir: PathBuf,
    reference: BTreeMap<PathBuf, Vec<u8>>,
}

impl Tree {
    fn build_dir(&self) -> PathBuf {
        self.dir.join("build")
    }
}

/// Only one libgit2 build runs at a time.
pub(crate) fn build_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn trees() -> &'static Mutex<BTreeMap<&'static str, &'static Tree>> {
    static TREES: OnceLock<Mutex<BTreeMap<&'static str, &'static Tree>>> = OnceLock::new();
    TREES.get_or_init(Default::default)
}

/// The configured tree for `build_type`, with its reference build done.
fn tree(source: &Path, build_type: &'static str) -> &'static Tree {
    let mut trees = trees().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = trees.get(build_type) {
        return t;
    }
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("libgit2-{build_type}").to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    configure(source, &dir, build_type, LAUNCH_SCRIPT);
    let mut tree = Tree {
        dir,
        reference: BTreeMap::new(),
    };
    make(&tree, &[("LAUNCH", ""), ("MASQ", "")], 2);
    tree.reference = outputs(&tree.build_dir());
    if build_type == "Debug" {
        tree.reference = debug_reference(&tree);
    }
    assert!(
        tree.reference.keys().filter(|p| is_object(p)).count() > 150,
        "the reference build made too few objects"
    );
    let tree: &'static Tree = Box::leak(Box::new(tree));
    trees.insert(build_type, tree);
    tree
}

/// With `-g`, no client that sends fully preprocessed source (3.4's; ours without
/// `DISTCC_IDENTICAL_DEBUG`) can match a local build byte for
/// byte: gcc's line table records columns of the macro-expanded text (`f(VALUE)` locally,
/// `f(42)` on the server), and at `-O0` those locations even move code (a `jmp` lands one byte
/// further in libgit2's `pcre2_convert.c`). That is in the bytes 3.4's client sends, so no
/// daemon can undo it; 3.4's own daemon produces exactly those objects. For Debug trees the
/// reference objects are therefore the build through 3.4's client and 3.4's daemon, while the
/// `.d` files must still equal the local build's.
fn debug_reference(tree: &Tree) -> BTreeMap<PathBuf, Vec<u8>> {
    let daemon = Daemon::start(Impl::Distcc34, 4);
    let state = TempDir::new("distcc-dir-ref");
    let hosts = daemon.host(false, 4);
    let client = distcc34_client();
    make(
        tree,
        &[
            ("DISTCC_HOSTS", hosts.as_str()),
            ("DISTCC_FALLBACK", "0"),
            ("DISTCC_DIR", state.path().to_str().unwrap()),
            ("LAUNCH", client.to_str().unwrap()),
            ("MASQ", ""),
        ],
        4,
    );
    let via_34 = outputs(&tree.build_dir());
    assert_eq!(
        via_34.keys().collect::<Vec<_>>(),
        tree.reference.keys().collect::<Vec<_>>(),
        "3.4 built other files than the local build"
    );
    for (path, local) in tree.reference.iter().filter(|(p, _)| !is_object(p)) {
        assert!(
            &via_34[path] == local,
            "{} differs between the local build and 3.4's",
            path.display()
        );
    }
    via_34
}

pub(crate) fn is_object(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "o")
}

/// The plain launcher script: `$LAUNCH /usr/bin/cc …`, the compiler itself when LAUNCH is empty.
pub(crate) const PLAIN_LAUNCHER: &str = "#!/bin/sh\nexec $LAUNCH \"$@\"\n";

/// Writes `dir/launch.sh` (`script`) and configures libgit2 from `source` in `dir/build` for
/// `build_type`, every optional dependency bundled or off, with that script as cmake's
/// compiler launcher. Returns the build directory.
pub(crate) fn configure(source: &Path, dir: &Path, build_type: &str, script: &str) -> PathBuf {
    configure_with(source, dir, build_type, script, &[])
}

/// As `configure`, with `extra` cmake arguments (for example `-DCMAKE_C_FLAGS=-g3`).
pub(crate) fn configure_with(
    source: &Path,
    dir: &Path,
    build_type: &str,
    script: &str,
    extra: &[&str],
) -> PathBuf {
    let launcher = dir.join("launch.sh");
    std::fs::write(&launcher, script).unwrap();
    run(Command::new("chmod").arg("+x").arg(&launcher));
    let build = dir.join("build");
    run(Command::new("cmake")
        .arg("-S")
        .arg(source)
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_BUILD_TYPE={build_type}"))
        .args([
            "-DBUILD_TESTS=OFF",
            "-DBUILD_CLI=OFF",
            "-DUSE_SSH=OFF",
            "-DUSE_HTTPS=OFF",
        ])
        .args([
            "-DUSE_BUNDLED_ZLIB=ON",
            "-DREGEX_BACKEND=builtin",
            "-DUSE_HTTP_PARSER=builtin",
        ])
        .arg("-DCMAKE_C_COMPILER=/usr/bin/cc")
        .arg(format!(
            "-DCMAKE_C_COMPILER_LAUNCHER={}",
            launcher.display()
        ))
        .args(extra));
    build
}

/// Runs `cmd` to success (else panics with its output); returns its stdout and stderr.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

fn make(tree: &Tree, env: &[(&str, &str)], jobs: u32) {
    run(Command::new("make")
        .arg("-C")
        .arg(tree.build_dir())
        .arg("clean"));
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(tree.build_dir())
        .arg(format!("-j{jobs}"))
        .envs(env.iter().copied());
    run(&mut cmd);
}

/// Every object and dependency file under `dir`, by path relative to it.
pub(crate) fn outputs(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "o" || e == "d") {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Builds `tree` through `client` against `daemon` and compares every output with the
/// reference. Returns the number of objects compared.
fn distributed_build(tree: &Tree, via: Via, client: &Path, daemon: &Daemon, lzo: bool) -> usize {
    build_through(tree, via, client, &daemon.host(lzo, 4), &|| {
        daemon.log_text()
    })
}

/// libgit2 Release built by our client as a launcher through `hosts` (for example an REAPI
/// engine), every output compared with the local build; the number of objects, or None
/// where the corpus or tools are missing (a failure under `CI=true`).
pub(crate) fn release_through(hosts: &str, log: &dyn Fn() -> String) -> Option<usize> {
    let (source, _lock) = setup()?;
    let tree = tree(&source, "Release");
    Some(build_through(
        tree,
        Via::Launcher,
        &our_client(),
        hosts,
        log,
    ))
}

fn build_through(
    tree: &Tree,
    via: Via,
    client: &Path,
    hosts: &str,
    log: &dyn Fn() -> String,
) -> usize {
    let state = TempDir::new("distcc-dir");
    let client_str = client.display().to_string();
    let masq = state.path().join("masq");
    std::fs::create_dir(&masq).unwrap();
    std::os::unix::fs::symlink(client, masq.join("cc")).unwrap();
    let masq_str = masq.display().to_string();
    let (launch, masq_env) = match via {
        Via::Launcher => (client_str.as_str(), ""),
        Via::Masquerade => ("", masq_str.as_str()),
    };
    let env = [
        ("DISTCC_HOSTS", hosts),
        ("DISTCC_FALLBACK", "0"),
        ("DISTCC_SKIP_LOCAL_RETRY", "1"),
        ("DISTCC_DIR", state.path().to_str().unwrap()),
        ("DISTCC_LOG", ""),
        ("LAUNCH", launch),
        ("MASQ", masq_env),
    ];
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(tree, &env, 4)));
    if let Err(panic) = result {
        eprintln!("daemon log:\n{}", log());
        std::panic::resume_unwind(panic);
    }
    let built = outputs(&tree.build_dir());
    let missing: Vec<_> = tree
        .reference
        .keys()
        .filter(|k| !built.contains_key(*k))
        .collect();
    let differ: Vec<_> = tree
        .reference
        .iter()
        .filter(|(k, v)| built.get(*k).is_some_and(|b| b != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && differ.is_empty(),
        "{} outputs missing, {} differ from the local build; first: {:?} {:?}",
        missing.len(),
        differ.len(),
        missing.first(),
        differ.first()
    );
    tree.reference.keys().filter(|p| is_object(p)).count()
}

/// Every compiled source file appears in the daemon's log.
fn assert_log_shows_every_job(daemon: &Daemon, tree: &Tree) {
    let log = daemon.log_text();
    let unlogged: Vec<String> = tree
        .reference
        .keys()
        .filter(|p| is_object(p))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|source| !log.contains(source.as_str()))
        .collect();
    assert!(
        unlogged.is_empty(),
        "{} jobs missing from the daemon log, first {:?}",
        unlogged.len(),
        unlogged.first()
    );
}

fn distcc34_client() -> PathBuf {
    crate::support::which("distcc").expect("distcc 3.4 is installed")
}

fn our_client() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distcc"))
}

fn setup() -> Option<(PathBuf, MutexGuard<'static, ()>)> {
    if !require(&["cmake", "make", "gcc", "distcc", "distccd"]) {
        return None;
    }
    let source = libgit2_source()?;
    Some((source, build_lock()))
}

fn check(build_type: &'static str, via: Via, client: PathBuf, server: Impl, lzo: bool) {
    let Some((source, _lock)) = setup() else {
        return;
    };
    let tree = tree(&source, build_type);
    let daemon = Daemon::start(server, 4);
    let n = distributed_build(tree, via, &client, &daemon, lzo);
    if server == Impl::Ours {
        assert_log_shows_every_job(&daemon, tree);
    }
    eprintln!(
        "libgit2 {build_type} via {via:?}, {} against {server:?}, lzo={lzo}: {n} objects identical",
        client.display()
    );
}

#[test]
fn distcc34_client_to_our_daemon_release_protocol_1() {
    check(
        "Release",
        Via::Launcher,
        distcc34_client(),
        Impl::Ours,
        false,
    );
}

#[test]
fn distcc34_client_to_our_daemon_release_protocol_2() {
    check(
        "Release",
        Via::Launcher,
        distcc34_client(),
        Impl::Ours,
        true,
    );
}

#[test]
fn distcc34_client_to_our_daemon_debug_protocol_1() {
    check("Debug", Via::Launcher, distcc34_client(), Impl::Ours, false);
}

#[test]
fn distcc34_client_to_our_daemon_debug_protocol_2() {
    check("Debug", Via::Launcher, distcc34_client(), Impl::Ours, true);
}

#[test]
fn our_client_to_distccd34_protocol_1() {
    check(
        "Release",
        Via::Launcher,
        our_client(),
        Impl::Distcc34,
        false,
    );
}

#[test]
fn our_client_to_distccd34_protocol_2() {
    check("Release", Via::Launcher, our_client(), Impl::Distcc34, true);
}

#[test]
fn our_client_to_our_daemon_protocol_1() {
    check("Release", Via::Launcher, our_client(), Impl::Ours, false);
}

/// Also our client against our daemon over protocol 2 (the launcher form of that pair would
/// cost one more libgit2 build for no new coverage).
#[test]
fn our_client_masquerading_as_cc_to_our_daemon_protocol_2() {
    check("Release", Via::Masquerade, our_client(), Impl::Ours, true);
}
