//! Compiler identity end to end (issue 14): our client and our daemon over protocol 4, on a
//! host whose `gcc` is another compiler (gcc-11, where the client's is gcc-12). The daemon
//! finds the client's compiler under another name (`x86_64-linux-gnu-gcc-12`), and the
//! object is byte-identical to a local build; or, with no such compiler on the host, the
//! job is refused with a reason naming both compilers, the client compiles locally and
//! says why, and no object from gcc-11 is ever returned. (distcc 3.4's client, which sends
//! no identity, gets gcc-11 silently: tests/interop/identity.rs.) Under `CI=true` a missing
//! gcc-11 fails the test (`scripts/install-deps.sh` installs it).

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

use super::client_support::Sandbox;
use super::support::{self, OurDaemon};

/// Every name the test daemon allow-lists by default, and ours: all gcc-11 on this host.
const DEFAULT_NAMES: &[&str] = &[
    "gcc",
    "g++",
    "cc",
    "c++",
    "x86_64-linux-gnu-gcc",
    "x86_64-linux-gnu-g++",
];

/// A daemon whose every default compiler name is gcc-11, plus `extra` (name, program).
fn host_with_gcc_11(sb: &Sandbox, extra: &[(&str, &str)]) -> OurDaemon {
    let bin = sb.path().join("host-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in DEFAULT_NAMES {
        symlink("/usr/bin/gcc-11", bin.join(name)).unwrap();
    }
    for (name, program) in extra {
        symlink(program, bin.join(name)).unwrap();
    }
    let names: Vec<&str> = extra.iter().map(|(n, _)| *n).collect();
    // The sandbox shows the test's bin directory (its links lead back into /usr).
    OurDaemon::start_with_compilers(
        &["--sandbox-path", bin.to_str().unwrap()],
        &bin,
        &names,
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `gcc -O2 -c src/util.c -o out` through our client.
fn compile(sb: &Sandbox, d: &OurDaemon, out: &str, env: &[(&str, &str)]) -> Output {
    let mut c = sb.distcc(
        &format!("127.0.0.1:{}", d.port),
        &["gcc", "-O2", "-Iinclude", "-c", "src/util.c", "-o", out],
    );
    c.env("DISTCC_NO_REWRITE_CROSS", "1").envs(env.iter().copied());
    c.output().expect("running distcc")
}

/// A local build by `compiler`.
fn local(sb: &Sandbox, compiler: &str, out: &str) -> Vec<u8> {
    let o = std::process::Command::new(compiler)
        .args(["-O2", "-Iinclude", "-c", "src/util.c", "-o", out])
        .current_dir(sb.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{compiler}: {}", text(&o.stderr));
    sb.read(out)
}
