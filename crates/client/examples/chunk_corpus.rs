//! Measures the chunking rule (`distcc_client::chunks`) over a directory of preprocessed
//! sources (`bench/protocol4.py`'s corpus, or any `*.i`): chunks per file, the share of bytes
//! that are distinct across the whole set (what a daemon's store receives once), and the
//! client's CPU for a file: cut + xxh3-128 + zstd of the chunks new to the daemon, against
//! LZO1X (protocol 2) and zstd (protocol 4 without chunks) of the whole source.
//!
//! `cargo run --release -p distcc-client --example chunk_corpus DIR`

use std::collections::HashSet;
use std::time::{Duration, Instant};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("a directory of preprocessed sources");
    let mut seen = HashSet::new();
    let (mut total, mut distinct, mut files, mut chunks, mut most) = (0u64, 0u64, 0, 0, 0);
    let z = Duration::ZERO;
    let (mut cutting, mut hashing, mut packing, mut lzo, mut zstd) = (z, z, z, z, z);
    let (mut packing1, mut packed1, mut packed3) = (z, 0, 0);
    let mut missing_sizes = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable directory")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    // What a fresh process pays on first use (context creation, page faults, CPU probes),
    // which the loop below, one process for all files, amortizes.
    if let Some(first) = paths.first().and_then(|p| std::fs::read(p).ok()) {
        let part = &first[..first.len().min(48 * 1024)];
        let t = Instant::now();
        std::hint::black_box(distcc_client::chunks::split(part));
        let sha = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::zstd::compress_at(part, 1).unwrap());
        let z1 = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::zstd::compress_at(part, 1).unwrap());
        let z2 = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::lzo::compress(part));
        let l1 = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::lzo::compress(part));
        let l2 = t.elapsed();
        println!(
            "first use on 48 KiB: split {:.0} us; zstd level 1 {:.0} us (then {:.0} us); lzo {:.0} us (then {:.0} us)",
            sha.as_secs_f64() * 1e6,
            z1.as_secs_f64() * 1e6,
            z2.as_secs_f64() * 1e6,
            l1.as_secs_f64() * 1e6,
            l2.as_secs_f64() * 1e6,
        );
    }
    for p in paths {
        let Ok(source) = std::fs::read(&p) else {
            continue;
        };
        let t = Instant::now();
        let cuts = distcc_client::chunks::cut(&source);
        cutting += t.elapsed();
        drop(cuts);
        let t = Instant::now();
        let list = distcc_client::chunks::split(&source);
        hashing += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::lzo::compress(&source));
        lzo += t.elapsed();
        let t = Instant::now();
        std::hint::black_box(proto::zstd::compress(&source).unwrap());
        zstd += t.elapsed();
        files += 1;
        chunks += list.len();
        most = most.max(list.len());
        total += source.len() as u64;
        let mut missing = Vec::new();
        for (r, c) in list {
            if seen.insert(c.hash) {
                distinct += (r.end - r.start) as u64;
                missing.extend_from_slice(&source[r]);
            }
        }
        missing_sizes.push(missing.len());
        let t = Instant::now();
        packed3 += proto::zstd::compress(&missing).unwrap().len();
        packing += t.elapsed();
        let t = Instant::now();
        packed1 += proto::zstd::compress_at(&missing, 1).unwrap().len();
        packing1 += t.elapsed();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per = |d: Duration| ms(d) / files.max(1) as f64;
    println!(
        "{files} files, {total} bytes; distinct {distinct} bytes ({:.1} %); chunks per file {:.0} (max {most})",
        100.0 * distinct as f64 / total.max(1) as f64,
        chunks as f64 / files.max(1) as f64,
    );
    println!(
        "per file: cut {:.3} ms, cut+xxh3 {:.3} ms, zstd of the new chunks {:.3} ms, chunks in all {:.3} ms; LZO1X of the whole {:.3} ms; zstd of the whole {:.3} ms",
        per(cutting),
        per(hashing),
        per(packing),
        per(hashing + packing),
        per(lzo),
        per(zstd),
    );
    missing_sizes.sort();
    let q = |f: f64| missing_sizes[((missing_sizes.len() - 1) as f64 * f) as usize];
    println!(
        "new bytes a file (in this order): quartiles {} / {} / {}, 90 % {}, max {}",
        q(0.25),
        q(0.5),
        q(0.75),
        q(0.9),
        q(1.0)
    );
    println!(
        "new chunks at zstd level 3: {packed3} bytes, {:.3} ms a file; at level 1: {packed1} bytes, {:.3} ms a file",
        per(packing),
        per(packing1),
    );
}
