//! Tests: query strings exactly as kubelet, kube-proxy, CoreDNS and flannel send them (reference/node-clients.md).

use super::tests_resource::parsed;
use super::RequestInfo;

/// The list options of a parsed request, in one comparable value.
#[derive(Debug, PartialEq, Eq, Default)]
struct Opts<'a> {
    verb: &'a str,
    label: Option<&'a str>,
    field: Option<&'a str>,
    rv: Option<&'a str>,
    rv_match: Option<&'a str>,
    timeout: Option<u64>,
    limit: Option<u64>,
    cont: Option<&'a str>,
    initial_events: bool,
    bookmarks: bool,
}

fn opts(info: &RequestInfo) -> Opts<'_> {
    Opts {
        verb: info.verb_str(),
        label: info.label_selector.as_deref(),
        field: info.field_selector.as_deref(),
        rv: info.resource_version.as_deref(),
        rv_match: info.resource_version_match.as_deref(),
        timeout: info.timeout_seconds,
        limit: info.limit,
        cont: info.continue_token.as_deref(),
        initial_events: info.send_initial_events,
        bookmarks: info.allow_watch_bookmarks,
    }
}

/// A WatchList (client-go 1.35+ informer start) with this field and label selector.
fn watch_list<'a>(field: Option<&'a str>, label: Option<&'a str>, timeout: u64) -> Opts<'a> {
    Opts {
        verb: "watch",
        label,
        field,
        rv_match: Some("NotOlderThan"),
        timeout: Some(timeout),
        initial_events: true,
        bookmarks: true,
        ..Opts::default()
    }
}

fn check_watch_list(request: &str, want: Opts<'_>) {
    let info = parsed(request);
    assert_eq!(opts(&info), want, "{request}");
    assert!(info.is_watch_list(), "{request}");
}

const WL: &str = "allowWatchBookmarks=true";
const WL_TAIL: &str = "resourceVersionMatch=NotOlderThan&sendInitialEvents=true";

#[test]
fn kubelet_watch_lists() {
    let node = format!("GET /api/v1/nodes?{WL}&fieldSelector=metadata.name%3Dedge-1&{WL_TAIL}&timeout=7m23s&timeoutSeconds=443&watch=true");
    check_watch_list(&node, watch_list(Some("metadata.name=edge-1"), None, 443));
    let pods = format!("GET /api/v1/pods?{WL}&fieldSelector=spec.nodeName%3Dedge-1&{WL_TAIL}&timeoutSeconds=512&watch=true");
    check_watch_list(&pods, watch_list(Some("spec.nodeName=edge-1"), None, 512));
    let services = format!("GET /api/v1/services?{WL}&fieldSelector=spec.clusterIP%21%3DNone&{WL_TAIL}&timeout=5m1s&timeoutSeconds=301&watch=true");
    check_watch_list(
        &services,
        watch_list(Some("spec.clusterIP!=None"), None, 301),
    );
    let secret = format!("GET /api/v1/namespaces/kube-system/secrets?{WL}&fieldSelector=metadata.name%3Dcoredns-token&{WL_TAIL}&timeout=45m7s&timeoutSeconds=2707&watch=true");
    check_watch_list(
        &secret,
        watch_list(Some("metadata.name=coredns-token"), None, 2707),
    );
    assert_eq!(parsed(&secret).namespace, "kube-system");
}

#[test]
fn watch_list_after_the_first_sync_carries_a_resource_version() {
    let request = format!("GET /api/v1/nodes?{WL}&fieldSelector=metadata.name%3Dedge-1&resourceVersion=48213&{WL_TAIL}&timeout=9m59s&timeoutSeconds=599&watch=true");
    let want = Opts {
        rv: Some("48213"),
        ..watch_list(Some("metadata.name=edge-1"), None, 599)
    };
    check_watch_list(&request, want);
}

#[test]
fn kube_proxy_1_34_and_1_35_combined_selector() {
    let label =
        "%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name";
    let decoded = Some("!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name");
    // 1.34: WatchList off, so LIST then WATCH.
    let list = parsed(&format!("GET /api/v1/services?fieldSelector=spec.clusterIP%21%3DNone&labelSelector={label}&limit=500&resourceVersion=0"));
    let want = Opts {
        verb: "list",
        label: decoded,
        field: Some("spec.clusterIP!=None"),
        rv: Some("0"),
        limit: Some(500),
        ..Opts::default()
    };
    assert_eq!(opts(&list), want);
    let watch = parsed(&format!("GET /apis/discovery.k8s.io/v1/endpointslices?{WL}&labelSelector={label}&resourceVersion=77&timeout=6m40s&timeoutSeconds=400&watch=true"));
    let want = Opts {
        verb: "watch",
        label: decoded,
        rv: Some("77"),
        timeout: Some(400),
        bookmarks: true,
        ..Opts::default()
    };
    assert_eq!(opts(&watch), want);
    assert!(!watch.is_watch_list());
    // 1.35: WatchList on.
    let request = format!("GET /apis/networking.k8s.io/v1/servicecidrs?{WL}&labelSelector={label}&{WL_TAIL}&timeout=8m20s&timeoutSeconds=500&watch=true");
    check_watch_list(&request, watch_list(None, decoded, 500));
}

#[test]
fn kube_proxy_1_36_split_selectors() {
    let services = format!("GET /api/v1/services?{WL}&fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%21service.kubernetes.io%2Fservice-proxy-name&{WL_TAIL}&timeout=5m0s&timeoutSeconds=300&watch=true");
    let want = watch_list(
        Some("spec.clusterIP!=None"),
        Some("!service.kubernetes.io/service-proxy-name"),
        300,
    );
    check_watch_list(&services, want);
    let slices = format!("GET /apis/discovery.k8s.io/v1/endpointslices?{WL}&labelSelector=%21service.kubernetes.io%2Fheadless&{WL_TAIL}&timeout=5m0s&timeoutSeconds=300&watch=true");
    check_watch_list(
        &slices,
        watch_list(None, Some("!service.kubernetes.io/headless"), 300),
    );
    let cidrs = format!("GET /apis/networking.k8s.io/v1/servicecidrs?{WL}&{WL_TAIL}&timeout=5m0s&timeoutSeconds=300&watch=true");
    check_watch_list(&cidrs, watch_list(None, None, 300));
}

#[test]
fn coredns_and_flannel() {
    let phase =
        "status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed%2Cstatus.phase%21%3DUnknown";
    let pods = format!("GET /api/v1/pods?{WL}&fieldSelector={phase}&{WL_TAIL}&timeout=5m30s&timeoutSeconds=330&watch=true");
    let want = "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown";
    check_watch_list(&pods, watch_list(Some(want), None, 330));
    // flannel: raw REST node informer, LIST then WATCH, all nodes.
    let list = parsed("GET /api/v1/nodes?limit=500&resourceVersion=0");
    let want = Opts {
        verb: "list",
        rv: Some("0"),
        limit: Some(500),
        ..Opts::default()
    };
    assert_eq!(opts(&list), want);
    let watch = parsed("GET /api/v1/nodes?allowWatchBookmarks=true&resourceVersion=9&timeoutSeconds=333&watch=true");
    assert_eq!(watch.verb_str(), "watch");
    assert_eq!(watch.timeout_seconds, Some(333));
}

#[test]
fn paging_and_exact_reads() {
    let info = parsed("GET /api/v1/pods?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ%3D%3D&limit=500&resourceVersion=120&resourceVersionMatch=Exact");
    assert_eq!(
        info.continue_token.as_deref(),
        Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==")
    );
    assert_eq!(info.resource_version_match.as_deref(), Some("Exact"));
    assert_eq!(info.limit, Some(500));
}

#[test]
fn form_decoding() {
    let info = parsed(
        "GET /api/v1/pods?labelSelector=app+in+%28a%2Cb%29%2Ctier%3D%3Dweb&fieldSelector=a%2Bb%3Dc",
    );
    assert_eq!(
        info.label_selector.as_deref(),
        Some("app in (a,b),tier==web")
    );
    assert_eq!(info.field_selector.as_deref(), Some("a+b=c"));
    let info = parsed("GET /api/v1/pods?label%53elector=x%3Dy&&limit=7&limit=9&fieldSelector");
    assert_eq!(
        info.label_selector.as_deref(),
        Some("x=y"),
        "keys are decoded too"
    );
    assert_eq!(info.limit, Some(7), "the first value wins");
    assert_eq!(
        info.field_selector, None,
        "an empty selector is no selector"
    );
    let info =
        parsed("GET /api/v1/pods?resourceVersion=&labelSelector=&continue=&timeoutSeconds=%2B30");
    assert_eq!(
        opts(&info),
        Opts {
            verb: "list",
            timeout: Some(30),
            ..Opts::default()
        }
    );
}

#[test]
fn bookmarks_and_initial_events_flags() {
    let info = parsed("GET /api/v1/pods?watch=1&sendInitialEvents=false&allowWatchBookmarks=0");
    assert!(info.watch && !info.send_initial_events && !info.allow_watch_bookmarks);
    assert!(!info.is_watch_list());
    let info = parsed("GET /api/v1/pods?sendInitialEvents=true&allowWatchBookmarks");
    assert!(!info.watch && info.send_initial_events && info.allow_watch_bookmarks);
    assert!(
        !info.is_watch_list(),
        "sendInitialEvents without watch is no WatchList"
    );
}

#[test]
fn options_are_read_for_every_resource_verb() {
    let info = parsed("GET /apis/storage.k8s.io/v1/csinodes/edge-1?resourceVersion=0");
    assert_eq!(
        (info.verb_str(), info.resource_version.as_deref()),
        ("get", Some("0"))
    );
    let info = parsed(
        "DELETE /apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%3Dedge-1",
    );
    assert_eq!(info.field_selector.as_deref(), Some("spec.nodeName=edge-1"));
}
