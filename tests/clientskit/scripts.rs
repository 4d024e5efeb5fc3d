//! What each node client sends, from `reference/node-clients.md` (the catalog): informers with
//! their selectors, User-Agent and Accept, and the one-off calls, each marked with what it needs
//! while the cloud is away. Two flavours per client: LIST+WATCH (client-go 1.34) and WatchList
//! (1.35+, `WatchListClient` on by default).

use serde_json::json;
use yurt::apidouble::ApiDouble;

use super::reflector::Informer;
use super::NODE;

/// kubelet's and flannel's typed clients: protobuf first.
pub const PB: &str = "application/vnd.kubernetes.protobuf,application/json";
/// kube-proxy and CoreDNS: protobuf content type, no AcceptContentTypes.
pub const PB_ANY: &str = "application/vnd.kubernetes.protobuf, */*";
/// flannel's raw REST node informer.
pub const JSON_ANY: &str = "application/json, */*";

/// LIST+WATCH (1.34) or WatchList (1.35+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    ListWatch,
    WatchList,
}

/// What a call needs while the cloud is away (the catalog's "offline needed?" column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Must get its usual answer (the last one the cloud gave).
    Offline,
    /// A write the hub accepts offline (DESIGN.md, "Offline semantics").
    Accepted,
    /// kubelet's CSINode GET: a 200 only if the follow-ups succeed, never a 404.
    Careful,
    /// Not needed offline: any clear answer.
    No,
}

/// One request that is not an informer.
#[derive(Debug, Clone)]
pub struct Call {
    pub what: &'static str,
    pub method: &'static str,
    pub path: String,
    pub accept: &'static str,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub need: Need,
}

/// One client: its informers (started in order; the first syncs before the others start when
/// `gate`) and its calls.
#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub ua: String,
    pub informers: Vec<Informer>,
    /// kubelet starts its pod source only once the node informer synced.
    pub gate: bool,
    pub calls: Vec<Call>,
}

fn get(what: &'static str, path: String, accept: &'static str, need: Need) -> Call {
    Call {
        what,
        method: "GET",
        path,
        accept,
        content_type: None,
        body: Vec::new(),
        need,
    }
}

fn write(
    what: &'static str,
    method: &'static str,
    path: String,
    ct: &'static str,
    body: Vec<u8>,
    need: Need,
) -> Call {
    Call {
        what,
        method,
        path,
        accept: PB,
        content_type: Some(ct),
        body,
        need,
    }
}

struct Inf<'a> {
    ua: &'a str,
    accept: &'a str,
    client: &'a str,
    watch_list: bool,
}

impl Inf<'_> {
    fn make(&self, path: &str, label: Option<&str>, field: Option<&str>, typed: bool) -> Informer {
        Informer {
            name: format!("{} {path} {label:?} {field:?}", self.client),
            ua: self.ua.to_string(),
            accept: self.accept.to_string(),
            path: path.to_string(),
            label: label.map(str::to_string),
            field: field.map(str::to_string),
            typed,
            min_timeout: 300,
            watch_list: self.watch_list,
            needed: true,
        }
    }
}

/// kubelet: node, pods, services, per-object secret/configmap informers, CSI drivers and
/// runtime classes; lease, node status, events, a TokenRequest, the CSINode start-up GETs.
pub fn kubelet(f: Flavour, d: &ApiDouble) -> Script {
    let ua = match f {
        Flavour::ListWatch => "kubelet/v1.34.2 (linux/arm64) kubernetes/a1b2c3d",
        Flavour::WatchList => "kubelet/v1.35.1 (linux/arm64) kubernetes/e4f5a6b",
    };
    let i = Inf {
        ua,
        accept: PB,
        client: "kubelet",
        watch_list: f == Flavour::WatchList,
    };
    let name = |n: &str| format!("metadata.name={n}");
    let node_field = name(NODE);
    let mut informers = vec![
        i.make("/api/v1/nodes", None, Some(&node_field), true),
        i.make(
            "/api/v1/pods",
            None,
            Some(&format!("spec.nodeName={NODE}")),
            false,
        ),
        i.make("/api/v1/services", None, Some("spec.clusterIP!=None"), true),
        i.make("/apis/storage.k8s.io/v1/csidrivers", None, None, true),
        i.make("/apis/node.k8s.io/v1/runtimeclasses", None, None, true),
    ];
    for (res, n) in [
        ("secrets", "web-secret"),
        ("configmaps", "web-config"),
        ("configmaps", "kube-root-ca.crt"),
    ] {
        let mut per_object = i.make(
            &format!("/api/v1/namespaces/default/{res}"),
            None,
            Some(&name(n)),
            true,
        );
        per_object.min_timeout = 1800;
        informers.push(per_object);
    }
    let lease_path =
        format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}");
    let mut lease = d.get(&lease_path).expect("the kit seeds the node's lease");
    lease["spec"]["renewTime"] = json!("2026-01-01T00:00:10.000000Z");
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
        "lastHeartbeatTime": "2026-01-01T00:00:10Z"}]}});
    let event = json!({"metadata": {"name": format!("{NODE}.starting"), "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": NODE}, "reason": "Starting", "message": "Starting kubelet.",
        "type": "Normal", "count": 1, "source": {"component": "kubelet", "host": NODE}});
    let token = token_request_pb("web-0");
    let csinode = format!("/apis/storage.k8s.io/v1/csinodes/{NODE}");
    let calls = vec![
        get(
            "lease GET",
            format!("{lease_path}?timeout=10s"),
            PB,
            Need::No,
        ),
        write(
            "lease PUT",
            "PUT",
            format!("{lease_path}?timeout=10s"),
            "application/json",
            lease.to_string().into_bytes(),
            Need::Accepted,
        ),
        write(
            "node status PATCH",
            "PATCH",
            format!("/api/v1/nodes/{NODE}/status?timeout=10s"),
            "application/strategic-merge-patch+json",
            status.to_string().into_bytes(),
            Need::Accepted,
        ),
        write(
            "event POST",
            "POST",
            "/api/v1/namespaces/default/events".into(),
            "application/json",
            event.to_string().into_bytes(),
            Need::Accepted,
        ),
        write(
            "TokenRequest",
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/default/token".into(),
            "application/vnd.kubernetes.protobuf",
            token,
            Need::Offline,
        ),
        get(
            "CSINode GET (rv=0)",
            format!("{csinode}?resourceVersion=0"),
            PB,
            Need::Careful,
        ),
        get(
            "node GET",
            format!("/api/v1/nodes/{NODE}"),
            PB,
            Need::Offline,
        ),
        get("CSINode GET", csinode, PB, Need::Offline),
        get(
            "pod GET",
            "/api/v1/namespaces/default/pods/web-0".into(),
            PB,
            Need::No,
        ),
    ];
    Script {
        name: format!("kubelet {f:?}"),
        ua: ua.into(),
        informers,
        gate: true,
        calls,
    }
}

/// The TokenRequest kubelet sends for a projected token of pod `pod`, in protobuf.
pub fn token_request_pb(pod: &str) -> Vec<u8> {
    let uid = format!("uid-of-{pod}");
    // kubelet leaves the metadata empty: the URL names the ServiceAccount.
    let tr = yurt::k8s::token::TokenRequest {
        audiences: vec!["https://kubernetes.default.svc.cluster.local".into()],
        expiration_seconds: Some(3607),
        bound: Some(yurt::k8s::token::BoundRef {
            kind: "Pod".into(),
            api_version: "v1".into(),
            name: pod.into(),
            uid,
        }),
        ..Default::default()
    };
    // Like Go's marshalling, the empty status (token "", time 0) is written too.
    yurt::k8s::token::encode(yurt::k8s::meta::Encoding::Protobuf, &tr, 0)
}

/// kube-proxy: services, endpointslices, servicecidrs and its node. `split`: 1.36's separate
/// selectors; else the combined one of 1.32–1.35.
pub fn kube_proxy(f: Flavour, split: bool) -> Script {
    let ua = match (split, f) {
        (true, _) => "kube-proxy/v1.36.2 (linux/arm64) kubernetes/c7d8e9f",
        (false, Flavour::ListWatch) => "kube-proxy/v1.34.2 (linux/arm64) kubernetes/a1b2c3d",
        (false, Flavour::WatchList) => "kube-proxy/v1.35.1 (linux/arm64) kubernetes/e4f5a6b",
    };
    let i = Inf {
        ua,
        accept: PB_ANY,
        client: "kube-proxy",
        watch_list: f == Flavour::WatchList,
    };
    let combined = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name";
    let (svc, eps, cidr) = if split {
        (
            Some("!service.kubernetes.io/service-proxy-name"),
            Some("!service.kubernetes.io/headless"),
            None,
        )
    } else {
        (Some(combined), Some(combined), Some(combined))
    };
    let node = format!("metadata.name={NODE}");
    let informers = vec![
        i.make("/api/v1/nodes", None, Some(&node), true),
        i.make("/api/v1/services", svc, Some("spec.clusterIP!=None"), true),
        i.make("/apis/discovery.k8s.io/v1/endpointslices", eps, None, true),
        i.make("/apis/networking.k8s.io/v1/servicecidrs", cidr, None, true),
    ];
    let event_name = format!("{NODE}.proxy-{}", if split { "split" } else { "combined" });
    let event = json!({"metadata": {"name": event_name, "namespace": "default"},
        "reportingController": "kube-proxy", "reportingInstance": format!("kube-proxy-{NODE}"),
        "action": "StartKubeProxy", "reason": "Starting", "type": "Normal", "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Node", "name": NODE}});
    let calls = vec![write(
        "event POST (events.k8s.io)",
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events".into(),
        "application/json",
        event.to_string().into_bytes(),
        Need::Accepted,
    )];
    Script {
        name: format!(
            "kube-proxy {f:?} {}",
            if split { "split" } else { "combined" }
        ),
        ua: ua.into(),
        informers,
        gate: false,
        calls,
    }
}

/// CoreDNS 1.14 (client-go 0.35; `KUBE_FEATURE_WatchListClient=false` for the 1.34 flavour).
pub fn coredns(f: Flavour) -> Script {
    let ua = "CoreDNS/1.14.2 git_commit:4b1e2f7 (linux/arm64/go1.25.7)";
    let i = Inf {
        ua,
        accept: PB_ANY,
        client: "coredns",
        watch_list: f == Flavour::WatchList,
    };
    Script {
        name: format!("coredns {f:?}"),
        ua: ua.into(),
        informers: vec![
            i.make("/api/v1/services", None, None, true),
            i.make("/apis/discovery.k8s.io/v1/endpointslices", None, None, true),
            i.make("/api/v1/namespaces", None, None, true),
        ],
        gate: false,
        calls: Vec::new(),
    }
}

/// flannel: all nodes in JSON (raw REST), its pod and node GETs, the node status PATCH. Released
/// flannel is on client-go 0.33/0.34 (LIST+WATCH); the WatchList flavour is a flannel built on 0.35.
pub fn flannel(f: Flavour) -> Script {
    let ua = "flanneld/v0.0.0 (linux/amd64) kubernetes/$Format";
    let i = Inf {
        ua,
        accept: JSON_ANY,
        client: "flanneld",
        watch_list: f == Flavour::WatchList,
    };
    let patch = json!({"metadata": {"annotations": {"flannel.alpha.coreos.com/backend-type": "vxlan",
        "flannel.alpha.coreos.com/public-ip": "10.0.0.11"}}});
    let calls = vec![
        get(
            "own pod GET",
            format!("/api/v1/namespaces/kube-flannel/pods/{FLANNEL_POD}"),
            PB,
            Need::Offline,
        ),
        get(
            "node GET",
            format!("/api/v1/nodes/{NODE}"),
            PB,
            Need::Offline,
        ),
        write(
            "node status PATCH",
            "PATCH",
            format!("/api/v1/nodes/{NODE}/status"),
            "application/strategic-merge-patch+json",
            patch.to_string().into_bytes(),
            Need::Accepted,
        ),
    ];
    Script {
        name: format!("flannel {f:?}"),
        ua: ua.into(),
        informers: vec![i.make("/api/v1/nodes", None, None, false)],
        gate: false,
        calls,
    }
}

/// flannel's DaemonSet pod on the node.
pub const FLANNEL_POD: &str = "kube-flannel-ds-x7k2p";

/// Every client of one flavour, as they run together on a node (kube-proxy in both selector
/// styles, as 1.34/1.35 and 1.36 send them).
pub fn all(f: Flavour, d: &ApiDouble) -> Vec<Script> {
    vec![
        kubelet(f, d),
        kube_proxy(f, false),
        kube_proxy(f, true),
        coredns(f),
        flannel(f),
    ]
}
