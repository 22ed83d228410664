//! Source languages distcc distributes, from a file extension or a `-x` value.

/// A language gcc/clang can compile that distcc knows how to preprocess and ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    C,
    Cxx,
    ObjC,
    ObjCxx,
    /// Already preprocessed (`.i`, `.ii`, `.mi`, `.mii`): no local cpp step.
    Preprocessed(Preprocessed),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preprocessed {
    C,
    Cxx,
    ObjC,
    ObjCxx,
}

/// What a non-option argument is, judged by its extension (as 3.4's `dcc_is_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Source(Language),
    Assembler,
    Other,
}

impl Language {
    /// The extension of the preprocessed file: what the server sees and infers the language
    /// from.
    pub fn preprocessed_extension(self) -> &'static str {
        match self.after_cpp() {
            Preprocessed::C => "i",
            Preprocessed::Cxx => "ii",
            Preprocessed::ObjC => "mi",
            Preprocessed::ObjCxx => "mii",
        }
    }

    pub fn is_preprocessed(self) -> bool {
        matches!(self, Language::Preprocessed(_))
    }

    fn after_cpp(self) -> Preprocessed {
        match self {
            Language::C => Preprocessed::C,
            Language::Cxx => Preprocessed::Cxx,
            Language::ObjC => Preprocessed::ObjC,
            Language::ObjCxx => Preprocessed::ObjCxx,
            Language::Preprocessed(p) => p,
        }
    }

    /// Parses a `-x` value. `None` for a language distcc does not distribute.
    pub(crate) fn from_x(value: &[u8]) -> Option<Language> {
        Some(match value {
            b"c" => Language::C,
            b"c++" => Language::Cxx,
            b"objective-c" => Language::ObjC,
            b"objective-c++" => Language::ObjCxx,
            b"cpp-output" => Language::Preprocessed(Preprocessed::C),
            b"c++-cpp-output" => Language::Preprocessed(Preprocessed::Cxx),
            b"objective-c-cpp-output" | b"objc-cpp-output" => {
                Language::Preprocessed(Preprocessed::ObjC)
            }
            b"objective-c++-cpp-output" => Language::Preprocessed(Preprocessed::ObjCxx),
            _ => return None,
        })
    }
}

/// The extension after the last dot of the last path component, if any.
pub(crate) fn extension(name: &[u8]) -> Option<&[u8]> {
    let base = basename(name);
    let dot = base.iter().rposition(|&b| b == b'.')?;
    Some(&base[dot + 1..])
}

pub(crate) fn basename(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|&b| b == b'/') {
        Some(slash) => &name[slash + 1..],
        None => name,
    }
}

pub(crate) fn file_kind(name: &[u8]) -> FileKind {
    let Some(ext) = extension(name) else {
        return FileKind::Other;
    };
    let lang = match ext {
        b"c" => Language::C,
        b"cc" | b"cpp" | b"cxx" | b"cp" | b"c++" | b"C" | b"CC" | b"CPP" => Language::Cxx,
        b"m" => Language::ObjC,
        b"mm" | b"M" => Language::ObjCxx,
        b"i" => Language::Preprocessed(Preprocessed::C),
        b"ii" => Language::Preprocessed(Preprocessed::Cxx),
        b"mi" => Language::Preprocessed(Preprocessed::ObjC),
        b"mii" => Language::Preprocessed(Preprocessed::ObjCxx),
        b"s" | b"S" | b"sx" => return FileKind::Assembler,
        _ => return FileKind::Other,
    };
    FileKind::Source(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_map_to_languages() {
        assert_eq!(file_kind(b"a/b.c"), FileKind::Source(Language::C));
        assert_eq!(file_kind(b"x.cpp"), FileKind::Source(Language::Cxx));
        assert_eq!(file_kind(b"x.C"), FileKind::Source(Language::Cxx));
        assert_eq!(file_kind(b"x.mm"), FileKind::Source(Language::ObjCxx));
        assert_eq!(
            file_kind(b"x.ii"),
            FileKind::Source(Language::Preprocessed(Preprocessed::Cxx))
        );
        assert_eq!(file_kind(b"x.S"), FileKind::Assembler);
        assert_eq!(file_kind(b"x.o"), FileKind::Other);
        assert_eq!(file_kind(b"dir.c/x"), FileKind::Other);
        assert_eq!(Language::Cxx.preprocessed_extension(), "ii");
        assert_eq!(Language::ObjC.preprocessed_extension(), "mi");
    }
}
