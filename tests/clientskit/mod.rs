//! Replays of the node clients (kubelet, kube-proxy, CoreDNS, flannel) through a hub against the
//! API double, as `reference/node-clients.md` catalogs them: a rig whose cloud can be cut and
//! restored and whose hub restarts on the same cache, the objects the clients read, and the runs
//! (reflectors + calls) with the comparisons of their answers.
#![allow(dead_code)]

pub mod cluster;
pub mod informer;
pub mod reflector;
pub mod run;
pub mod scripts;
pub mod stream;

pub use run::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use yurt::apidouble::ApiDouble;
use yurt::hub::cache::CacheConfig;
use yurt::hub::config::LbMode;
use yurt::net::shutdown::{self, Trigger};

use crate::hubkit::{hub_config_for, node_cert, pki, HubUnderTest};
use crate::support;
use reflector::{Informer, Reflector};

pub const NODE: &str = "edge-node-1";

/// How often the double sends bookmarks: short, so views and informers agree on the
/// resourceVersion before the cut.
pub const BOOKMARKS: Duration = Duration::from_millis(500);

/// A temporary directory, removed when dropped (also when a test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("yurt-clients-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The API double (cut and restored on one port) behind a hub (restarted on one cache).
pub struct Rig {
    pub double: ApiDouble,
    pub addr: SocketAddr,
    stop: Option<Trigger>,
    pub hub: Option<HubUnderTest>,
    pub dir: PathBuf,
    pub direct: support::Client,
}

pub fn serve_at(double: &ApiDouble, addr: SocketAddr) -> (SocketAddr, Trigger) {
    let listener = smol::block_on(smol::net::TcpListener::bind(addr)).expect("bind the double");
    let addr = listener.local_addr().expect("addr");
    let (stop, sd) = shutdown::channel();
    let d = double.clone();
    smol::spawn(async move { d.serve(listener, Some(pki().server_config()), sd).await }).detach();
    (addr, stop)
}

impl Rig {
    /// The sandbox cluster plus [`seed`], a hub with the default cached agents.
    pub fn new(name: &str) -> Rig {
        let double = ApiDouble::sandbox(NODE);
        cluster::seed(&double);
        double.set_bookmark_interval(BOOKMARKS);
        let (addr, stop) = serve_at(&double, "127.0.0.1:0".parse().expect("addr"));
        let dir = std::env::temp_dir().join(format!("yurt-clients-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let admin = pki()
            .client("kubernetes-admin", Some("system:masters"))
            .expect("admin");
        let mut r = Rig {
            direct: support::Client::new(addr, &pki().ca_pem, Some(&admin)),
            double,
            addr,
            stop: Some(stop),
            hub: None,
            dir,
        };
        r.start_hub();
        r
    }

    fn start_hub(&mut self) {
        let mut cfg = hub_config_for(&[self.addr], node_cert(), LbMode::RoundRobin);
        cfg.cache_dir = self.dir.clone();
        self.hub = Some(HubUnderTest::start_with_cache(
            cfg,
            CacheConfig::in_dir(&self.dir),
        ));
    }

    pub fn hub(&self) -> &HubUnderTest {
        self.hub.as_ref().expect("a hub runs")
    }

    pub fn proxy(&self) -> SocketAddr {
        self.hub().proxy
    }

    fn marker(&self, healthy: bool) -> String {
        format!(
            "node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{}\"}} {}",
            self.addr.port(),
            u8::from(healthy)
        )
    }

    fn wait_for(&self, healthy: bool) {
        let (m, deadline) = (
            self.marker(healthy),
            Instant::now() + Duration::from_secs(15),
        );
        while !self.hub().metrics().contains(&m) {
            assert!(
                Instant::now() < deadline,
                "the hub never saw the cloud {}",
                if healthy { "back" } else { "go" }
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the hub's cache holds, for every informer, what its client holds (the
    /// writer acknowledges after the client got the bytes); returns how long that took.
    pub fn wait_cached(&self, reflectors: &[&Reflector]) -> Duration {
        let start = Instant::now();
        loop {
            let views = crate::hubkit::request(
                self.hub().server,
                "GET /v1/cache HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .json();
            let behind: Vec<&str> = reflectors
                .iter()
                .filter(|r| {
                    let want = yurt::k8s::meta::rv_u64(&r.state().last_rv).unwrap_or(0);
                    !views["views"].as_array().into_iter().flatten().any(|v| {
                        is_view_of(v, &r.spec) && v["resource_version"].as_u64() >= Some(want)
                    })
                })
                .map(|r| r.spec.name.as_str())
                .collect();
            if behind.is_empty() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the cache never caught up with {behind:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the double (open watches end) and waits until the hub knows.
    pub fn cut(&mut self) {
        if let Some(t) = self.stop.take() {
            t.fire();
        }
        self.wait_for(false);
    }

    /// Serves the double again on its port and waits until the hub uses it.
    pub fn restore(&mut self) {
        let (_, stop) = serve_at(&self.double, self.addr);
        self.stop = Some(stop);
        self.wait_for(true);
    }

    /// Stops the hub and starts a new one on the same cache (the node rebooted). `known`: wait
    /// until the new hub has found the cloud gone (else its first request finds out).
    pub fn restart_hub(&mut self, known: bool) {
        if let Some(mut h) = self.hub.take() {
            h.stop();
        }
        self.start_hub();
        if known && self.stop.is_none() {
            self.wait_for(false);
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(mut h) = self.hub.take() {
            h.stop();
        }
        if let Some(t) = self.stop.take() {
            t.fire();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a `/v1/cache` row is the view informer `i` fills.
fn is_view_of(row: &serde_json::Value, i: &Informer) -> bool {
    let component = yurt::k8s::request_info::component(Some(&i.ua));
    let norm = |s: Option<&String>| {
        let mut t: Vec<&str> = s.map_or(Vec::new(), |s| s.split(',').collect());
        t.sort();
        t.join(",")
    };
    let ns = i
        .path
        .split("/namespaces/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    row["component"] == component.as_str()
        && Some(row["resource"].as_str().unwrap_or("")) == i.path.rsplit('/').next()
        && row["namespace"] == ns
        && row["name"] == ""
        && row["label_selector"] == norm(i.label.as_ref()).as_str()
        && row["field_selector"] == norm(i.field.as_ref()).as_str()
}
