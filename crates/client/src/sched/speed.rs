//! Host speed, learned from completed jobs and kept in `$DISTCC_DIR/sched/speed` so that it
//! survives across builds and is shared by every client using that directory.
//!
//! The figure is milliseconds per KB of preprocessed source (with a 4 KB floor, so that tiny
//! files do not make a host look slow per byte): a running mean for the first ten jobs, then
//! an exponentially weighted one that keeps adapting, with the same weighting for the
//! variance of the samples, so that `choose` can tell a slow host from an unlucky one. The
//! file is one line per host, `<lock stem> <ms per KB> <variance> <jobs> <unix seconds>`, then
//! a line `#sum <fnv-1a 64 of the bytes before it, hex>`; anything after that line is padding.
//!
//! Every remote job updates the file, so the update is cheap: under an fcntl lock on
//! `speed.lock` the writer reads the file, folds the job in and overwrites it in place with a
//! single `pwrite` (padded with newlines to the old length, so it never needs a truncate). A
//! create-and-rename would cost ~0.2 ms of wall time per job on ext4. Readers take no lock; a
//! read that raced a write can see new bytes followed by old ones, which the checksum rejects
//! (the reader tries once more, then goes on without the model for this decision). The writer
//! reads under the lock, so it needs no checksum: it keeps every line that parses, which also
//! heals a corrupt file. Which slot to take is `choose`'s business.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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
/// Starts the checksum line.
const SUM: &[u8] = b"#sum ";

/// FNV-1a, 64 bits: enough to tell a torn read from a whole one.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bytes before the first checksum line, and whether that line matches them (`None`:
/// no checksum line at all).
fn split_sum(bytes: &[u8]) -> (&[u8], Option<bool>) {
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i + 1);
        let line = &bytes[at..end];
        if let Some(hex) = line.strip_prefix(SUM) {
            let body = &bytes[..at];
            let ok = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u64::from_str_radix(h.trim_end(), 16).ok())
                .is_some_and(|sum| sum == fnv64(body));
            return (body, Some(ok));
        }
        at = end;
    }
    (bytes, None)
}

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

    /// The file's text: one line per host, then the checksum line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (stem, e) in &self.hosts {
            s.push_str(&format!(
                "{stem} {:.4} {:.4} {} {}\n",
                e.ms_per_kb, e.variance, e.jobs, e.updated
            ));
        }
        let sum = fnv64(s.as_bytes());
        s.push_str(&format!("#sum {sum:016x}\n"));
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

/// Reads `dir/speed` without a lock; a missing, unreadable or corrupt file (or one torn twice
/// by writers) is an empty model.
pub fn load(dir: &Path, now: u64) -> Speeds {
    for _ in 0..2 {
        let Ok(bytes) = std::fs::read(dir.join("speed")) else {
            return Speeds::default();
        };
        if let (body, Some(true)) = split_sum(&bytes) {
            return Speeds::parse(&String::from_utf8_lossy(body), now);
        }
    }
    Speeds::default()
}

/// Records one job in `dir/speed` (read, fold in, overwrite in place), serialised with other
/// clients by a lock on `dir/speed.lock`. Returns the host's new entry.
pub fn update(dir: &Path, stem: &str, ms: f64, bytes: u64, now: u64) -> io::Result<Option<Entry>> {
    let _held = BlockingLock::acquire(&dir.join("speed.lock"))?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(dir.join("speed"))?;
    let mut old = Vec::new();
    file.read_to_end(&mut old)?;
    // Under the lock nobody writes meanwhile: every line that parses is kept.
    let (body, _) = split_sum(&old);
    let mut speeds = Speeds::parse(&String::from_utf8_lossy(body), now);
    speeds.record(stem, ms, bytes, now);
    let mut text = speeds.render().into_bytes();
    if text.len() < old.len() {
        text.resize(old.len(), b'\n');
    }
    file.write_all_at(&text, 0)?;
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
    fn a_torn_or_unsummed_file_is_not_read_but_is_healed_by_the_writer() {
        let dir = std::env::temp_dir().join(format!("distcc-speed-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Speeds::default();
        s.record("tcp_a_1", 100.0, 4096, 1000);
        s.record("tcp_b_1", 200.0, 4096, 1000);
        let whole = s.render();
        std::fs::write(dir.join("speed"), &whole).unwrap();
        assert_eq!(load(&dir, 1000), s);
        // New bytes over old ones: a byte changed before the checksum line.
        let torn = whole.replacen("tcp_a_1 ", "tcp_a_2 ", 1);
        std::fs::write(dir.join("speed"), &torn).unwrap();
        assert_eq!(load(&dir, 1000), Speeds::default());
        // The old format (no checksum line) is not trusted by readers either...
        let bare: String = whole
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join("speed"), &bare).unwrap();
        assert_eq!(load(&dir, 1000), Speeds::default());
        // ...but the writer keeps its lines, and a shorter rewrite leaves padding only.
        std::fs::write(dir.join("speed"), format!("{bare}{}", "x".repeat(500))).unwrap();
        update(&dir, "tcp_a_1", 100.0, 4096, 1001).unwrap();
        let after = load(&dir, 1001);
        assert_eq!(after.get("tcp_a_1").unwrap().jobs, 2);
        assert_eq!(after.get("tcp_b_1").unwrap().jobs, 1);
        let raw = std::fs::read(dir.join("speed")).unwrap();
        assert!(raw.len() >= bare.len() + 500);
        assert!(
            !String::from_utf8_lossy(&raw).contains('x'),
            "old bytes are overwritten"
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
