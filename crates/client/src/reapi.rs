//! The `reapi://` transport: the job goes to a Remote Execution API engine through the
//! `distcc-reapi submit URL` program (beside this one, else on `PATH`), which speaks distcc
//! protocol 1 or 2 on its standard input and output, over a socket pair as an ssh child
//! does, and does the gRPC itself; so this client links no gRPC and no async runtime, and a
//! compile to a plain host pays nothing for REAPI.
//!
//! The job's compiler identity (protocol 4's `CCID`) goes in `DISTCC_CCID`: the Action
//! pins it, so the engine's worker runs that compiler or none.
//!
//! The program exits without a reply when the engine cannot be used (unreachable, no
//! worker in `DISTCC_REAPI_TIMEOUT`, …); its message becomes the communication failure,
//! which falls back and backs the host off as for any host. What it leaves to others: the
//! protocol (`remote`), the Action (crate `distcc-reapi`).

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use os::exit::ExitCode;
use os::process::{Command, Output};

use crate::log::Log;
use crate::remote::{Attempt, CommFailure};
use crate::ssh::{Messages, one_line};
use crate::transport::Stream;

/// The variable that hands the program the job's compiler identity (protocol 4's `CCID`
/// text, `ccid::for_job`): the Action's platform pins its fingerprint and target.
const CCID_VAR: &str = "DISTCC_CCID";

/// How long the program may take to exit once the exchange is over before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// `distcc-reapi` beside this program, else the name for a `PATH` search.
fn program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("distcc-reapi")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "distcc-reapi".into())
}

/// Runs one job on the engine at `url`: `exchange` speaks the protocol over the stream.
pub fn attempt(
    url: &str,
    ccid: &[u8],
    io_timeout: Duration,
    log: &Log,
    exchange: &mut dyn FnMut(&Stream) -> Attempt,
) -> Attempt {
    let program = program();
    log.debug(format_args!("running {} submit {url}", program.display()));
    let mut cmd = Command::new(&program);
    cmd.args(["submit", url]).stderr(Output::Pipe);
    // The compiler's identity, which the Action pins (the program refuses a job without).
    if !ccid.is_empty() {
        cmd.env(CCID_VAR, std::ffi::OsStr::from_bytes(ccid));
    }
    let (mut child, sock) = match cmd.spawn_connected() {
        Ok(x) => x,
        Err(e) => {
            return Attempt::Comm(CommFailure {
                why: format!("cannot run {}: {e}", program.display()),
                code: ExitCode::ConnectFailed,
            });
        }
    };
    let messages = child.take_stderr().map(Messages::collect);
    let stream = Stream::Ssh(sock);
    stream.set_io_timeout(io_timeout);
    let attempt = exchange(&stream);
    drop(stream);
    let _ = child.wait_timeout(EXIT_WAIT);
    let text = messages.map(|m| m.take()).unwrap_or_default();
    let text = text.trim();
    match attempt {
        Attempt::Comm(mut f) => {
            if !text.is_empty() {
                f.why = format!("{}; {}", f.why, one_line(text));
            }
            Attempt::Comm(f)
        }
        other => {
            if !text.is_empty() {
                log.debug(format_args!("distcc-reapi said: {}", one_line(text)));
            }
            other
        }
    }
}
