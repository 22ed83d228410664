//! The client's messages: to standard error, or appended to `DISTCC_LOG`, each line
//! `distcc[pid] level: message` written whole in one call so that parallel clients sharing a
//! log never mix inside a line.
//!
//! As in 3.4: a `DISTCC_LOG` that cannot be opened is reported (`failed to open logfile …`)
//! and messages go to standard error instead; without `DISTCC_LOG`, `UNCACHED_ERR_FD` (set
//! by ccache to a copy of its standard error that it does not cache) takes the place of
//! standard error, so distcc's own failures never end up in a cached result. Unlike 3.4, the
//! error that makes a compile fail ([`Log::fatal`]) is also written to standard error (or
//! `UNCACHED_ERR_FD`) when the log is a file: a failed build always says why.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Where messages go and which are shown. Warnings and errors always are; info and debug
/// only with `DISTCC_VERBOSE`, as in 3.4.
#[derive(Debug, Clone)]
pub struct Log {
    /// `DISTCC_LOG`, opened for appending; `None` when unset or it could not be opened.
    file: Option<Arc<File>>,
    /// What stands for standard error: `UNCACHED_ERR_FD`'s duplicate, else `None` (stderr).
    err: Option<Arc<File>>,
    min: Level,
}

impl Log {
    /// A log to `file` (else standard error). A file that cannot be opened is reported on
    /// standard error, as 3.4 does, and standard error is used.
    pub fn new(file: Option<PathBuf>, verbose: bool) -> Log {
        Log::open(file, None, verbose)
    }

    /// The log the environment asks for: `DISTCC_LOG`, `UNCACHED_ERR_FD`, `DISTCC_VERBOSE`.
    pub fn from_config(config: &Config) -> Log {
        let err = config.uncached_err_fd.and_then(os::fd::inherited_writer);
        Log::open(config.log_file.clone(), err, config.verbose)
    }

    fn open(path: Option<PathBuf>, err: Option<File>, verbose: bool) -> Log {
        let mut log = Log {
            file: None,
            err: err.map(Arc::new),
            min: if verbose {
                Level::Debug
            } else {
                Level::Warning
            },
        };
        if let Some(path) = path {
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => log.file = Some(Arc::new(f)),
                Err(e) => log.error(format_args!(
                    "failed to open logfile {}: {e}",
                    path.display()
                )),
            }
        }
        log
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }

    fn line(level: Level, msg: std::fmt::Arguments<'_>) -> String {
        format!("distcc[{}] {}: {}\n", std::process::id(), level.name(), msg)
    }

    /// Writes to standard error, or to what stands for it.
    fn to_err(&self, line: &str) {
        match &self.err {
            Some(f) => {
                let _ = (&**f).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    pub fn log(&self, level: Level, msg: std::fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let line = Log::line(level, msg);
        if let Some(f) = &self.file
            && (&**f).write_all(line.as_bytes()).is_ok()
        {
            return;
        }
        self.to_err(&line);
    }

    /// The error that ends a compile: logged, and also shown on standard error (or
    /// `UNCACHED_ERR_FD`) when the log is a file, so the user always sees why.
    pub fn fatal(&self, msg: std::fmt::Arguments<'_>) {
        let line = Log::line(Level::Error, msg);
        if let Some(f) = &self.file {
            let _ = (&**f).write_all(line.as_bytes());
        }
        self.to_err(&line);
    }

    pub fn debug(&self, msg: std::fmt::Arguments<'_>) {
        self.log(Level::Debug, msg)
    }
    pub fn info(&self, msg: std::fmt::Arguments<'_>) {
        self.log(Level::Info, msg)
    }
    pub fn warning(&self, msg: std::fmt::Arguments<'_>) {
        self.log(Level::Warning, msg)
    }
    pub fn error(&self, msg: std::fmt::Arguments<'_>) {
        self.log(Level::Error, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let mut p = std::env::temp_dir();
        p.push(format!("distcc-log-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn fatal_reaches_the_error_channel_as_well_as_the_file() {
        let (logf, errf) = (temp("file"), temp("err"));
        let err = File::create(&errf).unwrap();
        let log = Log::open(Some(logf.clone()), Some(err), false);
        log.warning(format_args!("only in the file"));
        log.fatal(format_args!("why it failed"));
        let in_file = std::fs::read_to_string(&logf).unwrap();
        let on_err = std::fs::read_to_string(&errf).unwrap();
        assert!(in_file.contains("warning: only in the file"), "{in_file}");
        assert!(in_file.contains("error: why it failed"), "{in_file}");
        assert!(!on_err.contains("only in the file"), "{on_err}");
        assert!(on_err.contains("error: why it failed"), "{on_err}");
        let _ = std::fs::remove_file(&logf);
        let _ = std::fs::remove_file(&errf);
    }

    #[test]
    fn a_log_file_that_cannot_be_opened_is_reported() {
        let errf = temp("unopenable");
        let err = File::create(&errf).unwrap();
        let log = Log::open(
            Some(PathBuf::from("/nonexistent/dir/log")),
            Some(err),
            false,
        );
        log.warning(format_args!("then this"));
        let on_err = std::fs::read_to_string(&errf).unwrap();
        assert!(
            on_err.contains("error: failed to open logfile /nonexistent/dir/log: "),
            "{on_err}"
        );
        assert!(on_err.contains("warning: then this"), "{on_err}");
        let _ = std::fs::remove_file(&errf);
    }
}
