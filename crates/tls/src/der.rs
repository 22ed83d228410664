//! Just enough DER to read the common names out of a certificate subject (the inside of its
//! `Name` SEQUENCE, as `webpki::Cert::subject` returns it). Every length is checked against
//! the bytes that are there; anything unexpected yields no name, never a panic.

/// id-at-commonName, 2.5.4.3.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// One TLV: its tag, its contents, and the rest of the input.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The common names of a subject, in order (UTF8String, PrintableString, IA5String or
/// T61String values that are valid UTF-8).
pub fn common_names(mut subject: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
    while let Some((0x31, mut set, rest)) = tlv(subject) {
        subject = rest;
        while let Some((0x30, attr, more)) = tlv(set) {
            set = more;
            let Some((0x06, oid, value)) = tlv(attr) else {
                continue;
            };
            if oid != CN_OID {
                continue;
            }
            if let Some((0x0c | 0x13 | 0x16 | 0x14, text, _)) = tlv(value)
                && let Ok(s) = std::str::from_utf8(text)
            {
                names.push(s.to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_common_name_and_survives_garbage() {
        // SET { SEQ { OID 2.5.4.6, PrintableString "DE" } } SET { SEQ { OID CN, UTF8 "alice" } }
        let subject = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'D', b'E', 0x31,
            0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, b'a', b'l', b'i', b'c',
            b'e',
        ];
        assert_eq!(common_names(&subject), vec!["alice".to_owned()]);
        for cut in 0..subject.len() {
            let _ = common_names(&subject[..cut]);
        }
        assert!(common_names(&[0x31, 0x84, 0xff, 0xff, 0xff, 0xff]).is_empty());
    }
}
