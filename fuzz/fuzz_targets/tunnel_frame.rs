//! Fuzz target: the tunnel frame decoder (`yurt::tunnel::frame::decode`), pending wiring into
//! `fuzz/` (copy to `fuzz/fuzz_targets/tunnel_frame.rs` and add a `[[bin]]` block; the module
//! needs no feature). Seeds: `frame::to_bytes` of each frame kind (see `tests/tunnel_frame.rs`).
//!
//! Beyond "no panic": the encoding is canonical — a decoded frame re-encodes to exactly the bytes
//! it was decoded from — and every shorter prefix of a frame asks for more bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::tunnel::frame::{decode, to_bytes, HEADER_LEN, MAX_PAYLOAD};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((frame, used))) = decode(data) {
        assert!(used <= data.len() && used <= HEADER_LEN + MAX_PAYLOAD);
        assert_eq!(to_bytes(&frame), data[..used].to_vec(), "{frame:?}");
        for i in 0..used {
            assert_eq!(decode(&data[..i]), Ok(None), "prefix {i}");
        }
    }
});
