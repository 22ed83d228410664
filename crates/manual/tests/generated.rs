//! The checked-in man pages and completions under `dist/` are exactly what the option tables
//! make today. After changing an option or a page, rewrite them with
//! `DISTCC_BLESS=1 cargo test -p distcc-manual --test generated`.

use std::path::PathBuf;

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist")
}

#[test]
fn man_pages_and_completions_match_the_option_tables() {
    let bless = std::env::var_os("DISTCC_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for g in distcc_manual::generate(env!("CARGO_PKG_VERSION")) {
        let path = dist().join(&g.path);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk != g.text {
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &g.text).unwrap();
            } else {
                stale.push(g.path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date (run DISTCC_BLESS=1 cargo test -p distcc-manual --test generated): {stale:?}"
    );
}

#[test]
fn every_option_of_every_page_is_on_it() {
    for p in distcc_manual::pages() {
        let page = cli::roff(p, "0");
        for o in p.options {
            if !o.long.is_empty() {
                let spelled = format!("\\fB\\-\\-{}\\fR", o.long.replace('-', "\\-"));
                assert!(page.contains(&spelled), "{}: --{} missing", p.name, o.long);
            }
            if let Some(c) = o.short {
                assert!(
                    page.contains(&format!("\\fB\\-{c}\\fR")),
                    "{}: -{c} missing",
                    p.name
                );
            }
            assert!(!o.help.trim().is_empty(), "{}: {:?} has no help", p.name, o);
        }
    }
}

/// Runs `groff -ww -man -z` (every warning on, no output) and `man -l` over each page: both
/// must print nothing on stderr.
#[test]
fn man_pages_render_without_warnings() {
    let have = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for tool in ["groff", "man"] {
        if !have(tool) {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v != "true"),
                "{tool} is missing (scripts/install-deps.sh installs groff and man-db)"
            );
            eprintln!("skipped: {tool} is missing");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("distcc-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for p in distcc_manual::pages() {
        let file = dir.join(format!("{}.{}", p.name, p.section));
        std::fs::write(&file, cli::roff(p, env!("CARGO_PKG_VERSION"))).unwrap();
        let out = std::process::Command::new("groff")
            .args(["-ww", "-man", "-Tutf8", "-z"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "groff failed on {}", p.name);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "groff warns about {}",
            p.name
        );
        let out = std::process::Command::new("man")
            .args(["--warnings=w", "-l"])
            .arg(&file)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(out.status.success(), "man -l failed on {}", p.name);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "man -l warns about {}",
            p.name
        );
        // Overstrike bold ("N\x08N") as man prints it to a pipe, undone.
        let raw = String::from_utf8_lossy(&out.stdout);
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(
            text.contains("NAME") && text.contains("OPTIONS") != p.options.is_empty(),
            "{}: {text}",
            p.name
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
