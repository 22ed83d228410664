//! Host speed, learned from completed jobs and kept in `$DISTCC_DIR/sched/speed` so that it
//! survives across builds and is shared by every client using that directory.
//!
//! The figure is milliseconds per KB of preprocessed source (with a 4 KB floor, so that tiny
//! files do not make a host look slow per byte): a running mean for the first ten jobs, then
//! an exponentially weighted one that keeps adapting, with the same weighting for the
//! variance of the samples, so that `choose` can tell a slow host from an unlucky one. The
//! file is one line per host, `<lock stem> <ms per KB> <variance> <jobs> <unix seconds>`,
//! rewritten whole (temp name + rename) under
//! an fcntl lock on `speed.lock`; readers take no lock. A line that does not parse is dropped,
//! so a corrupt file heals on the next write. Which slot to take is `choose`'s business.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use os::wake::BlockingLock;

/// The weight of a new job once a host has ten: recent enough to follow a host that got
/// busier, steady enough that one unusually long job does not make a fast host look slow.
const ALPHA: f64 = 0.1;
/// Sizes below this count as this: fixed costs dominate small compiles.
const MIN_BYTES: u64 = 4096;
/// Entries not updated for this long are forgotten (the host may have been replaced).
const MAX_AGE_SECS: u64 = 30 * 24 * 3600;
/// The file never grows past this many hosts.
const MAX_HOSTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub ms_per_kb: f64,
    /// Of the per-job samples, weighted like the mean.
    pub variance: f64,
    pub jobs: u32,
    pub updated: u64,
}

/// Every host's learned speed, by lock stem (`tcp_<host>_<port>`, `ssh_<host>`, `localhost`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Speeds {
    hosts: BTreeMap<String, Entry>,
}

fn plausible(ms_per_kb: f64) -> bool {
    ms_per_kb.is_finite() && ms_per_kb > 0.0 && ms_per_kb < 1e9
}

impl Speeds {
    /// Parses the file's text; bad lines and implausible values are skipped.
    pub fn parse(text: &str, now: u64) -> Speeds {
        let mut hosts = BTreeMap::new();
        for line in text.lines() {
            let mut f = line.split_ascii_whitespace();
            let (Some(stem), Some(rate), Some(var), Some(jobs), Some(updated), None) =
                (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            let (Ok(ms_per_kb), Ok(variance), Ok(jobs), Ok(updated)) = (
                rate.parse::<f64>(),
                var.parse::<f64>(),
                jobs.parse::<u32>(),
                updated.parse::<u64>(),
            ) else {
                continue;
            };
            let var_ok = variance.is_finite() && variance >= 0.0;
            if !plausible(ms_per_kb)
                || !var_ok
                || jobs == 0
                || now.saturating_sub(updated) > MAX_AGE_SECS
            {
                continue;
            }
            if hosts.len() < MAX_HOSTS {
                hosts.insert(
                    stem.to_owned(),
                    Entry {
                        ms_per_kb,
                        variance,
                        jobs,
                        updated,
                    },
                );
            }
        }
        Speeds { hosts }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for (stem, e) in &self.hosts {
            s.push_str(&format!(
                "{stem} {:.4} {:.4} {} {}\n",
                e.ms_per_kb, e.variance, e.jobs, e.updated
            ));
        }
        s
    }

    pub fn get(&self, stem: &str) -> Option<&Entry> {
        self.hosts.get(stem)
    }

    /// Folds in one job: `ms` from sending the source to reading the reply, `bytes` of
    /// preprocessed source.
    pub fn record(&mut self, stem: &str, ms: f64, bytes: u64, now: u64) {
        let sample = ms / (bytes.max(MIN_BYTES) as f64 / 1024.0);
        if !plausible(sample) || stem.is_empty() || stem.contains(char::is_whitespace) {
            return;
        }
        if !self.hosts.contains_key(stem) && self.hosts.len() >= MAX_HOSTS {
            return;
        }
        let e = self.hosts.entry(stem.to_owned()).or_insert(Entry {
            ms_per_kb: sample,
            variance: 0.0,
            jobs: 0,
            updated: now,
        });
        e.jobs = e.jobs.saturating_add(1).min(1_000_000);
        let w = (1.0 / f64::from(e.jobs)).max(ALPHA);
        // West's weighted update: mean and variance in one pass.
        let diff = sample - e.ms_per_kb;
        let step = w * diff;
        e.ms_per_kb += step;
        e.variance = (1.0 - w) * (e.variance + diff * step);
        e.updated = now;
    }
}

/// Reads `dir/speed`; a missing or unreadable file is an empty model.
pub fn load(dir: &Path, now: u64) -> Speeds {
    match std::fs::read(dir.join("speed")) {
        Ok(bytes) => Speeds::parse(&String::from_utf8_lossy(&bytes), now),
        Err(_) => Speeds::default(),
    }
}

/// Records one job in `dir/speed` (read, fold in, write a temp file, rename), serialised
/// with other clients by a lock on `dir/speed.lock`. Returns the host's new entry.
pub fn update(dir: &Path, stem: &str, ms: f64, bytes: u64, now: u64) -> io::Result<Option<Entry>> {
    let _held = BlockingLock::acquire(&dir.join("speed.lock"))?;
    let mut speeds = load(dir, now);
    speeds.record(stem, ms, bytes, now);
    let tmp = dir.join(format!(".tmp.speed.{}", std::process::id()));
    std::fs::write(&tmp, speeds.render())?;
    std::fs::rename(&tmp, dir.join("speed")).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(speeds.get(stem).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_jobs_average_then_ewma() {
        let mut s = Speeds::default();
        // 4 KB floor: 400 ms for a 1 KB file is 100 ms/KB.
        s.record("tcp_a_1", 400.0, 1024, 10);
        assert_eq!(s.get("tcp_a_1").unwrap().ms_per_kb, 100.0);
        s.record("tcp_a_1", 600.0, 8192, 11);
        // 75 ms/KB: the mean of two.
        assert_eq!(s.get("tcp_a_1").unwrap().ms_per_kb, 87.5);
        // Samples 100 and 75: population variance 156.25.
        assert_eq!(s.get("tcp_a_1").unwrap().variance, 156.25);
        for _ in 0..200 {
            s.record("tcp_a_1", 300.0, 4096, 12);
        }
        let e = s.get("tcp_a_1").unwrap();
        assert!((e.ms_per_kb - 75.0).abs() < 0.01, "{e:?}");
        assert!(e.variance < 0.01, "{e:?}");
        assert_eq!(e.jobs, 202);
        // One outlier moves it by a tenth of the difference only.
        s.record("tcp_a_1", 30000.0, 4096, 13);
        let after = s.get("tcp_a_1").unwrap().ms_per_kb;
        assert!(after < 75.0 + 0.11 * 7425.0 && after > 75.0, "{after}");
    }

    #[test]
    fn round_trip_and_corruption_is_dropped() {
        let mut s = Speeds::default();
        s.record("tcp_a_1", 100.0, 4096, 1000);
        s.record("localhost", 50.0, 4096, 1000);
        let text = s.render();
        assert_eq!(Speeds::parse(&text, 1000), s);
        let bad = format!(
            "{text}garbage\ntcp_b_1 NaN 0 3 1000\ntcp_c_1 -5 0 3 1000\ntcp_d_1 5 0 0 1000\n\
             tcp_e_1 5 0 3\ntcp_f_1 5 0 3 1000 extra\ntcp_g_1 5 -1 3 1000\n\u{0}\u{ff}\n"
        );
        assert_eq!(Speeds::parse(&bad, 1000), s);
        // Entries older than a month are forgotten.
        assert!(
            Speeds::parse(&text, 1000 + MAX_AGE_SECS + 1)
                .get("tcp_a_1")
                .is_none()
        );
        // Names that would break the format are never recorded.
        s.record("bad name", 1.0, 1, 1);
        s.record("", 1.0, 1, 1);
        s.record("tcp_g_1", f64::NAN, 1, 1);
        assert_eq!(Speeds::parse(&s.render(), 1000), s);
    }

    #[test]
    fn update_survives_a_corrupt_file() {
        let dir = std::env::temp_dir().join(format!("distcc-speed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("speed"), b"\xff\xfe not a speed file\n").unwrap();
        update(&dir, "tcp_h_1", 200.0, 4096, 5).unwrap();
        update(&dir, "tcp_h_1", 400.0, 4096, 6).unwrap();
        let s = load(&dir, 6);
        assert_eq!(s.get("tcp_h_1").unwrap().ms_per_kb, 75.0);
        assert_eq!(s.get("tcp_h_1").unwrap().jobs, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
