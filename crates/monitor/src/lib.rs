//! The monitor side of distcc-rs: the client's state files (written by [`write::StateFile`],
//! read by [`read::poll`]), their plain-text rendering for `distccmon-text` ([`text`]),
//! server discovery for `lsdistcc` ([`lsdistcc`]), and the farm view of `distcc-farm`
//! ([`farm`]: every host's stats port at once).
//!
//! The record format itself is `proto::state`; this crate adds the file and network I/O
//! around it. Readers only read: they never create, change or delete anything in the state
//! directory (3.4's monitor deletes stale files; ours skips them and leaves the clean-up to
//! the client that wrote them).

pub mod farm;
pub mod lsdistcc;
pub mod read;
pub mod text;
pub mod write;

pub use proto::state::{Phase, StateRecord};
