//! What the client, the daemon and the tools say (issue 13, items 4 and 5): a failed compile
//! says why on stderr whatever `DISTCC_LOG` says, `UNCACHED_ERR_FD`, an unopenable log,
//! `--version`, missing, empty, malformed and `,down` host lists.

use std::net::TcpListener;
use std::process::{Command, Output};

use crate::client::client_support::{Sandbox, distcc_bin};
use crate::support;
use support::OurDaemon;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(c: &mut Command) -> Output {
    c.output().expect("running distcc")
}

#[test]
fn a_failed_compile_says_why_on_stderr_even_with_distcc_log() {
    let sb = Sandbox::new("msg-missing");
    std::fs::write(sb.path().join("x.i"), "int x;\n").unwrap();
    let out = run(sb
        .distcc("127.0.0.1:1", &["nosuchcc", "-c", "x.i"])
        .env("DISTCC_FALLBACK", "0"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(110), "{err}");
    assert!(
        err.contains("error: compiler \"nosuchcc\" not found"),
        "{err}"
    );
    assert!(sb.log_text().contains("nosuchcc"), "{}", sb.log_text());
    // Warnings and debug lines stay in the log.
    assert_eq!(err.lines().count(), 1, "{err}");
    // The same for distcc's own commands.
    let out = run(&mut sb.distcc("bad:port", &["--show-hosts"]));
    assert_eq!(out.status.code(), Some(106));
    assert!(
        text(&out.stderr).contains("\"bad:port\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_distcc_log_that_cannot_be_opened_is_reported() {
    if !support::require(&["gcc"]) {
        return;
    }
    let sb = Sandbox::new("msg-badlog");
    let out = run(sb
        .distcc(
            "localhost",
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/u.o"],
        )
        .env("DISTCC_LOG", sb.path().join("no/such/dir/log")));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("failed to open logfile"), "{err}");
    assert!(err.contains("no/such/dir/log"), "{err}");
}

#[test]
fn uncached_err_fd_takes_distccs_own_messages_not_the_compilers() {
    if !support::require(&["gcc", "sh"]) {
        return;
    }
    let sb = Sandbox::new("msg-uncached");
    let uncached = sb.path().join("uncached.txt");
    // ccache's arrangement: fd 3 is a copy of its stderr that it does not cache.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("exec \"$0\" \"$@\" 3>\"$UNCACHED\"")
        .arg(distcc_bin())
        .args(["gcc", "-Iinclude", "-c", "src/bad.c", "-o", "out/b.o"]);
    sb.env(&mut c, "127.0.0.1:1");
    c.env_remove("DISTCC_LOG")
        .env_remove("DISTCC_VERBOSE")
        .env("UNCACHED_ERR_FD", "3")
        .env("UNCACHED", &uncached);
    let out = run(&mut c);
    let err = text(&out.stderr);
    let unc = std::fs::read_to_string(&uncached).unwrap();
    assert_ne!(out.status.code(), Some(0));
    // gcc's diagnostics stay on stderr (ccache caches them with a result); distcc's own
    // complaint about the unreachable host goes to the uncached descriptor.
    assert!(err.contains("error:") && err.contains("bad.c"), "{err}");
    assert!(!err.contains("distcc["), "{err}");
    assert!(
        unc.contains("distcc[") && unc.contains("127.0.0.1:1"),
        "{unc}"
    );
    // A failure of distcc itself goes there too.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("exec \"$0\" \"$@\" 3>\"$UNCACHED\"")
        .arg(distcc_bin())
        .args(["nosuchcc", "-c", "x.i"]);
    sb.env(&mut c, "127.0.0.1:1");
    c.env_remove("DISTCC_LOG")
        .env("UNCACHED_ERR_FD", "3")
        .env("UNCACHED", &uncached);
    let out = run(&mut c);
    assert_eq!(out.status.code(), Some(110));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
    let unc = std::fs::read_to_string(&uncached).unwrap();
    assert!(unc.contains("nosuchcc"), "{unc}");
}

#[test]
fn version_first_line_is_distcc_version_target() {
    let out = run(Command::new(distcc_bin()).arg("--version"));
    let v = text(&out.stdout);
    let first: Vec<&str> = v.lines().next().unwrap_or_default().split(' ').collect();
    assert_eq!(first.len(), 3, "{v}");
    assert_eq!(first[0], "distcc");
    assert_eq!(first[1], env!("CARGO_PKG_VERSION"));
    assert!(v.contains("(protocols 1, 2 and 3)"), "{v}");
    // The target is spelled as Debian's 3.4 spells it here.
    if let Ok(theirs) = Command::new("/usr/bin/distcc").arg("--version").output() {
        let t = text(&theirs.stdout);
        let target = t.lines().next().and_then(|l| l.split(' ').nth(2));
        assert_eq!(Some(first[2]), target, "{t}");
    } else if support::ci() {
        panic!("Debian's distcc is missing");
    }
}

#[test]
fn no_hosts_names_the_list_and_compiles_here() {
    if !support::require(&["gcc"]) {
        return;
    }
    let sb = Sandbox::new("msg-nohosts");
    let out = run(sb
        .distcc(
            "",
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/u.o"],
        )
        .env_remove("DISTCC_LOG"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("$DISTCC_HOSTS contained no hosts; can't distribute work"),
        "{err}"
    );
    let out = run(sb
        .distcc(
            "",
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/u.o"],
        )
        .env("DISTCC_FALLBACK", "0"));
    assert_eq!(out.status.code(), Some(116), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("contained no hosts"));
}

#[test]
fn a_host_marked_down_is_skipped() {
    if !support::require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&["--jobs", "2"]);
    // A listener where the down host is: the client must never connect to it.
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let down = format!("127.0.0.1:{},lzo,down", trap.local_addr().unwrap().port());
    let sb = Sandbox::new("msg-down");
    let hosts = format!("{down} 127.0.0.1:{}", d.port);
    sb.same_as_local(
        &hosts,
        &[],
        &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/u.o"],
        &["out/u.o"],
    );
    assert!(d.log_text().contains("util.c"), "{}", d.log_text());
    assert!(sb.log_text().contains("marked down"), "{}", sb.log_text());
    let j = run(&mut sb.distcc(&hosts, &["-j"]));
    assert_eq!(text(&j.stdout), "4\n");
    // Only a down host: no distribution, and with fallbacks off the reason is given.
    let out = run(sb
        .distcc(
            &down,
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "out/u.o"],
        )
        .env("DISTCC_FALLBACK", "0"));
    assert_eq!(out.status.code(), Some(116), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("every host is marked down"));
    assert!(
        trap.accept().is_err(),
        "the client connected to a down host"
    );
}

#[test]
fn scan_includes_lists_what_pump_would_send() {
    if !support::require(&["gcc"]) {
        return;
    }
    let server = crate::include_server::Server::start();
    let sb = Sandbox::new("msg-scan");
    // Once it answers, it listens (its socket file appears a moment before).
    server.ask(sb.path(), &["gcc".into(), "-c".into(), "src/util.c".into()]);
    let cmd = ["--scan-includes", "gcc", "-Iinclude", "-c", "src/main.c"];
    let out = run(sb
        .distcc("127.0.0.1:1,lzo,cpp", &cmd)
        .env("INCLUDE_SERVER_PORT", &server.socket));
    let lines = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let root = sb.path().canonicalize().unwrap();
    let root = root.display();
    assert!(
        lines.contains(&format!("FILE      {root}/src/main.c\n")),
        "{lines}"
    );
    assert!(
        lines.contains(&format!("FILE      {root}/include/util.h\n")),
        "{lines}"
    );
    assert!(lines.contains("SYSTEMDIR /usr/include\n"), "{lines}");
    assert!(
        !lines.contains("stdio.h"),
        "built-in headers are not sent: {lines}"
    );
    // Without an include server, and for a compile that would not be distributed: the reason.
    let out = run(sb
        .distcc("127.0.0.1:1,lzo,cpp", &cmd)
        .env_remove("INCLUDE_SERVER_PORT"));
    assert_eq!(out.status.code(), Some(100));
    assert!(
        text(&out.stderr).contains("INCLUDE_SERVER_PORT"),
        "{}",
        text(&out.stderr)
    );
    let out = run(sb
        .distcc("", &["--scan-includes", "gcc", "src/main.c", "-o", "prog"])
        .env("INCLUDE_SERVER_PORT", &server.socket));
    assert_eq!(out.status.code(), Some(100));
    assert!(
        text(&out.stderr).contains("would run locally"),
        "{}",
        text(&out.stderr)
    );
}

fn daemon_with_env(extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> OurDaemon {
    OurDaemon::start_env(None, "127.0.0.1", &["127.0.0.1/32"], None, extra, env)
}

/// Our client, no fallback and no cross rename, against `port`.
fn compile_on(sb: &Sandbox, port: u16, compiler: &str, out: &str) -> Output {
    compile_on_as(sb, port, compiler, out, &[])
}

/// [`compile_on`] with more environment.
fn compile_on_as(
    sb: &Sandbox,
    port: u16,
    compiler: &str,
    out: &str,
    env: &[(&str, &str)],
) -> Output {
    run(sb
        .distcc(
            &format!("127.0.0.1:{port}"),
            &[compiler, "-Iinclude", "-c", "src/util.c", "-o", out],
        )
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_NO_REWRITE_CROSS", "1")
        .envs(env.iter().copied()))
}

#[test]
fn distcc_cmdlist_narrows_and_maps_the_allow_list() {
    if !support::require(&["gcc", "g++"]) {
        return;
    }
    let sb = Sandbox::new("msg-cmdlist");
    let list = sb.path().join("commands.allow");
    std::fs::write(
        &list,
        "# Debian's commands.allow.sh writes one path a line\n/usr/bin/gcc\n",
    )
    .unwrap();
    let d = daemon_with_env(
        &[],
        &[
            ("DISTCC_CMDLIST", list.as_os_str()),
            ("DISTCC_CMDLIST_NUMWORDS", "1".as_ref()),
        ],
    );
    assert!(d.log_text().contains("1 commands"), "{}", d.log_text());
    // gcc matches the list (by its last word) and the allow-list: compiled there.
    let out = compile_on(&sb, d.port, "gcc", "out/u.o");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log = d.wait_log("util.c");
    assert!(log.contains("exit 0"), "{log}");
    // g++ is allow-listed but not in the list: refused, and the client says why.
    let out = compile_on(&sb, d.port, "g++", "out/u2.o");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("not in DISTCC_CMDLIST"),
        "{}",
        text(&out.stderr)
    );
    // A list naming a program that is not allow-listed never runs it.
    let marker = sb.path().join("ran");
    let evil = sb.path().join("bin/gcc");
    std::fs::create_dir_all(evil.parent().unwrap()).unwrap();
    std::fs::write(
        &evil,
        format!(
            "#!/bin/sh\ntouch {}\nexec /usr/bin/gcc \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&evil, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let list2 = sb.path().join("commands2.allow");
    std::fs::write(&list2, format!("{}\n/usr/bin/cc1\n", evil.display())).unwrap();
    // The marker is written outside the job, which the job sandbox forbids (tests/it/sandbox.rs
    // covers that); this test is about which program runs, so its daemon runs unconfined.
    let d2 = daemon_with_env(&["--no-sandbox"], &[("DISTCC_CMDLIST", list2.as_os_str())]);
    // Its basename, gcc, is allow-listed, so the listed path runs: the admin named it. (For
    // a 1-3 client, as 3.4's: ours sees from the advertisement that this wrapper is not its
    // gcc, drops the object and asks again in protocol 4, which refuses it.)
    let out = compile_on_as(&sb, d2.port, "gcc", "out/u3.o", &[("DISTCC_PROTOCOL", "3")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(marker.exists(), "the listed compiler ran");
    std::fs::remove_file(&marker).unwrap();
    let out = compile_on(&sb, d2.port, "gcc", "out/u3b.o");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(110), "{err}");
    assert!(err.contains("answered 300"), "{err}");
    assert!(!sb.path().join("out/u3b.o").exists(), "{err}");
    let _ = std::fs::remove_file(&marker);
    // cc1 is listed but not allow-listed: refused, nothing runs.
    let out = compile_on(&sb, d2.port, "cc1", "out/u4.o");
    assert_ne!(out.status.code(), Some(0));
    assert!(!marker.exists());
    // An unreadable list fails start-up with the reason.
    let st = Command::new(support::distccd_bin())
        .args([
            "--daemon",
            "--no-detach",
            "--allow",
            "127.0.0.1",
            "--log-stderr",
        ])
        .args(["--port", &support::free_port().to_string()])
        .env("DISTCC_CMDLIST", sb.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(107));
    assert!(
        text(&st.stderr).contains("DISTCC_CMDLIST"),
        "{}",
        text(&st.stderr)
    );
}

#[test]
fn distccd_path_chooses_the_compiler_and_its_path() {
    if !support::require(&["gcc"]) {
        return;
    }
    let sb = Sandbox::new("msg-dpath");
    let bin = sb.path().join("tools");
    std::fs::create_dir_all(&bin).unwrap();
    let marker = sb.path().join("path-seen");
    std::fs::write(
        bin.join("gcc"),
        format!(
            "#!/bin/sh\necho \"$PATH\" > {}\nexec /usr/bin/gcc \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("gcc"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    // Unconfined, so the script may leave its marker outside the job (see above).
    let d = daemon_with_env(&["--no-sandbox"], &[("DISTCCD_PATH", path.as_ref())]);
    let out = compile_on(&sb, d.port, "gcc", "out/u.o");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = std::fs::read_to_string(&marker).expect("the DISTCCD_PATH gcc ran");
    assert_eq!(seen.trim(), path);
}

#[test]
fn distccd_save_temps_keeps_job_directories() {
    if !support::require(&["gcc"]) {
        return;
    }
    let sb = Sandbox::new("msg-savetemps");
    let d = daemon_with_env(&[], &[("DISTCC_SAVE_TEMPS", "1".as_ref())]);
    let out = compile_on(&sb, d.port, "gcc", "out/u.o");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log = d.wait_log("keeping job directory");
    let kept: Vec<_> = std::fs::read_dir(d.jobs_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("distccd_"))
        .collect();
    assert_eq!(kept.len(), 1, "{log}");
    let files = std::fs::read_dir(kept[0].path()).unwrap().count();
    assert!(files > 0, "the job's files are kept");
    let _ = std::fs::remove_dir_all(kept[0].path());
}

#[test]
fn distcc_tcp_defer_accept_holds_back_silent_connections() {
    if !support::require(&["gcc"]) {
        return;
    }
    let d = daemon_with_env(&[], &[("DISTCC_TCP_DEFER_ACCEPT", "1".as_ref())]);
    assert!(
        d.log_text().contains("TCP_DEFER_ACCEPT on"),
        "{}",
        d.log_text()
    );
    // The kernel keeps a connection that has sent nothing from accept(): the daemon holds
    // no socket for it (without the option its accept loop takes it at once).
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
            .unwrap()
            .count()
    };
    // Settled first: the readiness check's own connection closed without data, which the
    // kernel hands over (and the daemon closes) in its own time.
    let mut before = fds();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = fds();
        if now == before {
            break;
        }
        before = now;
    }
    let silent = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(fds(), before, "a silent connection was accepted");
    drop(silent);
    let sb = Sandbox::new("msg-defer");
    let out = compile_on(&sb, d.port, "gcc", "out/u.o");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    d.wait_log("util.c");
}
