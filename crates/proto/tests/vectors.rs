//! Protocol vectors captured from real distcc 3.4 exchanges (see testdata/capture.py): every
//! request and reply is decoded and re-encoded, and must come out byte for byte the same.

use std::path::PathBuf;

use distcc_proto::{
    Limits, PumpEntryKind, Reply, Token, Version, read_body, read_pump_entry, read_pump_file_count,
    read_reply, read_request_head, read_version_greeting, write_body, write_pump_entry,
    write_pump_file_count, write_reply, write_request_head,
};

fn vector(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Decodes a whole request and encodes it again.
fn round_trip_request(bytes: &[u8]) -> (Version, Vec<Vec<u8>>, Vec<u8>) {
    let limits = Limits::default();
    let mut r = bytes;
    let version = read_version_greeting(&mut r).unwrap();
    let head = read_request_head(&mut r, version, &limits).unwrap();
    let mut out = Vec::new();
    write_request_head(&mut out, &head);
    let mut body = Vec::new();
    if version.is_pump() {
        let n = read_pump_file_count(&mut r, &limits).unwrap();
        write_pump_file_count(&mut out, n);
        for _ in 0..n {
            let entry = read_pump_entry(&mut r, &limits).unwrap();
            if let PumpEntryKind::File(data) = &entry.kind {
                body.extend_from_slice(data);
            }
            write_pump_entry(&mut out, &entry).unwrap();
        }
    } else {
        read_body(
            &mut r,
            Token::DOTI,
            version.compression(),
            &limits,
            &mut body,
        )
        .unwrap();
        write_body(&mut out, Token::DOTI, version.compression(), &body).unwrap();
    }
    assert!(r.is_empty(), "{} bytes left over", r.len());
    assert_eq!(out, bytes, "re-encoded request differs");
    (version, head.argv, body)
}

fn round_trip_reply(bytes: &[u8], version: Version) -> Reply {
    let mut r = bytes;
    let reply = read_reply(&mut r, version, &Limits::default()).unwrap();
    assert!(r.is_empty(), "{} bytes left over", r.len());
    let mut out = Vec::new();
    write_reply(&mut out, &reply).unwrap();
    assert_eq!(out, bytes, "re-encoded reply differs");
    reply
}

fn argv_strings(argv: &[Vec<u8>]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[test]
fn v1_request_and_reply_of_a_successful_compile() {
    let (version, argv, doti) = round_trip_request(&vector("v1_hello.request.bin"));
    assert_eq!(version, Version::V1);
    // 3.4 strips -D (preprocessor-only) and rewrites gcc to its target-prefixed name.
    assert_eq!(
        argv_strings(&argv),
        [
            "x86_64-linux-gnu-gcc",
            "-O2",
            "-c",
            "hello.c",
            "-o",
            "out.o"
        ]
    );
    assert!(doti.starts_with(b"# 0 \"hello.c\""));
    let reply = round_trip_reply(&vector("v1_hello.reply.bin"), Version::V1);
    assert_eq!(reply.status, 0);
    assert!(reply.object.starts_with(b"\x7fELF"));
    assert!(reply.stderr.is_empty() && reply.dotd.is_none());
}

#[test]
fn v2_lzo_bodies_are_byte_identical_to_minilzo() {
    let (version, _, doti) = round_trip_request(&vector("v2_hello.request.bin"));
    assert_eq!(version, Version::V2);
    let (_, _, plain) = round_trip_request(&vector("v1_hello.request.bin"));
    assert_eq!(doti, plain, "the same cpp output under both versions");
    let reply = round_trip_reply(&vector("v2_hello.reply.bin"), Version::V2);
    let v1 = round_trip_reply(&vector("v1_hello.reply.bin"), Version::V1);
    assert_eq!(reply.object, v1.object);
}

#[test]
fn failed_compiles_carry_status_and_diagnostics_but_no_object() {
    for (name, version) in [("v1_error", Version::V1), ("v2_error", Version::V2)] {
        round_trip_request(&vector(&format!("{name}.request.bin")));
        let reply = round_trip_reply(&vector(&format!("{name}.reply.bin")), version);
        assert_eq!(reply.status, 1 << 8, "{name}: exit 1 as a wait status");
        assert!(reply.object.is_empty());
        let stderr = String::from_utf8_lossy(&reply.stderr);
        assert!(stderr.contains("undefined_name"), "{name}: {stderr}");
    }
}

#[test]
fn v3_pump_request_and_replies() {
    let (version, argv, files) = round_trip_request(&vector("v3_hello.request.bin"));
    assert_eq!(version, Version::V3);
    assert_eq!(argv_strings(&argv), ["gcc", "-c", "main.c", "-o", "main.o"]);
    assert!(files.starts_with(b"#include \"h.h\""));
    let ok = round_trip_reply(&vector("v3_hello.reply.bin"), Version::V3);
    assert_eq!(ok.status, 0);
    assert!(ok.object.starts_with(b"\x7fELF"));
    let dotd = ok
        .dotd
        .expect("3.4 sends DOTD after a successful pump compile");
    assert!(!dotd.is_empty());
    let failed = round_trip_reply(&vector("v3_error.reply.bin"), Version::V3);
    assert_eq!(failed.status, 1 << 8);
    assert_eq!(failed.dotd, None, "3.4 sends no DOTD after a failure");
}

#[test]
fn every_truncation_of_every_vector_is_an_error_not_a_panic() {
    for (name, version) in [
        ("v1_hello", Version::V1),
        ("v2_hello", Version::V2),
        ("v3_hello", Version::V3),
    ] {
        let reply = vector(&format!("{name}.reply.bin"));
        // v3 replies may legitimately end before DOTD, so stop short of the DOTD header there.
        for cut in 0..reply.len() - 1 {
            let mut r = &reply[..cut];
            if let Ok(rep) = read_reply(&mut r, version, &Limits::default()) {
                assert!(
                    version.is_pump() && rep.dotd.is_none(),
                    "{name} cut at {cut}"
                );
            }
        }
        let request = vector(&format!("{name}.request.bin"));
        for cut in 0..request.len() {
            let mut r = &request[..cut];
            let limits = Limits::default();
            let Ok(v) = read_version_greeting(&mut r) else {
                continue;
            };
            let Ok(_) = read_request_head(&mut r, v, &limits) else {
                continue;
            };
            if v.is_pump() {
                if let Ok(n) = read_pump_file_count(&mut r, &limits) {
                    for _ in 0..n {
                        if read_pump_entry(&mut r, &limits).is_err() {
                            break;
                        }
                    }
                }
            } else {
                let mut sink = Vec::new();
                let body = read_body(&mut r, Token::DOTI, v.compression(), &limits, &mut sink);
                assert!(body.is_err(), "{name} request cut at {cut} decoded");
            }
        }
    }
}
