//! Fuzz target: JSON List and object metadata decoding; items survive a re-encode byte-exact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::json::{decode_list_json, encode_list_json, object_meta_json};

fuzz_target!(|data: &[u8]| {
    let _ = object_meta_json(data);
    let Ok(list) = decode_list_json(data) else { return };
    let items: Vec<&[u8]> = list.items.iter().map(|i| i.get().as_bytes()).collect();
    for item in &items {
        let _ = object_meta_json(item);
    }
    let body = encode_list_json(&list.api_version, &list.kind, &list.resource_version, &items);
    let back = decode_list_json(&body).expect("our own list decodes");
    let back_items: Vec<&[u8]> = back.items.iter().map(|i| i.get().as_bytes()).collect();
    assert_eq!(back_items, items);
    assert_eq!(back.resource_version, list.resource_version);
});
