//! The distcc client: everything one compile needs, from reading `DISTCC_*` to writing the
//! object file. See ARCHITECTURE.md for the life of one compile.
//!
//! It leaves to others: what a command line means (`args`), the bytes on the wire (`proto`),
//! spawning and locking (`os`). It never links async runtimes, HTTP or daemon code.

mod backoff;
pub mod cache;
mod cache_direct;
pub mod ccid;
pub mod chunks;
pub mod compile;
pub mod config;
pub mod coord;
pub mod cross;
pub mod discover;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod hosts;
pub mod invoke;
pub mod learned;
pub mod log;
pub mod output;
pub mod pump;
mod reapi;
mod remote;
pub mod scan_includes;
mod sched;
mod slots;
pub mod source;
pub mod ssh;
mod state;
pub mod stats;
pub mod transport;

pub use compile::Client;
pub use config::Config;
pub use error::ClientError;

/// The job a command line such as `gcc -g -c a.c` distributes (unit tests of several modules).
#[cfg(test)]
pub(crate) fn test_job(cmd: &str) -> args::Job {
    let argv: Vec<std::ffi::OsString> = cmd.split(' ').map(Into::into).collect();
    match args::classify(&argv) {
        args::Classified::Distribute(j) => j,
        other => panic!("{cmd}: {other:?}"),
    }
}
