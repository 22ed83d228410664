//! gcc and clang command lines, as distcc sees them: is this a compile that may run on
//! another machine, one that must run here (and why), or no compile at all; and how the
//! command line changes for the local preprocessor and for the server.
//!
//! Everything the crate knows about compiler options is in one sorted table
//! ([`table::OPTIONS`]). The crate is pure: it never looks at the file system or the
//! environment. Deciding which compiler binary to run, reading `@file` response files,
//! `DEPENDENCIES_OUTPUT` and the cross-compiler rename are the client's business. It also knows
//! how gcc lays out a `.d` file ([`dotd`]).

pub mod dotd;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
mod lang;
mod reason;
mod scan;
pub mod table;

pub use lang::{Language, Preprocessed};
pub use reason::LocalReason;
pub use scan::{Classified, Deps, Job, Stop, classify};
