//! Why the client could not do what it was asked. The main maps each to a distcc exit code
//! in one place ([`ClientError::exit_code`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use os::exit::ExitCode;

use crate::hosts::HostSpecError;

#[derive(Debug)]
pub enum ClientError {
    /// `_DISTCC_SAFEGUARD` says distcc is calling itself.
    Recursion,
    /// An empty compiler command line.
    NoCompiler,
    /// The compiler is not on `PATH` (other than as distcc itself).
    CompilerNotFound(String),
    /// Neither `DISTCC_DIR` nor `HOME` is set.
    NoDistccDir,
    /// `$DISTCC_DIR` (or a directory in it) cannot be created.
    DistccDir {
        path: PathBuf,
        err: io::Error,
    },
    BadHostSpec(HostSpecError),
    HostsFile(io::Error),
    Lock(PathBuf, io::Error),
    Spawn(PathBuf, io::Error),
    Output(PathBuf, io::Error),
    /// Distribution failed and `DISTCC_FALLBACK=0` forbids compiling locally.
    NotDistributed {
        code: ExitCode,
        why: String,
    },
}

impl ClientError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ClientError::Recursion => ExitCode::RecursiveDistcc,
            ClientError::NoCompiler => ExitCode::BadArguments,
            ClientError::CompilerNotFound(_) => ExitCode::CompilerMissing,
            ClientError::NoDistccDir | ClientError::DistccDir { .. } => ExitCode::IoError,
            ClientError::BadHostSpec(_) => ExitCode::BadHostspec,
            ClientError::HostsFile(_) => ExitCode::BadHostspec,
            ClientError::Lock(..) | ClientError::Output(..) => ExitCode::IoError,
            ClientError::Spawn(..) => ExitCode::CompilerMissing,
            ClientError::NotDistributed { code, .. } => *code,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Recursion => write!(
                f,
                "distcc seems to have invoked itself recursively (_DISTCC_SAFEGUARD is set)"
            ),
            ClientError::NoCompiler => write!(f, "no compiler named"),
            ClientError::CompilerNotFound(c) => {
                write!(
                    f,
                    "compiler {c:?} not found on PATH (other than distcc itself)"
                )
            }
            ClientError::NoDistccDir => write!(f, "neither DISTCC_DIR nor HOME is set"),
            ClientError::DistccDir { path, err } => {
                write!(
                    f,
                    "cannot create distcc directory {}: {err}",
                    path.display()
                )
            }
            ClientError::BadHostSpec(e) => write!(f, "{e}"),
            ClientError::HostsFile(e) => write!(f, "{e}"),
            ClientError::Lock(dir, e) => write!(f, "cannot lock a slot in {}: {e}", dir.display()),
            ClientError::Spawn(p, e) => write!(f, "cannot run {}: {e}", p.display()),
            ClientError::Output(p, e) => write!(f, "cannot write {}: {e}", p.display()),
            ClientError::NotDistributed { why, .. } => {
                write!(f, "failed to distribute and fallbacks are disabled: {why}")
            }
        }
    }
}

impl std::error::Error for ClientError {}
