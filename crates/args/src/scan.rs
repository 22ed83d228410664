//! Classifies one compiler command line: distribute it, run it here (with a reason), or it
//! is not a compile at all. Also builds the two rewritten command lines of a distributed
//! job: the local preprocessor's and the server's.

use std::ffi::{OsStr, OsString};

use crate::lang::{self, FileKind, Language};
use crate::reason::LocalReason;
use crate::table::{self, Meaning, Opt};

/// The verdict on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    Distribute(Job),
    Local(LocalReason),
    /// Nothing to compile (`gcc --version`, `gcc -v`): run it as given.
    NotACompile,
}

/// What the compile stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `-c`: an object file.
    Object,
    /// `-S`: assembler text (wins over `-c`, as in gcc).
    Assembly,
}

/// Dependency-file options seen on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deps {
    /// `-MD` or `-MMD`.
    pub side_effect: bool,
    /// `-MF` given.
    pub file_given: bool,
    /// `-MT` or `-MQ` given.
    pub target_given: bool,
}

/// A compile that may run on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The command line as given, compiler first.
    pub argv: Vec<OsString>,
    /// The source file, as named on the command line.
    pub input: OsString,
    /// The output file: from `-o`, or derived from the source name as gcc does.
    pub output: OsString,
    /// True when `-o` was on the command line.
    pub output_given: bool,
    pub language: Language,
    pub stop: Stop,
    pub deps: Deps,
}

/// One word of a command line after the compiler, as the table reads it.
struct Word<'a> {
    index: usize,
    opt: Option<&'static Opt>,
    /// The option's value, joined or from the next word.
    value: Option<&'a [u8]>,
    /// The value came from the next word (which the walk has skipped).
    separate: bool,
}

fn bytes(s: &OsStr) -> &[u8] {
    s.as_encoded_bytes()
}

/// Walks the words after `argv[0]`, pairing options with their values. An option that
/// needs a separate value but is last is returned with `value: None`.
fn walk(argv: &[OsString]) -> Vec<Word<'_>> {
    let mut words = Vec::with_capacity(argv.len());
    let mut i = 1;
    while i < argv.len() {
        let w = bytes(&argv[i]);
        let found = if w.len() > 1 && w[0] == b'-' {
            table::lookup(w)
        } else {
            None
        };
        match found {
            Some(m) if m.separate_value => {
                let value = argv.get(i + 1).map(|v| bytes(v));
                words.push(Word {
                    index: i,
                    opt: Some(m.opt),
                    value,
                    separate: true,
                });
                i += 2;
            }
            Some(m) => {
                words.push(Word {
                    index: i,
                    opt: Some(m.opt),
                    value: Some(table::joined_value(m.opt, w)),
                    separate: false,
                });
                i += 1;
            }
            None => {
                words.push(Word {
                    index: i,
                    opt: None,
                    value: None,
                    separate: false,
                });
                i += 1;
            }
        }
    }
    words
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Classifies a command line whose first word is the compiler.
pub fn classify(argv: &[OsString]) -> Classified {
    let mut seen_c = false;
    let mut seen_s = false;
    let mut output: Option<&[u8]> = None;
    let mut deps = Deps::default();
    // The `-x` value in force: None for "by extension".
    let mut x: Option<&[u8]> = None;
    let mut sources: Vec<(usize, Option<&[u8]>, Language)> = Vec::new();
    let mut others = 0usize;
    let mut assembler = false;
    let mut stdin = false;

    for word in walk(argv) {
        let w = bytes(&argv[word.index]);
        let Some(opt) = word.opt else {
            if w == b"-" {
                stdin = true;
            } else if w.first() == Some(&b'@') {
                return Classified::Local(LocalReason::ResponseFile);
            } else if w.first() != Some(&b'-') {
                match lang::file_kind(w) {
                    FileKind::Source(l) => sources.push((word.index, x, l)),
                    FileKind::Assembler => assembler = true,
                    FileKind::Other => others += 1,
                }
            }
            continue;
        };
        let Some(value) = word.value else {
            return Classified::Local(LocalReason::MissingValue(opt.spelling.to_owned()));
        };
        let named = || lossy(w);
        match opt.meaning {
            Meaning::Compile => seen_c = true,
            Meaning::Assemble => seen_s = true,
            Meaning::Preprocess => return Classified::Local(LocalReason::PreprocessOnly),
            Meaning::Output => output = Some(value),
            Meaning::Language => {
                x = (value != b"none").then_some(value);
            }
            Meaning::DepsSideEffect => deps.side_effect = true,
            Meaning::DepsFile => deps.file_given = true,
            Meaning::DepsTarget => deps.target_given = true,
            Meaning::DepsOnly => return Classified::Local(LocalReason::DependenciesOnly),
            Meaning::WritesLocalFiles => {
                return Classified::Local(LocalReason::WritesLocalFiles(named()));
            }
            Meaning::ReadsLocalFiles => {
                return Classified::Local(LocalReason::ReadsLocalFiles(named()));
            }
            Meaning::NativeCpu => return Classified::Local(LocalReason::NativeCpu(named())),
            Meaning::AssemblerPass => {
                let asks_files = value
                    .split(|&b| b == b',')
                    .any(|part| part.starts_with(b"-a") || part.starts_with(b"--MD"));
                if asks_files {
                    return Classified::Local(LocalReason::AssemblerOutput(named()));
                }
            }
            Meaning::CppOnly | Meaning::LinkOnly | Meaning::DepsModifier | Meaning::Plain => {}
        }
    }

    if !seen_c && !seen_s {
        return if sources.is_empty() && others == 0 && !assembler && !stdin {
            Classified::NotACompile
        } else {
            Classified::Local(LocalReason::Linking)
        };
    }
    if stdin {
        return Classified::Local(LocalReason::StdinInput);
    }
    if sources.len() + others + usize::from(assembler) > 1 {
        return Classified::Local(LocalReason::SeveralInputs);
    }
    let Some(&(input_index, x_at_input, by_extension)) = sources.first() else {
        return Classified::Local(if assembler {
            LocalReason::AssemblerSource
        } else {
            LocalReason::NoSource
        });
    };
    let language = match x_at_input {
        None => by_extension,
        Some(v) => match Language::from_x(v) {
            None => return Classified::Local(LocalReason::UnknownLanguage(lossy(v))),
            Some(l) if l.preprocessed_extension() != by_extension.preprocessed_extension() => {
                return Classified::Local(LocalReason::LanguageDiffersFromExtension(lossy(v)));
            }
            Some(l) => l,
        },
    };
    if output == Some(b"-") {
        return Classified::Local(LocalReason::OutputToStdout);
    }
    // gcc refuses `-o ''` ("output filename may not be empty"); let it say so here rather than
    // send a job whose result has nowhere to go.
    if output == Some(b"") {
        return Classified::Local(LocalReason::MissingValue("-o".to_owned()));
    }
    let stop = if seen_s { Stop::Assembly } else { Stop::Object };
    let input = argv[input_index].clone();
    let (output, output_given) = match output {
        Some(o) => (os(o), true),
        None => (default_output(bytes(&input), stop), false),
    };
    Classified::Distribute(Job {
        argv: argv.to_vec(),
        input,
        output,
        output_given,
        language,
        stop,
        deps,
    })
}

fn os(b: &[u8]) -> OsString {
    // SAFETY-free conversion: the bytes came from an OsStr (or are ASCII we added), so they
    // are valid OsStr encoding on Unix.
    std::os::unix::ffi::OsStringExt::from_vec(b.to_vec())
}

/// gcc's default output for `-c`/`-S` without `-o`: the source's base name, suffix replaced.
fn default_output(input: &[u8], stop: Stop) -> OsString {
    let base = lang::basename(input);
    let stem = match base.iter().rposition(|&b| b == b'.') {
        Some(dot) => &base[..dot],
        None => base,
    };
    let mut out = stem.to_vec();
    out.extend_from_slice(match stop {
        Stop::Object => b".o",
        Stop::Assembly => b".s",
    });
    os(&out)
}

/// gcc's `%.d%*`: the output name with its suffix (after the last dot of the last path
/// component) replaced by `.d`.
fn replace_suffix_with_d(name: &[u8]) -> Vec<u8> {
    let start = name.iter().rposition(|&b| b == b'/').map_or(0, |s| s + 1);
    let end = name[start..]
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(name.len(), |d| start + d);
    let mut d = name[..end].to_vec();
    d.extend_from_slice(b".d");
    d
}

impl Job {
    /// The local preprocessor's command line: `-c`/`-S` become `-E`, `-o` goes (the caller
    /// sends standard output to the temporary file), and, because `-E` changes how the
    /// driver names dependency files, `-MD`/`-MMD` get the `-MF` and `-MQ` a compile would
    /// have used, so the `.d` file is the same as a local build's.
    pub fn cpp_argv(&self) -> Vec<OsString> {
        let mut out = vec![self.argv[0].clone()];
        for word in walk(&self.argv) {
            let arg = &self.argv[word.index];
            match word.opt.map(|o| o.meaning) {
                Some(Meaning::Compile | Meaning::Assemble) => out.push("-E".into()),
                Some(Meaning::Output) => {}
                _ => {
                    out.push(arg.clone());
                    if word.separate
                        && let Some(v) = self.argv.get(word.index + 1)
                    {
                        out.push(v.clone());
                    }
                }
            }
        }
        if self.deps.side_effect {
            if !self.deps.file_given {
                let dfile = if self.output_given {
                    replace_suffix_with_d(bytes(&self.output))
                } else {
                    let mut d = bytes(&default_output(bytes(&self.input), Stop::Object)).to_vec();
                    d.truncate(d.len() - 2);
                    d.extend_from_slice(b".d");
                    d
                };
                out.push("-MF".into());
                out.push(os(&dfile));
            }
            if !self.deps.target_given && self.output_given {
                out.push("-MQ".into());
                out.push(self.output.clone());
            }
        }
        out
    }

    /// The server's command line, as 3.4's `dcc_strip_local_args`: options that only the
    /// preprocessor or linker read are removed (with their values), `-x` too (the
    /// preprocessed file's extension tells the language), the source keeps its original
    /// name, and `-o` is added when the user left it implicit.
    pub fn server_argv(&self) -> Vec<OsString> {
        let kept = self.kept_words(|opt| {
            Ok::<_, std::convert::Infallible>(matches!(
                opt.map(|o| o.meaning),
                Some(
                    Meaning::CppOnly
                        | Meaning::LinkOnly
                        | Meaning::Language
                        | Meaning::DepsSideEffect
                        | Meaning::DepsFile
                        | Meaning::DepsTarget
                        | Meaning::DepsModifier
                )
            ))
        });
        let mut out = match kept {
            Ok(out) => out,
            Err(never) => match never {},
        };
        if !self.output_given {
            out.push("-o".into());
            out.push(self.output.clone());
        }
        out
    }

    /// The compiler and every word that `strip` (given the word's option, `None` for a
    /// non-option) does not strip, an option with its separate value; `strip`'s error ends
    /// the walk.
    fn kept_words<E>(
        &self,
        mut strip: impl FnMut(Option<&'static Opt>) -> Result<bool, E>,
    ) -> Result<Vec<OsString>, E> {
        let mut out = vec![self.argv[0].clone()];
        for word in walk(&self.argv) {
            if strip(word.opt)? {
                continue;
            }
            out.push(self.argv[word.index].clone());
            if word.separate
                && let Some(v) = self.argv.get(word.index + 1)
            {
                out.push(v.clone());
            }
        }
        Ok(out)
    }

    /// True when the compile writes debug information: the last debug-level option is not
    /// `-g0`/`-ggdb0` (gcc and clang read them in order).
    pub fn debug_info(&self) -> bool {
        let mut on = false;
        for a in &self.argv[1..] {
            let a = bytes(a);
            if a == b"-g0" || a == b"-ggdb0" {
                on = false;
            } else if a == b"-g"
                || matches!(a, b"-g1" | b"-g2" | b"-g3" | b"-gfull")
                || a.starts_with(b"-ggdb")
                || a.starts_with(b"-gdwarf")
                || a.starts_with(b"-gline-")
                || a.starts_with(b"-gstabs")
            {
                on = true;
            }
        }
        on
    }

    /// The DWARF version asked for with `-gdwarf-N` (the last one), if any.
    pub fn dwarf_version(&self) -> Option<u8> {
        self.argv[1..].iter().rev().find_map(|a| {
            let v = bytes(a).strip_prefix(b"-gdwarf-")?;
            match v {
                [d @ b'2'..=b'5'] => Some(d - b'0'),
                _ => None,
            }
        })
    }

    /// The server's command line for a compile of the source text itself, its includes
    /// expanded here (`-fdirectives-only`, `-frewrite-includes`) but its macros not: the
    /// command line as given without the options that find or read other files (include
    /// directories, dependency files) and without `-o` (the server names its own output).
    /// `-D`, `-U`, `-undef`, `-nostdinc` and `-x` stay: the server's preprocessor must
    /// define what the local one defined before the main file. `None` when the text before
    /// the main file cannot be reproduced there: `-include`, `-imacros` (files the server
    /// does not have) and `-Wp,`/`-Xpreprocessor` (options this scanner does not read).
    pub fn source_argv(&self) -> Option<Vec<OsString>> {
        self.kept_words(|opt| {
            let Some(opt) = opt else {
                return Ok(false);
            };
            Ok(match opt.meaning {
                Meaning::CppOnly => match opt.spelling {
                    "-include" | "-imacros" | "-Wp," | "-Xpreprocessor" => return Err(()),
                    "-D" | "-U" | "-undef" | "-nostdinc" | "-nostdinc++" | "-isysroot"
                    | "-stdlib" => false,
                    _ => true,
                },
                Meaning::Output
                | Meaning::DepsSideEffect
                | Meaning::DepsFile
                | Meaning::DepsTarget
                | Meaning::DepsModifier => true,
                _ => false,
            })
        })
        .ok()
    }

    /// Extension for the preprocessed temporary file (`i`, `ii`, `mi`, `mii`).
    pub fn preprocessed_extension(&self) -> &'static str {
        self.language.preprocessed_extension()
    }

    /// The source needs no local preprocessing (`.i`, `.ii`, …).
    pub fn is_preprocessed(&self) -> bool {
        self.language.is_preprocessed()
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
