//! Fuzz target: protobuf List decoding; items and ListMeta survive a re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::pb::{decode_envelope, decode_list, encode_list, object_meta};

fuzz_target!(|data: &[u8]| {
    let Ok(list) = decode_list(data) else { return };
    for item in &list.items {
        let _ = object_meta(item);
    }
    let body = encode_list("v1", "PodList", list.resource_version, list.continue_token, &list.items);
    let env = decode_envelope(&body).expect("our own envelope decodes");
    let back = decode_list(env.raw).expect("our own list decodes");
    assert_eq!(back.items, list.items);
    assert_eq!((back.resource_version, back.continue_token), (list.resource_version, list.continue_token));
});
