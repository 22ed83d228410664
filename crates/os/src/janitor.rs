//! A helper process that cleans up after its parent even when the parent is killed with
//! SIGKILL: it kills the process groups of the parent's unfinished children and removes its
//! unfinished temporary directories.
//!
//! Why a process: nothing inside a process runs after SIGKILL, and each child of `process`
//! has a process group of its own, so the compilers (and their `cc1`/`as`) of a killed daemon
//! would run on as orphans and leave their job directories behind. The janitor is forked by
//! [`start`] (call it before any thread starts, after dropping privileges, so it can do
//! exactly what the parent could) and reads registrations from a pipe. The parent's end is
//! close-on-exec, so only the parent holds it: end of file on the pipe means the parent is
//! gone, however it died. Then every group still registered gets SIGKILL and every directory
//! still registered is removed; then the janitor exits. A parent that exits cleanly has
//! unregistered everything, so its janitor just exits.
//!
//! `process::Child` registers its group and `tempdir::TempDir` its directory automatically
//! once a janitor runs; until then (and in processes that never start one) nothing is sent.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static PIPE: OnceLock<Mutex<File>> = OnceLock::new();

/// Forks the janitor (once). Returns its pid. Call before any thread starts: the child
/// runs ordinary Rust code after `fork`, which is only sound in a single-threaded process.
pub fn start() -> io::Result<u32> {
    if PIPE.get().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "janitor already running",
        ));
    }
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fork in a single-threaded process (the caller's contract).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closing the descriptors we just made.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        return Err(e);
    }
    if pid == 0 {
        // Keep nothing of the parent's but the pipe (and stdio): a listening socket held here
        // would go on accepting connections after the daemon is gone.
        close_all_but(fds[0]);
        // SAFETY: fds[0] is open and owned by nobody else in this process.
        let read = unsafe { File::from_raw_fd(fds[0]) };
        run(read);
    }
    // SAFETY: the parent owns its copy of both descriptors.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is open and owned by nobody else in this process.
    let write = unsafe { File::from_raw_fd(fds[1]) };
    let _ = PIPE.set(Mutex::new(write));
    Ok(pid as u32)
}

/// Closes every descriptor above 2 except `keep`.
fn close_all_but(keep: RawFd) {
    // SAFETY: plain syscalls on this (single-threaded, just forked) process's descriptors.
    unsafe {
        let hi = libc::c_uint::MAX;
        let keep = keep as libc::c_uint;
        let ok = (keep <= 3 || libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32) == 0)
            && libc::syscall(libc::SYS_close_range, keep + 1, hi, 0u32) == 0;
        if !ok {
            // Kernels before 5.9: close what /proc lists (collected first, then closed).
            let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                        .collect()
                })
                .unwrap_or_default();
            for fd in open {
                if fd > 2 && fd != keep as RawFd {
                    libc::close(fd);
                }
            }
        }
    }
}

/// True once [`start`] has forked a janitor in this process.
pub fn running() -> bool {
    PIPE.get().is_some()
}

fn send(line: &[u8]) {
    if let Some(m) = PIPE.get() {
        let mut f = m.lock().unwrap_or_else(|p| p.into_inner());
        // One write per record (short records are atomic on a pipe); a dead janitor (EPIPE,
        // SIGPIPE is ignored by our daemons) only costs the cleanup it would have done.
        let _ = f.write_all(line);
    }
}

fn record(op: u8, kind: u8, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 3);
    v.extend_from_slice(&[op, kind]);
    v.extend_from_slice(value);
    v.push(b'\n');
    v
}

/// Registers a process group to kill if the parent dies (`process` calls this).
pub(crate) fn watch_group(pgid: libc::pid_t) {
    if running() && pgid > 0 {
        send(&record(b'+', b'G', pgid.to_string().as_bytes()));
    }
}

/// Forgets a group (before its leader is reaped and its id can be reused).
pub(crate) fn forget_group(pgid: libc::pid_t) {
    if running() && pgid > 0 {
        send(&record(b'-', b'G', pgid.to_string().as_bytes()));
    }
}

/// Registers a directory to remove if the parent dies (`tempdir` calls this). Paths with a
/// newline are not registered (they cannot be framed; ours never have one).
pub(crate) fn watch_dir(path: &Path) {
    let b = path.as_os_str().as_bytes();
    if running() && !b.contains(&b'\n') {
        send(&record(b'+', b'D', b));
    }
}

/// Forgets a directory (after it has been removed in the ordinary way).
pub(crate) fn forget_dir(path: &Path) {
    let b = path.as_os_str().as_bytes();
    if running() && !b.contains(&b'\n') {
        send(&record(b'-', b'D', b));
    }
}

/// The janitor itself: collect registrations until end of file, then clean up and exit.
fn run(read: File) -> ! {
    // Signals meant for the parent's group (a terminal's Ctrl-C, a group SIGTERM) must not
    // stop the janitor before the parent is gone.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: plain syscall.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let mut groups: HashSet<libc::pid_t> = HashSet::new();
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    let mut r = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') || line.len() < 3 {
            break;
        }
        let value = &line[2..line.len() - 1];
        match (line[0], line[1]) {
            (op, b'G') => {
                let Some(g) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<libc::pid_t>().ok())
                else {
                    continue;
                };
                if op == b'+' {
                    groups.insert(g);
                } else {
                    groups.remove(&g);
                }
            }
            (op, b'D') => {
                let p = PathBuf::from(OsString::from_vec(value.to_vec()));
                if op == b'+' {
                    dirs.insert(p);
                } else {
                    dirs.remove(&p);
                }
            }
            _ => {}
        }
    }
    clean_up(&groups, &dirs);
    // SAFETY: leave without running the parent's atexit handlers or flushing its buffers.
    unsafe { libc::_exit(0) }
}

fn clean_up(groups: &HashSet<libc::pid_t>, dirs: &HashSet<PathBuf>) {
    for g in groups {
        // SAFETY: plain syscall on a group the parent registered and never reaped.
        unsafe { libc::kill(-g, libc::SIGKILL) };
    }
    // Killed processes may still hold or create files for an instant: wait until the groups
    // are empty (a zombie leader counts as gone), then remove, retrying briefly.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && groups.iter().any(|g| group_has_live_member(*g)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for d in dirs {
        for _ in 0..20 {
            match std::fs::remove_dir_all(d) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                _ => break,
            }
        }
    }
}

/// True while a process of group `g` is alive and not a zombie (read from /proc).
fn group_has_live_member(g: libc::pid_t) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let Ok(stat) = std::fs::read(e.path().join("stat")) else {
            return false;
        };
        // After the last ')': state, ppid, pgrp.
        let Some(close) = stat.iter().rposition(|b| *b == b')') else {
            return false;
        };
        let rest = String::from_utf8_lossy(&stat[close + 1..]);
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("");
        let _ppid = f.next();
        let pgrp = f.next().and_then(|s| s.parse::<libc::pid_t>().ok());
        pgrp == Some(g) && state != "Z" && state != "X"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_framed_lines() {
        assert_eq!(record(b'+', b'G', b"42"), b"+G42\n");
        assert_eq!(record(b'-', b'D', b"/tmp/x"), b"-D/tmp/x\n");
        // Without a running janitor nothing is sent and nothing fails.
        assert!(!running());
        watch_group(1);
        watch_dir(Path::new("/nonexistent"));
    }

    #[test]
    fn clean_up_kills_groups_and_removes_dirs() {
        use std::os::unix::process::CommandExt;
        let dir = std::env::temp_dir().join(format!("os-janitor-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), b"x").unwrap();
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        let g = child.id() as libc::pid_t;
        clean_up(&HashSet::from([g]), &HashSet::from([dir.clone()]));
        assert!(!dir.exists());
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
        assert!(!group_has_live_member(g), "the background sleep survived");
    }
}
