//! Test support shared by integration tests: a raw HTTP/1.1-over-rustls client (whole answers and
//! incremental chunked streams) and an in-process API double on 127.0.0.1:0 with a test PKI.
//!
//! ```ignore
//! mod support;
//! let srv = support::DoubleServer::start(yurt::apidouble::ApiDouble::sandbox("n1"));
//! let r = smol::block_on(srv.client().get("/api/v1/pods", &[])).expect("answer");
//! assert_eq!(r.status, 200);
//! ```

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::client::TlsStream;
use futures_rustls::TlsConnector;
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;

use yurt::apidouble::ApiDouble;
use yurt::net::shutdown::{self, Trigger};
use yurt::testpki::{PemPair, TestPki};

/// A whole HTTP answer (body de-chunked).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// An HTTPS client for one server: trusts the test CA, optionally presents a client certificate.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Status, headers and the head's length.
type Head = (u16, Vec<(String, String)>, usize);

/// Parses a response head from `buf`; `None` if it is not complete yet.
fn parse_head(buf: &[u8]) -> Option<Head> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..end - 4]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers, end))
}

/// One chunk of a chunked body from `buf`: `Some((payload, consumed))`, empty payload = last chunk.
pub fn parse_chunk(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let size_text = std::str::from_utf8(&buf[..line_end]).ok()?;
    let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
    let start = line_end + 2;
    if buf.len() < start + size + 2 {
        return None;
    }
    Some((buf[start..start + size].to_vec(), start + size + 2))
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
}

/// An open response whose body is read chunk by chunk (watch streams).
pub struct Stream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
    chunked: bool,
    pub ended: bool,
}

impl Stream {
    /// The next body chunk (the whole rest for non-chunked bodies); `None` at the end or after `wait`.
    pub async fn next_chunk(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if self.chunked {
                if let Some((payload, used)) = parse_chunk(&self.buf) {
                    self.buf.drain(..used);
                    if payload.is_empty() {
                        self.ended = true;
                        return None;
                    }
                    return Some(payload);
                }
            }
            if self.ended {
                return (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf));
            }
            let mut tmp = [0u8; 16384];
            let read = async { Some(self.tls.read(&mut tmp).await) }
                .or(async {
                    smol::Timer::at(deadline).await;
                    None
                })
                .await?;
            match read {
                Ok(0) | Err(_) => self.ended = true,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    /// Reads chunks until `pred` holds for the text received so far or `wait` passes.
    pub async fn read_until(&mut self, wait: Duration, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = std::time::Instant::now() + wait;
        let mut all = Vec::new();
        while !pred(&all) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_chunk(left).await {
                Some(c) => all.extend_from_slice(&c),
                None => break,
            }
        }
        all
    }
}

impl Client {
    /// A client trusting `ca_pem`, presenting `identity` if given.
    pub fn new(addr: SocketAddr, ca_pem: &str, identity: Option<&PemPair>) -> Client {
        let id = identity.map(PemPair::identity);
        let tls = yurt::net::tls::client_config(ca_pem.as_bytes(), id.as_ref())
            .expect("client TLS config");
        Client { addr, tls }
    }

    async fn connect(&self) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").map_err(io_err)?;
        TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
    }

    /// Sends a request and returns the stream positioned after the response head.
    pub async fn open(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Stream> {
        let mut tls = self.connect().await?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        tls.write_all(req.as_bytes()).await?;
        tls.write_all(body).await?;
        tls.flush().await?;
        let mut buf = Vec::new();
        let mut tmp = [0u8; 16384];
        loop {
            if let Some((status, headers, used)) = parse_head(&buf) {
                buf.drain(..used);
                let chunked = is_chunked(&headers);
                return Ok(Stream {
                    status,
                    headers,
                    tls,
                    buf,
                    chunked,
                    ended: false,
                });
            }
            let n = tls.read(&mut tmp).await?;
            if n == 0 {
                return Err(io_err("connection closed before the response head"));
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    /// A whole request/response exchange (`Connection: close`).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        h.push(("Connection", "close"));
        let mut s = self.open(method, path, &h, body).await?;
        let mut body = Vec::new();
        while let Some(c) = s.next_chunk(Duration::from_secs(20)).await {
            body.extend_from_slice(&c);
        }
        Ok(Reply {
            status: s.status,
            headers: s.headers,
            body,
        })
    }

    /// GET `path`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
        self.request("GET", path, headers, b"").await
    }
}

/// GET over HTTPS: `(status, headers, body)`.
pub async fn https_get(
    client: &Client,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let r = client.get(path, headers).await.expect("HTTPS GET");
    (r.status, r.headers, r.body)
}

/// An API double served in-process over TLS on 127.0.0.1:0; stops when dropped.
pub struct DoubleServer {
    pub double: ApiDouble,
    pub addr: SocketAddr,
    pub pki: TestPki,
    /// An admin client certificate (`CN=kubernetes-admin, O=system:masters`).
    pub admin: PemPair,
    trigger: Trigger,
}

impl DoubleServer {
    /// Binds, starts serving on the global executor and returns at once.
    pub fn start(double: ApiDouble) -> DoubleServer {
        let pki = TestPki::generate(&[]).expect("test PKI");
        let admin = pki
            .client("kubernetes-admin", Some("system:masters"))
            .expect("admin cert");
        let listener = smol::block_on(smol::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (trigger, sd) = shutdown::channel();
        let d = double.clone();
        let tls = pki.server_config();
        smol::spawn(async move { d.serve(listener, Some(tls), sd).await }).detach();
        DoubleServer {
            double,
            addr,
            pki,
            admin,
            trigger,
        }
    }

    /// A client authenticating with the admin certificate.
    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.pki.ca_pem, Some(&self.admin))
    }

    /// A client with no certificate (use a bearer token or expect 401).
    pub fn anonymous(&self) -> Client {
        Client::new(self.addr, &self.pki.ca_pem, None)
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A kubeconfig for the admin client.
    pub fn kubeconfig(&self) -> String {
        yurt::apidouble::cli::kubeconfig(
            &self.url(),
            &self.pki.ca_pem,
            &self.admin.cert,
            &self.admin.key,
        )
    }
}

impl Drop for DoubleServer {
    fn drop(&mut self) {
        self.trigger.fire();
    }
}

/// Reads a capture file from tests/fixtures/k8s-captures.
pub fn capture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/k8s-captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The `content-type` line of a capture's `.headers` file.
pub fn capture_content_type(name: &str) -> String {
    let text = String::from_utf8(capture(name)).expect("utf8 headers");
    text.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("{name} has no content-type"))
}
