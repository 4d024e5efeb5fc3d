//! Hostile and broken input: truncation at every byte, garbage, huge objects, huge declared
//! lengths, and a deterministic mutation "fuzz smoke" over the captures. Errors, never panics.

mod walkers_support;

use walkers_support::{capture, Rng};
use yurt::k8s::decode_error::DecodeError;
use yurt::k8s::json::{
    decode_list_json, decode_watch_line, decode_watch_line_limited, object_meta_json,
};
use yurt::k8s::meta::{meta, Encoding};
use yurt::k8s::pb::{
    decode_envelope, decode_list, decode_watch_frame, decode_watch_frame_limited, encode_envelope,
    encode_list, encode_watch_frame, object_meta, wire,
};
use yurt::k8s::watch::{EventType, MAX_FRAME_LEN};

/// Offsets where a top-level field of `message` ends (0 included).
fn boundaries(message: &[u8]) -> Vec<usize> {
    let mut out = vec![0];
    for field in wire::fields(message) {
        let f = field.expect("valid message");
        let len = match f.value {
            wire::Value::Bytes(b) => b.len() + if b.len() < 128 { 2 } else { 3 },
            _ => panic!("only length-delimited fields expected here"),
        };
        out.push(out[out.len() - 1] + len);
    }
    out
}

#[test]
fn pb_list_truncated_at_every_byte_is_an_error_unless_at_a_field_boundary() {
    let body = capture("list-pods.pb.body");
    let unknown = boundaries(&body[4..]);
    assert_eq!(*unknown.last().expect("fields"), body.len() - 4);
    for cut in 0..body.len() {
        let got = decode_envelope(&body[..cut]);
        let at_boundary = cut >= 4 && unknown.contains(&(cut - 4));
        assert_eq!(got.is_ok(), at_boundary, "cut {cut}: {got:?}");
        if !at_boundary {
            assert_eq!(got, Err(DecodeError::Truncated), "cut {cut}");
        }
    }
    let raw = decode_envelope(&body).expect("whole").raw;
    let list_fields = boundaries(raw);
    for cut in 0..raw.len() {
        let got = decode_list(&raw[..cut]);
        assert_eq!(got.is_ok(), list_fields.contains(&cut), "list cut {cut}");
        let item = decode_list(raw).expect("list").items[0];
        if cut < item.len() {
            let _ = object_meta(&item[..cut]);
        }
    }
}

#[test]
fn truncated_frame_bodies_are_errors() {
    let stream = capture("watch-pods.pb.body");
    let (_, used) = decode_watch_frame(&stream).expect("valid").expect("frame");
    let body = &stream[4..used];
    for cut in 0..body.len() {
        let mut frame = (cut as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body[..cut]);
        assert!(decode_watch_frame(&frame).is_err(), "cut {cut}");
    }
}

fn run_all_decoders(bytes: &[u8]) -> usize {
    let mut ok = 0;
    if let Ok(env) = decode_envelope(bytes) {
        ok += 1;
        if let Ok(list) = decode_list(env.raw) {
            ok += list.items.iter().filter(|i| object_meta(i).is_ok()).count();
        }
        ok += usize::from(object_meta(env.raw).is_ok());
    }
    if let Ok(Some((_, used))) = decode_watch_frame(bytes) {
        assert!(used <= bytes.len());
        ok += 1;
    }
    if let Ok(Some((_, used))) = decode_watch_line(bytes) {
        assert!(used <= bytes.len());
        ok += 1;
    }
    if let Ok(list) = decode_list_json(bytes) {
        ok += 1 + list
            .items
            .iter()
            .filter(|i| object_meta_json(i.get().as_bytes()).is_ok())
            .count();
    }
    ok += usize::from(object_meta_json(bytes).is_ok());
    ok += usize::from(meta(Encoding::Protobuf, bytes).is_ok());
    ok += usize::from(meta(Encoding::Json, bytes).is_ok());
    ok
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(7);
    for round in 0..3000 {
        let len = rng.below(300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 3 == 0 {
            bytes.splice(0..0, *b"k8s\0");
        }
        run_all_decoders(&bytes);
    }
    assert_eq!(decode_envelope(b""), Err(DecodeError::Truncated));
    assert_eq!(decode_watch_frame(b"").map(|f| f.is_none()), Ok(true));
    assert!(matches!(decode_watch_line(b""), Ok(None)));
    assert!(matches!(decode_list_json(b""), Err(DecodeError::Truncated)));
    // An empty protobuf message is valid: every field at its default.
    assert_eq!(object_meta(b"").map(|m| m.name), Ok(""));
}

fn big_pod_pb(size: usize) -> Vec<u8> {
    let mut meta = vec![0x0a, 3, b'b', b'i', b'g'];
    let mut entry = vec![0x0a, 1, b'k', 0x12];
    put_len(&mut entry, size);
    entry.resize(entry.len() + size, b'x');
    meta.push(0x62);
    put_len(&mut meta, entry.len());
    meta.extend(entry);
    let mut pod = vec![0x0a];
    put_len(&mut pod, meta.len());
    pod.extend(meta);
    pod
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[test]
fn twenty_mib_objects_decode() {
    const BIG: usize = 20 << 20;
    let pod = big_pod_pb(BIG);
    let m = object_meta(&pod).expect("big pod");
    assert_eq!((m.name, m.annotations[0].1.len()), ("big", BIG));
    let list = encode_list("v1", "PodList", "5", "", &[&pod, &pod]);
    let decoded = decode_list(decode_envelope(&list).expect("env").raw).expect("list");
    assert_eq!(decoded.items, [&pod[..], &pod[..]]);
    let frame = encode_watch_frame(EventType::Added, &encode_envelope("v1", "Pod", &pod));
    let (event, used) = decode_watch_frame(&frame).expect("ok").expect("complete");
    assert_eq!((used, event.envelope.raw.len()), (frame.len(), pod.len()));
    assert!(matches!(
        decode_watch_frame_limited(&frame, 1 << 20),
        Err(DecodeError::TooLarge { .. })
    ));

    let value = "y".repeat(BIG);
    let object = format!(
        r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"big","annotations":{{"k":"{value}"}}}}}}"#
    );
    let line = format!(r#"{{"type":"ADDED","object":{object}}}"#) + "\n";
    let (event, used) = decode_watch_line(line.as_bytes())
        .expect("ok")
        .expect("line");
    assert_eq!((used, event.object.get().len()), (line.len(), object.len()));
    let m = object_meta_json(object.as_bytes()).expect("big json");
    assert_eq!(m.annotations[0].1.len(), BIG);
    let limited = decode_watch_line_limited(line.as_bytes(), 1 << 20);
    assert!(matches!(limited, Err(DecodeError::TooLarge { .. })));
    let list = format!(r#"{{"kind":"PodList","items":[{object},{object}]}}"#);
    assert_eq!(
        decode_list_json(list.as_bytes())
            .expect("big list")
            .items
            .len(),
        2
    );
}

#[test]
fn huge_declared_lengths_are_refused_not_allocated() {
    for len in [u32::MAX, MAX_FRAME_LEN as u32 + 1] {
        let prefix = len.to_be_bytes();
        let got = decode_watch_frame(&prefix);
        assert_eq!(
            got.map(|_| ()),
            Err(DecodeError::TooLarge {
                len: len.into(),
                max: MAX_FRAME_LEN as u64
            })
        );
    }
    let at_cap = (MAX_FRAME_LEN as u32).to_be_bytes();
    assert!(
        matches!(decode_watch_frame(&at_cap), Ok(None)),
        "at the cap we wait for bytes"
    );
    // A list item claiming 1 GiB, an envelope raw claiming 2^63 bytes.
    let item = [0x12, 0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3];
    assert_eq!(decode_list(&item), Err(DecodeError::Truncated));
    let mut env = b"k8s\0\x12".to_vec();
    env.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(decode_envelope(&env), Err(DecodeError::Truncated));
    let no_newline = vec![b'{'; 4097];
    assert!(matches!(
        decode_watch_line_limited(&no_newline, 4096),
        Err(DecodeError::TooLarge {
            len: 4097,
            max: 4096
        })
    ));
    assert!(matches!(
        decode_watch_line_limited(&no_newline[..4096], 4096),
        Ok(None)
    ));
}

/// ~20k deterministic mutations of real captures through every decoder: no panic, and the
/// mutations are varied enough that both successes and failures occur.
#[test]
fn fuzz_smoke_mutated_captures() {
    let seeds: Vec<Vec<u8>> = [
        "list-pods.pb.body",
        "list-nodes.pb.body",
        "get-pod.pb.body",
        "get-pod-notfound.pb.body",
        "watch-pods.pb.body",
        "watchlist-pods.pb.body",
        "list-namespaces.json.body",
        "get-pod.json.body",
        "watch-pods.json.body",
        "watch-pods-rv2-compacted-nowatchcache.json.body",
    ]
    .iter()
    .map(|n| capture(n))
    .collect();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut successes, mut runs) = (0, 0);
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut bytes);
        }
        let cut = if rng.below(4) == 0 {
            rng.below(bytes.len() + 1)
        } else {
            bytes.len()
        };
        successes += usize::from(run_all_decoders(&bytes[..cut]) > 0);
        runs += 1;
    }
    assert!(
        successes > runs / 20 && successes < runs,
        "{successes} of {runs} decoded"
    );
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.push(rng.next() as u8);
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(6) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = rng.next() as u8,
        2 => {
            bytes.remove(at);
        }
        3 => bytes.insert(at, rng.next() as u8),
        4 => bytes[at] = [0x00, 0x7f, 0x80, 0xff, b'\n', b'"', b'{'][rng.below(7)],
        _ => {
            let end = (at + 1 + rng.below(16)).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            let to = rng.below(bytes.len());
            bytes.splice(to..to, copy);
        }
    }
}
