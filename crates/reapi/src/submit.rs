//! `distcc-reapi submit URL`: one compile as an REAPI Action.
//!
//! The client runs this program for a `reapi://` host with a socket on standard input and
//! output, and speaks distcc protocol 1 or 2 to it exactly as to a daemon. The request
//! becomes:
//! - the input root: one file, [`SOURCE_NAME`], the preprocessed source;
//! - the Command: the request's argv as sent to a daemon, output path [`OBJECT_NAME`];
//! - the platform: the compiler's fingerprint and target (protocol 4's identity, which the
//!   client passes in `DISTCC_CCID`; [`crate::identity`]), plus `DISTCC_REAPI_PROPERTIES`;
//!   the whole identity also goes in the Command's environment for the worker's distccd.
//!
//! Then: Action Cache first; `FindMissingBlobs` and uploads of only what is missing;
//! `Execute`, waited for at most `DISTCC_REAPI_TIMEOUT` seconds (a job no worker takes ends
//! there, and the operation is cancelled); the reply is built from the `ActionResult`. Any
//! failure here is reported on standard error and the program exits without a reply, which
//! the client takes as a failed host (it falls back as for any host). A compile that fails
//! on the worker is a normal reply with the compiler's status and messages.
//!
//! A protocol 3 request (pump mode, or the client's source route for identical debug
//! information) becomes an Action whose input root is its file list at the client's paths
//! and whose working directory is the client's (`crate::tree`); its Command carries
//! `DISTCC_PROTOCOL=3` and also names the dependency file [`crate::DOTD_NAME`] as an output.

use std::io::{BufReader, BufWriter, Read, Write};
use std::time::{Duration, Instant};

use bazel_remote_apis::google::longrunning::CancelOperationRequest;
use bazel_remote_apis::google::longrunning::operation;
use bazel_remote_apis::google::longrunning::operations_client::OperationsClient;
use identity::Identity;
use prost::Message;
use proto::{Limits, Reply, Token, Version};

use crate::cas::{self, Cas};
use crate::endpoint::{Credentials, Endpoint};
use crate::identity::CCID_VAR;
use crate::re::action_cache_client::ActionCacheClient;
use crate::re::execution_client::ExecutionClient;
use crate::re::{
    Action, ActionResult, Command, Digest, Directory, ExecuteRequest, ExecuteResponse, FileNode,
    GetActionResultRequest, Platform, platform,
};
use crate::tree::{self, Entry};
use crate::{DOTD_NAME, OBJECT_NAME, PROTOCOL_VAR, SOURCE_NAME};

/// The default wait for an Execute, in seconds (`DISTCC_REAPI_TIMEOUT`).
pub const DEFAULT_TIMEOUT: u64 = 300;
/// Largest object, stdout or stderr taken from an engine.
const MAX_OUTPUT: u64 = 512 << 20;

/// What a submission was asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: Endpoint,
    pub timeout: Duration,
    /// Extra platform properties (`key=value,key=value`).
    pub properties: Vec<(String, String)>,
    /// TLS trust and the token (`DISTCC_TLS_*`, `DISTCC_REAPI_TOKEN*`).
    pub credentials: Credentials,
}

impl Settings {
    /// From the URL and `DISTCC_REAPI_TIMEOUT` / `DISTCC_REAPI_PROPERTIES`.
    pub fn from_env(url: &str) -> Result<Settings, String> {
        let timeout = match std::env::var("DISTCC_REAPI_TIMEOUT") {
            Ok(v) if !v.is_empty() => v
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("DISTCC_REAPI_TIMEOUT={v}: not a positive number"))?,
            _ => DEFAULT_TIMEOUT,
        };
        Ok(Settings {
            endpoint: Endpoint::parse(url)?,
            timeout: Duration::from_secs(timeout),
            properties: parse_properties(
                &std::env::var("DISTCC_REAPI_PROPERTIES").unwrap_or_default(),
            )?,
            credentials: Credentials::from_env(),
        })
    }
}

/// `key=value,key=value` (empty: none).
pub fn parse_properties(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("platform property {p:?}: expected key=value"))
        })
        .collect()
}

/// One job: what the Action is made of.
pub struct Job {
    pub version: Version,
    pub argv: Vec<String>,
    /// Protocols 1 and 2: the preprocessed source.
    pub source: Vec<u8>,
    /// Protocol 3: the client's working directory and file list.
    pub pump: Option<(String, Vec<(String, Entry)>)>,
}

/// Reads a distcc request (protocol 1 or 2) from `r`.
pub fn read_job(r: &mut dyn Read) -> Result<Job, String> {
    let limits = Limits::DEFAULT;
    let version =
        proto::read_version_greeting(r).map_err(|e| format!("reading the request: {e}"))?;
    let head = proto::read_request_head(r, version, &limits)
        .map_err(|e| format!("reading the request: {e}"))?;
    let utf8 =
        |a: Vec<u8>| String::from_utf8(a).map_err(|_| "a name or word is not UTF-8".to_owned());
    let argv = head
        .argv
        .into_iter()
        .map(utf8)
        .collect::<Result<Vec<_>, _>>()?;
    if version.is_pump() {
        let cwd = utf8(head.cwd.unwrap_or_default())?;
        let n = proto::read_pump_file_count(r, &limits)
            .map_err(|e| format!("reading the files: {e}"))?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let e = proto::read_pump_entry(r, &limits)
                .map_err(|e| format!("reading the files: {e}"))?;
            let kind = match e.kind {
                proto::PumpEntryKind::File(data) => Entry::File(data),
                proto::PumpEntryKind::Link(target) => Entry::Link(utf8(target)?),
            };
            entries.push((utf8(e.name)?, kind));
        }
        return Ok(Job {
            version,
            argv,
            source: Vec::new(),
            pump: Some((cwd, entries)),
        });
    }
    let mut source = Vec::new();
    proto::read_body(r, Token::DOTI, version.compression(), &limits, &mut source)
        .map_err(|e| format!("reading the source: {e}"))?;
    Ok(Job {
        version,
        argv,
        source,
        pump: None,
    })
}

/// The Action of `job` and every blob it needs, the Action's own first.
#[allow(deprecated)] // Command.platform: REAPI before 2.2 reads it there
pub fn action(
    job: &Job,
    identity: &Identity,
    settings: &Settings,
) -> Result<(Digest, cas::Blobs), String> {
    let mut props: Vec<platform::Property> = crate::identity::platform(identity)
        .into_iter()
        .map(|(name, value)| platform::Property { name, value })
        .collect();
    props.extend(settings.properties.iter().map(|(k, v)| platform::Property {
        name: k.clone(),
        value: v.clone(),
    }));
    // REAPI wants the properties sorted by name.
    props.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    let platform = Platform { properties: props };
    let mut outputs = vec![OBJECT_NAME.to_owned()];
    let mut command = Command {
        arguments: job.argv.clone(),
        platform: Some(platform.clone()),
        // Sorted by name, as REAPI wants (DISTCC_PROTOCOL may follow).
        environment_variables: vec![crate::re::command::EnvironmentVariable {
            name: CCID_VAR.to_owned(),
            value: String::from_utf8_lossy(&identity.encode()).into_owned(),
        }],
        ..Default::default()
    };
    let (root_d, mut blobs) = match &job.pump {
        None => {
            let source = cas::digest(&job.source);
            let root = Directory {
                files: vec![FileNode {
                    name: SOURCE_NAME.to_owned(),
                    digest: Some(source.clone()),
                    is_executable: false,
                    node_properties: None,
                }],
                ..Default::default()
            };
            let (root_d, root_b) = cas::message(&root);
            (
                root_d.clone(),
                vec![(root_d, root_b), (source, job.source.clone())],
            )
        }
        Some((cwd, entries)) => {
            outputs.push(DOTD_NAME.to_owned());
            command.working_directory = cwd.trim_start_matches('/').to_owned();
            command
                .environment_variables
                .push(crate::re::command::EnvironmentVariable {
                    name: PROTOCOL_VAR.to_owned(),
                    value: "3".to_owned(),
                });
            tree::input_root(cwd, entries)?
        }
    };
    #[allow(deprecated)]
    {
        command.output_files = outputs.clone();
    }
    command.output_paths = outputs;
    let (cmd_d, cmd_b) = cas::message(&command);
    let action = Action {
        command_digest: Some(cmd_d.clone()),
        input_root_digest: Some(root_d.clone()),
        timeout: Some(bazel_remote_apis::google::protobuf::Duration {
            seconds: settings.timeout.as_secs() as i64,
            nanos: 0,
        }),
        platform: Some(platform),
        ..Default::default()
    };
    let (act_d, act_b) = cas::message(&action);
    blobs.push((act_d.clone(), act_b));
    blobs.push((cmd_d, cmd_b));
    Ok((act_d, blobs))
}

/// Runs the program: `stream` carries the request in and the reply out.
pub fn run(url: &str, input: &mut dyn Read, output: &mut dyn Write) -> Result<(), String> {
    let settings = Settings::from_env(url)?;
    let job = read_job(&mut BufReader::new(input))?;
    let ccid = std::env::var(CCID_VAR).map_err(|_| {
        format!("no compiler identity from the client ({CCID_VAR}): the engine must know which compiler to run")
    })?;
    let identity = Identity::parse(ccid.as_bytes()).map_err(|e| format!("{CCID_VAR}: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let reply = rt.block_on(execute(&settings, &job, &identity))?;
    eprintln_debug(&format!(
        "{} bytes of source, {} of object",
        job.source.len(),
        reply.object.len()
    ));
    let mut w = BufWriter::new(output);
    proto::write_reply(&mut w, &reply).map_err(|e| format!("writing the reply: {e}"))?;
    w.flush().map_err(|e| format!("writing the reply: {e}"))
}

async fn execute(settings: &Settings, job: &Job, identity: &Identity) -> Result<Reply, String> {
    let start = Instant::now();
    let deadline = start + settings.timeout;
    let channel = settings
        .endpoint
        .channel(Duration::from_secs(5), &settings.credentials)?;
    let instance = settings.endpoint.instance.clone();
    let mut cas = Cas::new(channel.clone(), &instance);
    let (action_digest, blobs) = action(job, identity, settings)?;

    let mut ac = ActionCacheClient::new(channel.clone()).max_decoding_message_size(64 << 20);
    let cached = ac
        .get_action_result(GetActionResultRequest {
            instance_name: instance.clone(),
            action_digest: Some(action_digest.clone()),
            inline_stdout: true,
            inline_stderr: true,
            inline_output_files: vec![OBJECT_NAME.to_owned(), DOTD_NAME.to_owned()],
            digest_function: 0,
        })
        .await;
    match cached {
        Ok(r) => {
            let reply = reply_from(&mut cas, job.version, r.into_inner()).await;
            eprintln_debug(&format!(
                "served from the action cache; engine traffic: sent 0 bytes, received {}",
                cas.received
            ));
            return reply;
        }
        Err(s) if s.code() == tonic::Code::NotFound => {}
        Err(s) => return Err(format!("GetActionResult: {:?}: {}", s.code(), s.message())),
    }
    cas.upload_missing(blobs).await?;

    let mut exec = ExecutionClient::new(channel.clone());
    let mut op_name = String::new();
    let wait = async {
        let mut stream = exec
            .execute(ExecuteRequest {
                instance_name: instance.clone(),
                skip_cache_lookup: false,
                action_digest: Some(action_digest.clone()),
                execution_policy: None,
                results_cache_policy: None,
                digest_function: 0,
                inline_stdout: true,
                inline_stderr: true,
                inline_output_files: vec![OBJECT_NAME.to_owned()],
            })
            .await
            .map_err(|s| format!("Execute: {:?}: {}", s.code(), s.message()))?
            .into_inner();
        loop {
            let op = match stream.message().await {
                Ok(Some(op)) => op,
                Ok(None) => return Err("Execute: the stream ended early".to_owned()),
                Err(s) => return Err(format!("Execute: {:?}: {}", s.code(), s.message())),
            };
            op_name.clone_from(&op.name);
            if !op.done {
                continue;
            }
            return match op.result {
                Some(operation::Result::Response(any)) => ExecuteResponse::decode(&any.value[..])
                    .map_err(|e| format!("ExecuteResponse: {e}")),
                Some(operation::Result::Error(s)) => Err(format!(
                    "operation failed: {}",
                    status_text(s.code, &s.message)
                )),
                None => Err("operation done without a result".to_owned()),
            };
        }
    };
    let waited = tokio::time::timeout_at(deadline.into(), wait).await;
    let response = match waited {
        Ok(r) => r?,
        Err(_) => {
            cancel(channel, &op_name).await;
            return Err(format!(
                "no result within {}s (DISTCC_REAPI_TIMEOUT): no worker took the job in time",
                settings.timeout.as_secs()
            ));
        }
    };
    if let Some(s) = response.status.as_ref().filter(|s| s.code != 0) {
        return Err(format!(
            "the engine failed the action: {}",
            status_text(s.code, &s.message)
        ));
    }
    let result = response.result.ok_or("ExecuteResponse without a result")?;
    let reply = reply_from(&mut cas, job.version, result).await;
    eprintln_debug(&format!(
        "executed; engine traffic: sent {} bytes of blobs, received {}",
        cas.sent, cas.received
    ));
    reply
}

/// An operation's status for the log: the code's name, what it means for a distcc job, and
/// the engine's message (BuildGrid passes a failed lease's code, not its message).
fn status_text(code: i32, message: &str) -> String {
    let code = tonic::Code::from_i32(code);
    let meaning = match code {
        tonic::Code::Unavailable | tonic::Code::Internal => {
            " (the workers that took the job could not run it: their logs say why)"
        }
        tonic::Code::FailedPrecondition => " (a worker refused the job: its log says why)",
        _ => "",
    };
    format!("{code:?}{meaning} {message}").trim_end().to_owned()
}

/// Best effort: cancels the operation a timed-out wait was for, so no worker runs it later.
async fn cancel(channel: crate::endpoint::Conn, name: &str) {
    if name.is_empty() {
        return;
    }
    let mut ops = OperationsClient::new(channel);
    let call = ops.cancel_operation(CancelOperationRequest {
        name: name.to_owned(),
    });
    let _ = tokio::time::timeout(Duration::from_secs(2), call).await;
}

fn eprintln_debug(what: &str) {
    if std::env::var_os("DISTCC_REAPI_DEBUG").is_some() {
        eprintln!("distcc-reapi: {what}");
    }
}

/// The distcc reply an `ActionResult` stands for.
async fn reply_from(cas: &mut Cas, version: Version, r: ActionResult) -> Result<Reply, String> {
    let stdout = blob_or_inline(cas, r.stdout_raw, r.stdout_digest.as_ref()).await?;
    let stderr = blob_or_inline(cas, r.stderr_raw, r.stderr_digest.as_ref()).await?;
    let code = r.exit_code;
    if !(0..=255).contains(&code) {
        return Err(format!("exit code {code} out of range"));
    }
    let mut object = Vec::new();
    if code == 0 {
        let f = r
            .output_files
            .iter()
            .find(|f| f.path == OBJECT_NAME)
            .ok_or("the action succeeded but left no object file")?;
        object = if !f.contents.is_empty() {
            cas.received += f.contents.len() as u64;
            f.contents.clone()
        } else {
            let d = f.digest.as_ref().ok_or("an output file without a digest")?;
            cas.read(d, MAX_OUTPUT).await?
        };
    }
    let mut dotd = None;
    if code == 0
        && version.is_pump()
        && let Some(f) = r.output_files.iter().find(|f| f.path == DOTD_NAME)
    {
        dotd = Some(if !f.contents.is_empty() {
            f.contents.clone()
        } else {
            let d = f.digest.as_ref().ok_or("an output file without a digest")?;
            cas.read(d, MAX_OUTPUT).await?
        });
    }
    Ok(Reply {
        version,
        status: (code as u32) << 8,
        stderr,
        stdout,
        object,
        dotd,
    })
}

async fn blob_or_inline(
    cas: &mut Cas,
    raw: Vec<u8>,
    d: Option<&Digest>,
) -> Result<Vec<u8>, String> {
    match d {
        Some(d) if raw.is_empty() && d.size_bytes > 0 => cas.read(d, MAX_OUTPUT).await,
        _ => Ok(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_and_reject_garbage() {
        assert_eq!(
            parse_properties("a=b, c = d").unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        );
        assert!(parse_properties("").unwrap().is_empty());
        assert!(parse_properties("novalue").is_err());
        assert!(parse_properties("=v").is_err());
    }

    #[test]
    fn the_same_job_makes_the_same_action() {
        let job = Job {
            version: Version::V1,
            argv: vec!["gcc".into(), "-c".into(), "a.c".into()],
            source: b"int x;\n".to_vec(),
            pump: None,
        };
        let s = Settings {
            endpoint: Endpoint::parse("reapi://127.0.0.1:1/main").unwrap(),
            timeout: Duration::from_secs(5),
            properties: vec![],
            credentials: Credentials::default(),
        };
        let id = |fp: char, target: &str| Identity {
            target: target.into(),
            version: "12.2.0".into(),
            fingerprint: fp.to_string().repeat(64),
            name: "gcc".into(),
        };
        let (a, blobs) = action(&job, &id('a', "x86_64-linux-gnu"), &s).unwrap();
        assert_eq!(action(&job, &id('a', "x86_64-linux-gnu"), &s).unwrap().0, a);
        // Another compiler under the same name, or another target: another Action.
        assert_ne!(action(&job, &id('b', "x86_64-linux-gnu"), &s).unwrap().0, a);
        assert_ne!(
            action(&job, &id('a', "aarch64-linux-gnu"), &s).unwrap().0,
            a
        );
        assert_eq!(blobs.len(), 4);
    }
}
