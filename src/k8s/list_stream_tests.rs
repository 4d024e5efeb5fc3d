//! The scanner against real List bodies fed in every way, and against broken ones.

use super::*;
use crate::k8s::json::decode_list_json;
use crate::k8s::pb::{decode_envelope, decode_list};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/k8s-captures");

/// Feeds `body` in pieces of `sizes` (cycled); returns the items and the head, or the error.
fn scan(
    enc: Encoding,
    body: &[u8],
    sizes: &[usize],
) -> Result<(Vec<Vec<u8>>, ListHead), DecodeError> {
    let mut s = ListScanner::new(enc);
    let (mut buf, mut items, mut at) = (Vec::new(), Vec::new(), 0);
    for &n in sizes.iter().cycle() {
        let end = (at + n.max(1)).min(body.len());
        buf.extend_from_slice(&body[at..end]);
        at = end;
        while let Some((step, used)) = s.next(&buf)? {
            if let Step::Item(i) = step {
                items.push(i.to_vec());
            }
            buf.drain(..used);
        }
        if at == body.len() {
            break;
        }
    }
    Ok((items, s.finish(&buf)?))
}

/// What the whole-body decoders say.
fn whole(enc: Encoding, body: &[u8]) -> Result<(Vec<Vec<u8>>, ListHead), DecodeError> {
    match enc {
        Encoding::Json => {
            let l = decode_list_json(body)?;
            let items = l
                .items
                .iter()
                .map(|i| i.get().as_bytes().to_vec())
                .collect();
            let head = ListHead {
                api_version: l.api_version.into_owned(),
                kind: l.kind.into_owned(),
                resource_version: l.resource_version.into_owned(),
                continue_token: l.continue_token.into_owned(),
            };
            Ok((items, head))
        }
        Encoding::Protobuf => {
            let env = decode_envelope(body)?;
            let l = decode_list(env.raw)?;
            let head = ListHead {
                api_version: env.api_version.into(),
                kind: env.kind.into(),
                resource_version: l.resource_version.into(),
                continue_token: l.continue_token.into(),
            };
            Ok((l.items.iter().map(|i| i.to_vec()).collect(), head))
        }
    }
}

fn list_captures() -> Vec<(Encoding, Vec<u8>, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(CAPTURES).expect("captures dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let enc = if name.starts_with("list-") && name.ends_with(".json.body") {
            Encoding::Json
        } else if name.starts_with("list-") && name.ends_with(".pb.body") {
            Encoding::Protobuf
        } else {
            continue;
        };
        out.push((enc, std::fs::read(e.path()).expect("read"), name));
    }
    assert!(out.len() >= 6, "found only {} list captures", out.len());
    out
}

#[test]
fn real_lists_split_anywhere_give_the_whole_decoders_items() {
    let mut lists = 0;
    for (enc, body, name) in list_captures() {
        let want = whole(enc, &body);
        lists += usize::from(want.is_ok());
        for sizes in [&[usize::MAX][..], &[1], &[3, 7, 1, 64], &[4096]] {
            let got = scan(enc, &body, sizes);
            match (&want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{name} in pieces of {sizes:?}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{name} {sizes:?}: whole {want:?} vs scanned {got:?}"),
            }
        }
    }
    assert!(lists >= 4, "only {lists} captures are Lists");
}

#[test]
fn every_prefix_of_a_list_is_incomplete_never_a_panic() {
    for (enc, body, name) in list_captures() {
        if whole(enc, &body).is_err() {
            continue;
        }
        for cut in 0..body.len() {
            let r = scan(enc, &body[..cut], &[usize::MAX]);
            // A JSON list ends at its '}'; only the trailing newline may be missing. Protobuf
            // cannot tell a cut between the last fields (empty contentEncoding and contentType,
            // 2 bytes each) from their absence; HTTP framing tells.
            let complete = match enc {
                Encoding::Json => body[cut..].iter().all(u8::is_ascii_whitespace),
                Encoding::Protobuf => [4, 2].contains(&(body.len() - cut)),
            };
            assert_eq!(r.is_ok(), complete, "{name} cut at {cut}: {r:?}");
        }
    }
}

#[test]
fn pretty_printed_json_lists_scan_the_same() {
    let body = std::fs::read(format!("{CAPTURES}/list-namespaces.json.body")).expect("capture");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let pretty = serde_json::to_vec_pretty(&v).expect("pretty");
    let want = whole(Encoding::Json, &pretty).expect("whole");
    assert_eq!(want.0.len(), 4);
    assert_eq!(scan(Encoding::Json, &pretty, &[5, 11]).expect("scan"), want);
}

#[test]
fn what_is_not_a_list_is_an_error() {
    let json: [&[u8]; 9] = [
        br#"{"kind":"Status","code":410}"#,
        br#"{"items":[{}],"items":[]}"#,
        br#"{"items":[{},]}"#,
        br#"{"items":{}}"#,
        br#"[{"items":[]}]"#,
        br#"{"items":[]} x"#,
        br#"{"items":[],"metadata":{"resourceVersion":7}}"#,
        br#"{"items":[] "kind":"x"}"#,
        br#"{items:[]}"#,
    ];
    for b in json {
        assert!(
            scan(Encoding::Json, b, &[2]).is_err(),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
    let (items, _) = scan(Encoding::Json, br#"{"items":null}"#, &[1]).expect("null items");
    assert!(items.is_empty());
    let pb: [&[u8]; 5] = [
        b"k8s\x01",
        b"{}",
        b"k8s\0\x12\x05\x12\x09abc",
        b"k8s\0\x0b",
        b"k8s\0\x12\x02\x12\x00\x12\x00", // two List messages: the last would win (fuzz)
    ];
    for b in pb {
        assert!(scan(Encoding::Protobuf, b, &[1]).is_err(), "{b:?}");
    }
}

#[test]
fn a_huge_declared_item_is_refused_before_it_is_buffered() {
    // raw of 2^40 bytes, then an item field declaring 2^30 bytes.
    let mut b = b"k8s\0\x12".to_vec();
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    b.extend_from_slice(&[0x12, 0x80, 0x80, 0x80, 0x80, 0x04]);
    assert!(matches!(
        scan(Encoding::Protobuf, &b, &[3]),
        Err(DecodeError::TooLarge { .. })
    ));
}
