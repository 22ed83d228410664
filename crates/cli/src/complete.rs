//! Shell completions made from a [`Page`]'s option table: bash (`complete -F`), zsh
//! (`_arguments`) and fish (`complete -c`). Options with a file or directory value complete
//! paths, ones with a fixed set of words complete those; `distcc` itself (whose first
//! operand is a compiler and the rest a compile line) completes commands, then files.

use crate::{ArgKind, Opt, Page, Style};

fn ident(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Every spelling of `o` as typed (`-p`, `--port`).
fn spellings(o: &Opt) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(c) = o.short {
        v.push(format!("-{c}"));
    }
    if !o.long.is_empty() {
        v.push(format!("--{}", o.long));
    }
    v
}

/// A bash completion function for `page`; `wraps_command` for distcc's `distcc CC ARGS…`.
pub fn bash(page: &Page, wraps_command: bool) -> String {
    let f = format!("_{}", ident(page.name));
    let mut words: Vec<String> = page.options.iter().flat_map(spellings).collect();
    words.sort();
    let mut s = format!(
        "# bash completion for {n}; generated from its option table by distcc-rs\n\
         {f}()\n{{\n    local cur prev\n    cur=${{COMP_WORDS[COMP_CWORD]}}\n    \
         prev=${{COMP_WORDS[COMP_CWORD-1]}}\n",
        n = page.name
    );
    if page.style == Style::Gnu {
        s.push_str("    case $prev in\n");
        for o in page.options {
            let Some(a) = o.arg else { continue };
            let reply = match a.kind {
                ArgKind::File => "COMPREPLY=($(compgen -f -- \"$cur\"))".to_string(),
                ArgKind::Dir => "COMPREPLY=($(compgen -d -- \"$cur\"))".to_string(),
                ArgKind::OneOf(w) => {
                    format!("COMPREPLY=($(compgen -W '{}' -- \"$cur\"))", w.join(" "))
                }
                ArgKind::Text => "COMPREPLY=()".to_string(),
            };
            s.push_str(&format!(
                "        {})\n            {reply}\n            return\n            ;;\n",
                spellings(o).join("|")
            ));
        }
        s.push_str("    esac\n");
    }
    if wraps_command {
        s.push_str(
            "    if [[ $COMP_CWORD -eq 1 ]]; then\n        if [[ $cur == -* ]]; then\n            \
             COMPREPLY=($(compgen -W '",
        );
        s.push_str(&words.join(" "));
        s.push_str(
            "' -- \"$cur\"))\n        else\n            COMPREPLY=($(compgen -c -- \"$cur\"))\n        \
             fi\n        return\n    fi\n    COMPREPLY=($(compgen -f -- \"$cur\"))\n}\n",
        );
    } else {
        s.push_str("    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W '");
        s.push_str(&words.join(" "));
        s.push_str(
            "' -- \"$cur\"))\n    else\n        COMPREPLY=($(compgen -f -- \"$cur\"))\n    fi\n}\n",
        );
    }
    s.push_str(&format!("complete -F {f} {}\n", page.name));
    s
}

fn zsh_help(text: &str) -> String {
    let first = text
        .split(". ")
        .next()
        .unwrap_or(text)
        .trim_end_matches('.');
    first
        .replace('\\', "\\\\")
        .replace('\'', "'\\''")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(':', "\\:")
}

/// A zsh completion function (`#compdef`) for `page`.
pub fn zsh(page: &Page, wraps_command: bool) -> String {
    let mut s = format!(
        "#compdef {n}\n# zsh completion for {n}; generated from its option table by distcc-rs\n\n_arguments -s -S \\\n",
        n = page.name
    );
    for o in page.options {
        let help = zsh_help(o.help);
        let action = match o.arg.map(|a| a.kind) {
            None => String::new(),
            Some(ArgKind::File) => format!(":{}:_files", o.arg.map_or("", |a| a.name)),
            Some(ArgKind::Dir) => format!(":{}:_files -/", o.arg.map_or("", |a| a.name)),
            Some(ArgKind::OneOf(w)) => {
                format!(":{}:({})", o.arg.map_or("", |a| a.name), w.join(" "))
            }
            Some(ArgKind::Text) => format!(":{}: ", o.arg.map_or("", |a| a.name)),
        };
        for sp in spellings(o) {
            let suffix = match (o.arg.is_some(), sp.starts_with("--"), page.style) {
                (false, _, _) => "",
                (true, true, _) => "=",
                (true, false, _) => "+",
            };
            s.push_str(&format!("  '{sp}{suffix}[{help}]{action}' \\\n"));
        }
    }
    if wraps_command {
        s.push_str("  '1:compiler:_command_names -e' \\\n  '*:file:_files'\n");
    } else {
        s.push_str("  '*:file:_files'\n");
    }
    s
}

fn fish_quote(text: &str) -> String {
    let first = text
        .split(". ")
        .next()
        .unwrap_or(text)
        .trim_end_matches('.');
    format!("'{}'", first.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// fish completions for `page`.
pub fn fish(page: &Page, wraps_command: bool) -> String {
    let mut s = format!(
        "# fish completion for {n}; generated from its option table by distcc-rs\n",
        n = page.name
    );
    if wraps_command {
        s.push_str(&format!(
            "complete -c {n} -n '__fish_is_first_arg' -a '(__fish_complete_command)'\n",
            n = page.name
        ));
    }
    for o in page.options {
        let mut line = format!("complete -c {}", page.name);
        if let Some(c) = o.short {
            line.push_str(&format!(" -s {c}"));
        }
        if !o.long.is_empty() {
            line.push_str(&format!(" -l {}", o.long));
        }
        match o.arg.map(|a| a.kind) {
            None => {}
            Some(ArgKind::File) => line.push_str(" -r -F"),
            Some(ArgKind::Dir) => line.push_str(" -r -a '(__fish_complete_directories)'"),
            Some(ArgKind::OneOf(w)) => line.push_str(&format!(" -x -a '{}'", w.join(" "))),
            Some(ArgKind::Text) => line.push_str(" -x"),
        }
        line.push_str(&format!(" -d {}", fish_quote(o.help)));
        s.push_str(&line);
        s.push('\n');
    }
    s
}
