//! The driver the stable fuzz tests share: seeded pseudo-random inputs and mutations of seed
//! inputs, a counting allocator, and a loop that runs one [`Target`] and reports what it did.
//!
//! No file I/O here: the test binaries read their corpus directories and save failing inputs.
//! cargo-fuzz needs none of this (libFuzzer mutates, and `-malloc_limit_mb` bounds allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Target, decoded_count};

/// A global allocator that notes the largest single allocation of each thread. A test binary
/// installs it with `#[global_allocator] static A: PeakAlloc = PeakAlloc;`; [`run`] then
/// checks every execution against the target's `max_alloc`.
pub struct PeakAlloc;

static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
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

/// xorshift64*: deterministic, dependency-free, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(name: &str) -> Rng {
        // FNV-1a of the target name: each target gets its own fixed stream, whatever order
        // the tests run in.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
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
        _ => rng.next_u64() as u32,
    }
}

/// Positions where a known token starts, i.e. probable headers.
fn header_positions(buf: &[u8]) -> Vec<usize> {
    (0..buf.len().saturating_sub(11))
        .filter(|&i| TOKENS.iter().any(|t| &buf[i..i + 4] == *t))
        .collect()
}

/// Applies one to eight random changes to `buf`, mostly one or two, some of them aware of
/// distcc's headers (rewrite a parameter to an edge value, insert a header).
pub fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], mut buf: Vec<u8>) -> Vec<u8> {
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
                buf[at] = rng.next_u64() as u8;
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
#[derive(Debug)]
pub struct Report {
    pub executions: u64,
    /// Inputs that got past the decoder to the round-trip checks.
    pub decoded: u64,
    /// Largest single allocation seen; 0 when [`PeakAlloc`] is not installed.
    pub peak_alloc: usize,
    pub seconds: f64,
}

/// An input on which a body panicked or allocated too much.
#[derive(Debug)]
pub struct Failure {
    pub input: Vec<u8>,
    /// Which input: a corpus file's name, "seed k" or "random input #i".
    pub what: String,
    pub why: String,
}

/// Runs `t` over every corpus entry, every seed, then `iters` inputs: one in eight pure
/// noise, the rest mutated corpus entries or seeds (cut or padded to `t.fixed_len` every other time). The
/// stream depends only on the target's name, so a failure reproduces.
pub fn run(
    t: &Target,
    corpus: &[(String, Vec<u8>)],
    seeds: &[Vec<u8>],
    iters: u64,
) -> Result<Report, Failure> {
    let started = Instant::now();
    let decoded_before = decoded_count();
    let mut report = Report {
        executions: 0,
        decoded: 0,
        peak_alloc: 0,
        seconds: 0.0,
    };
    for (name, bytes) in corpus {
        execute(t, bytes, || name.clone(), &mut report)?;
    }
    for (k, s) in seeds.iter().enumerate() {
        execute(t, s, || format!("seed {k}"), &mut report)?;
    }
    let pool: Vec<Vec<u8>> = corpus
        .iter()
        .map(|(_, b)| b.clone())
        .chain(seeds.iter().cloned())
        .collect();
    let mut rng = Rng::new(t.name);
    for i in 0..iters {
        let mut input = if i % 8 == 0 || pool.is_empty() {
            let n = rng.below(300);
            rng.bytes(n)
        } else {
            // Half the time a real vector: a grown corpus is mostly inputs that take error
            // paths, and mutants of valid messages are what reach the round trips.
            let seed = if i % 2 == 0 && !seeds.is_empty() {
                seeds[rng.below(seeds.len())].clone()
            } else {
                pool[rng.below(pool.len())].clone()
            };
            mutate(&mut rng, &pool, seed)
        };
        if let Some(len) = t.fixed_len
            && i % 2 == 1
        {
            input.resize(len, 0);
        }
        execute(t, &input, || format!("random input #{i}"), &mut report)?;
    }
    report.decoded = decoded_count() - decoded_before;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn execute(
    t: &Target,
    input: &[u8],
    what: impl Fn() -> String,
    report: &mut Report,
) -> Result<(), Failure> {
    PEAK.with(|p| p.set(0));
    let outcome = catch_unwind(AssertUnwindSafe(|| (t.body)(input)));
    let peak = PEAK.with(|p| p.get());
    report.executions += 1;
    report.peak_alloc = report.peak_alloc.max(peak);
    let bound = (t.max_alloc)(input.len());
    let why = match outcome {
        Err(_) => "panicked (message above)".to_string(),
        Ok(()) if INSTALLED.load(Ordering::Relaxed) && peak > bound => format!(
            "allocated {peak} bytes at once, more than {bound} for {} input bytes",
            input.len()
        ),
        Ok(()) => return Ok(()),
    };
    Err(Failure {
        input: input.to_vec(),
        what: what(),
        why,
    })
}
