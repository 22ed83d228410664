//! The coordinator's state machine and policy, with no I/O and no clock of its own: hosts,
//! leases, the waiting line and every build's share. The server (`server.rs`) feeds it events
//! (a daemon registered or reported load, a client asked or released, a connection closed,
//! time passed) and carries out what it answers; a simulation drives the same code.
//!
//! The policy, in order:
//! - **Fair shares.** Nobody waits while a usable slot is free. When several builds wait, a
//!   freed slot goes to the waiting build that holds the fewest leases (earliest request
//!   first among equals): max-min fairness between builds, so a `make -j200` cannot starve a
//!   colleague's `make -j8`; each build's fair share (usable slots / builds holding or
//!   wanting any) is shown beside what it holds.
//! - **Fastest free slot first.** Among hosts with a free slot (slots offered, less the
//!   larger of our leases there and the jobs the daemon reports running — jobs of 3.4
//!   clients count), the lowest estimate of milliseconds per KB wins (learned from the
//!   clients' reports; a daemon's hint, else "as fast as the fastest", until known); hosts
//!   within [`TIE`] count as equal and the one with the most free slots wins.
//! - **Slow hosts off the tail** (the client scheduler's rule, `client::sched::choose`): a
//!   free host at least [`SLOWER`] times slower than some busy host is taken only when
//!   `est ≤ queue / R + est_fastest` (`R` = Σ slots/est over the faster hosts, `queue` = the
//!   requests waiting, this one included); otherwise the request waits for a fast slot.
//! - A host a client reported failing is left out for [`SUSPECT`]; a lease lives until its
//!   client releases it, its connection closes, its host leaves, or [`Farm::lease_time`].

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

/// Hosts this close in speed are treated as equally fast.
pub const TIE: f64 = 1.15;
/// A host counts as slower than another only from this ratio on.
pub const SLOWER: f64 = 1.6;
/// Jobs a host's learned speed needs before it is trusted to call the host slow.
pub const MIN_JOBS: u32 = 4;
/// How long a host that a client found failing is left out.
pub const SUSPECT: Duration = Duration::from_secs(5);
/// Slots per host at most (slot numbers are bits of a `u64`).
pub const MAX_SLOTS: u32 = 64;
/// How many past decisions are kept for the pages.
const DECISIONS: usize = 64;
/// The largest job size taken into account (bytes); sizes only scale estimates.
const KB_FLOOR: f64 = 4.0;

/// Milliseconds since the coordinator started: the only clock the farm knows.
pub type Millis = u64;

/// What a daemon says about itself (`HELO` and `LOAD`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostReport {
    /// What clients connect to, in host-list syntax: `addr:port/slots,options`.
    pub spec: String,
    /// Slots offered to the farm now (0: withdrawn).
    pub slots: u32,
    /// The slots the daemon has in all (`--jobs`).
    pub jobs: u32,
    /// Jobs running there now, from any client.
    pub busy: u32,
    /// One-minute load average, and that of everything but distcc jobs.
    pub load: f64,
    pub other_load: f64,
    /// Available memory, MiB.
    pub mem_mb: u64,
    /// A hint of milliseconds per KB, until clients' reports teach better.
    pub speed_hint: Option<f64>,
    /// Compiler identities it can run; empty: any (not checked here).
    pub ccids: Vec<String>,
    /// Why it offers fewer slots than it has, if it does.
    pub withdrawn: Option<String>,
}

/// What a client asks for (`LEAS`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// The build this job belongs to (`machine:pgid`): the unit of fairness.
    pub build: String,
    pub machine: String,
    pub user: String,
    /// Bytes of source to send.
    pub size: u64,
    /// Compiler identity; empty: any host.
    pub ccid: String,
    /// Host specs this client already failed on for this job.
    pub avoid: Vec<String>,
}

/// A lease handed to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub lease: u64,
    pub spec: String,
    pub slot: u32,
    pub why: String,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Granted(Grant),
    /// Queued; the number of requests ahead of it.
    Queued(usize),
    /// No registered host could ever run it: the client schedules by itself.
    Refused(String),
}

#[derive(Debug, Clone, Copy, Default)]
struct Learned {
    ms_per_kb: f64,
    jobs: u32,
}

#[derive(Debug)]
struct Host {
    report: HostReport,
    /// Slot numbers leased by us (bit n = slot n).
    leased: u64,
    /// Jobs running there that are not ours (3.4 clients, clients without a coordinator):
    /// the daemon's busy count less our leases when it reported. A lease whose job had not
    /// started yet (or had ended) then makes this too low by one until the next report, so
    /// the farm may overcommit a host briefly; the daemon's own limit queues such a job.
    external: u32,
    learned: Learned,
    suspect_until: Millis,
    since: Millis,
    granted: u64,
}

impl Host {
    fn leased(&self) -> u32 {
        self.leased.count_ones()
    }
    fn offered(&self) -> u32 {
        self.report.slots.min(MAX_SLOTS)
    }
    fn free(&self) -> u32 {
        self.offered().saturating_sub(self.leased() + self.external)
    }
}

/// The hosts, in a vector for fast scans (a request looks at every host), indexed by id.
#[derive(Debug, Default)]
struct Hosts {
    list: Vec<(u64, Host)>,
    index: HashMap<u64, usize>,
}

impl Hosts {
    fn insert(&mut self, id: u64, h: Host) {
        self.index.insert(id, self.list.len());
        self.list.push((id, h));
    }
    fn get(&self, id: &u64) -> Option<&Host> {
        self.index.get(id).map(|&i| &self.list[i].1)
    }
    fn get_mut(&mut self, id: &u64) -> Option<&mut Host> {
        self.index.get(id).map(|&i| &mut self.list[i].1)
    }
    fn remove(&mut self, id: &u64) -> Option<Host> {
        let i = self.index.remove(id)?;
        let (_, h) = self.list.swap_remove(i);
        if let Some((moved, _)) = self.list.get(i) {
            self.index.insert(*moved, i);
        }
        Some(h)
    }
    fn values(&self) -> impl Iterator<Item = &Host> {
        self.list.iter().map(|(_, h)| h)
    }
    fn values_mut(&mut self) -> impl Iterator<Item = &mut Host> {
        self.list.iter_mut().map(|(_, h)| h)
    }
    fn iter(&self) -> impl Iterator<Item = (&u64, &Host)> {
        self.list.iter().map(|(id, h)| (id, h))
    }
    fn len(&self) -> usize {
        self.list.len()
    }
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Lease {
    host: u64,
    slot: u32,
    conn: u64,
    build: String,
    size: u64,
    since: Millis,
    expires: Millis,
}

#[derive(Debug, Clone)]
struct Waiter {
    conn: u64,
    req: Request,
    since: Millis,
}

#[derive(Debug, Clone, Default)]
struct Build {
    machine: String,
    user: String,
    held: u32,
    waiting: u32,
    granted: u64,
    waited_ms: u64,
    last: Millis,
}

/// The whole farm as the coordinator sees it.
#[derive(Debug)]
pub struct Farm {
    hosts: Hosts,
    /// The lowest learned ms/KB of any host (what an unknown host is assumed to be), kept
    /// up to date as speeds are learned and hosts leave; 1.0 while none is known.
    fastest_learned: f64,
    leases: HashMap<u64, Lease>,
    waiting: VecDeque<Waiter>,
    builds: HashMap<String, Build>,
    decisions: VecDeque<String>,
    next_id: u64,
    /// How long a lease may live at most.
    pub lease_time: Duration,
    /// Totals for the metrics.
    pub granted: u64,
    pub released: u64,
    pub expired: u64,
    pub refused: u64,
}

fn report_external(r: &HostReport, leased: u32) -> u32 {
    r.busy.saturating_sub(leased)
}

fn est_of(h: &Host, fastest_known: f64) -> f64 {
    if h.learned.jobs > 0 {
        h.learned.ms_per_kb
    } else {
        h.report.speed_hint.unwrap_or(fastest_known)
    }
}

impl Farm {
    pub fn new(lease_time: Duration) -> Farm {
        Farm {
            hosts: Hosts::default(),
            fastest_learned: 1.0,
            leases: HashMap::new(),
            waiting: VecDeque::new(),
            builds: HashMap::new(),
            decisions: VecDeque::new(),
            next_id: 1,
            lease_time,
            granted: 0,
            released: 0,
            expired: 0,
            refused: 0,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn decided(&mut self, now: Millis, what: String) {
        if self.decisions.len() == DECISIONS {
            self.decisions.pop_front();
        }
        self.decisions
            .push_back(format!("{:.3}s {what}", now as f64 / 1000.0));
    }

    /// A daemon registered: its id, which [`Farm::update`] and [`Farm::remove`] take.
    /// A daemon that registers again under the same spec (restarted) replaces the old entry.
    pub fn register(&mut self, report: HostReport, now: Millis) -> (u64, Vec<u64>) {
        let old: Vec<u64> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.report.spec == report.spec)
            .map(|(id, _)| *id)
            .collect();
        let mut closed = Vec::new();
        for id in old {
            closed.extend(self.remove(id, now));
        }
        let id = self.id();
        let external = report_external(&report, 0);
        self.decided(
            now,
            format!("host {} joined with {} slots", report.spec, report.slots),
        );
        self.hosts.insert(
            id,
            Host {
                report,
                leased: 0,
                external,
                learned: Learned::default(),
                suspect_until: 0,
                since: now,
                granted: 0,
            },
        );
        (id, closed)
    }

    /// A daemon's new figures.
    pub fn update(&mut self, id: u64, report: HostReport, now: Millis) {
        let mut note = None;
        if let Some(h) = self.hosts.get_mut(&id) {
            if h.report.withdrawn != report.withdrawn || h.report.slots != report.slots {
                note = Some(match &report.withdrawn {
                    Some(why) => format!(
                        "host {} offers {} of {} slots: {why}",
                        report.spec, report.slots, report.jobs
                    ),
                    None => format!("host {} offers {} slots", report.spec, report.slots),
                });
            }
            h.external = report_external(&report, h.leased());
            h.report = report;
        }
        if let Some(n) = note {
            self.decided(now, n);
        }
    }

    /// A daemon left (its connection closed or went silent). Its leases are dropped; the
    /// connections of their clients are returned (their jobs fail over by themselves).
    pub fn remove(&mut self, id: u64, now: Millis) -> Vec<u64> {
        let Some(h) = self.hosts.remove(&id) else {
            return Vec::new();
        };
        if h.learned.jobs > 0 && h.learned.ms_per_kb <= self.fastest_learned {
            self.learn_fastest();
        }
        let gone: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.host == id)
            .map(|(k, _)| *k)
            .collect();
        let mut conns = Vec::new();
        for l in gone {
            if let Some(l) = self.drop_lease(l) {
                conns.push(l.conn);
            }
        }
        self.decided(
            now,
            format!("host {} left; {} leases freed", h.report.spec, conns.len()),
        );
        conns
    }

    fn learn_fastest(&mut self) {
        let f = self
            .hosts
            .values()
            .filter(|h| h.learned.jobs > 0)
            .map(|h| h.learned.ms_per_kb)
            .fold(f64::INFINITY, f64::min);
        self.fastest_learned = if f.is_finite() { f } else { 1.0 };
    }

    fn drop_lease(&mut self, id: u64) -> Option<Lease> {
        let l = self.leases.remove(&id)?;
        if let Some(h) = self.hosts.get_mut(&l.host) {
            h.leased &= !(1u64 << l.slot);
        }
        if let Some(b) = self.builds.get_mut(&l.build) {
            b.held = b.held.saturating_sub(1);
        }
        Some(l)
    }

    /// A client asks for a slot. `conn` names its connection (for [`Farm::closed`]).
    pub fn request(
        &mut self,
        conn: u64,
        req: Request,
        now: Millis,
    ) -> (Outcome, Vec<(u64, Grant)>) {
        // A host this client failed on is left out for everyone for a while.
        for h in self.hosts.values_mut().filter(|_| !req.avoid.is_empty()) {
            if req.avoid.contains(&h.report.spec) {
                h.suspect_until = h.suspect_until.max(now + SUSPECT.as_millis() as u64);
            }
        }
        if !self.hosts.values().any(|h| self.could_run(h, &req)) {
            self.refused += 1;
            let why = if self.hosts.is_empty() {
                "no daemon is registered".to_owned()
            } else {
                "no registered daemon can run this job".to_owned()
            };
            return (Outcome::Refused(why), Vec::new());
        }
        let b = self.builds.entry(req.build.clone()).or_default();
        b.machine.clone_from(&req.machine);
        b.user.clone_from(&req.user);
        b.waiting += 1;
        b.last = now;
        self.waiting.push_back(Waiter {
            conn,
            req,
            since: now,
        });
        let mut grants = self.dispatch(now);
        if let Some(i) = grants.iter().position(|(c, _)| *c == conn) {
            let (_, g) = grants.remove(i);
            return (Outcome::Granted(g), grants);
        }
        let ahead = self
            .waiting
            .iter()
            .position(|w| w.conn == conn)
            .unwrap_or(0);
        (Outcome::Queued(ahead), grants)
    }

    /// Whether `h` could ever run `req` (not counting how busy it is).
    fn could_run(&self, h: &Host, req: &Request) -> bool {
        (req.ccid.is_empty() || h.report.ccids.is_empty() || h.report.ccids.contains(&req.ccid))
            && !req.avoid.contains(&h.report.spec)
    }

    /// The host for `req` now, or `None` (nothing free, or only slow hosts that would become
    /// the tail). `queue` counts the waiting requests, this one included.
    fn place(&self, req: &Request, queue: usize, now: Millis) -> Option<(u64, String)> {
        let fastest_known = self.fastest_learned;
        let usable = |h: &Host| h.offered() > 0 && h.suspect_until <= now && self.could_run(h, req);
        let mut best: Option<(u64, f64, u32)> = None;
        let mut next = f64::INFINITY;
        let mut fastest_any = f64::INFINITY;
        for (id, h) in self.hosts.iter() {
            if !usable(h) {
                continue;
            }
            let est = est_of(h, fastest_known);
            // Only a trusted estimate may call a busy host faster.
            if h.learned.jobs >= MIN_JOBS || h.free() > 0 {
                fastest_any = fastest_any.min(est);
            }
            let free = h.free();
            if free == 0 {
                continue;
            }
            match best {
                None => best = Some((*id, est, free)),
                Some((_, b, bf)) => {
                    let better = if est * TIE < b {
                        true
                    } else if b * TIE < est {
                        false
                    } else {
                        free > bf
                    };
                    if better {
                        next = next.min(b);
                        best = Some((*id, est, free));
                    } else {
                        next = next.min(est);
                    }
                }
            }
        }
        let (id, est, _) = best?;
        let h = self.hosts.get(&id)?;
        if h.learned.jobs >= MIN_JOBS && est >= SLOWER * fastest_any {
            // Slower than a busy host: worth it only if the queue is long.
            let rate: f64 = self
                .hosts
                .values()
                .filter(|o| usable(o) && est_of(o, fastest_known) < est / SLOWER)
                .map(|o| f64::from(o.offered()) / est_of(o, fastest_known))
                .sum();
            let wait = queue as f64 / rate.max(f64::MIN_POSITIVE) + fastest_any;
            if est > wait {
                return None;
            }
            return Some((
                id,
                format!(
                    "slower ({est:.2} ms/KB against {fastest_any:.2}) but {queue} waiting would wait {wait:.2}"
                ),
            ));
        }
        let why = if next.is_finite() {
            format!("fastest free ({est:.2} ms/KB; next {next:.2})")
        } else {
            format!("free ({est:.2} ms/KB)")
        };
        Some((id, why))
    }

    /// Hands free slots to waiting requests, fairest first. Returns the grants to send.
    pub fn dispatch(&mut self, now: Millis) -> Vec<(u64, Grant)> {
        let mut out = Vec::new();
        loop {
            if self.waiting.is_empty() || !self.hosts.values().any(|h| h.free() > 0) {
                return out;
            }
            // Waiters in fairness order: fewest leases held by their build, then arrival.
            let mut order: Vec<usize> = (0..self.waiting.len()).collect();
            order.sort_by_key(|&i| {
                let b = &self.waiting[i].req.build;
                (self.builds.get(b).map_or(0, |b| b.held), i)
            });
            let queue = self.waiting.len();
            let mut placed = None;
            for i in order {
                if let Some((host, why)) = self.place(&self.waiting[i].req, queue, now) {
                    placed = Some((i, host, why));
                    break;
                }
            }
            let Some((i, host, why)) = placed else {
                return out;
            };
            let Some(w) = self.waiting.remove(i) else {
                return out;
            };
            let g = self.grant(w, host, why, now);
            out.push(g);
        }
    }

    fn grant(&mut self, w: Waiter, host: u64, why: String, now: Millis) -> (u64, Grant) {
        let lease = self.id();
        let expires = now + self.lease_time.as_millis() as u64;
        let h = self
            .hosts
            .get_mut(&host)
            // `place` returned a host of this map, and nothing removed it since.
            .expect("placed on a known host");
        let slot = (!h.leased).trailing_zeros();
        h.leased |= 1u64 << slot;
        h.granted += 1;
        let spec = h.report.spec.clone();
        let b = self.builds.entry(w.req.build.clone()).or_default();
        b.held += 1;
        b.waiting = b.waiting.saturating_sub(1);
        b.granted += 1;
        b.waited_ms += now - w.since;
        b.last = now;
        let held = b.held;
        self.granted += 1;
        self.leases.insert(
            lease,
            Lease {
                host,
                slot,
                conn: w.conn,
                build: w.req.build.clone(),
                size: w.req.size,
                since: now,
                expires,
            },
        );
        let waited = now - w.since;
        if waited > 0 || !self.waiting.is_empty() {
            self.decided(
                now,
                format!(
                    "lease {lease} to {} (holds {held}) on {spec} #{slot}: {why}; waited {waited} ms, {} waiting",
                    w.req.build,
                    self.waiting.len()
                ),
            );
        }
        (
            w.conn,
            Grant {
                lease,
                spec,
                slot,
                why,
            },
        )
    }

    /// A client released a lease, with what the job cost if it ran (`ms` from sending to the
    /// reply) and whether the host failed it. Returns grants the freed slot allows.
    pub fn release(
        &mut self,
        lease: u64,
        ran_ms: Option<u64>,
        failed: bool,
        now: Millis,
    ) -> Vec<(u64, Grant)> {
        let Some(l) = self.drop_lease(lease) else {
            return Vec::new();
        };
        self.released += 1;
        if let Some(h) = self.hosts.get_mut(&l.host) {
            if failed {
                h.suspect_until = now + SUSPECT.as_millis() as u64;
                let spec = h.report.spec.clone();
                self.decided(
                    now,
                    format!("host {spec} failed a job; left out for a while"),
                );
            } else if let Some(ms) = ran_ms {
                let kb = (l.size as f64 / 1024.0).max(KB_FLOOR);
                let sample = ms as f64 / kb;
                let s = &mut h.learned;
                s.jobs += 1;
                let w = if s.jobs <= 10 {
                    1.0 / f64::from(s.jobs)
                } else {
                    0.1
                };
                let old = s.ms_per_kb;
                s.ms_per_kb += w * (sample - s.ms_per_kb);
                let new = s.ms_per_kb;
                if new < self.fastest_learned {
                    self.fastest_learned = new;
                } else if old <= self.fastest_learned {
                    self.learn_fastest();
                }
            }
        }
        self.dispatch(now)
    }

    /// [`Farm::release`] of a lease that `conn` holds; another connection's lease is left alone.
    pub fn release_of(
        &mut self,
        conn: u64,
        lease: u64,
        ran_ms: Option<u64>,
        failed: bool,
        now: Millis,
    ) -> Vec<(u64, Grant)> {
        if self.leases.get(&lease).is_some_and(|l| l.conn == conn) {
            self.release(lease, ran_ms, failed, now)
        } else {
            Vec::new()
        }
    }

    /// A connection closed: its waiting requests go, its leases are freed.
    pub fn closed(&mut self, conn: u64, now: Millis) -> Vec<(u64, Grant)> {
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].conn == conn {
                if let Some(w) = self.waiting.remove(i)
                    && let Some(b) = self.builds.get_mut(&w.req.build)
                {
                    b.waiting = b.waiting.saturating_sub(1);
                }
            } else {
                i += 1;
            }
        }
        let mine: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.conn == conn)
            .map(|(k, _)| *k)
            .collect();
        let had = !mine.is_empty();
        for l in mine {
            self.drop_lease(l);
            self.released += 1;
        }
        if had { self.dispatch(now) } else { Vec::new() }
    }

    /// Leases past their time: freed; their connections are returned to be closed. Builds
    /// idle for ten minutes are forgotten.
    pub fn expire(&mut self, now: Millis) -> (Vec<u64>, Vec<(u64, Grant)>) {
        let old: Vec<u64> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expires <= now)
            .map(|(k, _)| *k)
            .collect();
        let mut conns = Vec::new();
        for id in old {
            if let Some(l) = self.drop_lease(id) {
                self.expired += 1;
                self.decided(now, format!("lease {id} of {} expired", l.build));
                conns.push(l.conn);
            }
        }
        self.builds
            .retain(|_, b| b.held > 0 || b.waiting > 0 || now.saturating_sub(b.last) < 600_000);
        let grants = if conns.is_empty() {
            Vec::new()
        } else {
            self.dispatch(now)
        };
        (conns, grants)
    }

    /// How many requests wait.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Everything the pages show, as JSON (std only: the values are numbers and strings
    /// escaped by [`json_str`]).
    pub fn json(&self, now: Millis) -> String {
        let mut s = String::with_capacity(4096);
        let usable: u32 = self.hosts.values().map(Host::offered).sum();
        let active = self
            .builds
            .values()
            .filter(|b| b.held > 0 || b.waiting > 0)
            .count()
            .max(1);
        let _ = write!(
            s,
            "{{\"uptime_ms\":{now},\"slots\":{usable},\"leased\":{},\"waiting\":{},\"granted\":{},\"released\":{},\"expired\":{},\"refused\":{},\"hosts\":[",
            self.leases.len(),
            self.waiting.len(),
            self.granted,
            self.released,
            self.expired,
            self.refused
        );
        for (i, (id, h)) in self.hosts.iter().enumerate() {
            let r = &h.report;
            let _ = write!(
                s,
                "{}{{\"id\":{id},\"spec\":{},\"slots\":{},\"jobs\":{},\"busy\":{},\"leased\":{},\"free\":{},\"load\":{:.2},\"other_load\":{:.2},\"mem_mb\":{},\"ms_per_kb\":{},\"jobs_learned\":{},\"granted\":{},\"suspect\":{},\"withdrawn\":{},\"ccids\":{},\"since_ms\":{}}}",
                if i > 0 { "," } else { "" },
                json_str(&r.spec),
                r.slots,
                r.jobs,
                r.busy,
                h.leased(),
                h.free(),
                r.load,
                r.other_load,
                r.mem_mb,
                if h.learned.jobs > 0 {
                    format!("{:.3}", h.learned.ms_per_kb)
                } else {
                    "null".to_owned()
                },
                h.learned.jobs,
                h.granted,
                h.suspect_until > now,
                r.withdrawn.as_deref().map_or("null".to_owned(), json_str),
                r.ccids.len(),
                h.since
            );
        }
        s.push_str("],\"leases\":[");
        let mut leases: Vec<(&u64, &Lease)> = self.leases.iter().collect();
        leases.sort_by_key(|(id, _)| **id);
        for (i, (id, l)) in leases.iter().enumerate() {
            let spec = self
                .hosts
                .get(&l.host)
                .map_or("", |h| h.report.spec.as_str());
            let _ = write!(
                s,
                "{}{{\"id\":{id},\"build\":{},\"host\":{},\"slot\":{},\"size\":{},\"age_ms\":{}}}",
                if i > 0 { "," } else { "" },
                json_str(&l.build),
                json_str(spec),
                l.slot,
                l.size,
                now - l.since
            );
        }
        s.push_str("],\"queue\":[");
        for (i, w) in self.waiting.iter().enumerate() {
            let _ = write!(
                s,
                "{}{{\"build\":{},\"size\":{},\"wait_ms\":{}}}",
                if i > 0 { "," } else { "" },
                json_str(&w.req.build),
                w.req.size,
                now - w.since
            );
        }
        s.push_str("],\"builds\":[");
        let mut builds: Vec<(&String, &Build)> = self.builds.iter().collect();
        builds.sort_by(|a, b| a.0.cmp(b.0));
        for (i, (name, b)) in builds.iter().enumerate() {
            let _ = write!(
                s,
                "{}{{\"build\":{},\"machine\":{},\"user\":{},\"held\":{},\"waiting\":{},\"fair_share\":{:.2},\"granted\":{},\"mean_wait_ms\":{:.1}}}",
                if i > 0 { "," } else { "" },
                json_str(name),
                json_str(&b.machine),
                json_str(&b.user),
                b.held,
                b.waiting,
                f64::from(usable) / active as f64,
                b.granted,
                if b.granted > 0 {
                    b.waited_ms as f64 / b.granted as f64
                } else {
                    0.0
                }
            );
        }
        s.push_str("],\"decisions\":[");
        for (i, d) in self.decisions.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&json_str(d));
        }
        s.push_str("]}");
        s
    }

    /// The Prometheus text format (0.0.4).
    pub fn prometheus(&self) -> String {
        let mut s = String::with_capacity(2048);
        let usable: u32 = self.hosts.values().map(Host::offered).sum();
        let _ = writeln!(s, "# TYPE distcc_coordinator_hosts gauge");
        let _ = writeln!(s, "distcc_coordinator_hosts {}", self.hosts.len());
        let _ = writeln!(s, "# TYPE distcc_coordinator_slots gauge");
        let _ = writeln!(s, "distcc_coordinator_slots {usable}");
        let _ = writeln!(s, "# TYPE distcc_coordinator_leases gauge");
        let _ = writeln!(s, "distcc_coordinator_leases {}", self.leases.len());
        let _ = writeln!(s, "# TYPE distcc_coordinator_waiting gauge");
        let _ = writeln!(s, "distcc_coordinator_waiting {}", self.waiting.len());
        for (name, v) in [
            ("granted", self.granted),
            ("released", self.released),
            ("expired", self.expired),
            ("refused", self.refused),
        ] {
            let _ = writeln!(s, "# TYPE distcc_coordinator_{name}_total counter");
            let _ = writeln!(s, "distcc_coordinator_{name}_total {v}");
        }
        let _ = writeln!(s, "# TYPE distcc_coordinator_host_slots gauge");
        for h in self.hosts.values() {
            let _ = writeln!(
                s,
                "distcc_coordinator_host_slots{{host=\"{}\"}} {}",
                prom_label(&h.report.spec),
                h.offered()
            );
        }
        let _ = writeln!(s, "# TYPE distcc_coordinator_host_leased gauge");
        for h in self.hosts.values() {
            let _ = writeln!(
                s,
                "distcc_coordinator_host_leased{{host=\"{}\"}} {}",
                prom_label(&h.report.spec),
                h.leased()
            );
        }
        let _ = writeln!(s, "# TYPE distcc_coordinator_build_held gauge");
        let mut builds: Vec<(&String, &Build)> = self.builds.iter().collect();
        builds.sort_by(|a, b| a.0.cmp(b.0));
        for (name, b) in builds {
            let _ = writeln!(
                s,
                "distcc_coordinator_build_held{{build=\"{}\"}} {}",
                prom_label(name),
                b.held
            );
        }
        s
    }
}

/// A JSON string literal.
pub fn json_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '<' => s.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn prom_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
#[path = "farm_tests.rs"]
mod tests;
