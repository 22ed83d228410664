//! The step every crate's stable fuzz test (`cargo test`) takes: its fuzz body over the
//! checked-in corpus `testdata/fuzz/<name>` and then seeded random and mutated inputs, through
//! `proto`'s fuzz driver. A dev-dependency of the crates with a fuzz body outside `proto`
//! (whose own test also mixes in the captured 3.4 vectors as seeds).

use std::path::{Path, PathBuf};

pub use proto::fuzz::Target;
pub use proto::fuzz::driver::Report;

/// The files of `testdata/fuzz/<name>`, sorted by path: (path, bytes). Panics when there are
/// none, so a corpus that went missing fails the test.
pub fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fuzz")
        .join(name);
    let mut corpus = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path: PathBuf = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        corpus.push((path.display().to_string(), bytes));
    }
    corpus.sort();
    assert!(!corpus.is_empty(), "{} holds no corpus", dir.display());
    corpus
}

/// Runs `target` over its corpus (`testdata/fuzz/<target.name>`) and `iters` seeded inputs;
/// panics with the input (escaped) on the first crash or oversized allocation. Prints and
/// returns what ran, `what` naming the inputs that got past the decoder ("parsed", ...).
pub fn over_corpus(target: &Target, iters: u64, what: &str) -> Report {
    let name = target.name;
    match proto::fuzz::driver::run(target, &corpus(name), &[], iters) {
        Ok(r) => {
            println!(
                "fuzz {name}: {} executions without a crash ({} {what})",
                r.executions, r.decoded
            );
            r
        }
        Err(f) => panic!(
            "fuzz body {name} {} on {}: input {:?}",
            f.why,
            f.what,
            f.input.escape_ascii().to_string()
        ),
    }
}
