//! One exchange with a server: connect (TCP within 4 s, or an ssh child through `ssh`),
//! send the head while the local preprocessor still runs, then the preprocessed source (or, in
//! pump mode, the head and the include server's file list), then read the reply, with
//! `DISTCC_IO_TIMEOUT` on every read and write. The protocol is spoken over a [`Stream`],
//! whichever the transport. Every way this can fail is a
//! [`CommFailure`]: the caller backs the host off and tries elsewhere.
//!
//! Protocol 4 (docs/protocol-4.md): a host that `learned` remembers as `protocol=4` gets it
//! (unless `DISTCC_PROTOCOL` is below 4): `CCID`, `FLAG`, zstd bodies, and an answer that
//! may be a refusal ([`Attempt::Refused`]). If such an attempt ends before any byte of a
//! reply (a 3.4 daemon now at that address closes on `DIST 4`), the host is forgotten and the
//! same job goes at once to the same host in 1–3: no backoff, no failed compile. After a
//! 1–3 reply, the advertisement trailer behind it is read (until it is whole or the server
//! closes, within [`TRAILER_WAIT`]) and remembered. When it names the compiler that ran
//! (`ran=`) and that is not the client's own (its `CCID`), the reply is discarded and the same
//! job goes at once to the same host in protocol 4, which runs the client's compiler by
//! identity or refuses with `RSLT 300`: an object from another compiler is never returned.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, SystemTime};

use os::exit::ExitCode;
use proto::{Answer, Limits, Reply, RequestHead, Token, Version};

use crate::hosts::{Host, Transport};
use crate::log::Log;
use crate::ssh;
use crate::transport::Stream;

/// 3.4's connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// The longest wait, after a 1–3 reply, for the rest of the advertisement trailer or the end
/// of the stream. Our daemon sends the trailer in the reply's write and closes, 3.4's closes
/// after the reply: neither makes this wait in practice.
pub const TRAILER_WAIT: Duration = Duration::from_secs(1);

/// Why the host could not do the job. Never the user's code's fault.
#[derive(Debug)]
pub struct CommFailure {
    pub why: String,
    pub code: ExitCode,
}

fn fail(code: ExitCode, why: impl Into<String>) -> CommFailure {
    CommFailure {
        why: why.into(),
        code,
    }
}

/// The outcome of an attempt.
pub enum Attempt {
    Reply(Reply),
    /// The local preprocessor failed; the connection was dropped. Not the host's fault.
    CppFailed,
    Comm(CommFailure),
    /// Protocol 4: the server refused the job or failed, and said why (`RSLT`, `TEXT`).
    Refused(proto::Refusal),
    /// A protocol 4 attempt ended before any reply; [`attempt`] sends the job again in 1–3
    /// and never returns this.
    NoV4(CommFailure),
}

/// Things the exchange reports as it goes (monitor phases).
pub trait Progress {
    fn connecting(&mut self) {}
    fn preprocessing(&mut self) {}
    fn sending(&mut self) {}
    fn compiling(&mut self) {}
    fn receiving(&mut self) {}
}

/// How to reach servers: what every attempt needs besides the job.
pub struct Link<'a> {
    pub io_timeout: Duration,
    /// `DISTCC_TCP_CORK`.
    pub cork: bool,
    pub ssh: &'a ssh::Settings,
    /// For `,tls` hosts.
    pub tls: &'a crate::transport::Tls,
    pub log: &'a Log,
    /// `$DISTCC_DIR`, where what hosts advertised is remembered (`learned`).
    pub top: &'a Path,
    /// `DISTCC_PROTOCOL`: protocol 4 only when this is 4.
    pub max_protocol: u32,
    /// The compiler identity sent as `CCID` in protocol 4 (`ccid::for_job`); empty: 1-3 only.
    pub ccid: &'a [u8],
    /// The job's result cache key (`cache`, a local miss): sent as `CKEY` in protocol 4 plain
    /// mode to a host that advertised `cache=1`, which answers before the source is sent.
    pub cache_key: Option<[u8; proto::CACHE_KEY_LEN]>,
    /// `DISTCC_CHUNKS` (on): send a plain protocol 4 source in chunks to a host that
    /// advertised `chunks=1` (`crate::chunks`).
    pub chunks: bool,
}

/// What follows the command line in a request.
pub enum Body<'a> {
    /// Protocol 1 or 2 (a `,cpp` host gets 2): the preprocessed source, from a function
    /// that blocks until the local preprocessor is done and returns it, or `None` if it
    /// failed.
    Preprocessed(&'a mut dyn FnMut() -> Option<Vec<u8>>),
    /// Protocol 3 (pump): the working directory and the include server's file list.
    Pump {
        cwd: &'a [u8],
        closure: &'a crate::pump::Closure,
    },
}

/// Runs one job on `host`: in protocol 4 when the host is remembered as speaking it, and in
/// 1–3 at once if that attempt ends before any reply (see the module's doc).
pub fn attempt(
    host: &Host,
    argv: &[Vec<u8>],
    link: &Link<'_>,
    progress: &mut dyn Progress,
    body: &mut Body<'_>,
) -> Attempt {
    let now = SystemTime::now();
    let pump = matches!(body, Body::Pump { .. });
    // No identity, no protocol 4: a protocol 4 daemon runs only the client's own compiler.
    // A `,tls` host is ours (docs/protocol-4.md): protocol 4 from the first job.
    // What the host advertised, read once for both questions (protocol 4? a shared cache?).
    let learned = (link.max_protocol >= 4 && !link.ccid.is_empty())
        .then(|| crate::learned::load(link.top, host, now))
        .flatten();
    let speaks_v4 = learned
        .as_ref()
        .and_then(|a| a.protocol())
        .is_some_and(|p| p >= 4);
    if link.max_protocol >= 4 && !link.ccid.is_empty() && (host.tls || speaks_v4) {
        let shares = learned.as_ref().is_some_and(|a| shares_its_cache(a, pump));
        let chunks = link.chunks && !pump && learned.as_ref().is_some_and(offers_chunks);
        let v4 = V4 {
            shares,
            chunks,
            remembered: learned.clone(),
        };
        match attempt_as(host, argv, link, progress, body, Some(v4), &mut None) {
            Attempt::NoV4(f) => {
                crate::learned::forget(link.top, host);
                link.log.info(format_args!(
                    "{} did not answer protocol 4 ({}); forgetting what it advertised and sending the job again in protocol {}",
                    host.spec,
                    f.why,
                    host.protocol().number()
                ));
            }
            other => {
                if matches!(other, Attempt::Reply(_) | Attempt::Refused(_)) {
                    crate::learned::renew(link.top, host, now);
                }
                return other;
            }
        }
    }
    let mut ran_other = None;
    let first = attempt_as(host, argv, link, progress, body, None, &mut ran_other);
    let (Attempt::Reply(_), Some(ran)) = (&first, ran_other) else {
        return first;
    };
    // Another compiler than the client's ran this job: its object is dropped here, unwritten.
    drop(first);
    link.log.warning(format_args!(
        "{} ran {ran}; discarding its result and sending the job again in protocol 4",
        host.spec
    ));
    // What the reply's advertisement just taught.
    let learned = crate::learned::load(link.top, host, SystemTime::now());
    let v4 = V4 {
        shares: learned.as_ref().is_some_and(|a| shares_its_cache(a, pump)),
        chunks: link.chunks && !pump && learned.as_ref().is_some_and(offers_chunks),
        remembered: learned.clone(),
    };
    match attempt_as(host, argv, link, progress, body, Some(v4), &mut None) {
        // Never 1–3 again: that would run the same other compiler.
        Attempt::NoV4(f) => Attempt::Comm(f),
        other => {
            if matches!(other, Attempt::Reply(_) | Attempt::Refused(_)) {
                crate::learned::renew(link.top, host, SystemTime::now());
            }
            other
        }
    }
}

/// When the advertisement after a 1–3 reply names the compiler that ran (`ran=`,
/// `ran-target=`, `ran-version=`) and that is not the one `ccid` (the client's `CCID`)
/// identifies: a sentence naming both. `None` when they match, or either side is unknown.
pub fn ran_other_compiler(ccid: &[u8], advert: &proto::advert::Advert) -> Option<String> {
    let fingerprint = advert.get("ran")?;
    let ours = identity::Identity::parse(ccid).ok()?;
    let target = advert.get("ran-target");
    if fingerprint == ours.fingerprint && target.is_none_or(|t| t == ours.target) {
        return None;
    }
    let theirs = identity::Identity {
        target: target.unwrap_or("?").to_owned(),
        version: advert.get("ran-version").unwrap_or("?").to_owned(),
        fingerprint: fingerprint.to_owned(),
        name: ours.name.clone(),
    };
    Some(format!(
        "another compiler than this client's: {}, not {}",
        theirs.describe(),
        ours.describe()
    ))
}

/// What a protocol 4 attempt may use of what the host advertised.
#[derive(Debug, Clone, Default)]
struct V4 {
    /// A shared result cache for this kind of request (`cache=1`/`cache=2`).
    shares: bool,
    /// Chunked sources (`chunks=1`), not turned off by `DISTCC_CHUNKS=0`; plain mode only.
    chunks: bool,
    /// What `learned` remembered before this attempt: the trailer after its reply is merged
    /// into it, and nothing is written when that changes nothing.
    remembered: Option<proto::advert::Advert>,
}

/// One attempt: in protocol 4 when `v4` is `Some` (saying what the host advertised that
/// this attempt may use), else in 1–3.
fn attempt_as(
    host: &Host,
    argv: &[Vec<u8>],
    link: &Link<'_>,
    progress: &mut dyn Progress,
    body: &mut Body<'_>,
    v4: Option<V4>,
    ran_other: &mut Option<String>,
) -> Attempt {
    let (v4, features) = (v4.is_some(), v4.unwrap_or_default());
    let shares_cache = features.shares;
    if v4 {
        link.log
            .debug(format_args!("speaking protocol 4 to {}", host.spec));
    }
    let mut ex = Exchange {
        host,
        argv,
        progress,
        body,
        v4,
        top: link.top,
        ccid: link.ccid,
        cache_key: if shares_cache { link.cache_key } else { None },
        chunks: v4 && features.chunks,
        remembered: features.remembered,
        log: link.log,
        cork: false,
        io_timeout: link.io_timeout,
        // Only a client that could speak protocol 4 instead looks at what ran.
        compare_ccid: if link.max_protocol >= 4 {
            link.ccid
        } else {
            &[]
        },
        ran_other: None,
    };
    let attempt = match &host.transport {
        Transport::Tcp { host: name, port } => {
            ex.progress.connecting();
            let stream = match connect(name, *port) {
                Ok(s) if host.tls => match secure(link, name, s) {
                    Ok(s) => s,
                    Err(e) => return e,
                },
                Ok(s) => Stream::Tcp(s),
                Err(e) => return Attempt::Comm(e),
            };
            stream.set_io_timeout(link.io_timeout);
            ex.cork = link.cork;
            ex.run(&stream)
        }
        Transport::Ssh {
            user,
            host: machine,
            command,
        } => {
            let target = ssh::Target {
                user: user.as_deref(),
                machine,
                command: command.as_deref(),
            };
            // After a reply over a session: the far user's held daemon, if the reply's
            // advertisement named one (`ssh-socket=`, remembered by `learned`).
            let held_socket = || {
                crate::learned::load(link.top, host, SystemTime::now())
                    .and_then(|a| a.get("ssh-socket").map(str::to_owned))
            };
            ssh::attempt(
                link.ssh,
                &target,
                link.io_timeout,
                link.log,
                &held_socket,
                &mut |stream| {
                    ex.progress.connecting();
                    ex.run(stream)
                },
            )
        }
        Transport::Reapi { url } => {
            crate::reapi::attempt(url, link.ccid, link.io_timeout, link.log, &mut |s| {
                ex.progress.connecting();
                ex.run(s)
            })
        }
        Transport::Local => unreachable!("callers run localhost jobs locally"),
        // `discover::expand` replaced every SRV entry before slots were chosen.
        Transport::Srv { name } => Attempt::Comm(fail(
            ExitCode::ConnectFailed,
            format!("SRV name {name} was not expanded"),
        )),
        Transport::Zeroconf => {
            Attempt::Comm(fail(ExitCode::ConnectFailed, "+zeroconf was not expanded"))
        }
    };
    *ran_other = ex.ran_other.take();
    attempt
}

/// The TLS handshake on a fresh connection, within `DISTCC_IO_TIMEOUT` per read and write.
/// A `,tls` host is never tried in plain text: a failure here is the attempt's end, as a
/// credentials refusal (4xx: no backoff, another host) when the client must fix something,
/// else as a comm failure.
fn secure(link: &Link<'_>, name: &str, tcp: TcpStream) -> Result<Stream, Attempt> {
    let t = Some(link.io_timeout.max(Duration::from_millis(1)));
    let _ = tcp.set_read_timeout(t).and(tcp.set_write_timeout(t));
    link.tls.connect(name, tcp).map_err(|e| match e {
        Ok(refused) => tls_refusal(&refused),
        Err(why) => Attempt::Comm(fail(ExitCode::ConnectFailed, why)),
    })
}

/// A TLS-level refusal (`tls::explain::Refused`) as protocol 4's class for it: 400, the
/// client's credentials.
fn tls_refusal(r: &tls::explain::Refused) -> Attempt {
    Attempt::Refused(proto::Refusal {
        code: 400,
        text: format!("TLS: {r}"),
    })
}

/// One exchange's parts.
struct Exchange<'e, 'b> {
    host: &'e Host,
    argv: &'e [Vec<u8>],
    progress: &'e mut dyn Progress,
    body: &'e mut Body<'b>,
    /// Speak protocol 4.
    v4: bool,
    top: &'e Path,
    ccid: &'e [u8],
    /// Sent with the request (plain mode only): the daemon answers from its cache or asks
    /// for the source.
    cache_key: Option<[u8; proto::CACHE_KEY_LEN]>,
    /// Protocol 4 plain mode: `FLAG` bit 2, the source as chunks when large enough.
    chunks: bool,
    /// Protocol 4: what `learned` remembered before this attempt.
    remembered: Option<proto::advert::Advert>,
    log: &'e Log,
    cork: bool,
    io_timeout: Duration,
    /// The client's `CCID`, compared with what a 1–3 reply's advertisement says ran (empty:
    /// no comparison).
    compare_ccid: &'e [u8],
    /// Set when the compiler that ran a 1–3 job was not the client's (a sentence naming both).
    ran_other: Option<String>,
}

/// Counts the bytes read, to tell "no reply at all" from a reply cut short.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl Exchange<'_, '_> {
    /// The protocol over a connected stream.
    fn run(&mut self, stream: &Stream) -> Attempt {
        let (host, cork, v4) = (self.host, self.cork, self.v4);
        let (version, cwd) = match &self.body {
            Body::Pump { cwd, .. } if v4 => (Version::V4, Some(cwd.to_vec())),
            Body::Preprocessed(_) if v4 => (Version::V4, None),
            Body::Pump { cwd, .. } => (Version::V3, Some(cwd.to_vec())),
            // A `,cpp` host whose compile is preprocessed here gets protocol 2, as from 3.4.
            Body::Preprocessed(_) => match host.protocol() {
                Version::V3 => (Version::V2, None),
                v => (v, None),
            },
        };
        let cwd_is_none = cwd.is_none();
        let mut head = Vec::new();
        proto::write_request_head(
            &mut head,
            &RequestHead {
                version,
                cwd,
                argv: self.argv.to_vec(),
                ccid: v4.then(|| self.ccid.to_vec()),
                cache_key: if v4 { self.cache_key } else { None },
                chunked: v4 && self.chunks && cwd_is_none,
            },
        );
        // A failed send in protocol 4 may be a 3.4 daemon that closed on `DIST 4`; a timeout
        // is not that. Our daemon may have stopped reading to refuse (a spent memory budget):
        // its answer, if one came, is read first.
        let send_failed = |what: &str, e: &std::io::Error| {
            if let Some(r) = tls::explain::refused(e) {
                tls_refusal(r)
            } else if v4 && !timed_out(e) {
                let mut r = BufReader::new(stream);
                if let Ok((Answer::Refused(refusal), _)) =
                    proto::read_answer(&mut r, version, &Limits::DEFAULT)
                {
                    return Attempt::Refused(refusal);
                }
                Attempt::NoV4(fail(ExitCode::IoError, format!("{what}: {e}")))
            } else {
                Attempt::Comm(io_failure(what, e))
            }
        };
        match &mut self.body {
            Body::Pump { closure, .. } => {
                self.progress.sending();
                if cork {
                    stream.cork(true);
                }
                // With a cache key the head goes alone and the daemon speaks first: its
                // cached result, a refusal, or `CMIS` (send the files).
                if v4 && self.cache_key.is_some() {
                    if let Err(e) = (&*stream).write_all(&head) {
                        return send_failed("sending the request", &e);
                    }
                    if let Some(answer) = verdict(stream, host, &mut *self.progress) {
                        return answer;
                    }
                    head.clear();
                }
                let encoded = if v4 {
                    crate::pump::encode_files_v4(&mut head, closure)
                } else {
                    crate::pump::encode_files(&mut head, closure)
                };
                if let Err(e) = encoded.and_then(|()| (&*stream).write_all(&head)) {
                    return send_failed("sending the request and its files", &e);
                }
            }
            Body::Preprocessed(wait_cpp) => {
                // The command line leaves now, ahead of the source, uncorked: our daemon starts
                // the compiler on it while the preprocessor still runs here.
                if let Err(e) = (&*stream).write_all(&head) {
                    return send_failed("sending the request", &e);
                }
                self.progress.preprocessing();
                let Some(source) = wait_cpp() else {
                    return Attempt::CppFailed;
                };
                // With a cache key the daemon speaks first: its cached result, a refusal,
                // or `CMIS` (send the source).
                if v4
                    && self.cache_key.is_some()
                    && let Some(answer) = verdict(stream, host, &mut *self.progress)
                {
                    return answer;
                }
                self.progress.sending();
                if v4 && self.chunks && source.len() >= crate::chunks::THRESHOLD {
                    let key = crate::chunks::key(self.top);
                    if let Some(answer) = send_chunks(stream, &key, &source, &send_failed, self.log)
                    {
                        return answer;
                    }
                    return self.reply(stream, version, cork);
                }
                if cork {
                    stream.cork(true);
                }
                let mut w = BufWriter::with_capacity(64 * 1024, stream);
                let sent = proto::write_body(&mut w, Token::DOTI, version.compression(), &source)
                    .and_then(|()| w.flush());
                drop(w);
                if let Err(e) = sent {
                    return send_failed("sending the source", &e);
                }
            }
        }
        self.reply(stream, version, cork)
    }

    /// Reads the answer once the request is sent.
    fn reply(&mut self, stream: &Stream, version: Version, cork: bool) -> Attempt {
        let v4 = self.v4;
        if cork {
            stream.cork(false);
        }
        self.progress.compiling();
        let mut r = BufReader::with_capacity(
            64 * 1024,
            Counting {
                inner: stream,
                count: 0,
            },
        );
        let answer = proto::read_answer(&mut r, version, &Limits::DEFAULT);
        match answer {
            Ok((Answer::Ran(reply), trailer)) => {
                self.progress.receiving();
                if !v4 && let Some(advert) = self.learn(stream, &mut r, trailer) {
                    self.ran_other = ran_other_compiler(self.compare_ccid, &advert);
                } else if v4 && !matches!(self.host.transport, Transport::Reapi { .. }) {
                    // Our daemon appends its advertisement to a protocol 4 reply too: how
                    // a `,tls` host, which never gets 1-3, tells what it offers.
                    self.learn(stream, &mut r, trailer);
                }
                Attempt::Reply(reply)
            }
            Ok((Answer::Refused(refusal), _)) => Attempt::Refused(refusal),
            Err(proto::ProtoError::Io(e)) if tls::explain::refused(&e).is_some() => {
                tls::explain::refused(&e).map_or(Attempt::CppFailed, tls_refusal)
            }
            Err(proto::ProtoError::Io(e)) if timed_out(&e) => {
                Attempt::Comm(io_failure("waiting for the reply", &e))
            }
            // Nothing came back from a protocol 4 request: perhaps a 3.4 daemon, which
            // closes without a word on `DIST 4`.
            Err(e) if v4 && r.get_ref().count == 0 && e.is_disconnect() => {
                Attempt::NoV4(fail(ExitCode::IoError, format!("no reply ({e})")))
            }
            Err(e) if e.is_disconnect() => Attempt::Comm(fail(
                ExitCode::IoError,
                format!(
                    "server provided no answer or a truncated one ({e}); it may refuse this client, this compiler or these options"
                ),
            )),
            Err(e) => Attempt::Comm(fail(ExitCode::ProtocolError, format!("bad reply: {e}"))),
        }
    }

    /// Reads and remembers the advertisement behind a 1–3 reply (`trailer`: its header was
    /// read in place of a missing `DOTD`): what is buffered, then more until it is whole or
    /// the server closes, within [`TRAILER_WAIT`] (both our daemon and 3.4's close right after
    /// the reply, so this costs no round trip). Whatever does not arrive is learned next time.
    fn learn(
        &self,
        stream: &Stream,
        r: &mut BufReader<Counting<&Stream>>,
        trailer: Option<u32>,
    ) -> Option<proto::advert::Advert> {
        let mut bytes = Vec::new();
        if let Some(len) = trailer {
            proto::encode_header(&mut bytes, proto::advert::ADVT, len);
        }
        let whole = proto::HEADER_LEN + proto::advert::MAX_LEN;
        let buffered = r.buffer();
        bytes.extend_from_slice(&buffered[..buffered.len().min(whole + 1)]);
        let consumed = buffered.len();
        r.consume(consumed);
        let deadline = std::time::Instant::now() + TRAILER_WAIT.min(self.io_timeout);
        let mut more = [0u8; 512];
        // Nothing yet, or a part of a trailer: wait for the rest or the end (capped: one byte
        // past the largest trailer is already malformed).
        while bytes.len() <= whole
            && matches!(
                proto::advert::parse(&bytes),
                Ok(None) | Err(proto::ProtoError::Truncated { .. })
            )
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            stream.set_io_timeout(left);
            let room = (whole + 1 - bytes.len()).min(more.len());
            match (&*stream).read(&mut more[..room]) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&more[..n]),
            }
        }
        stream.set_io_timeout(self.io_timeout);
        let advert = proto::advert::parse(&bytes).ok().flatten()?;
        // What the host can do is remembered; what ran for this job is not.
        let mut lasting = advert.clone();
        lasting
            .entries
            .retain(|(k, _)| k != "ran" && !k.starts_with("ran-"));
        // After a protocol 4 reply, keys this answer does not carry are kept: the held
        // daemon behind an ssh host does not name its own socket (`ssh-socket=`).
        if self.v4 {
            if let Some(old) = &self.remembered {
                for (k, v) in &old.entries {
                    if lasting.get(k).is_none() {
                        lasting.entries.push((k.clone(), v.clone()));
                    }
                }
            }
            // Unchanged: nothing to write (`learned::renew` keeps the memory fresh).
            if self.remembered.as_ref() == Some(&lasting) {
                return Some(advert);
            }
        }
        crate::learned::store(self.top, self.host, &lasting, SystemTime::now());
        Some(advert)
    }
}

/// Sends `source` in chunks (docs/protocol-4.md "Chunked source"): the list, then, after the
/// daemon's `NEED`, the missing chunks as one `DOTI` body. `None`: sent, read the reply;
/// otherwise how the attempt ends (a refusal in place of `NEED`, a failure).
fn send_chunks(
    stream: &Stream,
    key: &proto::chunks::Key,
    source: &[u8],
    send_failed: &dyn Fn(&str, &std::io::Error) -> Attempt,
    log: &Log,
) -> Option<Attempt> {
    let chunks = crate::chunks::split(source);
    let list: Vec<proto::chunks::ChunkRef> = chunks.iter().map(|(_, c)| *c).collect();
    let mut buf =
        Vec::with_capacity(12 + proto::chunks::KEY_LEN + list.len() * proto::chunks::ENTRY_LEN);
    proto::chunks::encode_list(&mut buf, key, &list);
    if let Err(e) = (&*stream).write_all(&buf) {
        return Some(send_failed("sending the chunk list", &e));
    }
    let mut r = BufReader::new(Counting {
        inner: stream,
        count: 0,
    });
    // `split` cuts far fewer than 2^32 chunks.
    let n = list.len() as u32;
    let need = match proto::chunks::read_need_or_answer(&mut r, n, &Limits::DEFAULT) {
        Ok(proto::chunks::NeedOr::Need(need)) => need,
        Ok(proto::chunks::NeedOr::Answer(Answer::Refused(refusal))) => {
            return Some(Attempt::Refused(refusal));
        }
        Ok(proto::chunks::NeedOr::Answer(Answer::Ran(reply))) => {
            return Some(Attempt::Reply(reply));
        }
        Err(proto::ProtoError::Io(e)) if timed_out(&e) => {
            return Some(Attempt::Comm(io_failure(
                "waiting for the chunk answer",
                &e,
            )));
        }
        Err(e) if r.get_ref().count == 0 && e.is_disconnect() => {
            return Some(Attempt::NoV4(fail(
                ExitCode::IoError,
                format!("no answer to a chunk list ({e})"),
            )));
        }
        Err(e) => {
            return Some(Attempt::Comm(fail(
                ExitCode::ProtocolError,
                format!("bad chunk answer: {e}"),
            )));
        }
    };
    let wanted = (0..chunks.len()).filter(|&i| need.get(i));
    let mut missing = Vec::with_capacity(wanted.map(|i| list[i].len as usize).sum());
    for (i, (range, _)) in chunks.iter().enumerate() {
        if need.get(i) {
            missing.extend_from_slice(&source[range.clone()]);
        }
    }
    log.debug(format_args!(
        "chunks: sending {} of {} ({} of {} bytes)",
        need.count(),
        list.len(),
        missing.len(),
        source.len()
    ));
    let mut w = BufWriter::with_capacity(64 * 1024, stream);
    // The missing chunks are a tenth of a build's sources: bytes hardly matter beside CPU.
    let sent = if missing.len() < STORED_BELOW {
        proto::zstd::write_frame_stored(&mut w, Token::DOTI, &missing)
    } else {
        proto::zstd::write_frame_at(&mut w, Token::DOTI, &missing, CHUNKS_LEVEL)
    }
    .and_then(|()| w.flush());
    drop(w);
    if let Err(e) = sent {
        return Some(send_failed("sending the missing chunks", &e));
    }
    None
}

/// The zstd level of the missing chunks' body: on libgit2 5 % more bytes than level 3 (of
/// a body that is a tenth of the sources) for a fifth less time.
const CHUNKS_LEVEL: i32 = 1;

/// Missing chunks shorter than this go stored (a zstd frame of raw blocks): making a zstd
/// compression context costs a fresh client ~0.15 ms (its tables' page faults, libzstd's CPU
/// probe), more than compressing so little saves on a network that carries distcc. Half of
/// libgit2's files send less than 30 KiB of new chunks in a build, three quarters less than
/// 60 KiB (`examples/chunk_corpus.rs`).
const STORED_BELOW: usize = 64 * 1024;

/// True when a host's advertisement offers chunked sources (`chunks=1`).
fn offers_chunks(advert: &proto::advert::Advert) -> bool {
    advert.get("chunks") == Some("1")
}

/// After a request with a cache key: the daemon's verdict. `None`: a miss (send the
/// source or the files); otherwise how the attempt ends (its cached result, a refusal, a
/// failure).
fn verdict(stream: &Stream, host: &Host, progress: &mut dyn Progress) -> Option<Attempt> {
    let mut r = BufReader::new(Counting {
        inner: stream,
        count: 0,
    });
    Some(match proto::read_cache_verdict(&mut r, &Limits::DEFAULT) {
        Ok(proto::CacheVerdict::Miss) => return None,
        Ok(proto::CacheVerdict::Answer(Answer::Ran(reply))) => {
            progress.receiving();
            let bytes = reply.object.len()
                + reply.stderr.len()
                + reply.stdout.len()
                + reply.dotd.as_ref().map_or(0, Vec::len);
            crate::stats::cache_hit(&host.spec, bytes as u64);
            Attempt::Reply(reply)
        }
        Ok(proto::CacheVerdict::Answer(Answer::Refused(r))) => Attempt::Refused(r),
        Err(proto::ProtoError::Io(e)) if timed_out(&e) => {
            Attempt::Comm(io_failure("waiting for the cache verdict", &e))
        }
        Err(e) if r.get_ref().count == 0 && e.is_disconnect() => Attempt::NoV4(fail(
            ExitCode::IoError,
            format!("no answer to a cache key ({e})"),
        )),
        Err(e) => Attempt::Comm(fail(
            ExitCode::ProtocolError,
            format!("bad cache verdict: {e}"),
        )),
    })
}

/// True when a host's advertisement offers a shared result cache (`--cache-dir`) for this
/// kind of request: `cache=1` plain mode, `cache=2` pump mode too.
fn shares_its_cache(advert: &proto::advert::Advert, pump: bool) -> bool {
    match advert.get("cache") {
        Some("2") => true,
        Some("1") => !pump,
        _ => false,
    }
}

/// `shares_its_cache` of what `host` advertised last (remembered by `learned`).
pub(crate) fn host_shares_cache(top: &Path, host: &Host, pump: bool) -> bool {
    crate::learned::load(top, host, SystemTime::now()).is_some_and(|a| shares_its_cache(&a, pump))
}

/// True for what a socket timeout (`DISTCC_IO_TIMEOUT`) looks like.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A failed read or write. A timeout says so in words (the OS's "resource temporarily
/// unavailable" explains nothing) and gets 3.4's timeout exit code.
fn io_failure(what: &str, e: &std::io::Error) -> CommFailure {
    if matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    ) {
        // As 3.4 does, a daemon that refuses a job closes the connection: here while we
        // were still sending.
        fail(
            ExitCode::IoError,
            format!(
                "{what}: the server closed the connection ({e}); it may refuse this client, this compiler or these options"
            ),
        )
    } else if timed_out(e) {
        fail(
            ExitCode::Timeout,
            format!("{what}: timed out (no progress within DISTCC_IO_TIMEOUT)"),
        )
    } else {
        fail(ExitCode::IoError, format!("{what}: {e}"))
    }
}

/// Resolves `host` now (3.4 resolves on every call) and connects within [`CONNECT_TIMEOUT`].
fn connect(host: &str, port: u16) -> Result<TcpStream, CommFailure> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            fail(
                ExitCode::ConnectFailed,
                format!("cannot resolve {host}: {e}"),
            )
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                // The command line and the source go in two writes, some time apart; the
                // source must not wait for the acknowledgement of the command line (Nagle).
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(format!("connect to {addr} failed: {e}")),
        }
    }
    Err(fail(
        ExitCode::ConnectFailed,
        last.unwrap_or_else(|| format!("{host} has no address")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::advert::Advert;

    fn ours() -> Vec<u8> {
        identity::Identity {
            target: "x86_64-linux-gnu".into(),
            version: "12.2.0".into(),
            fingerprint: "a".repeat(64),
            name: "gcc".into(),
        }
        .encode()
    }

    fn advert(entries: &[(&str, &str)]) -> Advert {
        Advert {
            entries: entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn the_same_compiler_or_an_unknown_one_is_no_mismatch() {
        let a = "a".repeat(64);
        let same = advert(&[
            ("protocol", "4"),
            ("ran", &a),
            ("ran-target", "x86_64-linux-gnu"),
            ("ran-version", "12.3.0"),
        ]);
        assert_eq!(ran_other_compiler(&ours(), &same), None);
        // Without a target the fingerprint decides.
        assert_eq!(ran_other_compiler(&ours(), &advert(&[("ran", &a)])), None);
        // The daemon could not tell, or the client has no identity: as 3.4.
        assert_eq!(
            ran_other_compiler(&ours(), &advert(&[("protocol", "4")])),
            None
        );
        assert_eq!(ran_other_compiler(b"", &same), None);
        assert_eq!(ran_other_compiler(b"garbage", &same), None);
    }

    #[test]
    fn another_fingerprint_or_target_is_a_mismatch_naming_both() {
        let b = "b".repeat(64);
        let other = advert(&[
            ("protocol", "4"),
            ("ran", &b),
            ("ran-target", "x86_64-linux-gnu"),
            ("ran-version", "11.3.0"),
        ]);
        let why = ran_other_compiler(&ours(), &other).expect("a mismatch");
        assert!(
            why.contains("gcc 11.3.0 x86_64-linux-gnu sha256:bbbbbbbb")
                && why.contains("gcc 12.2.0 x86_64-linux-gnu sha256:aaaaaaaa"),
            "{why}"
        );
        let a = "a".repeat(64);
        let cross = advert(&[("ran", &a), ("ran-target", "aarch64-linux-gnu")]);
        let why = ran_other_compiler(&ours(), &cross).expect("another target");
        assert!(why.contains("aarch64-linux-gnu"), "{why}");
    }
}
