//! Tests: every resource URL shape and every verb from every method.

use super::{parse, RequestInfo};

pub(super) fn parsed(request: &str) -> RequestInfo {
    let (method, target) = request.split_once(' ').expect("\"METHOD target\"");
    let info = parse(method, target).unwrap_or_else(|e| panic!("{request}: {e}"));
    if let Err(broken) = info.check_invariants() {
        panic!("{request}: {broken}: {info:?}");
    }
    info
}

/// Checks rows of `"METHOD target => verb group/version namespace resource name subresource"`;
/// core groups are written `v1`, empty parts `-`.
fn check_rows(rows: &[&str]) {
    assert!(!rows.is_empty());
    for row in rows {
        let (request, want) = row.split_once(" => ").expect("row has =>");
        let info = parsed(request);
        let shown = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        let gv = if info.group.is_empty() {
            info.version.clone()
        } else {
            format!("{}/{}", info.group, info.version)
        };
        let got = [
            info.verb_str().to_owned(),
            gv,
            shown(&info.namespace),
            info.resource.clone(),
            shown(&info.name),
            shown(&info.subresource),
        ]
        .join(" ");
        assert_eq!(got, want, "{request}");
        assert!(info.is_resource, "{request}");
        let prefix = if info.group.is_empty() { "api" } else { "apis" };
        assert_eq!(info.api_prefix, prefix, "{request}");
        assert_eq!(info.watch, info.verb_str() == "watch", "{request}");
    }
}

#[test]
fn core_and_named_groups() {
    check_rows(&[
        "GET /api/v1/pods => list v1 - pods - -",
        "GET /api/v1/namespaces/default/pods => list v1 default pods - -",
        "GET /api/v1/namespaces/default/pods/web-0 => get v1 default pods web-0 -",
        "GET /apis/apps/v1/deployments => list apps/v1 - deployments - -",
        "GET /apis/apps/v1/namespaces/kube-system/deployments/coredns => get apps/v1 kube-system deployments coredns -",
        "GET /apis/discovery.k8s.io/v1/endpointslices => list discovery.k8s.io/v1 - endpointslices - -",
        "GET /apis/networking.k8s.io/v1/servicecidrs => list networking.k8s.io/v1 - servicecidrs - -",
        "GET /apis/node.k8s.io/v1/runtimeclasses => list node.k8s.io/v1 - runtimeclasses - -",
        "GET /apis/storage.k8s.io/v1/csidrivers => list storage.k8s.io/v1 - csidrivers - -",
        "GET /apis/example.com/v1alpha1/namespaces/a/widgets/w => get example.com/v1alpha1 a widgets w -",
        "GET /api/v1/pods/ => list v1 - pods - -",
        "GET /api/v1/namespaces/%6Bube-system/pods => list v1 kube-system pods - -",
    ]);
}

#[test]
fn cluster_scoped_resources() {
    check_rows(&[
        "GET /api/v1/nodes => list v1 - nodes - -",
        "GET /api/v1/nodes/edge-1 => get v1 - nodes edge-1 -",
        "POST /api/v1/nodes => create v1 - nodes - -",
        "PATCH /api/v1/nodes/edge-1/status?timeout=10s => patch v1 - nodes edge-1 status",
        "GET /apis/storage.k8s.io/v1/csinodes/edge-1?resourceVersion=0 => get storage.k8s.io/v1 - csinodes edge-1 -",
        "PUT /apis/storage.k8s.io/v1/csinodes/edge-1 => update storage.k8s.io/v1 - csinodes edge-1 -",
        "POST /apis/certificates.k8s.io/v1/certificatesigningrequests => create certificates.k8s.io/v1 - certificatesigningrequests - -",
        "POST /apis/authentication.k8s.io/v1/tokenreviews => create authentication.k8s.io/v1 - tokenreviews - -",
        "POST /apis/authorization.k8s.io/v1/subjectaccessreviews => create authorization.k8s.io/v1 - subjectaccessreviews - -",
    ]);
}

#[test]
fn namespaces_are_the_resource_itself() {
    check_rows(&[
        "GET /api/v1/namespaces => list v1 - namespaces - -",
        "GET /api/v1/namespaces/kube-system => get v1 - namespaces kube-system -",
        "PUT /api/v1/namespaces/kube-system/status => update v1 - namespaces kube-system status",
        "PUT /api/v1/namespaces/kube-system/finalize => update v1 - namespaces kube-system finalize",
        "DELETE /api/v1/namespaces/old => delete v1 - namespaces old -",
        "GET /api/v1/namespaces/status/pods => list v1 status pods - -",
        "GET /api/v1/namespaces/watch/pods => list v1 watch pods - -",
    ]);
}

#[test]
fn subresources() {
    check_rows(&[
        "GET /api/v1/namespaces/a/pods/p/status => get v1 a pods p status",
        "PATCH /api/v1/namespaces/a/pods/p/status => patch v1 a pods p status",
        "POST /api/v1/namespaces/a/pods/p/exec?command=sh&container=c&stdin=true&stdout=true&tty=true => create v1 a pods p exec",
        "GET /api/v1/namespaces/a/pods/p/exec?command=ls&command=-l&stdout=true => get v1 a pods p exec",
        "POST /api/v1/namespaces/a/pods/p/attach?stdin=true => create v1 a pods p attach",
        "POST /api/v1/namespaces/a/pods/p/portforward?ports=8080 => create v1 a pods p portforward",
        "GET /api/v1/namespaces/a/pods/p/log?container=c&follow=true => get v1 a pods p log",
        "POST /api/v1/namespaces/default/serviceaccounts/default/token => create v1 default serviceaccounts default token",
        "POST /api/v1/namespaces/a/pods/p/eviction => create v1 a pods p eviction",
        "POST /api/v1/namespaces/a/pods/p/binding => create v1 a pods p binding",
        "POST /api/v1/namespaces/a/bindings => create v1 a bindings - -",
        "GET /api/v1/namespaces/a/services/https:web:443/proxy/healthz/ready => get v1 a services https:web:443 proxy",
        "POST /api/v1/namespaces/a/pods/p:8080/proxy/api/a%2Fb => create v1 a pods p:8080 proxy",
        "GET /api/v1/nodes/edge-1/proxy/metrics/cadvisor => get v1 - nodes edge-1 proxy",
        "GET /apis/apps/v1/namespaces/a/deployments/d/scale => get apps/v1 a deployments d scale",
    ]);
}

#[test]
fn proxy_subresource_keeps_the_rest_of_the_path() {
    let info = parsed("GET /api/v1/nodes/edge-1/proxy/metrics/cadvisor/");
    assert_eq!(info.path, "/api/v1/nodes/edge-1/proxy/metrics/cadvisor/");
    let info = parsed("GET /api/v1/namespaces/a/pods/p/proxy/x%20y%2Fz");
    assert_eq!(info.path, "/api/v1/namespaces/a/pods/p/proxy/x y/z");
}

#[test]
fn watch_and_proxy_path_prefixes() {
    check_rows(&[
        "GET /api/v1/watch/pods => watch v1 - pods - -",
        "GET /api/v1/watch/namespaces/x/pods => watch v1 x pods - -",
        "GET /api/v1/watch/namespaces/x/pods/p => watch v1 x pods p -",
        "GET /api/v1/watch/namespaces => watch v1 - namespaces - -",
        "GET /api/v1/watch/namespaces/x => watch v1 - namespaces x -",
        "GET /apis/apps/v1/watch/deployments?watch=false => watch apps/v1 - deployments - -",
        "POST /api/v1/watch/nodes => watch v1 - nodes - -",
        "GET /api/v1/proxy/namespaces/x/pods/p/metrics => proxy v1 x pods p -",
        "GET /api/v1/proxy/nodes/edge-1 => proxy v1 - nodes edge-1 -",
    ]);
}

#[test]
fn every_verb_from_every_method() {
    check_rows(&[
        "GET /api/v1/namespaces/a/configmaps/c => get v1 a configmaps c -",
        "HEAD /api/v1/namespaces/a/configmaps/c => get v1 a configmaps c -",
        "GET /api/v1/namespaces/a/configmaps => list v1 a configmaps - -",
        "HEAD /api/v1/namespaces/a/configmaps => list v1 a configmaps - -",
        "GET /api/v1/namespaces/a/configmaps?watch=true => watch v1 a configmaps - -",
        "HEAD /api/v1/namespaces/a/configmaps?watch=1 => watch v1 a configmaps - -",
        "GET /api/v1/namespaces/a/configmaps/c?watch=true => get v1 a configmaps c -",
        "POST /api/v1/namespaces/a/configmaps => create v1 a configmaps - -",
        "POST /api/v1/namespaces/a/configmaps?watch=true => create v1 a configmaps - -",
        "PUT /api/v1/namespaces/a/configmaps/c => update v1 a configmaps c -",
        "PUT /api/v1/namespaces/a/configmaps => update v1 a configmaps - -",
        "PATCH /api/v1/namespaces/a/configmaps/c => patch v1 a configmaps c -",
        "DELETE /api/v1/namespaces/a/configmaps/c => delete v1 a configmaps c -",
        "DELETE /api/v1/namespaces/a/configmaps => deletecollection v1 a configmaps - -",
        "DELETE /apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3Dedge-1 => deletecollection resource.k8s.io/v1 - resourceslices - -",
        "DELETE /api/v1/namespaces/a/pods/p?gracePeriodSeconds=0 => delete v1 a pods p -",
        "PUT /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1?timeout=10s => update coordination.k8s.io/v1 kube-node-lease leases edge-1 -",
        "POST /api/v1/namespaces/default/events => create v1 default events - -",
        "PATCH /api/v1/namespaces/default/events/edge-1.17f0 => patch v1 default events edge-1.17f0 -",
    ]);
}

#[test]
fn watch_parameter_values_follow_apimachinery() {
    let cases = [
        ("watch=true", true),
        ("watch=1", true),
        ("watch=TRUE", true),
        ("watch=yes", true),
        ("watch=", true),
        ("watch", true),
        ("watch=0", false),
        ("watch=false", false),
        ("watch=False", false),
        ("watch=false&watch=true", false),
        ("watch=true&watch=false", true),
        ("Watch=true", false),
        ("fieldSelector=metadata.name%3Dedge-1&watch=true", true),
    ];
    for (query, watch) in cases {
        let info = parsed(&format!("GET /api/v1/nodes?{query}"));
        assert_eq!(info.watch, watch, "{query}");
        assert_eq!(
            info.verb_str(),
            if watch { "watch" } else { "list" },
            "{query}"
        );
        assert_eq!(
            info.name, "",
            "a field selector does not fill name: {query}"
        );
    }
}
