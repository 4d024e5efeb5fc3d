//! Fuzz target: ObjectMeta from an object's protobuf message (bare, or inside an envelope).
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::meta::{meta, Encoding};
use yurt::k8s::pb::object_meta;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = object_meta(data) {
        assert!(m.name.len() <= data.len());
    }
    let _ = meta(Encoding::Protobuf, data);
});
