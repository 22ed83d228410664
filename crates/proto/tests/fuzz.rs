//! The fuzz bodies of `distcc_proto::fuzz` on stable Rust: each body runs over its checked-in
//! corpus (testdata/fuzz/<target>/), over the real 3.4 vectors (testdata/*.bin) and their LZO
//! compressions, and then over seeded pseudo-random inputs: pure noise, and the seeds mutated
//! (bit flips, insertions, deletions, splices, and header parameters rewritten to edge values).
//!
//! A counting global allocator records the largest single allocation of every execution and
//! checks it against the target's `max_alloc`, so a decoder that reserves memory for a forged
//! length fails here even though it does not crash.
//!
//! `cargo test` runs a few thousand inputs per target (CI). For a long run by hand:
//! `DISTCC_FUZZ_ITERS=300000 cargo test --release -p distcc-proto --test fuzz -- --ignored
//! --nocapture`. A failing input is saved under the cargo target's tmp directory and named in
//! the failure; copy it into testdata/fuzz/<target>/ with the fix.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use distcc_proto::fuzz::{TARGETS, Target, decoded_count};
use distcc_proto::lzo;

/// Tracks the largest single allocation of the current thread (each test runs on its own).
struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations can happen while a thread's locals are being torn down.
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; only sizes are noted.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Executions per target under plain `cargo test`: enough to shake out shallow bugs on every
/// push while keeping the whole file well under 20 s in a debug build on two cores.
const CI_ITERS: u64 = 3000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// xorshift64*: deterministic, dependency-free, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Rng {
        // FNV-1a of the target name: each target gets its own fixed stream, whatever order
        // the tests run in.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
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

/// Seeds a target mutates: its corpus and the captured 3.4 vectors (testdata/*.bin) that are
/// of its kind, cut to the part its decoder reads; the LZO targets get the LZO compression of
/// every vector, so that they start from valid streams.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
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
            "lzo_decompress" => seeds.push(lzo::compress(&v)),
            "lzo_roundtrip" => seeds.push(v),
            _ => {}
        }
    }
    seeds
}

const TOKENS: [&[u8; 4]; 15] = [
    b"DIST", b"ARGC", b"ARGV", b"DOTI", b"DONE", b"STAT", b"SERR", b"SOUT", b"DOTO", b"DOTD",
    b"CDIR", b"NFIL", b"NAME", b"FILE", b"LINK",
];

/// A header parameter that is likely to sit on an edge of some check.
fn edge_value(rng: &mut Rng, around: usize) -> u32 {
    match rng.below(8) {
        0 => 0,
        1 => 1,
        2 => u32::MAX,
        3 => 0x8000_0000,
        4 => (around as u32)
            .wrapping_add(rng.below(3) as u32)
            .wrapping_sub(1),
        5 => rng.below(20) as u32,
        6 => 1 << rng.below(32),
        _ => rng.next() as u32,
    }
}

/// Positions where a known token starts, i.e. probable headers.
fn header_positions(buf: &[u8]) -> Vec<usize> {
    (0..buf.len().saturating_sub(11))
        .filter(|&i| TOKENS.iter().any(|t| &buf[i..i + 4] == *t))
        .collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut buf: Vec<u8>) -> Vec<u8> {
    // Mostly one or two changes, so that mutants stay close enough to valid to get deep.
    let mut rounds = 1;
    while rounds < 8 && rng.below(2) == 0 {
        rounds += 1;
    }
    for _ in 0..rounds {
        let len = buf.len();
        match rng.below(11) {
            0 if len > 0 => {
                let at = rng.below(len);
                buf[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                buf[at] = rng.next() as u8;
            }
            2 if len > 0 => {
                const EDGY: &[u8] = b"\0\xff0fFx-+ \x11\x7f";
                let at = rng.below(len);
                buf[at] = EDGY[rng.below(EDGY.len())];
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let ins = rng.bytes(n);
                buf.splice(at..at, ins);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                buf.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                let piece = buf[at..at + n].to_vec();
                let to = rng.below(len + 1);
                buf.splice(to..to, piece);
            }
            6 => buf.truncate(rng.below(len + 1)),
            7 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                buf.truncate(rng.below(len + 1));
                buf.extend_from_slice(&other[from..]);
            }
            8 | 9 => {
                let heads = header_positions(&buf);
                if !heads.is_empty() {
                    let at = heads[rng.below(heads.len())];
                    let v = edge_value(rng, len - at - 12);
                    buf[at + 4..at + 12].copy_from_slice(format!("{v:08x}").as_bytes());
                }
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let v = edge_value(rng, 16);
                let mut h = t.to_vec();
                h.extend_from_slice(format!("{v:08x}").as_bytes());
                let at = rng.below(len + 1);
                buf.splice(at..at, h);
            }
        }
    }
    buf
}

/// What one target's run did.
struct Run {
    executions: u64,
    peak_alloc: usize,
}

/// Runs one input, turning a panic or an over-large allocation into a failure that names a
/// saved copy of the input.
fn execute(t: &Target, input: &[u8], what: &str, run: &mut Run) {
    PEAK.with(|p| p.set(0));
    let outcome = catch_unwind(AssertUnwindSafe(|| (t.body)(input)));
    let peak = PEAK.with(|p| p.get());
    run.executions += 1;
    run.peak_alloc = run.peak_alloc.max(peak);
    let failure = match outcome {
        Err(_) => Some("panicked (message above)".to_string()),
        Ok(()) if peak > (t.max_alloc)(input.len()) => Some(format!(
            "allocated {peak} bytes at once, more than {} for {} input bytes",
            (t.max_alloc)(input.len()),
            input.len()
        )),
        Ok(()) => None,
    };
    if let Some(why) = failure {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("fuzz-{}-{}.bin", t.name, run.executions));
        let saved = match std::fs::write(&path, input) {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(not saved: {e})"),
        };
        panic!(
            "fuzz body {} {why} on {what}: input of {} bytes saved as {saved}",
            t.name,
            input.len()
        );
    }
}

fn run_target(name: &str, iters: u64) {
    let t = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz body named {name}"));
    let started = Instant::now();
    let decoded_before = decoded_count();
    let mut run = Run {
        executions: 0,
        peak_alloc: 0,
    };
    let corpus = corpus(name);
    for (file, bytes) in &corpus {
        execute(t, bytes, file, &mut run);
    }
    let seeds = seeds(name);
    for s in &seeds {
        execute(t, s, "a seed", &mut run);
    }
    let mut rng = Rng::new(name);
    for i in 0..iters {
        let mut input = if i % 8 == 0 {
            let n = rng.below(300);
            rng.bytes(n)
        } else {
            let seed = seeds[rng.below(seeds.len())].clone();
            mutate(&mut rng, &seeds, seed)
        };
        // State records have one valid length; keep half the mutants at it.
        if name == "state" && i % 2 == 1 {
            input.resize(distcc_proto::state::RECORD_LEN, 0);
        }
        execute(t, &input, &format!("random input #{i}"), &mut run);
    }
    let secs = started.elapsed().as_secs_f64();
    let decoded = decoded_count() - decoded_before;
    println!(
        "fuzz {name}: {} executions without a crash ({} corpus files, {decoded} decoded), \
         {:.0}/s, largest allocation {} bytes",
        run.executions,
        corpus.len(),
        run.executions as f64 / secs.max(1e-9),
        run.peak_alloc
    );
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
    pump_entries,
    lzo_decompress,
    lzo_roundtrip,
    state,
);
