//! Certificates made in tests with rcgen (ECDSA P-256): a CA, leaves it signs, and the common
//! case of a CA with one certificate for 127.0.0.1 in files. Included by `tests/it`,
//! `tests/interop` and `crates/tls/tests`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A CA: its certificate (PEM) and what signs with it.
pub struct Ca {
    pub issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A self-signed CA with common name `name`.
pub fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// A certificate and its key (PEM) for `names` (the first is the subject CN, all are SANs:
/// DNS names, or IP addresses when they parse as one), signed by `ca`, optionally long expired.
pub fn leaf(ca: &Ca, names: &[&str], expired: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    if expired {
        p.not_before = rcgen::date_time_ymd(2001, 1, 1);
        p.not_after = rcgen::date_time_ymd(2002, 1, 1);
    }
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A CA and a certificate it signed for 127.0.0.1, written in `dir` as `<tag>-ca.pem`,
/// `<tag>.pem` and `<tag>.key`: (ca, cert, key).
pub fn loopback_files(dir: &Path, tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca = ca(&format!("{tag} CA"));
    let (cert, key) = leaf(&ca, &["127.0.0.1"], false);
    let write = |name: String, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    (
        write(format!("{tag}-ca.pem"), &ca.pem),
        write(format!("{tag}.pem"), &cert),
        write(format!("{tag}.key"), &key),
    )
}
