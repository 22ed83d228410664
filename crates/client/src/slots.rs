//! Slot choice: which host runs the next job, using 3.4's lock files so that C and Rust
//! clients on one machine share the same slots.
//!
//! A slot is `$DISTCC_DIR/lock/cpu_<host>_<n>` held with an fcntl write lock for as long as
//! the job uses it, exactly as 3.4 does. What is new is how a client waits and what it picks:
//! - Waiting is a single queue per `$DISTCC_DIR` (`sched::queue`): a client that finds
//!   nothing to take (or finds others already waiting) joins it; a client that frees a slot
//!   rings the first waiter. The first waiter also watches the lock directory for closed
//!   files, which is how slots freed by 3.4 clients (which ring nobody) and by crashed clients
//!   show up. A timeout of `DISTCC_PAUSE_TIME_MSEC` (at most 1 s) is only a safety net.
//! - The pick is `sched::choose` over a view of every host: free slots found with `F_GETLK`
//!   (a probe that takes nothing), speeds from `sched::speed`, and the queue's length.
//! - Local slots (`cpu_localhost_<n>`, for local compiles and preprocessors, as in 3.4) have a
//!   queue of their own, `sched/local`; freeing one rings both queues, because a `localhost`
//!   entry in the host list draws on the same files. However many local slots are configured
//!   (`localhost/N`, `--localslots`, `--localslots_cpp`), no more are used than this process
//!   may run on CPUs (`local_limit`): preprocessors and local compiles share those files, so
//!   the machine never runs more local jobs at once than it has CPUs.
//!
//! One line per decision goes to the verbose log.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use os::lock::FileLock;
use os::wake::DirWatch;

use crate::hosts::Host;
use crate::log::Log;
use crate::sched::choose::{self, Decision, HostView, Learned, Why};
use crate::sched::queue::Queue;
use crate::sched::speed;

/// 3.4 never looks past slot 50 of any host.
const MAX_SLOTS: u32 = 50;
/// The longest a waiter sleeps between looks when nobody wakes it: only a crashed waiter
/// ahead, or a machine without inotify, ever makes this matter.
const MAX_NAP: Duration = Duration::from_secs(1);

/// Where slots live and how to report on them.
pub struct Slots<'a> {
    /// `$DISTCC_DIR/lock`.
    pub lock_dir: &'a Path,
    /// `$DISTCC_DIR`.
    pub top: &'a Path,
    /// `DISTCC_PAUSE_TIME_MSEC`.
    pub pause: Duration,
    pub log: &'a Log,
}

/// A held slot. Dropping it releases the lock, then wakes the next waiter.
#[derive(Debug)]
pub struct Slot {
    /// Index into the candidate list given to [`Slots::acquire`].
    pub host: usize,
    /// Slot number on that host.
    pub n: u32,
    lock: Option<FileLock>,
    wake: Vec<Queue>,
    /// A coordinator's lease instead of a lock file: released when the slot is dropped.
    lease: Option<Box<crate::coord::Lease>>,
}

impl Slot {
    /// A slot a coordinator leased on candidate `host` (no lock file: the coordinator and the
    /// daemon's own limit keep count).
    pub fn leased(host: usize, lease: crate::coord::Lease) -> Slot {
        Slot {
            host,
            n: lease.slot,
            lock: None,
            wake: Vec::new(),
            lease: Some(Box::new(lease)),
        }
    }

    /// The job ran there in `took` (sending to reply): the coordinator's speed sample.
    pub fn ran(&self, took: Duration) {
        if let Some(l) = &self.lease {
            l.ran(took);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Unlock first, so that the waiter we wake finds the slot free.
        drop(self.lock.take());
        for q in &self.wake {
            let _ = q.wake_first(None);
        }
    }
}

/// The CPUs this process may run on (its affinity mask, which is what `nproc` prints).
pub fn online_cpus() -> u32 {
    // SAFETY: all-zero bytes are a valid empty `cpu_set_t`; the call fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `set` is a valid, writable set of the size given.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        // SAFETY: plain sysconf query.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        return u32::try_from(n).unwrap_or(1).max(1);
    }
    // SAFETY: `set` was filled by the kernel above.
    u32::try_from(unsafe { libc::CPU_COUNT(&set) })
        .unwrap_or(1)
        .max(1)
}

/// How many local slots may be used when `configured` are asked for on a machine with `cpus`
/// CPUs: at least one, never more than the CPUs (nor 3.4's limit of 50).
pub fn local_limit(configured: u32, cpus: u32) -> u32 {
    configured.min(cpus).clamp(1, MAX_SLOTS)
}

fn lock_path(lock_dir: &Path, stem: &str, n: u32) -> PathBuf {
    lock_dir.join(format!("cpu_{stem}_{n}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What one look at the slots found.
enum Look {
    Took {
        host: usize,
        n: u32,
        lock: FileLock,
        why: String,
        /// Other slots looked free too: the next waiter should look.
        more: bool,
    },
    Wait(String),
}

/// Scans `stems` (each with its slot count): per host the busy count and lowest free slot.
fn view(lock_dir: &Path, hosts: &[(String, u32)]) -> io::Result<Vec<(u32, Option<u32>)>> {
    hosts
        .iter()
        .map(|(stem, slots)| {
            let mut busy = 0;
            let mut free = None;
            for n in 0..(*slots).min(MAX_SLOTS) {
                if os::lock::holder(&lock_path(lock_dir, stem, n))?.is_some() {
                    busy += 1;
                } else if free.is_none() {
                    free = Some(n);
                }
            }
            Ok((busy, free))
        })
        .collect()
}

impl Slots<'_> {
    fn sched_dir(&self) -> PathBuf {
        self.top.join("sched")
    }

    /// Takes a slot on one of `hosts`, waiting in the queue if need be. `on_wait` is called
    /// once if the client has to wait (to note the blocked state).
    pub fn acquire(&self, hosts: &[&Host], on_wait: impl FnOnce()) -> io::Result<Slot> {
        let queue = Queue::open(self.top, "remote")?;
        let mut wake = vec![queue.clone()];
        if hosts.iter().any(|h| h.is_local()) {
            wake.push(Queue::open(self.top, "local")?);
        }
        let stems: Vec<(String, u32)> = hosts
            .iter()
            .map(|h| {
                let slots = if h.is_local() {
                    self.capped(h.slots, "localhost")
                } else {
                    h.slots
                };
                (h.lock_stem(), slots)
            })
            .collect();
        let first_look = std::cell::Cell::new(true);
        let look = |waiting: usize| -> io::Result<Look> {
            let speeds = speed::load(&self.sched_dir(), unix_now());
            let learned = |stem: &str| {
                speeds.get(stem).map(|e| Learned {
                    ms_per_kb: e.ms_per_kb,
                    variance: e.variance,
                    jobs: e.jobs,
                })
            };
            if first_look.replace(false) {
                // The common case: nobody waits and no host is known to be faster than
                // another. The choice is then 3.4's breadth-first order, so try slots in that
                // order and stop at the first free one instead of probing them all.
                let ties: Vec<HostView> = stems
                    .iter()
                    .map(|(stem, slots)| HostView {
                        speed: learned(stem),
                        slots: (*slots).min(MAX_SLOTS),
                        busy: 0,
                        free: Some(0),
                    })
                    .collect();
                if choose::all_tie(&ties)
                    && let Some((host, n, lock)) = self.first_free(&stems)?
                {
                    return Ok(Look::Took {
                        host,
                        n,
                        lock,
                        why: describe(&Why::Free),
                        // Unknown without probing the rest; a spare ring costs one look.
                        more: waiting > 1,
                    });
                }
            }
            let seen = view(self.lock_dir, &stems)?;
            let mut views: Vec<HostView> = stems
                .iter()
                .zip(&seen)
                .map(|((stem, slots), &(busy, free))| HostView {
                    speed: learned(stem),
                    slots: (*slots).min(MAX_SLOTS),
                    busy,
                    free,
                })
                .collect();
            // Clients that looked at the same moment make the same choice; the losers of the
            // race for that slot count it as busy and choose again, as 3.4's search moves on.
            loop {
                match choose::choose(&views, waiting) {
                    Decision::Take { host, n, why } => {
                        let stem = &stems[host].0;
                        if let Some(lock) = FileLock::try_lock(&lock_path(self.lock_dir, stem, n))?
                        {
                            let free_slots: u32 = views.iter().map(|v| v.slots - v.busy).sum();
                            return Ok(Look::Took {
                                host,
                                n,
                                lock,
                                why: describe(&why),
                                more: free_slots > 1,
                            });
                        }
                        let v = &mut views[host];
                        v.busy += 1;
                        v.free = None;
                        for m in n + 1..v.slots {
                            if os::lock::holder(&lock_path(self.lock_dir, stem, m))?.is_none() {
                                v.free = Some(m);
                                break;
                            }
                        }
                    }
                    Decision::Wait(w) => return Ok(Look::Wait(w.to_string())),
                }
            }
        };
        let (host, n, lock) = self.wait_in(&queue, look, on_wait, |host, n, why, w| {
            self.log.info(format_args!(
                "slot {} #{n}: {why}{}",
                hosts[host].spec,
                waited_note(w)
            ))
        })?;
        Ok(Slot {
            host,
            n,
            lock: Some(lock),
            wake,
            lease: None,
        })
    }

    /// Takes one of `slots` local slots (`cpu_localhost_<n>`), the same files for compiling
    /// and preprocessing as in 3.4, waiting in the local queue if need be. `what` names the
    /// use in the log.
    pub fn acquire_local(&self, slots: u32, what: &str) -> io::Result<Slot> {
        let queue = Queue::open(self.top, "local")?;
        // A `localhost` host-list entry waiting in the remote queue is woken by its head's
        // watch on the lock directory; ringing it here for every preprocessor would wake
        // the remote head for nothing.
        let wake = vec![queue.clone()];
        let count = self.capped(slots, what);
        let look = |_waiting: usize| -> io::Result<Look> {
            for n in 0..count {
                if let Some(lock) = FileLock::try_lock(&lock_path(self.lock_dir, "localhost", n))? {
                    return Ok(Look::Took {
                        host: 0,
                        n,
                        lock,
                        why: "free".to_owned(),
                        // Not known without probing the rest; a spare ring costs one look.
                        more: n + 1 < count,
                    });
                }
            }
            Ok(Look::Wait(format!("all {count} local slots are busy")))
        };
        let (_, n, lock) = self.wait_in(
            &queue,
            look,
            || {},
            |_, n, why, w| {
                self.log.debug(format_args!(
                    "local slot #{n} for {what}: {why}{}",
                    waited_note(w)
                ))
            },
        )?;
        Ok(Slot {
            host: 0,
            n,
            lock: Some(lock),
            wake,
            lease: None,
        })
    }

    /// Takes the first free slot in breadth-first order (slot 0 of every host in list order,
    /// then slot 1, …), as 3.4's search does; `None` if every slot is held.
    fn first_free(&self, stems: &[(String, u32)]) -> io::Result<Option<(usize, u32, FileLock)>> {
        let most = stems
            .iter()
            .map(|(_, s)| *s)
            .max()
            .unwrap_or(0)
            .min(MAX_SLOTS);
        for n in 0..most {
            for (host, (stem, slots)) in stems.iter().enumerate() {
                if n < *slots
                    && let Some(lock) = FileLock::try_lock(&lock_path(self.lock_dir, stem, n))?
                {
                    return Ok(Some((host, n, lock)));
                }
            }
        }
        Ok(None)
    }

    /// `configured` local slots capped by [`local_limit`], with a log line when the cap bites.
    fn capped(&self, configured: u32, what: &str) -> u32 {
        let cpus = online_cpus();
        let n = local_limit(configured, cpus);
        if n < configured.min(MAX_SLOTS) {
            self.log.debug(format_args!(
                "local slots for {what}: {n}, not {configured}: this machine has {cpus} CPUs"
            ));
        }
        n
    }

    /// The waiting discipline shared by both kinds of slot. `look(waiting)` tries to take a
    /// slot given the queue length; `took` logs the decision.
    fn wait_in(
        &self,
        queue: &Queue,
        mut look: impl FnMut(usize) -> io::Result<Look>,
        on_wait: impl FnOnce(),
        took: impl Fn(usize, u32, &str, Duration),
    ) -> io::Result<(usize, u32, FileLock)> {
        let started = Instant::now();
        // Nobody waiting: take a slot straight away if one is free. Otherwise join behind
        // the others, even if a slot looks free: it is the first waiter's.
        if queue.is_empty()?
            && let Look::Took {
                host, n, lock, why, ..
            } = look(1)?
        {
            took(host, n, &why, Duration::ZERO);
            return Ok((host, n, lock));
        }
        let place = queue.join()?;
        on_wait();
        let nap = self.pause.clamp(Duration::from_millis(1), MAX_NAP);
        let mut watch: Option<DirWatch> = None;
        let mut last_reason = String::new();
        // Look once right after joining: a slot freed between the look above and the join
        // rang nobody.
        let mut woken = true;
        loop {
            let (ahead, waiting) = queue.position(&place, !woken)?;
            if woken || ahead == 0 {
                match look(waiting)? {
                    Look::Took {
                        host,
                        n,
                        lock,
                        why,
                        more,
                    } => {
                        let rung_meanwhile = place.leave();
                        if more || rung_meanwhile {
                            queue.wake_first(None)?;
                        }
                        let waited = started.elapsed();
                        took(host, n, &why, waited);
                        return Ok((host, n, lock));
                    }
                    Look::Wait(reason) => {
                        if reason != last_reason {
                            self.log.debug(format_args!(
                                "waiting ({reason}); {ahead} ahead of us, {waiting} waiting"
                            ));
                            last_reason = reason;
                        }
                    }
                }
            }
            if ahead == 0 && watch.is_none() {
                // Only the first waiter watches: everyone else is woken in turn.
                watch = DirWatch::new(self.lock_dir).ok();
            }
            let timeout = if ahead == 0 { nap } else { MAX_NAP };
            woken = place.wait(timeout, watch.as_ref())?;
        }
    }

    /// Records a finished remote job in the speed model; failures only cost the lesson.
    pub fn record(&self, host: &Host, elapsed: Duration, bytes: u64) {
        let dir = self.sched_dir();
        let ms = elapsed.as_secs_f64() * 1000.0;
        match std::fs::create_dir_all(&dir)
            .and_then(|_| speed::update(&dir, &host.lock_stem(), ms, bytes, unix_now()))
        {
            Ok(Some(e)) => self.log.debug(format_args!(
                "speed of {}: {ms:.0} ms for {bytes} bytes; now {:.1} ms/KB (sd {:.1}) over {} jobs",
                host.spec,
                e.ms_per_kb,
                e.variance.sqrt(),
                e.jobs
            )),
            Ok(None) => {}
            Err(e) => self.log.debug(format_args!(
                "cannot record the speed of {}: {e}",
                host.spec
            )),
        }
    }
}

fn describe(why: &Why) -> String {
    why.to_string()
}

fn waited_note(waited: Duration) -> String {
    if waited.is_zero() {
        String::new()
    } else {
        format!("; waited {} ms", waited.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_slots_never_exceed_the_cpus() {
        // 3.4's defaults (4 compiles, 8 preprocessors) on two CPUs: two of each.
        assert_eq!(local_limit(4, 2), 2);
        assert_eq!(local_limit(8, 2), 2);
        // Fewer than the CPUs are honoured; zero still allows one.
        assert_eq!(local_limit(3, 16), 3);
        assert_eq!(local_limit(0, 16), 1);
        // 3.4 never looks past slot 50.
        assert_eq!(local_limit(200, 128), MAX_SLOTS);
        assert!(online_cpus() >= 1);
        let n = u32::try_from(std::thread::available_parallelism().unwrap().get()).unwrap();
        assert!(online_cpus() >= n, "affinity {} < {n}", online_cpus());
    }
}
