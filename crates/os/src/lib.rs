//! The only place that talks to the operating system on behalf of distcc policy: exit codes,
//! process spawning, temporary directories, fcntl locks and signals. It carries no distcc
//! policy of its own: callers decide what to run, where, and what a failure means.

pub mod alive;
pub mod daemonize;
pub mod exit;
pub mod fd;
pub mod interrupt;
pub mod janitor;
pub mod listen;
pub mod lock;
pub mod process;
pub mod sandbox;
pub mod signal;
pub mod systemd;
pub mod tcp;
pub mod tempdir;
pub mod usage;
pub mod user;
pub mod wake;
