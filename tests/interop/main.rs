//! Interoperability with Debian's distcc 3.4: its client against our daemon, our client against
//! its daemon. Under `CI=true` a missing 3.4 peer is a failure, never a skip.

mod coordinator;
#[path = "../common/corpus.rs"]
mod corpus;
mod debug_info;
mod distcc34_client;
mod distccd34;
#[path = "../common/http.rs"]
mod http;
mod identity;
mod libgit2;
mod monitor;
#[path = "../common/pki.rs"]
mod pki;
#[path = "../common/ports.rs"]
mod ports;
#[path = "../common/proc.rs"]
mod proc;
mod protocol4;
mod pump34;
mod pump_client;
mod reapi;
mod sched;
#[path = "../common/sources.rs"]
mod sources;
mod ssh;
mod stats;
mod support;
mod zeroconf;
