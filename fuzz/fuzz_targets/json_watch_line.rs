//! Fuzz target: JSON watch lines: `None` until the newline, and re-encoding a decoded event
//! gives a line that decodes to the same event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::json::{decode_watch_line, encode_watch_line};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((event, used))) = decode_watch_line(data) else { return };
    assert!(used >= 1 && used <= data.len() && data[used - 1] == b'\n');
    assert!(matches!(decode_watch_line(&data[..used - 1]), Ok(None)));
    let line = encode_watch_line(event.event_type, event.object.get().as_bytes());
    let (back, n) = decode_watch_line(&line).expect("valid").expect("complete");
    assert_eq!(n, line.len());
    assert_eq!(back.event_type, event.event_type);
});
