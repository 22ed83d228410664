//! Helpers for the client tests (here and in tests/interop/distccd34.rs): a sandbox with its
//! own DISTCC_DIR and log, a small C/C++ project, and "build with distcc, then locally, and
//! compare the bytes".

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::support::TempDir;

pub fn distcc_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_distcc"))
}

/// A work directory with its own DISTCC_DIR and client log.
pub struct Sandbox {
    pub work: TempDir,
    pub distcc_dir: PathBuf,
    pub log: PathBuf,
}

impl Sandbox {
    pub fn new(tag: &str) -> Sandbox {
        let work = TempDir::new(tag);
        let distcc_dir = work.path().join(".distcc");
        let log = work.path().join("distcc.log");
        write_project(work.path());
        Sandbox {
            work,
            distcc_dir,
            log,
        }
    }

    pub fn path(&self) -> &Path {
        self.work.path()
    }

    /// `distcc <args>` in the work directory with `DISTCC_HOSTS=hosts`, verbose log to a file.
    pub fn distcc(&self, hosts: &str, args: &[&str]) -> Command {
        let mut c = Command::new(distcc_bin());
        c.args(args);
        self.env(&mut c, hosts);
        c
    }

    pub fn env(&self, c: &mut Command, hosts: &str) {
        c.current_dir(self.path())
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_DIR", &self.distcc_dir)
            .env("DISTCC_LOG", &self.log)
            .env("DISTCC_VERBOSE", "1")
            .env("DISTCC_PAUSE_TIME_MSEC", "20")
            // These tests measure distribution: every compile reaches a host. The result
            // cache (on by default) has its own tests, which say `DISTCC_CACHE` themselves.
            .env("DISTCC_CACHE", "0")
            .env_remove("DISTCC_FALLBACK")
            .env_remove("DISTCC_SKIP_LOCAL_RETRY")
            .env_remove("_DISTCC_SAFEGUARD")
            .env_remove("DEPENDENCIES_OUTPUT")
            .env_remove("SUNPRO_DEPENDENCIES");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that `out`, a distcc run here (`what` names it), succeeded; otherwise shows its
    /// stderr and the client's log.
    #[track_caller]
    pub fn assert_ok(&self, out: &Output, what: impl std::fmt::Display) {
        assert!(
            out.status.success(),
            "{what} failed: {}\nlog:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// Runs `compiler args` through distcc, then the same command locally, and asserts that
    /// both succeed and leave byte-identical `outputs`. Returns distcc's output.
    pub fn same_as_local(
        &self,
        hosts: &str,
        extra_env: &[(&str, &str)],
        cmd: &[&str],
        outputs: &[&str],
    ) -> Output {
        for o in outputs {
            let _ = std::fs::remove_file(self.path().join(o));
        }
        let mut c = self.distcc(hosts, cmd);
        c.envs(extra_env.iter().copied());
        let ours = c.output().expect("running distcc");
        self.assert_ok(&ours, format_args!("distcc {cmd:?}"));
        let remote: Vec<Vec<u8>> = outputs.iter().map(|o| self.read(o)).collect();
        for o in outputs {
            std::fs::remove_file(self.path().join(o)).unwrap();
        }
        let local = Command::new(cmd[0])
            .args(&cmd[1..])
            .current_dir(self.path())
            .output()
            .expect("running the compiler");
        assert!(local.status.success(), "local {cmd:?} failed");
        for (o, r) in outputs.iter().zip(&remote) {
            assert!(
                self.read(o) == *r,
                "{o} differs from a local build of {cmd:?}"
            );
        }
        ours
    }
}

/// A small project: two C files sharing a header in a subdirectory, a C++ file, a file with
/// a syntax error and a warning.
pub fn write_project(dir: &Path) {
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w(
        "include/util.h",
        "#pragma once\nint twice(int);\n#define GREETING \"hello\"\n",
    );
    w(
        "src/main.c",
        "#include <stdio.h>\n#include \"util.h\"\nint main(void) { printf(\"%s %d\\n\", GREETING, twice(21)); return 0; }\n",
    );
    w(
        "src/util.c",
        "#include \"util.h\"\nint twice(int x) { return 2 * x; }\n",
    );
    w(
        "src/shapes.cpp",
        "#include <vector>\n#include <string>\n#include \"util.h\"\nstd::string name() { return std::string(GREETING) + std::to_string(std::vector<int>{1,2,3}.size()); }\n",
    );
    w("src/bad.c", "#warning careful\nint f(void) { return 1 }\n");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::create_dir_all(dir.join("deps")).unwrap();
}
