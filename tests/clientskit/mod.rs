//! Replays of the node clients (kubelet, kube-proxy, CoreDNS, flannel) through a hub against the
//! API double, as `reference/node-clients.md` catalogs them: a rig whose cloud can be cut and
//! restored and whose hub restarts on the same cache, the objects the clients read, and the runs
//! (reflectors + calls) with the comparisons of their answers.
#![allow(dead_code)]

pub mod reflector;
pub mod scripts;
pub mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::CacheConfig;
use yurt::hub::config::LbMode;
use yurt::net::shutdown::{self, Trigger};

use crate::hubkit::{hub_config_for, node_cert, pki, HubUnderTest};
use crate::support;
use reflector::{Informer, Reflector};
use scripts::{Call, Script};
use stream::{encoding, Items, Obj};

pub const NODE: &str = "edge-node-1";

/// How often the double sends bookmarks: short, so views and informers agree on the
/// resourceVersion before the cut.
pub const BOOKMARKS: Duration = Duration::from_millis(500);

/// Objects the clients read, beyond the sandbox's (node, pods, `kubernetes` Service, ...).
pub fn seed(d: &ApiDouble) {
    let mk = |path: &str, obj: serde_json::Value| {
        d.create(path, obj)
            .unwrap_or_else(|e| panic!("seed {path}: {e}"));
    };
    for ns in ["kube-flannel", "kube-node-lease"] {
        mk("/api/v1/namespaces", json!({"metadata": {"name": ns}}));
    }
    mk(
        "/api/v1/namespaces/kube-flannel/pods",
        json!({"metadata": {"name": scripts::FLANNEL_POD, "labels": {"app": "flannel"}},
        "spec": {"nodeName": NODE, "hostNetwork": true, "containers": [{"name": "kube-flannel", "image": "ghcr.io/flannel-io/flannel:v0.28.9"}]},
        "status": {"phase": "Running"}}),
    );
    mk(
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "web-secret"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}}),
    );
    mk(
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "other-secret"}, "type": "Opaque", "data": {}}),
    );
    mk(
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "web-config"}, "data": {"mode": "edge"}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}]}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "mesh", "labels": {"service.kubernetes.io/service-proxy-name": "mesh-proxy"}},
        "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"], "ports": [{"port": 80}]}}),
    );
    mk(
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "web"},
        "spec": {"clusterIP": "10.96.0.30", "clusterIPs": ["10.96.0.30"], "selector": {"app": "web"}, "ports": [{"port": 80}]}}),
    );
    mk(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        json!({"metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.10"]}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}),
    );
    mk(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        json!({"metadata": {"name": "db-8x2kq", "labels": {"kubernetes.io/service-name": "db", "service.kubernetes.io/headless": ""}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.20"]}]}),
    );
    mk(
        "/apis/networking.k8s.io/v1/servicecidrs",
        json!({"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.96.0.0/16"]}}),
    );
    mk(
        "/apis/storage.k8s.io/v1/csinodes",
        json!({"metadata": {"name": NODE,
        "annotations": {"storage.alpha.kubernetes.io/migrated-plugins": "kubernetes.io/aws-ebs,kubernetes.io/azure-disk"}},
        "spec": {"drivers": [{"name": "csi.example.com", "nodeID": NODE, "topologyKeys": null}]}}),
    );
    mk(
        "/apis/storage.k8s.io/v1/csidrivers",
        json!({"metadata": {"name": "csi.example.com"}, "spec": {"attachRequired": false, "podInfoOnMount": true}}),
    );
    mk(
        "/apis/node.k8s.io/v1/runtimeclasses",
        json!({"metadata": {"name": "runc"}, "handler": "runc"}),
    );
    mk(
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        json!({"metadata": {"name": NODE},
        "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}}),
    );
}

/// Changes the cluster while the clients watch: every informer kind sees events.
pub fn churn(d: &ApiDouble, round: u32) {
    let pod = json!({"metadata": {"name": format!("added-{round}"), "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]}});
    d.create("/api/v1/namespaces/default/pods", pod)
        .expect("pod");
    let mut cm = d
        .get("/api/v1/namespaces/default/configmaps/web-config")
        .expect("cm");
    cm["data"]["round"] = json!(round.to_string());
    d.update("/api/v1/namespaces/default/configmaps/web-config", cm)
        .expect("cm");
    let mut node = d.get(&format!("/api/v1/nodes/{NODE}")).expect("node");
    node["metadata"]["labels"]["yurt.test/round"] = json!(round.to_string());
    d.update(&format!("/api/v1/nodes/{NODE}"), node)
        .expect("node");
    let svc = json!({"metadata": {"name": format!("svc-{round}")},
        "spec": {"clusterIP": format!("10.96.1.{round}"), "ports": [{"port": 80}]}});
    d.create("/api/v1/namespaces/default/services", svc)
        .expect("svc");
    let ns = json!({"metadata": {"name": format!("team-{round}")}});
    d.create("/api/v1/namespaces", ns).expect("ns");
    d.delete("/api/v1/namespaces/default/pods/worker-0").ok();
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
        seed(&double);
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

/// The answer to one call.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub took: Duration,
}

/// Sends one call as `ua`.
pub fn call(addr: SocketAddr, ua: &str, c: &Call) -> Answer {
    let mut h = vec![("User-Agent", ua), ("Accept", c.accept)];
    if let Some(ct) = c.content_type {
        h.push(("Content-Type", ct));
    }
    let start = Instant::now();
    let conn = stream::open(addr, c.method, &c.path, &h, &c.body).expect("the hub answers");
    let (status, ct) = (
        conn.status,
        conn.header("content-type").unwrap_or("").to_string(),
    );
    let body = conn.body(Duration::from_secs(10)).expect("a whole answer");
    Answer {
        status,
        content_type: ct,
        body,
        took: start.elapsed(),
    }
}

/// One client's run: its reflectors (still running) and the answers to its calls.
pub struct Run {
    pub script: Script,
    pub reflectors: Vec<Reflector>,
    pub answers: Vec<Answer>,
}

/// Starts `s`'s informers (all synced within 10 s, or the run says which did not), then its calls.
pub fn run(addr: SocketAddr, s: &Script) -> Run {
    let mut reflectors = Vec::new();
    for (n, i) in s.informers.iter().enumerate() {
        reflectors.push(Reflector::start(addr, i.clone()));
        if n == 0 && s.gate {
            reflectors[0].wait(Duration::from_secs(10), |st| !st.syncs.is_empty());
        }
    }
    for r in &reflectors {
        r.wait(Duration::from_secs(10), |st| {
            !st.syncs.is_empty() && st.watching_since.is_some()
        });
    }
    let answers = s.calls.iter().map(|c| call(addr, &s.ua, c)).collect();
    Run {
        script: s.clone(),
        reflectors,
        answers,
    }
}

/// Runs every script at once.
pub fn run_all(addr: SocketAddr, scripts: &[Script]) -> Vec<Run> {
    std::thread::scope(|sc| {
        let hs: Vec<_> = scripts
            .iter()
            .map(|s| sc.spawn(move || run(addr, s)))
            .collect();
        hs.into_iter().map(|h| h.join().expect("run")).collect()
    })
}

/// What an informer synced to last, as its client holds it.
#[derive(Debug, Clone)]
pub struct Held {
    pub name: String,
    pub content_type: String,
    pub rv: String,
    pub items: Items,
}

/// What one client last got from the cloud: its informers' state and its calls' answers.
pub struct Expect {
    pub informers: Vec<Held>,
    pub answers: Vec<Answer>,
}

impl Run {
    /// What the client holds now.
    pub fn expect(&self) -> Expect {
        let informers = self
            .reflectors
            .iter()
            .map(|r| {
                let st = r.state();
                let ct = st
                    .syncs
                    .last()
                    .map(|s| s.content_type.clone())
                    .unwrap_or_default();
                Held {
                    name: r.spec.name.clone(),
                    content_type: ct,
                    rv: st.last_rv.clone(),
                    items: st.items.clone(),
                }
            })
            .collect();
        Expect {
            informers,
            answers: self.answers.clone(),
        }
    }

    /// Problems of a run: informers not synced (in time), listed twice, not watching, or whose
    /// watch ended at once; a resourceVersion that is not a decimal integer; a WatchList stream
    /// without its bookmark. Call it a second after the run, so short watches show.
    pub fn problems(&self, within: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.reflectors {
            let st = r.state();
            let n = &r.spec.name;
            match st.syncs.first() {
                None => out.push(format!("{n}: never synced; failures {:?}", st.failures)),
                Some(s) if r.spec.needed && s.took > within => {
                    out.push(format!("{n}: synced after {:?}", s.took))
                }
                Some(_) => {}
            }
            if st.syncs.len() > 1 {
                out.push(format!(
                    "{n}: listed {} times; ends {:?}",
                    st.syncs.len(),
                    st.ends
                ));
            }
            if let Some(e) = st
                .ends
                .iter()
                .find(|e| e.events == 0 && e.lasted < Duration::from_secs(1))
            {
                out.push(format!("{n}: a watch ended at once: {e:?}"));
            }
            if st.watching_since.is_none() {
                out.push(format!(
                    "{n}: not watching; ends {:?}, failures {:?}",
                    st.ends, st.failures
                ));
            }
            if !st.bad_rvs.is_empty() || st.no_bookmark > 0 {
                out.push(format!(
                    "{n}: resourceVersions {:?}, WatchLists without bookmark {}",
                    st.bad_rvs, st.no_bookmark
                ));
            }
        }
        out
    }
}

/// One line per difference between an offline `run` and what the client held online.
pub fn differences(run: &Run, want: &Expect) -> Vec<String> {
    let mut out = run.problems(Duration::from_secs(1));
    for (r, held) in run.reflectors.iter().zip(&want.informers) {
        let st = r.state();
        let Some(s) = st.syncs.first() else { continue };
        let n = &held.name;
        if s.content_type != held.content_type {
            out.push(format!(
                "{n}: offline {} but online {}",
                s.content_type, held.content_type
            ));
        }
        if s.rv != held.rv {
            out.push(format!(
                "{n}: offline resourceVersion {} but online {}",
                s.rv, held.rv
            ));
        }
        if s.items != held.items {
            let keys = |i: &Items| {
                i.values()
                    .map(|o| format!("{}@{}", o.key, o.rv))
                    .collect::<Vec<_>>()
            };
            out.push(format!(
                "{n}: offline items {:?} but online {:?}",
                keys(&s.items),
                keys(&held.items)
            ));
        }
    }
    for ((c, got), online) in run.script.calls.iter().zip(&run.answers).zip(&want.answers) {
        out.extend(call_difference(&run.script.name, c, got, online));
    }
    out
}

fn object(a: &Answer) -> Option<Obj> {
    let enc = yurt::k8s::meta::Encoding::from_content_type(&a.content_type)?;
    Some(stream::obj(enc, &a.body))
}

fn call_difference(client: &str, c: &Call, got: &Answer, online: &Answer) -> Option<String> {
    use scripts::Need;
    let what = format!("{client} {} {}", c.what, c.path);
    let ok = (200..300).contains(&got.status);
    let text = || String::from_utf8_lossy(&got.body).into_owned();
    if got.took > Duration::from_secs(1) && c.need != Need::No {
        return Some(format!("{what}: answered after {:?}", got.took));
    }
    match c.need {
        Need::No if !ok && !got.content_type.starts_with("application/json") => {
            Some(format!("{what}: {} without a Status body", got.status))
        }
        Need::No => None,
        Need::Accepted if !ok => Some(format!(
            "{what}: refused offline: {} {}",
            got.status,
            text()
        )),
        Need::Accepted if c.method == "PUT" && got.body != c.body => {
            Some(format!("{what}: the echo differs from what was sent"))
        }
        Need::Accepted => object(got)
            .filter(|o| yurt::k8s::meta::rv_u64(&o.rv).is_none() && c.method == "PATCH")
            .map(|o| format!("{what}: resourceVersion {:?}", o.rv)),
        Need::Offline | Need::Careful if c.method == "POST" => {
            let tok = |a: &Answer| {
                yurt::k8s::token::decode(encoding(&a.content_type), &a.body)
                    .map(|t| t.token)
                    .unwrap_or_default()
            };
            (got.status != 201
                || got.content_type != online.content_type
                || tok(got) != tok(online))
            .then(|| {
                format!(
                    "{what}: {} {} token {:?}, online {:?}",
                    got.status,
                    got.content_type,
                    tok(got),
                    tok(online)
                )
            })
        }
        Need::Offline | Need::Careful => {
            let same = got.status == online.status
                && got.content_type == online.content_type
                && object(got) == object(online);
            (!same).then(|| {
                format!(
                    "{what}: offline {} {} {:?} but online {} {} {:?}",
                    got.status,
                    got.content_type,
                    object(got).map(|o| o.rv),
                    online.status,
                    online.content_type,
                    object(online).map(|o| o.rv)
                )
            })
        }
    }
}

/// (LIST or WatchList, WATCH) requests the double got for `i`.
pub fn requests_for(d: &ApiDouble, i: &Informer) -> (usize, usize) {
    let sel = |k: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!("{k}={}", reflector::go_escape(v)))
    };
    let mut want: Vec<String> = [
        sel("labelSelector", &i.label),
        sel("fieldSelector", &i.field),
    ]
    .into_iter()
    .flatten()
    .collect();
    want.sort();
    let (mut lists, mut watches) = (0, 0);
    for r in d.requests() {
        let (path, query) = r
            .path_and_query
            .split_once('?')
            .unwrap_or((&r.path_and_query, ""));
        if r.user_agent != i.ua || path != i.path || r.method != "GET" {
            continue;
        }
        let params: Vec<&str> = query.split('&').collect();
        let mut got: Vec<String> = params
            .iter()
            .filter(|p| p.starts_with("labelSelector=") || p.starts_with("fieldSelector="))
            .map(|p| p.to_string())
            .collect();
        got.sort();
        if got != want {
            continue;
        }
        let watch = params.contains(&"watch=true");
        if !watch || params.contains(&"sendInitialEvents=true") {
            lists += 1;
        } else {
            watches += 1;
        }
    }
    (lists, watches)
}
