//! Our include server (`include-server --foreground`) spoken to over its unix socket with
//! 3.4's exact exchange, against real gcc headers: search rules, caches, give-ups, and the
//! file set compared with what `gcc -M` lists for every source of libgit2.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::corpus::libgit2_source;
use crate::support::{TempDir, require};

pub(crate) struct Server {
    child: Child,
    pub(crate) socket: PathBuf,
    _dir: TempDir,
}

impl Server {
    pub(crate) fn start() -> Server {
        Server::start_with(&[])
    }

    /// As `start`, with 3.4's `options`; stderr goes to the file `stderr()` reads.
    pub(crate) fn start_with(options: &[&str]) -> Server {
        let dir = TempDir::new("incserver");
        let socket = dir.path().join("socket");
        let err = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_include-server"))
            .arg("--port")
            .arg(&socket)
            .arg("--foreground")
            .args(options)
            .stdin(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("starting include-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "include-server made no socket");
            std::thread::sleep(Duration::from_millis(10));
        }
        Server {
            child,
            socket,
            _dir: dir,
        }
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM) and waits for it.
    pub(crate) fn stop(&mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }

    /// The raw names of one request.
    pub(crate) fn ask(&self, cwd: &Path, argv: &[String]) -> Vec<String> {
        use proto::include_server::{Caps, encode_request, read_reply};
        let req = encode_request(cwd.as_os_str().as_encoded_bytes(), argv);
        // The socket file appears at bind(), a moment before listen(): retry a refusal.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match UnixStream::connect(&self.socket) {
                Ok(s) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    assert!(Instant::now() < deadline, "include-server never listened");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("connecting to include-server: {e}"),
            }
        };
        std::io::Write::write_all(&mut s, &req).unwrap();
        read_reply(&mut s, &Caps::reply(&proto::Limits::DEFAULT))
            .expect("a reply")
            .into_iter()
            .map(|n| String::from_utf8(n).expect("a UTF-8 name"))
            .collect()
    }

    /// The client's names (3.4's `dcc_get_original_fname`) of the files (not links) sent.
    fn files(&self, cwd: &Path, argv: &[String]) -> BTreeSet<PathBuf> {
        self.ask(cwd, argv)
            .iter()
            .filter(|n| {
                !std::fs::symlink_metadata(n)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            })
            .map(|n| original(n))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn original(name: &str) -> PathBuf {
    let rest: String = name.splitn(5, '/').nth(4).map(|r| format!("/{r}")).unwrap();
    let rest = rest.strip_suffix(".abs").unwrap_or(&rest);
    PathBuf::from(rest.strip_suffix(".lzo").unwrap_or(rest))
}

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn project() -> TempDir {
    let t = TempDir::new("incserver-proj");
    let d = t.path();
    write(d, "inc/util.h", "#include_next <util.h>\n");
    write(d, "inc2/util.h", "#define U 2\n");
    write(
        d,
        "inc3/util.h",
        "#error never reached: include_next stops at inc2\n",
    );
    write(d, "quote/q.h", "#include \"../shared/up.h\"\n");
    write(d, "shared/up.h", "#define UP 4\n");
    write(d, "sys/s.h", "#include <stddef.h>\n");
    write(d, "real/linked.h", "#define L 6\n");
    std::os::unix::fs::symlink("real", d.join("linkdir")).unwrap();
    write(d, "cfg/config_linux.h", "#define CFG 7\n");
    write(
        d,
        "src/a.c",
        "#include <stdio.h>\n#include <util.h>\n#include \"q.h\"\n#include <s.h>\n#include <linked.h>\n\
         #if 0\n#include \"does_not_exist.h\"\n#endif\n#define PLATFORM_HEADER(x) STR(config_##x.h)\n\
         #define STR(x) #x\n#include PLATFORM_HEADER(linux)\nint a;\n",
    );
    t
}

fn a_argv(d: &Path) -> Vec<String> {
    argv(&format!(
        "gcc -O2 -Iinc -Iinc2 -Iinc3 -iquote quote -isystem sys -I{}/linkdir -Icfg -c src/a.c -o a.o",
        d.display()
    ))
}

#[test]
fn include_server_follows_gcc_search_rules() {
    if !require(&["gcc"]) {
        return;
    }
    let t = project();
    let d = std::fs::canonicalize(t.path()).unwrap();
    let s = Server::start();
    let names = s.ask(&d, &a_argv(&d));
    let files: BTreeSet<PathBuf> = s.files(&d, &a_argv(&d));
    for want in [
        "src/a.c",
        "inc/util.h",
        "inc2/util.h",
        "quote/q.h",
        "shared/up.h",
        "sys/s.h",
        "real/linked.h",
        "cfg/config_linux.h",
    ] {
        assert!(
            files.contains(&d.join(want)),
            "{want} missing from {files:?}"
        );
    }
    assert!(
        !files.contains(&d.join("inc3/util.h")),
        "include_next went past inc2: {files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("/usr/include")),
        "system headers sent: {files:?}"
    );
    // The symlinked -I directory is mirrored as a link to its realpath; system dirs are links.
    let links: Vec<(PathBuf, PathBuf)> = names
        .iter()
        .filter(|n| {
            std::fs::symlink_metadata(n)
                .unwrap()
                .file_type()
                .is_symlink()
        })
        .map(|n| (original(n), std::fs::read_link(n).unwrap()))
        .collect();
    assert!(
        links.contains(&(d.join("linkdir"), d.join("real"))),
        "{links:?}"
    );
    assert!(
        links.iter().any(|(n, t)| n == Path::new("/usr/include")
            && t.to_string_lossy().ends_with("../usr/include")),
        "{links:?}"
    );
    // Every file is 3.4's compressed copy of the original (absolute names get a #line).
    for n in names
        .iter()
        .filter(|n| n.ends_with(".lzo") || n.ends_with(".lzo.abs"))
    {
        let packed = std::fs::read(n).unwrap();
        let text = proto::lzo::decompress(&packed, 1 << 20).unwrap();
        let orig = std::fs::read(original(n)).unwrap();
        assert!(text.ends_with(&orig), "{n} is not a copy of its original");
    }
}

#[test]
fn include_server_notices_an_edited_header() {
    if !require(&["gcc"]) {
        return;
    }
    let t = project();
    let d = std::fs::canonicalize(t.path()).unwrap();
    let s = Server::start();
    let first = s.files(&d, &a_argv(&d));
    assert!(!first.contains(&d.join("shared/new.h")));
    // Edit a header (same size class, new mtime) to include a new file.
    std::thread::sleep(Duration::from_millis(20));
    write(&d, "shared/new.h", "#define NEW 1\n");
    write(&d, "shared/up.h", "#include \"new.h\"\n#define UP 4\n");
    let second = s.files(&d, &a_argv(&d));
    assert!(
        second.contains(&d.join("shared/new.h")),
        "edit not seen: {second:?}"
    );
    let copy = s
        .ask(&d, &a_argv(&d))
        .into_iter()
        .find(|n| original(n) == d.join("shared/up.h"))
        .unwrap();
    let text = proto::lzo::decompress(&std::fs::read(copy).unwrap(), 1 << 20).unwrap();
    assert!(
        String::from_utf8_lossy(&text).contains("new.h"),
        "stale compressed copy"
    );
}

#[test]
fn include_server_gives_up_as_34_does() {
    if !require(&["gcc"]) {
        return;
    }
    let t = project();
    let d = std::fs::canonicalize(t.path()).unwrap();
    write(
        &d,
        "src/bad.c",
        "#define H HEADER_NAME_NOT_DEFINED\n#include H\n",
    );
    let s = Server::start();
    assert!(
        s.ask(&d, &argv("gcc -c src/bad.c")).is_empty(),
        "unresolvable computed include"
    );
    assert!(
        s.ask(&d, &argv("gcc -c src/a.c src/bad.c")).is_empty(),
        "two sources"
    );
    assert!(
        s.ask(&d, &argv("gcc -c src/missing.c")).is_empty(),
        "missing source"
    );
    assert!(s.ask(&d, &argv("gcc -I- -c src/a.c")).is_empty(), "-I-");
    // And the server still answers afterwards.
    assert!(!s.ask(&d, &a_argv(&d)).is_empty());
}

/// `gcc -M`'s dependencies, realpaths, for one command (cwd `dir`).
fn gcc_deps(dir: &Path, args: &[String]) -> Vec<PathBuf> {
    let mut cmd: Vec<String> = Vec::new();
    let mut skip = false;
    for a in &args[1..] {
        if skip {
            skip = false;
            continue;
        }
        match a.as_str() {
            "-o" | "-MF" | "-MT" | "-MQ" => skip = true,
            "-c" | "-MD" | "-MMD" => {}
            _ => cmd.push(a.clone()),
        }
    }
    let out = Command::new(&args[0])
        .current_dir(dir)
        .arg("-M")
        .args(&cmd)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcc -M {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace("\\\n", " ");
    let deps = text
        .split_once(':')
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    deps.split_whitespace()
        .map(|p| std::fs::canonicalize(dir.join(p)).unwrap())
        .collect()
}

#[test]
fn include_server_covers_gcc_deps_for_all_of_libgit2() {
    if !require(&["gcc", "cmake"]) {
        return;
    }
    let Some(source) = libgit2_source() else {
        return;
    };
    let t = TempDir::new("incserver-libgit2");
    let build = t.path().join("build");
    let out = Command::new("cmake")
        .arg("-S")
        .arg(&source)
        .arg("-B")
        .arg(&build)
        .args([
            "-DCMAKE_BUILD_TYPE=Release",
            "-DBUILD_TESTS=OFF",
            "-DBUILD_CLI=OFF",
            "-DUSE_SSH=OFF",
        ])
        .args([
            "-DUSE_HTTPS=OFF",
            "-DUSE_BUNDLED_ZLIB=ON",
            "-DREGEX_BACKEND=builtin",
        ])
        .args([
            "-DUSE_HTTP_PARSER=builtin",
            "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
            "-DCMAKE_C_COMPILER=gcc",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cmake: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = std::fs::read_to_string(build.join("compile_commands.json")).unwrap();
    let s = Server::start();
    let system = ["/usr/include", "/usr/local/include", "/usr/lib/gcc"];
    let (mut units, mut sent) = (0, 0);
    for (dir, command) in compile_commands(&db) {
        // The shell splits the command as make would run it.
        let split = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for a in {command}; do printf '%s\\0' \"$a\"; done"
            ))
            .output()
            .unwrap();
        let args: Vec<String> = String::from_utf8_lossy(&split.stdout)
            .split('\0')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        let ours: BTreeSet<PathBuf> = s
            .files(&dir, &args)
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        assert!(!ours.is_empty(), "include server gave up on {args:?}");
        let missing: Vec<PathBuf> = gcc_deps(&dir, &args)
            .into_iter()
            .filter(|p| !system.iter().any(|s| p.starts_with(s)) && !ours.contains(p))
            .collect();
        assert!(
            missing.is_empty(),
            "{:?}: gcc -M lists {missing:?}, not sent",
            args.last()
        );
        units += 1;
        sent += ours.len();
    }
    assert!(units > 150, "only {units} compile commands");
    eprintln!(
        "include_server libgit2: {units} units, every gcc -M dependency covered, {:.1} files per unit",
        sent as f64 / units as f64
    );
}

/// (directory, command) of each entry of a compile_commands.json (cmake's layout: one key
/// per line, JSON string escapes for `"` and `\`).
fn compile_commands(db: &str) -> Vec<(PathBuf, String)> {
    let field = |line: &str, key: &str| -> Option<String> {
        let v = line.trim().strip_prefix(&format!("\"{key}\": \""))?;
        let v = v.trim_end_matches(',').strip_suffix('"')?;
        Some(v.replace("\\\"", "\"").replace("\\\\", "\\"))
    };
    let mut out = Vec::new();
    let mut dir = None;
    for line in db.lines() {
        if let Some(d) = field(line, "directory") {
            dir = Some(PathBuf::from(d));
        }
        if let (Some(c), Some(d)) = (field(line, "command"), dir.as_ref()) {
            out.push((d.clone(), c));
        }
    }
    out
}

/// `pump CMD` when it is itself a child subreaper (as under a build tool, a container's init
/// or a user's service manager that adopts orphans): the include server, which forks itself
/// away, is adopted by `pump` and, once stopped, stays a zombie that `pump` never reaps.
/// `pump` must see it as gone, not wait out its 20-second shutdown grace.
#[test]
fn pump_under_a_subreaper_does_not_wait_for_a_zombie_server() {
    use std::os::unix::process::CommandExt;
    let dir = TempDir::new("pump-subreaper");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pump"));
    cmd.arg("true")
        .env("TMPDIR", dir.path())
        .env("DISTCC_DIR", dir.path())
        // Nothing is compiled: the host is never contacted.
        .env("DISTCC_HOSTS", "127.0.0.1:1,cpp,lzo")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let out = cmd.output().expect("running pump");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "pump true failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The grace it must not wait out is 20 s; a healthy run takes well under a second.
    assert!(
        took < Duration::from_secs(10),
        "pump took {took:?} to stop an include server it had adopted"
    );
}

#[test]
fn include_server_options_of_3_4() {
    if !require(&["gcc"]) {
        return;
    }
    let t = TempDir::new("incserver-opts");
    let d = t.path();
    let abs = d.join("abs/fixed.h");
    write(d, "abs/fixed.h", "#define F 1\n");
    write(d, "include/h.h", "#define H 1\n");
    std::fs::create_dir_all(d.join("empty")).unwrap();
    write(
        d,
        "src/m.c",
        &format!(
            "#include \"h.h\"\n#ifdef NEVER\n#include \"{}\"\n#endif\nint m;\n",
            abs.display()
        ),
    );
    let cmd = argv("gcc -Iinclude -Iempty -c src/m.c");
    let is_forcing =
        |n: &String, dir: &str| n.ends_with(&format!("/{dir}/forcing_technique_271828"));

    // Default: an absolute include gives up (a warning says so); empty/ is forced to exist.
    let mut plain = Server::start();
    assert!(plain.ask(d, &cmd).is_empty());
    plain.stop();
    assert!(
        plain.stderr().contains("absolute include"),
        "{}",
        plain.stderr()
    );
    // A path through a directory nothing else needs: 3.4 makes it exist with a forcing file.
    write(
        d,
        "src/n.c",
        "#include \"../empty/../include/h.h\"\nint n;\n",
    );
    let ncmd = argv("gcc -Iinclude -c src/n.c");
    let forced = Server::start();
    let names = forced.ask(d, &ncmd);
    assert!(names.iter().any(|n| is_forcing(n, "empty")), "{names:?}");

    // --unsafe_absolute_includes: the closure without the absolute header, and a warning.
    let mut unsafe_abs = Server::start_with(&["--unsafe_absolute_includes"]);
    let names = unsafe_abs.ask(d, &cmd);
    let files: Vec<PathBuf> = names.iter().map(|n| original(n)).collect();
    assert!(files.contains(&d.join("include/h.h")), "{names:?}");
    assert!(!files.contains(&abs), "{names:?}");
    unsafe_abs.stop();
    assert!(
        unsafe_abs.stderr().contains("was IGNORED"),
        "{}",
        unsafe_abs.stderr()
    );

    // --no_force_dirs: no forcing file for empty/; -d0: no warnings; -t: times at exit.
    let mut quiet = Server::start_with(&["--no_force_dirs", "-d0", "-t"]);
    let names = quiet.ask(d, &ncmd);
    assert!(!names.is_empty());
    assert!(!names.iter().any(|n| is_forcing(n, "empty")), "{names:?}");
    assert!(quiet.ask(d, &cmd).is_empty(), "still gives up");
    quiet.stop();
    let err = quiet.stderr();
    assert!(!err.contains("WARNING"), "{err}");
    assert!(err.contains("include server timing: elapsed"), "{err}");

    // Accepted but not implemented: said at start-up; unknown options: usage, exit 1.
    let mut v = Server::start_with(&["-v", "--stat_reset_triggers=/x"]);
    v.stop();
    assert!(
        v.stderr().contains("-v (--verify) is not implemented here"),
        "{}",
        v.stderr()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_include-server"))
        .args(["--port", "/nonexistent/s", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --bogus"));
}
