//! Why a compile must run on this machine. Logs, stats and the monitor print these.

use std::fmt;

/// A reason to compile locally. The Display text is what the client logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalReason {
    /// No `-c` or `-S`: the driver links.
    Linking,
    /// `-E`: only the preprocessor runs.
    PreprocessOnly,
    /// `-M`/`-MM` (and other `-M…` that imply `-E`): dependency output without compiling.
    DependenciesOnly,
    /// More than one input file on one command line.
    SeveralInputs,
    /// The input is standard input (`-`).
    StdinInput,
    /// No C/C++/Objective-C source among the arguments.
    NoSource,
    /// The source is assembler, which 3.4 never distributes.
    AssemblerSource,
    /// `-x` names a language distcc does not distribute.
    UnknownLanguage(String),
    /// `-x` names a language other than the one the file extension implies; the server only
    /// sees the extension, so it would compile the wrong language.
    LanguageDiffersFromExtension(String),
    /// The output goes to standard output (`-o -`).
    OutputToStdout,
    /// An option makes the compiler write files beside the output that the server would
    /// keep (`-save-temps`, coverage notes, dumps, split DWARF, …).
    WritesLocalFiles(String),
    /// An option makes the compiler read files the server does not have (profiles, plugins,
    /// specs).
    ReadsLocalFiles(String),
    /// `-march=native` and friends: the code depends on this machine's CPU.
    NativeCpu(String),
    /// `-Wa,…` asks the assembler for a listing or dependency file.
    AssemblerOutput(String),
    /// An `@file` response file; the client does not expand them.
    ResponseFile,
    /// An option that needs a value was the last argument.
    MissingValue(String),
    /// `DEPENDENCIES_OUTPUT`/`SUNPRO_DEPENDENCIES` with a compiler that honours them only
    /// when compiling, not in the `-E` step (clang).
    DependencyEnvironment(String),
}

impl fmt::Display for LocalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalReason::Linking => write!(f, "no -c or -S: the compiler links"),
            LocalReason::PreprocessOnly => write!(f, "-E: preprocessing only"),
            LocalReason::DependenciesOnly => {
                write!(f, "-M/-MM: dependency output without compiling")
            }
            LocalReason::SeveralInputs => write!(f, "several input files"),
            LocalReason::StdinInput => write!(f, "input from standard input"),
            LocalReason::NoSource => write!(f, "no source file to compile"),
            LocalReason::AssemblerSource => write!(f, "assembler source"),
            LocalReason::UnknownLanguage(l) => write!(f, "language {l:?} is not distributed"),
            LocalReason::LanguageDiffersFromExtension(l) => {
                write!(f, "-x {l} differs from the file extension")
            }
            LocalReason::OutputToStdout => write!(f, "output to standard output"),
            LocalReason::WritesLocalFiles(o) => write!(f, "{o} writes extra local files"),
            LocalReason::ReadsLocalFiles(o) => write!(f, "{o} reads local files"),
            LocalReason::NativeCpu(o) => write!(f, "{o} depends on this machine's cpu"),
            LocalReason::AssemblerOutput(o) => write!(f, "{o} asks the assembler for files"),
            LocalReason::ResponseFile => write!(f, "@file response files are not expanded"),
            LocalReason::MissingValue(o) => write!(f, "{o} lacks its value"),
            LocalReason::DependencyEnvironment(v) => {
                write!(
                    f,
                    "{v} is set and this compiler ignores it when preprocessing"
                )
            }
        }
    }
}
