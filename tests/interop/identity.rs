//! Compiler identity against distcc 3.4's client (issue 14): 3.4 sends no identity, so our
//! daemon serves it by name as 3.4 does. A daemon whose `gcc` is another compiler (gcc-11,
//! where the client's is gcc-12) compiles with it silently: the object is gcc-11's, not the
//! local one. That is the hole protocol 4 closes; our own client and daemon find the right
//! compiler under another name or refuse (tests/it/identity.rs). Under `CI=true` a missing
//! distcc 3.4 or gcc-11 fails the test (`scripts/install-deps.sh` installs them).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::support::{self, Daemon, Impl, TempDir};

const SOURCE: &str = "int scale(int x) { return x * 3 + 1; }\n";

fn compile(dir: &Path, program: &str, obj: &str) {
    let out = Command::new(program)
        .args(["-O2", "-c", "u.c", "-o", obj])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn distcc_3_4_client_silently_gets_the_hosts_other_gcc() {
    if !support::require(&["distcc", "gcc-12", "gcc-11"]) {
        return;
    }
    let work = TempDir::new("ident34");
    let bin = work.path().join("bin");
    let allow = work.path().join("allow");
    std::fs::create_dir(&bin).unwrap();
    std::fs::create_dir(&allow).unwrap();
    // This host's `gcc` is gcc-11, under both names 3.4's client may send (it renames `gcc`
    // to `x86_64-linux-gnu-gcc`); the allow-list names those two only.
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        symlink("/usr/bin/gcc-11", bin.join(name)).unwrap();
        symlink("/usr/bin/distcc", allow.join(name)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let d = Daemon::start_env(
        Impl::Ours,
        2,
        // The sandbox shows the test's bin directory (its links lead back into /usr).
        &[
            "--allowed-compilers",
            allow.to_str().unwrap(),
            "--sandbox-path",
            bin.to_str().unwrap(),
        ],
        &[("DISTCCD_PATH", path.as_ref())],
    );
    std::fs::write(work.path().join("u.c"), SOURCE).unwrap();
    compile(work.path(), "gcc-12", "local12.o");
    compile(work.path(), "gcc-11", "local11.o");
    let read = |n: &str| std::fs::read(work.path().join(n)).unwrap();
    assert_ne!(
        read("local12.o"),
        read("local11.o"),
        "the two gcc must differ"
    );
    assert!(
        std::fs::canonicalize("/usr/bin/gcc").unwrap()
            == std::fs::canonicalize("/usr/bin/gcc-12").unwrap(),
        "the client's gcc is gcc-12 here"
    );
    let state = work.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let out = Command::new("distcc")
        .args(["gcc", "-O2", "-c", "u.c", "-o", "remote.o"])
        .current_dir(work.path())
        .env("DISTCC_HOSTS", d.host(true, 2))
        .env("DISTCC_DIR", &state)
        .env("DISTCC_FALLBACK", "0")
        .env_remove("DISTCC_VERBOSE")
        .env_remove("DISTCC_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\nour log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log_text()
    );
    // Silently: nothing on stderr, exit 0, and the object is the host's gcc-11's.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(read("remote.o"), read("local11.o"));
    assert_ne!(read("remote.o"), read("local12.o"));
    // The daemon logs the job once its reply is sent, perhaps after the client has exited.
    let logged = |log: &str| {
        log.lines()
            .any(|l| l.contains("job 127.0.0.1:") && l.contains("u.c exit 0"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !logged(&d.log_text()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = d.log_text();
    assert!(logged(&log), "{log}");
}
