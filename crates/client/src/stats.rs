//! This user's accumulated client statistics, in `$DISTCC_DIR/stats`: jobs, bytes and time
//! per host, local compiles by reason, fallbacks by reason, backoffs by host and reason.
//! `distcc --show-stats` prints them, `distcc --zero-stats` starts them afresh.
//!
//! One compile notes its events in a process-wide tally (a client process runs one compile)
//! and `flush` folds the tally into the file once, at the end: under `stats.lock` (an fcntl
//! lock held for one read-modify-write of a small file), rewritten in place: no temp file and
//! no rename, which were the most expensive steps of a trivial compile's bookkeeping. Readers
//! take the same lock, so they see the old totals or the new ones; a writer killed mid-write
//! can leave a damaged line, which is dropped, never fatal. A failure to record is logged by
//! the caller and never fails the compile.
//!
//! It leaves to others: deciding what happened (`compile` calls in) and the log.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use os::exit::ExitCode;
use os::wake::BlockingLock;

/// Most distinct labels per kind; later ones are counted as "other" so the file stays small.
const MAX_LABELS: usize = 200;

/// A counter: its kind and label (a host, a reason, or empty).
type Key = (String, String);

/// Counters by (kind, label).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub counts: BTreeMap<Key, u64>,
}

/// Kinds, as written in the file.
pub mod kind {
    /// Unix time of the first record (label empty).
    pub const SINCE: &str = "since";
    pub const COMPILES: &str = "compiles";
    pub const WALL_MS: &str = "wall_ms";
    pub const REMOTE_OK: &str = "remote_ok";
    pub const REMOTE_ERROR: &str = "remote_error";
    pub const REMOTE_MS: &str = "remote_ms";
    pub const SENT: &str = "sent_bytes";
    pub const RECEIVED: &str = "received_bytes";
    pub const LOCAL: &str = "local";
    pub const FALLBACK: &str = "fallback";
    pub const BACKOFF: &str = "backoff";
    pub const SKIPPED: &str = "skipped_backing_off";
    /// Result cache (`cache`): hits by where (`local`, or the daemon's `host`), misses and
    /// not-cacheable compiles by reason, entries stored, bytes of results replayed.
    pub const CACHE_HIT: &str = "cache_hit";
    pub const CACHE_MISS: &str = "cache_miss";
    pub const UNCACHEABLE: &str = "cache_uncacheable";
    pub const CACHE_STORED: &str = "cache_stored";
    pub const CACHE_HIT_BYTES: &str = "cache_hit_bytes";
}

impl Tally {
    pub fn add(&mut self, kind: &str, label: &str, n: u64) {
        let label: String = label
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let distinct = self.counts.keys().filter(|(k, _)| k == kind).count();
        let key = if distinct >= MAX_LABELS
            && !self.counts.contains_key(&(kind.to_owned(), label.clone()))
        {
            (kind.to_owned(), "other".to_owned())
        } else {
            (kind.to_owned(), label)
        };
        let v = self.counts.entry(key).or_insert(0);
        *v = if kind == kind::SINCE && *v != 0 {
            (*v).min(n)
        } else {
            v.saturating_add(n)
        };
    }

    pub fn get(&self, kind: &str, label: &str) -> u64 {
        self.counts
            .get(&(kind.to_owned(), label.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Labels and values of one kind, largest first.
    pub fn of(&self, kind: &str) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .counts
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|((_, l), n)| (l.as_str(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    pub fn merge(&mut self, other: &Tally) {
        for ((k, l), n) in &other.counts {
            self.add(k, l, *n);
        }
    }

    /// `kind<TAB>label<TAB>value` lines; anything else is skipped.
    pub fn parse(text: &str) -> Tally {
        let mut t = Tally::default();
        for line in text.lines() {
            let mut f = line.split('\t');
            if let (Some(k), Some(l), Some(v), None) = (f.next(), f.next(), f.next(), f.next())
                && let Ok(v) = v.parse::<u64>()
                && !k.is_empty()
            {
                t.add(k, l, v);
            }
        }
        t
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        for ((k, l), n) in &self.counts {
            let _ = writeln!(o, "{k}\t{l}\t{n}");
        }
        o
    }
}

static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

fn note(kind: &str, label: &str, n: u64) {
    let mut g = TALLY.lock().unwrap_or_else(|p| p.into_inner());
    g.get_or_insert_with(Tally::default).add(kind, label, n);
}

/// A compile ran here for `reason` (a local-only command line, a fallback, a retry).
pub fn local(reason: &str) {
    note(kind::LOCAL, reason, 1);
}

/// A remote compile on `host` came back: `ok`, or the user's compile error.
pub fn remote(host: &str, ok: bool, sent: u64, received: u64, time: Duration) {
    // A result from the daemon's cache: the source never left (`cache_hit` came first).
    let from_cache = TALLY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|t| t.get(kind::CACHE_HIT, host) > 0);
    let sent = if from_cache { 0 } else { sent };
    note(
        if ok {
            kind::REMOTE_OK
        } else {
            kind::REMOTE_ERROR
        },
        host,
        1,
    );
    note(kind::SENT, host, sent);
    note(kind::RECEIVED, host, received);
    note(kind::REMOTE_MS, host, time.as_millis() as u64);
}

/// `host` failed and was backed off, for a reason of this `code`.
pub fn backoff(host: &str, code: ExitCode) {
    note(kind::BACKOFF, &format!("{host}: {}", reason(code)), 1);
}

/// `host` was skipped because it is backing off.
pub fn skipped(host: &str) {
    note(kind::SKIPPED, host, 1);
}

/// The job fell back to this machine after failing to distribute, for a reason of `code`.
pub fn fallback(code: ExitCode) {
    note(kind::FALLBACK, reason(code), 1);
}

/// A result came from a cache (`local`, or a daemon's spec) instead of a compile. A daemon's
/// hit follows this compile's local miss, which it turns into a hit: misses are results that
/// had to be compiled.
pub fn cache_hit(from: &str, bytes: u64) {
    let mut g = TALLY.lock().unwrap_or_else(|p| p.into_inner());
    let t = g.get_or_insert_with(Tally::default);
    if from != "local" {
        let miss = (kind::CACHE_MISS.to_owned(), MISS_NOT_STORED.to_owned());
        if let Some(n) = t.counts.get_mut(&miss) {
            *n -= 1;
            if *n == 0 {
                t.counts.remove(&miss);
            }
        }
    }
    t.add(kind::CACHE_HIT, from, 1);
    t.add(kind::CACHE_HIT_BYTES, "", bytes);
}

/// The miss reason of a key with no entry (`cache`).
pub const MISS_NOT_STORED: &str = "not in the cache";

/// A cacheable compile found nothing usable, for `reason`.
pub fn cache_miss(reason: &str) {
    note(kind::CACHE_MISS, reason, 1);
}

/// A compile the cache may not keep, for `reason`.
pub fn uncacheable(reason: &str) {
    note(kind::UNCACHEABLE, reason, 1);
}

/// A result was stored in the local cache.
pub fn cache_stored() {
    note(kind::CACHE_STORED, "", 1);
}

/// A short reason for a distcc failure code.
pub fn reason(code: ExitCode) -> &'static str {
    match code {
        ExitCode::ConnectFailed => "connect failed",
        ExitCode::Timeout => "timeout",
        ExitCode::IoError => "i/o error",
        ExitCode::Truncated | ExitCode::ProtocolError => "no answer or a bad one",
        ExitCode::CompilerCrashed => "the server failed",
        ExitCode::NoHosts => "no host available",
        ExitCode::Busy => "busy",
        ExitCode::AccessDenied => "access denied",
        ExitCode::CompilerMissing => "the host lacks this compiler",
        ExitCode::BadArguments => "the server refused the request",
        _ => "other failure",
    }
}

/// Where the totals live.
pub fn path(top: &Path) -> PathBuf {
    top.join("stats")
}

fn lock(top: &Path) -> io::Result<BlockingLock> {
    BlockingLock::acquire(&top.join("stats.lock"))
}

/// Folds this process's tally (one compile of `elapsed`) into `$DISTCC_DIR/stats`.
pub fn flush(top: &Path, elapsed: Duration) -> io::Result<()> {
    let mine = {
        let mut g = TALLY.lock().unwrap_or_else(|p| p.into_inner());
        let mut t = g.take().unwrap_or_default();
        t.add(kind::COMPILES, "", 1);
        t.add(kind::WALL_MS, "", elapsed.as_millis() as u64);
        t
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _held = lock(top)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path(top))?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let mut total = Tally::parse(&text);
    if total.get(kind::SINCE, "") == 0 {
        total.add(kind::SINCE, "", now);
    }
    total.merge(&mine);
    let bytes = total.render();
    file.write_all_at(bytes.as_bytes(), 0)?;
    file.set_len(bytes.len() as u64)
}

/// The totals so far (empty when nothing was recorded).
pub fn read(top: &Path) -> io::Result<Tally> {
    // Without DISTCC_DIR (nothing recorded yet) or in a read-only one, read without the lock.
    let _held = lock(top).ok();
    match std::fs::read_to_string(path(top)) {
        Ok(t) => Ok(Tally::parse(&t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Tally::default()),
        Err(e) => Err(e),
    }
}

/// Starts the totals afresh.
pub fn zero(top: &Path) -> io::Result<()> {
    std::fs::create_dir_all(top)?;
    let _held = lock(top)?;
    match std::fs::remove_file(path(top)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn ms(n: u64) -> String {
    format!("{:.1} s", n as f64 / 1000.0)
}

pub fn size(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut v, mut i) = (n as f64, 0);
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// The text of `--show-stats`.
pub fn show(t: &Tally, top: &Path) -> String {
    let mut o = String::new();
    let since = t.get(kind::SINCE, "");
    let _ = writeln!(o, "distcc statistics in {}", path(top).display());
    if since == 0 {
        o.push_str("nothing recorded yet\n");
        return o;
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = writeln!(
        o,
        "recorded over the last {:.1} h (since unix time {since})",
        now.saturating_sub(since) as f64 / 3600.0
    );
    let compiles = t.get(kind::COMPILES, "");
    let sum = |k: &str| t.of(k).iter().map(|(_, n)| n).sum::<u64>();
    let _ = writeln!(
        o,
        "compiles            {compiles:>8}   time {}",
        ms(t.get(kind::WALL_MS, ""))
    );
    let _ = writeln!(o, "  remote, ok        {:>8}", sum(kind::REMOTE_OK));
    let _ = writeln!(o, "  remote, error     {:>8}", sum(kind::REMOTE_ERROR));
    let _ = writeln!(o, "  local             {:>8}", sum(kind::LOCAL));
    let hits = sum(kind::CACHE_HIT);
    let misses = sum(kind::CACHE_MISS);
    if hits + misses + sum(kind::UNCACHEABLE) > 0 {
        let _ = writeln!(
            o,
            "  from the cache    {hits:>8}   local {}, daemons {}",
            t.get(kind::CACHE_HIT, "local"),
            hits - t.get(kind::CACHE_HIT, "local")
        );
        let _ = writeln!(
            o,
            "cache misses        {misses:>8}   stored {}, hit rate {:.1} %",
            t.get(kind::CACHE_STORED, ""),
            if hits + misses == 0 {
                0.0
            } else {
                100.0 * hits as f64 / (hits + misses) as f64
            }
        );
        let _ = writeln!(o, "  not cacheable     {:>8}", sum(kind::UNCACHEABLE));
        let _ = writeln!(
            o,
            "bytes of results from the cache {}",
            size(t.get(kind::CACHE_HIT_BYTES, ""))
        );
    }
    let _ = writeln!(
        o,
        "bytes sent {}, received {}",
        size(sum(kind::SENT)),
        size(sum(kind::RECEIVED))
    );
    let mut hosts: Vec<&str> = [kind::REMOTE_OK, kind::REMOTE_ERROR, kind::SENT]
        .iter()
        .flat_map(|k| t.of(k).into_iter().map(|(h, _)| h))
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    if !hosts.is_empty() {
        let _ = writeln!(
            o,
            "\nper host                         ok   error        sent    received        time"
        );
        for h in hosts {
            let _ = writeln!(
                o,
                "  {h:<28} {:>6} {:>7} {:>11} {:>11} {:>11}",
                t.get(kind::REMOTE_OK, h),
                t.get(kind::REMOTE_ERROR, h),
                size(t.get(kind::SENT, h)),
                size(t.get(kind::RECEIVED, h)),
                ms(t.get(kind::REMOTE_MS, h)),
            );
        }
    }
    for (title, k) in [
        ("local compiles by reason", kind::LOCAL),
        ("fallbacks to local by reason", kind::FALLBACK),
        ("backoffs by host and reason", kind::BACKOFF),
        ("hosts skipped while backing off", kind::SKIPPED),
        ("cache hits by source", kind::CACHE_HIT),
        ("cache misses by reason", kind::CACHE_MISS),
        ("not cacheable by reason", kind::UNCACHEABLE),
    ] {
        let rows = t.of(k);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{title}");
        for (label, n) in rows {
            let _ = writeln!(o, "  {n:>8}  {label}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_parse_merge_and_render() {
        let mut a = Tally::default();
        a.add(kind::REMOTE_OK, "h1:3632/4", 2);
        a.add(kind::LOCAL, "not a\tcompile\n", 1);
        a.add(kind::SINCE, "", 100);
        let text = a.render();
        assert!(text.contains("local\tnot a compile \t1\n"), "{text}");
        let mut b = Tally::parse(&format!("{text}garbage\nx\ty\tnotanumber\n\tq\t3\n"));
        assert_eq!(b, a);
        b.add(kind::SINCE, "", 50);
        b.merge(&a);
        assert_eq!(b.get(kind::REMOTE_OK, "h1:3632/4"), 4);
        // The first record's time is kept, whatever the order of merging.
        assert_eq!(b.get(kind::SINCE, ""), 50);
    }

    #[test]
    fn labels_are_capped() {
        let mut t = Tally::default();
        for i in 0..(MAX_LABELS + 5) {
            t.add(kind::LOCAL, &format!("reason {i}"), 1);
        }
        assert_eq!(t.get(kind::LOCAL, "other"), 5);
    }

    #[test]
    fn flush_accumulates_and_zero_clears() {
        let dir = std::env::temp_dir().join(format!("distcc-stats-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        remote("h:1/2", true, 1000, 500, Duration::from_millis(30));
        flush(&dir, Duration::from_millis(40)).unwrap();
        local("not a compile");
        fallback(ExitCode::ConnectFailed);
        backoff("h:1/2", ExitCode::ConnectFailed);
        flush(&dir, Duration::from_millis(10)).unwrap();
        let t = read(&dir).unwrap();
        assert_eq!(t.get(kind::COMPILES, ""), 2);
        assert_eq!(t.get(kind::WALL_MS, ""), 50);
        assert_eq!(t.get(kind::REMOTE_OK, "h:1/2"), 1);
        assert_eq!(t.get(kind::SENT, "h:1/2"), 1000);
        assert_eq!(t.get(kind::FALLBACK, "connect failed"), 1);
        assert_eq!(t.get(kind::BACKOFF, "h:1/2: connect failed"), 1);
        let shown = show(&t, &dir);
        assert!(shown.contains("compiles                   2"), "{shown}");
        assert!(shown.contains("h:1/2"), "{shown}");
        assert!(shown.contains("connect failed"), "{shown}");
        zero(&dir).unwrap();
        assert_eq!(read(&dir).unwrap(), Tally::default());
        assert!(show(&Tally::default(), &dir).contains("nothing recorded yet"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
