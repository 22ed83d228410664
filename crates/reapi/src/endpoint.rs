//! `reapi://HOST:PORT[/INSTANCE][,tls]`: where an engine listens, which instance to use, and
//! how to reach it.
//!
//! `,tls` is spelled as for a distcc host (`HOST,tls`) and checks the engine the same way:
//! `DISTCC_TLS_CA` (a CA file) or `DISTCC_TLS_PIN` (SHA-256 of its certificate), and
//! `DISTCC_TLS_CERT`/`DISTCC_TLS_KEY` for a client certificate (`distcc-tls` builds the
//! rustls config, so a pin, a CA and their messages are the same code). A bearer token
//! (`authorization: Bearer …` on every call, what BuildGrid's JWT authorization reads)
//! comes from `DISTCC_REAPI_TOKEN` or the first line of `DISTCC_REAPI_TOKEN_FILE`, and is
//! only ever sent inside TLS. The channel is tonic's over our own connector (TCP, then
//! tokio-rustls with ALPN `h2`).

use std::sync::Arc;
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint as TonicEndpoint};

/// A parsed `reapi://` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://HOST:PORT` (the scheme of the HTTP/2 requests; TLS is the connector's).
    pub uri: String,
    /// The REAPI instance name (may be empty).
    pub instance: String,
    /// `,tls`: TLS to the engine.
    pub tls: bool,
}

/// The channel every REAPI client of this crate uses: tonic's, with the bearer token (if
/// any) added to each call.
pub type Conn = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer TOKEN` to each call (nothing without a token).
#[derive(Clone, Default)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// The credentials and trust settings, as the environment gives them.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub tls: tls::client::ClientSettings,
    /// `DISTCC_REAPI_TOKEN`, or the first line of `DISTCC_REAPI_TOKEN_FILE`.
    pub token: Option<String>,
    pub token_file: Option<std::path::PathBuf>,
}

impl Credentials {
    /// From `DISTCC_TLS_CA`, `DISTCC_TLS_PIN`, `DISTCC_TLS_CERT`, `DISTCC_TLS_KEY`,
    /// `DISTCC_REAPI_TOKEN`, `DISTCC_REAPI_TOKEN_FILE` (empty values count as unset).
    pub fn from_env() -> Credentials {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Credentials {
            tls: tls::client::ClientSettings::from_lookup(get),
            token: get("DISTCC_REAPI_TOKEN"),
            token_file: get("DISTCC_REAPI_TOKEN_FILE").map(Into::into),
        }
    }

    /// The token, if one is set (read from its file).
    fn token(&self) -> Result<Option<String>, String> {
        let t = match (&self.token, &self.token_file) {
            (Some(t), _) => t.trim().to_owned(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read DISTCC_REAPI_TOKEN_FILE {}: {e}", f.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
            (None, None) => return Ok(None),
        };
        if t.is_empty() || t.len() > 8192 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the REAPI token (DISTCC_REAPI_TOKEN or DISTCC_REAPI_TOKEN_FILE) is not 1 to 8192 printable characters without blanks"
                    .into(),
            );
        }
        Ok(Some(t))
    }
}

impl Endpoint {
    /// Parses `reapi://HOST:PORT[/INSTANCE][,tls]`.
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        let rest = s
            .strip_prefix("reapi://")
            .ok_or_else(|| format!("{s}: an REAPI address starts with reapi://"))?;
        let (rest, tls) = match rest.split_once(',') {
            None => (rest, false),
            Some((r, "tls")) => (r, true),
            Some((_, o)) => {
                return Err(format!(
                    "{s}: unknown option ,{o} (an REAPI address takes ,tls)"
                ));
            }
        };
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
            tls,
        })
    }

    /// The host name a certificate must carry (brackets of an IPv6 address removed).
    fn host(&self) -> &str {
        let authority = self.uri.trim_start_matches("http://");
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// A lazily connecting channel (the first call connects, within `connect`), with TLS
    /// and the token as `creds` say. Errors are sentences saying what to fix.
    pub fn channel(&self, connect: Duration, creds: &Credentials) -> Result<Conn, String> {
        let token = creds.token()?;
        if token.is_some() && !self.tls {
            return Err(format!(
                "{}: a token (DISTCC_REAPI_TOKEN or DISTCC_REAPI_TOKEN_FILE) is only sent over TLS: add ,tls to the engine's address",
                self.uri
            ));
        }
        let bearer = match token {
            Some(t) => {
                Bearer(Some(format!("Bearer {t}").parse().map_err(|_| {
                    "the REAPI token is not a valid header value".to_owned()
                })?))
            }
            None => Bearer(None),
        };
        let e = TonicEndpoint::from_shared(self.uri.clone())
            .map_err(|e| format!("{}: {e}", self.uri))?
            .connect_timeout(connect)
            .tcp_nodelay(true);
        let channel = if self.tls {
            let client = tls::client::Client::new(&creds.tls)
                .map_err(|e| format!("TLS to {}: {}", self.uri, e.0))?;
            let mut config = (*client.rustls_config()).clone();
            config.alpn_protocols = vec![b"h2".to_vec()];
            let connector = TlsConnector {
                config: Arc::new(config),
                host: self.host().to_owned(),
            };
            e.connect_with_connector_lazy(connector)
        } else {
            e.connect_lazy()
        };
        Ok(InterceptedService::new(channel, bearer))
    }
}

/// TCP to the URI's authority, then TLS checked against `host`.
#[derive(Clone)]
struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
    host: String,
}

type Connecting = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
                    std::io::Error,
                >,
            > + Send,
    >,
>;

impl tower_service::Service<http::Uri> for TlsConnector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.config.clone();
        let host = self.host.clone();
        Box::pin(async move {
            let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
            let authority = uri
                .authority()
                .ok_or_else(|| bad(format!("{uri}: no host and port")))?;
            let port = authority
                .port_u16()
                .ok_or_else(|| bad(format!("{uri}: no port")))?;
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = tcp.set_nodelay(true);
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| bad(format!("{host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), tls::explain::handshake(&e, &host)))?;
            Ok(hyper_util::rt::TokioIo::new(tls))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_instance_and_tls() {
        let e = Endpoint::parse("reapi://127.0.0.1:8980/main").unwrap();
        assert_eq!(e.uri, "http://127.0.0.1:8980");
        assert_eq!(e.instance, "main");
        assert!(!e.tls);
        let e = Endpoint::parse("reapi://[::1]:8980").unwrap();
        assert_eq!(e.uri, "http://[::1]:8980");
        assert_eq!(e.instance, "");
        assert_eq!(e.host(), "::1");
        let e = Endpoint::parse("reapi://engine.example:443/a/b,tls").unwrap();
        assert!(e.tls);
        assert_eq!(e.instance, "a/b");
        assert_eq!(e.host(), "engine.example");
        assert!(Endpoint::parse("http://x:1").is_err());
        assert!(Endpoint::parse("reapi://x").is_err());
        assert!(Endpoint::parse("reapi://u@x:1/i").is_err());
        assert!(Endpoint::parse("reapi://x:1/i,lzo").is_err());
    }

    #[test]
    fn a_token_is_never_sent_in_plain_text() {
        let e = Endpoint::parse("reapi://127.0.0.1:1/main").unwrap();
        let creds = Credentials {
            token: Some("secret".into()),
            ..Default::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _g = rt.enter();
        let err = e.channel(Duration::from_secs(1), &creds).unwrap_err();
        assert!(err.contains("only sent over TLS"), "{err}");
        let bad = Credentials {
            token: Some("two words".into()),
            ..Default::default()
        };
        let tls = Endpoint::parse("reapi://127.0.0.1:1/main,tls").unwrap();
        assert!(tls.channel(Duration::from_secs(1), &bad).is_err());
    }
}
