//! Network namespaces for fault tests: two namespaces joined by a veth pair, addresses in
//! 10.x only inside them, removed on drop (even when the test panics). Needs root and `ip`.
//! Nothing here ever touches the root namespace's interfaces or routes.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Result<Netns, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "dcc-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `cmd args…` inside the namespace.
    pub fn exec(&self, cmd: &str, args: &[&str]) -> Result<(), String> {
        let mut v = vec!["netns", "exec", &self.name, cmd];
        v.extend_from_slice(args);
        ip(&v)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A client namespace and a server namespace joined by a veth pair: `client_addr` ↔
/// `server_addr` (10.199.N.1 and .2, N unique per pair in this process).
pub struct Link {
    pub client: Netns,
    pub server: Netns,
    pub client_if: String,
    pub server_if: String,
    pub client_addr: String,
    pub server_addr: String,
}

impl Link {
    pub fn new() -> Result<Link, String> {
        static N: AtomicU32 = AtomicU32::new(1);
        let n = N.fetch_add(1, Ordering::Relaxed) % 250 + 1;
        let client = Netns::new("c")?;
        let server = Netns::new("s")?;
        let (ci, si) = (format!("vc{n}"), format!("vs{n}"));
        // Created inside the client namespace, so nothing ever exists in the root one.
        ip(&[
            "-n",
            &client.name,
            "link",
            "add",
            "name",
            &ci,
            "type",
            "veth",
            "peer",
            "name",
            &si,
            "netns",
            &server.name,
        ])?;
        let (ca, sa) = (format!("10.199.{n}.1"), format!("10.199.{n}.2"));
        ip(&[
            "-n",
            &client.name,
            "addr",
            "add",
            &format!("{ca}/24"),
            "dev",
            &ci,
        ])?;
        ip(&[
            "-n",
            &server.name,
            "addr",
            "add",
            &format!("{sa}/24"),
            "dev",
            &si,
        ])?;
        ip(&["-n", &client.name, "link", "set", &ci, "up"])?;
        ip(&["-n", &server.name, "link", "set", &si, "up"])?;
        Ok(Link {
            client,
            server,
            client_if: ci,
            server_if: si,
            client_addr: ca,
            server_addr: sa,
        })
    }

    /// Limits what the client sends to `kbit` kbit/s (a token bucket on its veth end), so a
    /// transfer of a few hundred KB takes seconds and can be cut in the middle.
    pub fn throttle_client(&self, kbit: u32) -> Result<(), String> {
        self.client.exec(
            "tc",
            &[
                "qdisc",
                "add",
                "dev",
                &self.client_if,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "4k",
                "latency",
                "2s",
            ],
        )
    }

    /// Takes both ends down: packets stop, no FIN or RST reaches either side.
    pub fn cut(&self) -> Result<(), String> {
        ip(&[
            "-n",
            &self.client.name,
            "link",
            "set",
            &self.client_if,
            "down",
        ])?;
        ip(&[
            "-n",
            &self.server.name,
            "link",
            "set",
            &self.server_if,
            "down",
        ])
    }
}

/// True when this process may create namespaces (root, `ip` present).
pub fn available() -> bool {
    // SAFETY: plain syscall.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}
