//! Finding distcc hosts without listing each one: a host-list entry naming a DNS SRV record
//! (`_distcc._tcp.example.org`) expands to the hosts and ports the record names.
//!
//! `dns` is the wire format (no I/O), `resolv` sends one question to the system's name
//! servers over std sockets, `srv` turns an SRV answer into addresses, `cache` keeps the
//! answer under `$DISTCC_DIR` for its TTL so that a compile pays for a lookup only when the
//! record has expired. It leaves the host-list grammar and slot choice to the client.

pub mod cache;
pub mod dns;
pub mod resolv;
pub mod srv;
pub mod zeroconf;

pub use srv::{Found, Target};

/// Why a lookup gave no answer.
#[derive(Debug)]
pub enum LookupError {
    /// The name cannot be put in a DNS question.
    BadName(&'static str),
    /// No name server is configured.
    NoServer,
    /// Every server failed; the last failure.
    Io(std::io::Error),
    /// A reply that does not parse.
    Malformed(dns::DnsError),
    /// The server answered with this RCODE (2 SERVFAIL, 5 REFUSED…).
    Rcode(u8),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::BadName(why) => write!(f, "bad name: {why}"),
            LookupError::NoServer => write!(f, "no name server in /etc/resolv.conf"),
            LookupError::Io(e) => write!(f, "no answer from the name servers: {e}"),
            LookupError::Malformed(e) => write!(f, "malformed DNS reply: {e}"),
            LookupError::Rcode(c) => write!(f, "name server answered with error code {c}"),
        }
    }
}

impl std::error::Error for LookupError {}
