//! The `.d` file of a pump compile, made to read as if produced on the client (3.4's
//! `dcc_cleanup_dotd`): the server's output name becomes the client's target, and the job's
//! root directory disappears from every path. Then, unlike 3.4, the rule is wrapped again
//! where gcc would have wrapped the shorter client-side names, so the file is byte-identical to
//! a local compile's for every client, 3.4's included.

/// Rewrites the compiler's dependency file `d`.
pub fn cleanup(d: &[u8], root: &[u8], server_out: &[u8], target: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len());
    for line in d.split_inclusive(|b| *b == b'\n') {
        let line = replace_first(line, server_out, target);
        out.extend_from_slice(&replace_all(&line, root, b""));
    }
    args::dotd::rewrap(&out).unwrap_or(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace_first(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    match find(hay, needle) {
        Some(i) => [&hay[..i], with, &hay[i + needle.len()..]].concat(),
        None => hay.to_vec(),
    }
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut rest = hay;
    while let Some(i) = find(rest, needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_and_root_are_rewritten() {
        let d = b"/tmp/j/output.o: /tmp/j/root/src/a.c \\\n /tmp/j/root/src/a.h\n";
        let got = cleanup(d, b"/tmp/j/root", b"/tmp/j/output.o", b"obj/a.o");
        assert_eq!(got, b"obj/a.o: /src/a.c /src/a.h\n");
    }
}
