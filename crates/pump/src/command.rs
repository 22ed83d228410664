//! What a compiler command line means for include search: the source, the language, the
//! search directories in gcc's order, `-include`/`-imacros` files and `-D` macros.
//!
//! Pure: no file system. Options that change the search in ways this server does not model
//! (`-I-`, `-Xpreprocessor`, `-imultilib`, more or fewer than one source) are a
//! [`NotCovered`] reason, which the server answers with an empty list so the client
//! preprocesses locally, as 3.4's include server does.

use std::fmt;

/// Why a command cannot be analysed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCovered(pub String);

impl fmt::Display for NotCovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parts of a compile that decide which files it reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    pub compiler: String,
    pub language: String,
    pub sysroot: Option<String>,
    pub source: String,
    /// `-iquote`: searched for `"…"` only, before `-I`.
    pub quote_dirs: Vec<String>,
    /// `-I`.
    pub i_dirs: Vec<String>,
    /// `-isystem`.
    pub system_dirs: Vec<String>,
    /// `-idirafter`, `-iwithprefix`: after the built-in directories.
    pub after_dirs: Vec<String>,
    /// `-include` and `-imacros`, in order.
    pub include_files: Vec<String>,
    /// `-D` as (name, value); `-DX` is `("X", "1")`.
    pub defines: Vec<(String, String)>,
    pub nostdinc: bool,
}

/// Options whose value may be the next word; they are all preprocessor-relevant or must at
/// least not be mistaken for a source file.
const TAKES_VALUE: &[&str] = &[
    "--param",
    "-A",
    "-D",
    "-I",
    "-L",
    "-MF",
    "-MQ",
    "-MT",
    "-U",
    "-Xassembler",
    "-Xclang",
    "-Xlinker",
    "-arch",
    "-aux-info",
    "-idirafter",
    "-imacros",
    "-imultilib",
    "-include",
    "-iprefix",
    "-iquote",
    "-isysroot",
    "-isystem",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-l",
    "-o",
    "-target",
    "-x",
];

/// The language gcc infers from a file name, as 3.4's include server maps it.
pub fn language_of(source: &str) -> Option<&'static str> {
    let ext = source.rsplit_once('.')?.1;
    Some(match ext {
        "c" | "i" => "c",
        "cc" | "cpp" | "cxx" | "C" | "CXX" | "ii" | "c++" | "cp" | "CPP" => "c++",
        "m" | "mi" => "objective-c",
        "mm" | "M" | "mii" => "objective-c++",
        _ => return None,
    })
}

/// Parses `argv` (compiler first).
pub fn parse(argv: &[String]) -> Result<Command, NotCovered> {
    let nc = |s: String| Err(NotCovered(s));
    let Some(compiler) = argv.first() else {
        return nc("empty command line".into());
    };
    let mut c = Command {
        compiler: compiler.clone(),
        ..Command::default()
    };
    let mut language: Option<String> = None;
    let mut iprefix = String::new();
    let mut sources = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        i += 1;
        if !a.starts_with('-') || a == "-" {
            sources.push(a.to_string());
            continue;
        }
        if let Some(v) = a.strip_prefix("--sysroot=") {
            c.sysroot = Some(v.to_string());
            continue;
        }
        match a {
            "-nostdinc" => {
                c.nostdinc = true;
                continue;
            }
            "-I-" => return nc("-I- is not supported (use -iquote)".into()),
            "-Xpreprocessor" => return nc("-Xpreprocessor is not supported".into()),
            "--sysroot" => {
                c.sysroot = argv.get(i).cloned();
                i += 1;
                continue;
            }
            _ => {}
        }
        // Longest option spelling that prefixes the word: "-include" before "-I"... no
        // clash since case differs, but "-iquote" vs "-i…" prefixes need the longest match.
        let Some(opt) = TAKES_VALUE
            .iter()
            .filter(|o| a.starts_with(**o))
            .max_by_key(|o| o.len())
        else {
            continue;
        };
        // Multi-letter options other than these take their value only as a separate word
        // unless glued (-isystem/dir is accepted by gcc); one-letter ones may be glued.
        let value = if a.len() > opt.len() {
            a[opt.len()..].to_string()
        } else {
            let Some(v) = argv.get(i) else {
                return nc(format!("no argument found for option '{a}'"));
            };
            i += 1;
            v.clone()
        };
        match *opt {
            "-I" if value == "-" => return nc("-I- is not supported (use -iquote)".into()),
            "-I" => c.i_dirs.push(value),
            "-iquote" => c.quote_dirs.push(value),
            "-isystem" => c.system_dirs.push(value),
            "-idirafter" => c.after_dirs.push(value),
            "-iprefix" => iprefix = value,
            "-iwithprefix" => c.after_dirs.push(format!("{iprefix}{value}")),
            "-iwithprefixbefore" => c.i_dirs.push(format!("{iprefix}{value}")),
            "-include" | "-imacros" => c.include_files.push(value),
            "-isysroot" => c.sysroot = Some(value),
            "-imultilib" => return nc("-imultilib is not supported".into()),
            "-x" => language = Some(value),
            "-D" => {
                let (n, v) = value.split_once('=').unwrap_or((&value, "1"));
                let n = n.split('(').next().unwrap_or(n);
                c.defines.push((n.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
    if sources.len() != 1 {
        return nc(format!(
            "could not locate the translation unit among {sources:?}"
        ));
    }
    c.source = sources.remove(0);
    c.language = match language.as_deref() {
        Some("c" | "c++" | "objective-c" | "objective-c++") => language.unwrap_or_default(),
        Some("none") | None => match language_of(&c.source) {
            Some(l) => l.to_string(),
            None => return nc(format!("unrecognized filename extension of '{}'", c.source)),
        },
        Some(other) => return nc(format!("language '{other}' is not analysed")),
    };
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn search_options_in_order() {
        let c = parse(&argv(
            "gcc -c -Ia -I b -iquote q -isystem s -idirafter z -include f.h -DX=\"y.h\" -DZ \
             -o out.o -MF d -x c++ src.c --sysroot=/r",
        ))
        .unwrap();
        assert_eq!(c.i_dirs, ["a", "b"]);
        assert_eq!(c.quote_dirs, ["q"]);
        assert_eq!(c.system_dirs, ["s"]);
        assert_eq!(c.after_dirs, ["z"]);
        assert_eq!(c.include_files, ["f.h"]);
        assert_eq!(
            c.defines,
            [("X".into(), "\"y.h\"".into()), ("Z".into(), "1".into())]
        );
        assert_eq!(c.source, "src.c");
        assert_eq!(c.language, "c++");
        assert_eq!(c.sysroot.as_deref(), Some("/r"));
    }

    #[test]
    fn refusals() {
        assert!(parse(&argv("gcc -c a.c b.c")).is_err());
        assert!(parse(&argv("gcc -c -I- a.c")).is_err());
        assert!(parse(&argv("gcc -c a.f90")).is_err());
        assert!(parse(&argv("gcc -c -I")).is_err());
        assert_eq!(parse(&argv("cc -c x.cpp")).unwrap().language, "c++");
    }
}
