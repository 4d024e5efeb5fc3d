//! Offline node status PATCHes through the real hub, the cloud cut: kubelet's strategic merge
//! patch is answered with the cached node patched, in the encoding it was cached in (protobuf
//! for kubelet, JSON for a JSON client), and the cache keeps what the cloud said.

mod cachekit;
mod hubkit;
mod support;

use std::time::Duration;

use cachekit::*;
use hubkit::{request, RawResponse};
use serde_json::{json, Value};
use yurt::k8s::pb::decode_envelope;
use yurt::k8s::pb::wire::fields;
use yurt::k8s::time::rfc3339;

const BEAT: &str = "2026-11-26T10:00:00Z";

/// kubelet's heartbeat (client-go's two-way patch) with the condition flannel adds.
fn kubelet_patch() -> String {
    json!({"status": {
        "$setElementOrder/conditions": [{"type": "NetworkUnavailable"}, {"type": "Ready"}],
        "conditions": [
            {"lastHeartbeatTime": BEAT, "type": "Ready"},
            {"type": "NetworkUnavailable", "status": "False", "reason": "FlannelIsUp",
             "message": "Flannel is running on this node", "lastHeartbeatTime": BEAT, "lastTransitionTime": BEAT}
        ]
    }})
    .to_string()
}

fn patch(r: &Rig, ua: &str, accept: &str, ct: &str, body: &str) -> RawResponse {
    request(
        r.hub.proxy,
        format!("PATCH /api/v1/nodes/{NODE}/status?timeout=10s HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.36.2 (linux/arm64) kubernetes/abcdef0\r\nAccept: {accept}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
}

/// The payloads of field `n` of a protobuf message.
fn all(msg: &[u8], n: u32) -> Vec<Vec<u8>> {
    fields(msg)
        .map(|f| f.expect("field"))
        .filter(|f| f.number == n)
        .map(|f| f.bytes().expect("bytes").to_vec())
        .collect()
}

fn text(msg: &[u8], n: u32) -> String {
    all(msg, n)
        .last()
        .map(|b| String::from_utf8(b.clone()).expect("utf-8"))
        .unwrap_or_default()
}

fn time(msg: &[u8], n: u32) -> Value {
    let t = all(msg, n).concat();
    let secs = fields(&t)
        .map(|f| f.expect("field"))
        .find(|f| f.number == 1)
        .map(|f| f.int64().expect("seconds"));
    secs.map_or(Value::Null, |s| json!(rfc3339(s)))
}

/// (resourceVersion, conditions as JSON) of a node answer in either encoding.
fn node_view(body: &[u8], accept: &str) -> (String, Vec<Value>) {
    if accept == JSON {
        let v: Value = serde_json::from_slice(body).expect("json node");
        let conditions = v["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let rv = v["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv")
            .to_string();
        let pick = |c: &Value| {
            json!({"type": c["type"], "status": c["status"], "reason": c["reason"],
            "lastHeartbeatTime": c["lastHeartbeatTime"], "lastTransitionTime": c["lastTransitionTime"]})
        };
        return (rv, conditions.iter().map(pick).collect());
    }
    let env = decode_envelope(body).expect("pb node");
    assert_eq!(env.kind, "Node");
    let meta = yurt::k8s::pb::object_meta(env.raw).expect("meta");
    let status = all(env.raw, 3).concat();
    let conditions = all(&status, 4)
        .iter()
        .map(|c| {
            json!({"type": text(c, 1), "status": text(c, 2), "reason": text(c, 5),
            "lastHeartbeatTime": time(c, 3), "lastTransitionTime": time(c, 4)})
        })
        .collect();
    (meta.resource_version.to_string(), conditions)
}

#[test]
fn offline_node_status_patches_answer_the_cached_node_patched_in_its_encoding() {
    let mut r = rig(None);
    let node = format!("/api/v1/nodes/{NODE}");
    // kubelet caches its node in protobuf; a JSON client (kubelet with
    // --kube-api-content-type=application/json, flannel) in JSON.
    let clients = [("kubelet", PB), ("flanneld", JSON)];
    let online: Vec<RawResponse> = clients.iter().map(|(ua, a)| r.get(&node, ua, a)).collect();
    for (o, (ua, _)) in online.iter().zip(clients) {
        assert_eq!(o.status, 200, "{ua}");
    }
    std::thread::sleep(Duration::from_millis(300)); // writers finish
    r.cut();
    let smp = "application/strategic-merge-patch+json";
    for ((ua, accept), before) in clients.into_iter().zip(&online) {
        let (rv, was) = node_view(&before.body, accept);
        // The API double's protobuf nodes carry the k8s.io/api test data's status (a condition
        // "typeValue", no Ready); its JSON nodes have a Ready condition.
        let empty =
            json!({"type": "Ready", "status": "", "reason": "", "lastTransitionTime": null});
        let ready_was = was
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap_or(&empty)
            .clone();
        let server_only: Vec<String> = was
            .iter()
            .filter_map(|c| c["type"].as_str())
            .filter(|t| !["Ready", "NetworkUnavailable"].contains(t))
            .map(str::to_string)
            .collect();
        let got = patch(&r, ua, accept, smp, &kubelet_patch());
        let body = String::from_utf8_lossy(&got.body).to_string();
        assert_eq!(got.status, 200, "{ua}: {body}");
        let want_ct = if accept == PB {
            "application/vnd.kubernetes.protobuf"
        } else {
            "application/json"
        };
        assert_eq!(got.header("content-type"), Some(want_ct), "{ua}");
        let (got_rv, conditions) = node_view(&got.body, accept);
        assert_eq!(got_rv, rv, "{ua}: the cached resourceVersion");
        let kinds: Vec<&str> = conditions
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        let mut want = vec!["NetworkUnavailable", "Ready"];
        want.extend(server_only.iter().map(String::as_str));
        assert_eq!(
            kinds, want,
            "{ua}: $setElementOrder's, then what only the cache had"
        );
        let ready = &conditions[1];
        assert_eq!(ready["lastHeartbeatTime"], BEAT, "{ua}");
        assert_eq!(
            (
                &ready["status"],
                &ready["reason"],
                &ready["lastTransitionTime"]
            ),
            (
                &ready_was["status"],
                &ready_was["reason"],
                &ready_was["lastTransitionTime"]
            ),
            "{ua}: what the patch does not name stays as cached"
        );
        assert_eq!(
            (&conditions[0]["status"], &conditions[0]["reason"]),
            (&json!("False"), &json!("FlannelIsUp"))
        );
        // The cache still holds what the cloud said.
        let after = r.get(&node, ua, accept);
        assert_eq!(after.status, 200, "{ua}");
        assert_eq!(
            node_view(&after.body, accept),
            (rv.clone(), was.clone()),
            "{ua}"
        );
        if accept == PB {
            let raw = |b: &[u8]| decode_envelope(b).expect("pb").raw.to_vec();
            assert_eq!(raw(&after.body), raw(&before.body), "{ua}: byte for byte");
        } else {
            assert_eq!(after.json(), before.json(), "{ua}");
        }
        // A JSON patch (RFC 6902) is not applied: the cached node as it is.
        let json_patch = r#"[{"op":"replace","path":"/status/phase","value":"Running"}]"#;
        let unpatched = patch(&r, ua, accept, "application/json-patch+json", json_patch);
        assert_eq!(
            (unpatched.status, node_view(&unpatched.body, accept)),
            (200, (rv.clone(), was.clone())),
            "{ua}"
        );
        // A broken patch is the client's error, with a Status saying why.
        let bad = patch(
            &r,
            ua,
            accept,
            smp,
            r#"{"status":{"conditions":[{"status":"True"}]}}"#,
        );
        assert_eq!(bad.status, 400, "{ua}");
        assert!(
            String::from_utf8_lossy(&bad.body).contains("merge key"),
            "{ua}"
        );
    }
    // kubelet's node is cached in protobuf: a JSON-only client cannot take it.
    let refused = patch(&r, "kubelet", JSON, smp, &kubelet_patch());
    assert_eq!(refused.status, 406);
    // A body that is not a patch format, as kube-apiserver answers it.
    let not_a_patch = patch(&r, "kubelet", PB, "application/json", "{}");
    assert_eq!(not_a_patch.status, 415);
    let m = r.hub.metrics();
    assert!(
        m.contains("node_yurthub_cache_offline_answers_total{component=\"kubelet\",resource=\"nodes\",code=\"200\"}"),
        "{m}"
    );
}
