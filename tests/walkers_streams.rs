//! Stream decoders over every prefix of real watch captures: `Ok(None)` until an event is
//! complete, never an error or a panic; byte-by-byte and random-size feeding give the same events.

mod walkers_support;

use walkers_support::{
    capture, dechunk, json_events, json_summary, pb_events, pb_summary, Rng, Summary,
};
use yurt::k8s::json::decode_watch_line;
use yurt::k8s::pb::decode_watch_frame;

const STREAMS: [&str; 5] = [
    "watch-pods",
    "watchlist-pods",
    "watch-pods-rv1",
    "watch-pods-rv2-after-compaction",
    "watch-pods-rv2-compacted-nowatchcache",
];

#[derive(Clone, Copy, Debug)]
enum Format {
    Pb,
    Json,
}

/// Decodes the first event of `buf` in `format`: (summary, bytes used), `None` = need more.
fn step(format: Format, buf: &[u8]) -> Option<(Summary, usize)> {
    match format {
        Format::Pb => decode_watch_frame(buf)
            .expect("never an error on a prefix")
            .map(|(e, n)| (pb_summary(&e), n)),
        Format::Json => decode_watch_line(buf)
            .expect("never an error on a prefix")
            .map(|(e, n)| (json_summary(&e), n)),
    }
}

/// All streams as (label, format, complete bytes), HTTP/1.1 ones de-chunked.
fn streams() -> Vec<(String, Format, Vec<u8>)> {
    let mut out = Vec::new();
    for name in STREAMS {
        out.push((
            format!("{name}.pb"),
            Format::Pb,
            capture(&format!("{name}.pb.body")),
        ));
        out.push((
            format!("{name}.json"),
            Format::Json,
            capture(&format!("{name}.json.body")),
        ));
    }
    out.push((
        "http11.pb".into(),
        Format::Pb,
        dechunk(&capture("http11-watch-pods.pb.rawbody")),
    ));
    out.push((
        "http11.json".into(),
        Format::Json,
        dechunk(&capture("http11-watch-pods.json.rawbody")),
    ));
    out
}

fn all_events(format: Format, stream: &[u8]) -> Vec<Summary> {
    match format {
        Format::Pb => pb_events(stream),
        Format::Json => json_events(stream),
    }
}

/// Feeds `stream` in pieces whose sizes `next_len` picks, like a socket read loop would.
fn feed(format: Format, stream: &[u8], mut next_len: impl FnMut() -> usize) -> Vec<Summary> {
    let (mut buf, mut out, mut pos) = (Vec::new(), Vec::new(), 0);
    while pos < stream.len() {
        let end = (pos + next_len().max(1)).min(stream.len());
        buf.extend_from_slice(&stream[pos..end]);
        pos = end;
        while let Some((event, used)) = step(format, &buf) {
            out.push(event);
            buf.drain(..used);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

#[test]
fn every_prefix_is_none_or_a_complete_event() {
    let (mut checked, mut total) = (0, 0);
    for (label, format, stream) in streams() {
        total += stream.len();
        let events = all_events(format, &stream);
        let mut start = 0;
        for (index, want) in events.iter().enumerate() {
            let mut end = start;
            loop {
                match step(format, &stream[start..end]) {
                    None => end += 1,
                    Some((got, used)) => {
                        assert_eq!((&got, start + used), (want, end), "{label}: event {index}");
                        break;
                    }
                }
                assert!(
                    end <= stream.len(),
                    "{label}: event {index} never completed"
                );
                checked += 1;
            }
            start = end;
        }
        assert_eq!(start, stream.len(), "{label}");
    }
    assert_eq!(
        checked, total,
        "every proper prefix of every event was tried"
    );
    assert!(total > 80_000, "streams shrank to {total} bytes");
}

#[test]
fn byte_by_byte_and_random_chunks_give_the_same_events() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (label, format, stream) in streams() {
        let whole = all_events(format, &stream);
        assert!(!whole.is_empty(), "{label}");
        assert_eq!(feed(format, &stream, || 1), whole, "{label}: byte by byte");
        for _ in 0..20 {
            let random = feed(format, &stream, || 1 + rng.below(3000));
            assert_eq!(random, whole, "{label}: random chunks");
        }
    }
}
