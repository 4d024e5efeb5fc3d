//! Measurement (ignored by default; run with `--ignored --nocapture`, ideally `--release`):
//! a hub started with the cloud down over a cache holding 10,000 pods, time to the first
//! complete offline LIST.

mod hubkit;

use std::net::SocketAddr;
use std::time::Instant;

use hubkit::{hub_config_for, node_cert, request, HubUnderTest};
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::store::{Encoding, Gvr, Item, ListMeta, Store, StoreConfig, ViewKey};

#[test]
#[ignore = "measurement"]
fn cold_start_to_a_cached_10k_pod_list() {
    let dir = std::env::temp_dir().join(format!("yurt-cache-cold-{}", std::process::id()));
    let view = ViewKey {
        component: "kubelet".into(),
        gvr: Gvr::new("", "v1", "pods"),
        ..ViewKey::default()
    }
    .normalized();
    let pods: Vec<(String, Vec<u8>)> = (0..10_000)
        .map(|n| {
            let name = format!("pod-{n:05}");
            let body = format!(r#"{{"metadata":{{"name":"{name}","namespace":"default","resourceVersion":"{}"}},"spec":{{"nodeName":"n1","containers":[{{"name":"c","image":"{}"}}]}}}}"#, n + 1, "x".repeat(900));
            (name, body.into_bytes())
        })
        .collect();
    {
        let store = Store::open(&dir, &StoreConfig::default()).expect("open");
        let items: Vec<Item<'_>> = pods
            .iter()
            .enumerate()
            .map(|(n, (name, b))| Item {
                namespace: "default",
                name,
                resource_version: n as u64 + 1,
                bytes: b,
            })
            .collect();
        let meta = ListMeta {
            api_version: "v1".into(),
            kind: "PodList".into(),
            resource_version: 20_000,
            encoding: Encoding::Json,
        };
        store.commit_list(&view, &meta, &items).expect("commit");
    }
    let dead: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let cfg = hub_config_for(&[dead], node_cert(), LbMode::RoundRobin);
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
    let r = request(hub.proxy, "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/1\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(10_000));
    eprintln!(
        "cold start to a 10,000-pod offline LIST ({} bytes): {took:?}",
        r.body.len()
    );
    let mut hub = hub;
    hub.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
