//! Shared harness for the tunnel tests: a PKI, an in-process server and agent on loopback port 0,
//! a kubelet stand-in (TLS HTTP with health, chunked logs, upgrade echo) and CONNECT clients.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_rustls::{TlsAcceptor, TlsConnector};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::unix::UnixListener;
use smol::net::{TcpListener, TcpStream};
use yurt::net::shutdown::{self, Trigger};
use yurt::net::tls;
use yurt::testpki::TestPki;
use yurt::tunnel::agent::{run_agent, AgentConfig};
use yurt::tunnel::server::{run_server, ServerConfig, ServerListeners};

/// Lines of the logs-style stream.
pub const LOG_LINES: usize = 5000;

/// Uses two executor threads (the machine has two cores); must run before anything spawns.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("SMOL_THREADS", "2");
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

/// Runs `f` on the test thread with a deadline, so no test can hang.
pub fn run<F: std::future::Future<Output = ()>>(limit: Duration, f: F) {
    init();
    smol::block_on(async {
        smol::future::or(f, async {
            smol::Timer::after(limit).await;
            panic!("test did not finish within {limit:?}");
        })
        .await
    })
}

pub fn pki() -> TestPki {
    TestPki::generate(&[]).expect("pki")
}

/// A running in-process server; dropping the handle (or `stop`) shuts it down.
pub struct Server {
    pub agents: SocketAddr,
    pub proxy_tls: SocketAddr,
    pub proxy_plain: SocketAddr,
    pub uds: PathBuf,
    pub meta: SocketAddr,
    trigger: Option<Trigger>,
    task: Option<smol::Task<()>>,
    _dir: tempdir::Dir,
}

impl Server {
    /// Fires shutdown and waits until every listener is closed.
    pub async fn stop(mut self) {
        if let Some(t) = self.trigger.take() {
            t.fire();
        }
        if let Some(task) = self.task.take() {
            task.await;
        }
    }
}

pub fn server_config(pki: &TestPki, keepalive: Duration) -> ServerConfig {
    let id = pki.server.identity();
    let agent_tls =
        yurt::tunnel::tls::agent_listener_config(&id, pki.ca_pem.as_bytes()).expect("tls");
    let proxy_tls = yurt::tunnel::tls::proxy_config(&id, pki.ca_pem.as_bytes()).expect("tls");
    let mut c = ServerConfig::new(agent_tls, proxy_tls);
    c.keepalive = keepalive;
    c.dial_timeout = Duration::from_secs(5);
    c
}

/// Starts a server; `agent_port` 0 picks a free port.
pub async fn start_server(pki: &TestPki, agent_port: u16, keepalive: Duration) -> Server {
    start_server_with(agent_port, server_config(pki, keepalive)).await
}

/// Starts a server with `config`.
pub async fn start_server_with(agent_port: u16, config: ServerConfig) -> Server {
    let dir = tempdir::Dir::new();
    let uds = dir.path.join("proxy.sock");
    let agents = TcpListener::bind(("127.0.0.1", agent_port))
        .await
        .expect("bind agents");
    let l = ServerListeners {
        proxy_tls: Some(TcpListener::bind("127.0.0.1:0").await.expect("bind")),
        proxy_plain: Some(TcpListener::bind("127.0.0.1:0").await.expect("bind")),
        proxy_uds: Some(UnixListener::bind(&uds).expect("bind uds")),
        meta: Some(TcpListener::bind("127.0.0.1:0").await.expect("bind")),
        agents,
    };
    let addr =
        |l: &Option<TcpListener>| l.as_ref().and_then(|l| l.local_addr().ok()).expect("addr");
    let (trigger, shutdown) = shutdown::channel();
    let server = Server {
        agents: l.agents.local_addr().expect("addr"),
        proxy_tls: addr(&l.proxy_tls),
        proxy_plain: addr(&l.proxy_plain),
        meta: addr(&l.meta),
        uds,
        trigger: Some(trigger),
        task: None,
        _dir: dir,
    };
    let task = smol::spawn(run_server(l, config, shutdown));
    Server {
        task: Some(task),
        ..server
    }
}

/// A running in-process agent.
pub struct Agent {
    pub meta: SocketAddr,
    trigger: Trigger,
    _task: smol::Task<()>,
}

impl Agent {
    pub fn stop(self) {
        self.trigger.fire();
    }
}

pub fn agent_config(pki: &TestPki, node: &str, servers: &[SocketAddr]) -> AgentConfig {
    let cert = pki.node_client(node).expect("cert");
    let tls =
        yurt::tunnel::tls::agent_dial_config(pki.ca_pem.as_bytes(), &cert.identity()).expect("tls");
    let servers = servers.iter().map(|s| s.to_string()).collect();
    let mut c = AgentConfig::new(
        node.to_string(),
        vec!["127.0.0.1".parse().expect("ip")],
        servers,
        tls,
    );
    c.backoff.initial = Duration::from_millis(100);
    c.backoff.max = Duration::from_secs(1);
    c.connect_timeout = Duration::from_secs(5);
    c
}

pub async fn start_agent(config: AgentConfig) -> Agent {
    let meta = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = meta.local_addr().expect("addr");
    let (trigger, shutdown) = shutdown::channel();
    let task = smol::spawn(run_agent(Some(meta), config, shutdown));
    Agent {
        meta: addr,
        trigger,
        _task: task,
    }
}

/// A plain HTTP/1.0 GET; returns the whole response.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect meta");
    let req = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

/// Waits until the server's `/v1/agents` lists `node` (`want`) or no longer lists it.
pub async fn wait_agent(server_meta: SocketAddr, node: &str, want: bool) -> Duration {
    let start = Instant::now();
    let needle = format!("\"node\":\"{node}\"");
    loop {
        let page = http_get(server_meta, "/v1/agents").await;
        if page.contains(&needle) == want {
            return start.elapsed();
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}

/// Waits until `path` on `meta` contains `needle`; panics with the page after `within`.
pub async fn wait_page(meta: SocketAddr, path: &str, needle: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let page = http_get(meta, path).await;
        if page.contains(needle) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{needle:?} not in {path} after {within:?}: {page}"
        );
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}

/// Sends a CONNECT head on `stream` and reads the answer head; returns the status code.
pub async fn connect_on<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: &str,
) -> (u16, String) {
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .expect("write CONNECT");
    let head = read_head(stream).await;
    let code = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, head)
}

/// Reads up to and including the blank line, byte by byte (so nothing after it is consumed).
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// CONNECT through the plain loopback front end; panics unless the answer is 200.
pub async fn tunnel_plain(proxy: SocketAddr, target: &str) -> TcpStream {
    let mut s = TcpStream::connect(proxy).await.expect("connect proxy");
    let (code, head) = connect_on(&mut s, target).await;
    assert_eq!(code, 200, "CONNECT {target}: {head}");
    s
}

/// TLS to the kubelet stand-in over an established tunnel.
pub async fn kubelet_tls<S: AsyncRead + AsyncWrite + Unpin>(
    pki: &TestPki,
    s: S,
) -> futures_rustls::client::TlsStream<S> {
    let config = tls::client_config(pki.ca_pem.as_bytes(), None).expect("client tls");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    TlsConnector::from(config)
        .connect(name, s)
        .await
        .expect("TLS to kubelet stand-in")
}

/// The expected logs-style body (decoded).
pub fn log_body() -> Vec<u8> {
    (0..LOG_LINES)
        .flat_map(|i| {
            format!("2026-01-01T00:00:00Z line {i} of the kubelet log stand-in\n").into_bytes()
        })
        .collect()
}

/// A kubelet stand-in: HTTPS on 127.0.0.1:0. `GET /healthz` → "ok"; `GET /containerLogs/...`
/// → chunked stream of [`LOG_LINES`] lines, one chunk each; any request with `Upgrade:` → 101
/// and then echo of every byte until EOF.
pub async fn kubelet(pki: &TestPki) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind kubelet");
    let addr = l.local_addr().expect("addr");
    let config = tls::server_config(&pki.server.identity(), None, false).expect("tls");
    let acceptor = TlsAcceptor::from(config);
    smol::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            smol::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_kubelet(tls).await;
                }
            })
            .detach();
        }
    })
    .detach();
    addr
}

async fn serve_kubelet<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let head = read_head(&mut s).await;
    let lower = head.to_ascii_lowercase();
    if lower.contains("\r\nupgrade:") {
        let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").await;
        let _ = s.flush().await;
        echo(&mut s).await;
    } else if head.starts_with("GET /containerLogs/") {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n").await;
        for (i, line) in log_body().split_inclusive(|&b| b == b'\n').enumerate() {
            let mut chunk = format!("{:x}\r\n", line.len()).into_bytes();
            chunk.extend_from_slice(line);
            chunk.extend_from_slice(b"\r\n");
            if s.write_all(&chunk).await.is_err() {
                return;
            }
            if i % 500 == 0 {
                let _ = s.flush().await;
                smol::Timer::after(Duration::from_millis(2)).await;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    } else {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
    }
    let _ = s.flush().await;
    let _ = s.close().await;
}

/// Copies everything read back to the writer until EOF, then closes.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
                let _ = s.flush().await;
            }
        }
    }
    let _ = s.close().await;
}

/// A plain TCP destination on 127.0.0.1:0: `E` → echo until EOF; `B<u32 n>` → n pattern bytes.
pub async fn plain_service() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    smol::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            smol::spawn(async move {
                let mut cmd = [0u8; 1];
                if s.read_exact(&mut cmd).await.is_err() {
                    return;
                }
                if cmd[0] == b'E' {
                    echo(&mut s).await;
                } else {
                    let mut n = [0u8; 4];
                    if s.read_exact(&mut n).await.is_err() {
                        return;
                    }
                    let _ = s
                        .write_all(&pattern(0, u32::from_be_bytes(n) as usize))
                        .await;
                    let _ = s.close().await;
                }
            })
            .detach();
        }
    })
    .detach();
    addr
}

/// Deterministic bytes: position `at`, `len` bytes.
pub fn pattern(at: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| ((at + i) % 251) as u8).collect()
}

pub mod tempdir {
    use std::path::PathBuf;

    /// A scratch directory removed on drop.
    pub struct Dir {
        pub path: PathBuf,
    }

    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "yurt-tunnel-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("mkdir");
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
