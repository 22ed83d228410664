//! The host list: 3.4's grammar, and where the list comes from.
//!
//! ```text
//! list    = { spec | comment | "--randomize" | "--localslots"[=/]N | "--localslots_cpp"[=/]N }
//! spec    = "localhost"[/N]
//!         | [user]@host[/N][:command][,opt…]             (ssh)
//!         | host[:port][/N][,opt…] | host[/N][:port][,opt…] | [ipv6][:port][/N][,opt…]
//!         | _service._proto.domain[/N][,opt…]              (DNS SRV, expanded by `discover`)
//!         | "+zeroconf"                                     (mDNS, expanded by `discover`)
//!         | "coord://" host[:port][",tls"]                  (ours: a farm coordinator)
//! opt     = "lzo" | "cpp" | "down" | "tls"                  (tls: ours, tcp and SRV only)
//! ```
//! `coord://` entries are not hosts: they name farm coordinators (docs/coordinator.md), asked
//! in their order, as `DISTCC_COORDINATOR` would list them (which, when set, wins over them).
//! 3.4 rejects such an entry loudly ("bad multiplier", the list unusable), never mistaking
//! it for a host it would try to connect to.
//! Words are separated by blanks and newlines; `#` starts a comment to the end of the line.
//! Sources, first found wins: `DISTCC_HOSTS`, `$DISTCC_DIR/hosts` (or `~/.distcc/hosts`),
//! `/etc/distcc/hosts`. A malformed entry makes the whole list unusable, as in 3.4: the error
//! names the entry, and the client warns and compiles locally (`compile`). `,down` (what
//! `lsdistcc -x` prints) keeps the entry but marks it unusable: it is skipped, as 3.4 skips
//! it. Parsing is pure; only [`find`] reads files.

use std::fmt;
use std::path::PathBuf;

use crate::config::Config;

/// The default distccd port.
pub const DEFAULT_PORT: u16 = 3632;

/// How to reach a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Compile here.
    Local,
    Tcp {
        host: String,
        port: u16,
    },
    /// Over `ssh [-l user] host command`.
    Ssh {
        user: Option<String>,
        host: String,
        command: Option<String>,
    },
    /// A DNS SRV name (its first label starts with `_`, which no host name does): stands
    /// for the hosts and ports the record names. `discover::expand` replaces it with `Tcp`
    /// entries before any slot is chosen; this entry's `/N` and options apply to each.
    Srv {
        name: String,
    },
    /// `+zeroconf`: the daemons 3.4's zeroconf finds for this machine's `cc`, read from the
    /// host file a background browser keeps (`discover`).
    Zeroconf,
    /// `reapi://HOST:PORT/INSTANCE`: a Remote Execution API engine, reached through the
    /// `distcc-reapi` program (`crate::reapi`), so this client links no gRPC.
    Reapi {
        url: String,
    },
}

/// One entry of the host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The entry as written, for `--show-hosts` and logs.
    pub spec: String,
    pub transport: Transport,
    /// Most jobs at once (`/N`): 4 by default, 2 for localhost.
    pub slots: u32,
    /// `,lzo`: protocol 2 (or 3 with `,cpp`).
    pub lzo: bool,
    /// `,cpp`: the host preprocesses (pump mode).
    pub cpp: bool,
    /// `,down`: listed but not to be used (`lsdistcc -x` marks hosts it found down so).
    pub down: bool,
    /// `,tls` (ours): only over TLS (`DISTCC_TLS_*`), never in plain text.
    pub tls: bool,
}

impl Host {
    /// The protocol version the entry asks for.
    pub fn protocol(&self) -> proto::Version {
        match (self.lzo, self.cpp) {
            (true, true) => proto::Version::V3,
            (true, false) => proto::Version::V2,
            _ => proto::Version::V1,
        }
    }

    pub fn is_local(&self) -> bool {
        self.transport == Transport::Local
    }

    /// The part of 3.4's lock and backoff file names after the kind: `tcp_<host>_<port>`,
    /// `ssh_<host>`, or `localhost`.
    pub fn lock_stem(&self) -> String {
        match &self.transport {
            Transport::Local => "localhost".to_owned(),
            Transport::Tcp { host, port } => format!("tcp_{host}_{port}"),
            Transport::Ssh { host, .. } => format!("ssh_{host}"),
            Transport::Srv { name } => format!("srv_{name}"),
            Transport::Zeroconf => "zeroconf".to_owned(),
            Transport::Reapi { url } => {
                let rest = url.strip_prefix("reapi://").unwrap_or(url);
                format!("reapi_{}", rest.replace(['/', ':', '[', ']'], "_"))
            }
        }
    }
}

/// A parsed host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostList {
    pub hosts: Vec<Host>,
    /// `--randomize` was given (already applied by [`parse`]'s caller through [`HostList::randomize`]).
    pub randomize: bool,
    /// `--localslots`: local jobs at once (3.4's default 4).
    pub local_slots: u32,
    /// `--localslots_cpp`: local preprocessors at once (3.4's default 8).
    pub local_slots_cpp: u32,
    /// Where the list came from, for messages.
    pub source: String,
    /// `coord://` entries: the farm coordinators to ask for a lease first (`client::coord`).
    pub coordinators: Vec<crate::coord::Target>,
}

/// A malformed host list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpecError {
    pub source: String,
    pub spec: String,
    pub why: &'static str,
}

impl fmt::Display for HostSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad host specification {:?} in {}: {}",
            self.spec, self.source, self.why
        )
    }
}

impl std::error::Error for HostSpecError {}

/// Parses a whole host list (the contents of `DISTCC_HOSTS` or a hosts file).
pub fn parse(text: &str, source: &str) -> Result<HostList, HostSpecError> {
    let mut list = HostList {
        hosts: Vec::new(),
        randomize: false,
        local_slots: 4,
        local_slots_cpp: 8,
        source: source.to_owned(),
        coordinators: Vec::new(),
    };
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            rest = &rest[end..];
            continue;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '#')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let bad = |why| HostSpecError {
            source: source.to_owned(),
            spec: word.to_owned(),
            why,
        };
        if word == "--randomize" {
            list.randomize = true;
        } else if let Some(n) = word.strip_prefix("--localslots_cpp") {
            list.local_slots_cpp =
                multiplier(n).ok_or_else(|| bad("expected --localslots_cpp=N"))?;
        } else if let Some(n) = word.strip_prefix("--localslots") {
            list.local_slots = multiplier(n).ok_or_else(|| bad("expected --localslots=N"))?;
        } else if word == "+zeroconf" {
            list.hosts.push(Host {
                spec: word.to_owned(),
                transport: Transport::Zeroconf,
                slots: 4,
                lzo: false,
                cpp: false,
                down: false,
                tls: false,
            });
        } else if let Some(target) = word.strip_prefix("coord://") {
            list.coordinators.push(
                crate::coord::parse_target(target)
                    .ok_or_else(|| bad("a coordinator is coord://HOST[:PORT][,tls]"))?,
            );
        } else if word.starts_with("--") {
            return Err(bad("unknown option"));
        } else {
            list.hosts.push(parse_host(word).map_err(bad)?);
        }
    }
    Ok(list)
}

/// `/N` or `=N` with N ≥ 1 and nothing after it.
fn multiplier(s: &str) -> Option<u32> {
    let n = s.strip_prefix(['/', '='])?;
    n.parse::<u32>().ok().filter(|&n| n > 0)
}

/// Splits a leading `/N`, returning the limit and the rest.
fn take_limit(s: &str) -> Result<(Option<u32>, &str), &'static str> {
    let Some(after) = s.strip_prefix('/') else {
        return Ok((None, s));
    };
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let n: u32 = after[..digits]
        .parse()
        .map_err(|_| "bad job limit after '/'")?;
    if n == 0 {
        return Err("the job limit must be at least 1");
    }
    Ok((Some(n), &after[digits..]))
}

/// The `,opt…` tail: lzo, cpp, down, tls.
fn take_options(s: &str) -> Result<(bool, bool, bool, bool), &'static str> {
    let (mut lzo, mut cpp, mut down, mut tls) = (false, false, false, false);
    if s.is_empty() {
        return Ok((lzo, cpp, down, tls));
    }
    let Some(opts) = s.strip_prefix(',') else {
        return Err("unexpected text after the host");
    };
    for opt in opts.split(',') {
        match opt {
            "lzo" => lzo = true,
            "cpp" => cpp = true,
            "down" => down = true,
            "tls" => tls = true,
            "auth" => {
                return Err(
                    "gss-api authentication (,auth) is not supported: use ,tls with a client certificate or token (DISTCC_TLS_*)",
                );
            }
            _ => return Err("unknown option (expected lzo, cpp, down or tls)"),
        }
    }
    if cpp && !lzo {
        return Err("pump mode (,cpp) requires compression (,lzo)");
    }
    Ok((lzo, cpp, down, tls))
}

fn parse_host(word: &str) -> Result<Host, &'static str> {
    let spec = word.to_owned();
    if word.starts_with("reapi://") {
        let end = word.find(',').unwrap_or(word.len());
        let url = &word[..end];
        let authority = url["reapi://".len()..].split('/').next().unwrap_or("");
        if !authority.contains(':') || authority.contains(['@', '?', '#']) {
            return Err("an REAPI engine is reapi://HOST:PORT[/INSTANCE]");
        }
        let (lzo, cpp, down, tls) = take_options(&word[end..])?;
        return Ok(Host {
            spec,
            transport: Transport::Reapi {
                // `distcc-reapi` reads `,tls` in the address (its channel's TLS, checked
                // with the DISTCC_TLS_* variables as for a `,tls` host).
                url: if tls {
                    format!("{url},tls")
                } else {
                    url.to_owned()
                },
            },
            // The engine queues; this bounds what one machine has in flight to it.
            slots: 16,
            lzo,
            cpp,
            down,
            tls: false,
        });
    }
    if let Some(rest) = word.strip_prefix("localhost")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        let (limit, tail) = take_limit(rest)?;
        if !tail.is_empty() {
            return Err("unexpected text after localhost/N");
        }
        return Ok(Host {
            spec,
            transport: Transport::Local,
            slots: limit.unwrap_or(2),
            lzo: false,
            cpp: false,
            down: false,
            tls: false,
        });
    }
    if let Some(at) = word.find('@') {
        let user = (at > 0).then(|| word[..at].to_owned());
        let rest = &word[at + 1..];
        let end = rest.find(['/', ':', ',']).unwrap_or(rest.len());
        let host = &rest[..end];
        if host.is_empty() {
            return Err("an ssh host needs a host name after '@'");
        }
        let (limit, mut tail) = take_limit(&rest[end..])?;
        let mut command = None;
        if let Some(c) = tail.strip_prefix(':') {
            let cend = c.find(',').unwrap_or(c.len());
            if cend == 0 {
                return Err("empty ssh command after ':'");
            }
            command = Some(c[..cend].to_owned());
            tail = &c[cend..];
        }
        let (lzo, cpp, down, tls) = take_options(tail)?;
        if tls {
            return Err("ssh already encrypts: ,tls is for tcp hosts");
        }
        return Ok(Host {
            spec,
            transport: Transport::Ssh {
                user,
                host: host.to_owned(),
                command,
            },
            slots: limit.unwrap_or(4),
            lzo,
            cpp,
            down,
            tls,
        });
    }
    let (host, rest) = if let Some(v6) = word.strip_prefix('[') {
        let close = v6
            .find(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        (&v6[..close], &v6[close + 1..])
    } else {
        let end = word.find(['/', ':', ',']).unwrap_or(word.len());
        (&word[..end], &word[end..])
    };
    if host.is_empty() {
        return Err("a host name is required");
    }
    // Both orders 3.4 accepts: host:port/N and host/N:port.
    let (limit1, rest) = take_limit(rest)?;
    let (port, rest) = match rest.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            let port: u16 = p[..digits].parse().map_err(|_| "bad port number")?;
            if port == 0 {
                return Err("bad port number");
            }
            (port, &p[digits..])
        }
        None => (DEFAULT_PORT, rest),
    };
    let (limit2, rest) = take_limit(rest)?;
    if limit1.is_some() && limit2.is_some() {
        return Err("two job limits");
    }
    let (lzo, cpp, down, tls) = take_options(rest)?;
    if host.starts_with('_') {
        if word[host.len()..].contains(':') {
            return Err("an SRV name takes its ports from DNS: no ':PORT'");
        }
        return Ok(Host {
            spec,
            transport: Transport::Srv {
                name: host.to_owned(),
            },
            slots: limit1.unwrap_or(4),
            lzo,
            cpp,
            down,
            tls,
        });
    }
    Ok(Host {
        spec,
        transport: Transport::Tcp {
            host: host.to_owned(),
            port,
        },
        slots: limit1.or(limit2).unwrap_or(4),
        lzo,
        cpp,
        down,
        tls,
    })
}

impl HostList {
    /// Total job slots over all hosts that are not marked `,down` (`distcc -j`).
    pub fn total_slots(&self) -> u32 {
        self.hosts.iter().filter(|h| !h.down).map(|h| h.slots).sum()
    }

    /// Shuffles the hosts with a generator seeded by `seed` (3.4 seeds with its pid).
    pub fn randomize(&mut self, seed: u64) {
        let mut state = seed | 1;
        let mut keyed: Vec<(u64, Host)> = self
            .hosts
            .drain(..)
            .map(|h| {
                // xorshift64: any cheap generator will do; only the order matters.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state, h)
            })
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        self.hosts = keyed.into_iter().map(|(_, h)| h).collect();
    }
}

/// Where the host list comes from, and its text.
pub enum Source {
    Found {
        name: String,
        text: String,
    },
    /// No list anywhere: 3.4 warns and compiles locally.
    None,
}

/// Finds the host list in 3.4's order. A file that exists but cannot be read is an error.
pub fn find(config: &Config) -> std::io::Result<Source> {
    if let Some(text) = &config.hosts {
        return Ok(Source::Found {
            name: "$DISTCC_HOSTS".to_owned(),
            text: text.clone(),
        });
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(top) = config.top_dir() {
        candidates.push(top.join("hosts"));
    }
    candidates.push(PathBuf::from("/etc/distcc/hosts"));
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => {
                return Ok(Source::Found {
                    name: path.display().to_string(),
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(Source::None)
}

#[cfg(test)]
#[path = "hosts_tests.rs"]
mod tests;
