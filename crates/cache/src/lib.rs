//! The result cache (issue 16): compile each thing once.
//!
//! - [`key`]: the digest of everything that decides a compile's result: the exact bytes the
//!   compiler reads (the preprocessed source in plain mode, every shipped file's name and
//!   contents in pump mode), the command line the server runs, and the compiler's identity
//!   (protocol 4's fingerprint and target). Both sides compute it with the same code from
//!   the same wire bytes, so a daemon stores under keys it computed itself.
//! - [`rules`]: what may not be cached, each with a reason the stats count.
//! - [`entry`]: one result (exit status, object, `.d`, stderr, stdout) in a checksummed
//!   format: a damaged or truncated file is a miss, never a bad object.
//! - [`store`]: entries on disk under one directory, written atomically (temp + rename),
//!   bounded in size (least recently used out first), safe for many processes at once.
//!
//! Plain `std`, `sha2` and `os`: the per-compile client links it. It does no networking and
//! decides no policy (when to look, what to store): the client's `cache` module and the
//! daemon do.

pub mod entry;
pub mod key;
pub mod rules;
pub mod store;

pub use entry::Entry;
pub use key::Key;
pub use store::{Found, Store, Usage};
