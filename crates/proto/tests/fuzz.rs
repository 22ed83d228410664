//! The fuzz bodies of `distcc_proto::fuzz` on stable Rust: each body runs over its checked-in
//! corpus (testdata/fuzz/<target>/), over the real 3.4 vectors (testdata/*.bin) that are of
//! its kind and their LZO compressions, and then over seeded pseudo-random inputs: pure noise,
//! and the seeds mutated (bit flips, insertions, deletions, splices, and header parameters
//! rewritten to edge values). The driver is `distcc_proto::fuzz::driver`.
//!
//! Its counting global allocator records the largest single allocation of every execution and
//! checks it against the target's `max_alloc`, so a decoder that reserves memory for a forged
//! length fails here even though it does not crash.
//!
//! `cargo test` runs a few thousand inputs per target (CI). For a long run by hand:
//! `DISTCC_FUZZ_ITERS=300000 cargo test --release -p distcc-proto --test fuzz -- --ignored
//! --nocapture`. A failing input is saved under the cargo target's tmp directory and named in
//! the failure; copy it into testdata/fuzz/<target>/ with the fix.

use std::path::{Path, PathBuf};

use distcc_proto::fuzz::TARGETS;
use distcc_proto::fuzz::driver::{self, PeakAlloc};
use distcc_proto::lzo;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Executions per target under plain `cargo test`: enough to shake out shallow bugs on every
/// push while keeping the whole file well under 20 s in a debug build on two cores.
const CI_ITERS: u64 = 3000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.display().to_string(), bytes));
        }
    }
    out.sort();
    out
}

/// The checked-in corpus of one target.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let files = read_dir_files(&repo().join("testdata/fuzz").join(target));
    assert!(!files.is_empty(), "testdata/fuzz/{target} holds no corpus");
    files
}

/// Seeds a target mutates besides its corpus: the captured 3.4 vectors (testdata/*.bin) of
/// its kind, cut to the part its decoder reads; the LZO targets get the LZO compression of
/// every vector, so that they start from valid streams.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let vectors: Vec<(String, Vec<u8>)> = read_dir_files(&repo().join("testdata"))
        .into_iter()
        .filter(|(name, _)| name.ends_with(".bin"))
        .collect();
    assert!(vectors.len() >= 13, "testdata/*.bin vectors are missing");
    for (name, v) in vectors {
        match target {
            "request" if name.ends_with(".request.bin") => seeds.push(v),
            "reply" if name.ends_with(".reply.bin") => seeds.push(v),
            "state" if name.contains("binstate") => seeds.push(v),
            "pump_entries" => {
                if let Some(at) = v.windows(4).position(|w| w == b"NFIL") {
                    seeds.push(v[at..].to_vec());
                }
            }
            "header" => seeds.push(v[..v.len().min(12)].to_vec()),
            "auth" => seeds.push([b"AUTH00000006s3cret".as_slice(), &v].concat()),
            "zstd_body" => {
                let mut b = Vec::new();
                distcc_proto::zstd::write_frame(&mut b, distcc_proto::Token::DOTI, &v)
                    .expect("writing to a Vec");
                seeds.push(b);
            }
            "lzo_decompress" => seeds.push(lzo::compress(&v)),
            "lzo_roundtrip" => seeds.push(v),
            "coord" => seeds.push(v[..v.len().min(64)].to_vec()),
            _ => {}
        }
    }
    seeds
}

fn run_target(name: &str, iters: u64) {
    let t = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz body named {name}"));
    let corpus = corpus(name);
    match driver::run(t, &corpus, &seeds(name), iters) {
        Ok(r) => println!(
            "fuzz {name}: {} executions without a crash ({} corpus files, {} decoded), \
             {:.0}/s, largest allocation {} bytes",
            r.executions,
            corpus.len(),
            r.decoded,
            r.executions as f64 / r.seconds.max(1e-9),
            r.peak_alloc
        ),
        Err(f) => {
            let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}.bin"));
            let saved = match std::fs::write(&path, &f.input) {
                Ok(()) => path.display().to_string(),
                Err(e) => format!("(not saved: {e})"),
            };
            panic!(
                "fuzz body {name} {} on {}: input of {} bytes saved as {saved}",
                f.why,
                f.what,
                f.input.len()
            );
        }
    }
}

fn long_iters() -> u64 {
    match std::env::var("DISTCC_FUZZ_ITERS") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("DISTCC_FUZZ_ITERS={s:?} is not a count")),
        Err(_) => 200_000,
    }
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_target(stringify!($name), CI_ITERS);
            }
        )*

        /// The same bodies for as many random inputs as `DISTCC_FUZZ_ITERS` says, by hand.
        #[test]
        #[ignore = "long run by hand: DISTCC_FUZZ_ITERS=… cargo test --release --test fuzz -- --ignored"]
        fn long_run() {
            let iters = long_iters();
            $( run_target(stringify!($name), iters); )*
        }

        #[test]
        fn every_body_has_a_test_a_corpus_and_a_cargo_fuzz_target() {
            let listed = [$(stringify!($name)),*];
            let manifest = std::fs::read_to_string(repo().join("fuzz/Cargo.toml"))
                .expect("fuzz/Cargo.toml");
            for t in TARGETS {
                assert!(listed.contains(&t.name), "no test runs fuzz body {}", t.name);
                corpus(t.name);
                let src = repo().join("fuzz/fuzz_targets").join(format!("{}.rs", t.name));
                let text = std::fs::read_to_string(&src)
                    .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
                assert!(text.contains(&format!("fuzz::{}(", body_fn(t.name))), "{}", src.display());
                assert!(manifest.contains(&format!("name = \"{}\"", t.name)), "fuzz/Cargo.toml lacks {}", t.name);
            }
        }
    };
}

/// The function behind a target name (`state` is `state_record`, to keep clear of the
/// `state` module).
fn body_fn(target: &str) -> &str {
    match target {
        "state" => "state_record",
        other => other,
    }
}

targets!(
    header,
    request,
    reply,
    request_v4,
    reply_v4,
    cache_verdict,
    chunk_list,
    chunk_need,
    zstd_body,
    pump_entries,
    lzo_decompress,
    lzo_roundtrip,
    state,
    coord,
    auth,
);
