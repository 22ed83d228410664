//! An SRV name to addresses and ports (a name without SRV records is tried as a DNS-SD
//! service type: its PTR records name instances, each with SRV and TXT records, and TXT
//! `jobs`/`cpus` give slots as 3.4's zeroconf reads them): the SRV answers ordered by priority (lowest first),
//! then weight (highest first) — a fixed order, since the client's scheduler spreads jobs
//! over every host anyway and a stable order keeps lock names and the speed model stable —
//! and each target's addresses, from the reply's additional records when the server sent
//! them, else asked for (A, then AAAA). A target with several addresses gives one host per
//! address, in address order. The target `.` means "no service here" and gives none.

use std::net::IpAddr;

use crate::LookupError;
use crate::dns::{self, Data, Record};
use crate::resolv::Resolver;

/// One host found: an address, the port its distccd listens on, and its slots when the
/// records say (DNS-SD TXT `jobs`/`cpus`, read as 3.4's zeroconf reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: IpAddr,
    pub port: u16,
    pub slots: Option<u32>,
}

/// What a lookup found, and for how long it holds (the smallest TTL involved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub targets: Vec<Target>,
    pub ttl: u32,
}

/// At most this many DNS-SD instances are asked about.
const MAX_INSTANCES: usize = 64;

/// One SRV record: priority, weight, port, target, TTL, slots from its instance's TXT.
type Srv = (u16, u16, u16, String, u32, Option<u32>);

fn srvs_of(records: &[Record], slots: Option<u32>) -> Vec<Srv> {
    records
        .iter()
        .filter_map(|r| match &r.data {
            Data::Srv {
                priority,
                weight,
                port,
                target,
            } => Some((*priority, *weight, *port, target.clone(), r.ttl, slots)),
            _ => None,
        })
        .collect()
}

/// Slots from TXT strings, if `jobs` or `cpus` is among them.
fn txt_slots(records: &[Record], name: &str) -> Option<u32> {
    let mut cpus = None;
    let mut jobs = None;
    for r in records.iter().filter(|r| dns::same_name(&r.name, name)) {
        if let Data::Txt(strings) = &r.data {
            for s in strings {
                match s.split_once('=') {
                    Some(("cpus", v)) => cpus = Some(v.to_owned()),
                    Some(("jobs", v)) => jobs = Some(v.to_owned()),
                    _ => {}
                }
            }
        }
    }
    if cpus.is_none() && jobs.is_none() {
        return None;
    }
    Some(crate::zeroconf::slots(cpus.as_deref(), jobs.as_deref()))
}

/// Looks `name` up through `resolver`: its SRV records, or, when it has none, DNS-SD's
/// (RFC 6763) PTR records naming service instances, each with its SRV and TXT records.
pub fn lookup(resolver: &Resolver, name: &str) -> Result<Found, LookupError> {
    let reply = resolver.ask(name, dns::TYPE_SRV)?;
    let mut pool = reply.additional.clone();
    let mut srvs = srvs_of(&reply.answers, None);
    let mut ttl = u32::MAX;
    if srvs.is_empty() {
        let ptrs = resolver.ask(name, dns::TYPE_PTR)?;
        let instances: Vec<(String, u32)> = ptrs
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                Data::Ptr(i) => Some((i.clone(), r.ttl)),
                _ => None,
            })
            .take(MAX_INSTANCES)
            .collect();
        for (instance, t) in instances {
            ttl = ttl.min(t);
            // An instance that does not answer is left out; the others still serve.
            let Ok(r) = resolver.ask(&instance, dns::TYPE_SRV) else {
                continue;
            };
            let mut slots = txt_slots(&r.additional, &instance);
            if slots.is_none()
                && let Ok(t) = resolver.ask(&instance, dns::TYPE_TXT)
            {
                slots = txt_slots(&t.answers, &instance);
            }
            srvs.extend(srvs_of(&r.answers, slots));
            pool.extend(r.additional);
        }
    }
    srvs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.3.cmp(&b.3)));
    ttl = ttl.min(srvs.iter().map(|s| s.4).min().unwrap_or(60));
    let mut targets = Vec::new();
    for (_, _, port, target, _, slots) in srvs {
        if target.is_empty() || port == 0 {
            continue;
        }
        let mut addrs = addresses(&pool, &target);
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
            let found = Target { addr, port, slots };
            if !targets
                .iter()
                .any(|x: &Target| x.addr == addr && x.port == port)
            {
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
