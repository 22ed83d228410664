//! `lsdistcc`: find distcc servers that are up, with distcc 3.4's options and output.
//!
//! - [`options`] turns the command line into [`Options`] (pure, no I/O);
//! - [`probe`] checks one address: a TCP connect and, with `-p`, a tiny real compile;
//! - [`scan`] walks the candidate names (a `%d` pattern or a host list), looks them up and
//!   probes them in parallel threads, reporting each host as it finishes.
//!
//! Printing and exit status are the binary's (`src/bin/lsdistcc.rs`).

pub mod options;
pub mod probe;
pub mod scan;

pub use options::{Options, Targets, UsageError};
pub use scan::{Outcome, Resolver, scan, scan_with};
