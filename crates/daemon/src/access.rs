//! The client access list: `--allow IP[/BITS]` rules, IPv4 and IPv6.
//!
//! A peer arriving on a dual-stack socket as an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
//! is matched against the IPv4 rules, as the same client arriving over IPv4 would be. An
//! empty list allows nobody; whether an empty list is acceptable at all is the caller's call.

use std::net::IpAddr;

/// One `IP[/BITS]` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `a.b.c.d`, `a.b.c.d/n`, `x::y`, `x::y/n`. A bare address is a single host.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("--allow: {s:?} is not an address or address/bits"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("--allow: bad prefix length in {s:?} (0 to {max})"))?,
        };
        Ok(Cidr {
            addr: canonical(addr),
            bits,
        })
    }

    pub fn contains(&self, peer: IpAddr) -> bool {
        match (self.addr, canonical(peer)) {
            (IpAddr::V4(net), IpAddr::V4(p)) => prefix_eq(&net.octets(), &p.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(p)) => prefix_eq(&net.octets(), &p.octets(), self.bits),
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

/// IPv4-mapped IPv6 addresses become plain IPv4.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => a,
        },
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rem = bits % 8;
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    a[full] & mask == b[full] & mask
}

/// Every `--allow` rule; a peer is allowed if any rule contains it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<Cidr>,
}

impl AllowList {
    pub fn push(&mut self, c: Cidr) {
        self.rules.push(c);
    }

    /// The rules, for display (the stats pages show them).
    pub fn rules(&self) -> &[Cidr] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn allows(&self, peer: IpAddr) -> bool {
        self.rules.iter().any(|r| r.contains(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_rules() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        let c = Cidr::parse("192.168.1.128/25").unwrap();
        assert!(c.contains(ip("192.168.1.200")));
        assert!(!c.contains(ip("192.168.1.127")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("1.2.3.4").unwrap().contains(ip("1.2.3.4")));
        assert!(!Cidr::parse("1.2.3.4").unwrap().contains(ip("1.2.3.5")));
    }

    #[test]
    fn mapped_peers_match_ipv4_rules_and_not_ipv6_ones() {
        let c = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(c.contains(ip("::ffff:127.0.0.1")));
        assert!(
            !Cidr::parse("::1/128")
                .unwrap()
                .contains(ip("::ffff:127.0.0.1"))
        );
        assert!(!c.contains(ip("::1")));
    }

    #[test]
    fn ipv6_rules() {
        let c = Cidr::parse("fe80::/10").unwrap();
        assert!(c.contains(ip("fe80::1")));
        assert!(c.contains(ip("febf::1")));
        assert!(!c.contains(ip("fec0::1")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
    }

    #[test]
    fn bad_rules() {
        for bad in [
            "",
            "1.2.3",
            "1.2.3.4/33",
            "::1/129",
            "1.2.3.4/x",
            "host.example",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_list_allows_nobody() {
        assert!(!AllowList::default().allows(ip("127.0.0.1")));
    }
}
