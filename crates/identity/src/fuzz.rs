//! Fuzz body for the `CCID` decoder (feature `fuzzing` only; see `distcc_proto::fuzz` for the
//! scheme). [`identity`] parses arbitrary bytes with [`Identity::parse`] and checks what a
//! parsed identity must be. Driving it is left to the cargo-fuzz target `identity` and the
//! test below.

use proto::fuzz::{Target, decoded};

use crate::{Identity, MAX_ENCODED, MAX_VALUE};

/// The target `identity`, with its corpus in testdata/fuzz/identity/.
pub const TARGET: Target = Target {
    name: "identity",
    body: identity,
    // The text's fields copied once, and the re-encoding.
    max_alloc: |n| 4 * n + 4096,
    fixed_len: None,
};

/// A parsed identity has bounded values without control characters and a 64-digit
/// fingerprint; encoding it and parsing the result gives it back, no longer than the cap.
/// Input over the cap is refused whatever it holds.
pub fn identity(data: &[u8]) {
    let id = match Identity::parse(data) {
        Ok(id) => id,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    decoded();
    assert!(data.len() <= MAX_ENCODED);
    for v in [&id.target, &id.version, &id.name] {
        assert!(!v.is_empty() && v.len() <= MAX_VALUE);
        assert!(!v.chars().any(char::is_control));
    }
    assert_eq!(id.fingerprint.len(), 64);
    let again = id.encode();
    assert!(again.len() <= MAX_ENCODED);
    assert_eq!(Identity::parse(&again).as_ref(), Ok(&id));
    assert!(id.matches(&id));
    assert!(!id.describe().contains('\n'));
}

#[cfg(test)]
mod tests {
    use super::TARGET;

    /// The corpus plus 3000 seeded random and mutated inputs (`cargo test`).
    #[test]
    fn fuzz_identity_over_corpus_and_random_inputs() {
        let r = fuzzcheck::over_corpus(&TARGET, 3000, "parsed");
        assert!(r.decoded > 0, "no input parsed: the corpus is stale");
    }
}
