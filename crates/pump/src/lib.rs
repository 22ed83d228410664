//! distcc's pump mode: the include server that tells each client which files a compile
//! reads, and the `pump` front end that starts and stops it around a build.
//!
//! Compatible with distcc 3.4's client (its `include_server_if.c` exchange, its client-root
//! layout) and its `pump` script (`--startup`/`--shutdown` output, environment variables).
//!
//! Limits compared with 3.4's Python include server:
//! - not handled here: `--stat_reset_triggers`, `--exact_analysis`/`--verify`,
//!   `--write_include_closure`, `--path_observation_re`, `--simple_algorithm` and e-mail
//!   reports (accepted, with a start-up warning; see `options` for what each option does);
//!   `-I-`, `-Xpreprocessor` and `-imultilib` give up, as in 3.4; a computed
//!   include with no value of the form `"…"`/`<…>` gives up (3.4 silently sends nothing for
//!   it, so its remote compile fails and is retried locally);
//! - handled here and not in 3.4: edited, created and removed headers between requests
//!   (3.4 assumes nothing changes while it runs); `#include_next` searches only after the
//!   includer's directory (3.4 sends every candidate); each reply lists only the links and
//!   forcing files that request needs (3.4 resends every one it ever made); concurrent
//!   connections; a per-request timeout on reading, none on the analysis (3.4 gives up
//!   after 3.8 s of CPU, which this analyser does not approach).

pub mod analyze;
pub mod command;
pub mod defaults;
pub mod directives;
pub mod frontend;
pub mod fscache;
pub mod macros;
pub mod options;
pub mod root;
pub mod server;
pub mod wire;
