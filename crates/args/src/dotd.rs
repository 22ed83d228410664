//! gcc's and clang's dependency (`.d`) file layouts. A pump compile runs under the server's job
//! directory, so its compiler wrapped the rule where the longer names were; once that
//! directory is cut out of every path, re-wrapping makes the file byte-identical to a local
//! compile's. Both sides need it: our daemon for any client, our client for 3.4's daemon.
//!
//! It leaves to others: which paths to rewrite (the daemon's `dotd`) and where the file goes.

/// Re-wraps the first rule of `d` as gcc lays it out (`make_write` in libcpp's mkdeps.cc,
/// 72 columns): a name goes on a new ` \`-continued line when it would pass the limit.
/// Returns `None` when the first rule is not in the shape gcc writes (the caller then keeps
/// the bytes it has).
pub fn rewrap(d: &[u8]) -> Option<Vec<u8>> {
    const COLMAX: usize = 72;
    // The first rule runs to the first newline that is not escaped by a backslash.
    let mut end = None;
    let mut i = 0;
    while i < d.len() {
        match d[i] {
            b'\\' => i += 1,
            b'\n' => {
                end = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let end = end?;
    let (rule, rest) = (&d[..end], &d[end + 1..]);
    // Words, split at blanks and escaped newlines; `\ ` and other escapes stay in the word.
    let mut words: Vec<&[u8]> = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < rule.len() {
        let c = rule[i];
        if c == b'\\' && rule.get(i + 1) == Some(&b'\n') {
            if let Some(s) = start.take() {
                words.push(&rule[s..i]);
            }
            i += 2;
            continue;
        }
        if c == b' ' || c == b'\t' {
            if let Some(s) = start.take() {
                words.push(&rule[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
        i += if c == b'\\' { 2 } else { 1 };
    }
    if let Some(s) = start {
        words.push(&rule[s.min(rule.len())..]);
    }
    let colon = words.iter().position(|w| w.ends_with(b":"))?;
    if clang_layout(rule) {
        return Some(clang_rule(&words, colon, rest));
    }
    let mut out = Vec::with_capacity(d.len());
    let mut col = 0;
    let put = |out: &mut Vec<u8>, w: &[u8], col: &mut usize| {
        if *col > 0 {
            if *col + w.len() > COLMAX {
                out.extend_from_slice(b" \\\n");
                *col = 0;
            }
            *col += 1;
            out.push(b' ');
        }
        *col += w.len();
        out.extend_from_slice(w);
    };
    for (k, w) in words[..=colon].iter().enumerate() {
        let w = if k == colon { &w[..w.len() - 1] } else { w };
        if !w.is_empty() {
            put(&mut out, w, &mut col);
        }
    }
    out.push(b':');
    col += 1;
    for w in &words[colon + 1..] {
        put(&mut out, w, &mut col);
    }
    out.push(b'\n');
    out.extend_from_slice(rest);
    Some(out)
}

/// clang continues a rule on lines that start with two spaces (` \`, newline, `  name`);
/// gcc with one.
fn clang_layout(rule: &[u8]) -> bool {
    rule.windows(4).any(|w| w == b"\\\n  ")
}

/// A name's length as clang counts it: unescaped (`\ ` and `\#` are one byte, `$$` one).
fn unescaped_len(w: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < w.len() {
        if (w[i] == b'\\' && matches!(w.get(i + 1), Some(b' ' | b'#')))
            || (w[i] == b'$' && w.get(i + 1) == Some(&b'$'))
        {
            i += 1;
        }
        n += 1;
        i += 1;
    }
    n
}

/// The rule laid out as clang's `DependencyFileGenerator::outputDependencyFile` does (75
/// columns; a prerequisite moves to a new line when it and a trailing ` \` would pass them).
fn clang_rule(words: &[&[u8]], colon: usize, rest: &[u8]) -> Vec<u8> {
    const MAX: usize = 75;
    let mut out = Vec::new();
    let mut col = 0;
    for (k, w) in words[..=colon].iter().enumerate() {
        let w = if k == colon { &w[..w.len() - 1] } else { w };
        if w.is_empty() {
            continue;
        }
        let n = unescaped_len(w);
        if col == 0 {
            col = n;
        } else if col + n + 2 > MAX {
            col = n + 2;
            out.extend_from_slice(b" \\\n  ");
        } else {
            col += n + 1;
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out.push(b':');
    col += 1;
    for w in &words[colon + 1..] {
        let n = unescaped_len(w);
        if col + n + 1 + 2 > MAX {
            out.extend_from_slice(b" \\\n ");
            col = 2;
        }
        out.push(b' ');
        out.extend_from_slice(w);
        col += n + 1;
    }
    out.push(b'\n');
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_rules_are_wrapped_as_gcc_wraps_them() {
        // What gcc 12 wrote for a local compile of a file including <stdio.h> and "a.h".
        let local = b"m.o: m.c /usr/include/stdc-predef.h /usr/include/stdio.h \\\n /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \\\n /usr/include/features.h a.h\n";
        // The same rule wrapped where the server's longer names were.
        let server = b"m.o: m.c /usr/include/stdc-predef.h \\\n /usr/include/stdio.h \\\n /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \\\n /usr/include/features.h \\\n a.h\n";
        assert_eq!(rewrap(server).unwrap(), local.to_vec());
        assert_eq!(rewrap(local).unwrap(), local.to_vec());
        // Escaped blanks stay inside a name; phony rules after the first are kept.
        let d = b"a\\ b.o: x\\ y.h \\\n z.h\n\nz.h:\n";
        assert_eq!(
            rewrap(d).unwrap(),
            b"a\\ b.o: x\\ y.h z.h\n\nz.h:\n".to_vec()
        );
        assert_eq!(rewrap(b"no rule"), None);
    }

    #[test]
    fn clang_rules_are_wrapped_as_clang_wraps_them() {
        // clang -MD's own output, and the same rule after a job root was cut out of it.
        let local = b"src/lapi.o: src/lapi.c src/lprefix.h \\\n  /usr/lib/llvm-14/lib/clang/14.0.6/include/limits.h \\\n  /usr/include/limits.h \\\n  /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \\\n  /usr/include/features.h /usr/include/features-time64.h src/lapi.h\n";
        let server = b"src/lapi.o: src/lapi.c \\\n  src/lprefix.h \\\n  /usr/lib/llvm-14/lib/clang/14.0.6/include/limits.h \\\n  /usr/include/limits.h \\\n  /usr/include/x86_64-linux-gnu/bits/libc-header-start.h \\\n  /usr/include/features.h \\\n  /usr/include/features-time64.h src/lapi.h\n";
        assert_eq!(
            String::from_utf8_lossy(&rewrap(server).unwrap()),
            String::from_utf8_lossy(local)
        );
        assert_eq!(rewrap(local).unwrap(), local.to_vec());
    }
}
