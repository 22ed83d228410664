use super::*;

/// A reply as a server lays it out: the question, one SRV answer whose target is compressed
/// against the question, and the target's address as an additional record.
fn srv_reply() -> Vec<u8> {
    let mut m = query(0x1234, "_distcc._tcp.farm.test", TYPE_SRV).unwrap();
    m[2] = 0x81; // QR, RD
    m[3] = 0x80; // RA
    m[7] = 1; // ANCOUNT
    m[11] = 1; // ARCOUNT
    // Answer: name = pointer to the question (offset 12).
    m.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60]);
    // rdata: prio 10, weight 5, port 3700, target "h1" + pointer to "farm.test" (offset 12 +
    // 1 + 7 + 1 + 4 = 25).
    let rdata = [0, 10, 0, 5, 0x0e, 0x74, 2, b'h', b'1', 0xc0, 25];
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    // Additional: h1.farm.test A 127.0.0.2, name as a pointer to the target (the answer's
    // rdata starts at the label "h1").
    let h1 = m.len() - 5;
    m.extend_from_slice(&[0xc0, h1 as u8, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 2]);
    m
}

#[test]
fn query_has_the_wire_layout() {
    let q = query(0xabcd, "_distcc._tcp.x.", TYPE_SRV).unwrap();
    let mut want = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(b"\x07_distcc\x04_tcp\x01x\x00\x00\x21\x00\x01");
    assert_eq!(q, want);
}

#[test]
fn query_refuses_bad_names() {
    assert!(query(1, "", TYPE_SRV).is_err());
    assert!(query(1, "a..b", TYPE_SRV).is_err());
    assert!(query(1, &"a".repeat(64), TYPE_SRV).is_err());
    let long = vec!["a".repeat(63); 4].join(".");
    assert!(query(1, &long, TYPE_SRV).is_err());
}

#[test]
fn srv_reply_with_compressed_names_decodes() {
    let r = parse(&srv_reply()).unwrap();
    assert_eq!(r.id, 0x1234);
    assert_eq!(r.rcode, 0);
    assert!(!r.truncated);
    assert_eq!(
        r.answers,
        vec![Record {
            name: "_distcc._tcp.farm.test".into(),
            ttl: 60,
            data: Data::Srv {
                priority: 10,
                weight: 5,
                port: 3700,
                target: "h1.farm.test".into()
            }
        }]
    );
    assert_eq!(r.additional.len(), 1);
    assert_eq!(r.additional[0].name, "h1.farm.test");
    assert_eq!(r.additional[0].data, Data::A(Ipv4Addr::new(127, 0, 0, 2)));
}

#[test]
fn every_prefix_of_a_reply_is_an_error_not_a_panic() {
    let m = srv_reply();
    for n in 0..m.len() {
        assert!(parse(&m[..n]).is_err(), "prefix of {n} bytes");
    }
}

#[test]
fn a_pointer_loop_is_rejected() {
    let mut m = srv_reply();
    // The answer's owner name points at itself.
    let at = m.iter().position(|&b| b == 0xc0).unwrap();
    m[at + 1] = at as u8;
    assert_eq!(parse(&m), Err(DnsError::BadPointer));
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let base = srv_reply();
    for _ in 0..20_000 {
        let mut m = base.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state as usize) % m.len();
            m[i] = (state >> 32) as u8;
        }
        let _ = parse(&m);
    }
}

#[test]
fn names_compare_without_case_or_final_dot() {
    assert!(same_name("H1.Farm.test.", "h1.farm.test"));
    assert!(!same_name("h1.farm.test", "h2.farm.test"));
}

#[test]
fn ptr_and_txt_records_decode() {
    let mut m = query(7, "_distcc._tcp.x", TYPE_PTR).unwrap();
    m[2] = 0x81;
    m[7] = 2; // ANCOUNT
    // PTR → "a" + pointer to the question name.
    m.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 9, 0, 4, 1, b'a', 0xc0, 12]);
    // TXT with two strings.
    m.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 9, 0, 10]);
    m.extend_from_slice(b"\x06jobs=6\x02ab");
    let r = parse(&m).unwrap();
    assert_eq!(r.answers[0].data, Data::Ptr("a._distcc._tcp.x".into()));
    assert_eq!(
        r.answers[1].data,
        Data::Txt(vec!["jobs=6".into(), "ab".into()])
    );
    // A TXT string longer than its record is refused.
    let n = m.len();
    m[n - 3] = 9;
    assert_eq!(parse(&m), Err(DnsError::BadRecord));
}
