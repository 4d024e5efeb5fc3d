//! Fuzz target: protobuf watch framing: a complete frame is never reported early, and
//! re-framing a decoded event decodes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::pb::{decode_watch_frame, encode_watch_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((event, used))) = decode_watch_frame(data) else { return };
    assert!(used >= 4 && used <= data.len());
    assert!(matches!(decode_watch_frame(&data[..used - 1]), Ok(None)));
    let frame = encode_watch_frame(event.event_type, event.object);
    let (back, n) = decode_watch_frame(&frame).expect("valid").expect("complete");
    assert_eq!(n, frame.len());
    assert_eq!((back.event_type, back.object), (event.event_type, event.object));
});
