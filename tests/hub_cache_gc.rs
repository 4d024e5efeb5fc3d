//! GC at start, through the hub against the API double: once the cloud is reachable the hub
//! drops cached objects that no longer exist upstream (single-object views that answer 404 or
//! came back with a new uid, pods no longer bound to the node, a resource whose API is gone)
//! and leaves every view whose request failed (500, 503, 403, timeout, a cut or undecodable
//! body, a connection reset, the cloud unreachable at start). A scripted front end in front of
//! the double injects the failures into the GC's own requests only.

mod hubkit;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hubkit::{hub_config_for, node_cert, pki, request, HubUnderTest, RawResponse};
use serde_json::{json, Value};
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::net::http::{full, Body, BoxError};
use yurt::net::shutdown::{self, Trigger};

const NODE: &str = "edge-node-1";
const JSON: &str = "application/json";
const PB: &str = "application/vnd.kubernetes.protobuf";

/// A failure the front end gives to GC requests for one path.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Status(u16),
    /// Answers only after the GC's timeout.
    Hang,
    /// 200, half a body, then the connection fails.
    Cut,
    /// The connection fails before any answer.
    Reset,
    /// 200 with bytes that are not JSON.
    Garbage,
}

#[derive(Default)]
struct Script {
    /// path → (fault, whether it hits metadata-only requests or full ones).
    faults: HashMap<String, (Fault, bool)>,
    /// path → JSON body answered 200 to anyone (an API the double does not have).
    fixed: HashMap<String, Vec<u8>>,
}

type Shared = Arc<Mutex<Script>>;

fn is_gc(req: &hyper::Request<hyper::body::Incoming>) -> bool {
    req.headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("cache gc"))
}

fn faulty(f: Fault) -> hyper::Response<Body> {
    let failing = |head: &'static [u8], wait: u64| {
        let frames = smol::stream::unfold(Some(head), move |head| async move {
            match head {
                Some(h) if !h.is_empty() => {
                    Some((Ok(hyper::body::Frame::data(Bytes::from_static(h))), None))
                }
                _ => {
                    smol::Timer::after(Duration::from_millis(wait)).await;
                    Some((
                        Err::<hyper::body::Frame<Bytes>, BoxError>("cut".into()),
                        None,
                    ))
                }
            }
        });
        http_body_util::StreamBody::new(frames).boxed_unsync()
    };
    let b = hyper::Response::builder().header("content-type", JSON);
    match f {
        Fault::Status(code) => b.status(code).body(full(format!(
            r#"{{"kind":"Status","apiVersion":"v1","status":"Failure","code":{code}}}"#
        ))),
        Fault::Garbage => b.body(full("<html>proxy error</html>")),
        Fault::Cut => b.body(failing(
            br#"{"kind":"PartialObjectMetadata","metadata":{"na"#,
            200,
        )),
        Fault::Reset => b.body(failing(b"", 0)),
        Fault::Hang => unreachable!("answered by the handler"),
    }
    .expect("response")
}

/// The double behind a front end that applies the script; serves on `port` (0 = any).
fn front(double: &ApiDouble, script: Shared, port: u16) -> (SocketAddr, Trigger) {
    let listener = smol::block_on(smol::net::TcpListener::bind(("127.0.0.1", port))).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    let sd2 = sd.clone();
    smol::spawn(yurt::net::http::serve(
        listener,
        Some(pki().server_config()),
        sd,
        Duration::ZERO,
        move |req, info| {
            let (d, sd, script) = (d.clone(), sd2.clone(), script.clone());
            async move {
                let path = req.uri().path().to_string();
                let meta_only = req
                    .headers()
                    .get("accept")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("PartialObjectMetadata"));
                let (fault, fixed) = {
                    let s = script.lock().expect("lock");
                    let fault = s
                        .faults
                        .get(&path)
                        .filter(|(_, m)| *m == meta_only)
                        .map(|(f, _)| *f);
                    (fault, s.fixed.get(&path).cloned())
                };
                match (fault, is_gc(&req)) {
                    (Some(Fault::Hang), true) => {
                        smol::Timer::after(Duration::from_secs(4)).await;
                        yurt::apidouble::handler::handle(d, req, info, sd).await
                    }
                    (Some(f), true) => faulty(f),
                    _ => match fixed {
                        Some(body) => hyper::Response::builder()
                            .header("content-type", JSON)
                            .body(full(body))
                            .expect("response"),
                        None => yurt::apidouble::handler::handle(d, req, info, sd).await,
                    },
                }
            }
        },
    ))
    .detach();
    (addr, stop)
}

/// A directory removed when dropped (also when the test fails).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn create(d: &ApiDouble, collection: &str, obj: Value) -> Value {
    d.create(collection, obj).expect("create")
}

fn pod(name: &str, ns: &str, node: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": ns}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}})
}

struct Hub {
    hub: HubUnderTest,
}

impl Hub {
    fn start(upstream: SocketAddr, dir: &Path) -> Hub {
        let mut cfg = hub_config_for(&[upstream], node_cert(), LbMode::RoundRobin);
        cfg.cache_dir = dir.to_path_buf();
        let cache = CacheConfig {
            agents: Agents::All,
            gc_timeout: Duration::from_secs(1),
            ..CacheConfig::in_dir(dir)
        };
        Hub {
            hub: HubUnderTest::start_with_cache(cfg, cache),
        }
    }

    fn get(&self, path: &str, ua: &str, accept: &str) -> RawResponse {
        request(
            self.hub.proxy,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"),
        )
    }

    /// `GET /v1/cache`: (component, resource, namespace, name, labels, fields) → (items, rv).
    fn views(&self) -> HashMap<(String, String, String, String), (u64, u64)> {
        let r = request(
            self.hub.server,
            "GET /v1/cache HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let v = r.json();
        v["views"]
            .as_array()
            .expect("views")
            .iter()
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                let sel = format!("{}|{}", s("label_selector"), s("field_selector"));
                (
                    (
                        s("component"),
                        s("resource"),
                        format!("{}/{}", s("namespace"), s("name")),
                        sel,
                    ),
                    (
                        v["items"].as_u64().unwrap_or(0),
                        v["resource_version"].as_u64().unwrap_or(0),
                    ),
                )
            })
            .collect()
    }

    fn wait_metric(&self, marker: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let m = self.hub.metrics();
            if m.contains(marker) {
                return m;
            }
            assert!(Instant::now() < deadline, "never {marker}:\n{m}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn key(
    component: &str,
    resource: &str,
    ns_name: &str,
    selectors: &str,
) -> (String, String, String, String) {
    (
        component.into(),
        resource.into(),
        ns_name.into(),
        selectors.into(),
    )
}

fn names(body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).expect("json list");
    let mut n: Vec<String> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    n.sort();
    n
}

const SECRETS: [&str; 9] = [
    "s-gone",
    "s-kept",
    "s-500",
    "s-503",
    "s-403",
    "s-hang",
    "s-cut",
    "s-reset",
    "s-garbage",
];
const WIDGETS: &str = "/apis/example.com/v1/widgets";

#[test]
fn gc_at_start_drops_what_is_gone_upstream_and_leaves_what_it_could_not_check() {
    let double = ApiDouble::sandbox(NODE);
    let script = Shared::default();
    let (addr, stop) = front(&double, script.clone(), 0);
    let dir = TempDir(std::env::temp_dir().join(format!("yurt-gc-test-{}", std::process::id())));
    let dir = &dir.0;
    let _ = std::fs::remove_dir_all(dir);

    // Online: the upstream has these objects and kubelet reads them through the hub.
    for s in SECRETS {
        create(
            &double,
            "/api/v1/namespaces/default/secrets",
            json!({"metadata": {"name": s}, "data": {}}),
        );
    }
    create(
        &double,
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "cm-gone"}}),
    );
    for p in ["p-gone", "p-moved", "p-same"] {
        create(
            &double,
            "/api/v1/namespaces/default/pods",
            pod(p, "default", NODE),
        );
    }
    for (ns, p) in [
        ("faulty", "f-1"),
        ("faulty", "f-2"),
        ("norelist", "n-1"),
        ("norelist", "n-2"),
    ] {
        create(
            &double,
            &format!("/api/v1/namespaces/{ns}/pods"),
            pod(p, ns, "other-node"),
        );
    }
    script.lock().expect("lock").fixed.insert(
        WIDGETS.into(),
        br#"{"kind":"WidgetList","apiVersion":"example.com/v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"w","resourceVersion":"4"}}]}"#.to_vec(),
    );
    let hub = Hub::start(addr, dir);
    let on_node = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}");
    let reads: Vec<(String, &str, &str)> = SECRETS
        .iter()
        .map(|s| {
            (
                format!("/api/v1/namespaces/default/secrets/{s}"),
                "kubelet",
                JSON,
            )
        })
        .chain([
            (
                "/api/v1/namespaces/default/configmaps/cm-gone".to_string(),
                "kubelet",
                JSON,
            ),
            (
                "/api/v1/namespaces/default/pods/p-gone".into(),
                "kubelet",
                PB,
            ),
            (
                "/api/v1/namespaces/default/pods/p-moved".into(),
                "kubelet",
                JSON,
            ),
            (
                "/api/v1/namespaces/default/pods/p-same".into(),
                "kubelet",
                PB,
            ),
            (on_node.clone(), "kubelet", JSON),
            (on_node.clone(), "kube-proxy", PB),
            (
                format!("/api/v1/nodes?fieldSelector=metadata.name%3D{NODE}"),
                "kubelet",
                JSON,
            ),
            ("/api/v1/namespaces/faulty/pods".into(), "kubelet", JSON),
            ("/api/v1/namespaces/norelist/pods".into(), "kubelet", JSON),
            (WIDGETS.into(), "kubelet", JSON),
        ])
        .collect();
    for (path, ua, accept) in &reads {
        let r = hub.get(path, ua, accept);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.views().len() < reads.len() {
        assert!(
            Instant::now() < deadline,
            "not all views cached: {:#?}",
            hub.views()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = hub.views();
    drop(hub);

    // While the hub is down the upstream changes.
    for s in SECRETS.iter().filter(|s| **s != "s-kept") {
        double
            .delete(&format!("/api/v1/namespaces/default/secrets/{s}"))
            .expect("delete");
    }
    double
        .delete("/api/v1/namespaces/default/configmaps/cm-gone")
        .expect("delete");
    double
        .delete("/api/v1/namespaces/default/pods/p-gone")
        .expect("delete");
    double
        .delete("/api/v1/namespaces/default/pods/p-moved")
        .expect("delete");
    create(
        &double,
        "/api/v1/namespaces/default/pods",
        pod("p-moved", "default", "other-node"),
    );
    create(
        &double,
        "/api/v1/namespaces/default/pods",
        pod("p-new", "default", NODE),
    );
    double
        .delete("/api/v1/namespaces/faulty/pods/f-1")
        .expect("delete");
    double
        .delete("/api/v1/namespaces/norelist/pods/n-1")
        .expect("delete");
    {
        let mut s = script.lock().expect("lock");
        s.fixed.clear(); // the widgets API is gone: the double answers 404
        for (name, f) in [
            ("s-500", Fault::Status(500)),
            ("s-503", Fault::Status(503)),
            ("s-403", Fault::Status(403)),
            ("s-hang", Fault::Hang),
            ("s-cut", Fault::Cut),
            ("s-reset", Fault::Reset),
            ("s-garbage", Fault::Garbage),
        ] {
            s.faults.insert(
                format!("/api/v1/namespaces/default/secrets/{name}"),
                (f, true),
            );
        }
        s.faults.insert(
            "/api/v1/namespaces/faulty/pods".into(),
            (Fault::Status(500), true),
        );
        s.faults.insert(
            "/api/v1/namespaces/norelist/pods".into(),
            (Fault::Status(500), false),
        );
    }

    // Restart with the cloud unreachable: nothing is collected, the cache answers.
    stop.fire();
    let port = addr.port();
    let hub = Hub::start(addr, dir);
    hub.wait_metric(
        &format!("node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{port}\"}} 0"),
        Duration::from_secs(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(hub
        .hub
        .metrics()
        .contains("node_yurthub_cache_gc_passes_total 0"));
    assert_eq!(hub.views(), before, "an unreachable cloud collects nothing");
    let offline = hub.get("/api/v1/namespaces/default/secrets/s-gone", "kubelet", JSON);
    assert_eq!(offline.status, 200, "served from the cache");

    // The cloud comes back: one pass.
    let (addr2, stop2) = front(&double, script.clone(), port);
    assert_eq!(addr2, addr);
    let m = hub.wait_metric(
        "node_yurthub_cache_gc_passes_total 1",
        Duration::from_secs(30),
    );
    let after = hub.views();
    // A GET's own view: the component's for protobuf, `<component>#json` for JSON.
    let gone = |ns_name: &str, resource: &str| key("kubelet#json", resource, ns_name, "|");
    let gone_pb = |ns_name: &str, resource: &str| key("kubelet", resource, ns_name, "|");
    for (k, why) in [
        (gone("default/s-gone", "secrets"), "404"),
        (gone("default/cm-gone", "configmaps"), "404"),
        (gone_pb("default/p-gone", "pods"), "404 (protobuf view)"),
        (gone("default/p-moved", "pods"), "new uid"),
        (key("kubelet", "widgets", "/", "|"), "API gone"),
    ] {
        assert!(before.contains_key(&k), "{k:?} was cached");
        assert!(!after.contains_key(&k), "{k:?} should be dropped ({why})");
    }
    for s in SECRETS.iter().filter(|s| **s != "s-gone") {
        let k = gone(&format!("default/{s}"), "secrets");
        assert_eq!(after.get(&k), before.get(&k), "{s} is left as it was");
    }
    let same = gone_pb("default/p-same", "pods");
    assert_eq!(after.get(&same), before.get(&same));
    for ns in ["faulty", "norelist"] {
        let k = key("kubelet", "pods", &format!("{ns}/"), "|");
        assert_eq!(
            after.get(&k),
            before.get(&k),
            "{ns} pods left with both pods"
        );
        assert_eq!(after.get(&k).map(|v| v.0), Some(2));
    }
    let node_view = key("kubelet", "nodes", "/", &format!("|metadata.name={NODE}"));
    assert_eq!(
        after.get(&node_view),
        before.get(&node_view),
        "nothing gone: untouched"
    );
    let node_relists = double
        .requests()
        .iter()
        .filter(|r| {
            r.user_agent.contains("cache gc")
                && r.path_and_query.starts_with("/api/v1/nodes")
                && !r.accept.contains("PartialObjectMetadata")
        })
        .count();
    assert_eq!(
        node_relists, 0,
        "a view that misses nothing is not relisted"
    );

    // The node's pods: relisted, exactly the upstream's list now, in each view's encoding.
    let direct: Vec<String> = {
        let mut n: Vec<String> = double
            .list("/api/v1/pods")
            .expect("list")
            .iter()
            .filter(|p| p["spec"]["nodeName"] == NODE)
            .map(|p| {
                format!(
                    "{}/{}",
                    p["metadata"]["namespace"].as_str().unwrap_or(""),
                    p["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        n.sort();
        n
    };
    assert!(
        direct.contains(&"default/p-new".to_string())
            && !direct.contains(&"default/p-gone".to_string())
    );
    for component in ["kubelet", "kube-proxy"] {
        let k = key(component, "pods", "/", &format!("|spec.nodeName={NODE}"));
        let (items, rv) = after[&k];
        assert_eq!(items as usize, direct.len(), "{component}");
        assert!(
            rv > before[&k].1,
            "{component}: relisted at a newer resourceVersion"
        );
    }
    for (reason, n) in [
        ("status_500", 3),
        ("status_503", 1),
        ("status_403", 1),
        ("timeout", 1),
        ("undecodable", 2),
        ("transport", 1),
    ] {
        let line = format!("node_yurthub_cache_gc_left_views_total{{reason=\"{reason}\"}} {n}\n");
        assert!(m.contains(&line), "{line}in\n{m}");
    }
    for (component, resource, views, objects) in [
        ("kubelet", "secrets", 1, 1),
        ("kubelet", "configmaps", 1, 1),
        ("kubelet", "pods", 2, 4),
        ("kube-proxy", "pods", 0, 2),
        ("kubelet", "widgets", 1, 1),
    ] {
        for (what, n) in [("views", views), ("objects", objects)] {
            let line = format!("node_yurthub_cache_gc_dropped_{what}_total{{component=\"{component}\",resource=\"{resource}\"}} {n}\n");
            assert!(m.contains(&line), "{line}in\n{m}");
        }
    }

    // Offline, the cache gives the upstream's last word.
    stop2.fire();
    hub.wait_metric(
        &format!("node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{port}\"}} 0"),
        Duration::from_secs(10),
    );
    let pods = hub.get(&on_node, "kubelet", JSON);
    assert_eq!((pods.status, names(&pods.body)), (200, direct));
    assert_ne!(
        hub.get("/api/v1/namespaces/default/secrets/s-gone", "kubelet", JSON)
            .status,
        200
    );
    assert_eq!(
        hub.get("/api/v1/namespaces/default/secrets/s-500", "kubelet", JSON)
            .status,
        200
    );
    drop(hub);
}
