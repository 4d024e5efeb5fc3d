//! kill -9 the whole hub (`yurt hub`, spawned) at random moments while clients stream watch
//! events and relist through it from the API double, which changes objects all the time.
//! After each kill the cache opens, every stored object decodes and matches its key, every view
//! is exactly the upstream's state at the view's resourceVersion (asked of the double with
//! `resourceVersionMatch=Exact`: the old or the new complete state, never a mix), no view goes
//! back in time, and a hub started on that cache with the cloud unreachable serves exactly the
//! stored views (no partial list is ever served).
//!
//! Clients: kubelet (pods of the node, JSON, LIST+WATCH), kube-proxy (configmaps by label,
//! protobuf, LIST+WATCH), coredns (pods by label, JSON WatchList), flanneld (all pods of a
//! namespace, protobuf, paginated LIST+WATCH) and kubelet GETs of single objects (JSON and
//! protobuf). Each restart also runs the GC at start against the changed upstream.
//!
//! Knobs: `YURT_HUB_CRASH_CYCLES` (default 100 in release builds, 20 in debug builds, where the
//! unoptimised double and hub make 100 cycles take minutes on 2 cores; `ci/test` runs the 100 in
//! release), `YURT_HUB_CRASH_SEED`. `--nocapture` prints what each cycle saw.
#![cfg(feature = "sandbox")]

mod cachekit;
mod hubkit;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cachekit::{items, serve, JSON};
use hubkit::{parse_response, pki, spawn_yurt_logged, Child};
use serde_json::{json, Value};
use yurt::apidouble::ApiDouble;
use yurt::hub::cache::gc::plan::path as view_path;
use yurt::k8s::meta::{meta, rv_u64, Encoding as Wire};
use yurt::store::{Encoding, Store, StoreConfig, ViewKey};

const NODE: &str = "edge-node-1";
const NS: &str = "churn";
const PB: &str = "application/vnd.kubernetes.protobuf";
const PODS: usize = 30;
const CONFIGMAPS: usize = 12;

/// A directory removed when dropped (also when the test fails).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*: deterministic randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The upstream changes: pods and configmaps of a fixed set of names are created, modified
/// (an annotation) and deleted, one change every few milliseconds.
fn mutate(double: &ApiDouble, rng: &mut Rng) {
    let (kind, n) = if rng.below(3) == 0 {
        ("configmaps", CONFIGMAPS)
    } else {
        ("pods", PODS)
    };
    let i = rng.below(n as u64) as usize;
    let name = format!("{}-{i}", &kind[..3]);
    let path = format!("/api/v1/namespaces/{NS}/{kind}/{name}");
    let app = if rng.below(2) == 0 { "a" } else { "b" };
    match double.get(&path) {
        None => {
            let mut obj =
                json!({"metadata": {"name": name, "namespace": NS, "labels": {"app": app}}});
            if kind == "pods" {
                let node = if i % 3 == 0 { "other-node" } else { NODE };
                obj["spec"] =
                    json!({"nodeName": node, "containers": [{"name": "c", "image": "x"}]});
            } else {
                obj["data"] = json!({"k": "x".repeat(rng.below(600) as usize)});
            }
            let _ = double.create(&format!("/api/v1/namespaces/{NS}/{kind}"), obj);
        }
        Some(_) if rng.below(5) < 2 => {
            let _ = double.delete(&path);
        }
        Some(mut obj) => {
            obj["metadata"]["annotations"] = json!({"n": rng.next().to_string()});
            let _ = double.update(&path, obj);
        }
    }
}

/// One request to the hub; `None` if the hub went away before a whole answer.
fn exchange(addr: SocketAddr, path: &str, ua: &str, accept: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let r = parse_response(&buf)?;
    Some((r.status, r.body))
}

/// Reads a watch stream for `d`, then hangs up.
fn watch_for(addr: SocketAddr, path: &str, ua: &str, accept: &str, d: Duration) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}/v1.34.0\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return;
    }
    let end = Instant::now() + d;
    let mut chunk = [0u8; 65536];
    while Instant::now() < end {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

/// A LIST through the hub, following `continue` pages; the list's resourceVersion.
fn list(addr: SocketAddr, path: &str, ua: &str, accept: &str) -> Option<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut token = String::new();
    let mut rv = None;
    loop {
        let p = match token.is_empty() {
            true => path.to_string(),
            false => format!("{path}{sep}continue={token}"),
        };
        let (status, body) = exchange(addr, &p, ua, accept)?;
        if status != 200 {
            return None;
        }
        let (page_rv, next) = list_meta(&body, accept)?;
        rv.get_or_insert(page_rv);
        if next.is_empty() {
            return rv;
        }
        token = next;
    }
}

/// resourceVersion and continue token of a list body.
fn list_meta(body: &[u8], accept: &str) -> Option<(String, String)> {
    if accept == PB {
        let env = yurt::k8s::pb::decode_envelope(body).ok()?;
        let l = yurt::k8s::pb::decode_list(env.raw).ok()?;
        return Some((l.resource_version.into(), l.continue_token.into()));
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let m = &v["metadata"];
    Some((
        m["resourceVersion"].as_str()?.to_string(),
        m["continue"].as_str().unwrap_or("").to_string(),
    ))
}

/// What one client keeps asking.
#[derive(Clone, Copy)]
enum Client {
    /// LIST (pages of `limit` when set), then WATCH from its resourceVersion; again.
    Informer {
        path: &'static str,
        ua: &'static str,
        accept: &'static str,
    },
    /// WatchList (initial events + bookmark), held a while; again.
    WatchList {
        path: &'static str,
        ua: &'static str,
    },
    /// GETs of single objects.
    Getter,
}

const KUBELET_PODS: &str = "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-node-1";
const PROXY_CMS: &str = "/api/v1/namespaces/churn/configmaps?labelSelector=app%3Da";
const FLANNEL_PODS: &str = "/api/v1/namespaces/churn/pods?limit=7";
const COREDNS_PODS: &str = "/api/v1/namespaces/churn/pods?labelSelector=app%3Db";

fn clients() -> Vec<Client> {
    vec![
        Client::Informer {
            path: KUBELET_PODS,
            ua: "kubelet",
            accept: JSON,
        },
        Client::Informer {
            path: PROXY_CMS,
            ua: "kube-proxy",
            accept: PB,
        },
        Client::Informer {
            path: FLANNEL_PODS,
            ua: "flanneld",
            accept: PB,
        },
        Client::WatchList {
            path: COREDNS_PODS,
            ua: "coredns",
        },
        Client::Getter,
    ]
}

fn run_client(c: Client, addr: SocketAddr, rng: &mut Rng) {
    let hold = Duration::from_millis(20 + rng.below(300));
    match c {
        Client::Informer { path, ua, accept } => {
            if let Some(rv) = list(addr, path, ua, accept) {
                let base = path
                    .split("limit=")
                    .next()
                    .unwrap_or(path)
                    .trim_end_matches(['?', '&']);
                let sep = if base.contains('?') { '&' } else { '?' };
                let w =
                    format!("{base}{sep}watch=true&allowWatchBookmarks=true&resourceVersion={rv}");
                watch_for(addr, &w, ua, accept, hold);
            }
        }
        Client::WatchList { path, ua } => {
            let w = format!("{path}&watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
            watch_for(addr, &w, ua, JSON, hold);
        }
        Client::Getter => {
            let (kind, n, accept) = match rng.below(2) {
                0 => ("configmaps", CONFIGMAPS, JSON),
                _ => ("pods", PODS, PB),
            };
            let name = format!("{}-{}", &kind[..3], rng.below(n as u64));
            let _ = exchange(
                addr,
                &format!("/api/v1/namespaces/{NS}/{kind}/{name}"),
                "kubelet",
                accept,
            );
        }
    }
}

/// A running `yurt hub` with its stderr lines.
struct Hub {
    child: Child,
    proxy: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

fn spawn_hub(kubeconfig: &Path, server: &str, dir: &Path) -> Hub {
    let hub = spawn_yurt_logged(
        &[
            "hub",
            &format!("--node-name={NODE}"),
            &format!("--kubeconfig={}", kubeconfig.display()),
            &format!("--server-addr={server}"),
            &format!("--disk-cache-path={}", dir.display()),
            "--proxy-port=0",
            "--port=0",
            "--cache-agents=*",
            "--heartbeat-interval-seconds=1",
            "--heartbeat-timeout-seconds=1",
        ],
        "proxy listening on",
    );
    Hub {
        proxy: hub.addr_after("proxy listening on http://"),
        child: hub.child,
        log: hub.lines,
    }
}

fn wire(e: Encoding) -> Wire {
    match e {
        Encoding::Json => Wire::Json,
        Encoding::Protobuf => Wire::Protobuf,
    }
}

fn accept_of(e: Encoding) -> &'static str {
    match e {
        Encoding::Json => JSON,
        Encoding::Protobuf => PB,
    }
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A view's selectors as a query (a named view adds `metadata.name=`).
fn selectors(v: &ViewKey) -> String {
    let mut fields = v.field_selector.clone();
    if !v.name.is_empty() {
        let by_name = format!("metadata.name={}", v.name);
        fields = if fields.is_empty() {
            by_name
        } else {
            format!("{fields},{by_name}")
        };
    }
    let mut q = Vec::new();
    if !v.label_selector.is_empty() {
        q.push(format!("labelSelector={}", query_escape(&v.label_selector)));
    }
    if !fields.is_empty() {
        q.push(format!("fieldSelector={}", query_escape(&fields)));
    }
    q.join("&")
}

/// An object compared across list items and watch objects: JSON without kind/apiVersion (the
/// apiserver leaves them out of list items), protobuf as the bare bytes.
fn comparable(e: Encoding, bytes: &[u8]) -> Vec<u8> {
    match e {
        Encoding::Protobuf => bytes.to_vec(),
        Encoding::Json => {
            let mut v: Value = serde_json::from_slice(bytes).expect("stored JSON object");
            if let Some(o) = v.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            serde_json::to_vec(&v).expect("json")
        }
    }
}

type State = BTreeMap<String, (String, Vec<u8>)>;

/// Checks every view of the cache in `dir`; returns each view's state (`ns/name` → rv, bytes).
fn check_store(
    dir: &Path,
    direct: &support::Client,
    seen: &mut HashMap<ViewKey, u64>,
) -> Vec<(ViewKey, u64, Encoding, State)> {
    let store = Store::open(dir, &StoreConfig::default()).expect("the cache opens after kill -9");
    let views = store.views().expect("views");
    let mut out = Vec::new();
    for (view, m) in &views {
        let (meta_now, objects) = store.list(view).expect("objects decode").expect("view");
        assert_eq!(&meta_now, m);
        assert_eq!(objects.len() as u64, m.count, "{view:?}: count");
        let bytes: u64 = objects.iter().map(|o| o.bytes().len() as u64).sum();
        assert_eq!(bytes, m.bytes, "{view:?}: bytes");
        let mut state = State::new();
        for o in &objects {
            let om = meta(wire(m.encoding), o.bytes()).unwrap_or_else(|e| {
                panic!("{view:?}: {}/{} does not decode: {e}", o.namespace, o.name)
            });
            assert_eq!(
                (om.namespace.as_str(), om.name.as_str()),
                (o.namespace.as_str(), o.name.as_str())
            );
            assert_eq!(rv_u64(&om.resource_version), Some(o.resource_version));
            state.insert(
                format!("{}/{}", o.namespace, o.name),
                (
                    o.resource_version.to_string(),
                    comparable(m.encoding, o.bytes()),
                ),
            );
        }
        let mut exact = format!(
            "{}?resourceVersion={}&resourceVersionMatch=Exact",
            view_path(&ViewKey {
                name: String::new(),
                ..view.clone()
            }),
            m.resource_version
        );
        let sel = selectors(view);
        if !sel.is_empty() {
            exact = format!("{exact}&{sel}");
        }
        let accept = accept_of(m.encoding);
        let r = smol::block_on(direct.get(&exact, &[("Accept", accept)])).expect("direct");
        assert_eq!(
            r.status,
            200,
            "{exact}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let (_, upstream) = items(&r.body, accept);
        let upstream: State = upstream
            .into_iter()
            .map(|(k, rv, b)| (k, (rv, comparable(m.encoding, &b))))
            .collect();
        let names = |s: &State| {
            s.iter()
                .map(|(k, (rv, _))| format!("{k}@{rv}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&state),
            names(&upstream),
            "{view:?} at {} is not the upstream's state",
            m.resource_version
        );
        assert!(
            state == upstream,
            "{view:?}: object bytes differ from the upstream's"
        );
        if let Some(prev) = seen.insert(view.clone(), m.resource_version) {
            assert!(
                prev <= m.resource_version,
                "{view:?} went back from {prev} to {}",
                m.resource_version
            );
        }
        out.push((view.clone(), m.resource_version, m.encoding, state));
    }
    for (v, _) in seen.iter().filter(|(v, _)| v.name.is_empty()) {
        assert!(
            views.iter().any(|(k, _)| k == v),
            "collection view {v:?} vanished"
        );
    }
    out
}

/// A hub on the same cache with the cloud unreachable answers every collection view exactly
/// as stored: the whole list, never part of one.
fn check_offline(kubeconfig: &Path, dir: &Path, views: &[(ViewKey, u64, Encoding, State)]) {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let hub = spawn_hub(kubeconfig, &format!("https://127.0.0.1:{port}"), dir);
    for (view, rv, enc, state) in views.iter().filter(|(v, ..)| v.name.is_empty()) {
        let sel = selectors(view);
        let path = match sel.is_empty() {
            true => view_path(view),
            false => format!("{}?{sel}", view_path(view)),
        };
        let accept = accept_of(*enc);
        let (status, body) =
            exchange(hub.proxy, &path, &view.component, accept).expect("offline answer");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let (list_rv, got) = items(&body, accept);
        let got: State = got
            .into_iter()
            .map(|(k, rv, b)| (k, (rv, comparable(*enc, &b))))
            .collect();
        assert_eq!(list_rv, rv.to_string(), "{path}");
        assert!(
            &got == state,
            "{path}: offline answer differs from the stored view"
        );
    }
    drop(hub);
}

#[test]
fn kill_9_of_the_hub_during_watch_streams_and_relists_leaves_complete_views() {
    let cycles = env_u64(
        "YURT_HUB_CRASH_CYCLES",
        if cfg!(debug_assertions) { 20 } else { 100 },
    );
    let seed = env_u64("YURT_HUB_CRASH_SEED", 0x5EED_0FC0_FFEE);
    let double = ApiDouble::sandbox(NODE);
    let (addr, stop_double) = serve(&double);
    let root = TempDir(std::env::temp_dir().join(format!("yurt-hub-crash-{}", std::process::id())));
    let root = &root.0;
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).expect("dir");
    let dir: PathBuf = root.join("cache");
    let kubeconfig = root.join("kubelet.conf");
    let node = pki().node_client(NODE).expect("cert");
    std::fs::write(
        &kubeconfig,
        pki().kubeconfig(&format!("https://127.0.0.1:{}", addr.port()), &node),
    )
    .expect("kubeconfig");
    let admin = pki()
        .client("kubernetes-admin", Some("system:masters"))
        .expect("admin");
    let direct = support::Client::new(addr, &pki().ca_pem, Some(&admin));

    let stop = Arc::new(AtomicBool::new(false));
    let current: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let mut threads = Vec::new();
    {
        let (d, stop) = (double.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xD0);
            while !stop.load(Ordering::Relaxed) {
                mutate(&d, &mut rng);
                std::thread::sleep(Duration::from_millis(1 + rng.below(4)));
            }
        }));
    }
    for (i, c) in clients().into_iter().enumerate() {
        let (stop, current) = (stop.clone(), current.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed ^ ((i as u64 + 1) * 0x9E37));
            while !stop.load(Ordering::Relaxed) {
                match *current.lock().expect("addr") {
                    Some(a) => run_client(c, a, &mut rng),
                    None => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    let server = format!("https://127.0.0.1:{}", addr.port());
    let mut rng = Rng(seed);
    let mut seen = HashMap::new();
    let mut gc_lines = 0;
    let started = Instant::now();
    // Each collection client must fill its view at least once. On a loaded machine the paged
    // flannel LIST can miss every kill window of the first `cycles`: keep killing (up to 3x) until
    // every view was seen, rather than pass with fewer views checked.
    let covered = |seen: &HashMap<ViewKey, u64>| {
        seen.keys().filter(|v| v.name.is_empty()).count() >= 4
            && seen.keys().any(|v| !v.name.is_empty())
    };
    let mut cycle = 0;
    while cycle < cycles || (!covered(&seen) && cycle < cycles * 3) {
        let mut hub = spawn_hub(&kubeconfig, &server, &dir);
        *current.lock().expect("addr") = Some(hub.proxy);
        std::thread::sleep(Duration::from_millis(40 + rng.below(400)));
        hub.child.0.kill().expect("kill -9");
        let _ = hub.child.0.wait();
        *current.lock().expect("addr") = None;
        let log = hub.log.lock().expect("log").clone();
        assert!(!log.iter().any(|l| l.contains("panicked")), "{log:#?}");
        gc_lines += log.iter().filter(|l| l.contains("cache gc:")).count();
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_store(&dir, &direct, &mut seen)
        }));
        let views = checked.unwrap_or_else(|e| {
            let tail = &log[log.len().saturating_sub(60)..];
            eprintln!(
                "cycle {cycle}: the hub's last log lines:\n{}",
                tail.join("\n")
            );
            std::panic::resume_unwind(e)
        });
        let objects: usize = views.iter().map(|v| v.3.len()).sum();
        if cycle % 5 == 4 {
            check_offline(&kubeconfig, &dir, &views);
        }
        eprintln!("cycle {cycle}: {} views, {objects} objects", views.len());
        cycle += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread");
    }
    let collections = seen.keys().filter(|v| v.name.is_empty()).count();
    assert!(
        collections >= 4,
        "the clients filled too few views: {seen:#?}"
    );
    assert!(seen.len() > collections, "no GET view was ever cached");
    assert!(gc_lines > 0, "the GC at start never logged");
    eprintln!(
        "{cycle} kills in {:?}; {} views seen; double at resourceVersion {}",
        started.elapsed(),
        seen.len(),
        double.resource_version()
    );
    stop_double.fire();
}
