//! The benchmark's phases: fill online, watch events, cut, offline lists, RSS, cold starts.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{Conn, Tls};
use crate::procs::{self, Hub, Proc};
use crate::{Opts, Res};
use yurt::apidouble::seed::{filler, PAD_ANNOTATION};

const NODE: &str = "bench-node";
const LIST: &str = "/api/v1/pods?fieldSelector=spec.nodeName%3Dbench-node";
const KUBELET: [&str; 2] = [
    "User-Agent: kubelet/v1.34.0 (linux/arm64)",
    "Accept: application/json",
];

/// One round's figures (ms, bytes, MiB).
#[derive(Debug, Default, Clone)]
pub struct Figures {
    /// Offline LIST of 1,000 pods: p50, p99 (ms).
    pub list1k: (f64, f64),
    /// Offline LIST of 10,000 pods: p50, p99 (ms).
    pub list10k: (f64, f64),
    /// Cold start to a complete 10,000-pod LIST: p50, min, max (ms).
    pub cold: (f64, f64, f64),
    /// The same with the cache's files evicted from the page cache first.
    pub cold_evicted: (f64, f64, f64),
    /// Bytes written (write_bytes) per event, one event at a time.
    pub single: f64,
    /// The same, events in bursts.
    pub burst: f64,
    /// Size of one object in the cache (bytes).
    pub object_bytes: f64,
    /// Cache on disk after the events, objects in it, the journal's part of the disk (MiB).
    pub disk: (f64, f64, f64),
    /// VmRSS, VmHWM, RssAnon, RssFile of the hub that filled the cache online and served it
    /// offline (MiB).
    pub online: (f64, f64, f64, f64),
    /// VmRSS, VmHWM of a cold-started hub serving the cache (MiB).
    pub cold_rss: (f64, f64, f64, f64),
}

/// p50, min, max (ms).
type Spread = (f64, f64, f64);

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(v: &mut [Duration], p: usize) -> f64 {
    v.sort();
    ms(v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default())
}

/// VmRSS, VmHWM, RssAnon, RssFile (MiB).
type Mem = (f64, f64, f64, f64);

fn rss(pid: u32) -> Mem {
    (
        mib(procs::status_kib(pid, "VmRSS")),
        mib(procs::status_kib(pid, "VmHWM")),
        mib(procs::status_kib(pid, "RssAnon")),
        mib(procs::status_kib(pid, "RssFile")),
    )
}

/// One round with the hub binary `hub`.
pub fn all(o: &Opts, hub: &Path) -> Res<Figures> {
    let mut f = Figures::default();
    (f.list1k, _) = offline_lists(o, hub, 1_000, "1k", None)?;
    (f.list10k, f.online) = offline_lists(o, hub, 10_000, "10k", Some(&mut f))?;
    let cache = o.dir.join("cache-10k");
    (f.cold, f.cold_rss) = cold_starts(o, hub, &cache, false)?;
    (f.cold_evicted, _) = cold_starts(o, hub, &cache, true)?;
    eprintln!("{f:?}");
    Ok(f)
}

/// A double with `pods` pods, a hub filled online; `events` runs the watch phase. Then the cut and
/// `o.lists` offline LISTs. Returns (p50, p99) and (VmRSS, VmHWM); leaves the cache behind.
fn offline_lists(
    o: &Opts,
    hub_bin: &Path,
    pods: usize,
    tag: &str,
    events: Option<&mut Figures>,
) -> Res<((f64, f64), Mem)> {
    let work = o.dir.join(tag);
    std::fs::create_dir_all(&work)?;
    let cache = o.dir.join(format!("cache-{tag}"));
    eprintln!(
        "[{tag}] API double with {pods} pods of ~{} bytes",
        o.pod_bytes
    );
    let (mut double, url) = procs::double(&o.yurt, &work, pods, o.pod_bytes, NODE)?;
    let mut hub = procs::hub(hub_bin, &work, &cache, &url, tag)?;
    let mut c = Conn::tcp(hub.proxy)?;
    let online = c.request("GET", LIST, &KUBELET, b"")?;
    let list: Value = serde_json::from_slice(&online.body)?;
    let got = list["items"].as_array().map_or(0, Vec::len);
    if online.status != 200 || got != pods {
        return Err(format!("online LIST: {} with {got} items", online.status).into());
    }
    let rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .parse()?;
    wait_view(hub.server, rv, pods)?;
    eprintln!(
        "[{tag}] cached {pods} pods ({} bytes of list)",
        online.body.len()
    );
    let watch = match events {
        Some(f) => Some(watch_events(o, &work, &cache, &hub, &url, &list, rv, f)?),
        None => None,
    };
    double.kill();
    let mut lat = Vec::new();
    for _ in 0..o.lists {
        let t = Instant::now();
        let r = c.request("GET", LIST, &KUBELET, b"")?;
        lat.push(t.elapsed());
        if r.status != 200 {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            return Err(format!("offline LIST: {} {body}", r.status).into());
        }
    }
    check_items(&c.request("GET", LIST, &KUBELET, b"")?.body, pods)?;
    let mem = rss(hub.proc.pid);
    drop(watch);
    hub.proc.stop();
    let p = (percentile(&mut lat, 50), percentile(&mut lat, 99));
    eprintln!("[{tag}] offline LIST p50 / p99 {p:?} ms; VmRSS / VmHWM {mem:?} MiB");
    Ok((p, mem))
}

fn check_items(body: &[u8], pods: usize) -> Res<()> {
    let v: Value = serde_json::from_slice(body)?;
    let got = v["items"].as_array().map_or(0, Vec::len);
    if got != pods {
        return Err(format!("offline LIST has {got} items, not {pods}").into());
    }
    Ok(())
}

/// The kubelet pods view as `GET /v1/cache` reports it: (resourceVersion, items, bytes).
fn view_state(server: SocketAddr) -> Res<(u64, usize, u64)> {
    let r = Conn::tcp(server)?.request("GET", "/v1/cache", &["Connection: close"], b"")?;
    let v: Value = serde_json::from_slice(&r.body)?;
    let views = v["views"].as_array().cloned().unwrap_or_default();
    let view = views.iter().find(|v| {
        v["component"] == "kubelet"
            && v["resource"] == "pods"
            && v["field_selector"] == "spec.nodeName=bench-node"
    });
    Ok(view.map_or((0, 0, 0), |v| {
        (
            v["resource_version"].as_u64().unwrap_or(0),
            v["items"].as_u64().unwrap_or(0) as usize,
            v["bytes"].as_u64().unwrap_or(0),
        )
    }))
}

/// Waits until the view holds `count` objects at resourceVersion `rv` or later.
fn wait_view(server: SocketAddr, rv: u64, count: usize) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let (at, n, _) = view_state(server)?;
        if at >= rv && n == count {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Err(format!("the cache never reached resourceVersion {rv} with {count} objects").into())
}

/// Waits until the hub has written nothing for `quiet` (background flushes done).
fn settle(pid: u32, quiet: Duration) {
    let mut last = procs::io(pid, "write_bytes");
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while since.elapsed() < quiet && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = procs::io(pid, "write_bytes");
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

/// An open kubelet-style watch through the hub, read (and dropped) by a thread; closed on drop.
struct Watch(TcpStream);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }
}

/// Opens a watch through the hub, then changes pods upstream: one event at a time, then bursts.
/// Objects changed round a prime stride, so every event hits another object of the 10,000.
#[allow(clippy::too_many_arguments)]
fn watch_events(
    o: &Opts,
    work: &Path,
    cache: &Path,
    hub: &Hub,
    url: &str,
    list: &Value,
    rv: u64,
    f: &mut Figures,
) -> Res<Watch> {
    let mut w = Conn::tcp(hub.proxy)?;
    let path = format!(
        "{LIST}&watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=3600"
    );
    w.send("GET", &path, &KUBELET, b"")?;
    let (status, _) = w.read_head()?;
    if status != 200 {
        return Err(format!("watch through the hub: {status}").into());
    }
    let sock = w.io_ref().try_clone()?;
    std::thread::spawn(move || while let Ok(Some(_)) = w.next_chunk() {});
    let pad = list["items"][0]["metadata"]["annotations"][PAD_ANNOTATION]
        .as_str()
        .map_or(0, str::len);
    let pods = list["items"].as_array().map_or(1, Vec::len);
    let mut up = upstream(work, url)?;
    let pid = hub.proc.pid;
    settle(pid, Duration::from_secs(2));
    let mut seq = 0usize;
    let mut patch = |up: &mut Conn<Tls>| -> Res<u64> {
        seq += 1;
        let pad = filler(pad, 1_000_000 + seq as u64);
        let body = serde_json::json!({"metadata": {"annotations": {PAD_ANNOTATION: pad}}});
        let path = format!(
            "/api/v1/namespaces/default/pods/pod-{}",
            (seq * 7919) % pods + 1
        );
        let headers = [
            "Content-Type: application/merge-patch+json",
            "Accept: application/json",
        ];
        let r = up.request("PATCH", &path, &headers, body.to_string().as_bytes())?;
        let v: Value = serde_json::from_slice(&r.body)?;
        Ok(v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .parse()?)
    };
    let (_, count, bytes) = view_state(hub.server)?;
    f.object_bytes = bytes as f64 / count.max(1) as f64;
    for burst in [1, o.burst] {
        let before = procs::io(pid, "write_bytes");
        let t = Instant::now();
        for _ in 0..o.events / burst {
            let mut last = 0;
            for _ in 0..burst {
                last = patch(&mut up)?;
            }
            wait_view(hub.server, last, count)?;
        }
        let took = t.elapsed();
        settle(pid, Duration::from_secs(2));
        let n = o.events as f64;
        let all = (procs::io(pid, "write_bytes") - before) as f64 / n;
        let per_batch = ms(took) / (o.events / burst) as f64;
        eprintln!("[events] bursts of {burst}: {all:.0} B per event, {per_batch:.1} ms per burst");
        if burst == 1 {
            f.single = all;
        } else {
            f.burst = all;
        }
    }
    let (_, _, bytes) = view_state(hub.server)?;
    f.disk = (
        procs::disk_bytes(cache) as f64 / 1048576.0,
        bytes as f64 / 1048576.0,
        procs::journal_bytes(cache) as f64 / 1048576.0,
    );
    Ok(Watch(sock))
}

/// An admin connection to the API double.
fn upstream(work: &Path, url: &str) -> Res<Conn<Tls>> {
    let pki = work.join("pki");
    let read = |f: &str| std::fs::read(pki.join(f));
    let id = yurt::net::tls::Identity::from_pem(&read("admin.crt")?, &read("admin.key")?)?;
    let cfg = yurt::net::tls::client_config(&read("ca.crt")?, Some(&id))?;
    let addr: SocketAddr = url.trim_start_matches("https://").parse()?;
    Ok(Conn::tls(addr, cfg)?)
}

/// `o.cold` restarts of the hub over the 10k cache with the cloud gone: spawn to the last byte
/// of a complete offline LIST (`evict`: the cache's files dropped from the page cache first, as
/// after a reboot). Returns (p50, min, max) and the last hub's (VmRSS, VmHWM) after five more
/// LISTs.
fn cold_starts(
    o: &Opts,
    hub: &Path,
    cache: &Path,
    evict: bool,
) -> Res<(Spread, (f64, f64, f64, f64))> {
    let dead = format!("https://127.0.0.1:{}", procs::free_port()?);
    let mut times = Vec::new();
    let mut mem = (0.0, 0.0, 0.0, 0.0);
    for i in 0..o.cold {
        let ports = (procs::free_port()?, procs::free_port()?);
        let proxy = SocketAddr::from(([127, 0, 0, 1], ports.0));
        if evict {
            procs::evict(cache)?;
        }
        let t = Instant::now();
        let work = o.dir.join("10k");
        let (mut p, rx) = procs::hub_spawn(hub, &work, cache, &dead, ports, &format!("cold{i}"))?;
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let mut c = connect(proxy, &p)?;
        let r = c.request("GET", LIST, &KUBELET, b"")?;
        times.push(t.elapsed());
        if r.status != 200 {
            return Err(format!("cold LIST: {}", r.status).into());
        }
        check_items(&r.body, 10_000)?;
        for _ in 0..5 {
            c.request("GET", LIST, &KUBELET, b"")?;
        }
        mem = rss(p.pid);
        p.stop();
    }
    let (min, max) = (
        times.iter().min().copied().unwrap_or_default(),
        times.iter().max().copied().unwrap_or_default(),
    );
    let cold = (percentile(&mut times, 50), ms(min), ms(max));
    eprintln!("[cold, evicted {evict}] {cold:?} ms; VmRSS / VmHWM {mem:?} MiB");
    Ok((cold, mem))
}

/// Connects as soon as the hub listens (polling every 0.2 ms).
fn connect(addr: SocketAddr, p: &Proc) -> Res<Conn<TcpStream>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(c) = Conn::tcp(addr) {
            return Ok(c);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Err(format!("hub {} never listened on {addr}", p.pid).into())
}
