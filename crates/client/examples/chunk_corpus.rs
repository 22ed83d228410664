//! Measures the chunking rule (`distcc_client::chunks`) over a directory of preprocessed
//! sources (`bench/protocol4.py`'s corpus, or any `*.i`): chunks per file, and the share of
//! bytes that are distinct across the whole set (what a daemon's store receives once).
//!
//! `cargo run --release -p distcc-client --example chunk_corpus DIR`

use std::collections::HashSet;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("a directory of preprocessed sources");
    let mut seen = HashSet::new();
    let (mut total, mut distinct, mut files, mut chunks, mut most) = (0u64, 0u64, 0, 0, 0);
    let mut hashing = std::time::Duration::ZERO;
    let mut cutting = std::time::Duration::ZERO;
    for e in std::fs::read_dir(&dir)
        .expect("readable directory")
        .flatten()
    {
        let Ok(source) = std::fs::read(e.path()) else {
            continue;
        };
        let t = std::time::Instant::now();
        let cuts = distcc_client::chunks::cut(&source);
        cutting += t.elapsed();
        drop(cuts);
        let t = std::time::Instant::now();
        let list = distcc_client::chunks::split(&source);
        hashing += t.elapsed();
        files += 1;
        chunks += list.len();
        most = most.max(list.len());
        total += source.len() as u64;
        for (r, c) in list {
            if seen.insert(c.hash) {
                distinct += (r.end - r.start) as u64;
            }
        }
    }
    println!(
        "{files} files, {total} bytes; distinct {distinct} bytes ({:.1} %); chunks per file {:.0} (max {most}); cut+hash {:.1} ms total, {:.2} ms/MB (cut alone {:.2} ms/MB)",
        100.0 * distinct as f64 / total.max(1) as f64,
        chunks as f64 / files.max(1) as f64,
        hashing.as_secs_f64() * 1e3,
        hashing.as_secs_f64() * 1e3 / (total as f64 / 1e6),
        cutting.as_secs_f64() * 1e3 / (total as f64 / 1e6),
    );
}
