//! The manual of distcc-rs: one [`cli::Page`] per installed program, and the files made
//! from them (`dist/man/*.{1,8}`, `dist/completions/…`), which `tests/generated.rs` compares
//! with the checked-in copies (`DISTCC_BLESS=1` rewrites them).
//!
//! distccd's options come from `daemon::options::OPTIONS`, the table its parser reads. The
//! other programs' parsers are small hand-written matches (kept as they are to stay out of
//! other work); their tables live in [`tables`], and `tests/coverage.rs` reads those parsers'
//! sources and fails when an option they match is missing from the table, or the reverse.
//! The same tests check that every `DISTCC_*`/`DISTCCD_*` variable the sources read, every
//! exit code, every host-list token and every stats endpoint is on a page.

pub mod pages;
pub mod tables;

use cli::Page;

/// Every page, in the order they are written.
pub fn pages() -> Vec<&'static Page> {
    vec![
        &pages::DISTCC,
        &pages::DISTCCD,
        &pages::LSDISTCC,
        &pages::DISTCCMON_TEXT,
        &pages::DISTCC_FARM,
        &pages::DISTCC_COORDINATOR,
        &pages::DISTCC_ZEROCONF,
        &pages::DISTCC_REAPI,
        &pages::PUMP,
        &pages::INCLUDE_SERVER,
        &pages::DISTCC_ALLOWLIST,
        &pages::DISTCC_MASQUERADE,
    ]
}

/// A generated file: its path under `dist/` and its contents.
pub struct Generated {
    pub path: String,
    pub text: String,
}

/// Every generated file: a man page per program, and bash, zsh and fish completions for
/// each (distcc's complete a compiler, then files).
pub fn generate(version: &str) -> Vec<Generated> {
    let mut out = Vec::new();
    for p in pages() {
        out.push(Generated {
            path: format!("man/{}.{}", p.name, p.section),
            text: cli::roff(p, version),
        });
        let wraps = p.name == "distcc" || p.name == "pump";
        out.push(Generated {
            path: format!("completions/bash/{}", p.name),
            text: cli::bash(p, wraps),
        });
        out.push(Generated {
            path: format!("completions/zsh/_{}", p.name),
            text: cli::zsh(p, wraps),
        });
        out.push(Generated {
            path: format!("completions/fish/{}.fish", p.name),
            text: cli::fish(p, wraps),
        });
    }
    out
}
