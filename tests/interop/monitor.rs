//! Monitor state files shared with distcc 3.4: our `distccmon-text` reads what 3.4's client
//! writes, and 3.4's `distccmon-text` reads what our `StateFile` writes, line for line.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ::monitor::write::StateFile;
use ::monitor::{Phase, StateRecord, text};

use crate::support::{TempDir, require};

/// A process killed when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn monitor_output(program: &Path, distcc_dir: &Path) -> (i32, Vec<u8>) {
    let out = Command::new(program)
        .env("DISTCC_DIR", distcc_dir)
        .env_remove("DISTCC_VERBOSE")
        .stdin(Stdio::null())
        .output()
        .expect("running distccmon-text");
    (out.status.code().unwrap_or(-1), out.stdout)
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_distccmon-text"))
}

fn theirs() -> &'static Path {
    Path::new("/usr/bin/distccmon-text")
}

#[test]
fn our_distccmon_text_shows_a_3_4_client_waiting_on_a_stalled_server() {
    if !require(&["distcc", "distccmon-text", "gcc"]) {
        return;
    }
    let work = TempDir::new("mon34");
    let distcc_dir = work.path().join("distcc");
    std::fs::create_dir(&distcc_dir).unwrap();
    std::fs::write(work.path().join("stall.c"), "int stall;\n").unwrap();
    // Accepts the connection (the kernel does) and never answers: the client sends its
    // request and then waits for DONE in the Compile phase.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = Reaper(
        Command::new("distcc")
            .args(["gcc", "-c", "stall.c", "-o", "stall.o"])
            .current_dir(work.path())
            .env("DISTCC_DIR", &distcc_dir)
            .env("DISTCC_HOSTS", format!("127.0.0.1:{port}"))
            .env("DISTCC_FALLBACK", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting distcc 3.4"),
    );
    let pid = client.0.id();
    let expected = {
        let mut out = Vec::new();
        text::render(
            &[StateRecord {
                pid: u64::from(pid),
                file: b"stall.c".to_vec(),
                host: b"127.0.0.1".to_vec(),
                slot: 0,
                phase: Phase::Compile,
            }],
            &mut out,
        );
        out
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = Vec::new();
    while Instant::now() < deadline {
        let (code, out) = monitor_output(ours(), &distcc_dir);
        assert_eq!(code, 0);
        if out == expected {
            break;
        }
        last = out;
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, ours_out) = monitor_output(ours(), &distcc_dir);
    assert_eq!(
        String::from_utf8_lossy(&ours_out),
        String::from_utf8_lossy(&expected),
        "our distccmon-text never showed the 3.4 client in Compile (last: {:?})",
        String::from_utf8_lossy(&last)
    );
    let (code, theirs_out) = monitor_output(theirs(), &distcc_dir);
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&ours_out),
        String::from_utf8_lossy(&theirs_out),
        "ours and 3.4's distccmon-text differ"
    );
    drop(client);
    drop(listener);
}

#[test]
fn distccmon_text_3_4_lists_a_state_file_written_by_ours() {
    if !require(&["distccmon-text", "sleep"]) {
        return;
    }
    let work = TempDir::new("monours");
    let distcc_dir = work.path();
    // A live process for the record to name: both monitors drop records of dead pids.
    let sleeper = Reaper(
        Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("starting sleep"),
    );
    let mut state = StateFile::with_pid(distcc_dir, sleeper.0.id());
    state
        .note(Phase::Startup, Some(Path::new("src/deep/widget.cpp")), None)
        .unwrap();
    state.set_slot(3);
    state
        .note(Phase::Send, None, Some(b"buildbox.example:3632"))
        .unwrap();

    let (code, theirs_out) = monitor_output(theirs(), distcc_dir);
    assert_eq!(code, 0);
    let expected = format!(
        "{:6}  Send        {:<30} {:>24}[3]\n\n",
        sleeper.0.id(),
        "widget.cpp",
        "buildbox.example:3632"
    );
    assert_eq!(String::from_utf8_lossy(&theirs_out), expected);
    let (code, ours_out) = monitor_output(ours(), distcc_dir);
    assert_eq!(code, 0);
    assert_eq!(ours_out, theirs_out);

    // Done is not shown by either; a removed file is gone from both.
    state.note(Phase::Done, None, None).unwrap();
    assert_eq!(monitor_output(theirs(), distcc_dir).1, b"\n");
    assert_eq!(monitor_output(ours(), distcc_dir).1, b"\n");
    state.remove().unwrap();
    assert!(!state.path().exists());
}
