//! distccd's stats port with real gcc through our client: 3.4's plain-text page, `/json` and
//! `/metrics` count what the build did (ok, compile errors, refusals by reason), running jobs
//! show while gcc runs, silent and non-HTTP clients get 3.4's page, and the access list
//! applies to the stats port. Also the client's own `--show-stats` / `--zero-stats`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{DeadPort, OurDaemon, TempDir, free_port, free_port_pair, require};

pub use crate::http::{http_get, json_number, raw};

/// The value on 3.4's page for `name`.
pub fn page_value(page: &str, name: &str) -> String {
    page.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing from {page}"))
        .to_owned()
}

/// Our daemon with `--stats` on a free port; returns it and the stats port.
pub fn daemon_with_stats(jobs: u32, extra: &[&str]) -> (OurDaemon, u16) {
    let sp = free_port();
    let sps = sp.to_string();
    let jobs = jobs.to_string();
    let mut args = vec![
        "--stats",
        "--stats-port",
        sps.as_str(),
        "--jobs",
        jobs.as_str(),
    ];
    args.extend_from_slice(extra);
    let d = OurDaemon::start(&args);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", sp)).is_err() {
        assert!(Instant::now() < deadline, "stats port {sp} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (d, sp)
}

/// A C file that keeps gcc -O2 busy for a few seconds.
pub fn slow_source(functions: usize) -> String {
    let mut s = String::new();
    for i in 0..functions {
        s.push_str(&format!(
            "int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) s += a[j] * {i} ^ (s >> 3); return s; }}\n"
        ));
    }
    s
}

/// Our client compiling in `dir` with its own `DISTCC_DIR`.
pub fn distcc(dir: &Path, hosts: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_distcc"));
    c.args(args)
        .current_dir(dir)
        .env("DISTCC_HOSTS", hosts)
        .env("DISTCC_DIR", dir.join(".distcc"))
        .env("DISTCC_LOG", dir.join("distcc.log"))
        .env("DISTCC_VERBOSE", "1")
        // Counted jobs and bytes: every compile reaches the daemon, none from the cache.
        .env("DISTCC_CACHE", "0")
        .env_remove("DISTCC_FALLBACK")
        .env_remove("DISTCC_SKIP_LOCAL_RETRY")
        .env_remove("_DISTCC_SAFEGUARD");
    c
}

fn run(mut c: Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("running {c:?}: {e}"))
}

fn write_files(dir: &Path, n: usize) {
    for i in 0..n {
        std::fs::write(
            dir.join(format!("ok{i}.c")),
            format!("int value{i}(int x) {{ return x * {i}; }}\n"),
        )
        .unwrap();
    }
    std::fs::write(dir.join("broken.c"), "int f(void) { return 1 }\n").unwrap();
}

#[test]
fn stats_pages_count_a_real_build() {
    if !require(&["gcc", "clang"]) {
        return;
    }
    let (d, sp) = daemon_with_stats(2, &[]);
    let work = TempDir::new("stats-build");
    let hosts = format!("127.0.0.1:{}/2", d.port);
    write_files(work.path(), 5);
    for i in 0..5 {
        let src = format!("ok{i}.c");
        let out = run(distcc(work.path(), &hosts, &["gcc", "-c", &src]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A compile error: counted as such by the daemon (the client then retries locally).
    let out = run(distcc(work.path(), &hosts, &["gcc", "-c", "broken.c"]));
    assert!(!out.status.success());
    // clang is not on this daemon's allow-list: refused, by reason "compiler".
    let out = run(distcc(
        work.path(),
        &hosts,
        &["clang", "-c", "ok0.c", "-o", "c.o"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Logs (and stats) are written after the reply; wait for the last job's line.
    d.wait_log("refused");

    let (head, json) = http_get(sp, "/json");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert_eq!(json_number(&json, "compile_ok"), 5, "{json}");
    assert_eq!(json_number(&json, "compile_error"), 1, "{json}");
    assert_eq!(json_number(&json, "compiler"), 1, "{json}");
    assert_eq!(json_number(&json, "refused"), 1, "{json}");
    assert!(json_number(&json, "tcp_accept") >= 7, "{json}");
    assert!(json_number(&json, "bytes_in") > 0 && json_number(&json, "bytes_out") > 0);
    assert!(json.contains("\"running\":[]"), "{json}");
    // Per compiler, under the name the client sent (ours renames gcc to the target's gcc).
    assert!(
        json.contains("gcc\":{\"ok\":5,\"error\":1,\"other\":0}"),
        "{json}"
    );

    let (head, metrics) = http_get(sp, "/metrics");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(
        metrics.contains("\ndistccd_jobs_total{result=\"ok\"} 5\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\ndistccd_jobs_total{result=\"compile_error\"} 1\n"));
    assert!(metrics.contains("\ndistccd_refused_total{reason=\"compiler\"} 1\n"));
    assert!(metrics.contains("\ndistccd_job_slots 2\n"));

    // 3.4's page, for any path and for a plain GET of /.
    for path in ["/", "/anything"] {
        let (head, page) = http_get(sp, path);
        assert_eq!(
            head,
            "HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close"
        );
        assert!(page.starts_with("argv /distccd\n<distccstats>\n"), "{page}");
        assert!(page.ends_with("</distccstats>\n"), "{page}");
        assert_eq!(page_value(&page, "dcc_compile_ok"), "5");
        assert_eq!(page_value(&page, "dcc_compile_error"), "1");
        assert_eq!(page_value(&page, "dcc_other"), "1");
        assert_eq!(page_value(&page, "dcc_max_kids"), "2");
        assert_eq!(page_value(&page, "dcc_num_compiles1"), "6");
        assert!(page_value(&page, "dcc_free_space").ends_with(" MB"));
        assert!(page_value(&page, "dcc_longest_job").starts_with("ok"));
    }
    eprintln!("3.4 page:\n{}", http_get(sp, "/").1);

    // The client's side of the same build.
    let show = |args: &[&str]| {
        let out = run(distcc(work.path(), &hosts, args));
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // A host that is down: a backoff and a fallback, both by reason.
    let dead = DeadPort::new();
    let down = format!("127.0.0.1:{}/1", dead.port);
    let out = run(distcc(
        work.path(),
        &down,
        &["gcc", "-c", "ok1.c", "-o", "d.o"],
    ));
    assert!(out.status.success(), "{out:?}");
    let text = show(&["--show-stats"]);
    eprintln!("{text}");
    let host_line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&hosts))
        .unwrap_or_else(|| panic!("no line for {hosts}: {text}"));
    let cols: Vec<&str> = host_line.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["5", "1"], "{host_line}");
    assert!(text.contains("compiles                   8"), "{text}");
    assert!(
        text.contains("retry after a remote compile error"),
        "{text}"
    );
    // The clang job went in protocol 4 (the first reply advertised it): refused with
    // RSLT 301, so no backoff, and the fallback says why.
    assert!(text.contains("the host lacks this compiler"), "{text}");
    assert!(!text.contains("the server failed"), "{text}");
    assert!(text.contains(&format!("{down}: connect failed")), "{text}");
    assert!(text.contains("fallbacks to local by reason"), "{text}");
    assert!(show(&["--zero-stats"]).is_empty());
    assert!(show(&["--show-stats"]).contains("nothing recorded yet"));
}

#[test]
fn running_jobs_are_listed_while_gcc_runs() {
    if !require(&["gcc"]) {
        return;
    }
    let (d, sp) = daemon_with_stats(2, &[]);
    let work = TempDir::new("stats-running");
    std::fs::write(work.path().join("slow.c"), slow_source(3000)).unwrap();
    let hosts = format!("127.0.0.1:{}/2", d.port);
    let mut child = distcc(work.path(), &hosts, &["gcc", "-O2", "-c", "slow.c"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let (_, json) = http_get(sp, "/json");
        if json.contains("\"file\":\"slow.c\",\"phase\":\"compiling\"") {
            break json;
        }
        assert!(
            Instant::now() < deadline,
            "slow.c never showed as compiling: {json}"
        );
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the compile ended ({st}) before it was seen running: {json}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(seen.contains("gcc\",\"file\":\"slow.c\""), "{seen}");
    assert_eq!(json_number(&seen, "busy"), 1, "{seen}");
    let (_, metrics) = http_get(sp, "/metrics");
    assert!(
        metrics.contains("distccd_jobs_running{phase=\"compiling\"} 1\n"),
        "{metrics}"
    );
    assert!(child.wait().unwrap().success());
    d.wait_log("slow.c exit 0");
    let (_, json) = http_get(sp, "/json");
    assert!(json.contains("\"running\":[]"), "{json}");
    assert!(
        json.contains("\"longest_job\":{\"file\":\"slow.c\""),
        "{json}"
    );
    let (_, page) = http_get(sp, "/");
    assert_eq!(page_value(&page, "dcc_longest_job"), "slow.c");
    assert!(page_value(&page, "dcc_longest_job_compiler").ends_with("gcc"));
    assert!(
        page_value(&page, "dcc_longest_job_time_msecs")
            .parse::<u64>()
            .unwrap()
            > 50
    );
}

#[test]
fn silent_and_non_http_clients_get_3_4s_page() {
    let (_d, sp) = daemon_with_stats(1, &[]);
    for req in [&b""[..], b"hello\n", b"\xff\xfe\x00garbage\r\n\r\n"] {
        let t = String::from_utf8(raw(sp, req)).unwrap();
        assert!(
            t.starts_with("HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close\n\nargv /distccd\n<distccstats>\n"),
            "{req:?}: {t}"
        );
    }
    let (head, page) = http_get(sp, "/dashboard");
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert!(page.contains("fetch(\"/json\""), "{page}");
    // HEAD gets the headers alone.
    let t = String::from_utf8(raw(sp, b"HEAD /json HTTP/1.1\r\n\r\n")).unwrap();
    assert!(t.ends_with("\r\n\r\n"), "{t}");
    assert!(t.contains("Content-Length: "), "{t}");
}

#[test]
fn the_stats_port_obeys_the_access_list() {
    // Listening on loopback but allowing only another loopback address: we are refused.
    let sp = free_port();
    let d = OurDaemon::start_in(
        None,
        "127.0.0.1",
        &["127.0.0.2/32"],
        None,
        &["--stats", "--stats-port", &sp.to_string()],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", sp)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(b"GET /json HTTP/1.1\r\n\r\n");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            break out;
        }
        assert!(Instant::now() < deadline, "stats port never opened");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    d.wait_log("stats request from 127.0.0.1");
}

#[test]
fn a_stats_port_in_use_fails_start_up_with_102() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sp = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_distccd"))
        .args([
            "--daemon",
            "--no-detach",
            "--log-stderr",
            "--listen",
            "127.0.0.1",
        ])
        .args(["--allow", "127.0.0.1", "--port", &free_port().to_string()])
        .args(["--stats", "--stats-port", &sp.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(102), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stats port"));
}

/// Our distccd on `port` with its stats port on `port + 1` (the farm view's default pairing),
/// killed when dropped.
/// The daemon, and its directory (removed after it).
struct PairedDaemon(std::process::Child, #[allow(dead_code)] TempDir);

impl PairedDaemon {
    fn start() -> (PairedDaemon, u16) {
        let dir = TempDir::new("farm-daemon");
        let allow = dir.path().join("allow");
        std::fs::create_dir(&allow).unwrap();
        for name in ["gcc", "cc", "x86_64-linux-gnu-gcc"] {
            std::os::unix::fs::symlink("/usr/bin/distcc", allow.join(name)).unwrap();
        }
        for _ in 0..50 {
            let port = free_port_pair();
            let mut child = Command::new(env!("CARGO_BIN_EXE_distccd"))
                .args(["--daemon", "--no-detach", "--listen", "127.0.0.1"])
                .args(["--allow", "127.0.0.1/32", "--jobs", "2", "--stats"])
                .args(["--port", &port.to_string()])
                .args(["--stats-port", &(port + 1).to_string()])
                .arg("--allowed-compilers")
                .arg(&allow)
                .arg("--log-file")
                .arg(dir.path().join("log"))
                .env("TMPDIR", dir.path())
                .stdin(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                    return (PairedDaemon(child, dir), port);
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free pair of ports for a daemon");
    }
}

impl Drop for PairedDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn farm_view_shows_busy_idle_and_backed_off_hosts() {
    if !require(&["gcc"]) {
        return;
    }
    let (_a, pa) = PairedDaemon::start();
    let (_b, pb) = PairedDaemon::start();
    // Down for the whole test, its stats port (the farm view asks `down + 1`) too.
    let dead = DeadPort::with_stats_port();
    let down = dead.port;
    let work = TempDir::new("farm");
    std::fs::write(work.path().join("farm_slow.c"), slow_source(4000)).unwrap();
    std::fs::write(work.path().join("x.c"), "int x;\n").unwrap();
    let (ha, hb, hc) = (
        format!("127.0.0.1:{pa}/2"),
        format!("127.0.0.1:{pb}/2"),
        format!("127.0.0.1:{down}/2"),
    );
    // The down host gets backed off by a real failure (the compile falls back to local).
    let out = run(distcc(work.path(), &hc, &["gcc", "-c", "x.c"]));
    assert!(out.status.success(), "{out:?}");
    let mut slow = distcc(work.path(), &ha, &["gcc", "-O2", "-c", "farm_slow.c"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_get(pa + 1, "/json").1.contains("farm_slow.c") {
        assert!(Instant::now() < deadline, "the slow job never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_distcc-farm"))
        .env("DISTCC_HOSTS", format!("{ha} {hb} {hc}"))
        .env("DISTCC_DIR", work.path().join(".distcc"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    assert!(out.status.success(), "{out:?}");
    let line = |spec: &str| {
        text.lines()
            .find(|l| l.starts_with(spec))
            .unwrap_or_else(|| panic!("no line for {spec}: {text}"))
            .to_owned()
    };
    let a = line(&ha);
    assert!(a.contains(" up ") && a.contains("1/2"), "{a}");
    assert!(
        a.contains("farm_slow.c (") && a.contains("compiling"),
        "{a}"
    );
    let b = line(&hb);
    assert!(
        b.contains(" up ") && b.contains("0/2") && b.ends_with(" -"),
        "{b}"
    );
    let c = line(&hc);
    assert!(
        c.contains("backed off") && c.contains("(connect failed)"),
        "{c}"
    );
    assert!(c.to_lowercase().contains("refused"), "{c}");
    assert!(
        text.contains("3 hosts: 2 answering, 1 backed off; 1/4 slots busy"),
        "{text}"
    );
    let _ = slow.kill();
    let _ = slow.wait();
}
