//! The one place that spawns processes.
//!
//! A [`Command`] names the program, its arguments, working directory, environment and stdio
//! explicitly; nothing is looked up behind the caller's back except what `execvp` does for a
//! program name without a slash (callers that must not search `PATH` pass an absolute path).
//! Every child is started in a process group of its own, so that the compiler and everything
//! it started (`cc1`, `as`, …) can be killed as one: on timeout, when a watched descriptor
//! (typically the client's socket) hangs up, on [`Child::kill_group`], and when a [`Child`]
//! is dropped without having been waited for.
//!
//! The outcome carries the raw Unix wait status, so a daemon can send it as `STAT` unchanged.
//!
//! What it leaves to callers: which program may run (policy) and what a status means.
//! Because the child has its own process group, a Ctrl-C typed at a terminal reaches only the
//! caller's group: a foreground caller installs `interrupt`, and every child started after
//! that has the signal forwarded to its group until it is reaped.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{self, ChildStderr, ChildStdout, Stdio};
use std::time::{Duration, Instant};

/// Where a child's standard input comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// `/dev/null`: the default, so a child never steals the caller's terminal or socket.
    Null,
    /// The caller's own standard input.
    Inherit,
    /// A file opened read-only.
    File(PathBuf),
    /// A pipe the caller writes itself, taken with [`Child::take_stdin`]: the child sees end
    /// of file once the caller closes it.
    Pipe,
}

/// Where a child's standard output or error goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// `/dev/null`: the default.
    Null,
    /// The caller's own descriptor.
    Inherit,
    /// Collected in memory, at most `limit` bytes; the rest is read and discarded (so the
    /// child never blocks on a full pipe) and [`Outcome::truncated`] is set.
    Capture { limit: usize },
    /// A file created (or truncated) with mode 0666 less the umask.
    File(PathBuf),
    /// A pipe the caller reads itself, taken with [`Child::take_stdout`] or
    /// [`Child::take_stderr`] (for a live child whose messages are read while it runs).
    Pipe,
}

/// A process to start: everything explicit, nothing inherited by accident.
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    timeout: Option<Duration>,
    sandbox: Option<std::sync::Arc<crate::sandbox::Prepared>>,
}

impl Command {
    /// A command running `program` (argv[0] is `program` itself) with the caller's
    /// environment, stdio on `/dev/null`, and no timeout.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            stdin: Input::Null,
            stdout: Output::Null,
            stderr: Output::Null,
            timeout: None,
            sandbox: None,
        }
    }

    /// Runs the program in `sandbox` (see `sandbox`): its own namespaces, root and limits.
    /// The wait status is still the program's own.
    pub fn sandbox(&mut self, sandbox: std::sync::Arc<crate::sandbox::Prepared>) -> &mut Command {
        self.sandbox = Some(sandbox);
        self
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Working directory of the child; the caller's when not set.
    pub fn cwd(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Starts the child with an empty environment; [`Command::env`] then adds to it.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    pub fn stdin(&mut self, input: Input) -> &mut Command {
        self.stdin = input;
        self
    }

    pub fn stdout(&mut self, output: Output) -> &mut Command {
        self.stdout = output;
        self
    }

    pub fn stderr(&mut self, output: Output) -> &mut Command {
        self.stderr = output;
        self
    }

    /// Kills the whole process group if it is still running this long after the start.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Command {
        self.timeout = Some(timeout);
        self
    }

    /// Starts the child in a new process group.
    pub fn spawn(&self) -> io::Result<Child> {
        self.spawn_inner(None)
    }

    /// Starts the child (in a new process group) with its standard input and output both on
    /// one end of a new Unix socket pair, and returns the other end: a live two-way
    /// connection to the child, as 3.4 gives its ssh child. The stdin and stdout settings of
    /// this command are not used. The child's end is closed here once the child has it, so
    /// the returned stream sees end of file when the child (and whatever it handed the
    /// descriptor to) closes it.
    pub fn spawn_connected(&self) -> io::Result<(Child, UnixStream)> {
        let (ours, theirs) = UnixStream::pair()?;
        let child = self.spawn_inner(Some(OwnedFd::from(theirs)))?;
        Ok((child, ours))
    }

    fn spawn_inner(&self, connected: Option<OwnedFd>) -> io::Result<Child> {
        let mut cmd = process::Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let (out_kind, err_kind) = (&self.stdout, &self.stderr);
        let (out_limit, err_limit);
        if let Some(fd) = connected {
            cmd.stdin(Stdio::from(fd.try_clone()?));
            cmd.stdout(Stdio::from(fd));
            out_limit = 0;
        } else {
            cmd.stdin(match &self.stdin {
                Input::Null => Stdio::null(),
                Input::Inherit => Stdio::inherit(),
                Input::File(p) => Stdio::from(File::open(p)?),
                Input::Pipe => Stdio::piped(),
            });
            let (out, limit) = output_stdio(out_kind)?;
            cmd.stdout(out);
            out_limit = limit;
        }
        let (err, limit) = output_stdio(err_kind)?;
        cmd.stderr(err);
        err_limit = limit;
        // A group of its own, so one kill(-pgid) reaches every process the child starts.
        cmd.process_group(0);
        if let Some(sandbox) = &self.sandbox {
            let sandbox = sandbox.clone();
            // SAFETY: `enter` makes only system calls on strings prepared before the fork
            // (no allocation, no locks), as a hook between fork and exec must.
            unsafe {
                cmd.pre_exec(move || {
                    sandbox
                        .enter()
                        .map_err(|f| io::Error::from_raw_os_error(f.errno))
                });
            }
        }
        let started = Instant::now();
        // An interrupt between the fork and the registration would miss the child.
        let deferred = crate::interrupt::Deferred::new();
        let mut child = cmd.spawn()?;
        let interrupt_slot = crate::interrupt::watch_group(child.id() as libc::pid_t);
        drop(deferred);
        // A daemon's janitor kills this group if the daemon itself is killed.
        let janitor = crate::janitor::running();
        if janitor {
            crate::janitor::watch_group(child.id() as libc::pid_t);
        }
        // `cmd` still holds the child's end of a connected socket; close it now, or the
        // caller would never see end of file.
        drop(cmd);
        let pid = child.id() as libc::pid_t;
        let piped_stdin = child.stdin.take().map(OwnedFd::from);
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let piped = |kind: &Output| matches!(kind, Output::Pipe);
        let (stdout, piped_stdout) = if piped(out_kind) {
            (None, stdout.map(OwnedFd::from))
        } else {
            (stdout.map(|p| Capture::new(Pipe::Out(p), out_limit)), None)
        };
        let (stderr, piped_stderr) = if piped(err_kind) {
            (None, stderr.map(OwnedFd::from))
        } else {
            (stderr.map(|p| Capture::new(Pipe::Err(p), err_limit)), None)
        };
        Ok(Child {
            inner: Some(child),
            interrupt_slot,
            janitor,
            pid,
            pidfd: open_pidfd(pid),
            deadline: self.timeout.map(|t| started + t),
            stdout,
            stderr,
            piped_stdin,
            piped_stdout,
            piped_stderr,
        })
    }

    /// Spawns and waits: the common case.
    pub fn run(&self) -> io::Result<Outcome> {
        self.spawn()?.wait()
    }
}

fn output_stdio(o: &Output) -> io::Result<(Stdio, usize)> {
    Ok(match o {
        Output::Null => (Stdio::null(), 0),
        Output::Inherit => (Stdio::inherit(), 0),
        Output::Capture { limit } => (Stdio::piped(), *limit),
        Output::Pipe => (Stdio::piped(), 0),
        Output::File(p) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)?;
            (Stdio::from(f), 0)
        }
    })
}

/// Why the child stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited or was killed by something other than us.
    Exited,
    /// The timeout passed; we killed the process group.
    TimedOut,
    /// The watched descriptor hung up; we killed the process group.
    HungUp,
    /// [`Child::kill_group`] was called before waiting.
    Killed,
}

/// What a finished child left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The raw wait status (`WEXITSTATUS << 8`, or the signal number), as `waitpid` gives it.
    pub status: i32,
    pub ended: Ended,
    /// Captured standard output; empty unless [`Output::Capture`] was asked for.
    pub stdout: Vec<u8>,
    /// Captured standard error; empty unless [`Output::Capture`] was asked for.
    pub stderr: Vec<u8>,
    /// True when a capture hit its limit and output was discarded.
    pub truncated: bool,
}

impl Outcome {
    /// The exit code, if the child exited normally.
    pub fn exit_code(&self) -> Option<i32> {
        process::ExitStatus::from_raw(self.status).code()
    }

    /// True for a normal exit with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

enum Pipe {
    Out(ChildStdout),
    Err(ChildStderr),
}

impl Pipe {
    fn fd(&self) -> RawFd {
        match self {
            Pipe::Out(p) => p.as_raw_fd(),
            Pipe::Err(p) => p.as_raw_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Pipe::Out(p) => p.read(buf),
            Pipe::Err(p) => p.read(buf),
        }
    }
}

struct Capture {
    pipe: Option<Pipe>,
    data: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Capture {
    fn new(pipe: Pipe, limit: usize) -> Capture {
        Capture {
            pipe: Some(pipe),
            data: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// One read after poll said the pipe is ready; closes it at end of file.
    fn pump(&mut self) -> io::Result<()> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 16 * 1024];
        let n = match pipe.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        };
        if n == 0 {
            self.pipe = None;
            return Ok(());
        }
        let room = self.limit.saturating_sub(self.data.len());
        if n > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&buf[..n.min(room)]);
        Ok(())
    }
}

/// A running child in its own process group. Dropping it kills the group and reaps it.
pub struct Child {
    inner: Option<process::Child>,
    /// This group's entry in `crate::interrupt`'s table while signals are forwarded to it.
    interrupt_slot: Option<usize>,
    /// True while `crate::janitor` has this group registered.
    janitor: bool,
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    deadline: Option<Instant>,
    stdout: Option<Capture>,
    stderr: Option<Capture>,
    piped_stdin: Option<OwnedFd>,
    piped_stdout: Option<OwnedFd>,
    piped_stderr: Option<OwnedFd>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("pid", &self.pid).finish()
    }
}

impl Child {
    /// The child's pid, which is also its process group id.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// The write end of the child's standard input, when it was [`Input::Pipe`] (once).
    pub fn take_stdin(&mut self) -> Option<File> {
        self.piped_stdin.take().map(File::from)
    }

    /// The read end of the child's standard output, when it was [`Output::Pipe`] (once).
    pub fn take_stdout(&mut self) -> Option<File> {
        self.piped_stdout.take().map(File::from)
    }

    /// The read end of the child's standard error, when it was [`Output::Pipe`] (once).
    pub fn take_stderr(&mut self) -> Option<File> {
        self.piped_stderr.take().map(File::from)
    }

    /// Like [`Child::wait`], but kills the group if the child is still running `limit` from
    /// now (or at the command's own timeout, if that comes first).
    pub fn wait_timeout(mut self, limit: Duration) -> io::Result<Outcome> {
        let at = Instant::now() + limit;
        self.deadline = Some(self.deadline.map_or(at, |d| d.min(at)));
        self.wait_inner(None)
    }

    /// Sends SIGKILL to every process in the child's group. Safe to call repeatedly; does
    /// nothing once the child has been reaped (its group id could then belong to others).
    pub fn kill_group(&mut self) {
        if self.inner.is_some() {
            // SAFETY: plain syscall; the leader is not yet reaped, so the group id is ours.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }

    /// Waits for the child, collecting captured output, killing the group at the timeout.
    pub fn wait(self) -> io::Result<Outcome> {
        self.wait_inner(None)
    }

    /// Like [`Child::wait`], and also kills the group as soon as `watch` reports a hang-up
    /// (`POLLRDHUP`, `POLLHUP` or `POLLERR`: for a socket, the peer closed it). Data arriving
    /// on `watch` is left unread.
    pub fn wait_or_hangup(self, watch: BorrowedFd<'_>) -> io::Result<Outcome> {
        self.wait_inner(Some(watch.as_raw_fd()))
    }

    fn wait_inner(mut self, watch: Option<RawFd>) -> io::Result<Outcome> {
        let mut ended = Ended::Exited;
        loop {
            if self.leader_exited()? {
                break;
            }
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(4);
            let pidfd_slot = self.pidfd.as_ref().map(|p| {
                fds.push(pollfd(p.as_raw_fd(), libc::POLLIN));
                fds.len() - 1
            });
            let watch_slot = watch.map(|w| {
                fds.push(pollfd(w, libc::POLLRDHUP));
                fds.len() - 1
            });
            let out_slot = self.push_capture_fd(&mut fds, true);
            let err_slot = self.push_capture_fd(&mut fds, false);
            // Without a pidfd (old kernels) we fall back to checking the child every 20 ms.
            let mut wait_ms: i64 = if pidfd_slot.is_some() { -1 } else { 20 };
            if let Some(d) = self.deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    ended = Ended::TimedOut;
                    self.kill_group();
                    break;
                }
                let ms = left.as_millis().min(i32::MAX as u128) as i64 + 1;
                wait_ms = if wait_ms < 0 { ms } else { wait_ms.min(ms) };
            }
            poll(&mut fds, wait_ms as i32)?;
            if let Some(i) = watch_slot
                && fds[i].revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
            {
                ended = Ended::HungUp;
                self.kill_group();
                break;
            }
            if let Some(i) = out_slot
                && fds[i].revents != 0
                && let Some(c) = self.stdout.as_mut()
            {
                c.pump()?;
            }
            if let Some(i) = err_slot
                && fds[i].revents != 0
                && let Some(c) = self.stderr.as_mut()
            {
                c.pump()?;
            }
        }
        // The leader is gone (or killed) but not reaped, so its group id is still ours: kill
        // whatever it left behind, so nothing can hold our pipes open or outlive the job.
        self.kill_group();
        self.drain()?;
        self.forget_group();
        let mut inner = self.inner.take().expect("child reaped only here");
        let status = inner.wait()?.into_raw();
        let (stdout, t1) = take_capture(self.stdout.take());
        let (stderr, t2) = take_capture(self.stderr.take());
        Ok(Outcome {
            status,
            ended,
            stdout,
            stderr,
            truncated: t1 || t2,
        })
    }

    fn push_capture_fd(&self, fds: &mut Vec<libc::pollfd>, out: bool) -> Option<usize> {
        let c = if out { &self.stdout } else { &self.stderr };
        let fd = c.as_ref()?.pipe.as_ref()?.fd();
        fds.push(pollfd(fd, libc::POLLIN));
        Some(fds.len() - 1)
    }

    /// Reads captured pipes to end of file; the group is dead, so this cannot block long.
    fn drain(&mut self) -> io::Result<()> {
        for c in [self.stdout.as_mut(), self.stderr.as_mut()]
            .into_iter()
            .flatten()
        {
            while c.pipe.is_some() {
                c.pump()?;
            }
        }
        Ok(())
    }

    /// Stops interrupt forwarding to the group: the leader is about to be reaped, after which
    /// its group id may be reused.
    fn forget_group(&mut self) {
        if let Some(slot) = self.interrupt_slot.take() {
            crate::interrupt::unwatch_group(slot);
        }
        if std::mem::take(&mut self.janitor) {
            crate::janitor::forget_group(self.pid);
        }
    }

    /// True once the leader has exited, without reaping it (`WNOWAIT`).
    fn leader_exited(&self) -> io::Result<bool> {
        // SAFETY: siginfo_t is plain data; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own child.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        // SAFETY: si_pid is valid for SIGCHLD-style infos; it is 0 when nothing changed.
        Ok(unsafe { info.si_pid() } != 0)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            // SAFETY: plain syscall; not yet reaped, so the group id is ours.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
            self.forget_group();
            let _ = inner.wait();
        }
    }
}

fn take_capture(c: Option<Capture>) -> (Vec<u8>, bool) {
    c.map(|c| (c.data, c.truncated)).unwrap_or_default()
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<()> {
    // SAFETY: fds is a valid slice of pollfd for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// A descriptor that becomes readable when the child exits (Linux ≥ 5.3); `None` elsewhere.
fn open_pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn captures_output_and_raw_status() {
        let out = sh("echo out; echo err >&2; exit 3")
            .stdout(Output::Capture { limit: 1024 })
            .stderr(Output::Capture { limit: 1024 })
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status, 3 << 8);
        assert_eq!(out.exit_code(), Some(3));
        assert_eq!(out.ended, Ended::Exited);
    }

    #[test]
    fn capture_limit_truncates_without_blocking_the_child() {
        let out = sh("head -c 1000000 /dev/zero")
            .stdout(Output::Capture { limit: 10 })
            .run()
            .unwrap();
        assert_eq!(out.stdout.len(), 10);
        assert!(out.truncated);
        assert!(out.success());
    }

    #[test]
    fn cwd_and_env_are_explicit() {
        let out = sh("pwd; echo \"$A-$HOME\"")
            .cwd("/")
            .env_clear()
            .env("A", "x")
            .stdout(Output::Capture { limit: 1024 })
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"/\nx-\n");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("os-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild-pid");
        let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let start = Instant::now();
        let out = sh(&script)
            .timeout(Duration::from_millis(300))
            .run()
            .unwrap();
        assert_eq!(out.ended, Ended::TimedOut);
        assert_eq!(out.status, libc::SIGKILL);
        assert!(start.elapsed() < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid), "grandchild {pid} survived the group kill");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hangup_of_watched_socket_kills_the_group() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let child = sh("sleep 30").spawn().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(theirs);
        });
        use std::os::fd::AsFd;
        let out = child.wait_or_hangup(ours.as_fd()).unwrap();
        t.join().unwrap();
        assert_eq!(out.ended, Ended::HungUp);
        assert_eq!(out.status, libc::SIGKILL);
    }

    #[test]
    fn drop_kills_the_group() {
        let child = sh("sleep 30").spawn().unwrap();
        let pid = child.id() as i32;
        drop(child);
        assert!(gone(pid));
    }

    #[test]
    fn a_piped_stdin_is_written_by_the_caller_and_ends_when_closed() {
        use std::io::Write;
        let mut cmd = sh("tr a-z A-Z");
        cmd.stdin(Input::Pipe)
            .stdout(Output::Capture { limit: 1024 });
        let mut child = cmd.spawn().unwrap();
        let mut input = child.take_stdin().expect("stdin was piped");
        assert!(child.take_stdin().is_none(), "taken once");
        input.write_all(b"fed through a pipe\n").unwrap();
        drop(input);
        let out = child.wait().unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, b"FED THROUGH A PIPE\n");
    }

    #[test]
    fn connected_child_talks_both_ways_and_sees_end_of_file() {
        use std::io::Write;
        let mut cmd = sh("tr a-z A-Z; echo done >&2");
        cmd.stderr(Output::Pipe);
        let (mut child, mut stream) = cmd.spawn_connected().unwrap();
        drop(cmd);
        let mut err = child.take_stderr().expect("stderr was piped");
        assert!(child.take_stderr().is_none(), "taken once");
        stream.write_all(b"hello over a socket\n").unwrap();
        // End of our input: `tr` sees end of file, finishes, and so closes its output.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"HELLO OVER A SOCKET\n");
        let mut msg = String::new();
        err.read_to_string(&mut msg).unwrap();
        assert_eq!(msg, "done\n");
        let out = child.wait().unwrap();
        assert!(out.success());
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    }

    #[test]
    fn wait_timeout_kills_a_child_that_outlives_it() {
        let start = Instant::now();
        let out = sh("sleep 30")
            .spawn()
            .unwrap()
            .wait_timeout(Duration::from_millis(200))
            .unwrap();
        assert_eq!(out.ended, Ended::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(10));
        let quick = sh("exit 4")
            .spawn()
            .unwrap()
            .wait_timeout(Duration::from_secs(10))
            .unwrap();
        assert_eq!((quick.ended, quick.exit_code()), (Ended::Exited, Some(4)));
    }

    #[test]
    fn missing_program_is_an_error() {
        let e = Command::new("/nonexistent/prog").spawn().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn output_to_file() {
        let path = std::env::temp_dir().join(format!("os-process-out-{}", std::process::id()));
        let out = sh("echo hi")
            .stdout(Output::File(path.clone()))
            .run()
            .unwrap();
        assert!(out.success());
        assert_eq!(std::fs::read(&path).unwrap(), b"hi\n");
        std::fs::remove_file(&path).unwrap();
    }

    /// True when `pid` no longer exists (or is a zombie about to be reaped by init).
    fn gone(pid: i32) -> bool {
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
            match stat {
                Err(_) => return true,
                Ok(s)
                    if s.rsplit(')')
                        .next()
                        .is_some_and(|r| r.trim_start().starts_with('Z')) =>
                {
                    return true;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        false
    }
}
