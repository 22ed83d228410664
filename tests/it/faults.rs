//! Fault injection with real processes: our client and our daemon, real gcc, and each fault
//! made for real — the daemon killed with SIGKILL mid-job, a daemon that accepts and then
//! stalls (SIGSTOP), the link cut mid-transfer (veth between two network namespaces, throttled
//! so the transfer takes seconds), the daemon's temp space full (a small tmpfs), the compiler
//! killed by a signal, and the client interrupted by SIGINT (remote and local phases).
//!
//! For each fault: with fallback on, the build succeeds and the object equals a local build's,
//! byte for byte; with `DISTCC_FALLBACK=0`, it fails with a message that names the cause and
//! leaves no output. Either way nothing is left behind: the client's and the daemon's private
//! TMPDIRs are empty, no state file, no `cpu_*` lock held (probed with `F_GETLK`), no
//! temporary output names, no process (cpp, cc1, as, compiler groups) still running.
//! Each outcome is printed as a `fault:` line (run with `--nocapture` to see the figures).

use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::netns;
use crate::support::{OurDaemon, TempDir, ci, require};

/// Functions in the slow source: gcc -O2 needs a few seconds for it on a busy machine.
const SLOW_FUNCTIONS: usize = 300;

pub fn slow_source() -> String {
    (0..SLOW_FUNCTIONS)
        .map(|i| {
            format!(
                "int f{i}(int *a, int n) {{ int s = 0; for (int j = 0; j < n; j++) \
                 s += a[j] * {i} ^ (s >> 3); return s; }}\n"
            )
        })
        .collect()
}

/// About `kib` KiB of preprocessed text that compiles quickly (a transfer that takes time).
pub fn bulky_source(kib: usize) -> String {
    let mut s = String::from("#include \"a.h\"\n");
    let mut i = 0;
    while s.len() < kib * 1024 {
        s.push_str(&format!("int v{i} = {i} * A;\n"));
        i += 1;
    }
    s
}

/// The client side: a work directory with sources, a reference build, its own `DISTCC_DIR`
/// and its own `TMPDIR`.
pub struct Scene {
    pub work: TempDir,
    pub tmp: PathBuf,
    pub distcc_dir: PathBuf,
}

impl Scene {
    pub fn new(tag: &str) -> Scene {
        let work = TempDir::new(tag);
        let w = |rel: &str, text: &str| std::fs::write(work.path().join(rel), text).unwrap();
        w("a.h", "#define A 3\n");
        w(
            "small.c",
            "#include \"a.h\"\nint twice(int x) { return x * A; }\n",
        );
        w("slow.c", &slow_source());
        w("bulky.c", &bulky_source(320));
        let tmp = work.path().join("tmp");
        let distcc_dir = work.path().join("distcc");
        std::fs::create_dir(&tmp).unwrap();
        std::fs::create_dir(work.path().join("ref")).unwrap();
        Scene {
            tmp,
            distcc_dir,
            work,
        }
    }

    pub fn path(&self) -> &Path {
        self.work.path()
    }

    /// The object a local `gcc -O2 -c src` makes (built once).
    pub fn reference(&self, src: &str) -> Vec<u8> {
        let obj = format!("ref/{}", src.replace(".c", ".o"));
        if !self.path().join(&obj).exists() {
            let st = Command::new("gcc")
                .args(["-O2", "-c", src, "-o", &obj])
                .current_dir(self.path())
                .status()
                .unwrap();
            assert!(st.success(), "local reference build of {src}");
        }
        std::fs::read(self.path().join(obj)).unwrap()
    }

    /// `distcc gcc -O2 -c src -o out` (optionally inside a namespace), stderr to `stderr`.
    pub fn client(
        &self,
        netns: Option<&str>,
        hosts: &str,
        src: &str,
        out: &str,
        env: &[(&str, &str)],
    ) -> Child {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_distcc"));
        let mut c = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let _ = std::fs::remove_file(self.path().join(out));
        let stderr = std::fs::File::create(self.path().join(format!("{out}.stderr"))).unwrap();
        // The signal tests need the client to start with SIGINT's default action: a suite
        // started in the background by a shell without job control (`bash scripts/test.sh &`)
        // has it ignored, and the client keeps an ignored SIGINT ignored, as gcc does.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(|| {
                for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(sig, libc::SIG_DFL);
                }
                Ok(())
            });
        }
        c.args(["gcc", "-O2", "-c", src, "-o", out])
            .current_dir(self.path())
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_DIR", &self.distcc_dir)
            .env("TMPDIR", &self.tmp)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_PAUSE_TIME_MSEC", "50")
            // Each compile must meet the fault, not a cached result of the reference.
            .env("DISTCC_CACHE", "0")
            .env_remove("DISTCC_LOG")
            .env_remove("DISTCC_FALLBACK")
            .env_remove("DISTCC_SKIP_LOCAL_RETRY")
            .env_remove("_DISTCC_SAFEGUARD")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starting distcc")
    }

    pub fn stderr_of(&self, out: &str) -> String {
        std::fs::read_to_string(self.path().join(format!("{out}.stderr"))).unwrap_or_default()
    }
}

/// Facts about one process from /proc: command line (spaces for NULs), name, parent, state,
/// working directory.
struct Proc {
    pid: u32,
    cmd: String,
    comm: String,
    ppid: u32,
    zombie: bool,
    /// User and system time, in clock ticks.
    cpu_ticks: u64,
    cwd: PathBuf,
}

fn processes() -> Vec<Proc> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let mut f = after.split_whitespace();
        let state = f.next().unwrap_or("");
        let ppid = f.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        // After state and ppid, utime and stime are the 10th and 11th fields.
        let cpu_ticks = f
            .skip(9)
            .take(2)
            .map(|t| t.parse::<u64>().unwrap_or(0))
            .sum();
        v.push(Proc {
            pid,
            cmd: String::from_utf8_lossy(&cmd).replace('\0', " "),
            comm: std::fs::read_to_string(e.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
            ppid,
            zombie: state == "Z" || state == "X",
            cpu_ticks,
            cwd: std::fs::read_link(e.path().join("cwd")).unwrap_or_default(),
        });
    }
    v
}

impl Proc {
    fn mentions(&self, needle: &Path) -> bool {
        self.cmd.contains(&needle.display().to_string()) || self.cwd.starts_with(needle)
    }
}

/// Live processes that mention `needle` (a test's private directory) in their command line
/// or run in it, other than `except` and those daemons' own janitors.
pub fn processes_mentioning(needle: &Path, except: &[u32]) -> Vec<String> {
    processes()
        .into_iter()
        .filter(|p| !p.zombie && p.pid != std::process::id() && !except.contains(&p.pid))
        .filter(|p| !(p.comm == "distccd" && except.contains(&p.ppid)))
        .filter(|p| p.mentions(needle))
        .map(|p| format!("{}: {}", p.pid, p.cmd))
        .collect()
}

/// Pids of live processes named `comm` that mention `needle` or run in it.
pub fn pids_named(comm: &str, needle: &Path) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|p| !p.zombie && p.comm == comm && p.mentions(needle))
        .map(|p| p.pid as i32)
        .collect()
}

/// Waits (up to 60 s) until a process named `comm` mentions `needle`; returns its pid.
pub fn wait_for_process(comm: &str, needle: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(p) = pids_named(comm, needle).first() {
            return *p;
        }
        assert!(
            Instant::now() < deadline,
            "no {comm} running for {}",
            needle.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 60 s) until a `cc1` that mentions `needle` is compiling: it has used a tenth
/// of a second of CPU. Our daemon starts the compiler as soon as the command line arrives, so
/// a `cc1` may exist (waiting for its source) while the client still preprocesses.
pub fn wait_for_compiling(needle: &Path) -> i32 {
    // SAFETY: plain sysconf.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let compiling = processes().into_iter().find(|p| {
            !p.zombie && p.comm == "cc1" && p.mentions(needle) && p.cpu_ticks * 10 >= ticks
        });
        if let Some(p) = compiling {
            return p.pid as i32;
        }
        assert!(
            Instant::now() < deadline,
            "no cc1 compiling for {}",
            needle.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn dir_entries(d: &Path) -> Vec<String> {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Retries `check` for up to 15 s (a killed process takes a moment to be reaped, a daemon
/// to notice a hang-up); panics with its last complaint.
fn eventually(what: &str, check: impl Fn() -> Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match check() {
            None => return,
            Some(why) if Instant::now() >= deadline => panic!("{what}: {why}"),
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Nothing of the client or of `daemons` is left: temp files, job dirs, state files, held
/// slots, temporary output names, processes.
pub fn assert_nothing_left(what: &str, sc: &Scene, daemons: &[&OurDaemon]) {
    eventually(&format!("{what}: client TMPDIR"), || {
        let left = dir_entries(&sc.tmp);
        (!left.is_empty()).then(|| format!("left {left:?}"))
    });
    for d in daemons {
        eventually(&format!("{what}: daemon TMPDIR"), || {
            let left: Vec<String> = dir_entries(&d.jobs_dir())
                .into_iter()
                .filter(|n| n != "lost+found")
                .collect();
            (!left.is_empty()).then(|| format!("left {left:?}"))
        });
    }
    eventually(&format!("{what}: state files"), || {
        let left = dir_entries(&sc.distcc_dir.join("state"));
        (!left.is_empty()).then(|| format!("left {left:?}"))
    });
    eventually(&format!("{what}: slots"), || {
        let held: Vec<String> = dir_entries(&sc.distcc_dir.join("lock"))
            .into_iter()
            .filter(|n| n.starts_with("cpu_"))
            .filter(|n| {
                os::lock::holder(&sc.distcc_dir.join("lock").join(n))
                    .ok()
                    .flatten()
                    .is_some()
            })
            .collect();
        (!held.is_empty()).then(|| format!("held {held:?}"))
    });
    let temps: Vec<String> = dir_entries(sc.path())
        .into_iter()
        .filter(|n| n.contains(".distcc-") && n.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "{what}: temporary outputs {temps:?}");
    let pids: Vec<u32> = daemons.iter().map(|d| d.pid()).collect();
    eventually(&format!("{what}: processes"), || {
        let mut p = processes_mentioning(sc.path(), &pids);
        for d in daemons {
            p.extend(processes_mentioning(d.dir.path(), &pids));
            p.extend(processes_mentioning(&d.jobs_dir(), &pids));
        }
        (!p.is_empty()).then(|| format!("still running {p:?}"))
    });
}

/// Waits for the client with a generous bound and returns its status and run time.
fn finish(mut c: Child, started: Instant) -> (ExitStatus, Duration) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return (st, started.elapsed());
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("client did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one run looked like, for the assertions and the printed summary.
struct Run {
    status: ExitStatus,
    took: Duration,
    stderr: String,
    output: Option<Vec<u8>>,
}

/// With fallback on: exit 0 and the local build's bytes. Prints one summary line.
fn expect_recovered(fault: &str, sc: &Scene, src: &str, r: &Run) {
    assert!(
        r.status.success(),
        "{fault}: build failed ({}):\n{}",
        r.status,
        r.stderr
    );
    let reference = sc.reference(src);
    assert!(
        r.output.as_deref() == Some(&reference[..]),
        "{fault}: object differs from a local build"
    );
    let why = r
        .stderr
        .lines()
        .find(|l| l.contains("failed to distribute") || l.contains("retrying locally"))
        .unwrap_or("")
        .trim();
    eprintln!(
        "fault: {fault}: fallback on -> exit 0, object identical ({} bytes), {:.1} s; {why}",
        reference.len(),
        r.took.as_secs_f64()
    );
}

/// With `DISTCC_FALLBACK=0`: a failure, no output, and a message containing `needle`.
fn expect_clear_failure(fault: &str, r: &Run, needle: &str) {
    assert!(!r.status.success(), "{fault}: succeeded without fallback");
    assert!(r.output.is_none(), "{fault}: partial output left");
    let line = r
        .stderr
        .lines()
        .rfind(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{fault}: no message with {needle:?} in:\n{}", r.stderr));
    eprintln!(
        "fault: {fault}: DISTCC_FALLBACK=0 -> exit {:?}, {:.1} s: {}",
        r.status.code(),
        r.took.as_secs_f64(),
        line.trim()
    );
}

/// A fault as the tests name it: what it is, the source compiled under it, and what the
/// client's message says when fallback is off.
#[derive(Clone, Copy)]
struct Fault {
    name: &'static str,
    src: &'static str,
    needle: &'static str,
}

/// A client run of `fault.src` (object `<stem>.o`) against `hosts` (in `netns`, if any) under
/// a fault that `inject` makes once the client has started; `env` gets `DISTCC_FALLBACK=0`
/// added unless `fallback`. Checks the outcome: with fallback, exit 0 and a local build's
/// bytes; without, a clear failure whose message holds `fault.needle`. Returns the run.
fn client_under_fault(
    sc: &Scene,
    fault: &Fault,
    fallback: bool,
    (netns, hosts): (Option<&str>, &str),
    env: &[(&str, &str)],
    inject: impl FnOnce(),
) -> Run {
    let Fault {
        name: fault,
        src,
        needle,
    } = *fault;
    let mut env = env.to_vec();
    if !fallback {
        env.push(("DISTCC_FALLBACK", "0"));
    }
    let out = format!("{}.o", src.trim_end_matches(".c"));
    let started = Instant::now();
    let c = sc.client(netns, hosts, src, &out, &env);
    inject();
    let (st, took) = finish(c, started);
    let r = collect(sc, &out, st, took);
    if fallback {
        expect_recovered(fault, sc, src, &r);
    } else {
        expect_clear_failure(fault, &r, needle);
    }
    r
}

fn collect(sc: &Scene, out: &str, status: ExitStatus, took: Duration) -> Run {
    Run {
        status,
        took,
        stderr: sc.stderr_of(out),
        output: std::fs::read(sc.path().join(out)).ok(),
    }
}

fn have_tools() -> bool {
    require(&["gcc"])
}

/// Root and `ip` for namespaces, `mount` for tmpfs: needed by some faults.
fn have_root_tools(what: &str) -> bool {
    if netns::available() {
        return true;
    }
    assert!(!ci(), "CI=true but {what} needs root and ip(8)");
    eprintln!("skipping {what}: needs root and ip(8)");
    false
}

#[test]
fn daemon_killed_mid_job_costs_one_local_build_and_leaves_nothing() {
    if !have_tools() {
        return;
    }
    const KILL9: Fault = Fault {
        name: "daemon killed (-9) mid-job",
        src: "slow.c",
        needle: "server provided no answer",
    };
    let sc = Scene::new("kill9");
    for fallback in [true, false] {
        let d = OurDaemon::start(&[]);
        let hosts = format!("127.0.0.1:{}/1", d.port);
        client_under_fault(&sc, &KILL9, fallback, (None, &hosts), &[], || {
            wait_for_compiling(&d.jobs_dir());
            d.signal(libc::SIGKILL);
        });
        assert_nothing_left(KILL9.name, &sc, &[&d]);
        // Nobody else (its janitor) holds the listening socket of the dead daemon.
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", d.port)).is_err(),
            "the killed daemon's port still accepts connections"
        );
    }
}

#[test]
fn daemon_that_accepts_then_stalls_times_out_and_leaves_nothing() {
    if !have_tools() {
        return;
    }
    const STALL: Fault = Fault {
        name: "daemon accepts then stalls",
        src: "small.c",
        needle: "timed out",
    };
    let sc = Scene::new("stall");
    for fallback in [true, false] {
        let d = OurDaemon::start(&["--read-timeout", "5"]);
        let hosts = format!("127.0.0.1:{}/1", d.port);
        // Stopped: the kernel still completes the handshake (the listen backlog), so the
        // client connects and sends, then waits for a reply that never comes.
        d.signal(libc::SIGSTOP);
        let env = [("DISTCC_IO_TIMEOUT", "3")];
        let r = client_under_fault(&sc, &STALL, fallback, (None, &hosts), &env, || {});
        assert!(r.took < Duration::from_secs(60), "stall cost {:?}", r.took);
        // Woken, the daemon finds the client gone and cleans up.
        d.signal(libc::SIGCONT);
        assert_nothing_left(STALL.name, &sc, &[&d]);
    }
}

#[test]
fn link_cut_mid_transfer_falls_back_and_both_sides_clean_up() {
    if !have_tools() || !have_root_tools("the link-cut fault") {
        return;
    }
    const CUT: Fault = Fault {
        name: "link cut mid-transfer",
        src: "bulky.c",
        needle: "timed out",
    };
    let sc = Scene::new("linkcut");
    for fallback in [true, false] {
        let link = netns::Link::new().expect("making namespaces");
        link.throttle_client(512)
            .expect("tc tbf on the client veth");
        let allow = format!("{}/32", link.client_addr);
        let d = OurDaemon::start_in(
            Some(&link.server.name),
            &link.server_addr,
            &[&allow],
            None,
            &["--read-timeout", "4"],
        );
        let hosts = format!("{}:{}/1", link.server_addr, d.port);
        let ns = Some(link.client.name.as_str());
        let env = [("DISTCC_IO_TIMEOUT", "4")];
        client_under_fault(&sc, &CUT, fallback, (ns, &hosts), &env, || {
            // The request is on its way (a job directory exists, the input is growing):
            // cut.
            let deadline = Instant::now() + Duration::from_secs(60);
            while dir_entries(&d.jobs_dir()).is_empty() {
                assert!(Instant::now() < deadline, "the transfer never started");
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(800));
            link.cut().expect("taking the veth down");
        });
        d.wait_log("request incomplete");
        assert_nothing_left(CUT.name, &sc, &[&d]);
        drop(d);
    }
}

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let t = TempDir::new("tmpfs");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=1777")])
            .arg("tmpfs")
            .arg(t.path())
            .status()
            .expect("running mount");
        assert!(st.success(), "mount -t tmpfs failed");
        Tmpfs(t)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn daemon_temp_space_full_is_explained_and_leaves_nothing() {
    if !have_tools() || !have_root_tools("the full-tmpfs fault") {
        return;
    }
    const FULL: Fault = Fault {
        name: "daemon temp space full",
        src: "bulky.c",
        needle: "No space left on device",
    };
    let sc = Scene::new("tmpfull");
    for fallback in [true, false] {
        // 64 KiB: a job directory fits, a 320 KiB preprocessed source does not.
        let fs = Tmpfs::new("64k");
        let d = OurDaemon::start_in(None, "127.0.0.1", &["127.0.0.1/32"], Some(fs.path()), &[]);
        let hosts = format!("127.0.0.1:{}/1", d.port);
        client_under_fault(&sc, &FULL, fallback, (None, &hosts), &[], || {});
        assert_nothing_left(FULL.name, &sc, &[&d]);
        drop(d);
    }
}

#[test]
fn compiler_killed_by_a_signal_is_retried_locally_or_reported() {
    if !have_tools() {
        return;
    }
    const CC1_KILLED: Fault = Fault {
        name: "compiler killed by SIGKILL",
        src: "slow.c",
        needle: "Killed signal",
    };
    let sc = Scene::new("cc1kill");
    for fallback in [true, false] {
        let d = OurDaemon::start(&[]);
        let hosts = format!("127.0.0.1:{}/1", d.port);
        client_under_fault(&sc, &CC1_KILLED, fallback, (None, &hosts), &[], || {
            let cc1 = wait_for_compiling(&d.jobs_dir());
            // SAFETY: signals the compiler our daemon started for this test.
            unsafe { libc::kill(cc1, libc::SIGKILL) };
        });
        d.wait_log("exit 1");
        assert_nothing_left(CC1_KILLED.name, &sc, &[&d]);
    }
}

#[test]
fn sigint_to_the_client_mid_remote_job_cleans_up_and_dies_of_sigint() {
    if !have_tools() {
        return;
    }
    let sc = Scene::new("sigint-remote");
    let d = OurDaemon::start(&[]);
    let hosts = format!("127.0.0.1:{}/1", d.port);
    let started = Instant::now();
    let c = sc.client(None, &hosts, "slow.c", "slow.o", &[]);
    wait_for_compiling(&d.jobs_dir());
    // SAFETY: signals the client we started.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let (st, took) = finish(c, started);
    assert_eq!(
        st.signal(),
        Some(libc::SIGINT),
        "{st}: {}",
        sc.stderr_of("slow.o")
    );
    assert!(!sc.path().join("slow.o").exists(), "partial output");
    d.wait_log("client hung up, compiler killed");
    assert_nothing_left("client SIGINT (remote phase)", &sc, &[&d]);
    eprintln!(
        "fault: client SIGINT mid remote job -> died of SIGINT (shell status 130) after {:.1} s; daemon killed its compiler",
        took.as_secs_f64()
    );
}

#[test]
fn sigint_to_the_client_reaches_a_local_compiler_and_leaves_nothing() {
    if !have_tools() {
        return;
    }
    let sc = Scene::new("sigint-local");
    let started = Instant::now();
    let c = sc.client(None, "localhost", "slow.c", "slow.o", &[]);
    // The compiler runs in a process group of its own: only forwarding can reach it.
    wait_for_process("cc1", sc.path());
    // SAFETY: signals the client we started.
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let (st, took) = finish(c, started);
    assert_eq!(
        st.signal(),
        Some(libc::SIGINT),
        "{st}: {}",
        sc.stderr_of("slow.o")
    );
    assert!(!sc.path().join("slow.o").exists(), "partial output");
    assert_nothing_left("client SIGINT (local compile)", &sc, &[]);
    eprintln!(
        "fault: client SIGINT mid local compile -> forwarded to gcc's group, died of SIGINT after {:.1} s",
        took.as_secs_f64()
    );
}

#[test]
fn sigterm_to_the_client_while_preprocessing_removes_its_temp_file() {
    if !have_tools() {
        return;
    }
    let sc = Scene::new("sigterm-cpp");
    // A preprocessor that stays busy: a header that includes itself many times over.
    let mut h = String::from("#ifndef DEPTH\n#define DEPTH\n#endif\n");
    for i in 0..200_000 {
        h.push_str(&format!("#define M{i} {i}\n"));
    }
    std::fs::write(sc.path().join("big.h"), h).unwrap();
    std::fs::write(
        sc.path().join("pp.c"),
        "#include \"big.h\"\n#include \"big.h\"\n#include \"big.h\"\nint x = M7;\n",
    )
    .unwrap();
    let d = OurDaemon::start(&[]);
    let hosts = format!("127.0.0.1:{}/1", d.port);
    let started = Instant::now();
    let c = sc.client(None, &hosts, "pp.c", "pp.o", &[]);
    // cpp is running and its output file exists in the client's TMPDIR.
    let deadline = Instant::now() + Duration::from_secs(30);
    while dir_entries(&sc.tmp).is_empty() || pids_named("cc1", sc.path()).is_empty() {
        assert!(Instant::now() < deadline, "the preprocessor never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: signals the client we started.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let (st, _) = finish(c, started);
    assert_eq!(st.signal(), Some(libc::SIGTERM), "{st}");
    assert_nothing_left("client SIGTERM (preprocessing)", &sc, &[&d]);
}
