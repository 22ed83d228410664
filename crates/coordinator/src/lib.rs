//! `distcc-coordinator` (issue 15): one farm for many client machines. Daemons register and
//! report their slots and load; clients ask for a slot per job and get a lease (host, slot),
//! compile directly with that daemon and release it. docs/coordinator.md is the design.
//!
//! - `farm.rs` — the state machine and policy (fastest free slot, slow hosts off the tail,
//!   max-min fair shares between builds, leases and their expiry), pure: time is passed in.
//! - `server.rs` — the one port: a `mio` event loop over frames (`proto::coord`) and the
//!   HTTP pages (`/json`, `/metrics`, `/dashboard`).
//!
//! What it leaves to others: the wire format (`proto::coord`); the daemon's registration
//! (`daemon::coordinator`) and the client's lease (`client::coord`), both std only; TLS and
//! authentication, which plug in at the connection (see `server.rs`).

pub mod farm;
pub mod server;
