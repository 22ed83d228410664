//! rustls' errors and TLS alerts in words a user can act on: which variable or option to
//! fix. The client says what it saw; the daemon logs what it refused.

use std::io;

use rustls::{AlertDescription, CertificateError, Error};

use crate::client::PinMismatch;

/// A failed client handshake with `host` (I/O errors carry rustls' error inside).
pub fn handshake(e: &io::Error, host: &str) -> String {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        return error(inner, host);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => format!(
            "{host} closed the connection during the TLS handshake: it does not speak TLS on this port (distcc 3.4, or distccd without --tls-cert)"
        ),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("TLS handshake with {host} timed out (no progress within DISTCC_IO_TIMEOUT)")
        }
        _ => format!("TLS handshake with {host}: {e}"),
    }
}

/// A TLS-level refusal: a certificate either side would not accept, a pin that does not
/// match, a client the server would not take, or settings that cannot work. Not the host's
/// fault (no backoff): what to fix is on the client's side, and the text says what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The refusal inside an I/O error, if it is one (see [`Refused`]).
pub fn refused(e: &io::Error) -> Option<&Refused> {
    e.get_ref().and_then(|i| i.downcast_ref::<Refused>())
}

/// An I/O error after the handshake: a rustls error inside is explained and becomes a
/// [`Refused`]; anything else is returned as it was (the caller's words for timeouts and
/// hang-ups apply).
pub fn after_handshake(e: io::Error, host: &str) -> io::Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        Some(inner) => io::Error::new(io::ErrorKind::PermissionDenied, Refused(error(inner, host))),
        None => e,
    }
}

/// A failed client handshake, classed: `Ok` for a [`Refused`] (certificates, alerts,
/// settings), `Err` for the link's failures (closed, reset, timed out).
pub fn handshake_classed(e: &io::Error, host: &str) -> Result<Refused, String> {
    match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        Some(inner) => Ok(Refused(error(inner, host))),
        None => Err(handshake(e, host)),
    }
}

/// One rustls error, seen by the client talking to `host`.
pub fn error(e: &Error, host: &str) -> String {
    match e {
        Error::InvalidCertificate(c) => certificate(c, host),
        Error::AlertReceived(a) => alert(*a, host),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => format!(
            "{host} does not answer in TLS on this port (distcc 3.4, or distccd without --tls-cert?)"
        ),
        Error::NoCertificatesPresented => format!("{host} presented no certificate"),
        _ => format!("TLS with {host}: {e}"),
    }
}

fn certificate(c: &CertificateError, host: &str) -> String {
    match c {
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} is not issued by a CA in DISTCC_TLS_CA (unknown issuer): wrong CA file, or the daemon's --tls-cert is not from that CA"
        ),
        CertificateError::Expired => format!("the certificate of {host} has expired"),
        CertificateError::ExpiredContext { not_after, .. } => format!(
            "the certificate of {host} has expired (valid until {} seconds after the epoch): renew distccd's --tls-cert",
            not_after.as_secs()
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the certificate of {host} is not valid yet: check both machines' clocks")
        }
        CertificateError::NotValidForName => format!(
            "the certificate of {host} does not name {host}: use a host name it carries, or DISTCC_TLS_PIN"
        ),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "the certificate of {host} does not name {host} (it names {}): use a host name it carries, or DISTCC_TLS_PIN",
            presented.join(", ")
        ),
        CertificateError::Other(o) => match o.0.downcast_ref::<PinMismatch>() {
            Some(p) => format!("{host}: {p}"),
            None => format!("the certificate of {host} is refused: {o}"),
        },
        other => format!("the certificate of {host} is refused: {other:?}"),
    }
}

fn alert(a: AlertDescription, host: &str) -> String {
    match a {
        AlertDescription::UnknownCA
        | AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateUnknown
        | AlertDescription::DecryptError => format!(
            "{host} refused this client's certificate ({a:?}): DISTCC_TLS_CERT is not issued by the daemon's --tls-client-ca"
        ),
        AlertDescription::CertificateExpired => {
            format!("{host} refused this client's certificate: DISTCC_TLS_CERT has expired")
        }
        AlertDescription::CertificateRequired => {
            format!("{host} requires a client certificate: set DISTCC_TLS_CERT and DISTCC_TLS_KEY")
        }
        AlertDescription::AccessDenied => format!("{host} denied access to this client"),
        AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => {
            format!("{host} and this client share no TLS version or cipher (TLS 1.3 is required)")
        }
        other => format!("{host} ended the TLS session (alert {other:?})"),
    }
}

/// What the daemon logs for a client whose handshake failed.
pub fn server_side(e: &io::Error) -> String {
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<Error>()) else {
        return format!("TLS handshake: {e}");
    };
    match inner {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "client certificate refused: not issued by --tls-client-ca (unknown issuer)".to_owned()
        }
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "client certificate refused: expired".to_owned(),
        Error::NoCertificatesPresented => {
            "client sent no certificate, and --tls-client-ca requires one".to_owned()
        }
        Error::AlertReceived(a) => format!("the client ended the handshake (alert {a:?})"),
        other => format!("TLS handshake: {other}"),
    }
}
