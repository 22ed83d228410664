//! Nothing a program reads can be missing from its page: these tests read the parsers' and
//! the library crates' sources and compare what they match with what the pages list.
//! (distccd's parser reads its table itself, so its options need no such check.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cli::Opt;
use distcc_manual::{pages, tables};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The file's text up to its test module: literals in tests are not options.
fn code(rel: &str) -> String {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// String literals (`"…"` and `b"…"`) of one line, roughly: enough for option spellings.
fn literals(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(a) = rest.find('"') {
        let after = &rest[a + 1..];
        let Some(b) = after.find('"') else { break };
        out.push(after[..b].to_owned());
        rest = &after[b + 1..];
    }
    out
}

fn is_option(s: &str) -> bool {
    let body = s.trim_start_matches('-');
    let dashes = s.len() - body.len();
    (dashes == 2 && body.len() > 1 || dashes == 1 && body.len() == 1)
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Option spellings the parsers in `files` match: string literals that look like options,
/// except arguments passed to other programs (`.arg("--port")`).
fn parsed(files: &[&str]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for f in files {
        for line in code(f).lines() {
            if line.contains(".arg(") || line.trim_start().starts_with("//") {
                continue;
            }
            set.extend(literals(line).into_iter().filter(|l| is_option(l)));
        }
    }
    set
}

fn spellings(table: &[Opt]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for o in table {
        if let Some(c) = o.short {
            set.insert(format!("-{c}"));
        }
        if !o.long.is_empty() {
            set.insert(format!("--{}", o.long));
        }
    }
    set
}

fn same(name: &str, parsed: BTreeSet<String>, table: &[Opt]) {
    let documented = spellings(table);
    let missing: Vec<_> = parsed.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&parsed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{name}: parsed but not in its table (crates/manual/src/tables.rs): {missing:?}; \
         in the table but not parsed: {stale:?}"
    );
}

#[test]
fn distcc_options_are_documented() {
    same(
        "distcc",
        parsed(&["src/bin/distcc.rs", "crates/client/src/invoke.rs"]),
        tables::DISTCC,
    );
}

#[test]
fn distcc_coordinator_options_are_documented() {
    same(
        "distcc-coordinator",
        parsed(&["src/bin/distcc-coordinator.rs"]),
        tables::DISTCC_COORDINATOR,
    );
}

#[test]
fn distcc_farm_options_are_documented() {
    same(
        "distcc-farm",
        parsed(&["src/bin/distcc-farm.rs"]),
        tables::DISTCC_FARM,
    );
}

#[test]
fn pump_options_are_documented() {
    same(
        "pump",
        parsed(&["crates/pump/src/frontend.rs"]),
        tables::PUMP,
    );
}

#[test]
fn include_server_options_are_documented() {
    // crates/pump/src/options.rs matches long names without their dashes (`"port" =>`) and
    // letters (`'d' =>`); its tests, after `#[cfg(test)]`, are not read.
    let src = code("crates/pump/src/options.rs");
    let parser = src.split("#[cfg(test)]").next().unwrap_or_default();
    let mut set = BTreeSet::new();
    for line in parser.lines() {
        let t = line.trim_start();
        let Some((arms, _)) = t.split_once("=>") else {
            continue;
        };
        if t.starts_with("//") {
            continue;
        }
        for l in literals(arms) {
            if !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
            {
                set.insert(format!("--{l}"));
            }
        }
        if let Some(rest) = arms.strip_prefix('\'')
            && let Some((c, _)) = rest.split_once('\'')
            && c.len() == 1
        {
            set.insert(format!("-{c}"));
        }
    }
    same("include-server", set, tables::INCLUDE_SERVER);
}

#[test]
fn distccmon_text_options_are_documented() {
    same(
        "distccmon-text",
        parsed(&["src/bin/distccmon-text.rs"]),
        tables::DISTCCMON_TEXT,
    );
}

/// lsdistcc matches letters (`Some('t') =>`), not strings.
#[test]
fn lsdistcc_options_are_documented() {
    let mut set = BTreeSet::new();
    for line in code("crates/monitor/src/lsdistcc/options.rs").lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("Some('")
            && let Some((c, tail)) = rest.split_once("')")
            && (tail.starts_with(" =>") || tail.starts_with(" if"))
        {
            set.insert(format!("-{c}"));
        }
    }
    same("lsdistcc", set, tables::LSDISTCC);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every environment variable of ours the sources read is explained on some page.
#[test]
fn every_environment_variable_is_documented() {
    let mut files = Vec::new();
    for d in ["src", "crates"] {
        rust_files(&root().join(d), &mut files);
    }
    let mut vars = BTreeSet::new();
    for f in files {
        let rel = f
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // Test and fuzz code reads knobs of its own, not the programs'.
        if rel.contains("/tests/") || rel.contains("fuzz") || rel.starts_with("crates/manual") {
            continue;
        }
        for line in code(&rel).lines() {
            for l in literals(line) {
                let ours = ["DISTCC_", "DISTCCD_", "INCLUDE_SERVER_", "LSDISTCC_"]
                    .iter()
                    .any(|p| l.starts_with(p));
                if ours
                    && l.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    vars.insert(l);
                }
            }
        }
    }
    assert!(vars.contains("DISTCC_HOSTS") && vars.len() > 15, "{vars:?}");
    let mut documented = BTreeSet::new();
    for p in pages() {
        for s in p.sections {
            for i in s.items {
                documented.extend(i.term.split(", ").map(str::to_owned));
            }
        }
    }
    let missing: Vec<_> = vars.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "read but on no page's ENVIRONMENT: {missing:?}"
    );
}

/// Every host-list word and `,option` the parser knows is in distcc(1)'s list.
#[test]
fn every_host_list_token_is_documented() {
    let terms: Vec<&str> = pages::DISTCC
        .sections
        .iter()
        .flat_map(|s| s.items.iter().map(|i| i.term))
        .collect();
    let mut seen = 0;
    for line in code("crates/client/src/hosts.rs").lines() {
        let t = line.trim_start();
        for l in literals(t) {
            if l.starts_with("--") && is_option(&l) {
                seen += 1;
                assert!(
                    terms
                        .iter()
                        .any(|x| x.starts_with(&l) && !x[l.len()..].starts_with('_')),
                    "host-list word {l} is not in distcc(1)"
                );
            }
        }
        if let Some(rest) = t.strip_prefix('"')
            && let Some((word, tail)) = rest.split_once('"')
            && tail.trim_start().starts_with("=>")
        {
            seen += 1;
            assert!(
                terms.contains(&format!(",{word}").as_str()),
                ",{word} is not in distcc(1)"
            );
        }
    }
    assert!(
        seen >= 6,
        "found only {seen} host-list tokens: has hosts.rs changed shape?"
    );
    // Entries spelt by shape rather than by a literal word.
    if code("crates/client/src/hosts.rs").contains("word == \"+zeroconf\"") {
        assert!(
            terms.contains(&"+zeroconf"),
            "+zeroconf is not in distcc(1)"
        );
    }
    if code("crates/client/src/hosts.rs").contains("Transport::Srv") {
        assert!(
            terms.iter().any(|t| t.starts_with("_distcc._tcp.")),
            "the DNS SRV entry is not in distcc(1)"
        );
    }
}

/// Every path the stats port answers is in distccd(1).
#[test]
fn every_stats_endpoint_is_documented() {
    let page = cli::roff(&pages::DISTCCD, "0");
    let mut seen = 0;
    for line in code("crates/daemon/src/stats/http.rs").lines() {
        for l in literals(line) {
            if l.len() > 1
                && l.starts_with('/')
                && l.chars()
                    .skip(1)
                    .all(|c| c.is_ascii_lowercase() || c == '.')
            {
                seen += 1;
                assert!(page.contains(&l), "endpoint {l} is not in distccd(1)");
            }
        }
    }
    assert!(seen >= 4, "found only {seen} endpoints");
}

/// Every one of distcc's exit codes is explained, on distcc(1) and distccd(1).
#[test]
fn every_exit_code_is_documented() {
    for p in [&pages::DISTCC, &pages::DISTCCD] {
        let terms: Vec<&str> = p
            .sections
            .iter()
            .flat_map(|s| s.items.iter().map(|i| i.term))
            .collect();
        for code in 100..=120 {
            assert!(
                terms.contains(&code.to_string().as_str()),
                "{}: {code}",
                p.name
            );
        }
    }
}

#[test]
fn distcc_zeroconf_options_are_documented() {
    same(
        "distcc-zeroconf",
        parsed(&["src/bin/distcc-zeroconf.rs"]),
        tables::DISTCC_ZEROCONF,
    );
}

#[test]
fn distcc_reapi_options_are_documented() {
    same(
        "distcc-reapi",
        parsed(&["src/bin/distcc-reapi.rs"]),
        tables::DISTCC_REAPI,
    );
}
