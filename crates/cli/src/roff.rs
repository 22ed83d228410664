//! A [`Page`] as man(7) source: NAME, SYNOPSIS, DESCRIPTION, OPTIONS (grouped), then the
//! page's own sections, then SEE ALSO. Every text is escaped (backslashes, hyphens in option
//! names, a leading `.` or `'`), so nothing in a help string can become a roff request.

use crate::{Page, Style, groups};

/// Escapes text for roff: `\` → `\e`, `-` → `\-` (so options copy and paste as ASCII
/// hyphens), and a line starting with `.` or `'` is protected with `\&`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' => out.push_str("\\-"),
                // groff reads its input as Latin-1 unless told: name every other character.
                c if !c.is_ascii() => out.push_str(&format!("\\[u{:04X}]", c as u32)),
                _ => out.push(c),
            }
        }
    }
    out
}

/// Paragraphs (blank-line separated) as `.PP`, two-space indented lines as examples.
fn paragraphs(out: &mut String, text: &str) {
    for para in text.trim_matches('\n').split("\n\n") {
        if para.trim().is_empty() {
            continue;
        }
        let example = para.lines().all(|l| l.starts_with("  "));
        if example {
            out.push_str(".PP\n.RS 4\n.nf\n");
            for l in para.lines() {
                out.push_str(&escape(&l[2..]));
                out.push('\n');
            }
            out.push_str(".fi\n.RE\n");
        } else {
            out.push_str(".PP\n");
            let joined: Vec<&str> = para.lines().map(str::trim).collect();
            out.push_str(&escape(&joined.join("\n")));
            out.push('\n');
        }
    }
}

/// The page's man(7) source.
pub fn roff(page: &Page, version: &str) -> String {
    let mut o = String::new();
    o.push_str(
        ".\\\" Generated from the option tables of distcc-rs by crates/manual; do not edit.\n",
    );
    o.push_str(&format!(
        ".TH {} {} \"\" \"distcc-rs {}\" \"{}\"\n",
        escape(&page.name.to_uppercase()),
        page.section,
        escape(version),
        if page.section == 8 {
            "System Administration"
        } else {
            "User Commands"
        }
    ));
    // No hyphenation, ragged right: option names and paths must not break at a hyphen.
    o.push_str(".nh\n.ad l\n");
    o.push_str(".SH NAME\n");
    o.push_str(&format!(
        "{} \\- {}\n",
        escape(page.name),
        escape(page.summary)
    ));
    o.push_str(".SH SYNOPSIS\n.nf\n");
    for s in page.synopsis {
        o.push_str(&format!("\\fB{}\\fR {}\n", escape(page.name), escape(s)));
    }
    o.push_str(".fi\n.SH DESCRIPTION\n");
    paragraphs(&mut o, page.description);
    if !page.options.is_empty() {
        o.push_str(".SH OPTIONS\n");
        let mut order: Vec<&str> = page.groups.to_vec();
        for g in groups(page.options) {
            if !order.contains(&g) {
                order.push(g);
            }
        }
        order.retain(|g| page.options.iter().any(|x| x.group == *g));
        let headed = order.len() > 1;
        for g in order {
            let opts: Vec<_> = page.options.iter().filter(|x| x.group == g).collect();
            if headed {
                o.push_str(&format!(".SS {}\n", escape(g)));
            }
            for opt in opts {
                o.push_str(".TP\n");
                let mut forms = Vec::new();
                let glued = page.style == Style::Glued;
                if let Some(c) = opt.short {
                    let mut f = format!("\\fB\\-{}\\fR", escape(&c.to_string()));
                    if glued && let Some(a) = opt.arg {
                        f.push_str(&format!("\\fI{}\\fR", escape(a.name)));
                    }
                    forms.push(f);
                }
                if !opt.long.is_empty() {
                    forms.push(format!("\\fB\\-\\-{}\\fR", escape(opt.long)));
                }
                let mut head = forms.join(", ");
                if !glued && let Some(a) = opt.arg {
                    head.push_str(&format!(" \\fI{}\\fR", escape(a.name)));
                }
                o.push_str(&head);
                o.push('\n');
                o.push_str(&escape(opt.help));
                o.push('\n');
            }
        }
    }
    for s in page.sections {
        o.push_str(&format!(".SH {}\n", escape(&s.title.to_uppercase())));
        paragraphs(&mut o, s.text);
        for item in s.items {
            o.push_str(&format!(".TP\n.B {}\n", escape(item.term)));
            let t = item.text.trim();
            let joined: Vec<&str> = t.lines().map(str::trim).collect();
            o.push_str(&escape(&joined.join("\n")));
            o.push('\n');
        }
    }
    if !page.see_also.is_empty() {
        o.push_str(".SH SEE ALSO\n");
        let refs: Vec<String> = page
            .see_also
            .iter()
            .map(|r| match r.split_once('(') {
                Some((n, s)) => format!("\\fB{}\\fR({}", escape(n), escape(s)),
                None => escape(r),
            })
            .collect();
        o.push_str(&refs.join(",\n"));
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_guards_requests_backslashes_and_hyphens() {
        assert_eq!(escape(".x\n'y\\z"), "\\&.x\n\\&'y\\ez");
        assert_eq!(escape("--port"), "\\-\\-port");
        assert_eq!(escape("a…b"), "a\\[u2026]b");
    }
}
