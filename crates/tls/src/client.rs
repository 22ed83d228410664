//! The client's side: which servers to trust (a CA file or a pin), an optional client
//! certificate, an optional token, and a blocking handshake whose failures say what to fix.
//!
//! The settings come from `DISTCC_TLS_*` (read once, [`ClientSettings::from_lookup`]); the
//! config is built once per process, on the first `,tls` host a compile tries.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, ClientConnection, Resumption};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::{Error, err, load_certs, load_key, provider};

/// The `DISTCC_TLS_*` variables, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// `DISTCC_TLS_CA`: CA certificates (PEM) that issue servers' certificates.
    pub ca: Option<PathBuf>,
    /// `DISTCC_TLS_PIN`: SHA-256 of the server's certificate.
    pub pin: Option<String>,
    /// `DISTCC_TLS_CERT`, `DISTCC_TLS_KEY`: this client's certificate and key.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `DISTCC_TLS_TOKEN`, or the first line of `DISTCC_TLS_TOKEN_FILE`.
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl ClientSettings {
    /// Reads the variables through `get` (empty values count as unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ClientSettings {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        ClientSettings {
            ca: get("DISTCC_TLS_CA").map(PathBuf::from),
            pin: get("DISTCC_TLS_PIN"),
            cert: get("DISTCC_TLS_CERT").map(PathBuf::from),
            key: get("DISTCC_TLS_KEY").map(PathBuf::from),
            token: get("DISTCC_TLS_TOKEN"),
            token_file: get("DISTCC_TLS_TOKEN_FILE").map(PathBuf::from),
        }
    }
}

/// A ready client side.
#[derive(Debug)]
pub struct Client {
    config: Arc<ClientConfig>,
    /// The `AUTH` frame, when there is a token.
    auth: Option<Vec<u8>>,
}

/// A TLS session over a blocking stream, its handshake done.
pub type Stream<S> = rustls::StreamOwned<ClientConnection, S>;

impl Client {
    pub fn new(s: &ClientSettings) -> Result<Client, Error> {
        let p = provider();
        let builder = ClientConfig::builder_with_provider(p.clone())
            .with_protocol_versions(crate::VERSIONS)
            .map_err(|e| err(format!("tls: {e}")))?;
        let builder = match (&s.ca, &s.pin) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "set DISTCC_TLS_CA or DISTCC_TLS_PIN, not both: which one checks the server?",
                ));
            }
            (None, None) => {
                return Err(err(
                    "a ,tls host needs DISTCC_TLS_CA (the CA file that issued the daemon's certificate) or DISTCC_TLS_PIN (its SHA-256, which distccd logs at start)",
                ));
            }
            (Some(ca), None) => {
                let mut roots = RootCertStore::empty();
                for c in load_certs(ca, "DISTCC_TLS_CA")? {
                    roots
                        .add(c)
                        .map_err(|e| err(format!("DISTCC_TLS_CA {}: {e}", ca.display())))?;
                }
                builder.with_root_certificates(roots)
            }
            (None, Some(pin)) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    pin: crate::parse_pin(pin)?,
                    provider: p,
                })),
        };
        let mut config = match (&s.cert, &s.key) {
            (Some(c), Some(k)) => {
                let chain = load_certs(c, "DISTCC_TLS_CERT")?;
                let key = load_key(k, "DISTCC_TLS_KEY")?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    err(format!(
                        "DISTCC_TLS_CERT {} and DISTCC_TLS_KEY {} do not make a usable pair: {e}",
                        c.display(),
                        k.display()
                    ))
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(err(
                    "DISTCC_TLS_CERT and DISTCC_TLS_KEY go together: set both or neither",
                ));
            }
        };
        // No process lives to use a ticket (see the crate's notes).
        config.resumption = Resumption::disabled();
        let token = match (&s.token, &s.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => {
                let text = std::fs::read_to_string(f).map_err(|e| {
                    err(format!(
                        "cannot read DISTCC_TLS_TOKEN_FILE {}: {e}",
                        f.display()
                    ))
                })?;
                Some(text.lines().next().unwrap_or("").trim().to_owned())
            }
            (None, None) => None,
        };
        let auth = match token {
            Some(t) => {
                let mut frame = Vec::new();
                proto::auth::encode(&mut frame, t.as_bytes()).map_err(|_| {
                    err(format!(
                        "the TLS token is not 1 to {} printable characters without blanks",
                        proto::auth::MAX_LEN
                    ))
                })?;
                Some(frame)
            }
            None => None,
        };
        Ok(Client {
            config: Arc::new(config),
            auth,
        })
    }

    /// The rustls config these settings make (trust, client certificate; no resumption),
    /// for a caller with its own transport (the REAPI channel).
    pub fn rustls_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// Runs the handshake with `host` (the name its certificate must carry, unless pinned)
    /// over `sock`, and queues the `AUTH` frame if there is a token (it leaves with the first
    /// write). The error is a sentence for the user.
    pub fn connect<S: Read + Write>(&self, host: &str, sock: S) -> Result<Stream<S>, String> {
        self.connect_classed(host, sock).map_err(|e| match e {
            Ok(refused) => refused.0,
            Err(why) => why,
        })
    }

    /// As [`Client::connect`], the error classed: `Ok(Refused)` for what the client must fix
    /// (certificates, names, pins, a refused client), `Err` for the link's failures.
    pub fn connect_classed<S: Read + Write>(
        &self,
        host: &str,
        mut sock: S,
    ) -> Result<Stream<S>, Result<crate::explain::Refused, String>> {
        use crate::explain::Refused;
        let name = ServerName::try_from(host.to_owned()).map_err(|_| {
            Ok(Refused(format!(
                "{host:?} is not a name a TLS certificate can carry"
            )))
        })?;
        let mut conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| Ok(Refused(crate::explain::error(&e, host))))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .map_err(|e| crate::explain::handshake_classed(&e, host))?;
        }
        if let Some(frame) = &self.auth {
            conn.writer()
                .write_all(frame)
                .map_err(|e| Err(format!("TLS with {host}: {e}")))?;
        }
        Ok(rustls::StreamOwned::new(conn, sock))
    }
}

/// After a failed write on `s`: the server's own reason, when a TLS alert is already waiting
/// (a server that refused this client's certificate sends one and closes, and the write that
/// found the connection closed would otherwise hide it). Waits at most 200 ms.
pub fn reason_behind(s: &mut Stream<std::net::TcpStream>) -> Option<std::io::Error> {
    let old = s.sock.read_timeout().ok().flatten();
    let _ = s
        .sock
        .set_read_timeout(Some(std::time::Duration::from_millis(200)));
    let got = s.conn.read_tls(&mut s.sock);
    let _ = s.sock.set_read_timeout(old);
    match got {
        Ok(n) if n > 0 => s
            .conn
            .process_new_packets()
            .err()
            .map(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        _ => None,
    }
}

/// Trusts exactly one certificate, named by its SHA-256, and still checks that the server
/// holds its key (the handshake signature). Names and dates are not checked: the pin is the
/// trust, as with ssh's known hosts.
#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

/// The pin did not match: a distinct error so the message can show both fingerprints.
#[derive(Debug)]
pub struct PinMismatch {
    pub presented: String,
    pub expected: String,
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate has SHA-256 {}, not DISTCC_TLS_PIN {}",
            self.presented, self.expected
        )
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if crate::same(&got, &self.pin) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch {
                    presented: crate::hex(&got),
                    expected: crate::hex(&self.pin),
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
