//! An SRV name to addresses and ports: the SRV answer ordered by priority (lowest first),
//! then weight (highest first) — a fixed order, since the client's scheduler spreads jobs
//! over every host anyway and a stable order keeps lock names and the speed model stable —
//! and each target's addresses, from the reply's additional records when the server sent
//! them, else asked for (A, then AAAA). A target with several addresses gives one host per
//! address, in address order. The target `.` means "no service here" and gives none.

use std::net::IpAddr;

use crate::LookupError;
use crate::dns::{self, Data, Record};
use crate::resolv::Resolver;

/// One host found: an address and the port its distccd listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: IpAddr,
    pub port: u16,
}

/// What a lookup found, and for how long it holds (the smallest TTL involved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub targets: Vec<Target>,
    pub ttl: u32,
}

/// Looks `name` up through `resolver`.
pub fn lookup(resolver: &Resolver, name: &str) -> Result<Found, LookupError> {
    let reply = resolver.ask(name, dns::TYPE_SRV)?;
    let mut srvs: Vec<(u16, u16, u16, String, u32)> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => Some((*priority, *weight, *port, target.clone(), r.ttl)),
            _ => None,
        })
        .collect();
    srvs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.3.cmp(&b.3)));
    let mut ttl = srvs.iter().map(|s| s.4).min().unwrap_or(60);
    let mut targets = Vec::new();
    for (_, _, port, target, _) in srvs {
        if target.is_empty() || port == 0 {
            continue;
        }
        let mut addrs = addresses(&reply.additional, &target);
        if addrs.is_empty() {
            for qtype in [dns::TYPE_A, dns::TYPE_AAAA] {
                // A target that does not resolve is left out; the others still serve.
                if let Ok(r) = resolver.ask(&target, qtype) {
                    addrs.extend(addresses(&r.answers, &target));
                }
            }
        }
        // Servers rotate the addresses of a name; a fixed order keeps the list stable.
        addrs.sort();
        for (addr, t) in addrs {
            ttl = ttl.min(t);
            let found = Target { addr, port };
            if !targets.contains(&found) {
                targets.push(found);
            }
        }
    }
    Ok(Found { targets, ttl })
}

/// The A and AAAA records of `name` among `records`, with their TTLs.
fn addresses(records: &[Record], name: &str) -> Vec<(IpAddr, u32)> {
    records
        .iter()
        .filter(|r| dns::same_name(&r.name, name))
        .filter_map(|r| match r.data {
            Data::A(a) => Some((IpAddr::V4(a), r.ttl)),
            Data::Aaaa(a) => Some((IpAddr::V6(a), r.ttl)),
            _ => None,
        })
        .collect()
}
