//! The result cache (issue 16) with real gcc and a real daemon: hits replay exactly, a
//! compiler changed under the same name misses, `__DATE__` is not cached, concurrent clients
//! leave no damaged entry, a truncated entry is a miss and is removed, the size bound holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::support::{OurDaemon, require};
use crate::client::client_support::Sandbox;

/// The test tree's compiles (`client_support::Sandbox`), each to its own object: command
/// lines to split with `argv`.
const UTIL_O2: &str = "gcc -O2 -Iinclude -c src/util.c -o util.o";
const UTIL_O2_MD: &str = "gcc -O2 -Iinclude -MD -c src/util.c -o util.o";
const MAIN_O2: &str = "gcc -O2 -Iinclude -c src/main.c -o main.o";
const SHAPES_O2: &str = "g++ -O2 -Iinclude -c src/shapes.cpp -o shapes.o";

/// A command line's words (split at spaces).
fn argv(line: &'static str) -> Vec<&'static str> {
    line.split(' ').collect()
}

fn hosts(d: &OurDaemon) -> String {
    format!("127.0.0.1:{}", d.port)
}

/// Jobs the daemon ran to completion. It logs a job after its reply, so the count is read
/// again for a while until it is at least `at_least`.
fn daemon_jobs_at_least(d: &OurDaemon, at_least: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = d.log_text().matches(" exit 0 ").count();
        if n >= at_least || std::time::Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Results the daemon served from its cache: logged after the reply, so read again for a
/// while until there are `n`; asserts exactly `n`.
#[track_caller]
fn assert_served_from_cache(d: &OurDaemon, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = d.log_text().matches(" from the cache ").count();
        if got >= n || std::time::Instant::now() > deadline {
            assert_eq!(got, n, "{}", d.log_text());
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Asserts that the daemon ran exactly `n` jobs.
#[track_caller]
fn assert_jobs(d: &OurDaemon, n: usize) {
    assert_eq!(daemon_jobs_at_least(d, n), n, "{}", d.log_text());
}

/// `distcc gcc ARGS` with the cache on (plus `env`), which must succeed.
fn cached(s: &Sandbox, d: &OurDaemon, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = s.distcc(&hosts(d), args);
    c.env("DISTCC_CACHE", "1")
        .env("DISTCC_FALLBACK", "0")
        .envs(env.iter().copied());
    let out = c.output().expect("running distcc");
    s.assert_ok(&out, format_args!("distcc {args:?}"));
    out
}

/// Each client's first job (its own cache off) learns that `d` speaks protocol 4 and shares
/// a cache; `d` runs one job for each.
#[track_caller]
fn first_jobs_learn_protocol_4(d: &OurDaemon, clients: &[&Sandbox]) {
    for s in clients {
        cached(
            s,
            d,
            &[("DISTCC_CACHE", "0")],
            &["gcc", "-Iinclude", "-c", "src/util.c", "-o", "warm.o"],
        );
    }
    assert_jobs(d, clients.len());
}

/// The stats file's value of `kind` and `label`.
fn stat(s: &Sandbox, kind: &str, label: &str) -> u64 {
    let text = std::fs::read_to_string(s.distcc_dir.join("stats")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[0] == kind && f[1] == label).then(|| f[2].parse::<u64>().unwrap())
        })
        .sum()
}

/// Every entry file under `dir` (not temp files).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.file_name().len() != 2 {
            continue;
        }
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            if !f.file_name().to_string_lossy().starts_with('.') {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn local(s: &Sandbox, args: &[&str]) {
    let st = Command::new(args[0])
        .args(&args[1..])
        .current_dir(s.path())
        .status()
        .unwrap();
    assert!(st.success(), "local {args:?}");
}

#[test]
fn a_hit_replays_object_and_dependency_file_exactly() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-hit");
    let cmd = [
        "gcc",
        "-O2",
        "-Iinclude",
        "-MD",
        "-MF",
        "util.d",
        "-c",
        "src/util.c",
        "-o",
        "util.o",
    ];
    cached(&s, &d, &[], &cmd);
    assert_jobs(&d, 1);
    assert_eq!(stat(&s, "cache_stored", ""), 1);
    for f in ["util.o", "util.d"] {
        std::fs::remove_file(s.path().join(f)).unwrap();
    }
    let out = cached(&s, &d, &[], &cmd);
    assert!(out.stderr.is_empty() && out.stdout.is_empty(), "{out:?}");
    // Nothing went to the daemon.
    assert_jobs(&d, 1);
    assert_eq!(stat(&s, "cache_hit", "local"), 1);
    assert!(
        s.log_text().contains("from the local cache"),
        "{}",
        s.log_text()
    );
    let (o, dd) = (s.read("util.o"), s.read("util.d"));
    local(&s, &cmd);
    assert_eq!(
        o,
        s.read("util.o"),
        "cached object differs from a local build"
    );
    assert_eq!(
        dd,
        s.read("util.d"),
        "dependency file differs from a local build"
    );
    // Off for one build: DISTCC_CACHE=0 compiles remotely again.
    cached(&s, &d, &[("DISTCC_CACHE", "0")], &cmd);
    assert_jobs(&d, 2);
    // --show-stats reports the hit and the store; --clear-cache empties it.
    let show = s.distcc("", &["--show-stats"]).output().unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.contains("from the cache           1   local 1"),
        "{text}"
    );
    assert!(text.contains("1 entries"), "{text}");
    let clear = s.distcc("", &["--clear-cache"]).output().unwrap();
    assert!(clear.status.success());
    assert!(String::from_utf8_lossy(&clear.stdout).contains("removed 1 entries"));
    assert!(entries(&s.distcc_dir.join("cache")).is_empty());
}

#[test]
fn on_by_default_and_the_switches_turn_it_off_and_on() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-switch");
    let cmd = ["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"];
    let run = |s: &Sandbox| {
        let out = s
            .distcc(&hosts(&d), &cmd)
            .env_remove("DISTCC_CACHE")
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    // On by default: the second compile is a hit.
    run(&s);
    run(&s);
    assert_jobs(&d, 1);
    assert_eq!(entries(&s.distcc_dir.join("cache")).len(), 1);
    // Off for good: every compile goes to the daemon, nothing stored.
    assert!(s.distcc("", &["--clear-cache"]).status().unwrap().success());
    assert!(s.distcc("", &["--cache-off"]).status().unwrap().success());
    run(&s);
    run(&s);
    assert_jobs(&d, 3);
    assert!(entries(&s.distcc_dir.join("cache")).is_empty());
    // DISTCC_CACHE=1 turns it on for one build.
    let mut once = s.distcc(&hosts(&d), &cmd);
    assert!(once.env("DISTCC_CACHE", "1").status().unwrap().success());
    assert_jobs(&d, 4);
    assert_eq!(entries(&s.distcc_dir.join("cache")).len(), 1);
    // On again for good: a hit; DISTCC_CACHE=0 is a miss for one build.
    assert!(s.distcc("", &["--cache-on"]).status().unwrap().success());
    run(&s);
    assert_jobs(&d, 4);
    let mut off = s.distcc(&hosts(&d), &cmd);
    assert!(off.env("DISTCC_CACHE", "0").status().unwrap().success());
    assert_jobs(&d, 5);
}

#[test]
fn a_compiler_changed_under_the_same_name_misses() {
    if !require(&["gcc", "gcc-11", "gcc-12"]) {
        return;
    }
    // The daemon has both compilers (protocol 4 runs the client's by identity).
    let d = OurDaemon::start_with_compilers(&[], Path::new("/usr/bin"), &["gcc-11"]);
    let s = Sandbox::new("cache-compiler");
    // `gcc` first on PATH: gcc 12, then gcc 11 under the same name (as after an upgrade).
    let bin = s.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/gcc-12", bin.join("gcc")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("PATH", path.as_str())];
    let cmd = ["gcc", "-Iinclude", "-c", "src/util.c", "-o", "util.o"];
    cached(&s, &d, &env, &cmd);
    cached(&s, &d, &env, &cmd);
    assert_eq!(stat(&s, "cache_hit", "local"), 1);
    assert_jobs(&d, 1);
    std::fs::remove_file(bin.join("gcc")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/gcc-11", bin.join("gcc")).unwrap();
    cached(&s, &d, &env, &cmd);
    assert_eq!(stat(&s, "cache_hit", "local"), 1, "{}", s.log_text());
    assert_eq!(stat(&s, "cache_miss", "not in the cache"), 2);
    assert_jobs(&d, 2);
    assert_eq!(entries(&s.distcc_dir.join("cache")).len(), 2);
}

#[test]
fn date_and_time_are_not_cached() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-date");
    std::fs::write(
        s.path().join("when.c"),
        "const char *when = __DATE__ \" \" __TIME__;\n",
    )
    .unwrap();
    let cmd = ["gcc", "-c", "when.c", "-o", "when.o"];
    cached(&s, &d, &[], &cmd);
    cached(&s, &d, &[], &cmd);
    assert_jobs(&d, 2);
    assert_eq!(
        stat(
            &s,
            "cache_uncacheable",
            "__DATE__, __TIME__ or __TIMESTAMP__ in the source"
        ),
        2
    );
    assert!(entries(&s.distcc_dir.join("cache")).is_empty());
    // So are outputs no reply carries back.
    cached(
        &s,
        &d,
        &[],
        &[
            "gcc",
            "-Iinclude",
            "-fprofile-generate",
            "-c",
            "src/util.c",
            "-o",
            "u.o",
        ],
    );
    assert_eq!(
        stat(&s, "cache_uncacheable", "profile options (-fprofile-*)"),
        1
    );
    assert!(entries(&s.distcc_dir.join("cache")).is_empty());
}

#[test]
fn a_truncated_entry_is_a_miss_and_is_removed() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-trunc");
    let cmd = argv(UTIL_O2);
    cached(&s, &d, &[], &cmd);
    let e = entries(&s.distcc_dir.join("cache"));
    assert_eq!(e.len(), 1);
    let len = std::fs::metadata(&e[0]).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&e[0]).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    std::fs::remove_file(s.path().join("util.o")).unwrap();
    cached(&s, &d, &[], &cmd);
    assert_jobs(&d, 2);
    assert_eq!(stat(&s, "cache_miss", "a damaged entry (removed)"), 1);
    assert!(s.log_text().contains("removed a damaged cache entry"));
    // Stored afresh, whole.
    assert_eq!(std::fs::metadata(&e[0]).unwrap().len(), len);
    let o = s.read("util.o");
    local(&s, &cmd);
    assert_eq!(o, s.read("util.o"));
    // A garbled one (same size) too.
    let mut bytes = std::fs::read(&e[0]).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&e[0], bytes).unwrap();
    cached(&s, &d, &[], &cmd);
    assert_jobs(&d, 3);
    assert_eq!(stat(&s, "cache_miss", "a damaged entry (removed)"), 2);
}

#[test]
fn the_size_bound_holds() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-size");
    let bound: u64 = 16 * 1024;
    let limit = bound.to_string();
    let dir = s.path().join("elsewhere");
    let env = [
        ("DISTCC_CACHE_SIZE", limit.as_str()),
        ("DISTCC_CACHE_DIR", dir.to_str().unwrap()),
    ];
    for i in 0..24 {
        let src = format!("f{i}.c");
        let body: String = (0..20)
            .map(|j| format!("int f{i}_{j}(int x) {{ return x * {j} + {i}; }}\n"))
            .collect();
        std::fs::write(s.path().join(&src), body).unwrap();
        cached(&s, &d, &env, &["gcc", "-c", &src, "-o", "f.o"]);
        let used: u64 = entries(&dir)
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(used <= bound, "after {i}: {used} bytes of entries");
    }
    let n = entries(&dir).len();
    assert!((3..24).contains(&n), "{n} entries left");
    assert_eq!(stat(&s, "cache_stored", ""), 24);
}

#[test]
fn eight_concurrent_clients_leave_no_damaged_entry() {
    if !require(&["gcc", "g++"]) {
        return;
    }
    let d = OurDaemon::start(&["--jobs", "8"]);
    let s = Sandbox::new("cache-concurrent");
    let jobs: [&[&str]; 3] = [
        &["gcc", "-O2", "-Iinclude", "-c", "src/util.c"],
        &["gcc", "-O2", "-Iinclude", "-c", "src/main.c"],
        &["g++", "-O2", "-Iinclude", "-c", "src/shapes.cpp"],
    ];
    // A warm daemon (protocol 4 learned, compilers identified, nothing stored): the first
    // round's compiles come back while other clients of the same file still wait for a
    // preprocessor slot, so entries are read while others rename over them, and a later
    // lookup may hit what an earlier client stored. (The old assertion "8 hits, all in the
    // second round" failed whenever that happened: the flake.)
    for job in jobs {
        let mut warm = job.to_vec();
        warm.extend(["-o", "warm.o"]);
        cached(&s, &d, &[("DISTCC_CACHE", "0")], &warm);
    }
    assert_jobs(&d, 3);
    let mut ran = 3;
    for round in 0..2 {
        let hits_before = stat(&s, "cache_hit", "local");
        let children: Vec<_> = (0..8)
            .map(|i| {
                let dir = s.path().join(format!("out{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                let (job, name) = (jobs[i % 3], format!("out{i}/r{round}.o"));
                let mut c = s.distcc(&hosts(&d), job);
                c.args(["-o", &name])
                    .env("DISTCC_CACHE", "1")
                    .env("DISTCC_FALLBACK", "0");
                c.spawn().unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            s.assert_ok(&out, "distcc");
        }
        // Every compile was a hit or ran on the daemon (and was stored); each file ran at
        // least once in the first round, none in the second.
        let hits = stat(&s, "cache_hit", "local") - hits_before;
        let compiled = 8 - hits as usize;
        if round == 0 {
            assert!(
                compiled >= 3,
                "{hits} hits in the first round\n{}",
                s.log_text()
            );
            assert_eq!(stat(&s, "cache_stored", ""), compiled as u64);
        } else {
            assert_eq!(hits, 8, "{}", s.log_text());
        }
        ran += compiled;
        assert_jobs(&d, ran);
    }
    let found = entries(&s.distcc_dir.join("cache"));
    assert_eq!(found.len(), 3, "{found:?}");
    for p in &found {
        let bytes = std::fs::read(p).unwrap();
        cache::Entry::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    // Every object equals a local build's.
    for (i, job) in jobs.iter().enumerate() {
        let mut local_cmd = job.to_vec();
        local_cmd.extend(["-o", "local.o"]);
        local(&s, &local_cmd);
        let want = s.read("local.o");
        for j in (i..8).step_by(3) {
            for round in 0..2 {
                assert_eq!(s.read(&format!("out{j}/r{round}.o")), want, "{job:?}");
            }
        }
    }
}

#[test]
fn a_second_client_gets_its_results_from_the_daemon_without_sending_source() {
    if !require(&["gcc", "g++"]) {
        return;
    }
    let store = super::support::TempDir::new("cache-daemon-store");
    let dir = store.path().join("results");
    let (d, sp) = super::stats::daemon_with_stats(4, &["--cache-dir", dir.to_str().unwrap()]);
    let bytes_in = || super::stats::json_number(&super::stats::http_get(sp, "/json").1, "bytes_in");
    let jobs = [UTIL_O2, MAIN_O2, SHAPES_O2].map(argv);
    let (a, b) = (
        Sandbox::new("cache-client-a"),
        Sandbox::new("cache-client-b"),
    );
    first_jobs_learn_protocol_4(&d, &[&a, &b]);
    for job in &jobs {
        cached(&a, &d, &[], job);
    }
    assert_jobs(&d, 5);
    let stored = entries(&dir);
    assert_eq!(stored.len(), 3, "{}", d.log_text());
    let before = bytes_in();
    let sent_before = stat(&b, "sent_bytes", &hosts(&d));
    for job in &jobs {
        cached(&b, &d, &[], job);
    }
    let sent = bytes_in() - before;
    // No new compile on the daemon, three results from its cache, no source uploaded (the
    // preprocessed shapes.cpp alone is hundreds of KB; three request heads are < 3 KB).
    assert_jobs(&d, 5);
    assert_served_from_cache(&d, 3);
    assert!(sent < 3000, "{sent} bytes reached the daemon");
    assert_eq!(stat(&b, "cache_hit", &hosts(&d)), 3, "{}", b.log_text());
    assert_eq!(stat(&b, "cache_hit", "local"), 0);
    // Not misses: nothing was compiled for them, and no source was sent.
    assert_eq!(stat(&b, "cache_miss", "not in the cache"), 0);
    assert_eq!(stat(&b, "sent_bytes", &hosts(&d)), sent_before);
    // The hits are byte for byte what a local build gives, and were kept locally too.
    for job in &jobs {
        let out = job[job.len() - 1];
        let got = b.read(out);
        local(&b, job);
        assert_eq!(got, b.read(out), "{job:?}");
    }
    assert_eq!(entries(&b.distcc_dir.join("cache")).len(), 3);
    // A third client with another compiler (gcc-11 under the name gcc) is never served gcc
    // 12's results: its key differs, so it compiles (and its daemon finds no such compiler
    // here, or compiles with gcc-11 by identity).
    let c = Sandbox::new("cache-client-c");
    let bin = c.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/gcc-11", bin.join("gcc")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = c.distcc(&hosts(&d), &jobs[0]);
    cmd.env("DISTCC_CACHE", "1").env("PATH", &path);
    assert!(cmd.status().unwrap().success());
    assert_served_from_cache(&d, 3);
}

#[test]
fn direct_mode_hits_without_preprocessing_and_notices_a_changed_header() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let s = Sandbox::new("cache-direct");
    let env = [("DISTCC_CACHE_DIRECT", "1")];
    let cmd = argv(UTIL_O2_MD);
    // Headers older than the compile (a header changed within 2 s gets no manifest).
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let age = |p: &str| {
        std::fs::File::options()
            .write(true)
            .open(s.path().join(p))
            .unwrap()
            .set_modified(old)
            .unwrap()
    };
    age("include/util.h");
    age("src/util.c");
    cached(&s, &d, &env, &cmd);
    assert_jobs(&d, 1);
    let runs = |s: &Sandbox| s.log_text().matches("running the preprocessor").count();
    let cpp_before = runs(&s);
    for f in ["util.o", "util.d"] {
        std::fs::remove_file(s.path().join(f)).unwrap();
    }
    cached(&s, &d, &env, &cmd);
    assert!(s.log_text().contains("by its manifest"), "{}", s.log_text());
    assert_eq!(runs(&s), cpp_before, "the preprocessor ran on a direct hit");
    assert_jobs(&d, 1);
    let (o, dd) = (s.read("util.o"), s.read("util.d"));
    local(&s, &cmd);
    assert_eq!(o, s.read("util.o"));
    assert_eq!(dd, s.read("util.d"));
    // The header changes: no manifest hit, a new compile with the new text.
    std::fs::write(
        s.path().join("include/util.h"),
        "#pragma once\nint twice(int);\nint thrice(int);\n",
    )
    .unwrap();
    age("include/util.h");
    let hits = s.log_text().matches("by its manifest").count();
    cached(&s, &d, &env, &cmd);
    assert_eq!(s.log_text().matches("by its manifest").count(), hits);
    assert_jobs(&d, 2);
    let o = s.read("util.o");
    local(&s, &cmd);
    assert_eq!(o, s.read("util.o"));
}

/// The host spec of `d` as a pump host.
fn pump_hosts(d: &OurDaemon) -> String {
    format!("127.0.0.1:{}/4,lzo,cpp", d.port)
}

/// `distcc ARGS` in pump mode (`pump`'s include server variables) with the cache on, in
/// `s`'s work directory, as the client whose `$DISTCC_DIR` and log are `machine`'s.
fn pumped_as(
    s: &Sandbox,
    machine: &Sandbox,
    hosts: &str,
    pump: &crate::diagnostics::Pump,
    args: &[&str],
) -> Output {
    let mut c = s.distcc(hosts, args);
    c.env("DISTCC_DIR", &machine.distcc_dir)
        .env("DISTCC_LOG", &machine.log)
        .env("DISTCC_CACHE", "1")
        .env("DISTCC_FALLBACK", "0")
        .envs(pump.0.iter().map(|(k, v)| (k, v)));
    let out = c.output().expect("running distcc");
    machine.assert_ok(&out, format_args!("distcc {args:?}"));
    out
}

fn pumped(s: &Sandbox, hosts: &str, pump: &crate::diagnostics::Pump, args: &[&str]) -> Output {
    pumped_as(s, s, hosts, pump, args)
}

/// Sets every source's and header's mtime a minute back. The client gives pump mode up for
/// a file whose include server copy is not newer than the file (`pump::load`: changed after
/// the server read it), which a file written in the same clock tick as the copy looks like.
fn age_sources(s: &Sandbox) {
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for dir in ["src", "include"] {
        for f in std::fs::read_dir(s.path().join(dir)).unwrap().flatten() {
            std::fs::File::options()
                .write(true)
                .open(f.path())
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
    }
}

#[test]
fn pump_hits_replay_object_and_dotd_and_a_changed_header_misses() {
    if !require(&["gcc"]) {
        return;
    }
    let d = OurDaemon::start(&[]);
    let hosts = pump_hosts(&d);
    let pump = crate::diagnostics::Pump::start(&hosts);
    let s = Sandbox::new("cache-pump");
    age_sources(&s);
    let cmd = argv(UTIL_O2_MD);
    let pump_compiles = |s: &Sandbox| s.log_text().matches(" in pump mode").count();
    let first = pumped(&s, &hosts, &pump, &cmd);
    assert_eq!(pump_compiles(&s), 1, "{}", s.log_text());
    assert_jobs(&d, 1);
    assert_eq!(stat(&s, "cache_stored", ""), 1, "{}", s.log_text());
    let (o, dd) = (s.read("util.o"), s.read("util.d"));
    for f in ["util.o", "util.d"] {
        std::fs::remove_file(s.path().join(f)).unwrap();
    }
    let again = pumped(&s, &hosts, &pump, &cmd);
    assert!(
        s.log_text().contains("from the local cache in pump mode"),
        "{}",
        s.log_text()
    );
    assert_jobs(&d, 1);
    assert_eq!(stat(&s, "cache_hit", "local"), 1);
    assert_eq!(
        (&again.stdout, &again.stderr),
        (&first.stdout, &first.stderr)
    );
    assert_eq!(
        (s.read("util.o"), s.read("util.d")),
        (o.clone(), dd.clone())
    );
    local(&s, &cmd);
    assert_eq!((s.read("util.o"), s.read("util.d")), (o, dd));
    // A header changes (between builds: pump's include server assumes a stable tree during
    // one, and a new `pump` session reads it afresh): the key holds every shipped file, so a
    // miss and a new pump compile of the new text.
    drop(pump);
    std::fs::write(
        s.path().join("include/util.h"),
        "#pragma once\nint twice(int);\nstatic int thrice(int x) { return 3 * x; }\n#define GREETING \"hi\"\n",
    )
    .unwrap();
    age_sources(&s);
    let pump = crate::diagnostics::Pump::start(&hosts);
    let before = pump_compiles(&s);
    pumped(&s, &hosts, &pump, &cmd);
    assert_eq!(pump_compiles(&s), before + 1, "{}", s.log_text());
    assert_jobs(&d, 2);
    let (o, dd) = (s.read("util.o"), s.read("util.d"));
    local(&s, &cmd);
    assert_eq!((s.read("util.o"), s.read("util.d")), (o, dd));
    // `__TIME__` in a header (the server expands it): never cached, the reason counted.
    std::fs::write(s.path().join("include/stamp.h"), "#define STAMP __TIME__\n").unwrap();
    std::fs::write(
        s.path().join("src/stamp.c"),
        "#include \"stamp.h\"\nconst char *stamp = STAMP;\n",
    )
    .unwrap();
    age_sources(&s);
    let stamp = ["gcc", "-Iinclude", "-c", "src/stamp.c", "-o", "stamp.o"];
    let stored = stat(&s, "cache_stored", "");
    for _ in 0..2 {
        pumped(&s, &hosts, &pump, &stamp);
    }
    assert_jobs(&d, 4);
    assert_eq!(stat(&s, "cache_stored", ""), stored);
    assert_eq!(
        stat(
            &s,
            "cache_uncacheable",
            "__DATE__, __TIME__ or __TIMESTAMP__ in the source"
        ),
        2,
        "{}",
        s.log_text()
    );
}

#[test]
fn a_second_client_gets_pump_results_from_the_daemon_without_sending_files() {
    if !require(&["gcc", "g++"]) {
        return;
    }
    let store = super::support::TempDir::new("cache-daemon-pump-store");
    let dir = store.path().join("results");
    let (d, sp) = super::stats::daemon_with_stats(4, &["--cache-dir", dir.to_str().unwrap()]);
    let bytes_in = || super::stats::json_number(&super::stats::http_get(sp, "/json").1, "bytes_in");
    let hosts = pump_hosts(&d);
    let pump = crate::diagnostics::Pump::start(&hosts);
    let jobs = [UTIL_O2_MD, SHAPES_O2].map(argv);
    let (a, b) = (
        Sandbox::new("cache-pump-client-a"),
        Sandbox::new("cache-pump-client-b"),
    );
    age_sources(&a);
    first_jobs_learn_protocol_4(&d, &[&a, &b]);
    for job in &jobs {
        pumped(&a, &hosts, &pump, job);
    }
    assert_eq!(
        a.log_text().matches(" in pump mode").count(),
        2,
        "{}",
        a.log_text()
    );
    assert_jobs(&d, 4);
    assert_eq!(entries(&dir).len(), 2, "{}", d.log_text());
    let before = bytes_in();
    // The same tree (pump mode's key holds every file's absolute name) built by another
    // client: its own `$DISTCC_DIR` and local cache.
    for f in ["util.o", "util.d", "shapes.o"] {
        std::fs::remove_file(a.path().join(f)).unwrap();
    }
    for job in &jobs {
        pumped_as(&a, &b, &hosts, &pump, job);
    }
    let sent = bytes_in() - before;
    // No new compile, two results from the daemon's cache, no file uploaded (shapes.cpp's
    // headers alone are hundreds of KB; two request heads are < 2 KB).
    assert_jobs(&d, 4);
    assert_served_from_cache(&d, 2);
    assert!(sent < 2000, "{sent} bytes reached the daemon");
    assert_eq!(stat(&b, "cache_hit", &hosts), 2, "{}", b.log_text());
    assert_eq!(stat(&b, "cache_miss", "not in the cache"), 0);
    assert_eq!(stat(&b, "cache_hit", "local"), 0);
    // Byte for byte a local build's, `.d` included, and kept locally too.
    let (o, dd) = (a.read("util.o"), a.read("util.d"));
    let shapes = a.read("shapes.o");
    local(&a, &jobs[0]);
    assert_eq!((a.read("util.o"), a.read("util.d")), (o, dd));
    local(&a, &jobs[1]);
    assert_eq!(a.read("shapes.o"), shapes);
    assert_eq!(entries(&b.distcc_dir.join("cache")).len(), 2);
}

/// Real ccache 4 with `CCACHE_PREFIX=distcc`: ccache keeps the results on this machine, so
/// our local store stays empty (one copy per machine), while the daemon's shared cache is
/// still asked, and a second machine (its own ccache and `$DISTCC_DIR`) gets the result
/// from it without a compile.
#[test]
fn under_ccache_only_the_daemons_shared_cache_is_used() {
    if !require(&["gcc", "ccache"]) {
        return;
    }
    let store = super::support::TempDir::new("cache-ccache-store");
    let dir = store.path().join("results");
    let d = OurDaemon::start(&["--cache-dir", dir.to_str().unwrap()]);
    let (a, b) = (
        Sandbox::new("cache-ccache-a"),
        Sandbox::new("cache-ccache-b"),
    );
    first_jobs_learn_protocol_4(&d, &[&a, &b]);
    let cmd = argv(UTIL_O2);
    // Both machines build the same tree (a's), each with its own ccache and `$DISTCC_DIR`;
    // the cache is on by default.
    let ccache = |machine: &Sandbox| {
        let mut c = Command::new("ccache");
        c.args(&cmd);
        a.env(&mut c, &hosts(&d));
        c.env("DISTCC_DIR", &machine.distcc_dir)
            .env("DISTCC_LOG", &machine.log)
            .env("DISTCC_FALLBACK", "0")
            .env_remove("DISTCC_CACHE")
            .env("CCACHE_PREFIX", crate::client::client_support::distcc_bin())
            .env("CCACHE_DIR", machine.path().join("ccache"))
            .env_remove("CCACHE_DISABLE");
        let out = c.output().unwrap();
        machine.assert_ok(&out, "distcc");
    };
    ccache(&a);
    assert_jobs(&d, 3);
    assert!(a.log_text().contains("under ccache"), "{}", a.log_text());
    assert!(entries(&a.distcc_dir.join("cache")).is_empty());
    assert_eq!(entries(&dir).len(), 1, "{}", d.log_text());
    let want = a.read("util.o");
    std::fs::remove_file(a.path().join("util.o")).unwrap();
    ccache(&b);
    assert_jobs(&d, 3);
    assert_served_from_cache(&d, 1);
    assert_eq!(stat(&b, "cache_hit", &hosts(&d)), 1, "{}", b.log_text());
    assert!(entries(&b.distcc_dir.join("cache")).is_empty());
    assert_eq!(a.read("util.o"), want);
    local(&a, &cmd);
    assert_eq!(a.read("util.o"), want);
}
