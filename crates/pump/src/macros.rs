//! Evaluates the operand of a computed include (`#include MACRO`, `#include F(x)`) over every
//! definition seen, giving each file name it may stand for.
//!
//! Multi-valued on purpose: a macro defined differently in different `#if` branches yields
//! one value per definition, so the closure covers every configuration. Object-like and
//! function-like macros, `#` and `##` are handled; the number of values and the depth of
//! expansion are capped, so a pathological macro set costs bounded time (what is cut off
//! simply yields fewer values, and `analyze` gives up on an include with none).
//! What it leaves to others: finding the definitions (`directives`) and the files (`analyze`).

use std::collections::HashMap;

use crate::directives::Define;

/// Every definition seen for each name.
pub type Table = HashMap<String, Vec<Define>>;

/// What a value of a computed include names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Name {
    Quote(String),
    Angle(String),
}

const MAX_ALTERNATIVES: usize = 64;
const MAX_DEPTH: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    text: String,
    space_before: bool,
}

impl Tok {
    fn is_ident(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    }
}

/// The file names `expr` may expand to, given every definition in `tables` (searched in
/// order, all definitions of a name across all tables count).
pub fn evaluate(expr: &str, tables: &[&Table]) -> Vec<Name> {
    let toks = tokenize(expr);
    let mut names = Vec::new();
    for alt in expand(&toks, tables, 0, &mut Vec::new()) {
        let text = join(&alt);
        let t = text.trim();
        let name = if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
            Name::Quote(t[1..t.len() - 1].to_string())
        } else if t.len() >= 2 && t.starts_with('<') && t.ends_with('>') {
            Name::Angle(t[1..t.len() - 1].to_string())
        } else {
            continue;
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// True if some identifier of `expr` has a definition: a computed include whose macros are
/// all undefined cannot be reached by the compiler (it would fail there), so it is skipped.
pub fn any_defined(expr: &str, tables: &[&Table]) -> bool {
    tokenize(expr)
        .iter()
        .any(|t| t.is_ident() && !definitions(&t.text, tables).is_empty())
}

fn definitions<'a>(name: &str, tables: &[&'a Table]) -> Vec<&'a Define> {
    tables
        .iter()
        .filter_map(|t| t.get(name))
        .flatten()
        .collect()
}

fn expand(
    toks: &[Tok],
    tables: &[&Table],
    depth: usize,
    hidden: &mut Vec<String>,
) -> Vec<Vec<Tok>> {
    let mut alts: Vec<Vec<Tok>> = vec![Vec::new()];
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let defs = if t.is_ident() && depth < MAX_DEPTH && !hidden.contains(&t.text) {
            definitions(&t.text, tables)
        } else {
            Vec::new()
        };
        if defs.is_empty() {
            for a in &mut alts {
                a.push(t.clone());
            }
            i += 1;
            continue;
        }
        let mut pieces: Vec<Vec<Tok>> = Vec::new();
        let mut consumed = i + 1;
        for def in defs {
            let body = tokenize(&def.body);
            let replaced = match &def.params {
                None => body,
                Some(params) => {
                    let Some((args, end)) = collect_args(toks, i + 1) else {
                        // A function-like name without arguments is not a call.
                        pieces.push(vec![t.clone()]);
                        continue;
                    };
                    consumed = consumed.max(end);
                    substitute(&body, params, &args, tables, depth, hidden)
                }
            };
            hidden.push(t.text.clone());
            for mut p in expand(&replaced, tables, depth + 1, hidden) {
                if let Some(first) = p.first_mut() {
                    first.space_before = t.space_before;
                }
                pieces.push(p);
            }
            hidden.pop();
        }
        let mut next = Vec::new();
        'outer: for a in &alts {
            for p in &pieces {
                if next.len() >= MAX_ALTERNATIVES {
                    break 'outer;
                }
                let mut n = a.clone();
                n.extend(p.iter().cloned());
                next.push(n);
            }
        }
        alts = next;
        i = consumed;
    }
    alts
}

/// The arguments of a call whose `(` is the next token from `start`, and the index after `)`.
fn collect_args(toks: &[Tok], start: usize) -> Option<(Vec<Vec<Tok>>, usize)> {
    if toks.get(start)?.text != "(" {
        return None;
    }
    let mut args = vec![Vec::new()];
    let mut level = 0;
    for (k, t) in toks.iter().enumerate().skip(start + 1) {
        match t.text.as_str() {
            "(" => level += 1,
            ")" if level == 0 => {
                if args.len() == 1 && args[0].is_empty() {
                    args.clear();
                }
                return Some((args, k + 1));
            }
            ")" => level -= 1,
            "," if level == 0 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = args.last_mut() {
            last.push(t.clone());
        }
    }
    None
}

fn substitute(
    body: &[Tok],
    params: &[String],
    args: &[Vec<Tok>],
    tables: &[&Table],
    depth: usize,
    hidden: &mut Vec<String>,
) -> Vec<Tok> {
    let arg_of = |name: &str| -> Option<Vec<Tok>> {
        let k = params
            .iter()
            .position(|p| p == name || (p == "..." && name == "__VA_ARGS__"))?;
        if params[k] == "..." {
            let mut all = Vec::new();
            for (n, a) in args.iter().enumerate().skip(k) {
                if n > k {
                    all.push(Tok {
                        text: ",".into(),
                        space_before: false,
                    });
                }
                all.extend(a.iter().cloned());
            }
            Some(all)
        } else {
            Some(args.get(k).cloned().unwrap_or_default())
        }
    };
    let mut out: Vec<Tok> = Vec::new();
    let mut j = 0;
    let mut paste_next = false;
    while j < body.len() {
        let t = &body[j];
        if t.text == "#"
            && let Some(n) = body.get(j + 1)
            && let Some(a) = arg_of(&n.text)
        {
            out.push(Tok {
                text: format!("\"{}\"", join(&a).trim()),
                space_before: t.space_before,
            });
            j += 2;
            continue;
        }
        if t.text == "##" {
            paste_next = true;
            j += 1;
            continue;
        }
        let next_is_paste = body.get(j + 1).is_some_and(|n| n.text == "##");
        let mut piece = match arg_of(&t.text) {
            // Operands of ## are not macro-expanded; other arguments are, first alternative.
            Some(a) if paste_next || next_is_paste => a,
            Some(a) => expand(&a, tables, depth + 1, hidden)
                .into_iter()
                .next()
                .unwrap_or_default(),
            None => vec![t.clone()],
        };
        if let Some(first) = piece.first_mut() {
            first.space_before = t.space_before;
        }
        if paste_next && let (Some(last), false) = (out.last_mut(), piece.is_empty()) {
            let first = piece.remove(0);
            last.text.push_str(&first.text);
        }
        paste_next = false;
        out.extend(piece);
        j += 1;
    }
    out
}

fn join(toks: &[Tok]) -> String {
    let mut s = String::new();
    for (k, t) in toks.iter().enumerate() {
        if k > 0 && t.space_before {
            s.push(' ');
        }
        s.push_str(&t.text);
    }
    s
}

fn tokenize(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_alphanumeric() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
        } else if c == b'#' && b.get(i + 1) == Some(&b'#') {
            i += 2;
        } else {
            // One character (or one UTF-8 sequence) of punctuation.
            i += 1;
            while i < b.len() && (b[i] & 0xc0) == 0x80 {
                i += 1;
            }
        }
        toks.push(Tok {
            text: s[start..i].to_string(),
            space_before: space,
        });
        space = false;
    }
    toks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(defs: &[(&str, Option<&[&str]>, &str)]) -> Table {
        let mut t = Table::new();
        for (name, params, body) in defs {
            t.entry(name.to_string()).or_default().push(Define {
                name: name.to_string(),
                params: params.map(|p| p.iter().map(|s| s.to_string()).collect()),
                body: body.to_string(),
            });
        }
        t
    }

    #[test]
    fn object_like_every_definition() {
        let t = table(&[
            ("H", None, "\"a.h\""),
            ("H", None, "<b.h>"),
            ("H", None, "1"),
        ]);
        assert_eq!(
            evaluate("H", &[&t]),
            vec![Name::Quote("a.h".into()), Name::Angle("b.h".into())]
        );
    }

    #[test]
    fn function_like_stringify_and_paste() {
        let t = table(&[
            ("STR", Some(&["x"]), "#x"),
            ("XSTR", Some(&["x"]), "STR(x)"),
            ("HDR", Some(&["n"]), "XSTR(n.h)"),
            ("CAT", Some(&["a", "b"]), "<a##b.h>"),
            ("NAME", None, "plat"),
        ]);
        assert_eq!(
            evaluate("HDR(NAME)", &[&t]),
            vec![Name::Quote("plat.h".into())]
        );
        assert_eq!(
            evaluate("CAT(sys, io)", &[&t]),
            vec![Name::Angle("sysio.h".into())]
        );
    }

    #[test]
    fn undefined_gives_nothing_and_recursion_ends() {
        let t = table(&[("A", None, "B"), ("B", None, "A")]);
        assert!(evaluate("A", &[&t]).is_empty());
        assert!(evaluate("NOPE", &[&t]).is_empty());
    }
}
