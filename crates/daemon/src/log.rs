//! distccd's log: one sink (a file, standard error, or syslog as in 3.4) and a level.
//!
//! Lines look like 3.4's: `distccd[PID] (level) message`. The sink is process-wide and set
//! once at start-up; messages below the level cost one atomic load.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

/// Severity, from 3.4's `--log-level` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

impl Level {
    pub fn from_name(s: &str) -> Option<Level> {
        Some(match s {
            "critical" | "crit" => Level::Critical,
            "error" | "err" => Level::Error,
            "warning" | "warn" => Level::Warning,
            "notice" => Level::Notice,
            "info" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Critical => "CRITICAL",
            Level::Error => "ERROR",
            Level::Warning => "Warning",
            Level::Notice => "notice",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// Where log lines go.
pub enum Sink {
    Stderr,
    File(File),
    Syslog,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Notice as u8);
static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();

/// Sets the sink and level; the first call wins.
pub fn init(sink: Sink, level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
    if let Sink::Syslog = sink {
        // SAFETY: the ident must outlive every syslog call; a static C string does.
        unsafe { libc::openlog(c"distccd".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    }
    let _ = SINK.set(Mutex::new(sink));
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at `level` if enabled.
pub fn log(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    let Some(sink) = SINK.get() else {
        eprintln!("distccd[{}] ({}) {msg}", std::process::id(), level.name());
        return;
    };
    let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
    match &mut *sink {
        Sink::Stderr => {
            let _ = writeln!(
                std::io::stderr(),
                "distccd[{}] ({}) {msg}",
                std::process::id(),
                level.name()
            );
        }
        Sink::File(f) => {
            let _ = writeln!(
                f,
                "distccd[{}] ({}) {msg}",
                std::process::id(),
                level.name()
            );
        }
        Sink::Syslog => {
            let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
            // SAFETY: constant format string, one valid C string argument.
            unsafe { libc::syslog(level as libc::c_int, c"%s".as_ptr(), c.as_ptr()) };
        }
    }
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => {
        if $crate::log::enabled($lvl) {
            $crate::log::log($lvl, &format!($($arg)*));
        }
    };
}
