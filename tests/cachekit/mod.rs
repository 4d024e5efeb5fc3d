//! Shared rig of the hub cache tests: the API double over TLS behind a hub caching every
//! component, a direct TLS client, the cut, and List/stream helpers for both encodings.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use crate::hubkit::{hub_config_for, node_cert, pki, request, HubUnderTest, RawResponse};
use crate::support;
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::{Agents, CacheConfig};
use yurt::hub::config::LbMode;
use yurt::k8s::pb::{decode_envelope, decode_list};
use yurt::net::shutdown::{self, Trigger};

pub const NODE: &str = "edge-node-1";
pub const PB: &str = "application/vnd.kubernetes.protobuf,application/json";
pub const JSON: &str = "application/json";

pub struct Rig {
    pub double: ApiDouble,
    pub addr: SocketAddr,
    pub stop: Option<Trigger>,
    pub hub: HubUnderTest,
    pub direct: support::Client,
}

pub fn serve(double: &ApiDouble) -> (SocketAddr, Trigger) {
    let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    (addr, stop)
}

pub fn rig(cache_dir: Option<PathBuf>) -> Rig {
    rig_with(cache_dir, |_| {})
}

/// [`rig`] with the hub's cache settings adjusted by `tweak`.
#[allow(dead_code)]
pub fn rig_with(cache_dir: Option<PathBuf>, tweak: impl FnOnce(&mut CacheConfig)) -> Rig {
    let double = ApiDouble::sandbox(NODE);
    let (addr, stop) = serve(&double);
    let mut cfg = hub_config_for(&[addr], node_cert(), LbMode::RoundRobin);
    if let Some(d) = cache_dir {
        cfg.cache_dir = d;
    }
    let mut cache = CacheConfig {
        agents: Agents::All,
        ..CacheConfig::in_dir(&cfg.cache_dir)
    };
    tweak(&mut cache);
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
    pub fn get(&self, path: &str, ua: &str, accept: &str) -> RawResponse {
        request(
            self.hub.proxy,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"),
        )
    }

    pub fn direct(&self, path: &str, accept: &str) -> support::Reply {
        smol::block_on(self.direct.get(path, &[("Accept", accept)])).expect("direct answer")
    }

    /// Stops the double and waits until the hub has marked it unhealthy.
    pub fn cut(&mut self) {
        if let Some(t) = self.stop.take() {
            t.fire();
        }
        self.hub.wait_unhealthy(self.addr);
    }
}

/// (list RV, [(namespace/name, rv, item bytes)]) of a List body in either encoding.
pub fn items(body: &[u8], accept: &str) -> (String, Vec<(String, String, Vec<u8>)>) {
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
pub fn paths() -> Vec<String> {
    vec![
        format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}&limit=500&resourceVersion=0"),
        format!("/api/v1/nodes?fieldSelector=metadata.name%3D{NODE}&limit=500&resourceVersion=0"),
        "/api/v1/services?labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&limit=500&resourceVersion=0".into(),
        "/api/v1/pods?labelSelector=tier%3Dcontrol-plane".into(),
        "/api/v1/pods".into(),
        "/api/v1/namespaces/kube-system/pods?limit=2".into(),
    ]
}

/// Reads a streamed answer until `done(bytes)` or EOF; returns the raw bytes.
pub fn stream_until(addr: SocketAddr, req: String, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
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

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

pub fn send(r: &Rig, method: &str, path: &str, ct: &str, body: &str) -> RawResponse {
    request(
        r.hub.proxy,
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kubelet/v1.34.0\r\nAccept: application/json\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
}
