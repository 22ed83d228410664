//! SRV answers kept under `$DISTCC_DIR/srv/` for their TTL, so that a build of a thousand
//! files asks the name server once per TTL, not once per file. One file per name:
//!
//! ```text
//! expires <unix seconds>
//! <address> <port>[ <slots>]
//! …
//! ```
//! A fresh file is used as it is. An expired or missing one is refreshed by one process at
//! a time (an fcntl lock on `<file>.lock`, as the slot locks); the others meanwhile use the
//! expired answer, or, when there is none yet, wait for the refresher's file (at most the
//! lookup's own time) and then ask themselves. An answer that cannot be refreshed (the name
//! server is down) keeps being used, expired, as 3.4 keeps using its zeroconf file.
//! The file is written under a temp name and renamed, so readers never see half of it.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::LookupError;
use crate::srv::{Found, Target};

/// Answers are kept at most this long, whatever their TTL says.
pub const MAX_TTL: u32 = 3600;
const MAX_FILE: u64 = 64 * 1024;

/// How the answer was obtained, for the client's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// From the cache, within its TTL.
    Cached,
    /// Asked now.
    Asked,
    /// Expired, kept because another process is refreshing it.
    ExpiredBusy,
    /// Expired, kept because the lookup failed (the error is returned beside it).
    ExpiredFailed,
}

/// The cache file of `name` in `dir`: only `[A-Za-z0-9._-]`, others become `%`.
pub fn file_of(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .trim_end_matches('.')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c.to_ascii_lowercase()
            } else {
                '%'
            }
        })
        .collect();
    dir.join(format!("srv_{safe}"))
}

/// Parses a cache file; `None` when it is not one.
pub fn decode(text: &str) -> Option<(u64, Vec<Target>)> {
    let mut lines = text.lines();
    let expires = lines.next()?.strip_prefix("expires ")?.parse().ok()?;
    let mut targets = Vec::new();
    for line in lines {
        let mut words = line.split(' ');
        let (addr, port) = (words.next()?, words.next()?);
        let slots = match words.next() {
            Some(n) => Some(n.parse().ok().filter(|&n| n > 0)?),
            None => None,
        };
        if words.next().is_some() {
            return None;
        }
        targets.push(Target {
            addr: addr.parse::<IpAddr>().ok()?,
            port: port.parse().ok().filter(|&p| p != 0)?,
            slots,
        });
    }
    Some((expires, targets))
}

pub fn encode(expires: u64, targets: &[Target]) -> String {
    let mut s = format!("expires {expires}\n");
    for t in targets {
        match t.slots {
            Some(n) => s.push_str(&format!("{} {} {n}\n", t.addr, t.port)),
            None => s.push_str(&format!("{} {}\n", t.addr, t.port)),
        }
    }
    s
}

fn read(path: &Path) -> Option<(u64, Vec<Target>)> {
    let f = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_FILE), &mut text).ok()?;
    decode(&text)
}

fn write(path: &Path, expires: u64, targets: &[Target]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(encode(expires, targets).as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The targets of `name`, from the cache in `dir` (created if missing) or from `ask`.
/// Returns the targets, how they were obtained, and the lookup error when an expired answer
/// stood in for a failed one.
pub fn lookup(
    dir: &Path,
    name: &str,
    now: SystemTime,
    ask: impl FnOnce() -> Result<Found, LookupError>,
) -> Result<(Vec<Target>, Freshness, Option<LookupError>), LookupError> {
    let path = file_of(dir, name);
    let old = read(&path);
    if let Some((expires, targets)) = &old
        && *expires > secs(now)
    {
        return Ok((targets.clone(), Freshness::Cached, None));
    }
    let _ = std::fs::create_dir_all(dir);
    let lock_path = path.with_extension("lock");
    let lock = os::lock::FileLock::try_lock(&lock_path).ok().flatten();
    if lock.is_none() {
        if let Some((_, targets)) = old {
            return Ok((targets, Freshness::ExpiredBusy, None));
        }
        // Someone else is asking for the first time: wait for their answer a little.
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            if let Some((_, targets)) = read(&path) {
                return Ok((targets, Freshness::Cached, None));
            }
        }
    }
    match ask() {
        Ok(found) => {
            let expires = secs(now) + u64::from(found.ttl.min(MAX_TTL));
            // A cache that cannot be written costs a lookup next time, nothing else.
            let _ = write(&path, expires, &found.targets);
            Ok((found.targets, Freshness::Asked, None))
        }
        Err(e) => match old {
            Some((_, targets)) => Ok((targets, Freshness::ExpiredFailed, Some(e))),
            None => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(a: &str, port: u16) -> Target {
        Target {
            addr: a.parse().unwrap(),
            port,
            slots: None,
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dcc-srv-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn file_round_trips_and_rejects_junk() {
        let mut ts = vec![t("10.0.0.1", 3632), t("::1", 4000)];
        ts[1].slots = Some(6);
        assert_eq!(decode(&encode(99, &ts)), Some((99, ts)));
        assert_eq!(decode("expires x\n"), None);
        assert_eq!(decode("expires 1\n10.0.0.1 0\n"), None);
        assert_eq!(decode("expires 1\nhost 1\n"), None);
        assert_eq!(
            file_of(Path::new("/d"), "_distcc._TCP.a/b."),
            Path::new("/d/srv__distcc._tcp.a%b")
        );
    }

    #[test]
    fn fresh_answers_are_reused_until_their_ttl_ends() {
        let d = dir("ttl");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let found = |port| {
            move || {
                Ok(Found {
                    targets: vec![t("10.0.0.1", port)],
                    ttl: 5,
                })
            }
        };
        let (a, how, _) = lookup(&d, "_d._tcp.x", t0, found(1)).unwrap();
        assert_eq!((a, how), (vec![t("10.0.0.1", 1)], Freshness::Asked));
        let (a, how, _) = lookup(&d, "_d._tcp.x", t0 + Duration::from_secs(4), found(2)).unwrap();
        assert_eq!((a, how), (vec![t("10.0.0.1", 1)], Freshness::Cached));
        let (a, how, _) = lookup(&d, "_d._tcp.x", t0 + Duration::from_secs(5), found(3)).unwrap();
        assert_eq!((a, how), (vec![t("10.0.0.1", 3)], Freshness::Asked));
        // The server goes away: the expired answer stands in, with the error.
        let (a, how, e) = lookup(&d, "_d._tcp.x", t0 + Duration::from_secs(99), || {
            Err(LookupError::NoServer)
        })
        .unwrap();
        assert_eq!((a, how), (vec![t("10.0.0.1", 3)], Freshness::ExpiredFailed));
        assert!(e.is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn no_answer_and_no_cache_is_an_error() {
        let d = dir("none");
        assert!(
            lookup(&d, "_d._tcp.y", SystemTime::now(), || Err(
                LookupError::NoServer
            ))
            .is_err()
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
