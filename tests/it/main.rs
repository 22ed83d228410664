//! End-to-end tests of our binaries with real compilers and real daemons on loopback.
//! One module per topic; each test starts what it needs and stops it.

mod cache;
mod chunks;
mod client;
mod coordinator;
#[path = "../common/corpus.rs"]
mod corpus;
mod daemon;
mod dashboard;
mod diagnostics;
mod discovery;
mod faults;
#[path = "../common/http.rs"]
mod http;
mod identity;
mod include_server;
mod load;
mod lsdistcc;
mod messages;
mod monitor;
mod netns;
mod outputs;
mod package;
#[path = "../common/pki.rs"]
mod pki;
#[path = "../common/ports.rs"]
mod ports;
#[path = "../common/proc.rs"]
mod proc;
mod protocol4;
mod sandbox;
mod sched;
mod security;
#[path = "../common/sources.rs"]
mod sources;
mod ssh;
mod stats;
mod support;
mod tls;
