//! `distcc --scan-includes COMPILER ARGS…`: 3.4's way to see what pump mode would send for
//! one compile. Asks the include server (`$INCLUDE_SERVER_PORT`, so under `pump`) for the
//! compile's include closure and prints one line per entry, `%-9s name`, as 3.4 does:
//! `FILE` (a source or header), `SYMLINK` (a link the include server made), `DIRECTORY` (a
//! directory that must exist: a `forcing_technique_271828` file) or `SYSTEMDIR` (a compiler
//! built-in directory, a `../…` link, never sent). Names are the ones on this machine.
//!
//! Unlike 3.4 it does not pick a host first: 3.4 refuses unless the host it would have chosen
//! has `,cpp`; here only the include server and the compile itself matter. It compiles
//! nothing, takes no slot and writes nothing.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use args::Classified;

use crate::config::Config;
use crate::{cross, pump};

/// 3.4's name for a directory the include server made exist.
const FORCING: &[u8] = b"/forcing_technique_271828";

/// The lines to print for `argv` (compiler first), or why there are none.
pub fn scan(config: &Config, argv: &[OsString]) -> Result<String, String> {
    let job = match args::classify(argv) {
        Classified::Distribute(job) => job,
        Classified::Local(reason) => {
            return Err(format!(
                "--scan-includes: this compile would run locally ({reason})"
            ));
        }
        Classified::NotACompile => {
            return Err("--scan-includes: this command line is not a compile".to_owned());
        }
    };
    let mut argv = job.argv.clone();
    if !config.no_rewrite_cross {
        cross::rewrite(
            &mut argv,
            config.path.as_deref(),
            Path::new(cross::ALLOW_DIR),
        );
    }
    let plan = pump::plan(config, &job, &argv)
        .map_err(|no| format!("--scan-includes: no pump mode for this compile: {}", no.why))?;
    let timeout = config.io_timeout.min(pump::INCLUDE_SERVER_TIMEOUT);
    let names = pump::ask(&plan, timeout)
        .map_err(|e| format!("failed to get includes from include server: {e}"))?;
    let mut out = String::new();
    for n in &names {
        let (kind, name) = categorize(n)?;
        out.push_str(&format!("{kind:<9} {}\n", String::from_utf8_lossy(&name)));
    }
    Ok(out)
}

/// 3.4's `dcc_categorize_file`: the kind of one entry and its name on this machine.
fn categorize(entry: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
    let path = Path::new(std::ffi::OsStr::from_bytes(entry));
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    let target = if meta.file_type().is_symlink() {
        Some(
            std::fs::read_link(path)
                .map_err(|e| format!("cannot read link {}: {e}", path.display()))?
                .into_os_string()
                .into_vec(),
        )
    } else {
        None
    };
    let mut name = pump::original_name(entry).ok_or_else(|| {
        format!(
            "the include server listed {}, which is not under its client root",
            path.display()
        )
    })?;
    let forced = name.ends_with(FORCING);
    if forced {
        name.truncate(name.len() - FORCING.len());
    }
    let kind = match &target {
        Some(t) if is_system_dir_link(t, &name) => "SYSTEMDIR",
        _ if forced => "DIRECTORY",
        Some(_) => "SYMLINK",
        None => "FILE",
    };
    Ok((kind, name))
}

/// A link `../…/../<name>` with more `../` than `name` has slashes: the include server's way
/// of pointing back out of its root at a built-in directory.
fn is_system_dir_link(target: &[u8], name: &[u8]) -> bool {
    let mut rest = target;
    let mut dotdots = 0;
    while let Some(r) = rest.strip_prefix(b"../") {
        rest = r;
        dotdots += 1;
    }
    let slashes = name.iter().filter(|b| **b == b'/').count();
    dotdots > 0 && dotdots > slashes && target.get(3 * dotdots - 1..) == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_directory_links_are_recognised_as_3_4_does() {
        assert!(is_system_dir_link(
            b"../../../../usr/include",
            b"/usr/include"
        ));
        assert!(!is_system_dir_link(b"../../usr/include", b"/usr/include"));
        assert!(!is_system_dir_link(b"../../../../usr/lib", b"/usr/include"));
        assert!(!is_system_dir_link(b"/usr/include", b"/usr/include"));
    }
}
