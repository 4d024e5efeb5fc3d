//! Fuzz target: TokenRequest decoding in both encodings; what decodes survives a re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::meta::Encoding;
use yurt::k8s::token::{decode, encode};

fuzz_target!(|data: &[u8]| {
    for enc in [Encoding::Json, Encoding::Protobuf] {
        let Ok(tr) = decode(enc, data) else { continue };
        // Times outside years 0000-9999 have no RFC 3339 form; protobuf keeps any.
        if tr.expiration.is_some_and(|e| !(0..=253_402_300_799).contains(&e)) {
            continue;
        }
        let back = decode(enc, &encode(enc, &tr, 0)).expect("our own encoding decodes");
        assert_eq!((back.key(), back.token, back.expiration_seconds), (tr.key(), tr.token, tr.expiration_seconds));
        assert_eq!((back.name, back.namespace, back.bound), (tr.name, tr.namespace, tr.bound));
    }
});
