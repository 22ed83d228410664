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
mod identity;
mod include_server;
mod load;
mod lsdistcc;
mod messages;
mod monitor;
mod netns;
mod outputs;
mod package;
mod protocol4;
mod sandbox;
mod sched;
mod security;
mod ssh;
mod stats;
mod support;
mod tls;
