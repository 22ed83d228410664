//! What this daemon says about itself after every protocol 1–3 reply (`proto::advert`,
//! docs/protocol-4.md): built here and only here, so every key it may carry is in one place.
//!
//! distcc 3.4's client never reads past the reply, so the trailer changes nothing for it; our
//! client reads it without waiting and speaks protocol 4 to this host from its next job on.

use proto::advert::{self, Advert};

use crate::serve::ServeConfig;

/// The highest protocol this daemon speaks.
pub const PROTOCOL: u32 = 4;

/// The advertisement for a reply sent under `cfg`. A key added here must be one
/// docs/protocol-4.md lists. `ssh-socket=`: under `--inetd` through ssh, the ssh user's held
/// daemon (`held`). `cache=1`: `--cache-dir`, so protocol 4 requests may carry a cache key
/// (`FLAG` bit 1).
pub fn advertisement(cfg: &ServeConfig) -> Advert {
    let mut entries = vec![("protocol".to_owned(), PROTOCOL.to_string())];
    if let Some(path) = cfg.ssh_socket.as_ref().and_then(|p| p.to_str()) {
        entries.push(("ssh-socket".to_owned(), path.to_owned()));
    }
    if cfg.cache.is_some() {
        entries.push(("cache".to_owned(), "1".to_owned()));
    }
    Advert { entries }
}

/// The trailer's bytes: `ADVT <len>` and the `key=value` lines.
pub fn trailer(cfg: &ServeConfig) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    advert::encode(&mut buf, &advertisement(cfg));
    buf
}
