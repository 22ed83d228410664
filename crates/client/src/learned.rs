//! What the client learned about each host from our daemon's advertisement (docs/protocol-4.md):
//! `$DISTCC_DIR/adverts/<lock stem>` holds the trailer's `key=value` lines as the daemon sent
//! them, written atomically (a temporary file renamed over it), trusted for [`FRESH`] after
//! its mtime. A host remembered as `protocol=4` gets protocol 4 (unless `DISTCC_PROTOCOL`
//! says less); a failed protocol 4 attempt before any reply header forgets the file.
//!
//! Beside it, `<lock stem>.skip-<key>` (empty; its mtime counts, for [`FRESH`] too) marks a
//! host that answered `RSLT 3xx` for the compiler identity whose hash is `<key>`: the host is
//! skipped for that compiler only.
//!
//! (Not `$DISTCC_DIR/hosts/`: that name is 3.4's host list file.) Every failure to read or
//! write here only means "learn next time"; nothing fails a compile.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proto::advert::{self, Advert};

use crate::hosts::Host;

/// How long what a host advertised is trusted.
pub const FRESH: Duration = Duration::from_secs(24 * 60 * 60);

/// How old the memory may get before a protocol 4 reply renews its mtime.
const RENEW: Duration = Duration::from_secs(60 * 60);

fn dir(top: &Path) -> PathBuf {
    top.join("adverts")
}

/// The file of `host`'s advertisement.
pub fn path(top: &Path, host: &Host) -> PathBuf {
    dir(top).join(host.lock_stem())
}

fn age(p: &Path, now: SystemTime) -> Option<Duration> {
    let mtime = std::fs::metadata(p).ok()?.modified().ok()?;
    // A file from the future (clock skew) counts as new.
    Some(now.duration_since(mtime).unwrap_or_default())
}

/// What `host` advertised within the last [`FRESH`], if anything.
pub fn load(top: &Path, host: &Host, now: SystemTime) -> Option<Advert> {
    let p = path(top, host);
    if age(&p, now)? >= FRESH {
        return None;
    }
    let text = std::fs::read(&p).ok()?;
    let mut framed = Vec::with_capacity(text.len() + 12);
    proto::encode_header(&mut framed, advert::ADVT, u32::try_from(text.len()).ok()?);
    framed.extend_from_slice(&text);
    advert::parse(&framed).ok().flatten()
}

/// True when `host` is remembered as speaking protocol 4 or later.
pub fn speaks_v4(top: &Path, host: &Host, now: SystemTime) -> bool {
    load(top, host, now)
        .and_then(|a| a.protocol())
        .is_some_and(|p| p >= 4)
}

/// Remembers what `host` advertised, atomically. Skips the write when the file already says
/// the same and is younger than an hour (a job costs no write).
pub fn store(top: &Path, host: &Host, advert: &Advert, now: SystemTime) {
    if load(top, host, now).as_ref() == Some(advert)
        && age(&path(top, host), now).is_some_and(|a| a < RENEW)
    {
        return;
    }
    let mut framed = Vec::new();
    advert::encode(&mut framed, advert);
    let _ = write_atomically(&path(top, host), &framed[proto::HEADER_LEN..]);
}

/// A protocol 4 reply came: the memory is renewed if it is older than an hour.
pub fn renew(top: &Path, host: &Host, now: SystemTime) {
    let p = path(top, host);
    if age(&p, now).is_some_and(|a| a >= RENEW)
        && let Ok(f) = std::fs::File::options().append(true).open(&p)
    {
        let _ = f.set_modified(now);
    }
}

/// Forgets what `host` advertised (a 3.4 daemon took its place).
pub fn forget(top: &Path, host: &Host) {
    let _ = std::fs::remove_file(path(top, host));
}

fn skip_path(top: &Path, host: &Host, identity: &[u8]) -> PathBuf {
    dir(top).join(format!(
        "{}.skip-{:016x}",
        host.lock_stem(),
        fnv1a(identity)
    ))
}

/// Marks `host` as lacking the compiler `identity` (`RSLT 3xx`).
pub fn skip(top: &Path, host: &Host, identity: &[u8]) {
    let _ = write_atomically(&skip_path(top, host, identity), b"");
}

/// True when `host` lacked the compiler `identity` within the last [`FRESH`].
pub fn skipped(top: &Path, host: &Host, identity: &[u8], now: SystemTime) -> bool {
    age(&skip_path(top, host, identity), now).is_some_and(|a| a < FRESH)
}

fn write_atomically(p: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let d = p.parent().expect("a file under adverts/");
    std::fs::create_dir_all(d)?;
    let tmp = d.join(format!(
        ".{}.{}",
        p.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    let written = f.write_all(bytes).and_then(|()| std::fs::rename(&tmp, p));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// FNV-1a, 64 bits: a short, stable file name for a compiler identity (no security role).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(spec: &str) -> Host {
        crate::hosts::parse(spec, "test").unwrap().hosts.remove(0)
    }

    fn advert(p: &str) -> Advert {
        Advert {
            entries: vec![("protocol".into(), p.into())],
        }
    }

    #[test]
    fn remembers_forgets_and_expires() {
        let tmp = os::tempdir::TempDir::new("learned_").unwrap();
        let top = tmp.path();
        let h = host("127.0.0.1:3632");
        let now = SystemTime::now();
        assert!(!speaks_v4(top, &h, now));
        store(top, &h, &advert("4"), now);
        assert_eq!(
            std::fs::read_to_string(top.join("adverts/tcp_127.0.0.1_3632")).unwrap(),
            "protocol=4\n"
        );
        assert!(speaks_v4(top, &h, now));
        assert!(
            !speaks_v4(top, &h, now + FRESH + Duration::from_secs(5)),
            "stale after 24 h"
        );
        assert!(!speaks_v4(top, &host("127.0.0.1:3633"), now));
        store(top, &h, &advert("3"), now);
        assert!(!speaks_v4(top, &h, now));
        store(top, &h, &advert("4"), now);
        forget(top, &h);
        assert!(!speaks_v4(top, &h, now));
        // Garbage in the file is "nothing learned".
        std::fs::write(path(top, &h), "protocol\n").unwrap();
        assert!(load(top, &h, now).is_none());
    }

    #[test]
    fn skips_are_per_compiler_identity() {
        let tmp = os::tempdir::TempDir::new("learned_").unwrap();
        let top = tmp.path();
        let h = host("127.0.0.1:3632");
        let now = SystemTime::now();
        skip(top, &h, b"target=x\nversion=12\n");
        assert!(skipped(top, &h, b"target=x\nversion=12\n", now));
        assert!(!skipped(top, &h, b"target=x\nversion=14\n", now));
        assert!(!skipped(
            top,
            &host("other:3632"),
            b"target=x\nversion=12\n",
            now
        ));
        assert!(!skipped(
            top,
            &h,
            b"target=x\nversion=12\n",
            now + FRESH + Duration::from_secs(5)
        ));
    }
}
