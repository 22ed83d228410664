//! The crate's two sides against each other over a socket pair, with certificates made here:
//! what each configuration accepts, and the words of each refusal.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use distcc_tls::client::{Client, ClientSettings};
use distcc_tls::server::{Server, ServerSettings};

#[path = "../../../tests/common/pki.rs"]
mod pki;

use pki::{Ca, ca, leaf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

struct World {
    dir: PathBuf,
    ca: Ca,
    server: ServerSettings,
}

fn world(tag: &str) -> World {
    let dir = std::env::temp_dir().join(format!("distcc-tls-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = ca("test ca");
    let (cert, key) = leaf(&ca, &["localhost"], false);
    let server = ServerSettings {
        cert: write(&dir, "server.pem", &cert),
        key: write(&dir, "server.key", &key),
        client_ca: None,
        tokens: None,
    };
    write(&dir, "ca.pem", &ca.pem);
    World { dir, ca, server }
}

/// One exchange: the client sends "ping", the server answers "pong" if `authorize` agrees.
/// Returns the client's result and the server's verdict.
fn exchange(
    server: &Server,
    client: &Client,
    host: &str,
    allow: &[String],
) -> (Result<(), String>, String) {
    let (a, b) = UnixStream::pair().unwrap();
    let cfg = server.config();
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            let mut conn = rustls::ServerConnection::new(cfg).unwrap();
            let mut sock = b;
            while conn.is_handshaking() {
                if let Err(e) = conn.complete_io(&mut sock) {
                    // As distccd does: the alert is out; read until the client closes, so
                    // its next write does not fail before it reads the alert.
                    let _ = sock.shutdown(std::net::Shutdown::Write);
                    let _ = sock.read_to_end(&mut Vec::new());
                    return distcc_tls::explain::server_side(&e);
                }
            }
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let mut first = [0u8; 4];
            if tls.read_exact(&mut first).is_err() {
                return "no data".to_owned();
            }
            let token = if &first == b"AUTH" {
                let mut rest = std::io::Read::chain(&first[..], &mut tls);
                Some(proto::auth::read(&mut rest).unwrap())
            } else {
                None
            };
            let v = match server.authorize(&tls.conn, token.as_deref(), allow) {
                Ok(id) => format!("ok {}", id.label()),
                Err(d) => d.to_string(),
            };
            let _ = tls.write_all(b"pong");
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
            v
        });
        let r = (|| {
            a.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut tls = client.connect(host, &a)?;
            tls.write_all(b"ping")
                .map_err(|e| distcc_tls::explain::after_handshake(e, host).to_string())?;
            let mut got = [0u8; 4];
            tls.read_exact(&mut got)
                .map_err(|e| distcc_tls::explain::after_handshake(e, host).to_string())?;
            Ok(())
        })();
        drop(a);
        (r, t.join().unwrap())
    })
}

fn client(s: ClientSettings) -> Client {
    Client::new(&s).unwrap()
}

#[test]
fn ca_and_pin_both_reach_the_server_and_wrong_ones_say_why() {
    let w = world("trust");
    let server = Server::new(&w.server).unwrap();
    let by_ca = client(ClientSettings {
        ca: Some(w.dir.join("ca.pem")),
        ..Default::default()
    });
    assert_eq!(exchange(&server, &by_ca, "localhost", &[]).0, Ok(()));
    let pinned = client(ClientSettings {
        pin: Some(server.pin().to_owned()),
        ..Default::default()
    });
    // A pin trusts the certificate whatever name the host list uses.
    assert_eq!(exchange(&server, &pinned, "127.0.0.1", &[]).0, Ok(()));

    let other = ca("another ca");
    write(&w.dir, "other.pem", &other.pem);
    let wrong_ca = client(ClientSettings {
        ca: Some(w.dir.join("other.pem")),
        ..Default::default()
    });
    let e = exchange(&server, &wrong_ca, "localhost", &[])
        .0
        .unwrap_err();
    assert!(e.contains("not issued by a CA in DISTCC_TLS_CA"), "{e}");
    let wrong_pin = client(ClientSettings {
        pin: Some("00".repeat(32)),
        ..Default::default()
    });
    let e = exchange(&server, &wrong_pin, "localhost", &[])
        .0
        .unwrap_err();
    assert!(e.contains("not DISTCC_TLS_PIN"), "{e}");
    let e = exchange(&server, &by_ca, "127.0.0.1", &[]).0.unwrap_err();
    assert!(e.contains("does not name 127.0.0.1"), "{e}");

    let (cert, key) = leaf(&w.ca, &["localhost"], true);
    let expired = Server::new(&ServerSettings {
        cert: write(&w.dir, "old.pem", &cert),
        key: write(&w.dir, "old.key", &key),
        ..w.server.clone()
    })
    .unwrap();
    let e = exchange(&expired, &by_ca, "localhost", &[]).0.unwrap_err();
    assert!(e.contains("has expired"), "{e}");
}

#[test]
fn clients_prove_themselves_by_certificate_or_token() {
    let w = world("auth");
    let client_ca = self::ca("client ca");
    write(&w.dir, "client-ca.pem", &client_ca.pem);
    write(&w.dir, "tokens", "alice s3cret\n");
    let server = Server::new(&ServerSettings {
        client_ca: Some(w.dir.join("client-ca.pem")),
        tokens: Some(w.dir.join("tokens")),
        ..w.server.clone()
    })
    .unwrap();
    let base = ClientSettings {
        ca: Some(w.dir.join("ca.pem")),
        ..Default::default()
    };
    let (cert, key) = leaf(&client_ca, &["bob"], false);
    let bob = client(ClientSettings {
        cert: Some(write(&w.dir, "bob.pem", &cert)),
        key: Some(write(&w.dir, "bob.key", &key)),
        ..base.clone()
    });
    let (r, v) = exchange(&server, &bob, "localhost", &[]);
    assert_eq!((r, v.as_str()), (Ok(()), "ok bob"));
    let (_, v) = exchange(&server, &bob, "localhost", &["alice".to_owned()]);
    assert!(v.contains("client bob is not allowed"), "{v}");

    let alice = client(ClientSettings {
        token: Some("s3cret".to_owned()),
        ..base.clone()
    });
    assert_eq!(exchange(&server, &alice, "localhost", &[]).1, "ok alice");
    let mallory = client(ClientSettings {
        token: Some("guess".to_owned()),
        ..base.clone()
    });
    let v = exchange(&server, &mallory, "localhost", &[]).1;
    assert!(v.contains("token is not accepted"), "{v}");
    let v = exchange(&server, &client(base.clone()), "localhost", &[]).1;
    assert!(v.contains("requires a client certificate"), "{v}");

    // A certificate from another CA, and an expired one, end the handshake.
    let stranger_ca = self::ca("stranger ca");
    let (cert, key) = leaf(&stranger_ca, &["eve"], false);
    let eve = client(ClientSettings {
        cert: Some(write(&w.dir, "eve.pem", &cert)),
        key: Some(write(&w.dir, "eve.key", &key)),
        ..base.clone()
    });
    let (r, v) = exchange(&server, &eve, "localhost", &[]);
    let e = r.unwrap_err();
    assert!(e.contains("refused this client's certificate"), "{e}");
    assert!(v.contains("not issued by --tls-client-ca"), "{v}");
    let (cert, key) = leaf(&client_ca, &["old"], true);
    let old = client(ClientSettings {
        cert: Some(write(&w.dir, "oldc.pem", &cert)),
        key: Some(write(&w.dir, "oldc.key", &key)),
        ..base
    });
    let (r, v) = exchange(&server, &old, "localhost", &[]);
    assert!(r.unwrap_err().contains("DISTCC_TLS_CERT has expired"));
    assert!(v.contains("expired"), "{v}");
}

#[test]
fn settings_errors_say_what_to_set() {
    let e = Client::new(&ClientSettings::default()).unwrap_err();
    assert!(e.0.contains("DISTCC_TLS_CA"), "{e}");
    let e = Client::new(&ClientSettings {
        pin: Some("xyz".to_owned()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.0.contains("not a SHA-256 fingerprint"), "{e}");
    let e = Server::new(&ServerSettings {
        cert: "/nonexistent/cert.pem".into(),
        key: "/nonexistent/key.pem".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.0.contains("cannot read --tls-cert"), "{e}");
}
