//! distccd's logic: options, access control, the compiler allow-list, the server-side argv
//! rewrite, pump job directories, serving one request, the accept loop, and the stats port.
//!
//! It never depends on the client crate, and spawns processes only through `os::process`.
//! The binary `src/bin/distccd.rs` only parses, sets up the process (log, detach, root drop)
//! in the right order, and maps errors to exit codes.

pub mod access;
pub mod advertise;
pub mod argv;
pub mod budget;
pub mod chunks;
pub mod compiler;
pub mod coordinator;
pub mod dotd;
pub mod env;
pub mod held;
pub mod jobdir;
pub mod log;
pub mod options;
pub mod optlist;
pub mod secure;
pub mod serve;
pub mod server;
pub mod stats;
