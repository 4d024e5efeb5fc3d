//! Test fixtures of the node patcher: the same real nodes in JSON and protobuf (a kube-apiserver
//! capture and the k8s.io/api test data), kubelet-style patches, and one view of the patchable
//! fields that both encodings decode to.

use serde_json::{json, Value};

use super::pb_edit::{message_field, repeated, string};
use super::{apply_node, PatchKind, Scope};
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
pub(super) fn nodes() -> Vec<(Vec<u8>, Vec<u8>)> {
    let list: Value = serde_json::from_slice(LIST_JSON).expect("json list");
    let json = serde_json::to_vec(&list["items"][0]).expect("item");
    let env = decode_envelope(LIST_PB).expect("envelope");
    let pb = decode_list(env.raw).expect("list").items[0].to_vec();
    let testdata = decode_envelope(TESTDATA_PB).expect("envelope").raw.to_vec();
    vec![(json, pb), (TESTDATA_JSON.to_vec(), testdata)]
}

pub(super) const T0: &str = "2026-11-25T17:20:00Z";
pub(super) const T1: &str = "2026-11-25T17:20:10Z";

pub(super) fn condition(kind: &str, status: &str, reason: &str, t: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": format!("{reason} here"),
        "lastHeartbeatTime": t, "lastTransitionTime": t})
}

/// kubelet's first status after registering (client-go's two-way patch) plus flannel's
/// annotations, one of them deleting the last-applied one.
pub(super) fn first_patch() -> Value {
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
pub(super) fn second_patch() -> Value {
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

pub(super) fn apply(enc: Encoding, node: &[u8], patch: &Value, scope: Scope) -> Vec<u8> {
    let body = patch.to_string();
    let out = apply_node(enc, node, PatchKind::Strategic, body.as_bytes(), scope)
        .unwrap_or_else(|e| panic!("{enc:?}: {e}"));
    assert_eq!(out.ignored, Vec::<String>::new(), "{enc:?}");
    out.bytes
}

pub(super) const INFO: [&str; 10] = [
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
pub(super) fn json_view(node: &[u8]) -> Value {
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
pub(super) fn pb_view(raw: &[u8]) -> Value {
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
pub(super) fn others(msg: &[u8], touched: &[u32]) -> Vec<(u32, Vec<u8>)> {
    fields_with_bytes(msg)
        .map(|f| f.expect("field"))
        .filter(|(f, _)| !touched.contains(&f.number))
        .map(|(f, b)| (f.number, b.to_vec()))
        .collect()
}

pub(super) fn types(view: &Value) -> Vec<&str> {
    view["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect()
}
