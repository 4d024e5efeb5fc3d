//! A LIST far bigger than every buffer on its way (the writer's 1 MiB lag, store chunk,
//! memtable): 3,000 pods of 2 KiB (6 MiB) are cached whole through the hub, relisted after
//! changes upstream, and answered offline equal to the last direct LIST, in protobuf and JSON.

mod cachekit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use cachekit::*;
use hubkit::request;
use serde_json::Value;

const PODS: usize = 3_000;

/// Items of the view `component` holds for the kubelet-style pods LIST, per `GET /v1/cache`.
fn cached_items(r: &Rig, component: &str) -> Option<(u64, u64)> {
    let resp = request(
        r.hub.server,
        "GET /v1/cache HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let v: Value = serde_json::from_slice(&resp.body).ok()?;
    v["views"].as_array()?.iter().find_map(|view| {
        let ours = view["component"] == component
            && view["resource"] == "pods"
            && view["field_selector"] == format!("spec.nodeName={NODE}").as_str();
        ours.then(|| {
            (
                view["items"].as_u64().unwrap_or(0),
                view["resource_version"].as_u64().unwrap_or(0),
            )
        })
    })
}

fn wait_cached(r: &Rig, component: &str, count: usize, rv: &str) {
    let rv: u64 = rv.parse().expect("numeric resourceVersion");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = cached_items(r, component);
        if got == Some((count as u64, rv)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{component}: cache holds {got:?}, want {count} items at {rv}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_list_bigger_than_every_buffer_is_cached_whole_and_relisted() {
    let mut r = rig(None);
    yurt::apidouble::seed::pods(&r.double, NODE, PODS, 2048);
    let path = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}");
    let clients = [("kubelet", PB), ("kube-proxy", JSON)];
    for (ua, accept) in clients {
        let online = r.get(&path, ua, accept);
        assert_eq!(online.status, 200);
        let (rv, listed) = items(&online.body, accept);
        assert!(listed.len() > PODS, "{} items", listed.len());
        wait_cached(&r, ua, listed.len(), &rv);
    }
    // Changes upstream, then a relist: a new generation with some objects new, some changed,
    // some gone, most unchanged.
    for i in 1..=50 {
        r.double
            .delete(&format!("/api/v1/namespaces/default/pods/pod-{i}"))
            .expect("delete");
    }
    for i in 51..=80 {
        let p = format!("/api/v1/namespaces/default/pods/pod-{i}");
        let mut pod = r.double.get(&p).expect("pod");
        pod["metadata"]["labels"]["changed"] = Value::from("yes");
        r.double.update(&p, pod).expect("update");
    }
    let mut want = Vec::new();
    for (ua, accept) in clients {
        let online = r.get(&path, ua, accept);
        assert_eq!(online.status, 200);
        let (rv, listed) = items(&online.body, accept);
        wait_cached(&r, ua, listed.len(), &rv);
        want.push((ua, accept, items(&r.direct(&path, accept).body, accept)));
    }
    r.cut();
    for (ua, accept, direct) in want {
        let off = r.get(&path, ua, accept);
        assert_eq!(off.status, 200, "{ua}");
        let got = items(&off.body, accept);
        assert_eq!(got.1.len(), direct.1.len(), "{ua}: same number of items");
        assert!(
            got == direct,
            "{ua} {accept}: offline answer differs from the direct LIST"
        );
    }
}

/// A writer past its lag paces the client rather than losing the answer: with a lag of one
/// byte every frame waits for the writer, and the LIST is still cached whole and equal.
#[test]
fn a_writer_past_its_lag_paces_the_client_and_keeps_the_answer() {
    let r = rig_with(None, |c| c.writer_lag = 1);
    yurt::apidouble::seed::pods(&r.double, NODE, 300, 2048);
    let path = format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}");
    let online = r.get(&path, "kubelet", JSON);
    assert_eq!(online.status, 200);
    let direct = r.direct(&path, JSON);
    let (rv, listed) = items(&online.body, JSON);
    assert_eq!((rv.clone(), listed.clone()), items(&direct.body, JSON));
    wait_cached(&r, "kubelet", listed.len(), &rv);
    let metrics = request(
        r.hub.server,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(!text.contains("abandoned_responses_total{"), "{text}");
    // Operators see that the disk held the client back, and for how long.
    let paced: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("node_yurthub_cache_paced_total{component=\"kubelet\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no paced counter for kubelet: {text}"));
    assert!(paced > 0, "{text}");
    assert!(
        text.contains("node_yurthub_cache_paced_seconds_total{component=\"kubelet\"} "),
        "{text}"
    );
}
