//! Fuzz target: `k8s\0` envelope decoding, and re-encoding what decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::pb::{decode_envelope, encode_envelope};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = decode_envelope(data) {
        let again = encode_envelope(env.api_version, env.kind, env.raw);
        let back = decode_envelope(&again).expect("our own envelope decodes");
        assert_eq!((back.api_version, back.kind, back.raw), (env.api_version, env.kind, env.raw));
    }
});
