//! Hostile upstream answers never corrupt the cache nor crash the hub: a list cut mid-body,
//! a watch cut mid-event, malformed JSON and protobuf with a 200, a 20 MiB object, and names with `/`, `..` and NUL.
//! A scripted TLS upstream serves exact bytes; after the cut the hub answers the last good state.
//! The first test runs the hub in-process; the second runs the `yurt hub` process and fills the
//! gaps (protobuf cuts, malformed events inside streams, 20 MiB in a list, an event and a
//! protobuf GET, hostile namespaces and request paths), then kill -9s it and opens the cache.

mod hubkit;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hubkit::{hub_config_for, node_cert, pki, request, HubUnderTest, RawResponse};
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::k8s::pb::{encode_envelope, encode_list};
use yurt::net::http::{full, Body, BoxError};
use yurt::net::shutdown::{self, Trigger};

#[derive(Clone)]
struct Answer {
    content_type: &'static str,
    body: Vec<u8>,
    /// Send this many bytes of `body`, then fail the connection.
    cut_at: Option<usize>,
}

type Script = Arc<Mutex<HashMap<String, Answer>>>;

fn respond(script: &Script, path: &str) -> hyper::Response<Body> {
    if path == "/readyz" {
        return hyper::Response::new(full("ok"));
    }
    let Some(a) = script.lock().expect("lock").get(path).cloned() else {
        if path.contains("watch=") {
            return hyper::Response::builder()
                .status(500)
                .body(full("no watch"))
                .expect("response");
        }
        panic!("unexpected request for {path}");
    };
    let body = match a.cut_at {
        None => full(a.body),
        Some(n) => {
            let head = Bytes::copy_from_slice(&a.body[..n]);
            // The head is flushed before the connection fails (hyper drops unflushed bytes).
            let frames = smol::stream::unfold(Some(head), |head| async move {
                match head {
                    Some(h) => Some((Ok(hyper::body::Frame::data(h)), None)),
                    None => {
                        smol::Timer::after(Duration::from_millis(200)).await;
                        Some((
                            Err::<hyper::body::Frame<Bytes>, BoxError>("cut".into()),
                            None,
                        ))
                    }
                }
            });
            http_body_util::StreamBody::new(frames).boxed_unsync()
        }
    };
    hyper::Response::builder()
        .header("content-type", a.content_type)
        .body(body)
        .expect("response")
}

fn fake(script: Script) -> (SocketAddr, Trigger) {
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    smol::spawn(yurt::net::http::serve(
        listener,
        Some(pki().server_config()),
        sd,
        Duration::ZERO,
        move |req, _| {
            let s = script.clone();
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            async move {
                let exact = s.lock().expect("lock").contains_key(&path);
                match exact {
                    true => respond(&s, &path),
                    false => respond(&s, path.split('?').next().unwrap_or("/")),
                }
            }
        },
    ))
    .detach();
    (addr, stop)
}

fn pod_json(name: &str, rv: u64) -> String {
    let name = serde_json::to_string(name).expect("json string");
    format!(
        r#"{{"metadata":{{"name":{name},"namespace":"default","resourceVersion":"{rv}"}},"spec":{{}}}}"#
    )
}

fn watch_line(t: &str, object: &str) -> Vec<u8> {
    format!("{{\"type\":\"{t}\",\"object\":{object}}}\n").into_bytes()
}

fn list_json(rv: u64, items: &[String]) -> Vec<u8> {
    format!(r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#, items.join(",")).into_bytes()
}

/// A bare protobuf Node message: ObjectMeta{name=1, resourceVersion=6}.
fn node_pb(name: &str, rv: &str) -> Vec<u8> {
    let mut meta = vec![0x0a, name.len() as u8];
    meta.extend_from_slice(name.as_bytes());
    meta.extend_from_slice(&[0x32, rv.len() as u8]);
    meta.extend_from_slice(rv.as_bytes());
    let mut msg = vec![0x0a, meta.len() as u8];
    msg.extend(meta);
    msg
}

fn get(hub: &HubUnderTest, path: &str, accept: &str) -> RawResponse {
    request(
        hub.proxy,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"),
    )
}

fn wait_health(hub: &HubUnderTest, addr: SocketAddr, healthy: bool) {
    let marker = format!(
        "node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{}\"}} {}",
        addr.port(),
        u8::from(healthy)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hub.metrics().contains(&marker) {
        assert!(Instant::now() < deadline, "never {marker}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn set(
    script: &Script,
    path: &str,
    content_type: &'static str,
    body: Vec<u8>,
    cut_at: Option<usize>,
) {
    script.lock().expect("lock").insert(
        path.into(),
        Answer {
            content_type,
            body,
            cut_at,
        },
    );
}

#[test]
fn hostile_answers_leave_the_last_good_state() {
    let script = Script::default();
    let (addr, stop) = fake(script.clone());
    let cfg = hub_config_for(&[addr], node_cert(), LbMode::RoundRobin);
    let cache = CacheConfig {
        agents: Agents::All,
        ..CacheConfig::in_dir(&cfg.cache_dir)
    };
    let hub = HubUnderTest::start_with_cache(cfg, cache);
    const JSON: &str = "application/json";
    const PB: &str = "application/vnd.kubernetes.protobuf";

    // Good states, JSON and protobuf; names with '/', '..' and NUL.
    let good = list_json(
        10,
        &[pod_json("a/b", 3), pod_json("..", 4), pod_json("x\0y", 5)],
    );
    set(&script, "/api/v1/pods", JSON, good.clone(), None);
    assert_eq!(get(&hub, "/api/v1/pods", JSON).status, 200);
    let nodes = encode_list("v1", "NodeList", "20", "", &[&node_pb("n1", "7")]);
    set(&script, "/api/v1/nodes", PB, nodes.clone(), None);
    assert_eq!(get(&hub, "/api/v1/nodes", PB).status, 200);
    let big = format!(r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"big","namespace":"default","resourceVersion":"30"}},"data":{{"k":"{}"}}}}"#, "x".repeat(20 << 20)).into_bytes();
    set(
        &script,
        "/api/v1/namespaces/default/configmaps/big",
        JSON,
        big.clone(),
        None,
    );
    assert_eq!(
        get(&hub, "/api/v1/namespaces/default/configmaps/big", JSON)
            .body
            .len(),
        big.len()
    );
    // A watch: one whole MODIFIED event, then the connection cut in the middle of the next one.
    let mut events = watch_line("MODIFIED", &pod_json("..", 11));
    let whole = events.len();
    events.extend(watch_line("ADDED", &pod_json("half", 12)));
    set(
        &script,
        "/api/v1/pods?watch=true",
        JSON,
        events,
        Some(whole + 20),
    );
    let _ = get(&hub, "/api/v1/pods?watch=true", JSON);
    wait_health(&hub, addr, true);
    std::thread::sleep(Duration::from_millis(500));

    // Hostile answers to the same requests.
    let newer = list_json(
        11,
        &[pod_json("p1", 6), pod_json("p2", 7), pod_json("p3", 8)],
    );
    set(
        &script,
        "/api/v1/pods",
        JSON,
        newer.clone(),
        Some(newer.len() / 2),
    );
    let _ = get(&hub, "/api/v1/pods", JSON); // cut mid-list
    wait_health(&hub, addr, true);
    for bad in [&b"{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"12\"},\"items\":[{\"metadata\":"[..], b"{\"items\":[1,2]}", b"not json at all"] {
        set(&script, "/api/v1/pods", JSON, bad.to_vec(), None);
        assert_eq!(get(&hub, "/api/v1/pods", JSON).status, 200);
    }
    for bad in [&b"k8s\0\x0a\xff\xff\xff"[..], b"k8s\0", b"\0\0\0\0garbage"] {
        set(&script, "/api/v1/nodes", PB, bad.to_vec(), None);
        assert_eq!(get(&hub, "/api/v1/nodes", PB).status, 200);
    }
    let wrong = encode_envelope("v1", "ConfigMap", b"\x0a\x03\x0a\x01");
    set(
        &script,
        "/api/v1/namespaces/default/configmaps/big",
        PB,
        wrong,
        None,
    );
    let _ = get(&hub, "/api/v1/namespaces/default/configmaps/big", PB);
    std::thread::sleep(Duration::from_millis(500));

    stop.fire();
    wait_health(&hub, addr, false);
    let pods = get(&hub, "/api/v1/pods", JSON);
    assert_eq!(pods.status, 200, "{}", String::from_utf8_lossy(&pods.body));
    let v = pods.json();
    let names: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(names, ["..", "a/b", "x\0y"]);
    assert_eq!(v["metadata"]["resourceVersion"], "11");
    assert_eq!(
        v["items"][0]["metadata"]["resourceVersion"], "11",
        "the whole event was applied"
    );
    assert_eq!(get(&hub, "/api/v1/nodes", PB).body, nodes);
    let cm = get(&hub, "/api/v1/namespaces/default/configmaps/big", JSON);
    assert_eq!((cm.status, cm.body.len()), (200, big.len()));
    assert_eq!(cm.body, big);
    let m = hub.metrics();
    assert!(
        m.contains("node_yurthub_cache_write_failures_total{reason=\"malformed\"}"),
        "{m}"
    );
}

/// A directory removed when dropped (also when the test fails).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn put_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    let mut n = bytes.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
}

/// A bare protobuf object: ObjectMeta{name=1, namespace=3, resourceVersion=6}, then `data` as
/// field 2 (a spec, as far as the cache cares).
fn obj_pb(ns: &str, name: &str, rv: u64, data: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    put_field(&mut meta, 1, name.as_bytes());
    put_field(&mut meta, 3, ns.as_bytes());
    put_field(&mut meta, 6, rv.to_string().as_bytes());
    let mut obj = Vec::new();
    put_field(&mut obj, 1, &meta);
    if !data.is_empty() {
        put_field(&mut obj, 2, data);
    }
    obj
}

fn frame_pb(t: yurt::k8s::watch::EventType, kind: &str, obj: &[u8]) -> Vec<u8> {
    yurt::k8s::pb::encode_watch_frame(t, &encode_envelope("v1", kind, obj))
}

fn cm_json(ns: &str, name: &str, rv: u64, data: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":{},"namespace":{},"resourceVersion":"{rv}"}},"data":{{"k":"{data}"}}}}"#,
        serde_json::to_string(name).expect("json"),
        serde_json::to_string(ns).expect("json")
    )
}

fn secret_json(name: &str, rv: u64, data: &str) -> String {
    format!(
        r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{rv}"}},"data":{{"k":"{data}"}}}}"#
    )
}

fn list_of(kind: &str, rv: u64, items: &[String]) -> Vec<u8> {
    format!(
        r#"{{"kind":"{kind}","apiVersion":"v1","metadata":{{"resourceVersion":"{rv}"}},"items":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn get_at(proxy: SocketAddr, path: &str, accept: &str) -> RawResponse {
    request(
        proxy,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"),
    )
}

fn metrics_at(server: SocketAddr) -> String {
    let r = request(
        server,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    String::from_utf8_lossy(&r.body).into_owned()
}

fn health_at(server: SocketAddr, addr: SocketAddr, healthy: bool) {
    let marker = format!(
        "node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{}\"}} {}",
        addr.port(),
        u8::from(healthy)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !metrics_at(server).contains(&marker) {
        assert!(Instant::now() < deadline, "never {marker}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Names and resourceVersions of a list body in either encoding.
fn listed(body: &[u8], pb: bool) -> (String, Vec<String>) {
    if pb {
        let env = yurt::k8s::pb::decode_envelope(body).expect("pb list");
        let l = yurt::k8s::pb::decode_list(env.raw).expect("pb list");
        let names = l
            .items
            .iter()
            .map(|i| {
                let m = yurt::k8s::pb::object_meta(i).expect("meta");
                format!("{}/{}@{}", m.namespace, m.name, m.resource_version)
            })
            .collect();
        return (l.resource_version.to_string(), names);
    }
    let v: serde_json::Value = serde_json::from_slice(body).expect("json list");
    let names = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            format!(
                "{}/{}@{}",
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap_or(""),
                m["resourceVersion"].as_str().unwrap_or("")
            )
        })
        .collect();
    (
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .into(),
        names,
    )
}

/// The same gaps filled through the real `yurt hub` process: protobuf lists cut mid-body and
/// watches cut mid-frame, malformed events in JSON and protobuf streams (nothing after them is
/// applied), malformed single objects, 20 MiB objects in a LIST, a watch event and a protobuf
/// GET, and names with `/`, `..` and NUL in namespaces, names and events. The process never
/// dies, the cloud-cut answers are the last good states, and after kill -9 the cache opens with
/// every object decoding.
#[test]
fn the_hub_process_survives_hostile_answers_and_its_cache_stays_whole() {
    use yurt::k8s::watch::EventType::{Added, Modified};
    const JSON: &str = "application/json";
    const PB: &str = "application/vnd.kubernetes.protobuf";
    let script = Script::default();
    let (addr, stop) = fake(script.clone());
    let root = TempDir(std::env::temp_dir().join(format!("yurt-hostile-{}", std::process::id())));
    std::fs::create_dir_all(&root.0).expect("dir");
    let kubeconfig = root.0.join("kubelet.conf");
    let node = pki().node_client("edge-node-1").expect("cert");
    let url = format!("https://127.0.0.1:{}", addr.port());
    std::fs::write(&kubeconfig, pki().kubeconfig(&url, &node)).expect("kubeconfig");
    let cache = root.0.join("cache");
    let mut hub = hubkit::spawn_yurt_logged(
        &[
            "hub",
            "--node-name=edge-node-1",
            &format!("--kubeconfig={}", kubeconfig.display()),
            &format!("--disk-cache-path={}", cache.display()),
            "--proxy-port=0",
            "--port=0",
            "--heartbeat-interval-seconds=1",
            "--heartbeat-timeout-seconds=1",
        ],
        "proxy listening on",
    );
    let proxy = hub.addr_after("proxy listening on http://");
    let server = hub.addr_after("server on http://");
    let big = "y".repeat(20 << 20);

    // A: protobuf pods with hostile namespaces and names; a watch event, then a frame cut in two.
    let pods: Vec<Vec<u8>> = [("n/s", "a/b", 3), ("..", "..", 4), ("\0", "x\0y", 5)]
        .iter()
        .map(|(ns, n, rv)| obj_pb(ns, n, *rv, b""))
        .collect();
    let refs: Vec<&[u8]> = pods.iter().map(Vec::as_slice).collect();
    set(
        &script,
        "/api/v1/pods",
        PB,
        encode_list("v1", "PodList", "10", "", &refs),
        None,
    );
    assert_eq!(get_at(proxy, "/api/v1/pods", PB).status, 200);
    let mut frames = frame_pb(Modified, "Pod", &obj_pb("..", "..", 11, b"v2"));
    let whole = frames.len();
    frames.extend(frame_pb(Added, "Pod", &obj_pb("n/s", "half", 12, b"zz")));
    set(
        &script,
        "/api/v1/pods?watch=true&resourceVersion=10",
        PB,
        frames,
        Some(whole + 9),
    );
    let _ = get_at(proxy, "/api/v1/pods?watch=true&resourceVersion=10", PB);
    health_at(server, addr, true);
    let newer = encode_list(
        "v1",
        "PodList",
        "20",
        "",
        &[&obj_pb("d", "p", 19, &[7; 4000])],
    );
    set(
        &script,
        "/api/v1/pods",
        PB,
        newer.clone(),
        Some(newer.len() / 2),
    ); // cut mid-list
    let _ = get_at(proxy, "/api/v1/pods", PB);
    health_at(server, addr, true);

    // B: a JSON watch with a malformed event in the middle: what follows is not applied.
    let cms = "/api/v1/namespaces/default/configmaps";
    set(
        &script,
        cms,
        JSON,
        list_of("ConfigMapList", 20, &[cm_json("default", "cm-1", 15, "a")]),
        None,
    );
    assert_eq!(get_at(proxy, cms, JSON).status, 200);
    let mut lines = watch_line("ADDED", &cm_json("default", "cm-2", 21, "b"));
    lines.extend(b"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"cm-1\",\"resourceVersion\":22},oops}\n");
    lines.extend(watch_line("ADDED", &cm_json("default", "cm-3", 23, "c")));
    let w = format!("{cms}?watch=true&resourceVersion=20");
    set(&script, &w, JSON, lines, None);
    let _ = get_at(proxy, &w, JSON);

    // C: a protobuf watch with a garbage frame in the middle.
    set(
        &script,
        "/api/v1/nodes",
        PB,
        encode_list("v1", "NodeList", "30", "", &[&obj_pb("", "n1", 29, b"")]),
        None,
    );
    assert_eq!(get_at(proxy, "/api/v1/nodes", PB).status, 200);
    let mut frames = frame_pb(Modified, "Node", &obj_pb("", "n1", 31, b"ok"));
    frames.extend(b"\0\0\0\x06\x0a\xff\xff\xff\xff\xff");
    frames.extend(frame_pb(Modified, "Node", &obj_pb("", "n1", 33, b"late")));
    set(
        &script,
        "/api/v1/nodes?watch=true&resourceVersion=30",
        PB,
        frames,
        None,
    );
    let _ = get_at(proxy, "/api/v1/nodes?watch=true&resourceVersion=30", PB);

    // D: 20 MiB objects in a LIST, in a watch event and in a protobuf GET.
    let bigs = "/api/v1/namespaces/big/configmaps";
    set(
        &script,
        bigs,
        JSON,
        list_of(
            "ConfigMapList",
            40,
            &[
                cm_json("big", "big-1", 39, &big),
                cm_json("big", "small", 38, "s"),
            ],
        ),
        None,
    );
    let first = get_at(proxy, bigs, JSON);
    assert_eq!(first.status, 200);
    assert!(first.body.len() > 20 << 20);
    let big_event = watch_line(
        "MODIFIED",
        &cm_json("big", "big-1", 41, &big.replace('y', "z")),
    );
    let w = format!("{bigs}?watch=true&resourceVersion=40");
    set(&script, &w, JSON, big_event, None);
    let _ = get_at(proxy, &w, JSON);
    let secret = encode_envelope("v1", "Secret", &obj_pb("big", "s", 42, big.as_bytes()));
    set(
        &script,
        "/api/v1/namespaces/big/secrets/s",
        PB,
        secret.clone(),
        None,
    );
    assert_eq!(
        get_at(proxy, "/api/v1/namespaces/big/secrets/s", PB).body,
        secret
    );

    // E: hostile GET paths ('/' inside a name, '..', NUL) are refused before anything is asked.
    for bad in [
        "/api/v1/namespaces/default/pods/a%2Fb",
        "/api/v1/namespaces/default/pods/..",
        "/api/v1/namespaces/../pods/x",
        "/api/v1/namespaces/default/pods/x%00y",
    ] {
        assert_eq!(get_at(proxy, bad, JSON).status, 400, "{bad}");
    }

    // F, G: a single object, then the same GET cut mid-body and answered with malformed JSON.
    let s1 = "/api/v1/namespaces/default/secrets/s1";
    let good = secret_json("s1", 60, "good");
    set(&script, s1, JSON, good.clone().into_bytes(), None);
    assert_eq!(get_at(proxy, s1, JSON).status, 200);
    let later = secret_json("s1", 61, "later");
    set(
        &script,
        s1,
        JSON,
        later.clone().into_bytes(),
        Some(later.len() / 2),
    );
    let _ = get_at(proxy, s1, JSON);
    health_at(server, addr, true);
    for bad in [
        r#"{"metadata":{"name":"s1","resourceVersion":"abc"}}"#,
        r#"{"metadata":{"name":"other","resourceVersion":"62"}}"#,
        "not json",
        "",
    ] {
        set(&script, s1, JSON, bad.as_bytes().to_vec(), None);
        let _ = get_at(proxy, s1, JSON);
    }
    std::thread::sleep(Duration::from_millis(1000));

    assert!(
        hub.child.0.try_wait().expect("wait").is_none(),
        "the hub died: {:#?}",
        hub.lines()
    );
    assert!(
        !hub.lines().iter().any(|l| l.contains("panicked")),
        "{:#?}",
        hub.lines()
    );

    // The cloud goes away: the last good states.
    stop.fire();
    health_at(server, addr, false);
    let (rv, names) = listed(&get_at(proxy, "/api/v1/pods", PB).body, true);
    assert_eq!(
        (rv.as_str(), names),
        (
            "11",
            vec![
                "\0/x\0y@5".to_string(),
                "../..@11".into(),
                "n/s/a/b@3".into()
            ]
        )
    );
    let (rv, names) = listed(&get_at(proxy, cms, JSON).body, false);
    assert_eq!(
        (rv.as_str(), names),
        (
            "21",
            vec!["default/cm-1@15".to_string(), "default/cm-2@21".into()]
        )
    );
    let (rv, names) = listed(&get_at(proxy, "/api/v1/nodes", PB).body, true);
    assert_eq!((rv.as_str(), names), ("31", vec!["/n1@31".to_string()]));
    let b = get_at(proxy, bigs, JSON);
    let (rv, names) = listed(&b.body, false);
    assert_eq!(
        (rv.as_str(), names),
        (
            "41",
            vec!["big/big-1@41".to_string(), "big/small@38".into()]
        )
    );
    assert!(
        b.body.len() > 20 << 20 && contains_bytes(&b.body, b"zzzz"),
        "the 20 MiB event"
    );
    assert_eq!(
        get_at(proxy, "/api/v1/namespaces/big/secrets/s", PB).body,
        secret
    );
    assert_eq!(get_at(proxy, s1, JSON).body, good.as_bytes());

    // kill -9: the cache opens and every object decodes.
    hub.child.0.kill().expect("kill -9");
    let _ = hub.child.0.wait();
    let store = yurt::store::Store::open(&cache, &yurt::store::StoreConfig::default())
        .expect("the cache opens");
    let views = store.views().expect("views");
    assert_eq!(views.len(), 6, "{views:#?}");
    for (view, meta) in views {
        let (_, objects) = store.list(&view).expect("objects").expect("view");
        assert_eq!(objects.len() as u64, meta.count);
        for o in objects {
            let enc = match meta.encoding {
                yurt::store::Encoding::Json => yurt::k8s::meta::Encoding::Json,
                yurt::store::Encoding::Protobuf => yurt::k8s::meta::Encoding::Protobuf,
            };
            let m = yurt::k8s::meta::meta(enc, o.bytes()).expect("every object decodes");
            assert_eq!((m.namespace, m.name), (o.namespace, o.name));
        }
    }
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
