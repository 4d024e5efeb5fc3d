//! Fuzz target: a PATCH body applied to a stored node, JSON or protobuf: an answer or an error,
//! never a panic; an empty patch changes nothing; what a patch gives is a node it takes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yurt::k8s::meta::Encoding;
use yurt::k8s::patch::{apply_node, PatchKind, Scope};

fuzz_target!(|data: &[u8]| {
    // Byte 0: bit 0 = protobuf, bit 1 = merge patch, bit 2 = nodes/<n> (not /status);
    // bytes 1-2: the patch's length (big-endian); then the patch, then the stored node.
    let Some((&knob, rest)) = data.split_first() else { return };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else { return };
    let (patch, node) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    let enc = if knob & 1 == 0 { Encoding::Json } else { Encoding::Protobuf };
    let kind = if knob & 2 == 0 { PatchKind::Strategic } else { PatchKind::Merge };
    let scope = if knob & 4 == 0 { Scope::Status } else { Scope::Object };
    if let Ok(same) = apply_node(enc, node, kind, b"{}", scope) {
        if enc == Encoding::Protobuf {
            assert_eq!(same.bytes, node, "an empty patch changes nothing");
        }
    }
    let Ok(out) = apply_node(enc, node, kind, patch, scope) else { return };
    // Our own JSON is written in one canonical form, so both encodings come back byte-exact.
    let again = apply_node(enc, &out.bytes, kind, b"{}", scope).expect("the patched node decodes");
    assert_eq!(again.bytes, out.bytes);
});
