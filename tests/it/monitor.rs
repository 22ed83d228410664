//! `distccmon-text` end to end: state files written by our `StateFile`, read by our binary,
//! once and repeatedly, with stale, dead and finished jobs left out.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ::monitor::write::StateFile;
use ::monitor::{Phase, StateRecord};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_distccmon-text"))
}

/// A fresh directory for one test, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("distcc-rs-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process killed when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper() -> Reaper {
    Reaper(
        Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("starting sleep"),
    )
}

fn run(distcc_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("DISTCC_DIR", distcc_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lists_live_jobs_sorted_and_skips_dead_stale_done_and_junk() {
    let d = Dir::new("mon-list");
    let (a, b) = (sleeper(), sleeper());
    let mut ja = StateFile::with_pid(&d.0, a.0.id());
    ja.set_slot(1);
    ja.note(Phase::Cpp, Some(Path::new("/src/b.c")), Some(b"hostb"))
        .unwrap();
    let mut jb = StateFile::with_pid(&d.0, b.0.id());
    jb.note(Phase::Receive, Some(Path::new("a.c")), Some(b"hosta"))
        .unwrap();
    let mut done = StateFile::with_pid(&d.0, a.0.id() + 100_000);
    done.note(Phase::Done, Some(Path::new("d.c")), Some(b"h"))
        .unwrap();

    // A record of a process that has exited.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let dead = StateRecord {
        pid: u64::from(gone_pid),
        file: b"dead.c".to_vec(),
        host: b"h".to_vec(),
        slot: 0,
        phase: Phase::Send,
    };
    let state = d.0.join("state");
    std::fs::write(state.join(format!("binstate_{gone_pid}")), dead.encode()).unwrap();
    // A record of a live process, but last touched two minutes ago.
    let stale = state.join("binstate_stale");
    let stale_rec = StateRecord {
        pid: u64::from(a.0.id()),
        file: b"stale.c".to_vec(),
        ..dead.clone()
    };
    std::fs::write(&stale, stale_rec.encode()).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    std::fs::write(state.join("binstate_junk"), b"not a record").unwrap();

    let (code, out, err) = run(&d.0, &[]);
    assert_eq!(code, 0, "stderr: {err}");
    let expected = format!(
        "{:6}  Receive     {:<30} {:>24}[0]\n{:6}  Preprocess  {:<30} {:>24}[1]\n\n",
        b.0.id(),
        "a.c",
        "hosta",
        a.0.id(),
        "b.c",
        "hostb"
    );
    assert_eq!(out, expected);
    assert!(stale.exists(), "the monitor deletes nothing");
}

#[test]
fn missing_state_directory_prints_an_empty_block_and_creates_nothing() {
    let d = Dir::new("mon-empty");
    let top = d.0.join("never-used");
    let (code, out, _) = run(&top, &[]);
    assert_eq!((code, out.as_str()), (0, "\n"));
    assert!(!top.exists());
}

#[test]
fn bad_arguments_print_usage_and_exit_1() {
    let d = Dir::new("mon-usage");
    for args in [&["x"][..], &["1", "2"], &["-1"], &["--help"]] {
        let (code, out, err) = run(&d.0, args);
        assert_eq!(code, 1, "{args:?}");
        assert!(out.is_empty());
        assert!(err.starts_with("usage: distccmon-text [DELAY]"), "{err}");
    }
}

#[test]
fn with_a_delay_it_repeats_and_follows_changes() {
    let d = Dir::new("mon-repeat");
    let s = sleeper();
    let mut job = StateFile::with_pid(&d.0, s.0.id());
    job.note(Phase::Connect, Some(Path::new("r.c")), Some(b"h"))
        .unwrap();
    let mut mon = Reaper(
        Command::new(bin())
            .arg("0.1")
            .env("DISTCC_DIR", &d.0)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = mon.0.stdout.take().unwrap();
    // Reads until the monitor is killed below, which closes the pipe.
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let _ = stdout.read_to_end(&mut seen);
        String::from_utf8_lossy(&seen).into_owned()
    });
    std::thread::sleep(Duration::from_millis(350));
    job.note(Phase::Send, None, None).unwrap();
    std::thread::sleep(Duration::from_millis(350));
    job.remove().unwrap();
    std::thread::sleep(Duration::from_millis(350));
    drop(mon);
    let text = reader.join().unwrap();
    // Each poll prints its job lines and then an empty line.
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            blocks.push(std::mem::take(&mut current));
        } else {
            current.push(line);
        }
    }
    assert!(blocks.len() >= 4, "expected several blocks: {text:?}");
    assert!(
        blocks[0].len() == 1 && blocks[0][0].contains("  Connect  "),
        "{text:?}"
    );
    assert!(
        blocks
            .iter()
            .any(|b| b.len() == 1 && b[0].contains("  Send  ")),
        "{text:?}"
    );
    assert!(
        blocks.last().unwrap().is_empty(),
        "job gone at the end: {text:?}"
    );
}
