//! What this daemon says about itself after every protocol 1–3 reply (`proto::advert`,
//! docs/protocol-4.md): built here and only here, so every key it may carry is in one place.
//!
//! distcc 3.4's client never reads past the reply, so the trailer changes nothing for it; ours
//! reads it, speaks protocol 4 to this host from then on, and compares `ran=` (the identity of
//! the compiler this job ran) with its own: an object from another compiler is discarded and
//! the job sent again in protocol 4, which finds the client's compiler by identity or refuses.

use proto::advert::{self, Advert};

use crate::serve::ServeConfig;

/// The highest protocol this daemon speaks.
pub const PROTOCOL: u32 = 4;

/// The advertisement for a reply sent under `cfg`. A key added here must be one
/// docs/protocol-4.md lists. `ssh-socket=`: under `--inetd` through ssh, the ssh user's held
/// daemon (`held`). `cache=2`: `--cache-dir`, so protocol 4 requests, plain or pump, may
/// carry a cache key (`FLAG` bit 1; `cache=1`, from earlier versions, plain ones only).
/// `chunks=1`: `--chunk-store` is on, so a plain protocol 4 request may send its source in
/// chunks (`FLAG` bit 2). `ran=`, `ran-target=`, `ran-version=`: the identity, for this job's
/// language, of the compiler this 1–3 job ran (`ran`: omitted when it could not be told).
pub fn advertisement(cfg: &ServeConfig, ran: Option<&identity::Identity>) -> Advert {
    let mut entries = vec![("protocol".to_owned(), PROTOCOL.to_string())];
    if let Some(path) = cfg.ssh_socket.as_ref().and_then(|p| p.to_str()) {
        entries.push(("ssh-socket".to_owned(), path.to_owned()));
    }
    if cfg.cache.is_some() {
        entries.push(("cache".to_owned(), "2".to_owned()));
    }
    if cfg.chunks.is_some() {
        entries.push(("chunks".to_owned(), "1".to_owned()));
    }
    // An identity's values hold no control characters and are at most 255 bytes
    // (`identity::Identity`); a space is allowed in an advertisement's value but is checked
    // anyway, so a probe's odd answer can only drop keys, never the trailer.
    let plain =
        |v: &str| !v.is_empty() && v.len() <= 255 && v.bytes().all(|b| b.is_ascii_graphic());
    if let Some(id) = ran
        && plain(&id.fingerprint)
        && plain(&id.target)
    {
        entries.push(("ran".to_owned(), id.fingerprint.clone()));
        entries.push(("ran-target".to_owned(), id.target.clone()));
        if plain(&id.version) {
            entries.push(("ran-version".to_owned(), id.version.clone()));
        }
    }
    Advert { entries }
}

/// The trailer's bytes: `ADVT <len>` and the `key=value` lines.
pub fn trailer(cfg: &ServeConfig, ran: Option<&identity::Identity>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(192);
    advert::encode(&mut buf, &advertisement(cfg, ran));
    buf
}
