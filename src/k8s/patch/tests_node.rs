//! The node patcher on real bytes: the same nodes in JSON and protobuf (a kube-apiserver
//! capture and the k8s.io/api test data), the same kubelet-style patches, the same answers.

use serde_json::{json, Value};

use super::pb_edit::{message_field, repeated, string};
use super::{apply_node, PatchError, PatchKind, Scope};
use crate::k8s::meta::Encoding;
use crate::k8s::pb::wire::fields_with_bytes;
use crate::k8s::pb::{decode_envelope, decode_list};
use crate::k8s::time::rfc3339;

const LIST_JSON: &[u8] =
    include_bytes!("../../../tests/fixtures/k8s-captures/list-nodes.json.body");
const LIST_PB: &[u8] = include_bytes!("../../../tests/fixtures/k8s-captures/list-nodes.pb.body");
const TESTDATA_JSON: &[u8] =
    include_bytes!("../../../tests/fixtures/k8s-api-testdata/core.v1.Node.json");
const TESTDATA_PB: &[u8] =
    include_bytes!("../../../tests/fixtures/k8s-api-testdata/core.v1.Node.pb");

/// (JSON node, protobuf Node message) of the capture and of the test data.
fn nodes() -> Vec<(Vec<u8>, Vec<u8>)> {
    let list: Value = serde_json::from_slice(LIST_JSON).expect("json list");
    let json = serde_json::to_vec(&list["items"][0]).expect("item");
    let env = decode_envelope(LIST_PB).expect("envelope");
    let pb = decode_list(env.raw).expect("list").items[0].to_vec();
    let testdata = decode_envelope(TESTDATA_PB).expect("envelope").raw.to_vec();
    vec![(json, pb), (TESTDATA_JSON.to_vec(), testdata)]
}

const T0: &str = "2026-11-25T17:20:00Z";
const T1: &str = "2026-11-25T17:20:10Z";

fn condition(kind: &str, status: &str, reason: &str, t: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": format!("{reason} here"),
        "lastHeartbeatTime": t, "lastTransitionTime": t})
}

/// kubelet's first status after registering (client-go's two-way patch) plus flannel's
/// annotations, one of them deleting the last-applied one.
fn first_patch() -> Value {
    json!({
        "metadata": {"annotations": {"flannel.alpha.coreos.com/public-ip": "10.0.0.11",
            "kubectl.kubernetes.io/last-applied-configuration": null}},
        "status": {
            "$setElementOrder/addresses": [{"type": "InternalIP"}, {"type": "Hostname"}],
            "$setElementOrder/conditions": [{"type": "MemoryPressure"}, {"type": "DiskPressure"},
                {"type": "PIDPressure"}, {"type": "Ready"}],
            "addresses": [{"address": "fake-node-1", "type": "Hostname"},
                {"address": "10.0.0.11", "type": "InternalIP"}],
            "allocatable": {"cpu": "4", "memory": "3782Mi"},
            "capacity": {"cpu": "4", "memory": "3882Mi", "pods": 110},
            "conditions": [
                condition("Ready", "False", "KubeletNotReady", T0),
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", T0),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", T0),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", T0)
            ],
            "images": [{"names": ["registry.k8s.io/pause:3.10"], "sizeBytes": 320_368}],
            "nodeInfo": {"bootID": "boot-1", "kubeletVersion": "v1.36.2"},
            "volumesInUse": ["kubernetes.io/csi/a^vol-1"]
        }
    })
}

/// The next heartbeats: times, Ready turning True, a new condition first, a new address, other
/// volumes, a label added and one deleted.
fn second_patch() -> Value {
    let beat = |t: &str| json!({"lastHeartbeatTime": T1, "type": t});
    json!({
        "metadata": {"labels": {"topology.kubernetes.io/zone": "edge-a", "type": null}},
        "status": {
            "$setElementOrder/addresses": [{"type": "InternalIP"}, {"type": "Hostname"}],
            "$setElementOrder/conditions": [{"type": "NetworkUnavailable"}, {"type": "MemoryPressure"},
                {"type": "DiskPressure"}, {"type": "PIDPressure"}, {"type": "Ready"}],
            "addresses": [{"address": "10.0.0.12", "type": "InternalIP"}],
            "conditions": [beat("MemoryPressure"), beat("DiskPressure"), beat("PIDPressure"),
                condition("Ready", "True", "KubeletReady", T1),
                condition("NetworkUnavailable", "False", "FlannelIsUp", T1)],
            "volumesInUse": ["kubernetes.io/csi/a^vol-2"]
        }
    })
}

fn apply(enc: Encoding, node: &[u8], patch: &Value, scope: Scope) -> Vec<u8> {
    let body = patch.to_string();
    let out = apply_node(enc, node, PatchKind::Strategic, body.as_bytes(), scope)
        .unwrap_or_else(|e| panic!("{enc:?}: {e}"));
    assert_eq!(out.ignored, Vec::<String>::new(), "{enc:?}");
    out.bytes
}

const INFO: [&str; 10] = [
    "machineID",
    "systemUUID",
    "bootID",
    "kernelVersion",
    "osImage",
    "containerRuntimeVersion",
    "kubeletVersion",
    "kubeProxyVersion",
    "operatingSystem",
    "architecture",
];

/// The patchable parts of a JSON node, with absent strings as "" and absent times as null.
fn json_view(node: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(node).expect("json node");
    let s = |o: &Value, k: &str| json!(o[k].as_str().unwrap_or(""));
    let list = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let map = |p: &str| v.pointer(p).cloned().unwrap_or(json!({}));
    let conditions: Vec<Value> = list("/status/conditions").iter().map(|c| {
        json!({"type": s(c, "type"), "status": s(c, "status"), "reason": s(c, "reason"), "message": s(c, "message"),
            "lastHeartbeatTime": c["lastHeartbeatTime"], "lastTransitionTime": c["lastTransitionTime"]})
    }).collect();
    let addresses: Vec<Value> = list("/status/addresses")
        .iter()
        .map(|a| json!({"type": s(a, "type"), "address": s(a, "address")}))
        .collect();
    let images: Vec<Value> = list("/status/images")
        .iter()
        .map(|i| json!({"names": i.get("names").cloned().unwrap_or(json!([])), "sizeBytes": i["sizeBytes"].as_i64().unwrap_or(0)}))
        .collect();
    let info = &v["status"]["nodeInfo"];
    let quantities = |p: &str| -> Value {
        let m = map(p);
        let m = m.as_object().cloned().unwrap_or_default();
        m.into_iter()
            .map(|(k, q)| {
                (
                    k,
                    json!(q.as_str().map_or_else(|| q.to_string(), str::to_string)),
                )
            })
            .collect()
    };
    json!({"labels": map("/metadata/labels"), "annotations": map("/metadata/annotations"),
        "conditions": conditions, "addresses": addresses, "images": images,
        "volumesInUse": list("/status/volumesInUse"), "capacity": quantities("/status/capacity"),
        "allocatable": quantities("/status/allocatable"),
        "nodeInfo": INFO.iter().map(|k| (k.to_string(), s(info, k))).collect::<serde_json::Map<_, _>>()})
}

/// The same view of a protobuf Node, decoded field by field.
fn pb_view(raw: &[u8]) -> Value {
    let meta = message_field(raw, 1).expect("metadata");
    let status = message_field(raw, 3).expect("status");
    fn all(msg: &[u8], n: u32) -> Vec<&[u8]> {
        repeated(msg, n).expect("repeated")
    }
    let str_of = |msg: &[u8], n| json!(string(msg, n).expect("string"));
    let int64 = |msg: &[u8], n| {
        let f = crate::k8s::pb::wire::fields(msg)
            .filter_map(Result::ok)
            .filter(|f| f.number == n)
            .last();
        f.map_or(0, |f| f.int64().expect("int64"))
    };
    let time = |msg: &[u8], n| {
        let t = message_field(msg, n).expect("time");
        if t.is_empty() {
            Value::Null
        } else {
            json!(rfc3339(int64(&t, 1)))
        }
    };
    let map = |msg: &[u8], n, quantity: bool| -> Value {
        all(msg, n)
            .iter()
            .map(|e| {
                let v = if quantity {
                    string(all(e, 2)[0], 1).expect("quantity")
                } else {
                    string(e, 2).expect("value")
                };
                (string(e, 1).expect("key").to_string(), json!(v))
            })
            .collect()
    };
    let conditions: Vec<Value> = all(&status, 4)
        .iter()
        .map(|c| {
            json!({"type": str_of(c, 1), "status": str_of(c, 2), "lastHeartbeatTime": time(c, 3),
            "lastTransitionTime": time(c, 4), "reason": str_of(c, 5), "message": str_of(c, 6)})
        })
        .collect();
    let addresses: Vec<Value> = all(&status, 5)
        .iter()
        .map(|a| json!({"type": str_of(a, 1), "address": str_of(a, 2)}))
        .collect();
    let images: Vec<Value> = all(&status, 8)
        .iter()
        .map(|i| {
            let names: Vec<&str> = all(i, 1)
                .iter()
                .map(|n| std::str::from_utf8(n).expect("utf-8"))
                .collect();
            json!({"names": names, "sizeBytes": int64(i, 2)})
        })
        .collect();
    let volumes: Vec<&str> = all(&status, 9)
        .iter()
        .map(|n| std::str::from_utf8(n).expect("utf-8"))
        .collect();
    let info = message_field(&status, 7).expect("nodeInfo");
    json!({"labels": map(&meta, 11, false), "annotations": map(&meta, 12, false),
        "conditions": conditions, "addresses": addresses, "images": images, "volumesInUse": volumes,
        "capacity": map(&status, 1, true), "allocatable": map(&status, 2, true),
        "nodeInfo": INFO.iter().enumerate().map(|(i, k)| (k.to_string(), str_of(&info, i as u32 + 1))).collect::<serde_json::Map<_, _>>()})
}

/// Every field of `msg` but those in `touched`, as (number, whole encoding).
fn others(msg: &[u8], touched: &[u32]) -> Vec<(u32, Vec<u8>)> {
    fields_with_bytes(msg)
        .map(|f| f.expect("field"))
        .filter(|(f, _)| !touched.contains(&f.number))
        .map(|(f, b)| (f.number, b.to_vec()))
        .collect()
}

fn types(view: &Value) -> Vec<&str> {
    view["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect()
}

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
