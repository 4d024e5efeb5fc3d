//! The hub's cache against the API double over TLS: what was listed (and watched) online is
//! answered offline with the same items and resourceVersions, JSON and protobuf; offline watches
//! stay open until timeoutSeconds; WatchList replays the view then its bookmark; a restarted hub
//! serves from the cache at once.

mod hubkit;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hubkit::{hub_config_for, node_cert, pki, request, HubUnderTest, RawResponse};
use serde_json::json;
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::k8s::pb::{decode_envelope, decode_list};
use yurt::net::shutdown::{self, Trigger};

const NODE: &str = "edge-node-1";
const PB: &str = "application/vnd.kubernetes.protobuf,application/json";
const JSON: &str = "application/json";

struct Rig {
    double: ApiDouble,
    addr: SocketAddr,
    stop: Option<Trigger>,
    hub: HubUnderTest,
    direct: support::Client,
}

fn serve(double: &ApiDouble) -> (SocketAddr, Trigger) {
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    (addr, stop)
}

fn rig(cache_dir: Option<PathBuf>) -> Rig {
    let double = ApiDouble::sandbox(NODE);
    let (addr, stop) = serve(&double);
    let mut cfg = hub_config_for(&[addr], node_cert(), LbMode::RoundRobin);
    if let Some(d) = cache_dir {
        cfg.cache_dir = d;
    }
    let cache = CacheConfig {
        agents: Agents::All,
        ..CacheConfig::in_dir(&cfg.cache_dir)
    };
    let hub = HubUnderTest::start_with_cache(cfg, cache);
    let admin = pki()
        .client("kubernetes-admin", Some("system:masters"))
        .expect("admin");
    let direct = support::Client::new(addr, &pki().ca_pem, Some(&admin));
    Rig {
        double,
        addr,
        stop: Some(stop),
        hub,
        direct,
    }
}

impl Rig {
    fn get(&self, path: &str, ua: &str, accept: &str) -> RawResponse {
        request(
            self.hub.proxy,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"),
        )
    }

    fn direct(&self, path: &str, accept: &str) -> support::Reply {
        smol::block_on(self.direct.get(path, &[("Accept", accept)])).expect("direct answer")
    }

    /// Stops the double and waits until the hub has marked it unhealthy.
    fn cut(&mut self) {
        if let Some(t) = self.stop.take() {
            t.fire();
        }
        let marker = format!(
            "node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{}\"}} 0",
            self.addr.port()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.hub.metrics().contains(&marker) {
            assert!(Instant::now() < deadline, "the hub never noticed the cut");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// (list RV, [(namespace/name, rv, item bytes)]) of a List body in either encoding.
fn items(body: &[u8], accept: &str) -> (String, Vec<(String, String, Vec<u8>)>) {
    if accept == JSON {
        let v: serde_json::Value = serde_json::from_slice(body).expect("json list");
        let items = v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                let m = &i["metadata"];
                (
                    format!(
                        "{}/{}",
                        m["namespace"].as_str().unwrap_or(""),
                        m["name"].as_str().unwrap_or("")
                    ),
                    m["resourceVersion"].as_str().unwrap_or("").to_string(),
                    serde_json::to_vec(i).expect("item"),
                )
            })
            .collect();
        return (
            v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            items,
        );
    }
    let env = decode_envelope(body).expect("pb envelope");
    let list = decode_list(env.raw).expect("pb list");
    let items = list
        .items
        .iter()
        .map(|i| {
            let m = yurt::k8s::pb::object_meta(i).expect("meta");
            (
                format!("{}/{}", m.namespace, m.name),
                m.resource_version.to_string(),
                i.to_vec(),
            )
        })
        .collect();
    (list.resource_version.to_string(), items)
}

/// The kubelet-, kube-proxy-style requests and two selectors on one path.
fn paths() -> Vec<String> {
    vec![
        format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}&limit=500&resourceVersion=0"),
        format!("/api/v1/nodes?fieldSelector=metadata.name%3D{NODE}&limit=500&resourceVersion=0"),
        "/api/v1/services?labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&limit=500&resourceVersion=0".into(),
        "/api/v1/pods?labelSelector=tier%3Dcontrol-plane".into(),
        "/api/v1/pods".into(),
        "/api/v1/namespaces/kube-system/pods?limit=2".into(),
    ]
}

#[test]
fn offline_lists_equal_the_last_direct_lists_in_json_and_protobuf() {
    let mut r = rig(None);
    let mut want = Vec::new();
    for (ua, accept) in [("kubelet", PB), ("kube-proxy", JSON)] {
        for p in paths() {
            let online = r.get(&p, ua, accept);
            assert_eq!(online.status, 200, "{p}");
            want.push((
                ua,
                accept,
                p.clone(),
                items(&r.direct(&p, accept).body, accept),
            ));
        }
    }
    std::thread::sleep(Duration::from_millis(300)); // writers finish
    r.cut();
    for (ua, accept, p, direct) in want {
        let off = r.get(&p, ua, accept);
        assert_eq!(
            off.status,
            200,
            "{ua} {p}: {}",
            String::from_utf8_lossy(&off.body)
        );
        let got = items(&off.body, accept);
        if p.contains("limit=2") {
            // Paginated online: the offline answer is the whole collection.
            assert!(got.1.len() >= direct.1.len(), "{p}");
            continue;
        }
        assert!(
            !direct.1.is_empty() || p.contains("tier"),
            "{p} lists something"
        );
        assert_eq!(got, direct, "{ua} {accept} {p}");
    }
    // Per-component isolation and unseen views.
    let other = r.get("/api/v1/pods", "coredns", JSON);
    assert_eq!(
        other.status,
        503,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    assert!(String::from_utf8_lossy(&other.body).contains("never cached"));
    // An unseen view served from a broader one by metadata fields.
    let narrowed = r.get(
        "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dnope",
        "kube-proxy",
        JSON,
    );
    assert_eq!(
        (narrowed.status, items(&narrowed.body, JSON).1.len()),
        (200, 0)
    );
    // Protobuf-only view refused to a JSON-only client.
    let refused = r.get(&paths()[0], "kubelet", JSON);
    assert_eq!(refused.status, 406);
    let m = r.hub.metrics();
    assert!(m.contains("node_yurthub_cache_offline_answers_total{component=\"kubelet\",resource=\"pods\",code=\"200\"}"), "{m}");
}

/// Reads a streamed answer until `done(bytes)` or EOF; returns the raw bytes.
fn stream_until(addr: SocketAddr, req: String, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    while !done(&buf) {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn changes_seen_by_a_watch_are_in_the_offline_answer_and_deletes_are_gone() {
    let mut r = rig(None);
    let victim = r
        .double
        .list("/api/v1/namespaces/kube-system/pods")
        .expect("pods")
        .into_iter()
        .find(|p| p["spec"]["nodeName"] == NODE)
        .expect("a pod on the node");
    let victim = victim["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let p = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}");
    let mut readers = Vec::new();
    for (ua, accept) in [("kubelet", PB), ("kube-proxy", JSON)] {
        let list = r.get(&p, ua, accept);
        let (rv, _) = items(&list.body, accept);
        let req = format!("GET {p}&watch=true&resourceVersion={rv}&timeoutSeconds=3 HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
        let hub = r.hub.proxy;
        // Read to the clean end at timeoutSeconds, so the tee sees every whole event.
        readers.push(std::thread::spawn(move || {
            stream_until(hub, req, |_| false)
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "added-later", "namespace": "default"},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]}});
    r.double
        .create("/api/v1/namespaces/default/pods", pod)
        .expect("create");
    r.double
        .delete(&format!("/api/v1/namespaces/kube-system/pods/{victim}"))
        .expect("delete");
    for t in readers {
        let seen = t.join().expect("reader");
        assert!(
            contains(&seen, "added-later"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let direct: Vec<_> = [("kubelet", PB), ("kube-proxy", JSON)]
        .iter()
        .map(|(_, a)| items(&r.direct(&p, a).body, a))
        .collect();
    r.cut();
    for ((ua, accept), want) in [("kubelet", PB), ("kube-proxy", JSON)]
        .into_iter()
        .zip(direct)
    {
        let (_, got) = items(&r.get(&p, ua, accept).body, accept);
        let names: Vec<_> = got.iter().map(|i| i.0.clone()).collect();
        assert!(
            names.contains(&"default/added-later".to_string()),
            "{ua}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.ends_with(&format!("/{victim}"))),
            "{ua}: {names:?}"
        );
        let want: Vec<_> = want.1.iter().map(|i| (i.0.clone(), i.1.clone())).collect();
        let got: Vec<_> = got.iter().map(|i| (i.0.clone(), i.1.clone())).collect();
        assert_eq!(got, want, "{ua}");
    }
}

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
fn a_hub_restarted_while_the_cloud_is_down_serves_from_the_cache_at_once() {
    let dir = std::env::temp_dir().join(format!("yurt-cache-restart-{}", std::process::id()));
    let p = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}");
    let mut r = rig(Some(dir.clone()));
    let online = r.get(&p, "kubelet", PB);
    assert_eq!(online.status, 200);
    let want = items(&r.direct(&p, PB).body, PB);
    std::thread::sleep(Duration::from_millis(300));
    r.cut();
    r.hub.stop();
    let cfg = hub_config_for(&[r.addr], node_cert(), LbMode::RoundRobin);
    let cfg = yurt::hub::config::HubConfig {
        cache_dir: dir.clone(),
        ..cfg
    };
    let t = Instant::now();
    let hub = HubUnderTest::start_with_cache(
        cfg,
        CacheConfig {
            agents: Agents::All,
            ..CacheConfig::in_dir(&dir)
        },
    );
    let off = request(hub.proxy, format!("GET {p} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/1\r\nAccept: {PB}\r\nConnection: close\r\n\r\n"));
    let took = t.elapsed();
    assert_eq!(off.status, 200, "{}", String::from_utf8_lossy(&off.body));
    assert_eq!(items(&off.body, PB), want);
    assert!(took < Duration::from_secs(2), "{took:?}");
    let views = request(
        hub.server,
        "GET /v1/cache HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .json();
    assert!(
        views["views"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["component"] == "kubelet"
                && v["resource"] == "pods"
                && v["encoding"] == "protobuf")),
        "{views}"
    );
    let mut hub = hub;
    hub.stop();
    std::thread::sleep(Duration::from_millis(200));
    let ls = std::process::Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(["hub", "cache", "ls", "--disk-cache-path"])
        .arg(&dir)
        .output()
        .expect("yurt hub cache ls");
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.status.success(),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("kubelet\tv1/pods\t\t\t\tspec.nodeName=edge-node-1\t"))
        .unwrap_or_else(|| panic!("no kubelet pods view in {text}"));
    assert!(
        line.contains(&format!("\t{}\t{}\tprotobuf\t", want.1.len(), want.0)),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn send(r: &Rig, method: &str, path: &str, ct: &str, body: &str) -> RawResponse {
    request(
        r.hub.proxy,
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: application/json\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
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
