//! Fuzz target: JSON watch lines: `None` until the newline, and re-encoding a decoded event
//! gives a line that decodes to the same event; the object stripped of its type meta (as the
//! cache stores it) is still one JSON value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::json::{decode_watch_line, encode_watch_line, without_type_meta};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((event, used))) = decode_watch_line(data) else { return };
    assert!(used >= 1 && used <= data.len() && data[used - 1] == b'\n');
    assert!(matches!(decode_watch_line(&data[..used - 1]), Ok(None)));
    let line = encode_watch_line(event.event_type, event.object.get().as_bytes());
    let (back, n) = decode_watch_line(&line).expect("valid").expect("complete");
    assert_eq!(n, line.len());
    assert_eq!(back.event_type, event.event_type);
    let object = event.object.get().as_bytes();
    let bare = without_type_meta(object);
    assert!(bare.len() <= object.len());
    let again = encode_watch_line(event.event_type, &bare);
    assert!(
        matches!(decode_watch_line(&again), Ok(Some(_))),
        "still one JSON value"
    );
});
