//! Fuzz target: the streaming List scanner, fed in pieces, never panics and agrees with the
//! whole-body decoders whenever they accept the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::json::decode_list_json;
use yurt::k8s::list_stream::{ListScanner, Step};
use yurt::k8s::meta::Encoding;
use yurt::k8s::pb::{decode_envelope, decode_list};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, body)) = data.split_first() else { return };
    let enc = if knob & 1 == 0 { Encoding::Json } else { Encoding::Protobuf };
    let piece = usize::from(knob >> 1).max(1);
    let mut s = ListScanner::new(enc);
    let (mut buf, mut items, mut ok) = (Vec::new(), Vec::new(), true);
    'feed: for chunk in body.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match s.next(&buf) {
                Ok(Some((step, used))) => {
                    if let Step::Item(i) = step {
                        items.push(i.to_vec());
                    }
                    buf.drain(..used);
                }
                Ok(None) => break,
                Err(_) => {
                    ok = false;
                    break 'feed;
                }
            }
        }
    }
    let scanned = ok.then(|| s.finish(&buf).ok()).flatten();
    let whole: Option<Vec<Vec<u8>>> = match enc {
        Encoding::Json => decode_list_json(body)
            .ok()
            .map(|l| l.items.iter().map(|i| i.get().as_bytes().to_vec()).collect()),
        Encoding::Protobuf => decode_envelope(body)
            .ok()
            .filter(|e| !e.raw.is_empty())
            .and_then(|e| decode_list(e.raw).ok())
            .map(|l| l.items.iter().map(|i| i.to_vec()).collect()),
    };
    if let (Some(w), Some(_)) = (&whole, &scanned) {
        assert_eq!(w, &items);
    }
});
