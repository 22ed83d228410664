//! `distcc-reapi worker`: a distccd joins an REAPI engine as its worker.
//!
//! Each of `--bots` bot sessions (Remote Workers API, [`crate::rwapi`]) takes one lease at a
//! time: it reads the Action, its Command and input root from CAS, checks that they are the
//! shape [`crate::submit`] makes (one source file, the object as the one output), and sends
//! them to a distccd on loopback as a plain distcc request. So every check a distcc job
//! gets (compiler allow-list, argv policy, caps, job directory, sandbox, privilege drop,
//! `--jobs`) is the daemon's own code, unchanged; this side only translates. The daemon's
//! reply becomes the `ActionResult` (object, stdout, stderr uploaded to CAS), reported with
//! the lease `COMPLETED`; a failure to run it at all is reported as the lease's error status.
//!
//! The bots advertise, as several values of `distcc-fingerprint` and `distcc-target`, the
//! protocol 4 identity of each `--compiler` for each language ([`crate::identity`]), plus
//! any `--property`; BuildGrid gives a job only to a bot whose properties include the job's.
//! The lease goes to the daemon in protocol 4 with the Action's identity as its `CCID`, so
//! distccd runs the compiler with that fingerprint or none (`RSLT 300`): a lease is never
//! run by another compiler of the same name. A refusal is the lease's status, by class:
//! the host's or the compiler's (1xx, 3xx) `UNAVAILABLE`, which BuildGrid retries (perhaps
//! on another worker) a few times before failing the operation; the request's (2xx)
//! `FAILED_PRECONDITION`, at once. Either way the submitting client compiles locally.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bazel_remote_apis::google::protobuf::Any;
use bazel_remote_apis::google::rpc::Status;
use prost::Message;
use proto::{Limits, Reply, RequestHead, Token, Version};

use crate::cas::{self, Cas};
use crate::endpoint::Endpoint;
use crate::identity::{CCID_VAR, FINGERPRINT_KEY, TARGET_KEY};
use crate::re::{Action, ActionResult, Command, Digest, Directory, OutputFile};
use crate::rwapi::{
    BotSession, BotStatus, BotsClient, CreateBotSessionRequest, KeyValue, LeaseState,
    UpdateBotSessionRequest, Worker,
};
use crate::tree::{self, Entry};
use crate::{DOTD_NAME, OBJECT_NAME, PROTOCOL_VAR, SOURCE_NAME};

/// Largest Command, Action or Directory message read.
const MAX_MESSAGE: u64 = 4 << 20;
/// Largest source read.
const MAX_SOURCE: u64 = 512 << 20;
/// How long one bot-session call may wait (BuildGrid long-polls for 80% of it).
const POLL: Duration = Duration::from_secs(20);
/// How long a job may take on the daemon before this side gives up on it.
const JOB_WAIT: Duration = Duration::from_secs(600);

/// What `distcc-reapi worker` was told.
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoint: Endpoint,
    /// The distccd that runs the jobs.
    pub daemon: SocketAddr,
    pub bots: usize,
    pub compilers: Vec<String>,
    pub properties: Vec<(String, String)>,
    /// Bot ids are `ID-N`.
    pub id: String,
    /// TLS trust and the token (`DISTCC_TLS_*`, `DISTCC_REAPI_TOKEN*`).
    pub credentials: crate::endpoint::Credentials,
}

/// BuildGrid matches a job against every subset of a bot's properties (a powerset): more
/// identities than this make each bot session cost thousands of hashes there.
const MAX_OFFERED: usize = 10;

/// The bot properties offering `ids`: one value of [`FINGERPRINT_KEY`] per compiler and
/// language, one of [`TARGET_KEY`] per target.
fn offer(ids: &[identity::Identity]) -> Vec<KeyValue> {
    let mut props: Vec<KeyValue> = Vec::new();
    for id in ids.iter().take(MAX_OFFERED) {
        for (key, value) in crate::identity::platform(id) {
            if !props.iter().any(|p| p.key == key && p.value == value) {
                props.push(KeyValue { key, value });
            }
        }
    }
    props
}

/// Runs the bots until the process is stopped.
pub fn run(cfg: Config) -> Result<(), String> {
    let (ids, problems) = crate::identity::offered(&cfg.compilers);
    for p in problems {
        eprintln!("distcc-reapi worker: not offering {p}");
    }
    if ids.is_empty() {
        return Err("no compiler to offer (--compiler)".into());
    }
    if ids.len() > MAX_OFFERED {
        eprintln!(
            "distcc-reapi worker: offering the first {MAX_OFFERED} of {} compiler identities (name fewer --compiler)",
            ids.len()
        );
    }
    for id in ids.iter().take(MAX_OFFERED) {
        eprintln!("distcc-reapi worker: offering {}", id.describe());
    }
    let mut props = offer(&ids);
    props.extend(cfg.properties.iter().map(|(k, v)| KeyValue {
        key: k.clone(),
        value: v.clone(),
    }));
    // BuildGrid matches on the primary (first) device's properties.
    let worker = Worker {
        devices: vec![crate::rwapi::Device {
            handle: "primary".into(),
            properties: props.clone(),
        }],
        properties: props,
        configs: vec![KeyValue {
            key: "capacity".into(),
            value: "1".into(),
        }],
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let cfg = Arc::new(cfg);
    rt.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..cfg.bots.max(1) {
            tasks.push(tokio::spawn(bot(cfg.clone(), worker.clone(), n)));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    Ok(())
}

async fn bot(cfg: Arc<Config>, worker: Worker, n: usize) {
    let channel = match cfg
        .endpoint
        .channel(Duration::from_secs(5), &cfg.credentials)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("distcc-reapi worker: {e}");
            return;
        }
    };
    let mut bots = BotsClient::new(channel.clone());
    let mut cas = Cas::new(channel, &cfg.endpoint.instance);
    let bot_id = format!("{}-{n}", cfg.id);
    loop {
        let mut req = tonic::Request::new(CreateBotSessionRequest {
            parent: cfg.endpoint.instance.clone(),
            bot_session: Some(BotSession {
                bot_id: bot_id.clone(),
                status: BotStatus::Ok as i32,
                worker: Some(worker.clone()),
                ..Default::default()
            }),
        });
        req.set_timeout(POLL);
        let mut session = match bots.create_bot_session(req).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("distcc-reapi worker: {bot_id}: CreateBotSession: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            for lease in session.leases.iter_mut() {
                if lease.state != LeaseState::Pending as i32
                    && lease.state != LeaseState::Active as i32
                {
                    continue;
                }
                let (status, result) = match run_lease(&mut cas, &cfg, lease.payload.as_ref()).await
                {
                    Ok(r) => (
                        Status {
                            code: 0,
                            ..Default::default()
                        },
                        Some(Any {
                            type_url:
                                "type.googleapis.com/build.bazel.remote.execution.v2.ActionResult"
                                    .into(),
                            value: r.encode_to_vec(),
                        }),
                    ),
                    Err(f) => {
                        eprintln!(
                            "distcc-reapi worker: {bot_id}: lease {}: {} ({:?})",
                            lease.id, f.why, f.code
                        );
                        (
                            Status {
                                code: f.code as i32,
                                message: f.why,
                                details: Vec::new(),
                            },
                            None,
                        )
                    }
                };
                lease.state = LeaseState::Completed as i32;
                lease.status = Some(status);
                lease.result = result;
            }
            let mut req = tonic::Request::new(UpdateBotSessionRequest {
                name: session.name.clone(),
                bot_session: Some(session.clone()),
            });
            req.set_timeout(POLL);
            match bots.update_bot_session(req).await {
                Ok(s) => session = s,
                Err(e) if e.code() == tonic::Code::DeadlineExceeded => {}
                Err(e) => {
                    eprintln!("distcc-reapi worker: {bot_id}: UpdateBotSession: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Why a lease was not run: its status for the engine.
#[derive(Debug)]
struct LeaseFailure {
    code: tonic::Code,
    why: String,
}

impl From<String> for LeaseFailure {
    fn from(why: String) -> LeaseFailure {
        LeaseFailure {
            code: tonic::Code::Internal,
            why,
        }
    }
}

impl From<&str> for LeaseFailure {
    fn from(why: &str) -> LeaseFailure {
        why.to_owned().into()
    }
}

/// The status of a lease the daemon refused (protocol 4 `RSLT`, by class).
fn refused(code: u32, text: &str) -> LeaseFailure {
    let status = match code {
        200..=299 => tonic::Code::FailedPrecondition,
        _ => tonic::Code::Unavailable,
    };
    LeaseFailure {
        code: status,
        why: format!("distccd refused the job (RSLT {code}): {text}"),
    }
}

/// The identity the Action pins: the Command's [`CCID_VAR`], whose fingerprint and target
/// must be the platform's (the engine matched this bot on those).
#[allow(deprecated)] // Command.platform: REAPI before 2.2 puts it there
fn pinned(action: &Action, command: &Command) -> Result<identity::Identity, String> {
    let ccid = command
        .environment_variables
        .iter()
        .find(|e| e.name == CCID_VAR)
        .ok_or("an action without a compiler identity")?;
    let id = identity::Identity::parse(ccid.value.as_bytes())
        .map_err(|e| format!("the action's {CCID_VAR}: {e}"))?;
    let platform = action
        .platform
        .as_ref()
        .or(command.platform.as_ref())
        .ok_or("an action without a platform")?;
    let value = |key: &str| {
        let mut v = platform.properties.iter().filter(|p| p.name == key);
        match (v.next(), v.next()) {
            (Some(p), None) => Some(p.value.as_str()),
            _ => None,
        }
    };
    if value(FINGERPRINT_KEY) != Some(id.fingerprint.as_str())
        || value(TARGET_KEY) != Some(id.target.as_str())
    {
        return Err(format!(
            "the action's platform does not pin its {CCID_VAR} ({})",
            id.describe()
        ));
    }
    Ok(id)
}

/// Runs one lease's Action on the daemon; the result to report.
async fn run_lease(
    cas: &mut Cas,
    cfg: &Config,
    payload: Option<&Any>,
) -> Result<ActionResult, LeaseFailure> {
    let any = payload.ok_or("a lease without a payload")?;
    let action: Action = if any
        .type_url
        .ends_with("/build.bazel.remote.execution.v2.Action")
    {
        Action::decode(&any.value[..]).map_err(|e| format!("lease payload: {e}"))?
    } else if any
        .type_url
        .ends_with("/build.bazel.remote.execution.v2.Digest")
    {
        let d = Digest::decode(&any.value[..]).map_err(|e| format!("lease payload: {e}"))?;
        cas.read_message(&d, MAX_MESSAGE).await?
    } else {
        return Err(format!("lease payload of unknown type {}", any.type_url).into());
    };
    let cmd_d = action
        .command_digest
        .as_ref()
        .ok_or("an action without a command")?;
    let command: Command = cas.read_message(cmd_d, MAX_MESSAGE).await?;
    let root_d = action
        .input_root_digest
        .as_ref()
        .ok_or("an action without an input root")?;
    #[allow(deprecated)]
    let outputs_ok = (command.output_paths.first().map(String::as_str) == Some(OBJECT_NAME)
        || command.output_files.first().map(String::as_str) == Some(OBJECT_NAME))
        && command.output_directories.is_empty();
    if !outputs_ok || command.arguments.is_empty() {
        return Err(LeaseFailure {
            code: tonic::Code::FailedPrecondition,
            why: "not an action made by distcc (outputs or arguments)".into(),
        });
    }
    let ccid = pinned(&action, &command)
        .map_err(|why| LeaseFailure {
            code: tonic::Code::FailedPrecondition,
            why,
        })?
        .encode();
    let argv: Vec<Vec<u8>> = command
        .arguments
        .iter()
        .map(|a| a.clone().into_bytes())
        .collect();
    let daemon = cfg.daemon;
    let pump = command
        .environment_variables
        .iter()
        .any(|e| e.name == PROTOCOL_VAR && e.value == "3");
    let reply = if pump {
        let entries = tree::entries(cas, root_d).await?;
        let cwd = format!("/{}", command.working_directory);
        tokio::task::spawn_blocking(move || {
            exchange(daemon, argv, ccid, Body::Pump(&cwd, &entries))
        })
        .await
        .map_err(|e| format!("the job's thread: {e}"))??
    } else {
        let root: Directory = cas.read_message(root_d, MAX_MESSAGE).await?;
        let file = match (
            &root.files[..],
            root.directories.is_empty(),
            root.symlinks.is_empty(),
        ) {
            ([f], true, true) if f.name == SOURCE_NAME => f,
            _ => {
                return Err(format!("the input root is not one file named {SOURCE_NAME}").into());
            }
        };
        let source = cas
            .read(
                file.digest.as_ref().ok_or("a file without a digest")?,
                MAX_SOURCE,
            )
            .await?;
        tokio::task::spawn_blocking(move || exchange(daemon, argv, ccid, Body::Source(&source)))
            .await
            .map_err(|e| format!("the job's thread: {e}"))??
    };
    let signal = reply.status & 0x7f;
    let exit_code = if signal != 0 {
        128 + signal as i32
    } else {
        (reply.status >> 8) as i32 & 0xff
    };
    let (out_d, err_d) = (cas::digest(&reply.stdout), cas::digest(&reply.stderr));
    let mut blobs = vec![(out_d.clone(), reply.stdout), (err_d.clone(), reply.stderr)];
    let mut output_files = Vec::new();
    if exit_code == 0 {
        let obj_d = cas::digest(&reply.object);
        output_files.push(OutputFile {
            path: OBJECT_NAME.to_owned(),
            digest: Some(obj_d.clone()),
            ..Default::default()
        });
        blobs.push((obj_d, reply.object));
        if let Some(dotd) = reply.dotd {
            let d = cas::digest(&dotd);
            output_files.push(OutputFile {
                path: DOTD_NAME.to_owned(),
                digest: Some(d.clone()),
                ..Default::default()
            });
            blobs.push((d, dotd));
        }
    }
    cas.upload_missing(blobs).await?;
    Ok(ActionResult {
        output_files,
        exit_code,
        stdout_digest: Some(out_d),
        stderr_digest: Some(err_d),
        ..Default::default()
    })
}

/// What follows a request's head.
enum Body<'a> {
    /// The preprocessed source.
    Source(&'a [u8]),
    /// The client's working directory and file list (pump).
    Pump(&'a str, &'a [(String, Entry)]),
}

/// One protocol 4 exchange with the daemon, carrying the Action's compiler identity: the
/// daemon runs the compiler with that fingerprint (whatever its name) or refuses.
fn exchange(
    daemon: SocketAddr,
    argv: Vec<Vec<u8>>,
    ccid: Vec<u8>,
    body: Body<'_>,
) -> Result<Reply, LeaseFailure> {
    use std::io::{BufReader, BufWriter, Write};
    let stream =
        TcpStream::connect_timeout(&daemon, Duration::from_secs(5)).map_err(|e| LeaseFailure {
            code: tonic::Code::Unavailable,
            why: format!("cannot connect to distccd at {daemon}: {e}"),
        })?;
    let _ = stream.set_read_timeout(Some(JOB_WAIT));
    let _ = stream.set_write_timeout(Some(JOB_WAIT));
    let version = Version::V4;
    let mut head = Vec::new();
    proto::write_request_head(
        &mut head,
        &RequestHead {
            version,
            cwd: match body {
                Body::Pump(cwd, _) => Some(cwd.as_bytes().to_vec()),
                Body::Source(_) => None,
            },
            argv,
            ccid: Some(ccid),
            cache_key: None,
            chunked: false,
        },
    );
    let mut w = BufWriter::with_capacity(64 * 1024, &stream);
    let sent = w.write_all(&head).and_then(|()| match body {
        Body::Source(source) => {
            proto::write_body(&mut w, Token::DOTI, version.compression(), source)
        }
        Body::Pump(_, entries) => {
            let mut n = Vec::new();
            proto::write_pump_file_count(&mut n, entries.len() as u32);
            w.write_all(&n)?;
            for (name, e) in entries {
                let entry = proto::PumpEntry {
                    name: name.as_bytes().to_vec(),
                    kind: match e {
                        Entry::File(data) => proto::PumpEntryKind::File(data.clone()),
                        Entry::Link(target) => {
                            proto::PumpEntryKind::Link(target.as_bytes().to_vec())
                        }
                    },
                };
                proto::write_pump_entry_as(&mut w, &entry, version.compression())?;
            }
            Ok(())
        }
    });
    // A daemon that refuses early (say, RSLT 300 before the source) may close while we
    // still write: its answer is read all the same.
    let _ = sent.and_then(|()| w.flush());
    drop(w);
    match proto::read_reply(&mut BufReader::new(&stream), version, &Limits::DEFAULT) {
        Ok(r) => Ok(r),
        Err(proto::ProtoError::Refused { code, text }) => Err(refused(code, &text)),
        Err(proto::ProtoError::Eof {
            expected: Token::DONE,
        }) => Err(format!(
            "distccd at {daemon} closed without answering protocol 4: the worker needs our distccd (distcc 3.4's cannot check a compiler's identity)"
        )
        .into()),
        Err(e) => Err(format!("distccd's reply: {e}").into()),
    }
}
