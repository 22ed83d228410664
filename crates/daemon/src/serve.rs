//! Serving one request: read it (under deadlines), check it, rebuild its files in a private
//! job directory, take a job slot, run the compiler, send the reply, log one line.
//!
//! The wire format is `proto`'s; which compiler may run is `compiler`'s; how argv is rewritten
//! is `argv`'s; where pump files may go is `jobdir`'s. This module owns the order of events and
//! what the client is told:
//! - malformed bytes (bad token, bad hex, version > 3, truncation, LZO garbage, a length over
//!   the caps) close the connection without a reply, as in 3.4: the stream cannot be trusted;
//! - a well-formed request that we refuse (compiler not allow-listed, `-fplugin=`, a link
//!   line, a pump name escaping the job) is read to its end and answered with a failure
//!   status (exit 101 or 100) and an `SERR` saying why, which 3.4 clients print before they
//!   fall back (3.4 itself closes without a word);
//! - a plain (v1/v2) request whose command line arrives ahead of its source, as our client
//!   sends it while its preprocessor runs, has its compiler started at once in a free job
//!   slot and fed the source through a pipe as it arrives (`run_fed`), when the compiler is
//!   a gcc or clang driver known to read its input exactly once; otherwise, and whenever the
//!   source is already waiting, the source is stored first as in 3.4;
//! - a compiler that runs past `--job-lifetime` is killed and reported as exit 118 (3.4's
//!   `EXIT_TIMEOUT`); a client that hangs up while it runs gets its process group killed;
//! - every protocol 1–3 reply is followed, in the same write, by the advertisement trailer
//!   (`advertise`), which 3.4's client never reads;
//! - a protocol 4 request (plain or pump by its `FLAG`, zstd bodies) gets the same treatment,
//!   but every refusal and server failure is answered `RSLT <code>` + `TEXT` by the classes
//!   of docs/protocol-4.md ([`result_code`]), and so are a spent memory budget (101) and a
//!   shutdown (103) while the request is read.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use os::exit::ExitCode;
use os::listen::{self, Wake};
use os::process::{Child, Command, Ended, Input, Output};
use os::tempdir::TempDir;
use proto::{
    Limits, ProtoError, PumpEntryKind, Reply, Token, Version, read_body, read_body_granted,
    read_pump_entry_as, read_pump_file_count, read_request_head, read_version_greeting,
    write_reply,
};

use crate::argv::{self, ArgRefusal};
use crate::budget::{Budget, Lease};
use crate::compiler::{self, CompilerPolicy};
use crate::dotd;
use crate::jobdir::JobRoot;
use crate::log::Level;
use crate::log_at;
use crate::stats::{Dropped, End, Phase, Refusal, Stats, Ticket};

/// What every connection needs to know; shared read-only between threads.
#[derive(Debug)]
pub struct ServeConfig {
    pub policy: CompilerPolicy,
    /// Every compiler `policy` allows, by identity (protocol 4's `CCID`): built at start-up
    /// from `policy.candidates()`, probed lazily (see `identity::Index`).
    pub identities: identity::Index,
    pub limits: Limits,
    pub read_timeout: Duration,
    pub request_timeout: Duration,
    pub job_lifetime: Option<Duration>,
    pub slots: Slots,
    /// Becomes readable when the daemon is shutting down (see `os::signal`).
    pub shutdown_fd: Option<RawFd>,
    /// Counters and running jobs for the stats port (kept even without `--stats`: cheap).
    pub stats: Arc<Stats>,
    /// What every job's sandbox shares (the system's layout, `--sandbox-path`, the limits),
    /// read once at start-up; `None` with `--no-sandbox`.
    pub sandbox: Option<os::sandbox::Prepared>,
    /// Bytes of bodies and results all connections may hold at once.
    pub budget: Arc<Budget>,
    /// The largest output sent back.
    pub max_object: u64,
    /// `DISTCC_SAVE_TEMPS`: keep each job directory (logged) instead of removing it.
    pub save_temps: bool,
    /// Under `--inetd` through ssh: the held daemon's socket, advertised after the reply
    /// (`ssh-socket=`, see `held`).
    pub ssh_socket: Option<PathBuf>,
    /// `--cache-dir`: results of the compiles run here, served to protocol 4 requests that
    /// carry the same key (`distcc-cache`); `None`: no shared cache.
    pub cache: Option<cache::Store>,
    /// `--chunk-store`: pieces of sources received in chunks (protocol 4 `FLAG` bit 2), so a
    /// client sends each only once; `None` (`--chunk-store 0`): not advertised, and a
    /// chunked request must send every chunk.
    pub chunks: Option<Arc<crate::chunks::ChunkStore>>,
}

/// Most bytes of a compiler's standard output, and of its standard error, sent back.
const MESSAGES_CAP: usize = 16 << 20;

/// `--jobs`: how many compilers may run at once. Taken once a request is fully read, or
/// (`try_acquire`) by a compiler started early when a slot is free and nobody waits for one.
#[derive(Debug)]
pub struct Slots {
    state: Mutex<SlotCount>,
    cv: Condvar,
}

#[derive(Debug)]
struct SlotCount {
    free: usize,
    /// Fully read requests waiting in `acquire`: a free slot is theirs first.
    waiting: usize,
}

/// A held job slot; released on drop.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots {
            state: Mutex::new(SlotCount {
                free: n,
                waiting: 0,
            }),
            cv: Condvar::new(),
        }
    }

    pub fn acquire(&self) -> Slot<'_> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.waiting += 1;
        while st.free == 0 {
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.waiting -= 1;
        st.free -= 1;
        Slot(self)
    }

    /// A slot if one is free now and no fully read request is waiting for one.
    pub fn try_acquire(&self) -> Option<Slot<'_>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.free == 0 || st.waiting > 0 {
            return None;
        }
        st.free -= 1;
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        st.free += 1;
        self.0.cv.notify_one();
    }
}

/// How much of a request is read from the socket at once.
const REQUEST_BUFFER: usize = 64 * 1024;

/// The request as the job reads it: buffered, each refill under the deadline rules.
type Request<'a> = io::BufReader<DeadlineReader<'a>>;

/// A reader that gives up when one read waits longer than `per_read`, when the whole request
/// has taken longer than `deadline` allows, or when the daemon is shutting down.
struct DeadlineReader<'a> {
    fd: RawFd,
    inner: &'a mut dyn Read,
    deadline: Instant,
    per_read: Duration,
    shutdown: Option<RawFd>,
    /// Bytes read so far, for the stats.
    count: u64,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request deadline passed",
            ));
        }
        // At least a millisecond: a zero `--read-timeout` waits that long, as it always has,
        // rather than only looking.
        let wait = left.min(self.per_read).max(Duration::from_millis(1));
        // A negative shutdown descriptor is ignored by poll.
        match listen::wait(self.fd, self.shutdown.unwrap_or(-1), Some(wait))? {
            Wake::Shutdown => return Err(io::Error::other(ShuttingDown)),
            Wake::TimedOut => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"));
            }
            Wake::Ready => {}
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The error a request read fails with when the daemon is shutting down.
#[derive(Debug)]
struct ShuttingDown;

impl std::fmt::Display for ShuttingDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("daemon shutting down")
    }
}

impl std::error::Error for ShuttingDown {}

/// A writer whose `flush` waits for [`NoFlush::finish`]: the reply and the trailer behind it
/// leave in one write.
struct NoFlush<W: Write>(W);

impl<W: Write> Write for NoFlush<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> NoFlush<W> {
    fn finish(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The `RSLT` class of a refusal (docs/protocol-4.md): 2xx the request's fault, 3xx the
/// compiler's.
fn refusal_code(kind: Refusal) -> u32 {
    match kind {
        Refusal::Compiler => 301,
        Refusal::Link => 201,
        Refusal::Plugin => 202,
        Refusal::LocalOnly | Refusal::Argv => 200,
        Refusal::PumpEscape => 203,
    }
}

/// The `RSLT` class of a server failure reported with 3.4's exit `code`: 1xx the host's fault
/// (101 busy, 102 out of disk or memory), 300 when the compiler cannot be run here.
pub fn result_code(code: ExitCode) -> u32 {
    match code {
        ExitCode::Busy => 101,
        ExitCode::IoError | ExitCode::OutOfMemory => 102,
        ExitCode::CompilerMissing => 300,
        _ => 100,
    }
}

/// Counts the bytes of the reply, for the stats.
struct Counted<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The connection: a descriptor to poll and watch for hang-up, and its two directions.
pub struct Conn<'a> {
    pub fd: BorrowedFd<'a>,
    pub reader: &'a mut dyn Read,
    pub writer: &'a mut dyn Write,
    /// For logs: the client address, or "inetd".
    pub peer: String,
    /// Who the client is for the chunk store's namespaces (`chunks`): `tls:<name>` when
    /// TLS authenticated it, else `ip:<address>`; `ssh:<uid>` through ssh.
    pub principal: String,
}

/// How a job ended, for the log line.
enum Outcome {
    Status(u32),
    /// The result came from `--cache-dir`: nothing was compiled.
    Cached,
    Refused(Refusal, String),
    Failed(String),
    TimedOut(String),
}

/// The stats' name for a refused command line.
fn arg_refusal(e: &ArgRefusal) -> Refusal {
    match e {
        ArgRefusal::NotACompile => Refusal::Link,
        ArgRefusal::Unsafe(_) => Refusal::Plugin,
        ArgRefusal::LocalOnly(_) | ArgRefusal::Conftest => Refusal::LocalOnly,
        _ => Refusal::Argv,
    }
}

/// Serves one request on `conn`. Never panics on peer bytes; logs one line per request.
pub fn serve(conn: Conn<'_>, cfg: &ServeConfig) {
    let start = Instant::now();
    let Conn {
        fd,
        reader,
        writer,
        peer,
        principal,
    } = conn;
    // Buffered above the deadline checks: a request is some forty small tokens before its
    // body, and each would otherwise cost a poll and a read of its own.
    let mut rd = io::BufReader::with_capacity(
        REQUEST_BUFFER,
        DeadlineReader {
            fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
            inner: reader,
            deadline: start + cfg.request_timeout,
            per_read: cfg.read_timeout,
            shutdown: cfg.shutdown_fd,
            count: 0,
        },
    );
    let version = match read_version_greeting(&mut rd) {
        Ok(v) => v,
        Err(e) => {
            cfg.stats.bytes(rd.get_ref().count, 0);
            log_bad_request(&peer, &e, start, &cfg.stats);
            return;
        }
    };
    let mut job = match TempDir::new("distccd_") {
        Ok(j) => j,
        Err(e) => {
            log_at!(Level::Error, "{peer}: cannot make a job directory: {e}");
            return;
        }
    };
    if cfg.save_temps {
        job.keep();
        log_at!(
            Level::Info,
            "{peer}: keeping job directory {} (DISTCC_SAVE_TEMPS)",
            job.path().display()
        );
    }
    let mut ctx = Job {
        cfg,
        version,
        dir: job.path().to_owned(),
        peer: peer.clone(),
        principal: crate::chunks::Principal::new(&principal),
        compiler: String::from("?"),
        input: String::from("?"),
        ticket: None,
        compiled: std::cell::Cell::new(None),
        result_lease: std::cell::RefCell::new(None),
        result_code: std::cell::Cell::new(None),
        ccid: Vec::new(),
        forced_code: std::cell::Cell::new(None),
        ran: None,
    };
    let result = ctx.receive_and_run(&mut rd, fd, &mut *writer);
    let ticket = ctx.ticket.take();
    let end_job = |end: End, written: u64| {
        cfg.stats.bytes(rd.get_ref().count, written);
        if let Some(t) = ticket {
            cfg.stats.end(t, end, ctx.compiled.get());
        }
    };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let outcome = match result {
        Err(e) => {
            drop(end_job);
            // Protocol 4 says why it stops reading when the stream itself is fine.
            let in_band = match &e {
                ProtoError::OverBudget { .. } => Some((101, format!("distccd: {e}"))),
                ProtoError::Io(io) if io.get_ref().is_some_and(|i| i.is::<ShuttingDown>()) => {
                    Some((103, "distccd: the server is shutting down".to_owned()))
                }
                _ => None,
            };
            let mut written = 0;
            if version == Version::V4
                && let Some((code, text)) = in_band
            {
                let mut counted = Counted {
                    inner: &mut *writer,
                    count: 0,
                };
                let _ = proto::write_refusal(&mut counted, code, &text);
                written = counted.count;
            }
            cfg.stats.bytes(rd.get_ref().count, written);
            log_bad_request(&peer, &e, start, &cfg.stats);
            return;
        }
        Ok(Step::HungUp) => {
            end_job(End::Disconnect, 0);
            log_at!(
                Level::Notice,
                "job {peer} {} {} client hung up, compiler killed {}ms",
                ctx.compiler,
                ctx.input,
                start.elapsed().as_millis()
            );
            return;
        }
        Ok(Step::Reply(reply, outcome)) => {
            // Corked, the reply's small headers and its object leave as full segments,
            // never held back by Nagle waiting for the client's delayed ACK (3.4 corks too).
            os::tcp::set_cork(raw, true);
            let mut counted = Counted {
                inner: &mut *writer,
                count: 0,
            };
            let mut w = NoFlush(io::BufWriter::with_capacity(16 * 1024, &mut counted));
            let sent = match (&outcome, ctx.result_code.get()) {
                (Outcome::Status(_) | Outcome::Cached, _) | (_, None) => {
                    write_reply(&mut w, &reply)
                }
                (_, Some(_)) if version != Version::V4 => write_reply(&mut w, &reply),
                (_, Some(code)) => {
                    let text = String::from_utf8_lossy(&reply.stderr);
                    proto::write_refusal(&mut w, code, text.trim_end())
                }
            };
            let sent = sent
                .and_then(|()| {
                    // After every reply, in the same write: the advertisement; after a 1–3
                    // reply naming the compiler that ran (probed once, then a few `stat`s).
                    // A protocol 4 client reads it too: a `,tls` host never answers 1–3.
                    if version == Version::V4 {
                        w.write_all(&crate::advertise::trailer(cfg, None))
                    } else {
                        let ran = match (&outcome, &ctx.ran) {
                            (Outcome::Status(_), Some((program, language))) => {
                                cfg.identities.identify(program, *language)
                            }
                            _ => None,
                        };
                        w.write_all(&crate::advertise::trailer(cfg, ran.as_ref()))
                    }
                })
                .and_then(|()| w.finish());
            drop(w);
            os::tcp::set_cork(raw, false);
            if let Err(e) = sent {
                log_at!(
                    Level::Warning,
                    "job {peer} {} {} failed to send reply: {e}",
                    ctx.compiler,
                    ctx.input
                );
            }
            let end = match &outcome {
                Outcome::Status(0) | Outcome::Cached => End::Ok,
                Outcome::Status(_) => End::CompileError,
                Outcome::Refused(r, _) => End::Refused(*r),
                Outcome::Failed(_) => End::Failed,
                Outcome::TimedOut(_) => End::Timeout,
            };
            end_job(end, counted.count);
            outcome
        }
    };
    let ms = start.elapsed().as_millis();
    match outcome {
        Outcome::Status(st) => {
            let what = if st & 0x7f != 0 {
                format!("killed by signal {}", st & 0x7f)
            } else {
                format!("exit {}", st >> 8)
            };
            log_at!(
                Level::Notice,
                "job {peer} {} {} {what} {ms}ms",
                ctx.compiler,
                ctx.input
            );
        }
        Outcome::Cached => log_at!(
            Level::Notice,
            "job {peer} {} {} from the cache {ms}ms",
            ctx.compiler,
            ctx.input
        ),
        Outcome::Refused(_, why) => log_at!(
            Level::Warning,
            "job {peer} {} {} refused: {why} {ms}ms",
            ctx.compiler,
            ctx.input
        ),
        Outcome::Failed(why) | Outcome::TimedOut(why) => log_at!(
            Level::Error,
            "job {peer} {} {} failed: {why} {ms}ms",
            ctx.compiler,
            ctx.input
        ),
    }
    drop(job);
}

fn log_bad_request(peer: &str, e: &ProtoError, start: Instant, stats: &Stats) {
    let ms = start.elapsed().as_millis();
    if matches!(e, ProtoError::Eof { expected } if *expected == Token::DIST) {
        stats.dropped(Dropped::Empty);
        log_at!(Level::Info, "{peer}: closed without a request {ms}ms");
    } else if e.is_disconnect() {
        stats.dropped(Dropped::BadRequest);
        log_at!(Level::Warning, "{peer}: request incomplete: {e} {ms}ms");
    } else {
        stats.dropped(Dropped::BadRequest);
        log_at!(Level::Warning, "{peer}: bad request, closing: {e} {ms}ms");
    }
}

enum Step {
    Reply(Reply, Outcome),
    HungUp,
}

struct Job<'a> {
    cfg: &'a ServeConfig,
    version: Version,
    dir: PathBuf,
    peer: String,
    /// Who sent the request; with the client's key, the chunk namespace (`chunks`).
    principal: crate::chunks::Principal,
    compiler: String,
    input: String,
    /// The job as the stats see it, once its command line is known.
    ticket: Option<Ticket>,
    /// How long the compiler ran, once it has.
    compiled: std::cell::Cell<Option<Duration>>,
    /// The memory budget the result holds until the reply has been sent.
    result_lease: std::cell::RefCell<Option<Lease>>,
    /// Protocol 4: the `RSLT` of a refusal or failure (`None`: the compiler ran).
    result_code: std::cell::Cell<Option<u32>>,
    /// Protocol 4: the client's compiler identity (`CCID`), as it sent it.
    ccid: Vec<u8>,
    /// Protocol 4: the `RSLT` of the refusal to come when not its kind's (300: no compiler
    /// with the client's identity).
    forced_code: std::cell::Cell<Option<u32>>,
    /// Protocol 1–3: the program the client's name resolved to and the job's language, whose
    /// identity the advertisement after the reply names (`ran=`) when the compiler ran.
    ran: Option<(PathBuf, args::Language)>,
}

/// What to run, once the request checks out.
struct Plan {
    program: PathBuf,
    argv: Vec<Vec<u8>>,
    cwd: PathBuf,
    out: PathBuf,
    pump: Option<PumpPlan>,
}

struct PumpPlan {
    deps: PathBuf,
    root: PathBuf,
    dotd_target: Vec<u8>,
}

impl Job<'_> {
    fn refuse(&self, status: ExitCode, kind: Refusal, why: String) -> Step {
        let code = self.forced_code.take().unwrap_or(refusal_code(kind));
        self.result_code.set(Some(code));
        let msg = format!("distccd: {why}\n").into_bytes();
        Step::Reply(
            Reply::failure(self.version, status.as_wait_status(), msg),
            Outcome::Refused(kind, why),
        )
    }

    /// A failure of this daemon (not of the compile or the request), reported as 3.4 does
    /// with a distcc exit status, and explained in `SERR`.
    fn fail(&self, status: ExitCode, why: String) -> Step {
        self.result_code.set(Some(result_code(status)));
        let msg = format!("distccd: {why}\n").into_bytes();
        Step::Reply(
            Reply::failure(self.version, status.as_wait_status(), msg),
            Outcome::Failed(why),
        )
    }

    fn receive_and_run(
        &mut self,
        rd: &mut Request<'_>,
        fd: BorrowedFd<'_>,
        writer: &mut dyn Write,
    ) -> Result<Step, ProtoError> {
        let limits = self.cfg.limits;
        let head = read_request_head(rd, self.version, &limits)?;
        let pump = head.is_pump();
        if let Some(ccid) = &head.ccid {
            self.ccid.clone_from(ccid);
        }
        log_at!(
            Level::Debug,
            "{}: protocol {}{} request, compiler identity {:?}",
            self.peer,
            self.version.number(),
            if pump { " pump" } else { "" },
            String::from_utf8_lossy(&self.ccid)
        );
        self.compiler = String::from_utf8_lossy(&head.argv[0]).into_owned();
        // Protocol 4 runs the allow-listed compiler whose identity is the client's, whatever
        // its name, or none; 1-3 run the one the client names, as 3.4.
        let program: Result<PathBuf, String> = if self.version == Version::V4 {
            self.by_identity(&head.argv)
                .inspect_err(|_| self.forced_code.set(Some(300)))
        } else {
            self.cfg
                .policy
                .resolve(&head.argv[0])
                .inspect(|p| self.ran = Some((p.clone(), language_of(&head.argv))))
                .map_err(|e| e.to_string())
        };
        let scanned = argv::scan_as(&head.argv, pump);
        if let Ok(s) = &scanned {
            self.input = String::from_utf8_lossy(&head.argv[s.input_index]).into_owned();
        }
        self.ticket = Some(
            self.cfg
                .stats
                .begin(&self.peer, &self.compiler, &self.input),
        );
        // The first refusal wins, but the request is always read to its end so that the
        // client, still writing, sees our explanation rather than a reset.
        let mut refusal: Option<(ExitCode, Refusal, String)> = match (&program, &scanned) {
            (Err(e), _) => Some((ExitCode::BadArguments, Refusal::Compiler, e.clone())),
            (_, Err(e)) => {
                self.forced_code.set(None);
                Some((ExitCode::BadArguments, arg_refusal(e), e.to_string()))
            }
            _ => None,
        };
        let out = self.dir.join("output.o");
        let plan = if pump {
            let root_path = self.dir.join("root");
            let root = JobRoot::create(&root_path).map_err(ProtoError::Io)?;
            let cwd = match root.make_dir(head.cwd.as_deref().unwrap_or(b"/")) {
                Ok(c) => c,
                Err(e) => {
                    refusal.get_or_insert((
                        ExitCode::Distcc,
                        Refusal::PumpEscape,
                        format!("working directory: {e}"),
                    ));
                    root_path.clone()
                }
            };
            // A cache key: the client waits for the verdict before it sends the files.
            if let Some(key) = head.cache_key {
                if let Some((code, kind, why)) = refusal {
                    return Ok(self.refuse(code, kind, why));
                }
                if let Some(hit) = self.verdict(&key, writer)? {
                    return Ok(hit);
                }
            }
            // The key this daemon stores the result under, computed from what it receives.
            let mut key = head
                .cache_key
                .and(self.cfg.cache.as_ref())
                .and_then(|_| identity::Identity::parse(&self.ccid).ok())
                .map(|id| {
                    cache::key::Builder::new(
                        &id.fingerprint,
                        &id.target,
                        cache::key::Mode::Pump,
                        &head.argv,
                    )
                    .cwd(head.cwd.as_deref().unwrap_or_default())
                });
            let n = read_pump_file_count(rd, &limits)?;
            let mut lease = self.cfg.budget.lease();
            for _ in 0..n {
                let entry =
                    read_pump_entry_as(rd, self.version.compression(), &limits, &mut |t| {
                        lease.cover(t)
                    })?;
                lease.release();
                if refusal.is_some() {
                    continue;
                }
                key = key.and_then(|b| match &entry.kind {
                    // The server expands the time macros: such a result is never stored.
                    PumpEntryKind::File(data) => cache::rules::text(data)
                        .is_none()
                        .then(|| b.file(&entry.name, data)),
                    PumpEntryKind::Link(target) => Some(b.link(&entry.name, target)),
                });
                let placed = match &entry.kind {
                    PumpEntryKind::File(data) => root.write_file(
                        &entry.name,
                        crate::jobdir::without_own_line_directive(&entry.name, data),
                    ),
                    PumpEntryKind::Link(target) => root.make_link(&entry.name, target),
                };
                if let Err(e) = placed {
                    refusal = Some((ExitCode::Distcc, Refusal::PumpEscape, e.to_string()));
                }
            }
            if let Some((code, kind, why)) = refusal {
                return Ok(self.refuse(code, kind, why));
            }
            let (Ok(program), Ok(scan)) = (program, scanned) else {
                unreachable!("refusal is set when either check failed")
            };
            let deps = self.dir.join("deps.d");
            let p = match argv::rewrite_pump(
                &head.argv,
                &scan,
                root_path.as_os_str().as_bytes(),
                out.as_os_str().as_bytes(),
                deps.as_os_str().as_bytes(),
            ) {
                Ok(p) => p,
                Err(e) => {
                    return Ok(self.refuse(ExitCode::BadArguments, arg_refusal(&e), e.to_string()));
                }
            };
            let plan = Plan {
                program,
                argv: p.argv,
                cwd,
                out,
                pump: Some(PumpPlan {
                    deps,
                    root: root_path,
                    dotd_target: p.dotd_target,
                }),
            };
            if let Some(key) = key {
                let step = self.run(plan, fd);
                self.put(key.finish(), &step);
                return Ok(step);
            }
            plan
        } else {
            // A cache key: the client waits for the verdict before it sends the source.
            if head.cache_key.is_some()
                && let Some((code, kind, why)) = refusal
            {
                return Ok(self.refuse(code, kind, why));
            }
            match (program, scanned) {
                (Ok(program), Ok(scan)) => {
                    if let Some(key) = head.cache_key
                        && let Some(hit) = self.verdict(&key, writer)?
                    {
                        return Ok(hit);
                    }
                    let input = self.dir.join(format!(
                        "input{}",
                        argv::preprocessed_extension(&head.argv[scan.input_index])
                    ));
                    let plan = Plan {
                        argv: argv::rewrite_plain(
                            &head.argv,
                            &scan,
                            input.as_os_str().as_bytes(),
                            out.as_os_str().as_bytes(),
                        ),
                        program,
                        cwd: self.dir.clone(),
                        out,
                        pump: None,
                    };
                    if head.cache_key.is_none()
                        && self.may_start_early(rd, fd, &plan)
                        && let Some(slot) = self.cfg.slots.try_acquire()
                    {
                        return self.run_fed(rd, fd, writer, head.chunked, plan, &input, slot);
                    }
                    let mut f = StoreOrDiscard::new(create_new(&input)?);
                    self.read_source(rd, writer, head.chunked, &mut f, Reading::Kept)?;
                    if let Some(e) = f.error {
                        // Our disk, not the client's request: say so (the client falls back
                        // or fails with these words) rather than close without a reply.
                        let why = format!("cannot store the source in the job directory: {e}");
                        return Ok(self.fail(ExitCode::IoError, why));
                    }
                    if head.cache_key.is_some() {
                        let step = self.run(plan, fd);
                        self.store(&head.argv, &input, &step);
                        return Ok(step);
                    }
                    plan
                }
                _ => {
                    let sink = &mut io::sink();
                    self.read_source(rd, writer, head.chunked, sink, Reading::Refused)?;
                    let (code, kind, why) = refusal.expect("set when a check failed");
                    return Ok(self.refuse(code, kind, why));
                }
            }
        };
        Ok(self.run(plan, fd))
    }

    /// Answers a request's cache key: the stored result (to be sent as the reply), or `CMIS`
    /// written and flushed at once, so the client sends its source or files (`None`).
    fn verdict(
        &self,
        key: &[u8; proto::CACHE_KEY_LEN],
        writer: &mut dyn Write,
    ) -> Result<Option<Step>, ProtoError> {
        if let Some(hit) = self.cached(key) {
            return Ok(Some(hit));
        }
        let mut miss = Vec::new();
        proto::write_cache_miss(&mut miss);
        writer
            .write_all(&miss)
            .and_then(|()| writer.flush())
            .map_err(ProtoError::Io)?;
        Ok(None)
    }

    /// The result stored under the client's `key` in `--cache-dir`, as a reply (`None`: a
    /// miss, or no cache). A damaged entry is removed by the store and is a miss.
    fn cached(&self, key: &[u8; proto::CACHE_KEY_LEN]) -> Option<Step> {
        let store = self.cfg.cache.as_ref()?;
        match store.get(&cache::Key(*key)) {
            cache::Found::Hit(e) => Some(Step::Reply(
                Reply {
                    version: self.version,
                    status: e.status as u32,
                    stderr: e.stderr,
                    stdout: e.stdout,
                    object: e.object,
                    dotd: e.dotd,
                },
                Outcome::Cached,
            )),
            cache::Found::Corrupt(why) => {
                log_at!(
                    Level::Warning,
                    "{}: removed a damaged cache entry {}: {why}",
                    self.peer,
                    cache::Key(*key)
                );
                None
            }
            cache::Found::Miss => None,
        }
    }

    /// Stores a successful compile's result in `--cache-dir`, under the key computed here
    /// from what was compiled (the client's identity, which the compiler that ran matches;
    /// the command line as received; the source as received): never under the client's word.
    fn store(&self, argv: &[Vec<u8>], input: &Path, step: &Step) {
        let (Some(_), Step::Reply(_, Outcome::Status(0))) = (&self.cfg.cache, step) else {
            return;
        };
        let Ok(id) = identity::Identity::parse(&self.ccid) else {
            return;
        };
        let source = match std::fs::read(input) {
            Ok(s) => s,
            Err(e) => {
                log_at!(
                    Level::Warning,
                    "{}: cannot read the source to cache it: {e}",
                    self.peer
                );
                return;
            }
        };
        self.put(
            cache::key::plain(&id.fingerprint, &id.target, argv, &source),
            step,
        );
    }

    /// Stores a successful compile's result (object, `.d` in pump mode, messages) under
    /// `key`, computed here from what was received.
    fn put(&self, key: cache::Key, step: &Step) {
        let (Some(store), Step::Reply(reply, Outcome::Status(0))) = (&self.cfg.cache, step) else {
            return;
        };
        let entry = cache::Entry {
            status: 0,
            object: reply.object.clone(),
            dotd: reply.dotd.clone(),
            stderr: reply.stderr.clone(),
            stdout: reply.stdout.clone(),
        };
        if let Err(e) = store.put(&key, &entry) {
            log_at!(
                Level::Warning,
                "cannot store result {key} in {}: {e}",
                store.dir().display()
            );
        }
    }

    /// Protocol 4: the allow-listed compiler whose identity for this job's language is the
    /// client's `CCID` (`identity::Index::find`, which re-checks its files first), or why
    /// there is none, naming both sides' compilers.
    fn by_identity(&self, argv: &[Vec<u8>]) -> Result<PathBuf, String> {
        let wanted = identity::Identity::parse(&self.ccid)
            .map_err(|e| format!("the request's compiler identity is unusable: {e}"))?;
        self.cfg
            .identities
            .find(&wanted, language_of(argv))
            .map_err(|m| match self.cfg.policy.resolve(&argv[0]) {
                // And why the client's own name does not serve here, as 1-3 would say.
                Err(e) => format!("{m}; {e}"),
                Ok(_) => m.to_string(),
            })
    }

    fn run(&self, plan: Plan, fd: BorrowedFd<'_>) -> Step {
        if let Some(t) = &self.ticket {
            t.set_phase(Phase::Queued);
        }
        let _slot = self.cfg.slots.acquire();
        let compile_start = Instant::now();
        match self.spawn(&plan, Input::Null) {
            Ok(child) => self.finish(&plan, child, fd, compile_start),
            Err(e) => self.cannot_run(&plan, e),
        }
    }

    /// True when the compiler may be started before the source has arrived and fed it through
    /// a pipe as it comes: only a client that sends its command line ahead of its source (ours,
    /// while its preprocessor runs) gains from that, and only a compiler known to read its
    /// input exactly once may be given a pipe.
    fn may_start_early(&self, rd: &Request<'_>, fd: BorrowedFd<'_>, plan: &Plan) -> bool {
        if !rd.buffer().is_empty() || !proc_fd_available() {
            return false;
        }
        // Whatever is already waiting on the socket is the source itself.
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        if !matches!(
            listen::wait(raw, -1, Some(Duration::ZERO)),
            Ok(Wake::TimedOut)
        ) {
            return false;
        }
        argv::reads_input_once(&plan.argv) && compiler::reads_its_input_once(&plan.program)
    }

    /// Runs the compiler now, in a free job slot, and feeds it the source as it arrives. The
    /// compiler's input file is a link to its own standard input (`/proc/self/fd/0`), which
    /// is a pipe from here, so its command line is the same as when the source is stored
    /// first. Its start-up (a large share of a small compile) overlaps the client's
    /// preprocessing and the transfer.
    #[allow(clippy::too_many_arguments)]
    fn run_fed(
        &self,
        rd: &mut Request<'_>,
        fd: BorrowedFd<'_>,
        writer: &mut dyn Write,
        chunked: bool,
        plan: Plan,
        input: &Path,
        _slot: Slot<'_>,
    ) -> Result<Step, ProtoError> {
        std::os::unix::fs::symlink("/proc/self/fd/0", input).map_err(ProtoError::Io)?;
        let compile_start = Instant::now();
        let mut child = match self.spawn(&plan, Input::Pipe) {
            Ok(child) => child,
            Err(e) => {
                self.read_source(rd, writer, chunked, &mut io::sink(), Reading::Skipped)?;
                return Ok(self.cannot_run(&plan, e));
            }
        };
        let pipe = child.take_stdin().expect("stdin is a pipe");
        let mut feed = Feed::new(pipe, fd, rd.get_ref().deadline);
        // A failure here drops the child, which kills it.
        self.read_source(rd, writer, chunked, &mut feed, Reading::Kept)?;
        match feed.finish() {
            Fed::All | Fed::CompilerGone => {}
            Fed::HungUp => return Ok(Step::HungUp),
            Fed::Stalled => {
                let why = "the compiler did not read its input before the request deadline";
                return Ok(self.fail(ExitCode::Distcc, why.to_owned()));
            }
            Fed::Failed(e) => {
                let why = format!("cannot feed the compiler its input: {e}");
                return Ok(self.fail(ExitCode::IoError, why));
            }
        }
        Ok(self.finish(&plan, child, fd, compile_start))
    }
    /// A plain request's source, after its command line (and cache verdict): a chunk list
    /// (`FLAG` bit 2) or one `DOTI` body, into `out`. `Kept`: the compiler's input, held
    /// against the memory budget; `Skipped`/`Refused`: read only to reach the request's end
    /// (`Refused`: a refusal is the answer, in place of `NEED`, to a list).
    fn read_source(
        &self,
        rd: &mut Request<'_>,
        writer: &mut dyn Write,
        chunked: bool,
        out: &mut dyn Write,
        reading: Reading,
    ) -> Result<(), ProtoError> {
        let (c, limits) = (self.version.compression(), self.cfg.limits);
        match (chunked, reading) {
            (true, r) => self.read_chunked(rd, writer, out, r == Reading::Refused)?,
            (false, Reading::Kept) => {
                let mut lease = self.cfg.budget.lease();
                read_body_granted(rd, Token::DOTI, c, &limits, out, &mut |t| lease.cover(t))?
            }
            (false, _) => read_body(rd, Token::DOTI, c, &limits, out)?,
        };
        Ok(())
    }

    /// The source of a request with `FLAG` bit 2 (protocol 4, docs/protocol-4.md): an
    /// ordinary `DOTI` body (a source too small to chunk), or a chunk list. For a list:
    /// answers `NEED` (the chunks not in this request's namespace, its principal and the
    /// client's key; the others pinned),
    /// reads the missing ones as one `DOTI` body, checks each against its hash and length,
    /// writes the whole source to `out` in list order, and only then stores the new chunks
    /// under the hashes computed here. A chunk that is not its hash, or a body of another
    /// length, is a malformed request: the stream is closed and nothing is stored.
    /// `refusing`: the request is refused; a list is read and left unanswered (the refusal
    /// comes in place of `NEED`).
    fn read_chunked(
        &self,
        rd: &mut Request<'_>,
        writer: &mut dyn Write,
        out: &mut dyn Write,
        refusing: bool,
    ) -> Result<u64, ProtoError> {
        use crate::chunks::{ChunkStore, Namespace, verify};
        let limits = self.cfg.limits;
        let h = proto::read_header(rd)?.ok_or(ProtoError::Eof {
            expected: proto::chunks::CHNK,
        })?;
        let mut lease = self.cfg.budget.lease();
        let (key, list) = match h.token {
            Token::ULEN => {
                return proto::zstd::read_frame(rd, Token::DOTI, h.value, &limits, out, &mut |t| {
                    lease.cover(t)
                });
            }
            proto::chunks::CHNK => proto::chunks::read_list_after_header(rd, h.value, &limits)?,
            got => {
                return Err(ProtoError::UnexpectedToken {
                    expected: proto::chunks::CHNK,
                    got,
                });
            }
        };
        if refusing {
            return Ok(0);
        }
        let empty;
        let store = match &self.cfg.chunks {
            Some(s) => &**s,
            None => {
                empty = ChunkStore::new(0);
                &empty
            }
        };
        let ns = Namespace::new(self.principal, &key);
        let lookup = store.lookup(ns, &list);
        let mut answer = Vec::with_capacity(12 + list.len() / 8 + 1);
        lookup.need.encode(&mut answer);
        writer
            .write_all(&answer)
            .and_then(|()| writer.flush())
            .map_err(ProtoError::Io)?;
        let missing: u64 = list
            .iter()
            .enumerate()
            .filter(|(i, _)| lookup.need.get(*i))
            .map(|(_, c)| u64::from(c.len))
            .sum();
        let ulen = proto::read_expected(rd, Token::ULEN)?;
        if u64::from(ulen) != missing {
            return Err(ProtoError::Malformed {
                token: Token::DOTI,
                why: "not the length of the missing chunks",
            });
        }
        let mut body = Vec::new();
        proto::zstd::read_frame(rd, Token::DOTI, ulen, &limits, &mut body, &mut |t| {
            lease.cover(t)
        })?;
        let bad = ProtoError::Malformed {
            token: Token::DOTI,
            why: "a chunk does not match its hash",
        };
        let mut received: std::collections::HashMap<[u8; proto::chunks::HASH_LEN], Arc<[u8]>> =
            Default::default();
        let mut at = 0usize;
        for (i, c) in list.iter().enumerate() {
            if !lookup.need.get(i) {
                continue;
            }
            let piece = &body[at..at + c.len as usize];
            at += c.len as usize;
            if !verify(c, piece) {
                return Err(bad);
            }
            received.insert(c.hash, Arc::from(piece));
        }
        drop(body);
        let mut total = 0u64;
        for (c, pinned) in list.iter().zip(&lookup.pinned) {
            let data = match pinned {
                Some(d) => d,
                None => received.get(&c.hash).ok_or(ProtoError::Malformed {
                    token: Token::DOTI,
                    why: "a repeated chunk that never came",
                })?,
            };
            if data.len() != c.len as usize {
                return Err(bad);
            }
            out.write_all(data).map_err(ProtoError::Io)?;
            total += u64::from(c.len);
        }
        for (hash, data) in received {
            store.insert(ns, hash, data);
        }
        log_at!(
            Level::Debug,
            "{}: chunked source of {total} bytes, {} of {} chunks sent ({missing} bytes)",
            self.peer,
            lookup.need.count(),
            list.len()
        );
        Ok(total)
    }

    fn cannot_run(&self, plan: &Plan, e: io::Error) -> Step {
        let why = format!("cannot run {}: {e}", plan.program.display());
        self.fail(ExitCode::CompilerMissing, why)
    }

    /// Starts the compiler of `plan`.
    fn spawn(&self, plan: &Plan, stdin: Input) -> io::Result<Child> {
        if let Some(t) = &self.ticket {
            t.set_phase(Phase::Compiling);
        }
        log_at!(
            Level::Debug,
            "{}: running {:?} in {:?}",
            self.peer,
            plan.argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>(),
            plan.cwd
        );
        let cap = (self.cfg.limits.max_body as usize).min(MESSAGES_CAP);
        let mut cmd = Command::new(&plan.program);
        cmd.args(
            plan.argv[1..]
                .iter()
                .map(|a| std::ffi::OsStr::from_bytes(a)),
        )
        .cwd(&plan.cwd)
        // The compiler's own temporary files (gcc's ccXXXX.s) go in the job directory, so
        // they are removed with it even when the compiler is killed.
        .env("TMPDIR", &self.dir)
        .stdin(stdin)
        .stdout(Output::Capture { limit: cap })
        .stderr(Output::Capture { limit: cap });
        if let Some(t) = self.cfg.job_lifetime {
            cmd.timeout(t);
        }
        if let Some(system) = &self.cfg.sandbox {
            let installation: Vec<PathBuf> =
                compiler::installation(&plan.program).into_iter().collect();
            cmd.sandbox(Arc::new(system.for_job(
                &self.dir,
                &installation,
                &plan.cwd,
            )?));
        }
        cmd.spawn()
    }

    /// Reads the compiler's output if it is within `--max-object-mb` and the memory budget
    /// covers it; otherwise the failure to send.
    fn read_output(&self, path: &Path, lease: &mut Lease) -> Result<Vec<u8>, Box<Step>> {
        let no_output = |e: io::Error| -> Box<Step> {
            Box::new(self.fail(
                ExitCode::Distcc,
                format!("compiler succeeded but left no output: {e}"),
            ))
        };
        let mut f = File::open(path).map_err(no_output)?;
        let len = f.metadata().map_err(no_output)?.len();
        if len > self.cfg.max_object {
            let why = format!(
                "the output is {len} bytes, more than this server sends back ({} bytes, --max-object-mb)",
                self.cfg.max_object
            );
            return Err(Box::new(self.fail(ExitCode::Distcc, why)));
        }
        if !lease.cover(len) {
            let why = format!("the server's memory budget cannot hold a {len}-byte output now");
            return Err(Box::new(self.fail(ExitCode::Busy, why)));
        }
        let mut object = Vec::with_capacity(len as usize);
        // Never more than was checked, whatever the file does meanwhile.
        (&mut f)
            .take(len)
            .read_to_end(&mut object)
            .map_err(no_output)?;
        Ok(object)
    }

    /// Waits for a started compiler and builds the reply from what it left.
    fn finish(
        &self,
        plan: &Plan,
        child: Child,
        fd: BorrowedFd<'_>,
        compile_start: Instant,
    ) -> Step {
        let done = child.wait_or_hangup(fd);
        self.compiled.set(Some(compile_start.elapsed()));
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                return self.fail(ExitCode::Distcc, format!("waiting for the compiler: {e}"));
            }
        };
        match done.ended {
            Ended::HungUp => return Step::HungUp,
            Ended::TimedOut | Ended::Killed => {
                let secs = self.cfg.job_lifetime.map(|d| d.as_secs()).unwrap_or(0);
                let why = format!("compile exceeded the job lifetime of {secs}s and was killed");
                let mut stderr = done.stderr;
                stderr.extend_from_slice(format!("distccd: {why}\n").as_bytes());
                self.result_code.set(Some(100));
                return Step::Reply(
                    Reply::failure(self.version, ExitCode::Timeout.as_wait_status(), stderr),
                    Outcome::TimedOut(why),
                );
            }
            Ended::Exited => {}
        }
        let status = done.status as u32;
        if status != 0 {
            return Step::Reply(
                Reply {
                    version: self.version,
                    status,
                    stderr: done.stderr,
                    stdout: done.stdout,
                    object: Vec::new(),
                    dotd: None,
                },
                Outcome::Status(status),
            );
        }
        let mut lease = self.cfg.budget.lease();
        let object = match self.read_output(&plan.out, &mut lease) {
            Ok(o) => o,
            Err(step) => return *step,
        };
        *self.result_lease.borrow_mut() = Some(lease);
        let dotd = match &plan.pump {
            None => None,
            Some(p) => match std::fs::read(&p.deps) {
                Ok(d) => Some(dotd::cleanup(
                    &d,
                    p.root.as_os_str().as_bytes(),
                    plan.out.as_os_str().as_bytes(),
                    &p.dotd_target,
                )),
                Err(e) => {
                    let why = format!("compiler wrote no dependency file: {e}");
                    return self.fail(ExitCode::Distcc, why);
                }
            },
        };
        Step::Reply(
            Reply {
                version: self.version,
                status: 0,
                stderr: done.stderr,
                stdout: done.stdout,
                object,
                dotd,
            },
            Outcome::Status(0),
        )
    }
}

/// The language a compile line compiles, as the client judged it (`-x`, else the input's
/// extension); C when it cannot be told (the identity of a C compile is then asked for, and a
/// compiler of another language would not match it).
fn language_of(argv: &[Vec<u8>]) -> args::Language {
    let os: Vec<std::ffi::OsString> = argv
        .iter()
        .map(|a| std::ffi::OsStr::from_bytes(a).to_owned())
        .collect();
    match args::classify(&os) {
        args::Classified::Distribute(job) => job.language,
        _ => args::Language::C,
    }
}

/// True when this process can open its own descriptors by name, which feeding a compiler
/// through a pipe relies on (it is not so in a chroot without `/proc`).
fn proc_fd_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| Path::new("/proc/self/fd/0").exists())
}

/// How feeding a compiler its input ended.
#[derive(Debug)]
enum Fed {
    /// Every byte was written and the pipe closed: the compiler sees end of file.
    All,
    /// The compiler closed its input (it exited, say on a bad option) before reading all of
    /// it; its status and messages tell the client why.
    CompilerGone,
    /// The client hung up while the compiler was not reading.
    HungUp,
    /// The compiler did not read its input before the request deadline.
    Stalled,
    Failed(io::Error),
}

/// Writes the source into the compiler's standard input as it is read from the client.
/// After anything ends the feeding early, the rest of the source is discarded, so the request
/// is still read to its end and the client gets a reply.
struct Feed<'a> {
    pipe: Option<File>,
    sock: BorrowedFd<'a>,
    deadline: Instant,
    ended: Option<Fed>,
}

impl<'a> Feed<'a> {
    fn new(pipe: File, sock: BorrowedFd<'a>, deadline: Instant) -> Feed<'a> {
        // Non-blocking, so that a compiler that stops reading cannot hold this thread past
        // the deadline or past a hang-up.
        let raw = std::os::fd::AsRawFd::as_raw_fd(&pipe);
        // SAFETY: plain fcntl calls on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(raw, libc::F_GETFL);
            libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        Feed {
            pipe: Some(pipe),
            sock,
            deadline,
            ended: None,
        }
    }

    /// Closes the pipe and says how feeding went.
    fn finish(self) -> Fed {
        self.ended.unwrap_or(Fed::All)
    }

    fn push(&mut self, mut buf: &[u8]) -> Result<(), Fed> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(());
        };
        let raw = std::os::fd::AsRawFd::as_raw_fd(pipe);
        while !buf.is_empty() {
            match pipe.write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(Fed::CompilerGone),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = self.deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Fed::Stalled);
                    }
                    let mut fds = [
                        libc::pollfd {
                            fd: raw,
                            events: libc::POLLOUT,
                            revents: 0,
                        },
                        libc::pollfd {
                            fd: std::os::fd::AsRawFd::as_raw_fd(&self.sock),
                            events: libc::POLLRDHUP,
                            revents: 0,
                        },
                    ];
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    // SAFETY: two valid pollfds for the duration of the call.
                    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
                    if n < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::Interrupted {
                            return Err(Fed::Failed(e));
                        }
                    } else if fds[1].revents != 0 {
                        return Err(Fed::HungUp);
                    }
                    // Writable, closed by the compiler (the next write says so), or timed
                    // out (checked at the top of the next round).
                }
                Err(e) => return Err(Fed::Failed(e)),
            }
        }
        Ok(())
    }
}

impl Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.ended.is_none()
            && let Err(end) = self.push(buf)
        {
            self.ended = Some(end);
            self.pipe = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that keeps its first error (a full disk) and discards everything after it, so the
/// request is still read to its end and the client gets a reply that says what went wrong.
struct StoreOrDiscard {
    file: File,
    error: Option<io::Error>,
}

impl StoreOrDiscard {
    fn new(file: File) -> StoreOrDiscard {
        StoreOrDiscard { file, error: None }
    }
}

impl Write for StoreOrDiscard {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none()
            && let Err(e) = self.file.write_all(buf)
        {
            self.error = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.error.is_none()
            && let Err(e) = self.file.flush()
        {
            self.error = Some(e);
        }
        Ok(())
    }
}

fn create_new(p: &Path) -> Result<File, ProtoError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)
        .map_err(ProtoError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_early_start_takes_only_a_slot_nobody_waits_for() {
        let slots = Slots::new(1);
        let held = slots.try_acquire().expect("one free slot");
        assert!(slots.try_acquire().is_none(), "none free");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| drop(slots.acquire()));
            while slots.state.lock().unwrap().waiting == 0 {
                std::thread::yield_now();
            }
            drop(held);
            waiter.join().unwrap();
        });
        assert_eq!(slots.state.lock().unwrap().waiting, 0);
        assert!(slots.try_acquire().is_some());
        // A free slot with a fully read request waiting for it is that request's.
        let contested = Slots {
            state: Mutex::new(SlotCount {
                free: 1,
                waiting: 1,
            }),
            cv: Condvar::new(),
        };
        assert!(contested.try_acquire().is_none());
    }
}

/// What [`Conn::read_source`] reads a plain request's source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The compiler's input.
    Kept,
    /// Only to reach the request's end (the compiler could not start).
    Skipped,
    /// Only to reach the request's end, which a refusal answers.
    Refused,
}
