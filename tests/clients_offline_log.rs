//! What `yurt hub` (the binary) says when it serves a view offline: one line per view and outage.

mod clientskit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use clientskit::*;

/// `yurt hub` says once per view and outage what it serves offline, and counts the answers.
#[test]
fn yurt_hub_logs_each_view_once_per_outage_when_it_first_serves_it_offline() {
    use std::io::BufRead;
    let double = yurt::apidouble::ApiDouble::sandbox(NODE);
    let (addr, stop) = serve_at(&double, "127.0.0.1:0".parse().expect("addr"));
    let tmp = TempDir::new("log");
    let dir = &tmp.0;
    let kc = dir.join("kubelet.conf");
    let url = format!("https://127.0.0.1:{}", addr.port());
    let cert = hubkit::pki().node_client(NODE).expect("cert");
    std::fs::write(&kc, hubkit::pki().kubeconfig(&url, &cert)).expect("kubeconfig");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args([
            "hub",
            &format!("--node-name={NODE}"),
            &format!("--kubeconfig={}", kc.display()),
        ])
        .args([
            "--proxy-port=0",
            "--port=0",
            "--heartbeat-interval-seconds=1",
            "--heartbeat-failed-retry=1",
        ])
        .arg(format!("--disk-cache-path={}", dir.join("cache").display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("yurt hub");
    let stderr = child.stderr.take().expect("stderr");
    let _child = hubkit::Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let read_for = |d: Duration, lines: &mut Vec<String>| {
        let until = Instant::now() + d;
        while let Ok(l) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            lines.push(l);
        }
    };
    while !lines.iter().any(|l| l.contains("proxy listening on")) {
        read_for(Duration::from_millis(200), &mut lines);
        assert!(lines.len() < 100, "{lines:#?}");
    }
    let proxy = hubkit::addr_after(&lines, "proxy listening on http://");
    let server = hubkit::addr_after(&lines, "server on http://");
    let ua = "kubelet/v1.35.1 (linux/arm64) kubernetes/e4f5a6b";
    let pods =
        format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}&limit=500&resourceVersion=0");
    let nodes =
        format!("/api/v1/nodes?fieldSelector=metadata.name%3D{NODE}&limit=500&resourceVersion=0");
    let get = |path: &str| {
        let c = scripts::Call {
            what: "GET",
            method: "GET",
            path: path.to_string(),
            accept: scripts::PB,
            content_type: None,
            body: Vec::new(),
            need: scripts::Need::Offline,
        };
        call(proxy, ua, &c).status
    };
    let metrics = || {
        let r = hubkit::request(
            server,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        String::from_utf8_lossy(&r.body).into_owned()
    };
    let healthy = |up: bool| {
        format!(
            "node_yurthub_server_healthy_status{{server=\"{url}\"}} {}",
            u8::from(up)
        )
    };
    let wait = |marker: String| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !metrics().contains(&marker) {
            assert!(Instant::now() < deadline, "never {marker}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!((get(&pods), get(&nodes)), (200, 200));
    std::thread::sleep(Duration::from_millis(300));
    stop.fire();
    wait(healthy(false));
    for p in [&pods, &pods, &nodes, &pods] {
        assert_eq!(get(p), 200, "{p}");
    }
    read_for(Duration::from_millis(500), &mut lines);
    let served = |lines: &[String], what: &str| lines.iter().filter(|l| l.contains(what)).count();
    let pods_line = format!("offline: serving kubelet v1/pods from the cache (all namespaces, fieldSelector spec.nodeName={NODE}): 3 items, data ");
    let nodes_line = format!("offline: serving kubelet v1/nodes from the cache (all namespaces, fieldSelector metadata.name={NODE}): 1 item, data ");
    assert_eq!(
        (served(&lines, &pods_line), served(&lines, &nodes_line)),
        (1, 1),
        "{lines:#?}"
    );
    assert!(metrics().contains("node_yurthub_cache_offline_answers_total{component=\"kubelet\",resource=\"pods\",code=\"200\"} 3"), "{}", metrics());

    // The next outage logs afresh.
    let (_, stop) = serve_at(&double, addr);
    wait(healthy(true));
    assert_eq!(get(&pods), 200);
    stop.fire();
    wait(healthy(false));
    assert_eq!(get(&pods), 200);
    read_for(Duration::from_millis(500), &mut lines);
    assert_eq!(served(&lines, &pods_line), 2, "{lines:#?}");
    drop(_child);
}
