//! Seeing into the farm during a real build: libgit2 built by our client through two of our
//! daemons (`--stats`), whose `/json` and `/metrics` are read while it runs and whose `ok`
//! counts must add up to the objects built; our `distccmon-text` lists the running jobs of
//! our client during that build, and separately those of Debian's 3.4 client.

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{http_get, json_number};
use crate::libgit2::{PLAIN_LAUNCHER, configure, libgit2_source};
use crate::support::{Daemon, Impl, TempDir, free_port, require};

/// A process killed when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of `GET path` on `port`, which must answer 200.
fn get(port: u16, path: &str) -> String {
    let (head, body) = http_get(port, path);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from {text}"))
}

/// Two of our daemons with the stats port on, and their stats ports.
fn stats_daemons() -> Vec<(Daemon, u16)> {
    (0..2)
        .map(|_| {
            let sp = free_port();
            let d =
                Daemon::start_with(Impl::Ours, 2, &["--stats", "--stats-port", &sp.to_string()]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect(("127.0.0.1", sp)).is_err() {
                assert!(Instant::now() < deadline, "stats port never opened");
                std::thread::sleep(Duration::from_millis(20));
            }
            (d, sp)
        })
        .collect()
}

/// Our `distccmon-text` once, for `distcc_dir`: its lines.
fn monitor_lines(distcc_dir: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_distccmon-text"))
        .env("DISTCC_DIR", distcc_dir)
        .stdin(Stdio::null())
        .output()
        .expect("running distccmon-text");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn objects(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += objects(&p);
        } else if p.extension().is_some_and(|x| x == "o") {
            n += 1;
        }
    }
    n
}

#[test]
fn libgit2_through_two_daemons_adds_up_in_their_stats() {
    if !require(&["cmake", "make", "gcc"]) {
        return;
    }
    let Some(source) = libgit2_source() else {
        return;
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libgit2-stats");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let build = configure(&source, &dir, "Release", PLAIN_LAUNCHER);

    let daemons = stats_daemons();
    let hosts = daemons
        .iter()
        .map(|(d, _)| d.host(true, 2))
        .collect::<Vec<_>>()
        .join(" ");
    let state = TempDir::new("stats-distcc-dir");
    let started = Instant::now();
    let mut make = Reaper(
        Command::new("make")
            .arg("-C")
            .arg(&build)
            .arg("-j4")
            .env("LAUNCH", env!("CARGO_BIN_EXE_distcc"))
            .env("DISTCC_HOSTS", &hosts)
            .env("DISTCC_DIR", state.path())
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env_remove("DISTCC_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting make"),
    );
    // While it builds: both daemons' JSON and metrics, and our monitor's view of our client.
    let (mut polls, mut most_running, mut monitor_seen) = (0u32, 0u64, Vec::new());
    let mut busy_on = [false; 2];
    let status = loop {
        if let Some(st) = make.0.try_wait().unwrap() {
            break st;
        }
        for (i, (_, sp)) in daemons.iter().enumerate() {
            let json = get(*sp, "/json");
            let busy = json_number(&json, "busy");
            busy_on[i] |= busy > 0;
            most_running = most_running.max(busy);
            let metrics = get(*sp, "/metrics");
            let compiling = metric(&metrics, "distccd_jobs_running{phase=\"compiling\"}");
            assert!(compiling <= 2, "more compiles than --jobs 2: {compiling}");
        }
        polls += 1;
        if monitor_seen.len() < 5 {
            monitor_seen.extend(
                monitor_lines(state.path())
                    .into_iter()
                    .filter(|l| l.contains(".c") && l.contains("127.0.0.1")),
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    let _ = make.0.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert!(status.success(), "make failed: {err}");
    let built = objects(&build);
    assert!(built > 150, "only {built} objects");

    let oks: Vec<u64> = daemons
        .iter()
        .map(|(_, sp)| json_number(&get(*sp, "/json"), "compile_ok"))
        .collect();
    let from_metrics: Vec<u64> = daemons
        .iter()
        .map(|(_, sp)| metric(&get(*sp, "/metrics"), "distccd_jobs_total{result=\"ok\"}"))
        .collect();
    eprintln!(
        "libgit2: {built} objects in {:.1} s; ok per daemon {oks:?} (metrics {from_metrics:?}); \
         {polls} polls, at most {most_running} compiling on one daemon; monitor lines seen: {}",
        started.elapsed().as_secs_f64(),
        monitor_seen.len()
    );
    assert_eq!(
        oks.iter().sum::<u64>(),
        built as u64,
        "ok jobs {oks:?} != {built} objects"
    );
    assert_eq!(oks, from_metrics, "JSON and metrics disagree");
    assert!(
        oks.iter().all(|n| *n > 0),
        "one daemon got no jobs: {oks:?}"
    );
    assert!(
        busy_on.iter().all(|b| *b),
        "a daemon was never seen busy: {busy_on:?}"
    );
    for (_, sp) in &daemons {
        let json = get(*sp, "/json");
        assert_eq!(json_number(&json, "compile_error"), 0, "{json}");
        assert_eq!(json_number(&json, "refused"), 0, "{json}");
        assert!(json.contains("\"running\":[]"), "{json}");
    }
    assert!(
        !monitor_seen.is_empty(),
        "our distccmon-text never listed a job of our client during the build"
    );
    eprintln!("monitor, our client: {}", monitor_seen[0]);
}

#[test]
fn our_monitor_and_stats_list_jobs_of_the_3_4_client() {
    if !require(&["distcc", "gcc"]) {
        return;
    }
    let daemons = stats_daemons();
    let work = TempDir::new("stats34");
    let state = work.path().join("distcc");
    std::fs::create_dir(&state).unwrap();
    let mut src = String::new();
    for i in 0..5000 {
        src.push_str(&format!(
            "int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) s += a[j] * {i} ^ (s >> 3); return s; }}\n"
        ));
    }
    std::fs::write(work.path().join("slow34.c"), src).unwrap();
    let (d, sp) = &daemons[0];
    let client = Reaper(
        Command::new("distcc")
            .args(["gcc", "-O2", "-c", "slow34.c", "-o", "slow34.o"])
            .current_dir(work.path())
            .env("DISTCC_DIR", &state)
            .env("DISTCC_HOSTS", d.host(false, 2))
            .env("DISTCC_FALLBACK", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting distcc 3.4"),
    );
    let pid = client.0.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let lines = monitor_lines(&state);
        if let Some(l) = lines
            .iter()
            .find(|l| l.trim_start().starts_with(&pid) && l.contains("Compile"))
        {
            break l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "our distccmon-text never showed 3.4's job compiling: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        line.contains("slow34.c") && line.contains("127.0.0.1[0]"),
        "{line}"
    );
    let json = get(*sp, "/json");
    assert!(
        json.contains("\"file\":\"slow34.c\",\"phase\":\"compiling\""),
        "the daemon's stats do not show 3.4's job: {json}"
    );
    eprintln!("monitor, 3.4's client: {line}");
}
