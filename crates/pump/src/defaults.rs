//! The compiler's built-in include directories, asked once per (compiler, sysroot,
//! language) and remembered: `CC [--sysroot=S] -x LANG -v -E /dev/null -o /dev/null`, the
//! lines between "#include <...> search starts here:" and "End of search list.".
//!
//! Files under these directories are not sent: the server's compiler has its own (3.4's
//! assumption too, since the servers run the same compiler). What it leaves to others:
//! linking them into the client root (`root`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use os::process::{Command, Input, Output};

use crate::command::NotCovered;

#[derive(Debug, Default)]
pub struct Defaults {
    known: HashMap<(String, Option<String>, String), Vec<PathBuf>>,
}

impl Defaults {
    /// The built-in search directories, canonical, in search order.
    pub fn dirs(
        &mut self,
        compiler: &str,
        sysroot: Option<&str>,
        language: &str,
    ) -> Result<&[PathBuf], NotCovered> {
        let key = (
            compiler.to_string(),
            sysroot.map(String::from),
            language.to_string(),
        );
        if !self.known.contains_key(&key) {
            let dirs = ask(compiler, sysroot, language)?;
            self.known.insert(key.clone(), dirs);
        }
        Ok(&self.known[&key])
    }
}

fn ask(compiler: &str, sysroot: Option<&str>, language: &str) -> Result<Vec<PathBuf>, NotCovered> {
    let mut cmd = Command::new(compiler);
    if let Some(s) = sysroot {
        cmd.arg(format!("--sysroot={s}"));
    }
    cmd.args(["-x", language, "-v", "-E", "/dev/null", "-o", "/dev/null"])
        .env_clear()
        .stdin(Input::Null)
        .stdout(Output::Capture { limit: 1 << 20 })
        .stderr(Output::Capture { limit: 1 << 20 })
        .timeout(Duration::from_secs(60));
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let out = cmd.run().map_err(|e| {
        NotCovered(format!(
            "cannot run '{compiler}' to learn its default include directories: {e}"
        ))
    })?;
    if !out.success() {
        return Err(NotCovered(format!(
            "'{compiler} -x {language} -v -E /dev/null' failed (status {})",
            out.status
        )));
    }
    let text = String::from_utf8_lossy(&out.stderr);
    parse_search_list(&text).ok_or_else(|| {
        NotCovered(format!(
            "no include search list in the output of '{compiler} -v'"
        ))
    })
}

/// The directories of gcc's/clang's `-v` search list, canonicalised (missing ones dropped).
pub fn parse_search_list(text: &str) -> Option<Vec<PathBuf>> {
    let start = text.find("#include <...> search starts here:")?;
    let rest = &text[start..];
    let end = rest.find("End of search list.")?;
    Some(
        rest[..end]
            .lines()
            .skip(1)
            .filter(|l| !l.ends_with("(framework directory)"))
            .filter_map(|l| std::fs::canonicalize(l.trim()).ok())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gcc_output() {
        let text = "ignoring nonexistent directory \"/nope\"\n#include \"...\" search starts here:\n\
                    #include <...> search starts here:\n /usr/include\n /\n /definitely/missing\n\
                    End of search list.\n";
        assert_eq!(
            parse_search_list(text).unwrap(),
            vec![PathBuf::from("/usr/include"), PathBuf::from("/")]
        );
        assert_eq!(parse_search_list("nothing"), None);
    }
}
