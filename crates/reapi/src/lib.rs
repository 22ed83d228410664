//! REAPI v2 for distcc (issue 18), in a crate of its own so that the per-compile client
//! `distcc` links no gRPC and no async runtime: the `distcc-reapi` program is run beside it.
//!
//! - [`submit`]: one compile as an Action. The client runs `distcc-reapi submit URL` for a
//!   `reapi://` host and speaks plain distcc protocol (1 or 2) to it over a socket pair, as it
//!   does to an ssh child; the helper turns the request into an Action (the preprocessed
//!   source as the input root, the distcc argv as the Command, platform properties pinning
//!   the compiler's identity), asks the Action Cache, uploads only missing blobs, executes with
//!   a deadline and answers with a distcc reply built from the `ActionResult`.
//! - [`worker`]: `distcc-reapi worker` joins an engine as bots (Remote Workers API bot
//!   sessions, [`rwapi`]) and hands each lease to a `distccd` over loopback as a distcc
//!   request, so every check of a distcc job (allow-list, argv policy, caps, job directory,
//!   sandbox, privilege drop) is the daemon's own code, then uploads the outputs.
//! - [`cas`]: digests, uploads and downloads (batch calls for small blobs, ByteStream above).
//!
//! What it leaves to others: the distcc wire format (`proto`), and everything a compile on
//! the worker checks (`distccd`).

pub mod cas;
pub mod endpoint;
pub mod identity;
pub mod rwapi;
pub mod submit;
pub mod tree;
pub mod worker;

pub use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
pub use bazel_remote_apis::google;

/// The one input file of an Action made from a distcc request: the preprocessed source.
pub const SOURCE_NAME: &str = "distcc.src";
/// The output path of the object file.
pub const OBJECT_NAME: &str = "distcc.o";
/// The output path of a protocol 3 job's dependency file.
pub const DOTD_NAME: &str = "distcc.d";
/// The Command environment variable that marks a protocol 3 job (its input root is the
/// client's file list, its working directory the client's).
pub const PROTOCOL_VAR: &str = "DISTCC_PROTOCOL";
