//! The cluster the replays run against: what the sandbox lacks for the catalog's clients, and
//! the changes made while they watch.

use serde_json::json;
use yurt::apidouble::ApiDouble;

use super::{scripts, NODE};

/// Objects the clients read, beyond the sandbox's (node, pods, `kubernetes` Service, ...).
pub fn seed(d: &ApiDouble) {
    let mk = |path: &str, obj: serde_json::Value| {
        d.create(path, obj)
            .unwrap_or_else(|e| panic!("seed {path}: {e}"));
    };
    for ns in ["kube-flannel", "kube-node-lease"] {
        mk("/api/v1/namespaces", json!({"metadata": {"name": ns}}));
    }
    mk(
        "/api/v1/namespaces/kube-flannel/pods",
        json!({"metadata": {"name": scripts::FLANNEL_POD, "labels": {"app": "flannel"}},
        "spec": {"nodeName": NODE, "hostNetwork": true, "containers": [{"name": "kube-flannel", "image": "ghcr.io/flannel-io/flannel:v0.28.9"}]},
        "status": {"phase": "Running"}}),
    );
    mk(
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "web-secret"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}}),
    );
    mk(
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "other-secret"}, "type": "Opaque", "data": {}}),
    );
    mk(
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "web-config"}, "data": {"mode": "edge"}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}]}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "mesh", "labels": {"service.kubernetes.io/service-proxy-name": "mesh-proxy"}},
        "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"], "ports": [{"port": 80}]}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "web"},
        "spec": {"clusterIP": "10.96.0.30", "clusterIPs": ["10.96.0.30"], "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    );
    mk(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        json!({"metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.10"]}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}),
    );
    mk(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        json!({"metadata": {"name": "db-8x2kq", "labels": {"kubernetes.io/service-name": "db", "service.kubernetes.io/headless": ""}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.20"]}]}),
    );
    mk(
        "/apis/networking.k8s.io/v1/servicecidrs",
        json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/16"]}}),
    );
    mk(
        "/apis/storage.k8s.io/v1/csinodes",
        json!({"metadata": {"name": NODE,
        "annotations": {"storage.alpha.kubernetes.io/migrated-plugins": "kubernetes.io/aws-ebs,kubernetes.io/azure-disk"}},
        "spec": {"drivers": [{"name": "csi.example.com", "nodeID": NODE, "topologyKeys": null}]}}),
    );
    mk(
        "/apis/storage.k8s.io/v1/csidrivers",
        json!({"metadata": {"name": "csi.example.com"}, "spec": {"attachRequired": false, "podInfoOnMount": true}}),
    );
    mk(
        "/apis/node.k8s.io/v1/runtimeclasses",
        json!({"metadata": {"name": "runc"}, "handler": "runc"}),
    );
    mk(
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        json!({"metadata": {"name": NODE},
        "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}}),
    );
}

/// Changes the cluster while the clients watch: every informer kind sees events.
pub fn churn(d: &ApiDouble, round: u32) {
    let pod = json!({"metadata": {"name": format!("added-{round}"), "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]}});
    d.create("/api/v1/namespaces/default/pods", pod)
        .expect("pod");
    let mut cm = d
        .get("/api/v1/namespaces/default/configmaps/web-config")
        .expect("cm");
    cm["data"]["round"] = json!(round.to_string());
    d.update("/api/v1/namespaces/default/configmaps/web-config", cm)
        .expect("cm");
    let mut node = d.get(&format!("/api/v1/nodes/{NODE}")).expect("node");
    node["metadata"]["labels"]["yurt.test/round"] = json!(round.to_string());
    d.update(&format!("/api/v1/nodes/{NODE}"), node)
        .expect("node");
    let svc = json!({"metadata": {"name": format!("svc-{round}")},
        "spec": {"clusterIP": format!("10.96.1.{round}"), "ports": [{"port": 80}]}});
    d.create("/api/v1/namespaces/default/services", svc)
        .expect("svc");
    let ns = json!({"metadata": {"name": format!("team-{round}")}});
    d.create("/api/v1/namespaces", ns).expect("ns");
    d.delete("/api/v1/namespaces/default/pods/worker-0").ok();
}
