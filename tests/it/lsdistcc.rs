//! `lsdistcc` against real daemons on loopback: two of Debian's distccd 3.4 listening on
//! 127.0.0.2 and 127.0.0.3 (one port, as lsdistcc probes one port on many hosts), and
//! 127.0.0.4 with nothing listening. Our output is compared with 3.4's own lsdistcc.
//! Only loopback addresses are ever probed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const UP: [&str; 2] = ["127.0.0.2", "127.0.0.3"];
const DOWN: &str = "127.0.0.4";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True when `tool` is installed; under `CI=true` its absence is a failure.
fn have(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    if !found {
        assert!(!ci(), "CI=true and {tool} is not installed");
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lsdistcc"))
}

/// Two distccd 3.4 on one port, killed when dropped.
struct Farm {
    port: u16,
    daemons: Vec<Child>,
    _logs: PathBuf,
}

impl Farm {
    fn start() -> Farm {
        let logs = std::env::temp_dir().join(format!("distcc-rs-lsdistcc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs).unwrap();
        // A test port (below the ephemeral range, given to this process alone) free on every
        // address the test uses.
        let port = (0..50)
            .map(|_| crate::support::free_port())
            .find(|&p| {
                UP.iter()
                    .chain([&DOWN])
                    .all(|a| TcpListener::bind((*a, p)).is_ok())
            })
            .expect("a port free on 127.0.0.1-4");
        let daemons = UP
            .iter()
            .map(|addr| {
                let log = std::fs::File::create(logs.join(format!("{addr}.log"))).unwrap();
                Command::new("distccd")
                    .args(["--daemon", "--no-detach", "--log-stderr"])
                    .args(["--port", &port.to_string(), "--listen", addr])
                    .args(["--allow", "127.0.0.0/8", "--jobs", "2"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("starting distccd 3.4")
            })
            .collect();
        let mut farm = Farm {
            port,
            daemons,
            _logs: logs,
        };
        for (addr, d) in UP.iter().zip(&mut farm.daemons) {
            let deadline = Instant::now() + Duration::from_secs(15);
            while TcpStream::connect((*addr, port)).is_err() {
                if let Ok(Some(st)) = d.try_wait() {
                    panic!("distccd on {addr} exited at start-up ({st})");
                }
                assert!(Instant::now() < deadline, "distccd on {addr} did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        farm
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            // distccd 3.4 makes itself a process-group leader and preforks workers into that
            // group; killing only the parent would leave the workers listening.
            if let Ok(pid) = libc::pid_t::try_from(d.id()) {
                // SAFETY: kill has no memory effects; the group is the daemon's own.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = std::fs::remove_dir_all(&self._logs);
    }
}

struct Run {
    code: i32,
    lines: Vec<String>,
    elapsed: Duration,
}

fn lsdistcc(program: &Path, args: &[String]) -> Run {
    let t = Instant::now();
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running lsdistcc");
    let elapsed = t.elapsed();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    Run {
        code: out.status.code().unwrap_or(-1),
        lines,
        elapsed,
    }
}

fn args(extra: &[&str], port: u16, hosts: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    a.push(format!("-r{port}"));
    a.extend(hosts.iter().map(|s| s.to_string()));
    a
}

#[test]
fn finds_the_two_daemons_and_not_the_down_host_like_3_4() {
    if !have("distccd") || !have("lsdistcc") {
        return;
    }
    let farm = Farm::start();
    let hosts = [UP[0], DOWN, UP[1]];

    let up: Vec<String> = UP.iter().map(|a| format!("{a}:{}", farm.port)).collect();
    let run = lsdistcc(ours(), &args(&[], farm.port, &hosts));
    assert_eq!(run.code, 0);
    assert_eq!(run.lines, up);
    eprintln!("lsdistcc: 2 up, 1 down found in {:?}", run.elapsed);
    // The default connect timeout is 0.9 s; a refused connect must not wait for it.
    assert!(
        run.elapsed < Duration::from_millis(900),
        "{:?}",
        run.elapsed
    );

    let theirs = lsdistcc(Path::new("lsdistcc"), &args(&[], farm.port, &hosts));
    assert_eq!(theirs.lines, run.lines, "3.4's lsdistcc disagrees");

    // -x lists the down host too; -P2 adds 3.4's ",lzo" suffix.
    let run = lsdistcc(ours(), &args(&["-x", "-P2"], farm.port, &hosts));
    let p = farm.port;
    assert_eq!(
        run.lines,
        [
            format!("127.0.0.2:{p},lzo"),
            format!("127.0.0.3:{p},lzo"),
            format!("127.0.0.4:{p},lzo,down")
        ]
    );
    let theirs = lsdistcc(
        Path::new("lsdistcc"),
        &args(&["-x", "-P2"], farm.port, &hosts),
    );
    assert_eq!(theirs.lines, run.lines, "3.4's lsdistcc disagrees");

    // -l appends a latency in milliseconds.
    let run = lsdistcc(ours(), &args(&["-l"], farm.port, &hosts));
    assert_eq!(run.lines.len(), 2);
    for (line, host) in run.lines.iter().zip(&up) {
        let (name, ms) = line.split_once(' ').expect("a latency after the name");
        assert_eq!(name, host);
        assert!(ms.parse::<u64>().is_ok(), "{line}");
    }
}

#[test]
fn a_pattern_walks_loopback_addresses() {
    if !have("distccd") {
        return;
    }
    let farm = Farm::start();
    // 127.0.0.1 … 127.0.0.255 are probed; "127.0.0.256" is not an address and ends the walk
    // without any DNS query.
    let run = lsdistcc(ours(), &[format!("-r{}", farm.port), "127.0.0.%d".into()]);
    assert_eq!(run.code, 0);
    let up: Vec<String> = UP.iter().map(|a| format!("{a}:{}", farm.port)).collect();
    assert_eq!(run.lines, up);
    eprintln!(
        "lsdistcc: pattern over 255 loopback addresses in {:?}",
        run.elapsed
    );
}

#[test]
fn compile_test_passes_with_gcc_and_fails_with_a_missing_compiler() {
    if !have("distccd") || !have("gcc") || !have("lsdistcc") {
        return;
    }
    let farm = Farm::start();
    for proto in ["-P1", "-P2", "-P3"] {
        let run = lsdistcc(ours(), &args(&[proto, "-pgcc", "-k5000"], farm.port, &UP));
        assert_eq!(run.code, 0, "{proto}");
        assert_eq!(run.lines.len(), 2, "{proto}: {:?}", run.lines);
        let theirs = lsdistcc(
            Path::new("lsdistcc"),
            &args(&[proto, "-pgcc", "-k5000"], farm.port, &UP),
        );
        assert_eq!(theirs.lines, run.lines, "{proto}: 3.4's lsdistcc disagrees");
    }
    // distccd 3.4 refuses a compiler that is not allow-listed by closing the connection.
    let run = lsdistcc(
        ours(),
        &args(&["-pno-such-compiler-xyz", "-x"], farm.port, &UP),
    );
    assert_eq!(run.code, 1);
    let p = farm.port;
    assert_eq!(
        run.lines,
        [format!("127.0.0.2:{p},down"), format!("127.0.0.3:{p},down")]
    );
}

#[test]
fn help_prints_usage_and_exits_zero() {
    let out = Command::new(ours())
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .expect("running lsdistcc --help");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("Usage: lsdistcc"), "{stdout}");
    assert!(!stderr.contains("bad option"), "{stderr}");
}
