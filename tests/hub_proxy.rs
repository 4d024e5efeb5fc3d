//! The hub as a transparent, failover-aware proxy: forwarding, identity, streaming, health, bad input.

mod hubkit;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hubkit::*;
use yurt::hub::config::LbMode;
use yurt::hub::kubeconfig::Credential;

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kubelet/v1.36.2 (linux/arm64) kubernetes/abcdef1\r\n{extra}Connection: close\r\n\r\n")
}

#[test]
fn forwards_method_path_query_and_headers_with_the_hub_identity() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let path = "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-node-1&limit=500&resourceVersion=0";
    let r = request(
        hub.proxy,
        get(
            path,
            "Accept: application/vnd.kubernetes.protobuf,application/json\r\nX-Custom: 1\r\n",
        ),
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let seen: Seen = serde_json::from_slice(&r.body).expect("echo json");
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, path);
    assert_eq!(
        seen.header("accept"),
        Some("application/vnd.kubernetes.protobuf,application/json")
    );
    assert_eq!(seen.header("x-custom"), Some("1"));
    assert_eq!(
        seen.header("user-agent"),
        Some("kubelet/v1.36.2 (linux/arm64) kubernetes/abcdef1")
    );
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{}", up.addr.port()).as_str())
    );
    assert!(
        seen.client_cert,
        "no Authorization: the hub's client certificate is used"
    );
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.header("connection"),
        None,
        "hop-by-hop headers are not forwarded"
    );
    assert_eq!(
        r.header("x-upstream"),
        Some("a"),
        "response headers come back"
    );
}

#[test]
fn a_request_with_its_own_credential_keeps_it_and_gets_no_client_cert() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let r = request(
        hub.proxy,
        get(
            "/api/v1/namespaces/default/pods/p",
            "Authorization: Bearer pod-token\r\n",
        ),
    );
    let seen: Seen = serde_json::from_slice(&r.body).expect("echo json");
    assert_eq!(seen.header("authorization"), Some("Bearer pod-token"));
    assert!(!seen.client_cert);
}

#[test]
fn a_token_identity_is_sent_as_bearer() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(
        &[&up],
        Credential::Token("hub-token".into()),
        LbMode::RoundRobin,
    ));
    let seen: Seen =
        serde_json::from_slice(&request(hub.proxy, get("/version", "")).body).expect("echo json");
    assert_eq!(seen.header("authorization"), Some("Bearer hub-token"));
    assert!(!seen.client_cert);
}

#[test]
fn request_bodies_stream_through_unchanged() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let body = vec![b'x'; 3 * 1024 * 1024 + 7];
    let mut raw = format!(
        "PUT /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-node-1?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.kubernetes.protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    let seen: Seen = serde_json::from_slice(&request(hub.proxy, raw).body).expect("echo json");
    assert_eq!((seen.method.as_str(), seen.body_len), ("PUT", body.len()));
    assert_eq!(
        seen.header("content-type"),
        Some("application/vnd.kubernetes.protobuf")
    );
}

#[test]
fn watch_events_arrive_one_by_one_without_buffering() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let mut s = TcpStream::connect(hub.proxy).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(get("/stream", "").as_bytes()).expect("write");
    let mut seen = Vec::new();
    for i in 0..3 {
        let event = format!("{{\"type\":\"ADDED\",\"object\":{{\"n\":{i}}}}}\n");
        smol::block_on(up.stream_tx.send(event.clone().into())).expect("send");
        // The event must reach the client before the upstream sends the next one.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !String::from_utf8_lossy(&seen).contains(&event) {
            assert!(
                Instant::now() < deadline,
                "event {i} was held back: {:?}",
                String::from_utf8_lossy(&seen)
            );
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0, "stream closed early");
            seen.extend_from_slice(&buf[..n]);
        }
    }
}

#[test]
fn a_dead_upstream_gets_a_503_status_within_a_second_and_comes_back() {
    let mut up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    assert_eq!(request(hub.proxy, get("/api/v1/nodes", "")).status, 200);
    up.kill();
    let t = Instant::now();
    let r = request(hub.proxy, get("/api/v1/nodes", ""));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(r.status, 503);
    let status = r.json();
    assert_eq!(
        (status["kind"].as_str(), status["reason"].as_str()),
        (Some("Status"), Some("ServiceUnavailable"))
    );
    assert!(
        status["message"].as_str().unwrap_or("").contains(&up.url()),
        "{status}"
    );
    assert!(hub.metrics().contains(&format!(
        "node_yurthub_server_healthy_status{{server=\"{}\"}} 0",
        up.url()
    )));
    // Later requests fail fast with the same Status while the server is down.
    assert_eq!(request(hub.proxy, get("/api/v1/nodes", "")).status, 503);

    up.restart();
    let t = Instant::now();
    // Heartbeat interval is 1 s and 2 successes are needed: back within 2 intervals (+ slack).
    loop {
        if request(hub.proxy, get("/api/v1/nodes", "")).status == 200 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "not back after {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(hub.metrics().contains(&format!(
        "node_yurthub_server_healthy_status{{server=\"{}\"}} 1",
        up.url()
    )));
}

#[test]
fn failover_to_another_server_and_lb_modes() {
    let mut a = EchoUpstream::start("a");
    let b = EchoUpstream::start("b");
    let hub = HubUnderTest::start(hub_config(&[&a, &b], node_cert(), LbMode::RoundRobin));
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..4 {
        names.insert(
            request(hub.proxy, get("/version", ""))
                .header("x-upstream")
                .map(str::to_string),
        );
    }
    assert_eq!(names.len(), 2, "round robin uses both: {names:?}");
    a.kill();
    // A GET that fails on the dead server is retried on the healthy one: no error reaches the client.
    for _ in 0..4 {
        let r = request(hub.proxy, get("/version", ""));
        assert_eq!((r.status, r.header("x-upstream")), (200, Some("b")));
    }
    drop(hub);

    a.restart();
    let hub = HubUnderTest::start(hub_config(&[&a, &b], node_cert(), LbMode::Priority));
    for _ in 0..4 {
        assert_eq!(
            request(hub.proxy, get("/version", "")).header("x-upstream"),
            Some("a")
        );
    }
}

#[test]
fn bad_input_gets_a_clear_4xx_and_the_hub_keeps_serving() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        ("no HTTP version", b"GET /\r\n\r\n".to_vec(), 400),
        (
            "binary junk",
            vec![0u8, 255, 1, 2, b'\r', b'\n', b'\r', b'\n'],
            400,
        ),
        (
            "invalid percent-encoding",
            get("/api/v1/namespaces/%zz/pods", "").into_bytes(),
            400,
        ),
        (
            "invalid percent-encoding in query",
            get("/api/v1/pods?labelSelector=%G1", "").into_bytes(),
            400,
        ),
        (
            "dot-dot path",
            get("/api/v1/namespaces/../secrets", "").into_bytes(),
            400,
        ),
        (
            "unknown verb",
            b"FROB /api/v1/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            405,
        ),
    ];
    for (what, raw, want) in cases {
        let r = request(hub.proxy, raw);
        assert_eq!(
            r.status,
            want,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // 1 MiB of headers: refused with 431 (or the connection is closed), never a hang or a crash.
    let huge = get(
        "/api/v1/pods",
        &format!("X-Big: {}\r\n", "a".repeat(1024 * 1024)),
    );
    let mut s = TcpStream::connect(hub.proxy).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = s.write_all(huge.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let r = parse_response(&buf).expect("an answer to huge headers");
    assert_eq!(r.status, 431);
    // Nothing bad reached the upstream, and the hub still works.
    assert!(up.seen.lock().expect("lock").is_empty());
    assert_eq!(request(hub.proxy, get("/version", "")).status, 200);
    // Invalid requests are counted, not lost.
    assert!(hub.metrics().contains("verb=\"invalid\""));
}

#[test]
fn hub_server_endpoints() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    let h = request(
        hub.server,
        "GET /v1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((h.status, h.body.as_slice()), (200, &b"OK"[..]));
    let r = request(
        hub.server,
        "GET /v1/readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    request(hub.proxy, get("/api/v1/nodes/edge-node-1", ""));
    let m = hub.metrics();
    for want in [
        "node_yurthub_in_flight_requests_collector 0",
        "node_yurthub_requests_total{client=\"kubelet\",verb=\"get\",resource=\"nodes\",subresources=\"\",code=\"200\"} 1",
        "node_yurthub_proxy_traffic_collector{client=\"kubelet\",verb=\"get\",resource=\"nodes\"",
        "node_yurthub_upstream_latency_seconds_count{verb=\"get\"} 1",
    ] {
        assert!(m.contains(want), "missing {want} in\n{m}");
    }
    assert_eq!(
        request(
            hub.server,
            "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .status,
        404
    );
}

#[test]
fn upstream_connections_are_reused_across_requests() {
    let up = EchoUpstream::start("a");
    let hub = HubUnderTest::start(hub_config(&[&up], node_cert(), LbMode::RoundRobin));
    for i in 0..20 {
        // Alternate bodies with and without Content-Length (chunked stream end) and an empty answer.
        let r = request(
            hub.proxy,
            get(&format!("/api/v1/namespaces/default/pods/p{i}"), ""),
        );
        assert_eq!(r.status, 200);
    }
    let peers: std::collections::BTreeSet<String> = up
        .seen
        .lock()
        .expect("lock")
        .iter()
        .map(|s| s.peer.clone())
        .collect();
    assert_eq!(
        peers.len(),
        1,
        "20 sequential requests should share one upstream connection: {peers:?}"
    );
}
