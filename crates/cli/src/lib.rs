//! One description of a command line, read by everything that shows it: the parser's option
//! table (`Opt`: name, letter, argument, help), the `--help` text ([`usage`]), the man page
//! ([`roff`]) and the shell completions ([`bash`], [`zsh`], [`fish`]). A new option added to
//! a binary's table is therefore on its page and in its completions without a second edit.
//!
//! No dependencies and no I/O: the client links this too, and pays only for [`usage`]. What
//! the pages say beyond the options (environment, exit codes, files) is a [`Page`] built by
//! `distcc-manual`; the binaries never carry that prose.

mod complete;
mod roff;

pub use complete::{bash, fish, zsh};
pub use roff::roff;

/// One option of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// Long name without the dashes (`"port"`); empty for a letter-only option.
    pub long: &'static str,
    /// Single-letter form (`-p`).
    pub short: Option<char>,
    /// The value's name in the usage (`"PORT"`), `None` for a flag.
    pub arg: Option<Arg>,
    /// One sentence (or a few), lowercase start as 3.4's usage has it.
    pub help: &'static str,
    /// Heading the option is listed under, in the usage and on the page.
    pub group: &'static str,
}

/// One row of an option table, in the order the tables are written in.
pub const fn opt(
    long: &'static str,
    short: Option<char>,
    arg: Option<Arg>,
    help: &'static str,
    group: &'static str,
) -> Opt {
    Opt {
        long,
        short,
        arg,
        help,
        group,
    }
}

/// An option's value: its name in the usage and what completions offer for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
}

/// What kind of value an option takes, for completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Anything (a number, an address): no completion.
    Text,
    File,
    Dir,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

impl Arg {
    pub const fn text(name: &'static str) -> Option<Arg> {
        Some(Arg {
            name,
            kind: ArgKind::Text,
        })
    }
    pub const fn file(name: &'static str) -> Option<Arg> {
        Some(Arg {
            name,
            kind: ArgKind::File,
        })
    }
    pub const fn dir(name: &'static str) -> Option<Arg> {
        Some(Arg {
            name,
            kind: ArgKind::Dir,
        })
    }
    pub const fn one_of(name: &'static str, words: &'static [&'static str]) -> Option<Arg> {
        Some(Arg {
            name,
            kind: ArgKind::OneOf(words),
        })
    }
}

/// How options are spelled on this command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`.
    Gnu,
    /// Letters only, the value glued on (`-t5`), as lsdistcc.
    Glued,
}

impl Opt {
    /// `-p, --port PORT` as the usage and the page show it.
    pub fn spelling(&self, style: Style) -> String {
        let mut s = String::new();
        if let Some(c) = self.short {
            s.push('-');
            s.push(c);
            if style == Style::Glued
                && let Some(a) = self.arg
            {
                s.push_str(a.name);
            }
        }
        if !self.long.is_empty() {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str("--");
            s.push_str(self.long);
        }
        if style == Style::Gnu
            && let Some(a) = self.arg
        {
            s.push(' ');
            s.push_str(a.name);
        }
        s
    }

    /// Finds an option by long name.
    pub fn find_long<'a>(table: &'a [Opt], name: &str) -> Option<&'a Opt> {
        table.iter().find(|o| !o.long.is_empty() && o.long == name)
    }

    /// Finds an option by letter.
    pub fn find_short(table: &[Opt], c: char) -> Option<&Opt> {
        table.iter().find(|o| o.short == Some(c))
    }
}

/// The groups of `table` in order of first appearance.
pub fn groups(table: &[Opt]) -> Vec<&'static str> {
    let mut g: Vec<&'static str> = Vec::new();
    for o in table {
        if !g.contains(&o.group) {
            g.push(o.group);
        }
    }
    g
}

/// The options part of a `--help` text: each group's heading, then one option a line, help
/// text from column 31 wrapped at 79, as 3.4's popt usage looks. `order` lists the groups;
/// groups not in it follow in table order.
pub fn usage(table: &[Opt], style: Style, order: &[&str]) -> String {
    let mut all: Vec<&str> = order.to_vec();
    for g in groups(table) {
        if !all.contains(&g) {
            all.push(g);
        }
    }
    let mut out = String::new();
    for g in all {
        let opts: Vec<&Opt> = table.iter().filter(|o| o.group == g).collect();
        if opts.is_empty() {
            continue;
        }
        out.push_str(&format!("  {g}:\n"));
        for o in opts {
            let head = format!("    {}", o.spelling(style));
            let mut lines = wrap(o.help, 79 - 31).into_iter();
            let first = lines.next().unwrap_or_default();
            if head.len() < 31 {
                out.push_str(&format!("{head:<31}{first}\n"));
            } else {
                out.push_str(&format!("{head}\n{:31}{first}\n", ""));
            }
            for l in lines {
                out.push_str(&format!("{:31}{l}\n", ""));
            }
        }
    }
    out
}

/// Greedy word wrap.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A term and its explanation: an environment variable, an exit code, a file, an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub term: &'static str,
    pub text: &'static str,
}

/// A section of a page after OPTIONS.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub title: &'static str,
    /// Paragraphs separated by blank lines; a line indented by two spaces is an example,
    /// set as it is.
    pub text: &'static str,
    pub items: &'static [Item],
}

/// Everything one man page says.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub name: &'static str,
    /// 1 for commands, 8 for administration.
    pub section: u8,
    /// The NAME line after the dash.
    pub summary: &'static str,
    /// Lines after the name, e.g. `"[OPTIONS]"`.
    pub synopsis: &'static [&'static str],
    pub description: &'static str,
    pub options: &'static [Opt],
    pub style: Style,
    /// Group order for OPTIONS.
    pub groups: &'static [&'static str],
    pub sections: &'static [Section],
    /// `name(section)` references.
    pub see_also: &'static [&'static str],
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[Opt] = &[
        Opt {
            long: "port",
            short: Some('p'),
            arg: Arg::text("PORT"),
            help: "TCP port to listen on",
            group: "Networking",
        },
        Opt {
            long: "help",
            short: None,
            arg: None,
            help: "explain usage and exit",
            group: "General",
        },
    ];

    #[test]
    fn usage_groups_and_aligns() {
        let u = usage(T, Style::Gnu, &["General"]);
        assert_eq!(
            u,
            "  General:\n    --help                     explain usage and exit\n  \
             Networking:\n    -p, --port PORT            TCP port to listen on\n"
        );
        assert_eq!(T[0].spelling(Style::Glued), "-pPORT, --port");
    }

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert!(wrap("", 5).is_empty());
    }
}
