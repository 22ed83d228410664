//! mDNS/DNS-SD for distcc with `mdns-sd` (pure Rust, its own thread): `Advert` announces a
//! distccd as 3.4's `--zeroconf` does (`distcc@<hostname>[:port]` of type `_distcc._tcp`, 3.4's TXT
//! records, and the compiler subtype 3.4's clients browse for); `Browser` finds daemons of
//! type `_distcc._tcp` and reports each with its TXT records. The names, TXT records and
//! mangling are `discovery::zeroconf`'s (pure); this crate is the traffic only, and is linked
//! by distccd and the `distcc-zeroconf` helper, never by the per-compile client.
//!
//! `Scope` keeps the traffic on the configured interfaces: the interface that holds one
//! address (distccd's `--listen`), or every interface.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use discovery::zeroconf::{self, Compiler, SERVICE_TYPE};
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

/// Which interfaces mDNS may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every interface (3.4's `AVAHI_IF_UNSPEC`).
    All,
    /// Only the interface that holds this address.
    Addr(IpAddr),
    /// Only the interface of this name (`lo` for loopback).
    Interface(String),
}

fn daemon(scope: &Scope) -> Result<ServiceDaemon, String> {
    let d = ServiceDaemon::new().map_err(|e| format!("cannot start mDNS: {e}"))?;
    let only = match scope {
        Scope::All => return Ok(d),
        Scope::Addr(ip) => match ip {
            IpAddr::V4(a) if a.is_loopback() => vec![IfKind::LoopbackV4],
            IpAddr::V6(a) if a.is_loopback() => vec![IfKind::LoopbackV6],
            _ => vec![IfKind::Addr(*ip)],
        },
        Scope::Interface(name) if name == "lo" => {
            vec![IfKind::LoopbackV4, IfKind::LoopbackV6]
        }
        Scope::Interface(name) => vec![IfKind::Name(name.clone())],
    };
    let err = |e: mdns_sd::Error| format!("cannot limit mDNS to {scope:?}: {e}");
    d.disable_interface(vec![IfKind::All, IfKind::LoopbackV4, IfKind::LoopbackV6])
        .map_err(err)?;
    d.enable_interface(only).map_err(err)?;
    Ok(d)
}

/// This machine's host name (of its UTS namespace).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// What a daemon announces.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub hostname: String,
    pub port: u16,
    pub cpus: u32,
    pub jobs: u32,
    pub distcc_version: String,
    pub gnu_host: String,
    /// `None`: the service is announced without the compiler TXT records and subtype, as
    /// 3.4 does when `cc` cannot be asked.
    pub compiler: Option<Compiler>,
}

/// A running announcement; withdrawn (a goodbye packet) on drop.
pub struct Advert {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Advert {
    pub fn start(a: &Announcement, scope: Scope) -> Result<Advert, String> {
        let d = daemon(&scope)?;
        let txt: HashMap<String, String> = zeroconf::txt_records(
            a.cpus,
            a.jobs,
            &a.distcc_version,
            &a.gnu_host,
            a.compiler.as_ref(),
        )
        .into_iter()
        .collect();
        // The subtype is registered with the service (mdns-sd answers both PTRs).
        let ty = match &a.compiler {
            Some(c) => format!("{}.local.", zeroconf::subtype(c)),
            None => format!("{SERVICE_TYPE}.local."),
        };
        let info = ServiceInfo::new(
            &ty,
            &zeroconf::instance_name(&a.hostname, a.port),
            &format!("{}.local.", a.hostname),
            "",
            a.port,
            txt,
        )
        .map_err(|e| format!("bad mDNS service: {e}"))?
        .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        d.register(info)
            .map_err(|e| format!("cannot register the mDNS service: {e}"))?;
        Ok(Advert {
            daemon: d,
            fullname,
        })
    }

    /// The registered instance, e.g. `distcc@box._distcc._tcp.local.`.
    pub fn fullname(&self) -> &str {
        &self.fullname
    }
}

impl Drop for Advert {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.unregister(&self.fullname) {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// A daemon seen or gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Up {
        fullname: String,
        /// Its addresses, IPv4 first, each sorted.
        addrs: Vec<IpAddr>,
        port: u16,
        /// TXT `cc_machine`, `cc_version`, `cpus`, `jobs`.
        machine: Option<String>,
        version: Option<String>,
        cpus: Option<String>,
        jobs: Option<String>,
    },
    Gone {
        fullname: String,
    },
}

/// Browses `_distcc._tcp` (the main type: a browser started after an announcement may not
/// resolve the subtype with mdns-sd; the caller filters on the TXT records instead).
pub struct Browser {
    daemon: ServiceDaemon,
    rx: mdns_sd::Receiver<ServiceEvent>,
}

impl Browser {
    pub fn start(scope: Scope) -> Result<Browser, String> {
        let d = daemon(&scope)?;
        let rx = d
            .browse(&format!("{SERVICE_TYPE}.local."))
            .map_err(|e| format!("cannot browse: {e}"))?;
        Ok(Browser { daemon: d, rx })
    }

    /// The next change, waiting at most `timeout`; `None` on time-out.
    pub fn next(&self, timeout: Duration) -> Option<Seen> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left).ok()? {
                ServiceEvent::ServiceResolved(s) => {
                    let mut addrs: Vec<IpAddr> =
                        s.addresses.iter().map(|a| a.to_ip_addr()).collect();
                    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
                    let p = &s.txt_properties;
                    let get = |k: &str| p.get_property_val_str(k).map(str::to_owned);
                    return Some(Seen::Up {
                        fullname: s.fullname.clone(),
                        addrs,
                        port: s.port,
                        machine: get("cc_machine"),
                        version: get("cc_version"),
                        cpus: get("cpus"),
                        jobs: get("jobs"),
                    });
                }
                ServiceEvent::ServiceRemoved(_, fullname) => return Some(Seen::Gone { fullname }),
                _ => continue,
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(rx) = self.daemon.shutdown() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }
}
