//! DESIGN.md, "Offline semantics": non-resource GETs (/version, discovery) are answered offline
//! from what was stored online — the same bytes and Content-Type for the same path and Accept.

mod cachekit;
mod hubkit;
mod support;

use std::time::Duration;

use cachekit::*;

const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

#[test]
fn version_and_discovery_are_answered_offline_as_last_seen_online() {
    let mut r = rig(None);
    let asks = [
        ("/version", JSON),
        ("/api", JSON),
        ("/api/v1", JSON),
        ("/apis", JSON),
        ("/apis", AGGREGATED),
        ("/apis/apps/v1", JSON),
    ];
    let mut online = Vec::new();
    for (path, accept) in asks {
        let a = r.get(path, "kubelet", accept);
        assert_eq!(
            a.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(!a.body.is_empty(), "{path}");
        online.push((path, accept, a));
    }
    std::thread::sleep(Duration::from_millis(300)); // writers finish
    r.cut();
    for (path, accept, want) in &online {
        let got = r.get(path, "kubelet", accept);
        assert_eq!(
            got.status,
            200,
            "{path} {accept}: {}",
            String::from_utf8_lossy(&got.body)
        );
        assert_eq!(got.body, want.body, "{path} {accept}");
        assert_eq!(
            got.header("content-type"),
            want.header("content-type"),
            "{path}"
        );
    }
    // Another component, another Accept, or a path never asked: no invented answer.
    for (path, ua, accept) in [
        ("/version", "kube-proxy", JSON),
        ("/api/v1", "kubelet", PB),
        ("/apis/batch/v1", "kubelet", JSON),
    ] {
        let got = r.get(path, ua, accept);
        assert_eq!(got.status, 503, "{ua} {path} {accept}");
    }
}
