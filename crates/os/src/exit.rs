//! distcc's exit codes (3.4's `exitcode.h`), shared by every binary so that scripts which
//! test for them keep working.

/// An exit status with a distcc meaning. Values 100–120 match distcc 3.4 exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    Distcc = 100,
    BadArguments = 101,
    BindFailed = 102,
    ConnectFailed = 103,
    CompilerCrashed = 104,
    OutOfMemory = 105,
    BadHostspec = 106,
    IoError = 107,
    Truncated = 108,
    ProtocolError = 109,
    CompilerMissing = 110,
    RecursiveDistcc = 111,
    SetuidFailed = 112,
    AccessDenied = 113,
    Busy = 114,
    NoSuchFile = 115,
    NoHosts = 116,
    Gone = 117,
    Timeout = 118,
    GssapiFailed = 119,
    LocalCpp = 120,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The wait status a daemon reports in `STAT` for this code, as 3.4 does for internal
    /// failures (for example 110 when the compiler is missing).
    pub fn as_wait_status(self) -> u32 {
        (self as u32) << 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_distcc_3_4() {
        assert_eq!(ExitCode::Distcc.code(), 100);
        assert_eq!(ExitCode::CompilerMissing.code(), 110);
        assert_eq!(ExitCode::Timeout.code(), 118);
        assert_eq!(ExitCode::LocalCpp.code(), 120);
        assert_eq!(ExitCode::CompilerMissing.as_wait_status(), 0x6e00);
    }
}
