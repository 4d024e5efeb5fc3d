//! The node patcher on real bytes: the same nodes in JSON and protobuf, the same kubelet-style
//! patches, the same answers; untouched protobuf fields keep their bytes.

use serde_json::{json, Value};

use super::pb_edit::message_field;
use super::tests_fixtures::*;
use super::{apply_node, PatchKind, Scope};
use crate::k8s::meta::Encoding;

#[test]
fn both_encodings_of_real_nodes_take_kubelet_patches_alike() {
    for (json_node, pb_node) in nodes() {
        let (before_json, before_pb) = (json_view(&json_node), pb_view(&pb_node));
        assert_eq!(before_json, before_pb, "the fixtures hold the same node");
        let mut j = json_node.clone();
        let mut p = pb_node.clone();
        for patch in [first_patch(), second_patch()] {
            j = apply(Encoding::Json, &j, &patch, Scope::Status);
            p = apply(Encoding::Protobuf, &p, &patch, Scope::Status);
            assert_eq!(json_view(&j), pb_view(&p), "after {patch}");
        }
        let got = pb_view(&p);
        // New conditions go before the ones only the server had (the test data's "typeValue").
        let mut want = vec![
            "NetworkUnavailable",
            "MemoryPressure",
            "DiskPressure",
            "PIDPressure",
            "Ready",
        ];
        want.extend(types(&before_pb));
        assert_eq!(types(&got), want);
        let ready = &got["conditions"][4];
        assert_eq!(ready["status"], "True");
        assert_eq!(
            (
                ready["lastHeartbeatTime"].as_str(),
                ready["lastTransitionTime"].as_str()
            ),
            (Some(T1), Some(T1))
        );
        let memory = &got["conditions"][1];
        assert_eq!(
            (
                memory["lastHeartbeatTime"].as_str(),
                memory["lastTransitionTime"].as_str()
            ),
            (Some(T1), Some(T0))
        );
        assert_eq!(memory["reason"], "KubeletHasSufficientMemory");
        let addresses: Vec<_> = got["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .filter(|a| a["type"] != "typeValue")
            .map(|a| (a["type"].clone(), a["address"].clone()))
            .collect();
        assert_eq!(
            addresses,
            [
                (json!("InternalIP"), json!("10.0.0.12")),
                (json!("Hostname"), json!("fake-node-1"))
            ]
        );
        assert_eq!(got["volumesInUse"], json!(["kubernetes.io/csi/a^vol-2"]));
        assert_eq!(
            got["images"],
            json!([{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320_368}])
        );
        assert_eq!(got["capacity"]["pods"], "110");
        assert_eq!(
            (
                got["nodeInfo"]["bootID"].as_str(),
                got["nodeInfo"]["kubeletVersion"].as_str()
            ),
            (Some("boot-1"), Some("v1.36.2"))
        );
        assert_eq!(got["nodeInfo"]["osImage"], before_pb["nodeInfo"]["osImage"]);
        assert_eq!(
            got["annotations"].get("kubectl.kubernetes.io/last-applied-configuration"),
            None
        );
        assert_eq!(
            got["annotations"]["flannel.alpha.coreos.com/public-ip"],
            "10.0.0.11"
        );
        assert_eq!(got["labels"]["topology.kubernetes.io/zone"], "edge-a");
        assert_eq!(got["labels"].get("type"), None);
        // Untouched protobuf fields keep their bytes; untouched JSON stays equal.
        assert_eq!(others(&p, &[1, 3]), others(&pb_node, &[1, 3]));
        let meta = |n: &[u8]| message_field(n, 1).expect("meta");
        assert_eq!(
            others(&meta(&p), &[11, 12]),
            others(&meta(&pb_node), &[11, 12])
        );
        let status = |n: &[u8]| message_field(n, 3).expect("status");
        let touched = [1, 2, 4, 5, 7, 8, 9];
        assert_eq!(
            others(&status(&p), &touched),
            others(&status(&pb_node), &touched)
        );
        let info = |n: &[u8]| message_field(&status(n), 7).expect("info");
        assert_eq!(others(&info(&p), &[3, 7]), others(&info(&pb_node), &[3, 7]));
        let strip = |n: &[u8]| {
            let mut v: Value = serde_json::from_slice(n).expect("json");
            for (part, keys) in [
                ("metadata", &["labels", "annotations"][..]),
                (
                    "status",
                    &[
                        "conditions",
                        "addresses",
                        "images",
                        "volumesInUse",
                        "capacity",
                        "allocatable",
                        "nodeInfo",
                    ],
                ),
            ] {
                if let Some(m) = v[part].as_object_mut() {
                    keys.iter().for_each(|k| {
                        m.remove(*k);
                    });
                }
            }
            v
        };
        assert_eq!(strip(&j), strip(&json_node));
    }
}

#[test]
fn the_stored_resource_version_spec_and_status_are_kept_as_the_apiserver_keeps_them() {
    for (json_node, pb_node) in nodes() {
        let spec = json!({"spec": {"unschedulable": true}, "metadata": {"resourceVersion": "999"}});
        let j = apply(Encoding::Json, &json_node, &spec, Scope::Status);
        assert_eq!(
            serde_json::from_slice::<Value>(&j).expect("json"),
            serde_json::from_slice::<Value>(&json_node).expect("json")
        );
        assert_eq!(
            apply(Encoding::Protobuf, &pb_node, &spec, Scope::Status),
            pb_node
        );
        let status = first_patch();
        let j = apply(
            Encoding::Json,
            &json_node,
            &json!({"status": status["status"]}),
            Scope::Object,
        );
        assert_eq!(json_view(&j), json_view(&json_node));
        assert_eq!(
            apply(
                Encoding::Protobuf,
                &pb_node,
                &json!({"status": status["status"]}),
                Scope::Object
            ),
            pb_node
        );
        assert_eq!(
            apply(Encoding::Protobuf, &pb_node, &json!({}), Scope::Status),
            pb_node
        );
    }
}

#[test]
fn a_merge_patch_replaces_lists_in_both_encodings() {
    for (json_node, pb_node) in nodes() {
        let patch = json!({"status": {"conditions": [condition("Ready", "True", "KubeletReady", T1)]},
            "metadata": {"annotations": {"a": "b"}}});
        let body = patch.to_string();
        let j = apply_node(
            Encoding::Json,
            &json_node,
            PatchKind::Merge,
            body.as_bytes(),
            Scope::Status,
        )
        .expect("json");
        let p = apply_node(
            Encoding::Protobuf,
            &pb_node,
            PatchKind::Merge,
            body.as_bytes(),
            Scope::Status,
        )
        .expect("pb");
        let view = pb_view(&p.bytes);
        assert_eq!(json_view(&j.bytes), view);
        assert_eq!(types(&view), ["Ready"]);
    }
}

#[test]
fn protobuf_keys_without_support_are_reported_and_left_as_stored() {
    let (_, pb_node) = nodes().remove(1);
    let patch = json!({"metadata": {"finalizers": ["x"]}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 1}},
        "conditions": [{"type": "Ready", "status": "True", "probeTime": null}]}});
    let out = apply_node(
        Encoding::Protobuf,
        &pb_node,
        PatchKind::Strategic,
        patch.to_string().as_bytes(),
        Scope::Status,
    )
    .expect("applied");
    let mut ignored = out.ignored.clone();
    ignored.sort();
    assert_eq!(
        ignored,
        [
            "metadata.finalizers",
            "status.conditions.probeTime",
            "status.daemonEndpoints"
        ]
    );
    assert_eq!(types(&pb_view(&out.bytes)), ["Ready", "typeValue"]);
    let status = |n: &[u8]| message_field(n, 3).expect("status");
    assert_eq!(
        others(&status(&out.bytes), &[4]),
        others(&status(&pb_node), &[4])
    );
}
