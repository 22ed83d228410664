//! The daemon's statistics: counters that connection threads bump, the jobs running now, and a
//! ring of 10-second buckets of history; served over HTTP by `http` as 3.4's plain-text page
//! (`text`), JSON (`json`), Prometheus metrics (`prom`) and a live dashboard.
//!
//! Everything sits behind one `Mutex` around a small struct: an event costs a lock, a few
//! additions and, at the start and end of a job, one map insertion or removal. The lock is
//! never held while compiling, reading from a client or writing a page: renderers work on a
//! [`Snapshot`] copied out under the lock. What the machine is doing (load, free space,
//! processes) is read from `/proc` by `system` only when a page is asked for.
//!
//! It leaves to others: when events happen (`serve`, `server` call in), access control of the
//! stats port (`http` uses the daemon's `--allow` list), and the wire protocol.

pub mod http;
pub mod json;
pub mod prom;
pub mod system;
pub mod text;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Length of one history bucket.
pub const BUCKET: Duration = Duration::from_secs(10);
/// Buckets kept: one hour.
pub const BUCKETS_KEPT: usize = 360;

/// What the daemon was started with, shown on every page.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub version: String,
    pub jobs: usize,
    pub listen: String,
    pub port: u16,
    pub stats_port: u16,
    pub allow: Vec<String>,
    pub allowed_compilers: String,
    pub job_lifetime_secs: Option<u64>,
    pub max_connections: usize,
    /// `--max-connections-per-peer`.
    pub max_per_peer: usize,
    /// How jobs are contained: what `os::sandbox` gives them, or why nothing does.
    pub sandbox: String,
    /// `--max-object-mb`, in bytes.
    pub max_object: u64,
    /// The memory budget, read when a page is rendered.
    pub budget: Option<std::sync::Arc<crate::budget::Budget>>,
}

/// Why a well-formed request was not compiled; each has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// The compiler is not on the allow-list, or not in a trusted directory.
    Compiler,
    /// `-fplugin=`, `-specs=`: code loaded into the compiler.
    Plugin,
    /// No `-c`/`-S`: a link line.
    Link,
    /// Options 3.4 runs on the client (`-E`, `-M`, conftest, …).
    LocalOnly,
    /// Any other command line the server cannot run (two inputs, `-o -`, …).
    Argv,
    /// A pump file name or link that would leave the job directory.
    PumpEscape,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::Compiler,
        Refusal::Plugin,
        Refusal::Link,
        Refusal::LocalOnly,
        Refusal::Argv,
        Refusal::PumpEscape,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Refusal::Compiler => "compiler",
            Refusal::Plugin => "plugin",
            Refusal::Link => "link",
            Refusal::LocalOnly => "local_only",
            Refusal::Argv => "argv",
            Refusal::PumpEscape => "pump_escape",
        }
    }
}

/// How one job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Ok,
    /// The compiler ran and failed (nonzero exit or a signal): the user's error, usually.
    CompileError,
    /// Killed at `--job-lifetime`.
    Timeout,
    /// The client hung up while its compiler ran.
    Disconnect,
    Refused(Refusal),
    /// The daemon could not do its part (compiler missing, no output, …).
    Failed,
}

/// A connection that never became a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Peer not in `--allow`.
    Access,
    /// Over `--max-connections` (3.4's `dcc_rej_overload`).
    Overload,
    /// Malformed bytes, a length over the caps, or a deadline (3.4's `dcc_rej_bad_req`).
    BadRequest,
    /// Connected and closed without sending anything (probes such as `lsdistcc`).
    Empty,
}

/// The phase of a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the request (argv known, body still arriving).
    Receiving,
    /// Waiting for a job slot.
    Queued,
    /// The compiler runs.
    Compiling,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Receiving => "receiving",
            Phase::Queued => "queued",
            Phase::Compiling => "compiling",
        }
    }
}

/// One 10-second bucket of history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Index since start: the bucket covers `[index * 10 s, (index + 1) * 10 s)` of uptime.
    pub index: u64,
    pub ok: u64,
    pub compile_error: u64,
    pub timeout: u64,
    pub disconnect: u64,
    pub refused: u64,
    pub failed: u64,
    pub bad_request: u64,
    /// Milliseconds of compiler time of the jobs that ended in this bucket.
    pub busy_ms: u64,
}

impl Bucket {
    /// Jobs that ran a compiler (3.4's `dcc_num_compiles*` count these).
    pub fn compiles(&self) -> u64 {
        self.ok + self.compile_error + self.timeout + self.disconnect
    }
}

/// Counters that only grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub tcp_accept: u64,
    pub rej_access: u64,
    pub rej_overload: u64,
    pub bad_request: u64,
    pub empty: u64,
    pub ok: u64,
    pub compile_error: u64,
    pub timeout: u64,
    pub disconnect: u64,
    pub failed: u64,
    pub refused: BTreeMap<Refusal, u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counters {
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// Per compiler name (argv[0] as the client sent it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompilerCount {
    pub ok: u64,
    pub error: u64,
    pub other: u64,
}

/// A job running now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub id: u64,
    pub peer: String,
    pub compiler: String,
    pub file: String,
    pub phase: Phase,
    pub elapsed: Duration,
}

/// The longest successful job so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Longest {
    pub file: String,
    pub compiler: String,
    pub ms: u64,
}

#[derive(Debug)]
struct Live {
    peer: String,
    compiler: String,
    file: String,
    phase: Phase,
    started: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    counters: Counters,
    compilers: BTreeMap<String, CompilerCount>,
    running: BTreeMap<u64, Live>,
    next_id: u64,
    longest: Option<Longest>,
    history: VecDeque<Bucket>,
}

/// Most distinct compiler names tracked; later names are counted under "other" so a client
/// cannot grow the map without bound.
const MAX_COMPILERS: usize = 64;
/// Longest file or compiler name kept (bytes), for the same reason.
const MAX_NAME: usize = 256;

/// The daemon's statistics; share it as `Arc<Stats>`.
#[derive(Debug)]
pub struct Stats {
    inner: Mutex<Inner>,
    started: Instant,
    started_unix: u64,
    pub config: Config,
}

/// Everything a page shows, copied out under the lock.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub config: Config,
    pub pid: u32,
    pub uptime: Duration,
    pub started_unix: u64,
    pub counters: Counters,
    pub compilers: BTreeMap<String, CompilerCount>,
    pub running: Vec<Running>,
    pub longest: Option<Longest>,
    /// Oldest first; the last one is the current (partial) bucket.
    pub history: Vec<Bucket>,
}

impl Snapshot {
    /// Jobs holding a slot (compiling) now.
    pub fn busy(&self) -> usize {
        self.running
            .iter()
            .filter(|r| r.phase == Phase::Compiling)
            .count()
    }

    /// Sum of `f` over the buckets of the last `window` (the current bucket included).
    pub fn recent(&self, window: Duration, f: impl Fn(&Bucket) -> u64) -> u64 {
        let n = (window.as_secs() / BUCKET.as_secs()).max(1) as usize;
        self.history.iter().rev().take(n).map(f).sum()
    }

    /// Average number of compilers running over the last `window`, from the compile time of
    /// jobs that ended in it (what 3.4's `dcc_avg_kids*` approximate too).
    pub fn avg_busy(&self, window: Duration) -> f64 {
        let ms = self.recent(window, |b| b.busy_ms);
        ms as f64 / window.as_millis().max(1) as f64
    }
}

/// A job registered with [`Stats::begin`]; ends with [`Stats::end`], or is dropped from the
/// running list when dropped without one (a bad request part-way).
pub struct Ticket {
    stats: Arc<Stats>,
    id: u64,
    compiler: String,
    file: String,
    started: Instant,
    ended: bool,
}

impl Ticket {
    pub fn set_phase(&self, phase: Phase) {
        if let Some(j) = self.stats.lock().running.get_mut(&self.id) {
            if phase == Phase::Compiling {
                // Elapsed time on the dashboard is the compiler's, not the upload's.
                j.started = Instant::now();
            }
            j.phase = phase;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.ended {
            self.stats.lock().running.remove(&self.id);
        }
    }
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_NAME {
        return s.to_owned();
    }
    let mut end = MAX_NAME;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl Stats {
    pub fn new(config: Config) -> Arc<Stats> {
        let started_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Arc::new(Stats {
            inner: Mutex::new(Inner::default()),
            started: Instant::now(),
            started_unix,
            config,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current history bucket, creating empty ones up to now.
    fn bucket<'a>(&self, inner: &'a mut Inner, now: Instant) -> &'a mut Bucket {
        let index = now.saturating_duration_since(self.started).as_secs() / BUCKET.as_secs();
        let last = inner.history.back().map(|b| b.index);
        match last {
            Some(l) if l >= index => {}
            _ => {
                // Fill the gap with empty buckets, but never more than the ring holds.
                let oldest = index.saturating_sub(BUCKETS_KEPT as u64 - 1);
                let from = last.map_or(oldest, |l| (l + 1).max(oldest));
                for i in from..=index {
                    if inner.history.len() == BUCKETS_KEPT {
                        inner.history.pop_front();
                    }
                    inner.history.push_back(Bucket {
                        index: i,
                        ..Bucket::default()
                    });
                }
            }
        }
        inner
            .history
            .back_mut()
            .expect("a bucket was pushed when the ring was empty")
    }

    /// A connection passed the access list and the connection cap.
    pub fn accepted(&self) {
        self.lock().counters.tcp_accept += 1;
    }

    /// A connection that never became a job.
    pub fn dropped(&self, why: Dropped) {
        let mut g = self.lock();
        match why {
            Dropped::Access => g.counters.rej_access += 1,
            Dropped::Overload => g.counters.rej_overload += 1,
            Dropped::Empty => g.counters.empty += 1,
            Dropped::BadRequest => {
                g.counters.bad_request += 1;
                self.bucket(&mut g, Instant::now()).bad_request += 1;
            }
        }
    }

    /// Bytes read from or written to clients.
    pub fn bytes(&self, read: u64, written: u64) {
        let mut g = self.lock();
        g.counters.bytes_in += read;
        g.counters.bytes_out += written;
    }

    /// Jobs holding a slot (compiling) now, whoever sent them: what a farm coordinator is told.
    pub fn compiling(&self) -> usize {
        self.lock()
            .running
            .values()
            .filter(|j| j.phase == Phase::Compiling)
            .count()
    }

    /// A request whose command line is known: it shows as running until its ticket ends.
    pub fn begin(self: &Arc<Self>, peer: &str, compiler: &str, file: &str) -> Ticket {
        let now = Instant::now();
        let (compiler, file) = (cut(compiler), cut(file));
        let mut g = self.lock();
        let id = g.next_id;
        g.next_id += 1;
        g.running.insert(
            id,
            Live {
                peer: cut(peer),
                compiler: compiler.clone(),
                file: file.clone(),
                phase: Phase::Receiving,
                started: now,
            },
        );
        drop(g);
        Ticket {
            stats: self.clone(),
            id,
            compiler,
            file,
            started: now,
            ended: false,
        }
    }

    /// The job of `ticket` ended; `compiled` is how long its compiler ran, if it did.
    pub fn end(&self, mut ticket: Ticket, end: End, compiled: Option<Duration>) {
        ticket.ended = true;
        let now = Instant::now();
        let mut g = self.lock();
        g.running.remove(&ticket.id);
        let ms = compiled.map_or(0, |d| d.as_millis() as u64);
        let c = &mut g.counters;
        match end {
            End::Ok => c.ok += 1,
            End::CompileError => c.compile_error += 1,
            End::Timeout => c.timeout += 1,
            End::Disconnect => c.disconnect += 1,
            End::Failed => c.failed += 1,
            End::Refused(r) => *c.refused.entry(r).or_insert(0) += 1,
        }
        if !matches!(end, End::Refused(_)) {
            let known =
                g.compilers.len() < MAX_COMPILERS || g.compilers.contains_key(&ticket.compiler);
            let key = if known {
                ticket.compiler.clone()
            } else {
                "other".to_owned()
            };
            let cc = g.compilers.entry(key).or_default();
            match end {
                End::Ok => cc.ok += 1,
                End::CompileError => cc.error += 1,
                _ => cc.other += 1,
            }
        }
        if end == End::Ok && g.longest.as_ref().is_none_or(|l| ms > l.ms) {
            g.longest = Some(Longest {
                file: std::mem::take(&mut ticket.file),
                compiler: std::mem::take(&mut ticket.compiler),
                ms,
            });
        }
        let b = self.bucket(&mut g, now);
        b.busy_ms += ms;
        match end {
            End::Ok => b.ok += 1,
            End::CompileError => b.compile_error += 1,
            End::Timeout => b.timeout += 1,
            End::Disconnect => b.disconnect += 1,
            End::Failed => b.failed += 1,
            End::Refused(_) => b.refused += 1,
        }
    }

    /// A consistent copy of everything, for one page.
    pub fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let mut g = self.lock();
        self.bucket(&mut g, now);
        let running = g
            .running
            .iter()
            .map(|(id, j)| Running {
                id: *id,
                peer: j.peer.clone(),
                compiler: j.compiler.clone(),
                file: j.file.clone(),
                phase: j.phase,
                elapsed: now.saturating_duration_since(j.started),
            })
            .collect();
        Snapshot {
            config: self.config.clone(),
            pid: std::process::id(),
            uptime: now.saturating_duration_since(self.started),
            started_unix: self.started_unix,
            counters: g.counters.clone(),
            compilers: g.compilers.clone(),
            running,
            longest: g.longest.clone(),
            history: g.history.iter().copied().collect(),
        }
    }

    /// Milliseconds since `ticket` began (for the log line and the compile time).
    pub fn since(ticket: &Ticket) -> Duration {
        ticket.started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_runs_then_counts() {
        let s = Stats::new(Config::default());
        s.accepted();
        let t = s.begin("127.0.0.1:5", "gcc", "a.c");
        t.set_phase(Phase::Compiling);
        let snap = s.snapshot();
        assert_eq!(snap.running.len(), 1);
        assert_eq!(snap.busy(), 1);
        assert_eq!(snap.running[0].file, "a.c");
        s.end(t, End::Ok, Some(Duration::from_millis(25)));
        let snap = s.snapshot();
        assert!(snap.running.is_empty());
        assert_eq!(snap.counters.ok, 1);
        assert_eq!(snap.counters.tcp_accept, 1);
        assert_eq!(snap.compilers["gcc"].ok, 1);
        assert_eq!(snap.longest.as_ref().map(|l| l.ms), Some(25));
        assert_eq!(
            snap.history.last().map(|b| (b.ok, b.busy_ms)),
            Some((1, 25))
        );
    }

    #[test]
    fn a_dropped_ticket_leaves_the_running_list() {
        let s = Stats::new(Config::default());
        let t = s.begin("p", "gcc", "a.c");
        drop(t);
        let snap = s.snapshot();
        assert!(snap.running.is_empty());
        assert_eq!(snap.counters.ok + snap.counters.failed, 0);
    }

    #[test]
    fn refusals_and_drops_by_reason() {
        let s = Stats::new(Config::default());
        let t = s.begin("p", "evil", "a.c");
        s.end(t, End::Refused(Refusal::Compiler), None);
        let t = s.begin("p", "gcc", "a.c");
        s.end(t, End::Refused(Refusal::Plugin), None);
        s.dropped(Dropped::Access);
        s.dropped(Dropped::BadRequest);
        let snap = s.snapshot();
        assert_eq!(snap.counters.refused[&Refusal::Compiler], 1);
        assert_eq!(snap.counters.refused[&Refusal::Plugin], 1);
        assert_eq!(snap.counters.refused_total(), 2);
        assert_eq!(snap.counters.rej_access, 1);
        assert_eq!(snap.counters.bad_request, 1);
        // Refused jobs never ran a compiler, so they are not per-compiler counts.
        assert!(snap.compilers.is_empty());
        assert_eq!(snap.history.last().map(|b| b.refused), Some(2));
    }

    #[test]
    fn compiler_names_are_capped() {
        let s = Stats::new(Config::default());
        for i in 0..(MAX_COMPILERS + 10) {
            let t = s.begin("p", &format!("cc{i}"), "a.c");
            s.end(t, End::CompileError, None);
        }
        let snap = s.snapshot();
        assert_eq!(snap.compilers.len(), MAX_COMPILERS + 1);
        assert_eq!(snap.compilers["other"].error, 10);
        let long = "x".repeat(10_000);
        let t = s.begin(&long, &long, &long);
        assert_eq!(s.snapshot().running[0].file.len(), MAX_NAME);
        drop(t);
    }

    #[test]
    fn history_fills_gaps_and_keeps_an_hour() {
        let s = Stats::new(Config::default());
        let mut g = s.lock();
        let later = s.started + BUCKET * 3;
        s.bucket(&mut g, later).ok += 1;
        assert_eq!(g.history.len(), 4);
        assert_eq!(g.history.back().map(|b| b.index), Some(3));
        let much_later = s.started + BUCKET * 10_000;
        s.bucket(&mut g, much_later);
        assert_eq!(g.history.len(), BUCKETS_KEPT);
        assert_eq!(g.history.back().map(|b| b.index), Some(10_000));
        assert_eq!(
            g.history.front().map(|b| b.index),
            Some(10_000 - BUCKETS_KEPT as u64 + 1)
        );
    }
}
