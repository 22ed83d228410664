//! The ssh transport, and the hoarding of ssh connections.
//!
//! As in 3.4, a job for `[user]@host[/N][:command]` runs
//! `$DISTCC_SSH [its options…] [-l user] host command --inetd` (command defaults to
//! `distccd`) with its standard input and output on one end of a socket pair, and the
//! protocol runs over the other end ([`Stream::Ssh`]). Unlike 3.4 we never add
//! `--enable-tcp-insecure`: that flag switches off the far daemon's compiler allow-list.
//!
//! Hoarding: a full ssh handshake per file is slow, so unless `DISTCC_SSH_HOARD=0` the first
//! job to a host leaves an OpenSSH connection master behind (`ControlMaster=auto`,
//! `ControlPersist=$DISTCC_SSH_PERSIST` seconds of idle time, 300 by default) listening on a
//! control socket `$DISTCC_DIR/ssh/<hash>`; later jobs to that host with the same ssh command
//! multiplex a new session over it instead of a new handshake. The master exits on its own
//! once idle for the persist time. Before each job the socket is probed (the master must
//! send its hello within [`PROBE_TIMEOUT`]); a dead or silent holder is removed and replaced
//! by the job itself. If a job through a held connection still fails with an ssh error
//! (ssh's exit status 255), the holder is told to exit and the job is tried once more with a
//! fresh connection, so a dead holder never fails a build.
//!
//! What it leaves to others: the protocol (`remote`), whether a failure backs the host off
//! (`compile`), and spawning (`os::process`).

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use os::exit::ExitCode;
use os::process::{Command, Output};

use crate::config::Config;
use crate::log::Log;
use crate::remote::{Attempt, CommFailure};
use crate::transport::Stream;

/// The program 3.4 runs when `DISTCC_SSH` is unset or empty.
pub const DEFAULT_SSH: &str = "ssh";

/// How long a held connection's master has to greet a probe before it counts as dead.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long ssh may take to exit once the exchange is over before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// How long `ssh -O exit` may take to stop a holder.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// Most bytes of ssh's messages kept for the log.
const STDERR_LIMIT: usize = 64 * 1024;

/// A Unix socket path holds at most 107 bytes, and OpenSSH first binds the control socket
/// under the final name plus a 17-byte random suffix.
const MAX_CONTROL_PATH: usize = 107 - 17;

/// How ssh connections are made: read once from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DISTCC_SSH` split on spaces as 3.4 does (`strtok(" ")`): the program, then its
    /// options. 3.4 keeps at most 12 options; we keep them all.
    pub command: Vec<String>,
    /// Where held connections live, and for how long they persist; `None`: no hoarding.
    pub hoard: Option<Hoard>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hoard {
    /// `$DISTCC_DIR/ssh`.
    pub dir: PathBuf,
    /// Idle time after which a held connection goes away (`ControlPersist`).
    pub persist: Duration,
}

impl Settings {
    /// The settings for a client whose `DISTCC_DIR` is `top`.
    pub fn new(config: &Config, top: &Path) -> Settings {
        let mut command: Vec<String> = config
            .ssh
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        if command.is_empty() {
            command.push(DEFAULT_SSH.to_owned());
        }
        // OpenSSH reads `ControlPersist=0` as "forever", which is no idle limit at all.
        let hoard = (config.ssh_hoard && !config.ssh_persist.is_zero()).then(|| Hoard {
            dir: top.join("ssh"),
            persist: config.ssh_persist,
        });
        Settings { command, hoard }
    }
}

/// One ssh host: `[user]@machine[:command]`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub user: Option<&'a str>,
    pub machine: &'a str,
    pub command: Option<&'a str>,
}

/// The ssh command line for one job: 3.4's, plus the connection-sharing options when
/// `control` is given. Our options follow the user's, so the user's win (OpenSSH keeps the
/// first value of an option).
pub fn argv(settings: &Settings, target: &Target<'_>, control: Option<&Control>) -> Vec<String> {
    let mut v = settings.command.clone();
    if let Some(c) = control {
        v.extend([
            "-o".to_owned(),
            "ControlMaster=auto".to_owned(),
            "-o".to_owned(),
            format!("ControlPath={}", c.path.display()),
            "-o".to_owned(),
            format!("ControlPersist={}s", c.persist.as_secs().max(1)),
        ]);
    }
    if let Some(user) = target.user {
        v.extend(["-l".to_owned(), user.to_owned()]);
    }
    v.push(target.machine.to_owned());
    v.push(target.command.unwrap_or("distccd").to_owned());
    v.push("--inetd".to_owned());
    v
}

/// The control socket of a host's held connection, and its idle time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    pub path: PathBuf,
    pub persist: Duration,
}

/// The control socket for `target` under the hoard directory: named by a hash of the ssh
/// command, user and machine (the far command does not matter: sessions share a connection
/// whatever they run). `None` when `DISTCC_DIR` is too long for a socket path.
pub fn control(settings: &Settings, target: &Target<'_>) -> Option<Control> {
    let hoard = settings.hoard.as_ref()?;
    let mut h = Fnv::new();
    for w in &settings.command {
        h.write(w.as_bytes());
    }
    h.write(target.user.unwrap_or("").as_bytes());
    h.write(target.machine.as_bytes());
    let path = hoard.dir.join(format!("{:016x}", h.0));
    if path.as_os_str().len() > MAX_CONTROL_PATH {
        return None;
    }
    Some(Control {
        path,
        persist: hoard.persist,
    })
}

/// FNV-1a, 64 bits, with a separator after each word: only a short stable name is needed.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain([0u8].iter()) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// What a probe of a control socket found.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    /// No socket: this job's ssh becomes the holder.
    Absent,
    /// A master answered.
    Alive,
    /// Something is there but no master answers; the reason, for the log.
    Dead(String),
}

/// Probes the control socket: a live OpenSSH master greets every new mux client with a hello
/// message at once. Costs one local connect and read.
pub fn probe(path: &Path, timeout: Duration) -> Holder {
    let sock = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Holder::Absent,
        Err(e) => return Holder::Dead(format!("cannot connect to its socket: {e}")),
    };
    let _ = sock.set_read_timeout(Some(timeout));
    let mut b = [0u8; 1];
    match (&sock).read(&mut b) {
        Ok(1) => Holder::Alive,
        Ok(_) => Holder::Dead("it closed the socket without a greeting".to_owned()),
        Err(e) => Holder::Dead(format!("no greeting: {e}")),
    }
}

/// Runs one job over ssh: `exchange` speaks the protocol over the stream. Adds ssh's own
/// messages to a communication failure, and replaces a failing held connection once.
pub fn attempt(
    settings: &Settings,
    target: &Target<'_>,
    io_timeout: Duration,
    log: &Log,
    held_socket: &dyn Fn() -> Option<String>,
    exchange: &mut Exchange<'_>,
) -> Attempt {
    let control = control(settings, target);
    if settings.hoard.is_some() && control.is_none() {
        log.info(format_args!(
            "not hoarding ssh connections: $DISTCC_DIR is too long for a socket path"
        ));
    }
    if let Some(fwd) = control.as_ref().map(|c| Forward::of(c, target))
        && let Some(remote) = fwd.recorded()
    {
        match held_once(&fwd, io_timeout, exchange) {
            Ok(attempt) => {
                log.debug(format_args!(
                    "ran the job on {} through the held connection's forward to {remote}",
                    target.machine
                ));
                return attempt;
            }
            Err(why) => {
                log.info(format_args!(
                    "the held daemon on {} through the held connection failed ({why}); \
                     this job takes an ssh session of its own",
                    target.machine
                ));
                fwd.forget(settings, target, &remote);
            }
        }
    }
    let attempt = per_job(
        settings,
        target,
        control.as_ref(),
        io_timeout,
        log,
        exchange,
    );
    if let (Attempt::Reply(_), Some(c)) = (&attempt, &control)
        && let Some(remote) = held_socket().filter(|p| held_socket_in_path(p))
    {
        Forward::of(c, target).establish(settings, target, &remote, log);
    }
    attempt
}

/// What runs the protocol over a stream.
pub type Exchange<'a> = dyn FnMut(&Stream) -> Attempt + 'a;

/// One job over the held daemon's forwarded socket. `Err` (the socket gone, the forward or
/// the far daemon refusing, the daemon dying mid-job) means "take a session of your own":
/// never the host's fault, never a failed compile.
fn held_once(
    fwd: &Forward,
    io_timeout: Duration,
    exchange: &mut Exchange<'_>,
) -> Result<Attempt, String> {
    let sock = UnixStream::connect(&fwd.local)
        .map_err(|e| format!("cannot connect to {}: {e}", fwd.local.display()))?;
    let stream = Stream::Held(sock);
    stream.set_io_timeout(io_timeout);
    match exchange(&stream) {
        // Nothing came back, in whichever protocol: the far end of the forward is gone.
        Attempt::Comm(f) | Attempt::NoV4(f) => Err(f.why),
        other => Ok(other),
    }
}

/// A forward of a local socket, through the held connection, to the far held daemon:
/// `<control>-<far command hash>` is the socket the master listens on (one per far command:
/// `@h:cmd1` and `@h:cmd2` share a connection but may have different daemons), `….to`
/// records the far path it forwards to (written once the forward is up; its presence is what
/// later jobs look for), `….lock` keeps two clients from setting it up at once.
struct Forward {
    control: Control,
    local: PathBuf,
    record: PathBuf,
    lock: PathBuf,
}

impl Forward {
    fn of(control: &Control, target: &Target<'_>) -> Forward {
        let mut h = Fnv::new();
        h.write(target.command.unwrap_or("distccd").as_bytes());
        let mut local = control.path.clone().into_os_string();
        local.push(format!("-{:08x}", h.0 as u32));
        let with = |suffix: &str| {
            let mut p = local.clone();
            p.push(suffix);
            PathBuf::from(p)
        };
        Forward {
            control: control.clone(),
            local: PathBuf::from(&local),
            record: with(".to"),
            lock: with(".lock"),
        }
    }

    /// The far socket this forward reaches, if one is set up.
    fn recorded(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.record).ok()?;
        let path = text.trim_end_matches('\n');
        held_socket_in_path(path).then(|| path.to_owned())
    }

    /// Asks the held master to forward our local socket to `remote`, unless this is set up
    /// already or another client is setting it up now. Failures are logged: jobs keep
    /// taking sessions of their own, and a later one tries again.
    fn establish(&self, settings: &Settings, target: &Target<'_>, remote: &str, log: &Log) {
        let Ok(Some(_lock)) = os::lock::FileLock::try_lock(&self.lock) else {
            return;
        };
        let old = self.recorded();
        if old.as_deref() == Some(remote) {
            return;
        }
        if let Some(old) = &old {
            let _ = std::fs::remove_file(&self.record);
            let _ = self.mux(settings, target, "cancel", old);
        }
        let _ = std::fs::remove_file(&self.local);
        match self.mux(settings, target, "forward", remote) {
            Ok(()) => {
                let tmp = self.record.with_extension("tmp");
                let written = std::fs::write(&tmp, format!("{remote}\n"))
                    .and_then(|()| std::fs::rename(&tmp, &self.record));
                match written {
                    Ok(()) => log.debug(format_args!(
                        "jobs for {} now go through the held connection to {remote}",
                        target.machine
                    )),
                    Err(e) => {
                        log.warning(format_args!("cannot write {}: {e}", self.record.display()))
                    }
                }
            }
            Err(why) => log.info(format_args!(
                "the held connection to {} would not forward to its held daemon: {why}",
                target.machine
            )),
        }
    }

    /// Undoes a forward that failed a job: later jobs take sessions of their own until one
    /// sets it up again.
    fn forget(&self, settings: &Settings, target: &Target<'_>, remote: &str) {
        let _ = std::fs::remove_file(&self.record);
        let _ = self.mux(settings, target, "cancel", remote);
        let _ = std::fs::remove_file(&self.local);
    }

    /// `ssh -o ControlPath=… -O <op> -L local:remote host`, bounded in time.
    fn mux(
        &self,
        settings: &Settings,
        target: &Target<'_>,
        op: &str,
        remote: &str,
    ) -> Result<(), String> {
        let mut argv = settings.command.clone();
        argv.extend([
            "-o".to_owned(),
            format!("ControlPath={}", self.control.path.display()),
            "-O".to_owned(),
            op.to_owned(),
            "-L".to_owned(),
            format!("{}:{remote}", self.local.display()),
        ]);
        if let Some(user) = target.user {
            argv.extend(["-l".to_owned(), user.to_owned()]);
        }
        argv.push(target.machine.to_owned());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).stderr(Output::Capture {
            limit: STDERR_LIMIT,
        });
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        match child.wait_timeout(STOP_WAIT) {
            Ok(o) if o.success() => Ok(()),
            Ok(o) => Err(format!(
                "ssh -O {op} exited {:?}: {}",
                o.exit_code(),
                one_line(String::from_utf8_lossy(&o.stderr).trim())
            )),
            Err(e) => Err(format!("ssh -O {op}: {e}")),
        }
    }
}

/// A far socket path we forward to: absolute, of printable characters without spaces,
/// colons or backslashes (it goes into `-L local:remote`), short enough for a socket.
fn held_socket_in_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 107
        && !path
            .bytes()
            .any(|b| b <= b' ' || b == b':' || b == b'\\' || b >= 0x7f)
}

/// A job over a session of its own (multiplexed over the held connection when hoarding): as
/// 3.4 does, plus the replacement of a dead holder.
fn per_job(
    settings: &Settings,
    target: &Target<'_>,
    control: Option<&Control>,
    io_timeout: Duration,
    log: &Log,
    exchange: &mut Exchange<'_>,
) -> Attempt {
    let control = control.cloned();
    let mut reused = false;
    if let Some(c) = &control {
        if let Some(dir) = c.path.parent()
            && let Err(e) = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
        {
            log.warning(format_args!("cannot create {}: {e}", dir.display()));
        }
        match probe(&c.path, PROBE_TIMEOUT) {
            Holder::Absent => log.debug(format_args!(
                "no ssh connection held for {}; this job starts one",
                target.machine
            )),
            Holder::Alive => {
                reused = true;
                log.debug(format_args!(
                    "reusing the held ssh connection to {}",
                    target.machine
                ));
            }
            Holder::Dead(why) => {
                log.info(format_args!(
                    "replacing a dead ssh connection holder for {} ({why})",
                    target.machine
                ));
                stop_holder(settings, target, c);
            }
        }
    }
    let first = run_once(
        settings,
        target,
        control.as_ref(),
        io_timeout,
        log,
        exchange,
    );
    let Some(c) = control.as_ref().filter(|_| reused && first.ssh_failed()) else {
        return first.attempt;
    };
    log.info(format_args!(
        "the held ssh connection to {} failed ({}); replacing it and trying again",
        target.machine,
        first.why()
    ));
    stop_holder(settings, target, c);
    run_once(
        settings,
        target,
        control.as_ref(),
        io_timeout,
        log,
        exchange,
    )
    .attempt
}

/// One ssh child and one exchange.
struct Once {
    attempt: Attempt,
    /// ssh's exit code; `None` if it was killed or could not be waited for.
    exit: Option<i32>,
}

impl Once {
    /// ssh itself failed (OpenSSH exits 255 for its own errors), and no reply came.
    fn ssh_failed(&self) -> bool {
        matches!(self.attempt, Attempt::Comm(_)) && self.exit == Some(255)
    }

    fn why(&self) -> &str {
        match &self.attempt {
            Attempt::Comm(f) => &f.why,
            _ => "",
        }
    }
}

fn run_once(
    settings: &Settings,
    target: &Target<'_>,
    control: Option<&Control>,
    io_timeout: Duration,
    log: &Log,
    exchange: &mut Exchange<'_>,
) -> Once {
    let argv = argv(settings, target, control);
    log.debug(format_args!("running {argv:?}"));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stderr(Output::Pipe);
    let (mut child, sock) = match cmd.spawn_connected() {
        Ok(x) => x,
        Err(e) => {
            return Once {
                attempt: Attempt::Comm(CommFailure {
                    why: format!("cannot run {}: {e}", argv[0]),
                    code: ExitCode::ConnectFailed,
                }),
                exit: None,
            };
        }
    };
    let messages = child.take_stderr().map(Messages::collect);
    let stream = Stream::Ssh(sock);
    stream.set_io_timeout(io_timeout);
    let attempt = exchange(&stream);
    // Our end closed: ssh passes end of file on, and exits once the far side has.
    drop(stream);
    let exit = match child.wait_timeout(EXIT_WAIT) {
        Ok(o) if o.ended == os::process::Ended::Exited => o.exit_code(),
        _ => None,
    };
    let text = messages.map(|m| m.take()).unwrap_or_default();
    let text = text.trim();
    let attempt = match attempt {
        Attempt::Comm(mut f) => {
            let status = exit.map_or_else(|| "did not exit".to_owned(), |c| format!("exited {c}"));
            f.why = if text.is_empty() {
                format!("{}; ssh {status} without a message", f.why)
            } else {
                format!("{}; ssh {status}: {}", f.why, one_line(text))
            };
            if exit == Some(255) {
                f.code = ExitCode::ConnectFailed;
            }
            Attempt::Comm(f)
        }
        other => {
            if !text.is_empty() {
                log.debug(format_args!("ssh said: {}", one_line(text)));
            }
            other
        }
    };
    Once { attempt, exit }
}

/// Tells a holder to exit (`ssh -O exit`, bounded in time) and removes its socket, so the
/// next ssh starts a new one. Failures are ignored: the socket is gone either way.
fn stop_holder(settings: &Settings, target: &Target<'_>, control: &Control) {
    let mut argv = settings.command.clone();
    argv.extend([
        "-o".to_owned(),
        format!("ControlPath={}", control.path.display()),
        "-O".to_owned(),
        "exit".to_owned(),
    ]);
    if let Some(user) = target.user {
        argv.extend(["-l".to_owned(), user.to_owned()]);
    }
    argv.push(target.machine.to_owned());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if let Ok(child) = cmd.spawn() {
        let _ = child.wait_timeout(STOP_WAIT);
    }
    let _ = std::fs::remove_file(&control.path);
}

/// ssh's messages, read by a thread so that ssh never blocks on a full pipe mid-exchange.
pub(crate) struct Messages {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Messages {
    pub(crate) fn collect(mut pipe: std::fs::File) -> Messages {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel();
        let shared = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                if let Ok(mut b) = shared.lock() {
                    let room = STDERR_LIMIT.saturating_sub(b.len());
                    b.extend_from_slice(&chunk[..n.min(room)]);
                }
            }
            let _ = tx.send(());
        });
        Messages { buf, done }
    }

    /// What was said, waiting briefly for the end of the pipe (ssh has exited by now).
    pub(crate) fn take(self) -> String {
        let _ = self.done.recv_timeout(Duration::from_millis(500));
        let bytes = self.buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Several lines of messages as one log line.
pub(crate) fn one_line(text: &str) -> String {
    let mut s: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    if s.len() > 1000 {
        let mut cut = 1000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let cfg = Config::from_lookup(|k| m.get(k).cloned());
        Settings::new(&cfg, Path::new("/d"))
    }

    const T: Target<'static> = Target {
        user: Some("u"),
        machine: "box",
        command: None,
    };

    #[test]
    fn argv_is_3_4s_without_enable_tcp_insecure() {
        let s = settings(&[("DISTCC_SSH", "ssh  -F cfg -q"), ("DISTCC_SSH_HOARD", "0")]);
        assert_eq!(s.hoard, None);
        assert_eq!(
            argv(&s, &T, None),
            [
                "ssh", "-F", "cfg", "-q", "-l", "u", "box", "distccd", "--inetd"
            ]
        );
        let t = Target {
            user: None,
            machine: "h",
            command: Some("/opt/bin/distccd"),
        };
        let s = settings(&[("DISTCC_SSH", ""), ("DISTCC_SSH_HOARD", "0")]);
        assert_eq!(
            argv(&s, &t, None),
            ["ssh", "h", "/opt/bin/distccd", "--inetd"]
        );
    }

    #[test]
    fn hoarding_is_on_by_default_with_a_short_stable_socket_name() {
        let s = settings(&[]);
        let hoard = s.hoard.clone().expect("on by default");
        assert_eq!(hoard.dir, PathBuf::from("/d/ssh"));
        assert_eq!(hoard.persist, Duration::from_secs(300));
        let c = control(&s, &T).unwrap();
        assert_eq!(c, control(&s, &T).unwrap(), "stable");
        assert_eq!(c.path.parent(), Some(Path::new("/d/ssh")));
        assert_eq!(c.path.file_name().unwrap().len(), 16);
        let other = Target {
            machine: "box2",
            ..T
        };
        assert_ne!(c.path, control(&s, &other).unwrap().path);
        let same_far_command = Target {
            command: Some("x"),
            ..T
        };
        assert_eq!(c.path, control(&s, &same_far_command).unwrap().path);
        let v = argv(&s, &T, Some(&c));
        let want = format!("ControlPath={}", c.path.display());
        assert!(v.contains(&"ControlMaster=auto".to_owned()));
        assert!(v.contains(&want));
        assert!(v.contains(&"ControlPersist=300s".to_owned()));
        assert_eq!(&v[v.len() - 4..], ["u", "box", "distccd", "--inetd"]);
    }

    #[test]
    fn persist_is_configurable_and_zero_or_a_long_dir_turns_hoarding_off() {
        let s = settings(&[("DISTCC_SSH_PERSIST", "7")]);
        assert_eq!(s.hoard.unwrap().persist, Duration::from_secs(7));
        assert_eq!(settings(&[("DISTCC_SSH_PERSIST", "0")]).hoard, None);
        let mut s = settings(&[]);
        s.hoard.as_mut().unwrap().dir = PathBuf::from(format!("/{}", "x".repeat(80)));
        assert_eq!(control(&s, &T), None);
    }

    #[test]
    fn probe_tells_absent_dead_and_alive_apart() {
        let dir = std::env::temp_dir().join(format!("distcc-ssh-probe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        assert_eq!(probe(&path, PROBE_TIMEOUT), Holder::Absent);
        // A socket file nobody listens on: what a killed master leaves behind.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(matches!(probe(&path, PROBE_TIMEOUT), Holder::Dead(_)));
        std::fs::remove_file(&path).unwrap();
        // A listener that never greets: a hung master.
        let silent = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let short = Duration::from_millis(100);
        assert!(matches!(probe(&path, short), Holder::Dead(_)));
        drop(silent);
        std::fs::remove_file(&path).unwrap();
        // One that greets at once, as an OpenSSH master does.
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let t = std::thread::spawn(move || {
            use std::io::Write;
            let (mut c, _) = live.accept().unwrap();
            c.write_all(&[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4]).unwrap();
        });
        assert_eq!(probe(&path, PROBE_TIMEOUT), Holder::Alive);
        t.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_a_plain_absolute_far_path_is_forwarded_to() {
        assert!(held_socket_in_path("/h/.distcc/held/distccd-0123"));
        for bad in ["relative", "/a:b", "/a b", "/a\\b", "/a\nb", "/é"] {
            assert!(!held_socket_in_path(bad), "{bad}");
        }
        assert!(!held_socket_in_path(&format!("/{}", "x".repeat(107))));
    }

    #[test]
    fn each_far_command_has_its_own_forward_within_socket_limits() {
        let mut s = settings(&[]);
        s.hoard.as_mut().unwrap().dir = PathBuf::from(format!("/{}", "x".repeat(72)));
        let c = control(&s, &T).expect("the longest allowed control path");
        let a = Forward::of(&c, &T);
        let b = Forward::of(
            &c,
            &Target {
                command: Some("/opt/distccd"),
                ..T
            },
        );
        assert_ne!(a.local, b.local);
        assert_eq!(
            a.local,
            Forward::of(
                &c,
                &Target {
                    command: Some("distccd"),
                    ..T
                }
            )
            .local,
            "the default far command"
        );
        assert!(a.local.as_os_str().len() <= 107, "{}", a.local.display());
        assert_eq!(a.local.parent(), c.path.parent());
        assert_ne!(a.record, a.local);
        assert_ne!(a.lock, a.record);
    }

    #[test]
    fn messages_become_one_bounded_line() {
        assert_eq!(one_line("a\n\n  b \n"), "a / b");
        assert!(one_line(&"é".repeat(2000)).len() <= 1004);
    }
}
