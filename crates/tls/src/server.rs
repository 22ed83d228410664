//! distccd's side: its certificate, which clients it accepts (by certificate, by token) and
//! the names a client is known by, for `--tls-allow`.
//!
//! A client proves who it is with a certificate from `--tls-client-ca` (the TLS handshake
//! checks it: an unknown or expired one never completes the handshake) or with a token from
//! `--tls-tokens`, sent in an `AUTH` frame inside TLS. When both are configured either will
//! do; when neither is, TLS only encrypts and any client may compile (`--allow` still applies).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::{
    NoServerSessionStorage, ServerConfig, ServerConnection, WebPkiClientVerifier,
};

use crate::{Error, err, load_certs, load_key, provider, same};

/// What the daemon's options say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSettings {
    /// `--tls-cert`: the daemon's certificate chain, PEM, end entity first.
    pub cert: PathBuf,
    /// `--tls-key`: its private key, PEM.
    pub key: PathBuf,
    /// `--tls-client-ca`: CA certificates that issue client certificates.
    pub client_ca: Option<PathBuf>,
    /// `--tls-tokens`: `name token` lines.
    pub tokens: Option<PathBuf>,
}

/// A ready server side, shared by every connection.
#[derive(Debug)]
pub struct Server {
    config: Arc<ServerConfig>,
    tokens: Vec<(String, Vec<u8>)>,
    by_cert: bool,
    pin: String,
}

/// Why a client that completed the handshake may not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// It sent a token that is not in `--tls-tokens`.
    BadToken,
    /// It sent neither a certificate nor a token, and this daemon wants one.
    NoCredentials { by_cert: bool, by_token: bool },
    /// It is known, but by no name `--tls-allow` lists.
    NotAllowed { names: Vec<String> },
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::BadToken => f.write_str(
                "the client's token is not accepted by this daemon (check DISTCC_TLS_TOKEN or DISTCC_TLS_TOKEN_FILE against distccd's --tls-tokens)",
            ),
            Denied::NoCredentials { by_cert, by_token } => {
                let how = match (by_cert, by_token) {
                    (true, true) => {
                        "a client certificate (DISTCC_TLS_CERT and DISTCC_TLS_KEY) or a token (DISTCC_TLS_TOKEN)"
                    }
                    (true, false) => "a client certificate (DISTCC_TLS_CERT and DISTCC_TLS_KEY)",
                    _ => "a token (DISTCC_TLS_TOKEN or DISTCC_TLS_TOKEN_FILE)",
                };
                write!(f, "this daemon requires {how}; the client sent none")
            }
            Denied::NotAllowed { names } => write!(
                f,
                "client {} is not allowed to compile here (distccd --tls-allow)",
                names.join(", ")
            ),
        }
    }
}

/// Who a client proved to be: the token's name, or the certificate's names (subject common
/// names, then DNS names). Empty when it proved nothing (a daemon without client auth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub names: Vec<String>,
}

impl Identity {
    /// For logs: the first name, or "anonymous".
    pub fn label(&self) -> &str {
        self.names.first().map_or("anonymous", |s| s.as_str())
    }
}

/// Parses `--tls-tokens` text: `name token` per line, `#` comments and blank lines ignored.
pub fn parse_tokens(text: &str, source: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, token] = words[..] else {
            return Err(err(format!(
                "{source} line {}: expected \"name token\"",
                i + 1
            )));
        };
        if !proto::auth::token_ok(token.as_bytes()) {
            return Err(err(format!(
                "{source} line {}: a token is 1 to {} printable characters",
                i + 1,
                proto::auth::MAX_LEN
            )));
        }
        out.push((name.to_owned(), token.as_bytes().to_vec()));
    }
    Ok(out)
}

impl Server {
    pub fn new(s: &ServerSettings) -> Result<Server, Error> {
        let chain = load_certs(&s.cert, "--tls-cert")?;
        let key = load_key(&s.key, "--tls-key")?;
        let tokens = match &s.tokens {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| err(format!("cannot read --tls-tokens {}: {e}", p.display())))?;
                let t = parse_tokens(&text, &p.display().to_string())?;
                if t.is_empty() {
                    return Err(err(format!(
                        "--tls-tokens {} holds no \"name token\" line",
                        p.display()
                    )));
                }
                t
            }
            None => Vec::new(),
        };
        let p = provider();
        let builder = ServerConfig::builder_with_provider(p.clone())
            .with_protocol_versions(crate::VERSIONS)
            .map_err(|e| err(format!("tls: {e}")))?;
        let builder = match &s.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in load_certs(ca, "--tls-client-ca")? {
                    roots
                        .add(c)
                        .map_err(|e| err(format!("--tls-client-ca {}: {e}", ca.display())))?;
                }
                let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p);
                if !tokens.is_empty() {
                    // A token is the other way in.
                    v = v.allow_unauthenticated();
                }
                let v = v
                    .build()
                    .map_err(|e| err(format!("--tls-client-ca {}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let pin = crate::fingerprint(&chain[0]);
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            err(format!(
                "--tls-cert {} and --tls-key {} do not make a usable pair: {e}",
                s.cert.display(),
                s.key.display()
            ))
        })?;
        // Every compile is a new client process that cannot keep a ticket: sending them would
        // only cost time and bytes.
        config.send_tls13_tickets = 0;
        config.session_storage = Arc::new(NoServerSessionStorage {});
        Ok(Server {
            config: Arc::new(config),
            tokens,
            by_cert: s.client_ca.is_some(),
            pin,
        })
    }

    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// The SHA-256 of the daemon's certificate, for clients' `DISTCC_TLS_PIN`.
    pub fn pin(&self) -> &str {
        &self.pin
    }

    /// True when a client must prove who it is (a client CA or tokens are configured).
    pub fn wants_credentials(&self) -> bool {
        self.by_cert || !self.tokens.is_empty()
    }

    /// Decides whether the client of a completed handshake may compile: by its certificate
    /// (already checked by the handshake) or by the token it sent, then by `allow` (the
    /// names of `--tls-allow`; empty allows every client that proved itself).
    pub fn authorize(
        &self,
        conn: &ServerConnection,
        token: Option<&[u8]>,
        allow: &[String],
    ) -> Result<Identity, Denied> {
        let names = match token {
            Some(t) => match self.tokens.iter().find(|(_, known)| same(known, t)) {
                Some((name, _)) => vec![name.clone()],
                None => return Err(Denied::BadToken),
            },
            None => conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| certificate_names(c))
                .unwrap_or_default(),
        };
        let proved = token.is_some() || conn.peer_certificates().is_some();
        if !proved && (self.wants_credentials() || !allow.is_empty()) {
            return Err(Denied::NoCredentials {
                by_cert: self.by_cert,
                by_token: !self.tokens.is_empty(),
            });
        }
        if !allow.is_empty() && !names.iter().any(|n| allow.iter().any(|a| a == n)) {
            return Err(Denied::NotAllowed { names });
        }
        Ok(Identity { names })
    }
}

/// The names a certificate is known by: subject common names, then DNS subject alternative
/// names. Empty for bytes webpki cannot parse.
pub fn certificate_names(cert: &[u8]) -> Vec<String> {
    let der = rustls::pki_types::CertificateDer::from(cert);
    let Ok(ee) = webpki::EndEntityCert::try_from(&der) else {
        return Vec::new();
    };
    let mut names = crate::der::common_names(ee.subject());
    for n in ee.valid_dns_names() {
        if !names.iter().any(|m| m == n) {
            names.push(n.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_parse_and_name_their_errors() {
        let t = parse_tokens("# who\nalice s3cret\n\nbob  t0ken  # bob's\n", "f").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1], ("bob".to_owned(), b"t0ken".to_vec()));
        let e = parse_tokens("alice\n", "f").unwrap_err();
        assert!(e.0.contains("f line 1"), "{e}");
        assert!(parse_tokens("a b c\n", "f").is_err());
    }
}
