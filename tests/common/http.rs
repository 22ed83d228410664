//! Plain HTTP/1.1 from tests to our servers' pages (stats ports, the coordinator): a request,
//! the answer split in head and body, a number from a JSON page. Included by `tests/it` and
//! `tests/interop`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `request` (nothing if empty) to the stats port and reads until the server closes.
pub fn raw(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connecting to the stats port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if !request.is_empty() {
        s.write_all(request).unwrap();
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// `GET path` → (head, body) of an HTTP/1.1 answer.
pub fn http_get(port: u16, path: &str) -> (String, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(raw(port, req.as_bytes())).expect("utf-8 answer");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    (head.to_owned(), body.to_owned())
}

/// The number after `"key":` in a JSON document (the keys tests use are unique in it).
pub fn json_number(doc: &str, key: &str) -> u64 {
    let (_, rest) = doc
        .split_once(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} missing from {doc}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {doc}"))
}
