//! Seed data: the small cluster [`ApiDouble::sandbox`] starts with.

use serde_json::{json, Value};

use super::ApiDouble;

fn pod(name: &str, ns: &str, node: &str, app: &str, ip: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": app, "image": format!("registry.example/{app}:1"), "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
            "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "hostIP": "10.0.0.11",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": app, "ready": true, "restartCount": 0, "image": format!("registry.example/{app}:1"),
                                   "started": true, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]
        }
    })
}

fn node(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64",
            "openyurt.io/is-edge-worker": "true"
        }, "annotations": {"node.beta.openyurt.io/autonomy": "true"}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": name}],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            ],
            "capacity": {"cpu": "4", "memory": "3882Mi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "3782Mi", "pods": "110"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0", "osImage": "Yurt Linux", "kernelVersion": "6.6.0",
                         "containerRuntimeVersion": "containerd://1.7.0", "operatingSystem": "linux", "architecture": "arm64",
                         "machineID": "", "systemUUID": "", "bootID": ""}
        }
    })
}

fn must(d: &ApiDouble, path: &str, obj: Value) {
    if let Err(e) = d.create(path, obj) {
        log::error!("sandbox seed {path}: {e}");
    }
}

/// Fills `d` with the sandbox cluster around `node_name`.
pub fn sandbox(d: &ApiDouble, node_name: &str) {
    for ns in ["default", "kube-system"] {
        must(d, "/api/v1/namespaces", json!({"metadata": {"name": ns}}));
    }
    must(d, "/api/v1/nodes", node(node_name));
    must(
        d,
        "/api/v1/namespaces/default/pods",
        pod("web-0", "default", node_name, "web", "10.244.1.10"),
    );
    must(
        d,
        "/api/v1/namespaces/default/pods",
        pod("worker-0", "default", node_name, "worker", "10.244.1.11"),
    );
    must(
        d,
        "/api/v1/namespaces/kube-system/pods",
        pod(
            &format!("kube-proxy-{node_name}"),
            "kube-system",
            node_name,
            "kube-proxy",
            "10.0.0.11",
        ),
    );
    must(
        d,
        "/api/v1/namespaces/default/pods",
        pod("web-1", "default", "other-node", "web", "10.244.2.10"),
    );
    must(
        d,
        "/api/v1/namespaces/default/services",
        json!({
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "type": "ClusterIP",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}
        }),
    );
    must(
        d,
        "/api/v1/namespaces/default/configmaps",
        json!({
            "metadata": {"name": "kube-root-ca.crt"},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nsandbox\n-----END CERTIFICATE-----\n"}
        }),
    );
    must(
        d,
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"metadata": {"name": "default"}}),
    );
}

/// Adds `n` pods `pod-1`..`pod-n` in namespace default on `node` (benchmarks, big lists), each
/// padded to about `bytes` bytes of JSON when `bytes` is above its natural size.
pub fn pods(d: &ApiDouble, node: &str, n: usize, bytes: usize) {
    for i in 1..=n {
        let ip = format!("10.244.{}.{}", i / 250, i % 250 + 1);
        let mut p = pod(&format!("pod-{i}"), "default", node, "bench", &ip);
        pad(&mut p, bytes, i as u64);
        must(d, "/api/v1/namespaces/default/pods", p);
    }
}

/// Annotation that carries the padding of benchmark pods.
pub const PAD_ANNOTATION: &str = "bench.yurt.io/pad";

/// Grows `obj` to about `bytes` bytes of JSON (plus what the double adds: uid, resourceVersion,
/// creationTimestamp) with an annotation of pseudo-random hex, which lz4 cannot shrink.
pub fn pad(obj: &mut Value, bytes: usize, seed: u64) {
    let have = obj.to_string().len() + PAD_ANNOTATION.len() + 20;
    if bytes <= have {
        return;
    }
    obj["metadata"]["annotations"][PAD_ANNOTATION] = Value::String(filler(bytes - have, seed));
}

/// `len` hex digits from a xorshift generator seeded with `seed`.
pub fn filler(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdef"[(x % 16) as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_has_what_the_hub_tests_expect() {
        let d = ApiDouble::sandbox("edge-1");
        let pods = d.list("/api/v1/pods").expect("pods");
        let on_node = pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == "edge-1")
            .count();
        assert_eq!((pods.len(), on_node), (4, 3));
        assert!(pods
            .iter()
            .any(|p| p["metadata"]["namespace"] == "kube-system"
                && p["spec"]["nodeName"] == "edge-1"));
        assert_eq!(d.list("/api/v1/namespaces").expect("ns").len(), 2);
        let node = d.get("/api/v1/nodes/edge-1").expect("node");
        assert_eq!(node["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(
            node["metadata"]["labels"]["kubernetes.io/hostname"],
            "edge-1"
        );
        assert!(d
            .get("/api/v1/namespaces/default/services/kubernetes")
            .is_some());
        assert_eq!(d.list("/api/v1/configmaps").expect("cm").len(), 1);
        assert!(d.resource_version() > 10);
    }
}
