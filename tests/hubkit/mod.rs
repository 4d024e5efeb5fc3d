//! Test kit for the hub: a controllable TLS upstream, an in-process hub, and a raw HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use yurt::hub::config::{Heartbeat, HubConfig, LbMode, ServerAddr};
use yurt::hub::kubeconfig::{Credential, Kubeconfig};
use yurt::net::http::{full, Body, ConnInfo};
use yurt::net::shutdown::{self, Trigger};
use yurt::testpki::TestPki;

/// Shared PKI per test binary.
pub fn pki() -> Arc<TestPki> {
    static PKI: std::sync::OnceLock<Arc<TestPki>> = std::sync::OnceLock::new();
    PKI.get_or_init(|| Arc::new(TestPki::generate(&[]).expect("pki")))
        .clone()
}

/// What the echo upstream saw.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub client_cert: bool,
    pub body_len: usize,
    /// The hub's side of the connection the request came on.
    pub peer: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A TLS upstream that echoes requests as JSON (`/echo…`), streams on demand (`/stream`),
/// answers `/readyz`, and can be stopped and restarted on the same port.
pub struct EchoUpstream {
    pub addr: SocketAddr,
    pub name: &'static str,
    trigger: Option<Trigger>,
    /// Chunks to send on `/stream`; the test pushes, the handler forwards.
    pub stream_tx: smol::channel::Sender<Bytes>,
    stream_rx: smol::channel::Receiver<Bytes>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl EchoUpstream {
    pub fn start(name: &'static str) -> EchoUpstream {
        let (stream_tx, stream_rx) = smol::channel::unbounded();
        let mut up = EchoUpstream {
            addr: "127.0.0.1:0".parse().expect("addr"),
            name,
            trigger: None,
            stream_tx,
            stream_rx,
            seen: Default::default(),
        };
        up.restart();
        up
    }

    /// Stops serving: the port closes and open connections are dropped.
    pub fn kill(&mut self) {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
        // Wait until the port is really closed.
        for _ in 0..100 {
            if TcpStream::connect(self.addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("upstream did not stop");
    }

    /// (Re)starts on the same port (a fresh port the first time).
    pub fn restart(&mut self) {
        let listener =
            smol::block_on(smol::net::TcpListener::bind(self.addr)).expect("bind upstream");
        self.addr = listener.local_addr().expect("addr");
        let (trigger, shutdown) = shutdown::channel();
        self.trigger = Some(trigger);
        let rx = self.stream_rx.clone();
        let seen = self.seen.clone();
        let name = self.name;
        smol::spawn(yurt::net::http::serve(
            listener,
            Some(pki().server_config()),
            shutdown,
            Duration::ZERO,
            move |req, conn| handle(req, conn, rx.clone(), seen.clone(), name),
        ))
        .detach();
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    conn: ConnInfo,
    rx: smol::channel::Receiver<Bytes>,
    seen: Arc<Mutex<Vec<Seen>>>,
    name: &'static str,
) -> Response<Body> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let method = req.method().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if req.uri().path() == "/readyz" {
        return Response::new(full("ok"));
    }
    if req.uri().path() == "/slow" {
        smol::Timer::after(Duration::from_millis(700)).await;
        return Response::new(full("slow answer"));
    }
    if req.uri().path() == "/stream" {
        let body = http_body_util::StreamBody::new(smol::stream::unfold(rx, |rx| async move {
            let chunk = rx.recv().await.ok()?;
            Some((
                Ok::<_, yurt::net::http::BoxError>(hyper::body::Frame::data(chunk)),
                rx,
            ))
        }));
        return Response::builder()
            .header("content-type", "application/json")
            .body(body.boxed_unsync())
            .expect("resp");
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let s = Seen {
        method,
        path,
        headers,
        client_cert: conn.client_cert,
        body_len: body.len(),
        peer: conn.peer.to_string(),
    };
    seen.lock().expect("lock").push(s.clone());
    Response::builder()
        .header("content-type", "application/json")
        .header("x-upstream", name)
        .body(full(serde_json::to_vec(&s).expect("json")))
        .expect("resp")
}

/// An in-process hub.
pub struct HubUnderTest {
    pub proxy: SocketAddr,
    pub server: SocketAddr,
    trigger: Option<Trigger>,
    done: Option<smol::Task<()>>,
    /// Removed on drop when made by [`temp_cache_dir`].
    cache_dir: PathBuf,
}

/// A child process killed when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `yurt <args>` and waits for a stderr line containing `ready_marker`; returns the child and
/// the stderr lines read so far. The rest of stderr is drained in the background.
pub fn spawn_yurt(args: &[&str], ready_marker: &str) -> (Child, Vec<String>) {
    spawn_bin(env!("CARGO_BIN_EXE_yurt"), args, ready_marker)
}

/// [`spawn_yurt`] for another of the package's binaries (`yurthub`).
pub fn spawn_bin(exe: &str, args: &[&str], ready_marker: &str) -> (Child, Vec<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn yurt");
    let stderr = child.stderr.take().expect("stderr");
    // Killed and reaped if it never gets ready (the panic below drops it).
    let child = Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => {
                let done = l.contains(ready_marker);
                lines.push(l);
                if done {
                    std::thread::spawn(move || while rx.recv().is_ok() {});
                    return (child, lines);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    panic!("yurt {args:?} never logged {ready_marker:?}; stderr: {lines:#?}");
}

/// The address after `marker` in a log line, e.g. "proxy listening on http://" → 127.0.0.1:1234.
pub fn addr_after(lines: &[String], marker: &str) -> SocketAddr {
    lines
        .iter()
        .find_map(|l| {
            l.split_once(marker).map(|(_, rest)| {
                rest.split(|c: char| c == ';' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
        })
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no {marker:?} in {lines:#?}"))
}

/// A hub configuration for `servers` with the given credential and a 1 s heartbeat.
pub fn hub_config(servers: &[&EchoUpstream], credential: Credential, lb: LbMode) -> HubConfig {
    let addrs: Vec<SocketAddr> = servers.iter().map(|u| u.addr).collect();
    hub_config_for(&addrs, credential, lb)
}

/// A hub configuration for upstreams on loopback `addrs` (serving `pki()` certificates).
pub fn hub_config_for(addrs: &[SocketAddr], credential: Credential, lb: LbMode) -> HubConfig {
    let url = |a: &SocketAddr| format!("https://127.0.0.1:{}", a.port());
    HubConfig {
        servers: addrs
            .iter()
            .map(|a| ServerAddr {
                url: url(a),
                host: "127.0.0.1".into(),
                port: a.port(),
            })
            .collect(),
        node_name: "edge-node-1".into(),
        kubeconfig: Kubeconfig {
            server: url(&addrs[0]),
            ca_pem: pki().ca_pem.clone().into_bytes(),
            credential,
        },
        cache_dir: temp_cache_dir(),
        proxy_addr: "127.0.0.1:0".parse().expect("addr"),
        server_addr: "127.0.0.1:0".parse().expect("addr"),
        lb_mode: lb,
        heartbeat: Heartbeat {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            failed_retry: 1,
            healthy_threshold: 2,
        },
        shutdown_grace: Duration::from_secs(1),
    }
}

/// A fresh cache directory for one hub; removed when the [`HubUnderTest`] using it drops.
pub fn temp_cache_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("yurt-hubkit-{}-{n}", std::process::id()))
}

/// The hub's own client certificate credential.
pub fn node_cert() -> Credential {
    let pair = pki().node_client("edge-node-1").expect("client cert");
    Credential::ClientCert {
        cert_pem: pair.cert.into_bytes(),
        key_pem: pair.key.into_bytes(),
    }
}

impl HubUnderTest {
    pub fn start(cfg: HubConfig) -> HubUnderTest {
        let cache = yurt::hub::cache::CacheConfig::in_dir(&cfg.cache_dir);
        HubUnderTest::start_with_cache(cfg, cache)
    }

    /// Starts a hub with explicit cache settings (e.g. `Agents::All` for curl and kubectl).
    pub fn start_with_cache(cfg: HubConfig, cache: yurt::hub::cache::CacheConfig) -> HubUnderTest {
        let cache_dir = cfg.cache_dir.clone();
        let (proxy, server) = smol::block_on(async {
            (
                smol::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind"),
                smol::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind"),
            )
        });
        let (pa, sa) = (
            proxy.local_addr().expect("addr"),
            server.local_addr().expect("addr"),
        );
        let (trigger, shutdown) = shutdown::channel();
        let done = smol::spawn(async move {
            yurt::hub::run_with_cache(yurt::hub::Listeners { proxy, server }, cfg, cache, shutdown)
                .await
                .expect("hub runs");
        });
        HubUnderTest {
            proxy: pa,
            server: sa,
            trigger: Some(trigger),
            done: Some(done),
            cache_dir,
        }
    }

    /// Fires shutdown and waits for the hub to stop.
    pub fn stop(&mut self) {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
        if let Some(d) = self.done.take() {
            smol::block_on(d);
        }
    }

    pub fn metrics(&self) -> String {
        let r = request(
            self.server,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        String::from_utf8_lossy(&r.body).into_owned()
    }

    /// Waits (up to 10 s) until the hub counts the upstream at `upstream` as down.
    pub fn wait_unhealthy(&self, upstream: SocketAddr) {
        let marker = format!(
            "node_yurthub_server_healthy_status{{server=\"https://127.0.0.1:{}\"}} 0",
            upstream.port()
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.metrics().contains(&marker) {
            assert!(
                std::time::Instant::now() < deadline,
                "the hub never noticed the cut"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for HubUnderTest {
    fn drop(&mut self) {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
        let ours = self
            .cache_dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("yurt-hubkit-"));
        if ours {
            if let Some(d) = self.done.take() {
                smol::block_on(d);
            }
            let _ = std::fs::remove_dir_all(&self.cache_dir);
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends raw bytes, reads to EOF (or 10 s), parses one response (de-chunking).
pub fn request(addr: SocketAddr, raw: impl AsRef<[u8]>) -> RawResponse {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(raw.as_ref()).expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
        .unwrap_or_else(|| panic!("no HTTP response in {:?}", String::from_utf8_lossy(&buf)))
}

/// Parses a whole response held in `buf`.
pub fn parse_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// Removes chunked framing (tolerates a truncated tail).
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// Drops the AGE column (the last one) of kubectl's table output, which depends on when kubectl ran.
pub fn without_age(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| {
            let mut cols: Vec<&str> = l.split_whitespace().collect();
            cols.pop();
            cols.join(" ")
        })
        .collect()
}

/// Whether kubectl can run here; in CI it must. Prints why a test skips otherwise.
pub fn kubectl_present() -> bool {
    let ok = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl is required in CI"
        );
        eprintln!("skipping: kubectl is not installed");
    }
    ok
}

/// A spawned `yurt` whose every stderr line is kept (for tests that read the log or kill -9 it).
pub struct Logged {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    /// The stderr lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("log").clone()
    }

    /// The address after `marker` in the log (see [`addr_after`]).
    pub fn addr_after(&self, marker: &str) -> SocketAddr {
        addr_after(&self.lines(), marker)
    }
}

/// Starts `yurt <args>` (with `RUST_LOG=info`) and waits up to 20 s for a stderr line holding
/// `ready_marker`.
pub fn spawn_yurt_logged(args: &[&str], ready_marker: &str) -> Logged {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn yurt");
    let stderr = child.stderr.take().expect("stderr");
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().expect("log").push(line);
        }
    });
    let logged = Logged {
        child: Child(child),
        lines,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !logged.lines().iter().any(|l| l.contains(ready_marker)) {
        assert!(
            std::time::Instant::now() < deadline,
            "yurt {args:?} never logged {ready_marker:?}: {:#?}",
            logged.lines()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    logged
}
