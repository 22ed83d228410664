//! TLS for distcc-rs (docs/protocol-4.md, "TLS"): rustls 0.23 with the ring provider, over
//! blocking std streams only (the per-compile client has no async runtime).
//!
//! - [`server`]: distccd's side: its certificate and key, clients by certificate
//!   (`--tls-client-ca`) or by token (`--tls-tokens`), and the names a client is known by
//!   (certificate subject CN and DNS names, or the token's name) for `--tls-allow`.
//! - [`client`]: the client's side: the server checked against a CA file or a SHA-256 pin of
//!   its certificate (a verifier that still checks the handshake signature), an optional
//!   client certificate, an optional token; a handshake whose failures read as what to fix.
//! - [`explain`]: rustls' errors and alerts in words a user can act on.
//!
//! What it leaves to others: sockets and the distcc protocol (the daemon's accept loop and the
//! client's transport), the `AUTH` frame's bytes (`proto::auth`), policy beyond "who is this".
//!
//! Sessions are not resumed across processes: rustls 0.23 cannot serialize a TLS 1.3
//! client session (`Tls13ClientSessionValue` holds the verifier), and each compile is a new
//! client process. So the full handshake is made cheap instead: TLS 1.3 only, X25519 first (no
//! HelloRetryRequest), ECDSA P-256 certificates recommended, no session tickets sent by the
//! server (the client could not use them). `bench/tls.py` measures what is left.

pub mod client;
mod der;
pub mod explain;
pub mod server;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use rustls;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(s: impl Into<String>) -> Error {
    Error(s.into())
}

/// The ring provider, TLS 1.3's suites, X25519 first.
fn provider() -> Arc<CryptoProvider> {
    // ring, not aws-lc-rs: no cmake or C build beyond `cc`. rustls 0.23.48 deprecates
    // ring's provider for lacking post-quantum groups; 0.23 offers no other ring one.
    #[allow(deprecated)]
    let mut p = rustls::crypto::ring::default_provider();
    // The default order already starts with X25519; keep only groups both sides of ours have,
    // so the client's one key share is always accepted (no extra round trip).
    p.kx_groups.retain(|g| {
        matches!(
            g.name(),
            rustls::NamedGroup::X25519 | rustls::NamedGroup::secp256r1
        )
    });
    Arc::new(p)
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Every certificate in a PEM file, first the end entity.
pub fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let data = std::fs::read(path)
        .map_err(|e| err(format!("cannot read {what} {}: {e}", path.display())))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{what} {} is not PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(format!(
            "{what} {} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, SEC1 or PKCS#1).
pub fn load_key(path: &Path, what: &str) -> Result<PrivateKeyDer<'static>, Error> {
    let data = std::fs::read(path)
        .map_err(|e| err(format!("cannot read {what} {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| {
        err(format!(
            "{what} {} holds no usable private key: {e}",
            path.display()
        ))
    })
}

/// The SHA-256 of a certificate's DER bytes, in lowercase hex: what `DISTCC_TLS_PIN` names
/// (`openssl x509 -noout -fingerprint -sha256` prints the same digits, upper case with colons).
pub fn fingerprint(cert: &[u8]) -> String {
    hex(&Sha256::digest(cert))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a pin: 64 hex digits, colons allowed, case ignored, an optional `sha256:` prefix.
pub fn parse_pin(s: &str) -> Result<[u8; 32], Error> {
    let t = s.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let digits: Vec<u8> = t.bytes().filter(|&b| b != b':').collect();
    let bad = || {
        err(format!(
            "DISTCC_TLS_PIN {s:?} is not a SHA-256 fingerprint (64 hex digits, as distccd logs it or `openssl x509 -noout -fingerprint -sha256` prints it)"
        ))
    };
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Compares two byte strings in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_in_both_spellings() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_pin(&hex64).unwrap(), [0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&format!("sha256:{colons}")).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn same_compares() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
