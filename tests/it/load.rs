//! Load: several of our clients, each keeping 16 compiles in flight (`make -j16`), against
//! two of our daemons, for `DISTCC_LOAD_SECS` seconds (90 by default; CI runs the default).
//! Every second the daemons' VmRSS and open descriptors are sampled from /proc. Asserted:
//! every compile succeeds with the local build's bytes; every job is accounted for (the
//! daemons' `exit 0` log lines equal the clients' remote compiles, and nothing fell back);
//! memory and descriptors stay flat (the last third of the run peaks no higher than the
//! first third allows, and descriptors return to the idle count once the clients stop).
//! The figures are printed as `load:` lines.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{OurDaemon, TempDir, require};

const CLIENTS: usize = 3;
const PARALLEL: usize = 16;
const SOURCES: usize = 40;

fn source(i: usize) -> String {
    let mut s = format!("#include \"common.h\"\nstatic int t{i}[{}];\n", 16 + i);
    for f in 0..6 {
        s.push_str(&format!(
            "int f{i}_{f}(int x) {{ int a = x; for (int k = 0; k < {}; k++) a = mix(a, k + {f}); t{i}[x & 15] = a; return a; }}\n",
            3 + f
        ));
    }
    s
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// What each of `pid`'s descriptors is, for a failure message.
fn fd_targets(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let t = std::fs::read_link(e.path()).unwrap_or_default();
                    format!("{} -> {}", e.file_name().to_string_lossy(), t.display())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One client machine: its own DISTCC_DIR and log, 16 compiles in flight until `until`.
fn client(work: &Path, id: usize, hosts: &str, until: Instant) -> (usize, Vec<String>) {
    let dir = work.join(format!("client{id}"));
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let log = dir.join("distcc.log");
    let mut running: Vec<(Child, usize)> = Vec::new();
    let (mut done, mut failures, mut next) = (0usize, Vec::new(), id * 7);
    while Instant::now() < until || !running.is_empty() {
        while Instant::now() < until && running.len() < PARALLEL {
            let src = next % SOURCES;
            next += 1;
            let out = format!("client{id}/s{src}.o");
            let child = Command::new(env!("CARGO_BIN_EXE_distcc"))
                .args(["gcc", "-O1", "-c", &format!("s{src}.c"), "-o", &out])
                .current_dir(work)
                .env("DISTCC_HOSTS", hosts)
                .env("DISTCC_DIR", dir.join("distcc"))
                .env("DISTCC_LOG", &log)
                .env("DISTCC_VERBOSE", "1")
                .env("TMPDIR", dir.join("tmp"))
                // Every job accounted on a daemon: the same sources again are not hits.
                .env("DISTCC_CACHE", "0")
                .env_remove("DISTCC_FALLBACK")
                .env_remove("_DISTCC_SAFEGUARD")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting distcc");
            running.push((child, src));
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].0.try_wait() {
                Ok(Some(st)) => {
                    let (c, src) = running.swap_remove(i);
                    if st.success() {
                        done += 1;
                    } else {
                        let out = c.wait_with_output().map(|o| o.stderr).unwrap_or_default();
                        failures.push(format!("s{src}.c: {st}: {}", String::from_utf8_lossy(&out)));
                    }
                }
                _ => i += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (done, failures)
}

#[test]
fn clients_at_j16_against_two_daemons_stay_flat_and_account_for_every_job() {
    if !require(&["gcc"]) {
        return;
    }
    let secs: u64 = std::env::var("DISTCC_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(90);
    let work = TempDir::new("load");
    std::fs::write(
        work.path().join("common.h"),
        "static inline int mix(int a, int b) { return (a * 31) ^ (b << 3) ^ (a >> 5); }\n",
    )
    .unwrap();
    for i in 0..SOURCES {
        std::fs::write(work.path().join(format!("s{i}.c")), source(i)).unwrap();
    }
    let daemons = [
        OurDaemon::start(&["--jobs", "4"]),
        OurDaemon::start(&["--jobs", "4"]),
    ];
    let pids: Vec<u32> = daemons.iter().map(|d| d.pid()).collect();
    let idle_fds: Vec<usize> = pids.iter().map(|p| fds(*p)).collect();
    let hosts = format!(
        "127.0.0.1:{}/4 127.0.0.1:{}/4,lzo",
        daemons[0].port, daemons[1].port
    );
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let sampler = {
        let pids = pids.clone();
        std::thread::spawn(move || {
            let mut samples: Vec<(f64, Vec<u64>, Vec<usize>)> = Vec::new();
            while Instant::now() < until {
                samples.push((
                    start.elapsed().as_secs_f64(),
                    pids.iter().map(|p| rss_kib(*p)).collect(),
                    pids.iter().map(|p| fds(*p)).collect(),
                ));
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (w, h) = (work.path().to_path_buf(), hosts.clone());
            std::thread::spawn(move || client(&w, id, &h, until))
        })
        .collect();
    let mut total = 0;
    for c in clients {
        let (done, failures) = c.join().unwrap();
        assert!(failures.is_empty(), "failed compiles: {failures:#?}");
        total += done;
    }
    let samples = sampler.join().unwrap();
    // Objects: the last one each client made of each source equals a local build's.
    for i in 0..SOURCES {
        let st = Command::new("gcc")
            .args(["-O1", "-c", &format!("s{i}.c"), "-o", &format!("ref{i}.o")])
            .current_dir(work.path())
            .status()
            .unwrap();
        assert!(st.success());
        let reference = std::fs::read(work.path().join(format!("ref{i}.o"))).unwrap();
        for id in 0..CLIENTS {
            if let Ok(o) = std::fs::read(work.path().join(format!("client{id}/s{i}.o"))) {
                assert!(
                    o == reference,
                    "client{id}/s{i}.o differs from a local build"
                );
            }
        }
    }
    // Accounting.
    let mut remote = 0;
    let mut fallbacks = 0;
    for id in 0..CLIENTS {
        let log = std::fs::read_to_string(work.path().join(format!("client{id}/distcc.log")))
            .unwrap_or_default();
        remote += log
            .lines()
            .filter(|l| l.contains(" info: compiled s"))
            .count();
        fallbacks += log
            .lines()
            .filter(|l| l.contains("running locally instead") || l.contains("retrying locally"))
            .count();
        let left = std::fs::read_dir(work.path().join(format!("client{id}/tmp")))
            .unwrap()
            .count();
        assert_eq!(left, 0, "client{id} left temp files");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        let n: usize = daemons
            .iter()
            .map(|d| {
                d.log_text()
                    .lines()
                    .filter(|l| l.contains(") job ") && l.contains(" exit 0 "))
                    .count()
            })
            .sum();
        if n >= remote || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(fallbacks, 0, "compiles fell back under load");
    assert_eq!(
        remote, total,
        "client compiles that did not say where they ran"
    );
    assert_eq!(served, remote, "daemon job lines against client compiles");
    // Flat: after a 10 s warm-up, the last third peaks no higher than the first third plus
    // a quarter and 4 MiB; descriptors return to the idle count once the clients are gone.
    let warm: Vec<_> = samples.iter().filter(|s| s.0 >= 10.0).collect();
    for (k, pid) in pids.iter().enumerate() {
        let peak_rss = samples.iter().map(|s| s.1[k]).max().unwrap_or(0);
        let peak_fds = samples.iter().map(|s| s.2[k]).max().unwrap_or(0);
        if warm.len() >= 6 {
            let third = warm.len() / 3;
            let first = warm[..third].iter().map(|s| s.1[k]).max().unwrap_or(0);
            let last = warm[warm.len() - third..]
                .iter()
                .map(|s| s.1[k])
                .max()
                .unwrap_or(0);
            assert!(
                last <= first + first / 4 + 4096,
                "daemon {k} RSS grew: first third peak {first} kB, last third peak {last} kB"
            );
            let ffirst = warm[..third].iter().map(|s| s.2[k]).max().unwrap_or(0);
            let flast = warm[warm.len() - third..]
                .iter()
                .map(|s| s.2[k])
                .max()
                .unwrap_or(0);
            assert!(
                flast <= ffirst + 16,
                "daemon {k} descriptors grew: {ffirst} then {flast}"
            );
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while fds(*pid) > idle_fds[k] && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let end_fds = fds(*pid);
        assert!(
            end_fds <= idle_fds[k],
            "daemon {k}: {end_fds} descriptors open after the load, {} before: {:?}",
            idle_fds[k],
            fd_targets(*pid)
        );
        eprintln!(
            "load: daemon {k}: {secs} s, peak VmRSS {peak_rss} kB (idle-after {} kB), peak fds {peak_fds} (idle {})",
            rss_kib(*pid),
            idle_fds[k]
        );
    }
    eprintln!(
        "load: {CLIENTS} clients x -j{PARALLEL}, 2 daemons x 4 jobs, {secs} s: {total} compiles, \
         {remote} remote, {served} daemon job lines, {fallbacks} fallbacks, {} samples",
        samples.len()
    );
}
