//! The node patcher on bad input: broken patches, wrong types, stored nodes that do not decode,
//! every prefix and byte flip of real bytes: typed errors, never a panic.

use super::tests_fixtures::*;
use super::{apply_node, PatchError, PatchKind, Scope};
use crate::k8s::meta::Encoding;

#[test]
fn bad_patches_and_bad_stored_nodes_are_errors_never_panics() {
    let (json_node, pb_node) = nodes().remove(0);
    let bad_patches = [
        "{\"status\":",
        "[]",
        "\"x\"",
        r#"{"status":{"conditions":"Ready"}}"#,
        r#"{"status":{"conditions":[{"status":"True"}]}}"#,
        r#"{"status":{"conditions":[{"type":"Ready","lastHeartbeatTime":"yesterday"}]}}"#,
        r#"{"metadata":{"labels":{"a":1}}}"#,
        r#"{"status":{"capacity":{"cpu":true}}}"#,
        r#"{"status":{"$foo":1}}"#,
        r#"{"status":{"conditions":[{"type":"Ready","$patch":"merge"}]}}"#,
        r#"{"status":{"volumesInUse":[1]}}"#,
        r#"{"status":{"images":[{"names":"x"}]}}"#,
        r#"{"status":{"$setElementOrder/conditions":[{"status":"x"}]}}"#,
        r#"{"metadata":"x"}"#,
    ];
    for patch in bad_patches {
        for (enc, node) in [(Encoding::Json, &json_node), (Encoding::Protobuf, &pb_node)] {
            let got = apply_node(
                enc,
                node,
                PatchKind::Strategic,
                patch.as_bytes(),
                Scope::Status,
            );
            assert!(
                matches!(got, Err(PatchError::BadPatch(_))),
                "{enc:?} {patch}: {got:?}"
            );
        }
    }
    let kubelet = first_patch().to_string();
    for (enc, node) in [
        (Encoding::Json, &b"not json"[..]),
        (Encoding::Json, b"[1]"),
        (Encoding::Protobuf, &[0x0a, 5, 1][..]),
        (Encoding::Protobuf, &[0x1a, 2, 0x22, 9][..]),
    ] {
        let got = apply_node(
            enc,
            node,
            PatchKind::Strategic,
            kubelet.as_bytes(),
            Scope::Status,
        );
        assert!(
            matches!(got, Err(PatchError::BadObject(_))),
            "{enc:?} {node:?}: {got:?}"
        );
    }
    // Every prefix of a real node: an answer or an error, never a panic.
    for cut in 0..pb_node.len() {
        let _ = apply_node(
            Encoding::Protobuf,
            &pb_node[..cut],
            PatchKind::Strategic,
            kubelet.as_bytes(),
            Scope::Status,
        );
    }
    for cut in 0..json_node.len() {
        let got = apply_node(
            Encoding::Json,
            &json_node[..cut],
            PatchKind::Strategic,
            kubelet.as_bytes(),
            Scope::Status,
        );
        assert!(matches!(got, Err(PatchError::BadObject(_))), "prefix {cut}");
    }
}

#[test]
fn content_types() {
    let kind = PatchKind::from_content_type;
    assert_eq!(
        kind(Some("application/strategic-merge-patch+json")),
        Ok(Some(PatchKind::Strategic))
    );
    assert_eq!(
        kind(Some("application/merge-patch+json; charset=utf-8")),
        Ok(Some(PatchKind::Merge))
    );
    assert_eq!(kind(Some("application/json-patch+json")), Ok(None));
    assert!(matches!(
        kind(Some("application/json")),
        Err(PatchError::UnsupportedMediaType(_))
    ));
    assert!(matches!(
        kind(None),
        Err(PatchError::UnsupportedMediaType(_))
    ));
}

/// A bounded, deterministic cousin of `fuzz/fuzz_targets/node_patch.rs`: every byte of a real
/// node and of a kubelet patch flipped three ways.
#[test]
fn fuzz_smoke_mutated_nodes_and_patches() {
    let (json_node, pb_node) = nodes().remove(1);
    let patch = first_patch().to_string();
    let check = |enc: Encoding, node: &[u8], patch: &[u8]| {
        if let Ok(out) = apply_node(enc, node, PatchKind::Strategic, patch, Scope::Status) {
            let again = apply_node(enc, &out.bytes, PatchKind::Strategic, b"{}", Scope::Status)
                .expect("a patched node decodes");
            assert_eq!(again.bytes, out.bytes);
        }
    };
    for i in 0..pb_node.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut node = pb_node.clone();
            node[i] ^= flip;
            check(Encoding::Protobuf, &node, patch.as_bytes());
        }
    }
    for i in 0..patch.len() {
        for flip in [0x01, 0x20] {
            let mut p = patch.clone().into_bytes();
            p[i] ^= flip;
            check(Encoding::Protobuf, &pb_node, &p);
            check(Encoding::Json, &json_node, &p);
        }
    }
}
