//! Helpers shared by the walkers_* tests: fixture paths, HTTP de-chunking, stream drivers.

#![allow(dead_code)]

use std::path::PathBuf;

use yurt::k8s::json::decode_watch_line;
use yurt::k8s::pb::decode_watch_frame;

/// `tests/fixtures/<sub>` inside the repository.
pub fn fixtures(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

/// Bytes of `tests/fixtures/k8s-captures/<name>`.
pub fn capture(name: &str) -> Vec<u8> {
    let path = fixtures("k8s-captures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Removes HTTP/1.1 chunked transfer framing (`<hex>[;ext]\r\n<data>\r\n ... 0\r\n\r\n`).
pub fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let line = std::str::from_utf8(&rest[..eol]).expect("ascii size");
        let size = usize::from_str_radix(line.split(';').next().expect("size").trim(), 16)
            .expect("hex chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n", "chunk data ends in CRLF");
        rest = &rest[size + 2..];
    }
}

/// One event reduced to what both encodings must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub event_type: String,
    pub name: String,
    pub resource_version: String,
    pub initial_events_end: bool,
    pub error_code: Option<i32>,
}

/// Every event of a complete protobuf watch stream, in order; panics on any error or leftover.
pub fn pb_events(stream: &[u8]) -> Vec<Summary> {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Some((event, used)) = decode_watch_frame(rest).expect("valid pb stream") {
        out.push(pb_summary(&event));
        rest = &rest[used..];
    }
    assert!(
        rest.is_empty(),
        "pb stream has {} trailing bytes",
        rest.len()
    );
    out
}

/// Summary of one protobuf event.
pub fn pb_summary(event: &yurt::k8s::pb::WatchEvent<'_>) -> Summary {
    use yurt::k8s::meta::{meta, Encoding};
    let m = match event.error {
        Some(_) => Default::default(),
        None => meta(Encoding::Protobuf, event.object).expect("pb event meta"),
    };
    Summary {
        event_type: event.event_type.as_str().to_owned(),
        name: m.name,
        resource_version: m.resource_version,
        initial_events_end: m.initial_events_end,
        error_code: event.error.as_ref().map(|s| s.code),
    }
}

/// Every event of a complete JSON watch stream, in order; panics on any error or leftover.
pub fn json_events(stream: &[u8]) -> Vec<Summary> {
    let mut out = Vec::new();
    let mut rest = stream;
    while let Some((event, used)) = decode_watch_line(rest).expect("valid json stream") {
        out.push(json_summary(&event));
        rest = &rest[used..];
    }
    assert!(
        rest.is_empty(),
        "json stream has {} trailing bytes",
        rest.len()
    );
    out
}

/// Summary of one JSON event.
pub fn json_summary(event: &yurt::k8s::json::JsonWatchEvent<'_>) -> Summary {
    use yurt::k8s::meta::{meta, Encoding};
    let m = match event.error {
        Some(_) => Default::default(),
        None => meta(Encoding::Json, event.object.get().as_bytes()).expect("json event meta"),
    };
    Summary {
        event_type: event.event_type.as_str().to_owned(),
        name: m.name,
        resource_version: m.resource_version,
        initial_events_end: m.initial_events_end,
        error_code: event.error.as_ref().map(|s| s.code),
    }
}

/// xorshift64*: a tiny deterministic PRNG for mutation tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
