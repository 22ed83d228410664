//! The client's messages: to standard error, or appended to `DISTCC_LOG`, each line
//! `distcc[pid] level: message` written whole in one call so that parallel clients sharing a
//! log never mix inside a line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

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
    file: Option<PathBuf>,
    min: Level,
}

impl Log {
    pub fn new(file: Option<PathBuf>, verbose: bool) -> Log {
        Log {
            file,
            min: if verbose {
                Level::Debug
            } else {
                Level::Warning
            },
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }

    pub fn log(&self, level: Level, msg: std::fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let line = format!("distcc[{}] {}: {}\n", std::process::id(), level.name(), msg);
        if let Some(path) = &self.file
            && let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path)
        {
            let _ = f.write_all(line.as_bytes());
            return;
        }
        let _ = std::io::stderr().write_all(line.as_bytes());
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
