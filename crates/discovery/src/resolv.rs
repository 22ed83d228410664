//! One DNS question to the system's name servers: `nameserver` lines of /etc/resolv.conf
//! (the first three, as glibc), UDP with a timeout per try, TCP when the reply is truncated.
//! Names are asked as written: no search domains (a service name is always absolute).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::LookupError;
use crate::dns::{self, Reply};

/// The name servers a `resolv.conf` names, port 53; glibc's default (the local host) when
/// it names none.
pub fn nameservers(conf: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_ascii_whitespace();
            (words.next() == Some("nameserver")).then_some(())?;
            // A scoped IPv6 address (fe80::1%eth0) is not supported by std; skipped.
            words.next()?.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .take(3)
        .collect();
    if out.is_empty() {
        out.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    out
}

/// Where and how long to ask.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub servers: Vec<SocketAddr>,
    /// Per try and server.
    pub timeout: Duration,
    /// Rounds over the server list.
    pub attempts: u32,
}

impl Resolver {
    /// The servers of /etc/resolv.conf; 2 s per try, two rounds.
    pub fn system() -> Resolver {
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        Resolver {
            servers: nameservers(&conf),
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }

    /// Asks for `name`'s records of type `qtype`. A "no such name" reply (RCODE 3) is an
    /// answer with no records, not an error.
    pub fn ask(&self, name: &str, qtype: u16) -> Result<Reply, LookupError> {
        let mut last = LookupError::NoServer;
        for attempt in 0..self.attempts {
            for &server in &self.servers {
                let id = question_id(attempt);
                let q = dns::query(id, name, qtype).map_err(LookupError::BadName)?;
                match self.udp(server, &q, id) {
                    Ok(r) if r.truncated => match self.tcp(server, &q, id) {
                        Ok(r) => return check(r),
                        Err(e) => last = e,
                    },
                    Ok(r) => match check(r) {
                        Ok(r) => return Ok(r),
                        Err(e) => last = e,
                    },
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    fn udp(&self, server: SocketAddr, q: &[u8], id: u16) -> Result<Reply, LookupError> {
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = UdpSocket::bind(local).map_err(LookupError::Io)?;
        // connect: the kernel then drops datagrams from any other source.
        sock.connect(server).map_err(LookupError::Io)?;
        sock.set_read_timeout(Some(self.timeout))
            .map_err(LookupError::Io)?;
        sock.send(q).map_err(LookupError::Io)?;
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).map_err(LookupError::Io)?;
            match dns::parse(&buf[..n]) {
                Ok(r) if r.id == id => return Ok(r),
                // A late answer to an earlier question, or noise: keep waiting.
                Ok(_) => continue,
                Err(e) => return Err(LookupError::Malformed(e)),
            }
        }
    }

    fn tcp(&self, server: SocketAddr, q: &[u8], id: u16) -> Result<Reply, LookupError> {
        let mut s = TcpStream::connect_timeout(&server, self.timeout).map_err(LookupError::Io)?;
        s.set_read_timeout(Some(self.timeout))
            .map_err(LookupError::Io)?;
        s.set_write_timeout(Some(self.timeout))
            .map_err(LookupError::Io)?;
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(q);
        s.write_all(&framed).map_err(LookupError::Io)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).map_err(LookupError::Io)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).map_err(LookupError::Io)?;
        let r = dns::parse(&buf).map_err(LookupError::Malformed)?;
        if r.id != id {
            return Err(LookupError::Malformed(dns::DnsError::BadRecord));
        }
        Ok(r)
    }
}

fn check(r: Reply) -> Result<Reply, LookupError> {
    match r.rcode {
        0 | 3 => Ok(r),
        c => Err(LookupError::Rcode(c)),
    }
}

/// A question id that another process or an earlier try is unlikely to share (no
/// randomness crate: the clock's nanoseconds and the pid are enough, since the socket is
/// connected to the server and only its replies arrive).
fn question_id(attempt: u32) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ std::process::id().rotate_left(16) ^ attempt) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_servers_as_glibc_reads_them() {
        let conf = "# c\nsearch x\nnameserver 10.0.0.1\nnameserver  ::1 \nnameserver bad\n\
                    nameserver 10.0.0.2\nnameserver 10.0.0.3\n";
        let s = nameservers(conf);
        assert_eq!(
            s,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "10.0.0.2:53".parse().unwrap()
            ]
        );
        assert_eq!(nameservers(""), vec!["127.0.0.1:53".parse().unwrap()]);
    }

    #[test]
    fn a_silent_server_times_out_as_an_io_error() {
        // A bound UDP socket that never answers.
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = Resolver {
            servers: vec![quiet.local_addr().unwrap()],
            timeout: Duration::from_millis(100),
            attempts: 1,
        };
        assert!(matches!(
            r.ask("_distcc._tcp.x", dns::TYPE_SRV),
            Err(LookupError::Io(_))
        ));
    }
}
