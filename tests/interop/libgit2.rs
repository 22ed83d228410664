//! libgit2 (a real 200-file C library, from ../shared/corpus) built through distcc: every object
//! and every `.d` file must be byte-identical to a local build in the same directory.
//!
//! Covered pairs: Debian's 3.4 client against our daemon (Release and Debug, protocols 1 and
//! 2), our client against 3.4's daemon (protocols 1 and 2) and against ours (protocol 1 as a
//! launcher, protocol 2 as `cc` in a masquerade directory first on PATH; and over hoarded ssh
//! through the far user's held daemon). Debug objects of
//! 3.4's client are compared with 3.4's own distributed build (see `debug_reference` for why
//! a local `-g` build cannot be the reference for what 3.4's client sends; our client with
//! our daemon matches the local build: debug_info.rs). Builds run one at a time: the machine has two cores, and
//! the reference build of a build type is shared by every test of that type.
//!
//! Protocol 4 (ours with ours, docs/protocol-4.md): `our_client_to_our_daemon_protocol_4`
//! here (plain), and `pump_client::libgit2_release_in_pump_mode` (pump, where it shares the
//! include server's set-up); the ours-with-ours tests of protocols 1 and 2 pin
//! `DISTCC_PROTOCOL=3`, or the client would learn protocol 4 from the first reply.

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
fn distributed_build(
    tree: &Tree,
    via: Via,
    client: &Path,
    daemon: &Daemon,
    lzo: bool,
    protocol: Protocol,
) -> usize {
    distributed_build_with(tree, via, client, daemon, lzo, protocol, "", &[])
}

/// As `distributed_build`, with `suffix` after the host entry (`,tls`) and `extra` variables
/// for the client.
#[allow(clippy::too_many_arguments)]
fn distributed_build_with(
    tree: &Tree,
    via: Via,
    client: &Path,
    daemon: &Daemon,
    lzo: bool,
    protocol: Protocol,
    suffix: &str,
    extra: &[(&str, &str)],
) -> usize {
    let state = TempDir::new("distcc-dir");
    if protocol == Protocol::Four {
        // Remembered from an earlier reply's advertisement: every job in protocol 4.
        let adverts = state.path().join("adverts");
        std::fs::create_dir_all(&adverts).unwrap();
        std::fs::write(
            adverts.join(format!("tcp_127.0.0.1_{}", daemon.port)),
            "protocol=4\n",
        )
        .unwrap();
    }
    let hosts = daemon.host(lzo, 4) + suffix;
    let mut env = vec![(
        "DISTCC_PROTOCOL",
        if protocol == Protocol::Four { "4" } else { "3" },
    )];
    env.extend_from_slice(extra);
    build_through(tree, via, client, state.path(), &hosts, &env, &|| {
        daemon.log_text()
    })
}

/// libgit2 Release built by our client as a launcher through `hosts` (for example an REAPI
/// engine), every output compared with the local build; the number of objects, or None
/// where the corpus or tools are missing (a failure under `CI=true`).
pub(crate) fn release_through(hosts: &str, log: &dyn Fn() -> String) -> Option<usize> {
    let (source, _lock) = setup()?;
    let tree = tree(&source, "Release");
    let state = TempDir::new("distcc-dir");
    Some(build_through(
        tree,
        Via::Launcher,
        &our_client(),
        state.path(),
        hosts,
        &[],
        log,
    ))
}

/// As [`distributed_build`], to any host list, with more environment; `far_log` is shown when
/// the build fails.
fn build_through(
    tree: &Tree,
    via: Via,
    client: &Path,
    state: &Path,
    hosts: &str,
    extra: &[(&str, &str)],
    far_log: &dyn Fn() -> String,
) -> usize {
    let client_str = client.display().to_string();
    let masq = state.join("masq");
    std::fs::create_dir(&masq).unwrap();
    std::os::unix::fs::symlink(client, masq.join("cc")).unwrap();
    let masq_str = masq.display().to_string();
    let (launch, masq_env) = match via {
        Via::Launcher => (client_str.as_str(), ""),
        Via::Masquerade => ("", masq_str.as_str()),
    };
    let mut env = vec![
        ("DISTCC_HOSTS", hosts),
        ("DISTCC_FALLBACK", "0"),
        ("DISTCC_SKIP_LOCAL_RETRY", "1"),
        ("DISTCC_DIR", state.to_str().unwrap()),
        ("DISTCC_LOG", ""),
        ("LAUNCH", launch),
        ("MASQ", masq_env),
    ];
    env.extend_from_slice(extra);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(tree, &env, 4)));
    if let Err(panic) = result {
        eprintln!("daemon log:\n{}", far_log());
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

/// What our client may speak (3.4's ignores `DISTCC_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// 1-3 only (`DISTCC_PROTOCOL=3`), as the host entry says.
    UpTo3,
    /// 4, the host remembered as speaking it.
    Four,
}

fn check(build_type: &'static str, via: Via, client: PathBuf, server: Impl, lzo: bool) {
    check_in(build_type, via, client, server, lzo, Protocol::UpTo3);
}

fn check_in(
    build_type: &'static str,
    via: Via,
    client: PathBuf,
    server: Impl,
    lzo: bool,
    protocol: Protocol,
) {
    let Some((source, _lock)) = setup() else {
        return;
    };
    let tree = tree(&source, build_type);
    // Ours logs each request's protocol at debug level.
    let extra: &[&str] = if server == Impl::Ours {
        &["--log-level", "debug"]
    } else {
        &[]
    };
    let daemon = Daemon::start_with(server, 4, extra);
    let n = distributed_build(tree, via, &client, &daemon, lzo, protocol);
    if server == Impl::Ours {
        assert_log_shows_every_job(&daemon, tree);
        let log = daemon.log_text();
        let v4 = log.matches("protocol 4 request").count();
        match protocol {
            Protocol::Four => assert_eq!(v4, n, "every job in protocol 4"),
            Protocol::UpTo3 => assert_eq!(v4, 0, "DISTCC_PROTOCOL=3 keeps 1-3"),
        }
    }
    eprintln!(
        "libgit2 {build_type} via {via:?}, {} against {server:?}, lzo={lzo}, {protocol:?}: {n} objects identical",
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

/// Ours with ours over protocol 4 (plain: zstd bodies, compiler identity).
#[test]
fn our_client_to_our_daemon_protocol_4() {
    check_in(
        "Release",
        Via::Launcher,
        our_client(),
        Impl::Ours,
        true,
        Protocol::Four,
    );
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

/// Our client and our daemon over hoarded ssh to a real sshd: the held daemon serves every job
/// but the first few (those that start before its forward is up), each a channel over one
/// held connection, in protocol 4 (learned from the first reply's advertisement); objects
/// identical to the local build.
#[test]
fn our_client_to_our_daemon_over_ssh_through_the_held_daemon() {
    use crate::ssh::sshd::{self, GOOD, Sshd};
    if !sshd::available() {
        return;
    }
    let Some((source, _lock)) = setup() else {
        return;
    };
    let tree = tree(&source, "Release");
    let sshd = Sshd::start();
    let ours = our_client().with_file_name("distccd");
    let hosts = format!("@{GOOD}/4:{}", ours.display());
    let log = TempDir::new("distcc-ssh-log");
    let log_path = log.path().join("distcc.log");
    let wrapper = sshd.wrapper.display().to_string();
    let log_str = log_path.display().to_string();
    let extra = [
        ("DISTCC_SSH", wrapper.as_str()),
        ("DISTCC_SSH_HOARD", "1"),
        ("DISTCC_LOG", log_str.as_str()),
        ("DISTCC_VERBOSE", "1"),
    ];
    let state = TempDir::new("distcc-dir");
    let n = build_through(
        tree,
        Via::Launcher,
        &our_client(),
        state.path(),
        &hosts,
        &extra,
        &|| sshd.log_text(),
    );
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let held = text
        .matches("through the held connection's forward")
        .count();
    let v4 = text.matches("speaking protocol 4").count();
    let sessions = sshd.sessions();
    assert!(
        v4 >= held,
        "{v4} jobs in protocol 4, {held} through the held daemon"
    );
    assert!(
        held + sessions >= n && sessions <= 8,
        "{n} objects: {held} jobs through the held daemon, {sessions} ssh sessions"
    );
    // The first jobs race for the held connection: at most one handshake each of them.
    assert!(sshd.handshakes() <= 4, "{} handshakes", sshd.handshakes());
    eprintln!(
        "libgit2 Release over ssh (held daemon): {n} objects identical; {held} jobs through \
         the held daemon, {v4} in protocol 4, {sessions} sessions, {} handshakes",
        sshd.handshakes()
    );
}

/// Our client and our daemon over TLS (`,tls`, the server pinned, the client known by a token,
/// `--tls-only` so that no job can go in plain text), certificates made by the openssl CLI.
#[test]
fn our_client_to_our_daemon_over_tls() {
    let Some((source, _lock)) = setup() else {
        return;
    };
    if !require(&["openssl"]) {
        return;
    }
    let pki = TempDir::new("tls-pki");
    let p = |n: &str| pki.path().join(n).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(ec)
        .args([
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.pem"),
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ]));
    std::fs::write(pki.path().join("tokens"), "libgit2-builder t0ken-libgit2\n").unwrap();
    let fingerprint = run(Command::new("openssl").args([
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        &p("server.pem"),
    ]));
    let pin = fingerprint.trim().rsplit('=').next().unwrap().to_owned();
    let tree = tree(&source, "Release");
    let daemon = Daemon::start_with(
        Impl::Ours,
        4,
        &[
            "--tls-cert",
            &p("server.pem"),
            "--tls-key",
            &p("server.key"),
            "--tls-tokens",
            &p("tokens"),
            "--tls-only",
        ],
    );
    let n = distributed_build_with(
        tree,
        Via::Launcher,
        &our_client(),
        &daemon,
        true,
        Protocol::Four,
        ",tls",
        &[
            ("DISTCC_TLS_PIN", &pin),
            ("DISTCC_TLS_TOKEN", "t0ken-libgit2"),
        ],
    );
    assert_log_shows_every_job(&daemon, tree);
    assert!(daemon.log_text().contains("(libgit2-builder)"));
    eprintln!("libgit2 Release, our client -> our daemon over TLS: {n} objects identical");
}
