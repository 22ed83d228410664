//! The DNS message format (RFC 1035, SRV from RFC 2782), as much as an SRV lookup needs:
//! encode one question, decode a reply's answer and additional records (A, AAAA, SRV; other
//! types kept as their type number). No I/O. Every offset is checked; a compression pointer
//! must point before the label that holds it, so a reply cannot make the decoder loop, and a
//! name is capped at 255 bytes as the RFC says.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
const MAX_NAME: usize = 255;

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends inside a header, name or record.
    Truncated,
    /// A compression pointer that does not point backwards.
    BadPointer,
    /// A name longer than 255 bytes, or a label type RFC 1035 does not define.
    BadName,
    /// A record whose data length does not fit its type.
    BadRecord,
    /// Not a reply (QR clear).
    NotAReply,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsError::Truncated => "message truncated",
            DnsError::BadPointer => "bad compression pointer",
            DnsError::BadName => "bad name",
            DnsError::BadRecord => "bad record length",
            DnsError::NotAReply => "not a reply",
        })
    }
}

impl std::error::Error for DnsError {}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name, dot-separated, without the final dot.
    pub name: String,
    pub ttl: u32,
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        /// Dot-separated, without the final dot; empty for the root (`.`: no service).
        target: String,
    },
    /// A name (DNS-SD: a service type's instances).
    Ptr(String),
    /// The character strings of a TXT record (DNS-SD: `key=value`), read as UTF-8 (lossy).
    Txt(Vec<String>),
    /// A type this decoder does not read (CNAME, TXT…): its number.
    Other(u16),
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    /// TC: the reply did not fit in a datagram; ask again over TCP.
    pub truncated: bool,
    /// RCODE: 0 no error, 3 no such name.
    pub rcode: u8,
    pub answers: Vec<Record>,
    pub additional: Vec<Record>,
}

/// A query for `name` (dots between labels, a final dot allowed) of type `qtype`, with
/// recursion desired.
pub fn query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name");
    }
    let mut len = 1;
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("label longer than 63 bytes");
        }
        len += label.len() + 1;
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    if len > MAX_NAME {
        return Err("name longer than 255 bytes");
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, DnsError> {
    let b = msg.get(pos..pos + 2).ok_or(DnsError::Truncated)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn u32_at(msg: &[u8], pos: usize) -> Result<u32, DnsError> {
    let b = msg.get(pos..pos + 4).ok_or(DnsError::Truncated)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads the name at `pos`; returns it and the offset after it (after the first pointer if
/// the name is compressed).
fn name_at(msg: &[u8], mut pos: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut wire_len = 1;
    let mut end = None;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok((name, end.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + len).ok_or(DnsError::Truncated)?;
                wire_len += len + 1;
                if wire_len > MAX_NAME {
                    return Err(DnsError::BadName);
                }
                if !name.is_empty() {
                    name.push('.');
                }
                // Names in the records we read are host names; anything else is kept
                // readable and will simply match nothing.
                name.extend(label.iter().map(|&b| {
                    if b.is_ascii_graphic() && b != b'.' {
                        b as char
                    } else {
                        '?'
                    }
                }));
                pos += 1 + len;
            }
            0xc0 => {
                let target = (u16_at(msg, pos)? & 0x3fff) as usize;
                // Strictly backwards: every jump lowers pos, so the loop ends.
                if target >= pos {
                    return Err(DnsError::BadPointer);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(DnsError::BadName),
        }
    }
}

fn record_at(msg: &[u8], pos: usize) -> Result<(Record, usize), DnsError> {
    let (name, pos) = name_at(msg, pos)?;
    let rtype = u16_at(msg, pos)?;
    let ttl = u32_at(msg, pos + 4)?;
    let rdlen = u16_at(msg, pos + 8)? as usize;
    let start = pos + 10;
    let rdata = msg.get(start..start + rdlen).ok_or(DnsError::Truncated)?;
    let data = match rtype {
        TYPE_A => {
            let b: [u8; 4] = rdata.try_into().map_err(|_| DnsError::BadRecord)?;
            Data::A(Ipv4Addr::from(b))
        }
        TYPE_AAAA => {
            let b: [u8; 16] = rdata.try_into().map_err(|_| DnsError::BadRecord)?;
            Data::Aaaa(Ipv6Addr::from(b))
        }
        TYPE_SRV => {
            if rdlen < 7 {
                return Err(DnsError::BadRecord);
            }
            let (target, after) = name_at(msg, start + 6)?;
            if after != start + rdlen {
                return Err(DnsError::BadRecord);
            }
            Data::Srv {
                priority: u16_at(msg, start)?,
                weight: u16_at(msg, start + 2)?,
                port: u16_at(msg, start + 4)?,
                target,
            }
        }
        TYPE_PTR => {
            let (target, after) = name_at(msg, start)?;
            if after != start + rdlen {
                return Err(DnsError::BadRecord);
            }
            Data::Ptr(target)
        }
        TYPE_TXT => {
            let mut strings = Vec::new();
            let mut rest = rdata;
            while let Some((&len, tail)) = rest.split_first() {
                let s = tail.get(..len as usize).ok_or(DnsError::BadRecord)?;
                strings.push(String::from_utf8_lossy(s).into_owned());
                rest = &tail[len as usize..];
            }
            Data::Txt(strings)
        }
        other => Data::Other(other),
    };
    // A TTL with the top bit set is read as 0 (RFC 2181 section 8).
    let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
    Ok((Record { name, ttl, data }, start + rdlen))
}

/// Decodes a reply. Authority records are skipped; answers and additional records of the
/// IN class are returned.
pub fn parse(msg: &[u8]) -> Result<Reply, DnsError> {
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    if flags & 0x8000 == 0 {
        return Err(DnsError::NotAReply);
    }
    let counts = [
        u16_at(msg, 4)?,
        u16_at(msg, 6)?,
        u16_at(msg, 8)?,
        u16_at(msg, 10)?,
    ];
    let mut pos = 12;
    for _ in 0..counts[0] {
        let (_, after) = name_at(msg, pos)?;
        pos = after + 4;
        if pos > msg.len() {
            return Err(DnsError::Truncated);
        }
    }
    let mut reply = Reply {
        id,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        answers: Vec::new(),
        additional: Vec::new(),
    };
    // Each record is at least 11 bytes, so the counts cannot make us loop past the end.
    for (section, &count) in counts.iter().enumerate().skip(1) {
        for _ in 0..count {
            let class = {
                let (_, after) = name_at(msg, pos)?;
                u16_at(msg, after + 2)?
            };
            let (record, after) = record_at(msg, pos)?;
            pos = after;
            if class != CLASS_IN {
                continue;
            }
            match section {
                1 => reply.answers.push(record),
                3 => reply.additional.push(record),
                _ => {}
            }
        }
    }
    Ok(reply)
}

/// Case-insensitive name comparison, ignoring one final dot.
pub fn same_name(a: &str, b: &str) -> bool {
    a.strip_suffix('.')
        .unwrap_or(a)
        .eq_ignore_ascii_case(b.strip_suffix('.').unwrap_or(b))
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
