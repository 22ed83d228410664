//! Outputs land where and how gcc itself puts them (issue 13): a device stays a device, a
//! FIFO's reader gets the object, a symlink stays a link and its target gets the object, a
//! file with other hard links is written in place. Each case is a real remote compile through
//! our client and our daemon, checked against a local build, as root and as `nobody`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::{Command, Output};

// client.rs includes the same helpers; a second copy here is harmless.
#[allow(clippy::duplicate_mod)]
#[path = "../interop/support.rs"]
mod support;

#[allow(clippy::duplicate_mod)]
#[path = "client_support.rs"]
mod client_support;

use client_support::{Sandbox, distcc_bin};
use support::{Daemon, Impl};

const COMPILE: [&str; 5] = ["gcc", "-Iinclude", "-O2", "-c", "src/util.c"];

/// Runs `distcc gcc … -o <output>` in the sandbox, as `user` when given (through `setpriv`),
/// with `wrap` words before distcc (`unshare …`). Fallback is off: a compile that does not
/// go remote fails the test instead of passing by the local compiler's hand.
fn distcc_to(sb: &Sandbox, hosts: &str, user: Option<&str>, wrap: &[&str], output: &str) -> Output {
    let mut words: Vec<String> = Vec::new();
    if let Some(u) = user {
        words.extend(
            [
                "setpriv",
                "--reuid",
                u,
                "--regid",
                "nogroup",
                "--clear-groups",
                "--",
            ]
            .map(String::from),
        );
    }
    words.extend(wrap.iter().map(|s| s.to_string()));
    words.push(distcc_bin().display().to_string());
    words.extend(COMPILE.map(String::from));
    words.extend(["-o".to_owned(), output.to_owned()]);
    let mut c = Command::new(&words[0]);
    c.args(&words[1..]);
    sb.env(&mut c, hosts);
    c.env("DISTCC_FALLBACK", "0");
    let out = c.output().expect("running distcc");
    sb.assert_ok(&out, format_args!("distcc -o {output}"));
    assert!(
        sb.log_text().contains("compiled src/util.c on"),
        "the compile to {output} did not go remote:\n{}",
        sb.log_text()
    );
    let _ = std::fs::remove_file(&sb.log);
    out
}

fn local_object(sb: &Sandbox) -> Vec<u8> {
    let out = Command::new("gcc")
        .args(&COMPILE[1..])
        .args(["-o", "out/local.o"])
        .current_dir(sb.path())
        .output()
        .expect("running gcc");
    assert!(out.status.success(), "local gcc failed");
    let bytes = sb.read("out/local.o");
    std::fs::remove_file(sb.path().join("out/local.o")).unwrap();
    bytes
}

/// Words that run the rest of a command line in a mount namespace whose `/dev` is a fresh
/// tmpfs holding its own `null` and a `stdout` link (so a regression cannot replace this
/// machine's), then write what `path` is (`stat -c %F`) to `check`.
fn private_dev(path: &str, check: &Path) -> Vec<String> {
    let script = format!(
        "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && \
         ln -s /proc/self/fd/1 /dev/stdout && \"$@\" && stat -c %F {path} > {}",
        check.display()
    );
    [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
    ]
    .map(String::from)
    .to_vec()
}

fn is_char_device(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

fn outputs_land_as_gcc_puts_them(user: Option<&str>) {
    if !support::require(&["gcc", "setpriv", "unshare", "mknod", "mkfifo"]) {
        return;
    }
    let d = Daemon::start(Impl::Ours, 2);
    let hosts = d.host(true, 2);
    let sb = Sandbox::new(if user.is_some() {
        "outputs-user"
    } else {
        "outputs-root"
    });
    let expected = local_object(&sb);
    if let Some(u) = user {
        let ok = Command::new("chown")
            .args(["-R", &format!("{u}:nogroup")])
            .arg(sb.path())
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let out = sb.path().join("out");

    // A plain new file, the ordinary case, for reference.
    distcc_to(&sb, &hosts, user, &[], "out/plain.o");
    assert_eq!(sb.read("out/plain.o"), expected);

    // A symlink: it stays a link, its target gets the object.
    std::os::unix::fs::symlink("target.o", out.join("link.o")).unwrap();
    distcc_to(&sb, &hosts, user, &[], "out/link.o");
    assert!(
        std::fs::symlink_metadata(out.join("link.o"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(sb.read("out/target.o"), expected, "the link's target");

    // A file with another hard link: written in place, both names see the object.
    std::fs::write(out.join("a.o"), b"old").unwrap();
    std::fs::hard_link(out.join("a.o"), out.join("b.o")).unwrap();
    if let Some(u) = user {
        let ok = Command::new("chown")
            .arg(format!("{u}:nogroup"))
            .arg(out.join("a.o"))
            .status();
        assert!(ok.unwrap().success());
    }
    distcc_to(&sb, &hosts, user, &[], "out/a.o");
    assert_eq!(sb.read("out/b.o"), expected, "the other hard link");
    assert_eq!(
        std::fs::metadata(out.join("a.o")).unwrap().ino(),
        std::fs::metadata(out.join("b.o")).unwrap().ino()
    );

    // A FIFO: its reader gets the object, and it is still a FIFO afterwards.
    let fifo = out.join("pipe.o");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    if let Some(u) = user {
        let ok = Command::new("chown")
            .arg(format!("{u}:nogroup"))
            .arg(&fifo)
            .status();
        assert!(ok.unwrap().success());
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("reading the FIFO"))
    };
    distcc_to(&sb, &hosts, user, &[], "out/pipe.o");
    assert_eq!(
        reader.join().unwrap(),
        expected,
        "what the FIFO's reader got"
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // /dev/null stays the device. As root, in a mount namespace whose /dev is a fresh tmpfs
    // holding its own null device, so that a regression cannot harm this machine's.
    if user.is_some() {
        distcc_to(&sb, &hosts, user, &[], "/dev/null");
        assert!(is_char_device(Path::new("/dev/null")));
    } else {
        let check = sb.path().join("dev-null-kind");
        let wrap = private_dev("/dev/null", &check);
        let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
        distcc_to(&sb, &hosts, user, &wrap, "/dev/null");
        let kind = std::fs::read_to_string(&check).unwrap();
        assert_eq!(
            kind.trim(),
            "character special file",
            "/dev/null after the compile"
        );
    }
    assert!(is_char_device(Path::new("/dev/null")));

    // Nothing else was left in the output directory: no temporary names.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a.o", "b.o", "link.o", "pipe.o", "plain.o", "target.o"]
    );
}

#[test]
fn outputs_land_as_gcc_puts_them_as_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!support::ci(), "under CI=true this test must run as root");
        return;
    }
    outputs_land_as_gcc_puts_them(None);
}

#[test]
fn outputs_land_as_gcc_puts_them_as_an_unprivileged_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!support::ci(), "under CI=true this test must run as root");
        return;
    }
    outputs_land_as_gcc_puts_them(Some("nobody"));
}

/// `-S -o /dev/stdout`: the assembly arrives on the client's standard output, as gcc's does,
/// and `/dev/stdout` stays the link it was. Run as root in a mount namespace whose `/dev` is a
/// fresh tmpfs with its own `null` and `stdout`, so that a regression cannot replace this
/// machine's.
#[test]
fn assembly_to_dev_stdout_reaches_standard_output() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!support::ci(), "under CI=true this test must run as root");
        return;
    }
    if !support::require(&["gcc", "unshare"]) {
        return;
    }
    let d = Daemon::start(Impl::Ours, 2);
    let sb = Sandbox::new("outputs-stdout");
    let args = [
        "gcc",
        "-Iinclude",
        "-O2",
        "-S",
        "src/util.c",
        "-o",
        "/dev/stdout",
    ];
    let check = sb.path().join("dev-stdout-kind");
    let wrap = private_dev("/dev/stdout", &check);
    let mut c = Command::new(&wrap[0]);
    c.args(&wrap[1..]).arg(distcc_bin()).args(args);
    sb.env(&mut c, &d.host(true, 2));
    let ours = c.env("DISTCC_FALLBACK", "0").output().unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert!(
        sb.log_text().contains("compiled src/util.c on"),
        "{}",
        sb.log_text()
    );
    let kind = std::fs::read_to_string(&check).unwrap();
    assert_eq!(
        kind.trim(),
        "symbolic link",
        "/dev/stdout after the compile"
    );
    let local = Command::new("gcc")
        .args(&args[1..5])
        .args(["-o", "-"])
        .current_dir(sb.path())
        .output()
        .unwrap();
    assert!(local.status.success());
    assert!(!local.stdout.is_empty());
    assert_eq!(ours.stdout, local.stdout);
}
