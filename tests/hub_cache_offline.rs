//! The hub's cache against the API double over TLS: what was listed (and watched) online is
//! answered offline with the same items and resourceVersions, JSON and protobuf, and a hub
//! restarted while the cloud is down serves from the cache at once.

mod cachekit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use cachekit::*;
use hubkit::{hub_config_for, node_cert, request, HubUnderTest};
use serde_json::json;
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;

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
    // The apiserver refuses this selector (a trailing comma), though its normalised form is the
    // cached `tier=control-plane` view: offline, the hub must refuse it the same way.
    let refused_selector = "/api/v1/pods?labelSelector=tier%3Dcontrol-plane%2C";
    let online_refusal = r.get(refused_selector, "kube-proxy", JSON);
    assert_eq!(online_refusal.status, 400);
    std::thread::sleep(Duration::from_millis(300)); // writers finish
    r.cut();
    let offline_refusal = r.get(refused_selector, "kube-proxy", JSON);
    assert_eq!(
        (offline_refusal.status, status_of(&offline_refusal.body)),
        (400, status_of(&online_refusal.body)),
        "{}",
        String::from_utf8_lossy(&offline_refusal.body)
    );
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
        // Whole items, bytes included: objects kept from watch events read back exactly as
        // the apiserver lists them (no kind/apiVersion on JSON items).
        assert_eq!(got, want.1, "{ua}");
    }
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

/// A hub restarted while the cloud is down still believes in its servers until a request
/// fails; when that first request is kubelet's lease renewal, the write is accepted offline
/// (not a 503), and so is the node status patch that follows.
#[test]
fn a_first_write_after_an_offline_restart_is_accepted() {
    let dir = std::env::temp_dir().join(format!("yurt-cache-firstwrite-{}", std::process::id()));
    let mut r = rig(Some(dir.clone()));
    let node = format!("/api/v1/nodes/{NODE}");
    assert_eq!(r.get(&node, "kubelet", JSON).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    r.cut();
    r.hub.stop();
    let cfg = yurt::hub::config::HubConfig {
        cache_dir: dir.clone(),
        ..hub_config_for(&[r.addr], node_cert(), LbMode::RoundRobin)
    };
    let hub = HubUnderTest::start_with_cache(
        cfg,
        CacheConfig {
            agents: Agents::All,
            ..CacheConfig::in_dir(&dir)
        },
    );
    let lease = format!(
        r#"{{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{{"name":"{NODE}","namespace":"kube-node-lease"}},"spec":{{"holderIdentity":"{NODE}"}}}}"#
    );
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}");
    let put = request(
        hub.proxy,
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{lease}", lease.len()),
    );
    assert_eq!(
        (put.status, String::from_utf8_lossy(&put.body).to_string()),
        (200, lease.clone()),
        "the first request of the restarted hub"
    );
    let patch = r#"{"status":{}}"#;
    let patched = request(
        hub.proxy,
        format!("PATCH {node}/status HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: application/json\r\nContent-Type: application/strategic-merge-patch+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{patch}", patch.len()),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["metadata"]["name"].as_str(), Some(NODE));
    let mut hub = hub;
    hub.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Status body's reason and message.
fn status_of(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).expect("a Status");
    assert_eq!(v["kind"], "Status", "{v}");
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    (text("reason"), text("message"))
}
