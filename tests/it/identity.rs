//! Compiler identity end to end (issue 14): our client and our daemon over protocol 4, on a
//! host whose `gcc` is another compiler (gcc-11, where the client's is gcc-12). The daemon
//! finds the client's compiler under another name (`x86_64-linux-gnu-gcc-12`), and the
//! object is byte-identical to a local build; or, with no such compiler on the host, the
//! job is refused with a reason naming both compilers, the client compiles locally and
//! says why, and no object from gcc-11 is ever returned. (distcc 3.4's client, which sends
//! no identity, gets gcc-11 silently: tests/interop/identity.rs.) Under `CI=true` a missing
//! gcc-11 fails the test (`scripts/install-deps.sh` installs it).

use std::os::unix::fs::symlink;
use std::process::Output;

use crate::client::client_support::Sandbox;
use crate::diagnostics::Pump;
use crate::support::{self, OurDaemon};

/// Every name the test daemon allow-lists by default, and ours: all gcc-11 on this host.
const DEFAULT_NAMES: &[&str] = support::DEFAULT_COMPILER_NAMES;

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
    OurDaemon::start_with_compilers(&["--sandbox-path", bin.to_str().unwrap()], &bin, &names)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `gcc -O2 -c src/util.c -o out` through our client.
fn compile(sb: &Sandbox, d: &OurDaemon, out: &str, env: &[(&str, &str)]) -> Output {
    compile_with(sb, "gcc", &format!("127.0.0.1:{}", d.port), out, env)
}

/// `compiler -O2 -c src/util.c -o out` through our client to `hosts`.
fn compile_with(
    sb: &Sandbox,
    compiler: &str,
    hosts: &str,
    out: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut c = sb.distcc(
        hosts,
        &[compiler, "-O2", "-Iinclude", "-c", "src/util.c", "-o", out],
    );
    c.env("DISTCC_NO_REWRITE_CROSS", "1")
        .envs(env.iter().copied());
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

/// Nothing learned yet: the first job to a host goes in 1-3 by name, as with 3.4, and the
/// daemon's gcc (gcc-11) runs it; the advertisement after that reply names the compiler that
/// ran (`ran=`), so the client discards that object and sends the job again in protocol 4
/// (docs/protocol-4.md). Asserts it happened so, and that the host is now remembered.
fn assert_retried_in_protocol_4(sb: &Sandbox, d: &OurDaemon) {
    let adverts = sb.distcc_dir.join("adverts");
    let learned = std::fs::read_dir(&adverts)
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("protocol=4")))
        })
        .unwrap_or(false);
    let log = sb.log_text();
    assert!(learned, "no protocol 4 advertisement learned:\n{log}");
    assert!(
        log.contains(
            "ran another compiler than this client's: gcc 11.3.0 x86_64-linux-gnu sha256:"
        ) && log.contains("not gcc 12.2.0 x86_64-linux-gnu sha256:")
            && log.contains("discarding its result and sending the job again in protocol 4"),
        "{log}\ndaemon log:\n{}",
        d.log_text()
    );
}

#[test]
fn our_daemon_finds_the_clients_gcc_under_another_name() {
    if !support::require(&["gcc-12", "gcc-11", "x86_64-linux-gnu-gcc-12"]) {
        return;
    }
    let sb = Sandbox::new("ident-found");
    let d = host_with_gcc_11(
        &sb,
        &[
            (
                "x86_64-linux-gnu-gcc-12",
                "/usr/bin/x86_64-linux-gnu-gcc-12",
            ),
            ("clang-14", "/usr/bin/clang-14"),
        ],
    );
    // A fresh $DISTCC_DIR: the very first job is the one checked.
    assert!(!sb.distcc_dir.join("adverts").exists());
    let want = local(&sb, "gcc", "local.o");
    assert_ne!(
        want,
        local(&sb, "gcc-11", "local11.o"),
        "the two gcc must differ"
    );
    let out = compile(&sb, &d, "remote.o", &[("DISTCC_FALLBACK", "0")]);
    assert!(
        out.status.success(),
        "{}\nclient log:\n{}\ndaemon log:\n{}",
        text(&out.stderr),
        sb.log_text(),
        d.log_text()
    );
    assert!(
        sb.read("remote.o") == want,
        "not the client's compiler's object\nclient log:\n{}\ndaemon log:\n{}",
        sb.log_text(),
        d.log_text()
    );
    assert_retried_in_protocol_4(&sb, &d);
    // It ran remotely, over protocol 4 (no local fallback): gcc-11 by name, then gcc-12.
    let log = sb.log_text();
    assert!(!log.contains("compiling locally"), "{log}");
    let dlog = d.wait_log("util.c exit 0");
    assert!(dlog.contains("util.c exit 0"), "{dlog}");

    // The client's clang is this host's clang-14: found by identity too.
    let want = local(&sb, "clang", "local-clang.o");
    let hosts = format!("127.0.0.1:{}", d.port);
    let out = compile_with(
        &sb,
        "clang",
        &hosts,
        "remote-clang.o",
        &[("DISTCC_FALLBACK", "0")],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        sb.log_text()
    );
    assert_eq!(sb.read("remote-clang.o"), want);

    // Pump mode (protocol 4 with the server preprocessing) finds it as well.
    let pump_hosts = format!("127.0.0.1:{}/4,lzo,cpp", d.port);
    let pump = Pump::start(&pump_hosts);
    let mut env: Vec<(&str, &str)> = pump
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("DISTCC_FALLBACK", "0"));
    let want = local(&sb, "gcc", "local.o");
    let out = compile_with(&sb, "gcc", &pump_hosts, "remote-pump.o", &env);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        sb.log_text()
    );
    assert_eq!(sb.read("remote-pump.o"), want);
    drop(pump);
    let log = sb.log_text();
    assert!(log.contains("in pump mode"), "{log}");
    assert!(!log.contains("compiling locally"), "{log}");
}

#[test]
fn our_daemon_without_the_clients_compiler_refuses_naming_both() {
    if !support::require(&["gcc-12", "gcc-11"]) {
        return;
    }
    let sb = Sandbox::new("ident-refused");
    let d = host_with_gcc_11(&sb, &[]);
    let want = local(&sb, "gcc", "local.o");
    let wrong = local(&sb, "gcc-11", "local11.o");
    let gcc12 = "gcc 12.2.0 x86_64-linux-gnu sha256:";
    let gcc11 = "11.3.0 x86_64-linux-gnu sha256:";

    // Fallback off: the build fails with the daemon's reason, and leaves no object.
    let out = compile(&sb, &d, "remote.o", &[("DISTCC_FALLBACK", "0")]);
    let err = text(&out.stderr);
    println!(
        "refused, fallback off (exit {:?}):\n{err}",
        out.status.code()
    );
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("300") && err.contains(gcc12) && err.contains(gcc11),
        "{err}"
    );
    assert!(
        !sb.path().join("remote.o").exists(),
        "an object was written"
    );
    assert_retried_in_protocol_4(&sb, &d);

    // Fallback on (a fresh client state, as the refusal is remembered for a day): the
    // client compiles here, says why, and the object is the client's compiler's.
    std::fs::remove_dir_all(sb.distcc_dir.join("adverts")).unwrap();
    std::fs::remove_file(&sb.log).unwrap();
    let out = compile(&sb, &d, "remote.o", &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}\n{}", sb.log_text());
    let obj = sb.read("remote.o");
    assert_eq!(obj, want);
    assert_ne!(obj, wrong);
    let log = sb.log_text();
    assert!(log.contains(gcc12) && log.contains(gcc11), "{log}");
    assert_retried_in_protocol_4(&sb, &d);
    // Remembered: the next job does not ask that host again, and still compiles here.
    std::fs::remove_file(sb.path().join("remote.o")).unwrap();
    let out = compile(&sb, &d, "remote.o", &[]);
    assert!(out.status.success());
    assert_eq!(sb.read("remote.o"), want);
    assert!(
        sb.log_text().contains("lacks this compiler"),
        "{}",
        sb.log_text()
    );
    let dlog = d.log_text();
    assert_eq!(
        dlog.matches("no compiler on this host matches").count(),
        2,
        "{dlog}"
    );
}
