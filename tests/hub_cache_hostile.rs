//! Hostile upstream answers never corrupt the cache nor crash the hub: a list cut mid-body,
//! a watch cut mid-event, malformed JSON and protobuf with a 200, a 20 MiB object, and names with `/`, `..` and NUL.
//! A scripted TLS upstream serves exact bytes; after the cut the hub answers the last good state.

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
    // (Newer than the list: an event at or below the view's resourceVersion is already in it.)
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
