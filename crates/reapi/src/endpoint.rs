//! `reapi://HOST:PORT/INSTANCE`: where an engine listens and which instance to use.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint as TonicEndpoint};

/// A parsed `reapi://` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://HOST:PORT`.
    pub uri: String,
    /// The REAPI instance name (may be empty).
    pub instance: String,
}

impl Endpoint {
    /// Parses `reapi://HOST:PORT[/INSTANCE]` (plain gRPC; TLS is not done yet).
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let rest = s
            .strip_prefix("reapi://")
            .ok_or_else(|| format!("{s}: an REAPI address starts with reapi://"))?;
        let (authority, instance) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() || !authority.contains(':') {
            return Err(format!("{s}: an REAPI address needs HOST:PORT"));
        }
        if authority.contains(['@', ' ', '?', '#']) || instance.contains(['?', '#', ' ']) {
            return Err(format!("{s}: unexpected characters in the address"));
        }
        Ok(Endpoint {
            uri: format!("http://{authority}"),
            instance: instance.trim_end_matches('/').to_owned(),
        })
    }

    /// A lazily connecting channel (the first call connects, within `connect`).
    pub fn channel(&self, connect: Duration) -> Result<Channel, String> {
        let e = TonicEndpoint::from_shared(self.uri.clone())
            .map_err(|e| format!("{}: {e}", self.uri))?
            .connect_timeout(connect)
            .tcp_nodelay(true);
        Ok(e.connect_lazy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_instance() {
        let e = Endpoint::parse("reapi://127.0.0.1:8980/main").unwrap();
        assert_eq!(e.uri, "http://127.0.0.1:8980");
        assert_eq!(e.instance, "main");
        let e = Endpoint::parse("reapi://[::1]:8980").unwrap();
        assert_eq!(e.uri, "http://[::1]:8980");
        assert_eq!(e.instance, "");
        assert!(Endpoint::parse("http://x:1").is_err());
        assert!(Endpoint::parse("reapi://x").is_err());
        assert!(Endpoint::parse("reapi://u@x:1/i").is_err());
    }
}
