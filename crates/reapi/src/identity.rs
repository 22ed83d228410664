//! The compiler identity a platform property pins: `FAMILY|VERSION|TARGET`, where FAMILY is
//! `clang` or `gcc` (from the program's name), VERSION the first line of `--version` less its
//! first word (the program's name as invoked: `gcc`, `x86_64-linux-gnu-gcc`, `g++` name one
//! compiler), TARGET what `-dumpmachine` prints. The submitting side computes it for the
//! compiler its job names, a worker for each compiler it offers; the engine only gives a job
//! to a bot advertising the same string.

use std::process::{Command, Stdio};

/// The identity of `compiler` (a name looked up on `PATH`, or a path), or why not.
pub fn of(compiler: &str) -> Result<String, String> {
    let name = compiler.rsplit('/').next().unwrap_or(compiler);
    let family = if name.contains("clang") {
        "clang"
    } else {
        "gcc"
    };
    let line = first_line(compiler, "--version")?;
    let version = line.split_once(' ').map_or(line.as_str(), |(_, v)| v);
    let target = first_line(compiler, "-dumpmachine")?;
    Ok(format!("{family}|{version}|{target}"))
}

fn first_line(compiler: &str, flag: &str) -> Result<String, String> {
    let out = Command::new(compiler)
        .arg(flag)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {compiler} {flag}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{compiler} {flag} failed: {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(format!("{compiler} {flag} printed nothing"));
    }
    Ok(line.chars().take(200).collect())
}
