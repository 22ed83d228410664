//! The preprocessor directives of one file that matter for the include closure: every
//! `#include`, `#include_next`, `#import` and `#define`, whatever `#if` surrounds them.
//!
//! Conditionals are deliberately ignored (the closure must be a superset of what any
//! configuration reads). Comments are removed and backslash-newlines joined first, so a
//! directive split over lines or hidden in a comment is seen as the compiler sees it.
//! String and character literals end at the end of their line at the latest, so a stray
//! apostrophe (C++14 digit separators, text under `#if 0`) cannot swallow the rest of a file.
//! Resolving names and evaluating computed includes is left to `analyze` and `macros`.

/// How an include names its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `#include "x.h"`.
    Quote(String),
    /// `#include <x.h>`.
    Angle(String),
    /// `#include MACRO…`: the text after the directive, to be macro-expanded.
    Computed(String),
}

/// One include directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub target: Target,
    /// `#include_next`.
    pub next: bool,
}

/// One `#define`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Define {
    pub name: String,
    /// Parameter names of a function-like macro (`...` kept as written), `None` if object-like.
    pub params: Option<Vec<String>>,
    pub body: String,
}

/// Everything `scan` found in one file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    pub includes: Vec<Include>,
    pub defines: Vec<Define>,
}

/// Scans a file's bytes. Never fails: bytes that are not C are simply not directives.
pub fn scan(src: &[u8]) -> Directives {
    let mut out = Directives::default();
    for line in logical_lines(src) {
        let t = trim_start(&line);
        let Some(rest) = t.strip_prefix(b"#") else {
            continue;
        };
        let rest = trim_start(rest);
        let name_len = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        let (name, arg) = rest.split_at(name_len);
        match name {
            b"include" | b"import" => push_include(&mut out, arg, false),
            b"include_next" => push_include(&mut out, arg, true),
            b"define" => {
                if let Some(d) = parse_define(arg) {
                    out.defines.push(d);
                }
            }
            _ => {}
        }
    }
    out
}

fn push_include(out: &mut Directives, arg: &[u8], next: bool) {
    let arg = trim(arg);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let target = match arg.first() {
        Some(b'"') => match arg[1..].iter().position(|&c| c == b'"') {
            Some(end) => Target::Quote(text(&arg[1..1 + end])),
            None => return,
        },
        Some(b'<') => match arg[1..].iter().position(|&c| c == b'>') {
            Some(end) => Target::Angle(text(&arg[1..1 + end])),
            None => return,
        },
        Some(_) => Target::Computed(text(arg)),
        None => return,
    };
    out.includes.push(Include { target, next });
}

fn parse_define(arg: &[u8]) -> Option<Define> {
    let arg = trim_start(arg);
    let n = arg
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if n == 0 || arg[0].is_ascii_digit() {
        return None;
    }
    let name = String::from_utf8_lossy(&arg[..n]).into_owned();
    let rest = &arg[n..];
    // A parameter list only when '(' follows the name with no space between.
    let (params, body) = if rest.first() == Some(&b'(') {
        let close = rest.iter().position(|&c| c == b')')?;
        let params = String::from_utf8_lossy(&rest[1..close])
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        (Some(params), &rest[close + 1..])
    } else {
        (None, rest)
    };
    Some(Define {
        name,
        params,
        body: String::from_utf8_lossy(trim(body)).into_owned(),
    })
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let n = b
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    &b[..b.len() - n]
}

/// Splits into logical lines: backslash-newlines joined, comments replaced by a space.
fn logical_lines(src: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    let mut in_block = false;
    let mut quote: Option<u8> = None;
    while i < src.len() {
        let c = src[i];
        // Line splices vanish everywhere, even inside comments and literals.
        if c == b'\\' {
            let after = if src.get(i + 1) == Some(&b'\r') {
                i + 2
            } else {
                i + 1
            };
            if src.get(after) == Some(&b'\n') {
                i = after + 1;
                continue;
            }
        }
        if c == b'\n' {
            quote = None;
            if !in_block {
                lines.push(std::mem::take(&mut cur));
            }
            i += 1;
            continue;
        }
        if in_block {
            if c == b'*' && src.get(i + 1) == Some(&b'/') {
                in_block = false;
                cur.push(b' ');
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if let Some(q) = quote {
            cur.push(c);
            if c == b'\\' && i + 1 < src.len() && src[i + 1] != b'\n' {
                cur.push(src[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'/' if src.get(i + 1) == Some(&b'*') => {
                in_block = true;
                i += 2;
            }
            b'/' if src.get(i + 1) == Some(&b'/') => {
                // Skip to the end of the line, honouring splices.
                i += 2;
                while i < src.len() && src[i] != b'\n' {
                    if src[i] == b'\\' && src.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                // `#include <it's.h>` is not a literal; only quote inside ordinary text.
                let angle_open = cur.contains(&b'<') && !cur.contains(&b'>');
                if !angle_open {
                    quote = Some(c);
                }
                cur.push(c);
                i += 1;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incs(src: &str) -> Vec<Include> {
        scan(src.as_bytes()).includes
    }

    #[test]
    fn finds_every_kind_under_any_conditional() {
        let d = scan(
            b"#if 0\n#include \"a.h\"\n#else\n  #  include <b/c.h>\n#endif\n\
              #include_next <d.h>\n#import \"e.h\"\n#include HDR(x)\n",
        );
        assert_eq!(
            d.includes,
            vec![
                Include {
                    target: Target::Quote("a.h".into()),
                    next: false
                },
                Include {
                    target: Target::Angle("b/c.h".into()),
                    next: false
                },
                Include {
                    target: Target::Angle("d.h".into()),
                    next: true
                },
                Include {
                    target: Target::Quote("e.h".into()),
                    next: false
                },
                Include {
                    target: Target::Computed("HDR(x)".into()),
                    next: false
                },
            ]
        );
    }

    #[test]
    fn comments_and_splices() {
        let i = incs(
            "/* #include \"no.h\"\n */ #include \"yes.h\" // x\n#inc\\\nlude <s.h>\n// #include <no2.h>\n",
        );
        assert_eq!(
            i,
            vec![
                Include {
                    target: Target::Quote("yes.h".into()),
                    next: false
                },
                Include {
                    target: Target::Angle("s.h".into()),
                    next: false
                },
            ]
        );
    }

    #[test]
    fn stray_quotes_end_at_line_end() {
        let i = incs("int x = 1'000;\nchar *s = \"/*\";\n#include \"after.h\"\n");
        assert_eq!(i.len(), 1);
    }

    #[test]
    fn defines() {
        let d = scan(b"#define A \"x.h\"\n#define F(a, b) <a##b.h>\n#define G (1)\n#define\n");
        assert_eq!(d.defines.len(), 3);
        assert_eq!(d.defines[0].params, None);
        assert_eq!(d.defines[0].body, "\"x.h\"");
        assert_eq!(d.defines[1].params, Some(vec!["a".into(), "b".into()]));
        assert_eq!(d.defines[2].params, None);
        assert_eq!(d.defines[2].body, "(1)");
    }
}
