//! The choice of a slot, as a pure function of what the client sees: per host, its learned
//! speed, how many of its slots are taken and which is the lowest free one; and how many
//! clients wait in the queue. No clock, no files: the caller gathers the view (`slots.rs`).
//!
//! The rule, in the words of a single queue with many servers:
//! - Among free slots, the fastest host wins; hosts within [`TIE`] of it count as equally
//!   fast, and among those the least loaded (lowest free slot number, then host-list order)
//!   wins, which is 3.4's breadth-first spread.
//! - A host counts as slower than a busy one when its estimate is at least [`SLOWER`] times
//!   as high and the difference is [`CONFIDENCE`] standard errors or more (each host's
//!   estimate has a standard error from its sample variance and job count): equal hosts
//!   whose first jobs happened to be long must not look slow, or they would be left idle.
//!   A slower free slot is taken only when it helps: when its job would finish before the
//!   queue behind the faster hosts drains, i.e. `est ≤ queue / R + est_fastest`, where `R` is
//!   the rate at which the faster slots complete jobs (slots / estimate, summed) and `queue`
//!   counts the waiting clients including this one. A long queue (`make -j` far above the slot
//!   count) therefore uses slow hosts; the last jobs of a build, with few waiters, never go to
//!   a slow host to become its tail.
//! - Hosts without enough history are assumed to be as fast as the fastest known one, so a
//!   new host is tried and learned. All estimates are for the same job, so the job's size
//!   cancels out and the model's milliseconds per KB are compared directly.

use std::fmt;

/// Hosts this close in speed are treated as equally fast.
pub const TIE: f64 = 1.15;
/// A host counts as slower than another only from this ratio on: estimates of equal hosts
/// differ by chance (job lengths vary), and waiting for a host that is not really faster
/// leaves a slot idle.
pub const SLOWER: f64 = 1.6;
/// Fewer jobs than this and a host's estimate is not trusted to call it slow.
pub const MIN_JOBS: u32 = 4;
/// How many standard errors apart two estimates must be for one host to count as slower.
pub const CONFIDENCE: f64 = 2.5;
/// The number of jobs an estimate rests on at most: the speed model forgets at a rate of
/// one tenth per job, which is worth about 19 independent samples.
const EFFECTIVE_JOBS: u32 = 19;
/// The spread assumed at least, as a fraction of the larger of the two means compared: a few
/// jobs that happened to be short and alike must not make a host look precisely fast
/// (compile times per KB vary by file).
const MIN_SPREAD: f64 = 0.5;

/// A host's learned speed (`speed::Entry`, without the bookkeeping).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    pub ms_per_kb: f64,
    pub variance: f64,
    pub jobs: u32,
}

/// One host as the client sees it right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostView {
    /// `None` if never seen.
    pub speed: Option<Learned>,
    pub slots: u32,
    /// Slots held by any client (ours or 3.4's).
    pub busy: u32,
    /// The lowest free slot number, if any is free.
    pub free: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Take { host: usize, n: u32, why: Why },
    Wait(Waiting),
}

/// Why a free slot was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// Free, and no free or busy host is known to be faster.
    Free,
    /// The fastest of several free hosts; `next` is the best estimate passed over.
    Fastest { est: f64, next: f64 },
    /// Slower than a busy host, but the queue is long enough that waiting would be later.
    SlowHelps {
        est: f64,
        faster: f64,
        wait: f64,
        queue: usize,
    },
}

/// Why nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Waiting {
    AllBusy,
    /// Only slower hosts are free and a faster slot is expected soon enough.
    FasterSoon {
        host: usize,
        est: f64,
        faster: f64,
        wait: f64,
        queue: usize,
    },
}

/// The estimates used for choosing, with their sample variance and weight: learned, or
/// optimistic with no weight when there is too little history.
fn estimates(hosts: &[HostView]) -> (Vec<f64>, Vec<(f64, f64)>) {
    let best_known = hosts
        .iter()
        .filter_map(|h| h.speed.map(|l| l.ms_per_kb))
        .fold(f64::INFINITY, f64::min);
    let optimistic = if best_known.is_finite() {
        best_known
    } else {
        1.0
    };
    hosts
        .iter()
        .map(|h| match h.speed.filter(|l| l.jobs >= MIN_JOBS) {
            Some(l) => (
                l.ms_per_kb.max(f64::MIN_POSITIVE),
                (l.variance, f64::from(l.jobs.min(EFFECTIVE_JOBS))),
            ),
            None => (optimistic, (0.0, 0.0)),
        })
        .unzip()
}

/// True when every host counts as equally fast (all estimates within [`TIE`] of the lowest):
/// then `choose` takes the lowest free slot number, then the first in list order, whatever
/// the queue, which is 3.4's breadth-first search. The caller can then try slots in that
/// order without probing every one of them first. Only `speed` is read.
pub fn all_tie(hosts: &[HostView]) -> bool {
    let (est, _) = estimates(hosts);
    let lo = est.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = est.iter().copied().fold(0.0, f64::max);
    hi <= lo * TIE
}

/// Picks a slot, or says why to wait. `queue` counts the waiting clients, this one included
/// (at least 1).
pub fn choose(hosts: &[HostView], queue: usize) -> Decision {
    let (est, spread) = estimates(hosts);
    // The standard error of host i's estimate when compared with a mean of `m`.
    let se = |i: usize, m: f64| {
        let (var, n) = spread[i];
        (var.max((MIN_SPREAD * m).powi(2)) / n).sqrt()
    };
    let free: Vec<usize> = (0..hosts.len())
        .filter(|&i| hosts[i].free.is_some())
        .collect();
    let Some(&fastest_free) = free.iter().min_by(|&&a, &&b| est[a].total_cmp(&est[b])) else {
        return Decision::Wait(Waiting::AllBusy);
    };
    let best = est[fastest_free];
    // Equally fast candidates: spread like 3.4, lowest slot number first, then list order.
    let &pick = free
        .iter()
        .filter(|&&i| est[i] <= best * TIE)
        .min_by_key(|&&i| (hosts[i].free, i))
        .expect("the fastest free host is in its own tie group");
    let n = hosts[pick].free.expect("only free hosts are candidates");
    let e = est[pick];
    // Busy hosts clearly faster than the pick.
    let faster: Vec<usize> = (0..hosts.len())
        .filter(|&i| {
            hosts[i].slots > 0
                && est[i] * SLOWER <= e
                && e - est[i] >= CONFIDENCE * se(i, e).hypot(se(pick, e))
        })
        .collect();
    if faster.is_empty() {
        let next = free
            .iter()
            .filter(|&&i| est[i] > best * TIE)
            .map(|&i| est[i])
            .fold(f64::INFINITY, f64::min);
        let why = if next.is_finite() {
            Why::Fastest { est: e, next }
        } else {
            Why::Free
        };
        return Decision::Take { host: pick, n, why };
    }
    let rate: f64 = faster
        .iter()
        .map(|&i| f64::from(hosts[i].slots) / est[i])
        .sum();
    let quickest = faster.iter().map(|&i| est[i]).fold(f64::INFINITY, f64::min);
    let queue = queue.max(1);
    let wait = queue as f64 / rate;
    if e <= wait + quickest {
        Decision::Take {
            host: pick,
            n,
            why: Why::SlowHelps {
                est: e,
                faster: quickest,
                wait,
                queue,
            },
        }
    } else {
        Decision::Wait(Waiting::FasterSoon {
            host: pick,
            est: e,
            faster: quickest,
            wait,
            queue,
        })
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Why::Free => write!(f, "free"),
            Why::Fastest { est, next } => write!(
                f,
                "faster: {est:.1} ms/KB against {next:.1} for the next free host"
            ),
            Why::SlowHelps {
                est,
                faster,
                wait,
                queue,
            } => write!(
                f,
                "slower ({est:.1} ms/KB against {faster:.1}) but {queue} waiting clients would \
                 wait {wait:.1} ms/KB for the faster slots"
            ),
        }
    }
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Waiting::AllBusy => write!(f, "every slot is busy"),
            Waiting::FasterSoon {
                est,
                faster,
                wait,
                queue,
                ..
            } => write!(
                f,
                "only slower hosts are free ({est:.1} ms/KB against {faster:.1}); with {queue} \
                 waiting a faster slot comes sooner ({wait:.1} ms/KB)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host known from ten jobs with a small spread.
    fn h(speed: Option<f64>, slots: u32, busy: u32) -> HostView {
        HostView {
            speed: speed.map(|e| Learned {
                ms_per_kb: e,
                variance: 0.01 * e * e,
                jobs: 10,
            }),
            slots,
            busy,
            free: (busy < slots).then_some(busy),
        }
    }

    #[test]
    fn nothing_free_waits() {
        let hosts = [h(Some(1.0), 2, 2), h(None, 4, 4)];
        assert_eq!(choose(&hosts, 1), Decision::Wait(Waiting::AllBusy));
        assert_eq!(choose(&[], 1), Decision::Wait(Waiting::AllBusy));
    }

    #[test]
    fn unknown_hosts_spread_breadth_first_like_3_4() {
        let hosts = [h(None, 4, 1), h(None, 4, 0), h(None, 4, 0)];
        assert_eq!(
            choose(&hosts, 1),
            Decision::Take {
                host: 1,
                n: 0,
                why: Why::Free
            }
        );
    }

    #[test]
    fn the_faster_free_host_wins() {
        let hosts = [h(Some(30.0), 4, 0), h(Some(10.0), 4, 3)];
        assert_eq!(
            choose(&hosts, 1),
            Decision::Take {
                host: 1,
                n: 3,
                why: Why::Fastest {
                    est: 10.0,
                    next: 30.0
                }
            }
        );
        // Within the tie margin, load decides.
        let hosts = [h(Some(11.0), 4, 0), h(Some(10.0), 4, 3)];
        assert!(matches!(
            choose(&hosts, 1),
            Decision::Take {
                host: 0,
                n: 0,
                why: Why::Free
            }
        ));
    }

    #[test]
    fn a_slow_host_waits_for_a_short_queue_and_helps_a_long_one() {
        // 4 fast hosts x 4 slots at 10 ms/KB (busy), one slow host at 30 free.
        let mut hosts = vec![h(Some(30.0), 4, 0)];
        hosts.extend((0..4).map(|_| h(Some(10.0), 4, 4)));
        // Fast slots finish 16 / 10 = 1.6 jobs per ms/KB: a queue of q waits q / 1.6.
        match choose(&hosts, 1) {
            Decision::Wait(Waiting::FasterSoon { host: 0, wait, .. }) => {
                assert!((wait - 0.625).abs() < 1e-9)
            }
            d => panic!("{d:?}"),
        }
        // 30 <= q / 1.6 + 10 from q = 32 on.
        assert!(matches!(choose(&hosts, 31), Decision::Wait(_)));
        assert!(matches!(
            choose(&hosts, 32),
            Decision::Take {
                host: 0,
                n: 0,
                why: Why::SlowHelps { queue: 32, .. }
            }
        ));
    }

    #[test]
    fn noise_between_equal_hosts_never_makes_a_slot_wait() {
        let hosts = [h(Some(14.0), 4, 0), h(Some(10.0), 4, 4)];
        assert!(matches!(choose(&hosts, 1), Decision::Take { host: 0, .. }));
    }

    #[test]
    fn little_history_is_not_trusted_to_call_a_host_slow() {
        let mut hosts = [h(Some(10.0), 4, 4), h(Some(100.0), 4, 0)];
        hosts[1].speed.as_mut().unwrap().jobs = MIN_JOBS - 1;
        assert!(matches!(choose(&hosts, 1), Decision::Take { host: 1, .. }));
        hosts[1].speed.as_mut().unwrap().jobs = MIN_JOBS;
        assert!(matches!(choose(&hosts, 1), Decision::Wait(_)));
    }

    #[test]
    fn an_unlucky_host_is_not_called_slow_until_the_difference_is_significant() {
        // Equal hosts, jobs of 50 to 2000 ms (sd ~560): one averages 1500 over many jobs, the
        // other 550 over its first four. Not significant: the free slot is used.
        let learned = |ms: f64, jobs: u32| {
            Some(Learned {
                ms_per_kb: ms,
                variance: 560.0 * 560.0,
                jobs,
            })
        };
        let mut hosts = [h(None, 4, 4), h(None, 4, 0)];
        hosts[0].speed = learned(550.0, 4);
        hosts[1].speed = learned(1500.0, 19);
        assert!(matches!(choose(&hosts, 1), Decision::Take { host: 1, .. }));
        // A host three times slower stands out once both have a few more jobs.
        hosts[0].speed = learned(1000.0, 8);
        hosts[1].speed = learned(3000.0, 8);
        assert!(matches!(choose(&hosts, 1), Decision::Wait(_)));
    }

    #[test]
    fn a_host_with_no_slots_is_never_waited_for() {
        let hosts = [h(Some(30.0), 4, 0), h(Some(1.0), 0, 0)];
        assert!(matches!(choose(&hosts, 1), Decision::Take { host: 0, .. }));
    }

    #[test]
    fn when_all_tie_the_choice_is_breadth_first() {
        let learned = |ms_per_kb| {
            Some(Learned {
                ms_per_kb,
                variance: 1.0,
                jobs: 50,
            })
        };
        let view = |speed, free: Option<u32>| HostView {
            speed,
            slots: 4,
            busy: free.map_or(4, |n| n),
            free,
        };
        // Unknown hosts, and known ones within 15 %: equal.
        for speeds in [[None, None, None], [learned(10.0), None, learned(11.4)]] {
            let hosts: Vec<HostView> = speeds
                .iter()
                .zip([Some(2), Some(1), Some(1)])
                .map(|(&s, f)| view(s, f))
                .collect();
            assert!(all_tie(&hosts));
            for queue in [1, 5, 100] {
                match choose(&hosts, queue) {
                    Decision::Take { host, n, why } => {
                        assert_eq!((host, n, why), (1, 1, Why::Free));
                    }
                    d => panic!("{d:?}"),
                }
            }
        }
        let hosts = [view(learned(10.0), Some(0)), view(learned(12.0), Some(0))];
        assert!(!all_tie(&hosts));
    }
}
