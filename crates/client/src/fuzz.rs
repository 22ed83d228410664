//! Fuzz body for the host-list parser (feature `fuzzing` only; see `distcc_proto::fuzz` for
//! the scheme). [`host_list`] parses arbitrary text as `DISTCC_HOSTS` or a hosts file and
//! checks what a parsed list must be. Driving it is left to the cargo-fuzz target
//! `host_list` and the test below.

use proto::fuzz::{Target, decoded};

use crate::hosts::{self, Transport};

/// The target `host_list`, with its corpus in testdata/fuzz/host_list/.
pub const TARGET: Target = Target {
    name: "host_list",
    body: host_list,
    // Copies of the words, the specs and the rebuilt text.
    max_alloc: |n| 16 * n + 4096,
    fixed_len: None,
};

/// A parsed list has no empty host names or zero limits; each entry's own spelling parses
/// alone to the same host; the list rebuilt from those spellings and its options parses to
/// the same list. A refused list names an entry that is really in the text.
pub fn host_list(data: &[u8]) {
    // Host lists come from an environment variable or a file: any bytes, read as UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let list = match hosts::parse(text, "fuzz") {
        Ok(list) => list,
        Err(e) => {
            assert!(text.contains(&e.spec), "the error names {:?}", e.spec);
            assert!(!e.why.is_empty());
            return;
        }
    };
    decoded();
    assert!(list.local_slots >= 1 && list.local_slots_cpp >= 1);
    let mut rebuilt = String::new();
    for h in &list.hosts {
        assert!(h.slots >= 1, "{:?}: a job limit of zero", h.spec);
        assert!(!h.cpp || h.lzo, "{:?}: pump mode without lzo", h.spec);
        assert!(!h.spec.is_empty() && !h.spec.contains(|c: char| c.is_ascii_whitespace()));
        match &h.transport {
            Transport::Local => {}
            Transport::Tcp { host, port } => assert!(!host.is_empty() && *port != 0),
            Transport::Ssh { host, .. } => assert!(!host.is_empty()),
            Transport::Srv { name } => assert!(name.starts_with('_')),
            Transport::Zeroconf => assert_eq!(h.spec, "+zeroconf"),
            Transport::Reapi { url } => assert!(url.starts_with("reapi://")),
        }
        let alone = hosts::parse(&h.spec, "fuzz").expect("an entry's own spelling parses");
        assert_eq!(alone.hosts, std::slice::from_ref(h));
        rebuilt.push_str(&h.spec);
        rebuilt.push('\n');
    }
    if list.randomize {
        rebuilt.push_str("--randomize\n");
    }
    rebuilt.push_str(&format!(
        "--localslots={} --localslots_cpp={}\n",
        list.local_slots, list.local_slots_cpp
    ));
    let again = hosts::parse(&rebuilt, "fuzz").expect("the rebuilt list parses");
    assert_eq!(again, list);
}

#[cfg(test)]
mod tests {
    use super::TARGET;

    /// The corpus plus 3000 seeded random and mutated host lists (`cargo test`).
    #[test]
    fn fuzz_host_list_over_corpus_and_random_inputs() {
        fuzzcheck::over_corpus(&TARGET, 3000, "parsed");
    }
}
