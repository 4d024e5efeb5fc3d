//! Offline answers beyond LIST: watches that stay open until timeoutSeconds or the cloud is
//! back, WatchList replay + bookmark, accepted lease/node writes, echoed events, refused
//! deletes, and paginated lists cached only once complete.

mod cachekit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use cachekit::*;
use hubkit::{hub_config_for, node_cert, pki, request, HubUnderTest};
use yurt::apidouble::ApiDouble;
use yurt::hub::config::LbMode;
use yurt::net::shutdown;

#[test]
fn offline_watch_stays_open_until_timeout_and_watch_list_replays_then_bookmarks() {
    let mut r = rig(None);
    let wl = format!("/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D{NODE}&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=2&watch=true");
    let req = |ua: &str, accept: &str, path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n")
    };
    let online_json = stream_until(r.hub.proxy, req("kubelet", JSON, &wl), |b| {
        contains(b, "initial-events-end")
    });
    let online_pb = stream_until(r.hub.proxy, req("kube-proxy", PB, &wl), |b| {
        contains(b, "initial-events-end")
    });
    assert!(
        contains(&online_json, "initial-events-end") && contains(&online_pb, "initial-events-end")
    );
    std::thread::sleep(Duration::from_millis(300));
    let direct = items(
        &r.direct(
            &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}"),
            JSON,
        )
        .body,
        JSON,
    );
    r.cut();

    let t = Instant::now();
    let w = r.get(
        "/api/v1/pods?watch=true&timeoutSeconds=2&resourceVersion=5",
        "kubelet",
        JSON,
    );
    let took = t.elapsed();
    assert_eq!(w.status, 200);
    assert!(w.body.is_empty(), "{}", String::from_utf8_lossy(&w.body));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );

    let replay = r.get(&wl, "kubelet", JSON);
    assert_eq!(replay.status, 200);
    let text = String::from_utf8_lossy(&replay.body).into_owned();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    let (last, added) = lines.split_last().expect("events");
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(
        last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(
        last["object"]["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
        Some(direct.0.clone())
    );
    let names: Vec<String> = added
        .iter()
        .map(|e| {
            assert_eq!(
                (e["type"].as_str(), e["object"]["kind"].as_str()),
                (Some("ADDED"), Some("Pod"))
            );
            format!(
                "{}/{}",
                e["object"]["metadata"]["namespace"].as_str().unwrap_or(""),
                e["object"]["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let want: Vec<String> = direct.1.iter().map(|i| i.0.clone()).collect();
    assert_eq!(names, want);

    let replay_pb = r.get(&wl, "kube-proxy", PB);
    assert_eq!(replay_pb.status, 200);
    let mut buf = &replay_pb.body[..];
    let mut types = Vec::new();
    while let Some((e, n)) = yurt::k8s::pb::decode_watch_frame(buf).expect("frame") {
        types.push(e.event_type.as_str().to_string());
        buf = &buf[n..];
    }
    assert_eq!(types.len(), want.len() + 1);
    assert_eq!(types.last().map(String::as_str), Some("BOOKMARK"));
}

#[test]
fn offline_writes_lease_and_node_status_accepted_events_echoed_deletes_refused() {
    let mut r = rig(None);
    let node = format!("/api/v1/nodes/{NODE}");
    assert_eq!(r.get(&node, "kubelet", JSON).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    r.cut();
    let lease = format!(
        r#"{{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{{"name":"{NODE}","namespace":"kube-node-lease","resourceVersion":"3"}},"spec":{{"holderIdentity":"{NODE}"}}}}"#
    );
    let put = send(
        &r,
        "PUT",
        &format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}"),
        JSON,
        &lease,
    );
    assert_eq!((put.status, put.body.clone()), (200, lease.into_bytes()));
    let patch = send(
        &r,
        "PATCH",
        &format!("{node}/status"),
        "application/strategic-merge-patch+json",
        r#"{"status":{}}"#,
    );
    assert_eq!(
        patch.status,
        200,
        "{}",
        String::from_utf8_lossy(&patch.body)
    );
    assert_eq!(
        (
            patch.json()["kind"].as_str(),
            patch.json()["metadata"]["name"].as_str()
        ),
        (Some("Node"), Some(NODE))
    );
    let event =
        r#"{"kind":"Event","apiVersion":"v1","metadata":{"name":"e1","namespace":"default"}}"#;
    let post = send(&r, "POST", "/api/v1/namespaces/default/events", JSON, event);
    assert_eq!(
        (post.status, post.body.clone()),
        (201, event.as_bytes().to_vec())
    );
    let del = send(
        &r,
        "DELETE",
        "/api/v1/namespaces/default/pods/web-0",
        JSON,
        "",
    );
    assert_eq!(del.status, 403);
    assert!(String::from_utf8_lossy(&del.body)
        .contains("delete is not supported while the cloud is unreachable"));
}

#[test]
fn paginated_lists_are_cached_only_once_the_last_page_arrived() {
    let mut r = rig(None);
    let base = "/api/v1/pods?limit=2";
    let first = r.get(base, "flanneld", JSON);
    let (_, page) = items(&first.body, JSON);
    assert_eq!(page.len(), 2);
    let mut cont = first.json()["metadata"]["continue"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(!cont.is_empty(), "the double pages");
    // Only the first page of another component's list: never committed.
    assert_eq!(r.get(base, "coredns", JSON).status, 200);
    let mut all = page;
    while !cont.is_empty() {
        let next = r.get(&format!("{base}&continue={cont}"), "flanneld", JSON);
        all.extend(items(&next.body, JSON).1);
        cont = next.json()["metadata"]["continue"]
            .as_str()
            .unwrap_or("")
            .to_string();
    }
    let direct = items(&r.direct("/api/v1/pods", JSON).body, JSON);
    assert_eq!(all, direct.1);
    std::thread::sleep(Duration::from_millis(300));
    r.cut();
    let off = r.get(base, "flanneld", JSON);
    assert_eq!(off.status, 200);
    assert_eq!(items(&off.body, JSON), direct);
    assert_eq!(r.get(base, "coredns", JSON).status, 503);
}

#[test]
fn an_offline_watch_ends_cleanly_when_the_cloud_is_back() {
    let double = ApiDouble::sandbox(NODE);
    let (addr, stop) = serve(&double);
    let cfg = hub_config_for(&[addr], node_cert(), LbMode::RoundRobin);
    let hub = HubUnderTest::start(cfg);
    let mut r = Rig {
        double,
        addr,
        stop: Some(stop),
        hub,
        direct: support::Client::new(addr, &pki().ca_pem, None),
    };
    r.cut();
    let proxy = r.hub.proxy;
    let t = Instant::now();
    let reader = std::thread::spawn(move || {
        request(proxy, "GET /api/v1/pods?watch=true&timeoutSeconds=60 HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/1\r\nConnection: close\r\n\r\n")
    });
    std::thread::sleep(Duration::from_millis(500));
    // The double comes back on a new port; the hub only knows the old one, so restart it there.
    let listener = smol::block_on(smol::net::TcpListener::bind(addr)).expect("rebind");
    let (_stop2, sd) = shutdown::channel();
    let d = r.double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    let w = reader.join().expect("reader");
    assert_eq!(w.status, 200);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn a_watch_ahead_of_the_cached_list_leaves_the_view_as_listed() {
    // The kubelet's LIST at rv1 is cached. The double then changes (a pod deleted) and a watch
    // starts from the later rv2, as one does after a LIST at rv2 whose commit never landed. Its
    // events must not go on top of the state at rv1: the view would claim a resourceVersion past
    // rv2 while still holding the deleted pod.
    let mut r = rig(None);
    let path = "/api/v1/namespaces/default/pods";
    let listed = r.get(path, "kubelet", JSON);
    assert_eq!(listed.status, 200);
    let at_rv1 = items(&listed.body, JSON);
    assert!(
        at_rv1.1.iter().any(|(k, _, _)| k == "default/web-0"),
        "{at_rv1:?}"
    );
    std::thread::sleep(Duration::from_millis(300)); // the LIST is committed
    r.double
        .delete("/api/v1/namespaces/default/pods/web-0")
        .expect("delete web-0");
    let rv2 = r.double.resource_version();
    let proxy = r.hub.proxy;
    let watch = std::thread::spawn(move || {
        request(proxy, format!("GET {path}?watch=true&resourceVersion={rv2}&timeoutSeconds=2 HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/1\r\nAccept: {JSON}\r\nConnection: close\r\n\r\n"))
    });
    std::thread::sleep(Duration::from_millis(300));
    let late = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "late", "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]}});
    r.double.create(path, late).expect("create late");
    let w = watch.join().expect("watch");
    assert!(
        String::from_utf8_lossy(&w.body).contains("\"late\""),
        "the watch saw the new pod: {}",
        String::from_utf8_lossy(&w.body)
    );
    std::thread::sleep(Duration::from_millis(300));
    r.cut();
    let offline = r.get(path, "kubelet", JSON);
    assert_eq!(offline.status, 200);
    let got = items(&offline.body, JSON);
    let keys = |rv: &str, items: &[(String, String, Vec<u8>)]| {
        let k: Vec<String> = items
            .iter()
            .map(|(k, irv, _)| format!("{k}@{irv}"))
            .collect();
        (rv.to_string(), k)
    };
    assert_eq!(
        keys(&got.0, &got.1),
        keys(&at_rv1.0, &at_rv1.1),
        "the view is still the LIST at rv1"
    );
    assert_eq!(got, at_rv1);
}
