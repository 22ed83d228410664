//! The monitor state record: the little binary note a distcc client keeps in
//! `$DISTCC_DIR/state/binstate_<pid>` so that `distccmon-text` can show what it is doing.
//!
//! distcc 3.4 writes its in-memory `struct dcc_task_state` verbatim, in native byte order:
//!
//! | offset (LP64) | C type | field |
//! |---|---|---|
//! | 0 | `size_t` | size of the struct (296 on x86-64) |
//! | 8 | `unsigned long` | magic `0x44494800` ("DIH\0") |
//! | 16 | `unsigned long` | client pid |
//! | 24 | `char[128]` | source file basename, NUL-terminated |
//! | 152 | `char[128]` | host name, NUL-terminated |
//! | 280 | `int` | slot on that host |
//! | 284 | `int` (enum) | phase |
//! | 288 | pointer | `next`: meaningless in the file |
//!
//! On a 32-bit target the words shrink to 4 bytes and the record to 280 bytes; we follow the
//! target's word size so that a C client and ours on the same machine agree.
//!
//! Canonical encoding: the bytes after each string's NUL and the trailing pointer are written
//! as zeros. 3.4's client keeps the record in a zero-initialised static and never sets `next`,
//! so the files it writes have zeros there too in practice (testdata/binstate_3.4.bin
//! round-trips byte for byte); but a 3.4 client whose host name shrank between two phases
//! leaves stale bytes after the NUL. Decoding ignores all of those bytes, so such a file
//! decodes to the same record and re-encodes canonically.
//!
//! This module only converts bytes; reading directories, checking pids and ages, and writing
//! files belong to the `monitor` crate.

use std::fmt;

/// Bytes in a C `unsigned long`, `size_t` and pointer on the targets distcc runs on (LP64
/// and ILP32 alike).
const WORD: usize = std::mem::size_of::<usize>();

/// Length of each of the two string fields, including the terminating NUL.
pub const FIELD_LEN: usize = 128;

/// Length of one record on this target: 296 bytes on x86-64.
pub const RECORD_LEN: usize = 3 * WORD + 2 * FIELD_LEN + 4 + 4 + WORD;

/// `DCC_STATE_MAGIC`: "DIH\0" read as a big-endian number.
pub const MAGIC: u64 = 0x4449_4800;

/// File names in the state directory start with this; the pid follows in decimal.
pub const FILE_PREFIX: &str = "binstate_";

const OFF_MAGIC: usize = WORD;
const OFF_PID: usize = 2 * WORD;
const OFF_FILE: usize = 3 * WORD;
const OFF_HOST: usize = OFF_FILE + FIELD_LEN;
const OFF_SLOT: usize = OFF_HOST + FIELD_LEN;
const OFF_PHASE: usize = OFF_SLOT + 4;

/// What a client is doing, in the order a compile passes through the phases. The numbers are
/// 3.4's `enum dcc_phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Phase {
    Startup = 0,
    /// Waiting for a free slot (lock).
    Blocked = 1,
    Connect = 2,
    /// Running the preprocessor.
    Cpp = 3,
    Send = 4,
    /// Waiting for the server to compile (also 3.4's reading of an unknown phase).
    Compile = 5,
    Receive = 6,
    Done = 7,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 8] = [
        Phase::Startup,
        Phase::Blocked,
        Phase::Connect,
        Phase::Cpp,
        Phase::Send,
        Phase::Compile,
        Phase::Receive,
        Phase::Done,
    ];

    /// The name 3.4's `distccmon-text` prints (`dcc_get_phase_name`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Startup => "Startup",
            Phase::Blocked => "Blocked",
            Phase::Connect => "Connect",
            Phase::Cpp => "Preprocess",
            Phase::Send => "Send",
            Phase::Compile => "Compile",
            Phase::Receive => "Receive",
            Phase::Done => "Done",
        }
    }

    pub fn number(self) -> u32 {
        self as u32
    }

    /// Reads the phase field as 3.4's monitor does: any value past `Done` (the field is an
    /// unsigned enum, so negative ones too) shows as `Compile`.
    pub fn from_wire(n: u32) -> Phase {
        Phase::ALL
            .get(n as usize)
            .copied()
            .unwrap_or(Phase::Compile)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded state record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    /// The client's pid, as written (an `unsigned long`; not yet checked to be a real pid).
    pub pid: u64,
    /// Basename of the source file, without the NUL; at most 127 bytes.
    pub file: Vec<u8>,
    /// The host description, without the NUL; at most 127 bytes.
    pub host: Vec<u8>,
    pub slot: i32,
    pub phase: Phase,
}

/// Why bytes are not a state record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The file is not exactly one record long (empty, truncated mid-write, or another format).
    WrongLength { len: usize },
    /// The magic number is not `DCC_STATE_MAGIC`.
    BadMagic { found: u64 },
    /// The size field disagrees with this target's layout: a different distcc version or word
    /// size wrote it.
    BadStructSize { found: u64 },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::WrongLength { len } => {
                write!(f, "state record is {len} bytes, expected {RECORD_LEN}")
            }
            StateError::BadMagic { found } => write!(f, "wrong magic number {found:#x}"),
            StateError::BadStructSize { found } => {
                write!(f, "wrong structure size {found}: version mismatch?")
            }
        }
    }
}

impl std::error::Error for StateError {}

impl StateRecord {
    /// Encodes the record as 3.4 lays it out. Strings longer than 127 bytes are cut, as 3.4's
    /// `strlcpy` cuts them; a NUL inside a string ends it there, as it would in C.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        put_word(&mut out, 0, RECORD_LEN as u64);
        put_word(&mut out, OFF_MAGIC, MAGIC);
        put_word(&mut out, OFF_PID, self.pid);
        put_string(&mut out[OFF_FILE..OFF_FILE + FIELD_LEN], &self.file);
        put_string(&mut out[OFF_HOST..OFF_HOST + FIELD_LEN], &self.host);
        out[OFF_SLOT..OFF_SLOT + 4].copy_from_slice(&self.slot.to_ne_bytes());
        out[OFF_PHASE..OFF_PHASE + 4].copy_from_slice(&self.phase.number().to_ne_bytes());
        out
    }

    /// Decodes one record from the whole contents of a state file. Files are untrusted: a
    /// wrong length, magic or size is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<StateRecord, StateError> {
        let bytes: &[u8; RECORD_LEN] = bytes
            .try_into()
            .map_err(|_| StateError::WrongLength { len: bytes.len() })?;
        let magic = get_word(bytes, OFF_MAGIC);
        if magic != MAGIC {
            return Err(StateError::BadMagic { found: magic });
        }
        let size = get_word(bytes, 0);
        if size != RECORD_LEN as u64 {
            return Err(StateError::BadStructSize { found: size });
        }
        Ok(StateRecord {
            pid: get_word(bytes, OFF_PID),
            file: get_string(&bytes[OFF_FILE..OFF_FILE + FIELD_LEN]),
            host: get_string(&bytes[OFF_HOST..OFF_HOST + FIELD_LEN]),
            slot: i32::from_ne_bytes(get4(bytes, OFF_SLOT)),
            phase: Phase::from_wire(u32::from_ne_bytes(get4(bytes, OFF_PHASE))),
        })
    }
}

fn put_word(out: &mut [u8; RECORD_LEN], at: usize, v: u64) {
    // On a 32-bit target the C field is 32 bits wide; a larger value (only a pid could be)
    // is cut exactly as the C cast would cut it.
    let bytes = v.to_ne_bytes();
    let word = if cfg!(target_endian = "little") {
        &bytes[..WORD]
    } else {
        &bytes[8 - WORD..]
    };
    out[at..at + WORD].copy_from_slice(word);
}

fn get_word(bytes: &[u8; RECORD_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if cfg!(target_endian = "little") {
        b[..WORD].copy_from_slice(&bytes[at..at + WORD]);
    } else {
        b[8 - WORD..].copy_from_slice(&bytes[at..at + WORD]);
    }
    u64::from_ne_bytes(b)
}

fn get4(bytes: &[u8; RECORD_LEN], at: usize) -> [u8; 4] {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    b
}

fn put_string(field: &mut [u8], s: &[u8]) {
    let s = s.split(|&b| b == 0).next().unwrap_or_default();
    let n = s.len().min(field.len() - 1);
    field[..n].copy_from_slice(&s[..n]);
}

/// The string up to its NUL. Like 3.4's reader, the last byte of the field is treated as a NUL
/// whatever it holds, so a field without one yields its first 127 bytes.
fn get_string(field: &[u8]) -> Vec<u8> {
    let field = &field[..field.len() - 1];
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Debian's distcc 3.4 client compiling `x.c` on `127.0.0.1` while the
    /// server stalled (testdata/capture_binstate.sh).
    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    const CAPTURED: &[u8] = include_bytes!("../../../testdata/binstate_3.4.bin");

    fn sample() -> StateRecord {
        StateRecord {
            pid: 4242,
            file: b"hello.c".to_vec(),
            host: b"build7:3632".to_vec(),
            slot: 3,
            phase: Phase::Send,
        }
    }

    #[test]
    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    fn record_is_296_bytes_on_x86_64() {
        assert_eq!(RECORD_LEN, 296);
    }

    #[test]
    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    fn captured_3_4_record_decodes_and_reencodes_byte_for_byte() {
        let rec = StateRecord::decode(CAPTURED).expect("3.4's record decodes");
        assert_eq!(rec.file, b"x.c");
        assert_eq!(rec.host, b"127.0.0.1");
        assert_eq!(rec.slot, 0);
        assert_eq!(rec.phase, Phase::Compile);
        assert!(rec.pid > 0);
        assert_eq!(&rec.encode()[..], CAPTURED);
    }

    #[test]
    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    fn stale_bytes_after_nul_and_in_padding_are_ignored() {
        let mut dirty = CAPTURED.to_vec();
        dirty[OFF_FILE + 10] = b'Z';
        dirty[OFF_HOST + 100] = b'Q';
        dirty[RECORD_LEN - 3] = 0xAA;
        let rec = StateRecord::decode(&dirty).expect("decodes");
        assert_eq!(rec, StateRecord::decode(CAPTURED).unwrap());
        assert_eq!(&rec.encode()[..], CAPTURED);
    }

    #[test]
    fn round_trip() {
        let rec = sample();
        assert_eq!(StateRecord::decode(&rec.encode()), Ok(rec));
    }

    #[test]
    fn every_phase_round_trips_and_has_3_4_name() {
        let names = [
            "Startup",
            "Blocked",
            "Connect",
            "Preprocess",
            "Send",
            "Compile",
            "Receive",
            "Done",
        ];
        for (i, p) in Phase::ALL.into_iter().enumerate() {
            assert_eq!(p.number() as usize, i);
            assert_eq!(Phase::from_wire(i as u32), p);
            assert_eq!(p.name(), names[i]);
            let rec = StateRecord {
                phase: p,
                ..sample()
            };
            assert_eq!(StateRecord::decode(&rec.encode()).unwrap().phase, p);
        }
    }

    #[test]
    fn unknown_phase_reads_as_compile_like_3_4() {
        let mut b = sample().encode();
        b[OFF_PHASE..OFF_PHASE + 4].copy_from_slice(&99u32.to_ne_bytes());
        assert_eq!(StateRecord::decode(&b).unwrap().phase, Phase::Compile);
        b[OFF_PHASE..OFF_PHASE + 4].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(StateRecord::decode(&b).unwrap().phase, Phase::Compile);
    }

    #[test]
    fn long_strings_are_cut_to_127_bytes_like_strlcpy() {
        let rec = StateRecord {
            file: vec![b'f'; 300],
            host: vec![b'h'; 128],
            ..sample()
        };
        let back = StateRecord::decode(&rec.encode()).unwrap();
        assert_eq!(back.file, vec![b'f'; 127]);
        assert_eq!(back.host, vec![b'h'; 127]);
    }

    #[test]
    fn field_without_nul_yields_127_bytes() {
        let mut b = sample().encode();
        b[OFF_FILE..OFF_FILE + FIELD_LEN].fill(b'a');
        assert_eq!(StateRecord::decode(&b).unwrap().file, vec![b'a'; 127]);
    }

    #[test]
    fn wrong_length_magic_or_size_is_an_error() {
        let good = sample().encode();
        assert_eq!(
            StateRecord::decode(&[]),
            Err(StateError::WrongLength { len: 0 })
        );
        assert_eq!(
            StateRecord::decode(&good[..RECORD_LEN - 1]),
            Err(StateError::WrongLength {
                len: RECORD_LEN - 1
            })
        );
        let mut long = good.to_vec();
        long.push(0);
        assert!(matches!(
            StateRecord::decode(&long),
            Err(StateError::WrongLength { .. })
        ));
        let mut bad = good;
        bad[OFF_MAGIC] ^= 1;
        assert!(matches!(
            StateRecord::decode(&bad),
            Err(StateError::BadMagic { .. })
        ));
        let mut bad = good;
        bad[0] ^= 1;
        assert!(matches!(
            StateRecord::decode(&bad),
            Err(StateError::BadStructSize { .. })
        ));
    }

    /// Fuzz body: any bytes decode or fail cleanly, and whatever decodes re-encodes to bytes
    /// that decode to the same record.
    fn fuzz_one(data: &[u8]) {
        if let Ok(rec) = StateRecord::decode(data) {
            let again = StateRecord::decode(&rec.encode()).expect("canonical bytes decode");
            assert_eq!(again, rec);
        }
    }

    #[test]
    fn fuzz_random_and_mutated_records() {
        // A small xorshift generator: deterministic, no dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = sample().encode();
        for i in 0..5000 {
            let mut buf = if i % 2 == 0 {
                base.to_vec()
            } else {
                (0..(next() % (RECORD_LEN as u64 + 8)))
                    .map(|_| next() as u8)
                    .collect()
            };
            for _ in 0..(next() % 6) {
                if !buf.is_empty() {
                    let at = (next() as usize) % buf.len();
                    buf[at] = next() as u8;
                }
            }
            fuzz_one(&buf);
        }
    }
}
