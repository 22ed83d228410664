//! The live dashboard in a real headless browser (Debian's chromium; installed by the test
//! when missing, which under `CI=true` must succeed): while our daemon compiles with real gcc,
//! the page loads, lists the running job by file name, and — in one page load, driven by
//! chromium's virtual time — applies several `/json` polls whose counts grow as new jobs
//! finish. A screenshot is kept under cargo's target temp dir as the test's artifact.
//!
//! Chromium is confined to loopback: every host name but 127.0.0.1 fails to resolve, and the
//! background services that would call out are switched off.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::stats::{daemon_with_stats, distcc, http_get, json_number, slow_source};
use crate::support::{TempDir, ci, require};

/// chromium's path, installing Debian's package when it is missing (as root, or via sudo).
fn chromium() -> Option<PathBuf> {
    let find = || {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    // SAFETY: geteuid has no memory effects.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    let installed = cmd
        .args(["install", "-y", "-qq", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    match find() {
        Some(p) => Some(p),
        None => {
            assert!(
                !ci(),
                "CI=true and chromium could not be installed (apt-get ok: {installed})"
            );
            eprintln!("skipping: chromium is not installed and could not be installed");
            None
        }
    }
}

/// Headless chromium on one loopback page; `mode` is `--dump-dom` or `--screenshot=FILE`.
fn browse(chromium: &Path, profile: &Path, url: &str, mode: &str, virtual_ms: u32) -> String {
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-default-browser-check",
            "--no-proxy-server",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--window-size=1100,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg(mode)
        .arg(url)
        .env("HOME", profile)
        .stdin(Stdio::null())
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of attribute `name` on the dumped `<body>`.
fn body_attr(dom: &str, name: &str) -> u64 {
    let body = dom
        .find("<body")
        .map(|i| &dom[i..])
        .and_then(|b| b.split('>').next())
        .unwrap_or_else(|| panic!("no body in {dom}"));
    let needle = format!("{name}=\"");
    let at = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} on {body}"))
        + needle.len();
    body[at..]
        .split('"')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bad {name} on {body}"))
}

/// The text of the running-jobs table.
fn running_table(dom: &str) -> &str {
    let start = dom.find("<table id=\"running\">").expect("running table");
    let end = dom[start..].find("</table>").expect("table end") + start;
    &dom[start..end]
}

#[test]
fn dashboard_shows_running_jobs_and_updates_without_reload() {
    if !require(&["gcc"]) {
        return;
    }
    let Some(chromium) = chromium() else {
        return;
    };
    let (d, sp) = daemon_with_stats(2, &[]);
    let work = TempDir::new("dashboard");
    let profile = TempDir::new("chromium-profile");
    std::fs::write(work.path().join("slow_dashboard.c"), slow_source(6000)).unwrap();
    std::fs::write(
        work.path().join("quick.c"),
        "int quick(int x) { return x + 1; }\n",
    )
    .unwrap();
    let hosts = format!("127.0.0.1:{}/2", d.port);

    // One long job that stays on the page, and a stream of short ones that keep finishing.
    let mut slow = distcc(
        work.path(),
        &hosts,
        &["gcc", "-O2", "-c", "slow_dashboard.c"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let quick = {
        let (stop, dir, hosts) = (stop.clone(), work.path().to_owned(), hosts.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let out = format!("q{}.o", n % 4);
                let ok = distcc(&dir, &hosts, &["gcc", "-c", "quick.c", "-o", &out])
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "a quick compile failed");
                n += 1;
            }
            n
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, json) = http_get(sp, "/json");
        if json.contains("\"file\":\"slow_dashboard.c\",\"phase\":\"compiling\"")
            && json_number(&json, "compile_ok") > 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "the jobs never showed: {json}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let url = format!("http://127.0.0.1:{sp}/dashboard");
    // Twelve seconds of page time: twelve polls or so, in one load of the page.
    let dom = browse(&chromium, profile.path(), &url, "--dump-dom", 12_000);
    let polls = body_attr(&dom, "data-polls");
    let first = body_attr(&dom, "data-first-ok");
    let last = body_attr(&dom, "data-ok");
    eprintln!("dashboard: {polls} polls applied, ok {first} -> {last} without a reload");
    assert!(polls > 1, "the page applied only {polls} poll(s)");
    assert!(
        last > first,
        "the counts did not change while the page stayed open: {first} -> {last}"
    );
    let running = running_table(&dom);
    assert!(running.contains("<td>slow_dashboard.c</td>"), "{running}");
    assert!(running.contains("<td>compiling</td>"), "{running}");
    assert!(
        dom.contains("id=\"status\" class=\"\">live"),
        "status not live"
    );

    // A second, separate load later shows newer numbers again.
    std::thread::sleep(Duration::from_millis(500));
    let dom2 = browse(&chromium, profile.path(), &url, "--dump-dom", 2_000);
    assert!(
        body_attr(&dom2, "data-ok") > last,
        "no new jobs between the two loads"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    browse(
        &chromium,
        profile.path(),
        &url,
        &format!("--screenshot={}", shot.display()),
        3_000,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "a suspiciously small screenshot");
    eprintln!("dashboard screenshot: {}", shot.display());

    stop.store(true, Ordering::Relaxed);
    let quick_jobs = quick.join().expect("the quick compile thread");
    let _ = slow.kill();
    let _ = slow.wait();
    eprintln!("{quick_jobs} quick compiles ran while the browser watched");
}
