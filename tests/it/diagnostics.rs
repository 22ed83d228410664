//! Compiler messages through distcc are the local compile's, byte for byte (issue 13, item 3):
//! a corpus of warnings of more than twenty kinds, in sources and in headers, with fix-its
//! and notes, compiled by gcc and clang through our client and our daemon on loopback, in
//! plain and pump mode, as text, in colour, as JSON (gcc) and with parseable fix-its; stdout,
//! stderr, exit code and object are compared with the same command run locally.

use std::path::Path;
use std::process::{Command, Output};

use crate::client::client_support::{Sandbox, distcc_bin};
use crate::support::{OurDaemon, require};

/// One file per theme; every line a warning (its kind in the comment).
const FILES: &[(&str, &str)] = &[
    (
        "inc/warn.h",
        "#ifndef WARN_H\n#define WARN_H\n#include <stdio.h>\n\
         #define LOG_INT(v) printf(\"%d\\n\", (v)) /* -Wformat, through a macro */\n\
         static int header_unused(void) { return 0; } /* -Wunused-function */\n\
         static inline int header_shadow(int x) { int y = x; { int y = 2; return y; } } /* -Wshadow */\n\
         static inline int header_sign(int a, unsigned b) { return a < b; } /* -Wsign-compare */\n\
         static inline char header_cast(const char *p) { char *q = (char *)p; return *q; } /* -Wcast-qual */\n\
         #endif\n",
    ),
    (
        "src/format.c",
        "#include <stdio.h>\n#include \"warn.h\"\n\
         void fmt(long v, const char *s) {\n\
         \x20 printf(\"value %d\\n\", v); /* -Wformat, fix-it %ld */\n\
         \x20 printf(\"%s\\n\", s, v); /* -Wformat-extra-args */\n\
         \x20 printf(s); /* -Wformat-security, -Wformat-nonliteral */\n\
         \x20 LOG_INT(v); /* -Wformat in a header's macro */\n\
         }\n",
    ),
    (
        "src/unused.c",
        "#define NEVER_USED 1 /* -Wunused-macros */\n\
         static void helper(void) {} /* -Wunused-function */\n\
         int unused(int param) { /* -Wunused-parameter */\n\
         \x20 int nothing; /* -Wunused-variable */\n\
         \x20 int set = 0; set = 2; /* -Wunused-but-set-variable */\n\
         \x20 0; /* -Wunused-value */\n\
         label: /* -Wunused-label */\n\
         \x20 return 1;\n}\n",
    ),
    (
        "src/control.c",
        "enum color { RED, GREEN, BLUE };\n\
         int control(int a, int b, enum color c) {\n\
         \x20 if (a = b) /* -Wparentheses, fix-it */\n\
         \x20   a++;\n\
         \x20 if (a)\n\
         \x20   a++;\n\
         \x20   b++; /* -Wmisleading-indentation */\n\
         \x20 switch (c) { /* -Wswitch */\n\
         \x20 case RED: a++; /* -Wimplicit-fallthrough */\n\
         \x20 case GREEN: break;\n\
         \x20 }\n\
         \x20 if (b); /* -Wempty-body */\n\
         \x20 if (!a == b) b++; /* -Wlogical-not-parentheses */\n\
         \x20 if (a) if (b) a++; else b++; /* -Wdangling-else */\n\
         }\n/* -Wreturn-type above */\n",
    ),
    (
        "src/types.c",
        "#include <string.h>\n\
         struct pt { int x, y; };\n\
         int types(int i, unsigned u, char *p, int *q) {\n\
         \x20 struct pt a = { .x = 1 }; struct pt b = { 1 }; /* -Wmissing-field-initializers */\n\
         \x20 int n = p; /* -Wint-conversion */\n\
         \x20 long *l = q; /* -Wincompatible-pointer-types */\n\
         \x20 unsigned char *uc = p; /* -Wpointer-sign */\n\
         \x20 char c = 300; /* -Woverflow */\n\
         \x20 int s = 1 << 40; /* -Wshift-count-overflow */\n\
         \x20 int z = i / 0; /* -Wdiv-by-zero */\n\
         \x20 memset(q, 0, sizeof q); /* -Wsizeof-pointer-memaccess */\n\
         \x20 if (types == 0) return 1; /* -Waddress */\n\
         \x20 return (i < u) + n + (int)*l + *uc + c + s + z + a.y + b.y; /* -Wsign-compare */\n\
         }\n",
    ),
    (
        "src/decl.c",
        "#warning this is a preprocessor warning\n\
         int old(); /* -Wstrict-prototypes */\n\
         int old(a) int a; { return a; } /* -Wold-style-definition */\n\
         int exported(void) { return 1; } /* -Wmissing-prototypes */\n\
         int twice(void); int twice(void); /* -Wredundant-decls */\n\
         __attribute__((deprecated(\"use new_api\"))) int old_api(void);\n\
         int caller(int exported_shadow) {\n\
         \x20 extern int nested; /* -Wnested-externs */\n\
         \x20 int old_api_value = old_api(); /* -Wdeprecated-declarations */\n\
         \x20 puts(\"x\"); /* -Wimplicit-function-declaration, fix-it #include */\n\
         \x20 return nested + old_api_value + exported_shadow;\n}\n",
    ),
    (
        "src/flow.c",
        "int flow(int k) {\n\
         \x20 int v; /* -Wmaybe-uninitialized / -Wuninitialized */\n\
         \x20 if (k > 2) v = k;\n\
         \x20 int arr[4] = {0};\n\
         \x20 return v + arr[5]; /* -Warray-bounds */\n}\n",
    ),
    (
        "src/header_user.c",
        "#include \"warn.h\"\n\
         int header_user(long v, const char *p) {\n\
         \x20 LOG_INT(v);\n\
         \x20 return header_shadow(1) + header_sign(-1, 2u) + header_cast(p);\n}\n",
    ),
    (
        "src/error.c",
        "int broken(void) { return missing_name + 1; }\n",
    ),
];

const WARNINGS: &[&str] = &[
    "-O2",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-Wunused-macros",
    "-Wcast-qual",
    "-Wformat=2",
    "-Wold-style-definition",
    "-Wredundant-decls",
    "-Wnested-externs",
    "-Iinc",
];

/// Runs `cmd` (compiler first) through our client, or locally when `hosts` is `None`.
fn compile(sb: &Sandbox, hosts: Option<&str>, env: &[(String, String)], cmd: &[String]) -> Output {
    let mut c = match hosts {
        Some(h) => {
            let mut c = Command::new(distcc_bin());
            c.args(cmd);
            sb.env(&mut c, h);
            c.envs(env.iter().map(|(k, v)| (k, v)));
            c
        }
        None => {
            let mut c = Command::new(&cmd[0]);
            c.args(&cmd[1..]).current_dir(sb.path());
            c
        }
    };
    c.env_remove("GCC_COLORS")
        .env_remove("TERM")
        .output()
        .expect("running a compile")
}

/// Our `pump --startup` environment, shut down on drop.
/// An include server for `hosts` (`pump --startup`), its variables in `.0`; shut down on drop.
pub(crate) struct Pump(pub(crate) Vec<(String, String)>);

impl Pump {
    pub(crate) fn start(hosts: &str) -> Pump {
        let out = Command::new(env!("CARGO_BIN_EXE_pump"))
            .arg("--startup")
            .env("DISTCC_HOSTS", hosts)
            .env_remove("INCLUDE_SERVER_PORT")
            .output()
            .expect("running pump --startup");
        assert!(out.status.success(), "pump --startup failed");
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.strip_prefix("export ")?.split_once('=')?;
                Some((k.to_owned(), v.trim_matches('\'').to_owned()))
            })
            .filter(|(k, _)| k.starts_with("INCLUDE_SERVER_"))
            .collect::<Vec<_>>();
        assert_eq!(vars.len(), 3, "pump --startup printed {vars:?}");
        Pump(vars)
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_pump"))
            .arg("--shutdown")
            .envs(self.0.iter().map(|(k, v)| (k, v)))
            .output();
    }
}

/// Compiles every corpus file with `compiler` and each of `variants` locally and through
/// `hosts`, and asserts byte-identical results. Returns (compiles compared, with messages).
fn compare_all(
    sb: &Sandbox,
    compiler: &str,
    variants: &[&[&str]],
    hosts: &str,
    env: &[(String, String)],
) -> (usize, usize) {
    let (mut compared, mut with_messages) = (0, 0);
    for (file, _) in FILES.iter().filter(|(f, _)| f.ends_with(".c")) {
        let stem = Path::new(file).file_stem().unwrap().to_string_lossy();
        for variant in variants {
            let obj = format!("out/{stem}.o");
            // `{abs}`: the source and the include directory by absolute paths, as cmake
            // names them (in pump mode the server's names are then under its job root).
            let abs = variant.contains(&"{abs}");
            let root = sb.path().display().to_string();
            let mut cmd: Vec<String> = vec![compiler.to_owned()];
            cmd.extend(WARNINGS.iter().map(|s| match (*s, abs) {
                ("-Iinc", true) => format!("-I{root}/inc"),
                _ => s.to_string(),
            }));
            cmd.extend(
                variant
                    .iter()
                    .filter(|v| **v != "{abs}")
                    .map(|s| s.to_string()),
            );
            let source = if abs {
                format!("{root}/{file}")
            } else {
                file.to_string()
            };
            cmd.extend(["-c".into(), source, "-o".into(), obj.clone()]);
            let _ = std::fs::remove_file(sb.path().join(&obj));
            let dist = compile(sb, Some(hosts), env, &cmd);
            let dist_obj = std::fs::read(sb.path().join(&obj)).ok();
            let _ = std::fs::remove_file(sb.path().join(&obj));
            let local = compile(sb, None, env, &cmd);
            let local_obj = std::fs::read(sb.path().join(&obj)).ok();
            let what = format!("{} ({hosts})", cmd.join(" "));
            assert_eq!(dist.status.code(), local.status.code(), "exit code: {what}");
            assert!(
                dist.stderr == local.stderr,
                "stderr differs: {what}\n--- distcc:\n{}\n--- local:\n{}\n--- log:\n{}",
                String::from_utf8_lossy(&dist.stderr),
                String::from_utf8_lossy(&local.stderr),
                sb.log_text()
            );
            assert!(dist.stdout == local.stdout, "stdout differs: {what}");
            assert!(dist_obj == local_obj, "object differs: {what}");
            compared += 1;
            with_messages += usize::from(!local.stderr.is_empty());
        }
    }
    (compared, with_messages)
}

/// `identical`: with `DISTCC_IDENTICAL_DEBUG=1`, so the `-g` compiles take the source route.
fn messages_corpus(pump: bool, identical: bool) {
    if !require(&["gcc", "clang"]) {
        return;
    }
    let route = match (pump, identical) {
        (true, _) => "pump",
        (false, false) => "plain",
        (false, true) => "source route",
    };
    let sb = Sandbox::new(if pump { "diag-pump" } else { "diag-plain" });
    for (rel, text) in FILES {
        let p = sb.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let d = OurDaemon::start(&[]);
    std::os::unix::fs::symlink("/usr/bin/distcc", d.dir.path().join("allow/clang")).unwrap();
    let hosts = if pump {
        format!("127.0.0.1:{}/4,lzo,cpp", d.port)
    } else {
        format!("127.0.0.1:{}/4,lzo", d.port)
    };
    let pump_env = pump.then(|| Pump::start(&hosts));
    let mut env = pump_env.as_ref().map_or(Vec::new(), |p| p.0.clone());
    if identical {
        env.push(("DISTCC_IDENTICAL_DEBUG".to_owned(), "1".to_owned()));
    }
    let gcc: &[&[&str]] = &[
        &[],
        &["-fdiagnostics-color=always"],
        &["-fdiagnostics-format=json"],
        &["-fdiagnostics-parseable-fixits", "-g"],
        &["{abs}"],
        &["{abs}", "-fdiagnostics-format=json"],
    ];
    let clang: &[&[&str]] = &[
        &[],
        &["-fdiagnostics-color=always"],
        &["-fdiagnostics-parseable-fixits", "-g"],
        &["{abs}"],
    ];
    let (g, gm) = compare_all(&sb, "gcc", gcc, &hosts, &env);
    let (c, cm) = compare_all(&sb, "clang", clang, &hosts, &env);
    drop(pump_env);
    // The corpus really warns, and the compiles really went to the daemon (the messages
    // route compiles here only after a remote compile succeeded; errors retry here).
    let sources = FILES.iter().filter(|(f, _)| f.ends_with(".c")).count();
    assert_eq!(gm, g, "every gcc compile of the corpus prints something");
    assert_eq!(cm, c, "every clang compile of the corpus prints something");
    // Every compile reached the daemon first (logged after its reply, so waited for), but
    // for clang's `-g` ones by the source route: DWARF 5 compiles here by design.
    let with_g = |variants: &[&[&str]]| variants.iter().filter(|v| v.contains(&"-g")).count();
    let expected = if identical {
        g + c - sources * with_g(clang)
    } else {
        g + c
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let jobs = |log: &str| log.lines().filter(|l| l.contains(" exit ")).count();
    while jobs(&d.log_text()) < expected && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = d.log_text();
    let remote = jobs(&log);
    assert_eq!(
        remote,
        expected,
        "jobs in the daemon's log:\n{log}\nclient's local compiles:\n{}",
        sb.log_text()
            .lines()
            .filter(|l| l.contains("locally") || l.contains("compiling here"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if identical {
        let sent = sb.log_text().matches("and its macros not").count();
        assert_eq!(sent, sources * with_g(gcc), "gcc -g by the source route");
    }
    if pump {
        let pumped = sb.log_text().matches(" files and links for ").count();
        assert_eq!(
            pumped,
            g + c,
            "every compile in pump mode:\n{}",
            sb.log_text()
        );
    }
    let stats = Command::new(distcc_bin())
        .arg("--show-stats")
        .env("DISTCC_DIR", &sb.distcc_dir)
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.contains(client::compile::MESSAGES_REASON), "{stats}");
    eprintln!(
        "diagnostics ({}): {} compiles of {sources} files byte-identical to local (gcc {g}, clang {c}); {remote} remote jobs",
        route,
        g + c
    );
}

#[test]
fn warnings_are_the_local_compiles_bytes_in_plain_mode() {
    messages_corpus(false, false);
}

#[test]
fn warnings_are_the_local_compiles_bytes_by_the_source_route() {
    messages_corpus(false, true);
}

#[test]
fn warnings_are_the_local_compiles_bytes_in_pump_mode() {
    messages_corpus(true, false);
}

/// Parallel local compiles (here: no hosts) writing into one pipe, as under `make -j`: clang
/// writes a diagnostic a few bytes at a time, so without the client's line relay their
/// lines interleave mid-line. Every line read must be a line one compile printed alone.
#[test]
fn parallel_local_compiles_never_split_a_line() {
    if !require(&["clang"]) {
        return;
    }
    let sb = Sandbox::new("diag-lines");
    let mut text = String::from("#include <stdio.h>\n");
    for i in 0..60 {
        text.push_str(&format!(
            "void f{i}(long v) {{ printf(\"%d {i}\\n\", v); int unused{i}; }}\n"
        ));
    }
    std::fs::write(sb.path().join("src/many.c"), &text).unwrap();
    let cmd = ["clang", "-Wall", "-c", "src/many.c", "-o", "/dev/null"];
    let alone = Command::new(cmd[0])
        .args(&cmd[1..])
        .current_dir(sb.path())
        .output()
        .unwrap();
    let expected: std::collections::BTreeSet<&[u8]> = alone.stderr.split(|&b| b == b'\n').collect();
    assert!(expected.len() > 100, "the file warns on every line");
    let (mut reader, writer) = std::io::pipe().unwrap();
    let children: Vec<_> = (0..6)
        .map(|_| {
            let mut c = sb.distcc("", &cmd);
            c.stderr(writer.try_clone().unwrap())
                .stdout(std::process::Stdio::null())
                .env("DISTCC_LOG", sb.path().join("log"));
            c.spawn().unwrap()
        })
        .collect();
    drop(writer);
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut all).unwrap();
    for mut c in children {
        c.wait().unwrap();
    }
    let split: Vec<_> = all
        .split(|&b| b == b'\n')
        .filter(|l| !expected.contains(l))
        .map(String::from_utf8_lossy)
        .collect();
    assert_eq!(
        all.len(),
        6 * alone.stderr.len(),
        "every compile's messages arrived"
    );
    assert!(
        split.is_empty(),
        "{} split lines, first {:?}",
        split.len(),
        split.first()
    );
}
