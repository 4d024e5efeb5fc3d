//! The upstream pool: apiservers with their health, load balancing, and keep-alive connections.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_rustls::TlsConnector;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use rustls::pki_types::ServerName;

use super::config::{HubConfig, LbMode, ServerAddr};
use super::kubeconfig::Credential;
use crate::net::http::{connect_timeout, Body};
use crate::net::tls::{self, Identity, TlsError};
use crate::sync::lock;

/// Idle connections kept per server and identity.
const MAX_IDLE: usize = 64;

/// Why a request could not be sent upstream (a transport failure: the server counts as down).
#[derive(Debug)]
pub enum UpstreamError {
    Connect(std::io::Error),
    Tls(std::io::Error),
    Http(hyper::Error),
}

impl UpstreamError {
    /// Short reason for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            UpstreamError::Connect(_) => "connect",
            UpstreamError::Tls(_) => "tls",
            UpstreamError::Http(_) => "http",
        }
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(e) => write!(f, "connect failed: {e}"),
            UpstreamError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            UpstreamError::Http(e) => write!(f, "HTTP exchange failed: {e}"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// Which TLS identity a connection carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ident {
    /// The hub's own client identity (for requests without Authorization).
    Hub,
    /// No client certificate: the request carries its own Authorization.
    Anonymous,
}

struct Health {
    successes: u32,
    last_error: Option<String>,
    since: Instant,
}

/// One apiserver.
pub struct Upstream {
    pub addr: ServerAddr,
    /// The Host header requests to this server carry.
    pub host: Option<http::HeaderValue>,
    healthy: AtomicBool,
    health: Mutex<Health>,
    idle_hub: Mutex<Vec<SendRequest<Body>>>,
    idle_anon: Mutex<Vec<SendRequest<Body>>>,
}

impl Upstream {
    fn new(addr: ServerAddr) -> Upstream {
        Upstream {
            host: http::HeaderValue::from_str(&addr.authority()).ok(),
            addr,
            healthy: AtomicBool::new(true),
            health: Mutex::new(Health {
                successes: 0,
                last_error: None,
                since: Instant::now(),
            }),
            idle_hub: Mutex::new(Vec::new()),
            idle_anon: Mutex::new(Vec::new()),
        }
    }

    /// Whether requests are sent here.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn idle(&self, ident: Ident) -> &Mutex<Vec<SendRequest<Body>>> {
        match ident {
            Ident::Hub => &self.idle_hub,
            Ident::Anonymous => &self.idle_anon,
        }
    }

    /// One line on why the server is down, for Status messages.
    pub fn describe(&self) -> String {
        let h = lock(&self.health);
        let state = if self.is_healthy() {
            "healthy"
        } else {
            "unhealthy"
        };
        match &h.last_error {
            Some(e) if !self.is_healthy() => {
                format!(
                    "{} {state} for {}s ({e})",
                    self.addr.url,
                    h.since.elapsed().as_secs()
                )
            }
            _ => format!("{} {state}", self.addr.url),
        }
    }
}

/// All upstream servers, the TLS material to reach them, and the load-balancing policy.
pub struct Pool {
    servers: Vec<Arc<Upstream>>,
    lb: LbMode,
    next: AtomicUsize,
    tls_hub: Arc<rustls::ClientConfig>,
    tls_anon: Arc<rustls::ClientConfig>,
    bearer: Option<http::HeaderValue>,
    connect_timeout: Duration,
}

impl Pool {
    /// Builds TLS configurations from the kubeconfig; fails on unusable certificates.
    pub fn new(cfg: &HubConfig) -> Result<Pool, TlsError> {
        let ca = &cfg.kubeconfig.ca_pem;
        let tls_anon = tls::client_config(ca, None)?;
        let (tls_hub, bearer) = match &cfg.kubeconfig.credential {
            Credential::ClientCert { cert_pem, key_pem } => (
                tls::client_config(ca, Some(&Identity::from_pem(cert_pem, key_pem)?))?,
                None,
            ),
            Credential::Token(t) => {
                let v = http::HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    TlsError::BadKey(
                        "the kubeconfig token has characters a header cannot carry".into(),
                    )
                })?;
                (tls_anon.clone(), Some(v))
            }
            Credential::None => (tls_anon.clone(), None),
        };
        Ok(Pool {
            servers: cfg
                .servers
                .iter()
                .cloned()
                .map(|a| Arc::new(Upstream::new(a)))
                .collect(),
            lb: cfg.lb_mode,
            next: AtomicUsize::new(0),
            tls_hub,
            tls_anon,
            bearer,
            connect_timeout: cfg.heartbeat.timeout * 2,
        })
    }

    /// Every server, in the order given.
    pub fn servers(&self) -> &[Arc<Upstream>] {
        &self.servers
    }

    /// The Authorization value the hub adds for its own identity, when it is a token.
    pub fn bearer(&self) -> Option<&http::HeaderValue> {
        self.bearer.as_ref()
    }

    /// URL and health of each server, for metrics.
    pub fn snapshot(&self) -> Vec<(String, bool)> {
        self.servers
            .iter()
            .map(|s| (s.addr.url.clone(), s.is_healthy()))
            .collect()
    }

    /// A healthy server per the LB mode, skipping `except`.
    pub fn pick(&self, except: Option<&Upstream>) -> Option<Arc<Upstream>> {
        let ok = |s: &&Arc<Upstream>| {
            s.is_healthy() && !except.is_some_and(|e| std::ptr::eq(e, s.as_ref()))
        };
        match self.lb {
            LbMode::Priority => self.servers.iter().find(ok).cloned(),
            LbMode::RoundRobin => {
                let n = self.servers.len();
                let start = self.next.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .map(|i| &self.servers[(start + i) % n])
                    .find(ok)
                    .cloned()
            }
        }
    }

    /// Passive health: a transport error marks the server down at once.
    pub fn mark_failed(&self, up: &Upstream, err: &str) {
        let mut h = lock(&up.health);
        h.successes = 0;
        h.last_error = Some(err.to_string());
        if up.healthy.swap(false, Ordering::Relaxed) {
            h.since = Instant::now();
            log::warn!("upstream {} is unhealthy: {err}", up.addr.url);
        }
        lock(&up.idle_hub).clear();
        lock(&up.idle_anon).clear();
    }

    /// Active health: a successful probe; `threshold` in a row bring a failed server back.
    pub fn mark_probe_ok(&self, up: &Upstream, threshold: u32) {
        let mut h = lock(&up.health);
        h.successes = h.successes.saturating_add(1);
        if !up.is_healthy() && h.successes >= threshold {
            up.healthy.store(true, Ordering::Relaxed);
            log::info!(
                "upstream {} is healthy again after {}s",
                up.addr.url,
                h.since.elapsed().as_secs()
            );
            h.since = Instant::now();
        }
    }

    /// Returns a connection whose last exchange finished, for reuse.
    pub fn put_back(&self, up: &Upstream, ident: Ident, sender: SendRequest<Body>) {
        if sender.is_closed() || !up.is_healthy() {
            return;
        }
        let mut idle = lock(up.idle(ident));
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    /// Sends `req` on an idle connection or a new one. The sender comes back with the response so
    /// the caller can return it once the body is consumed.
    pub async fn send(
        &self,
        up: &Upstream,
        ident: Ident,
        mut req: Request<Body>,
    ) -> Result<(Response<Incoming>, SendRequest<Body>), UpstreamError> {
        loop {
            let idle = lock(up.idle(ident)).pop();
            let Some(mut sender) = idle else { break };
            // The driver task may still be finishing the previous exchange; wait for it.
            if sender.is_closed() || sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, sender)),
                // The connection was closed before the request went out: try another one.
                Err(mut e) => match e.take_message() {
                    Some(r) => req = r,
                    None => return Err(UpstreamError::Http(e.into_error())),
                },
            }
        }
        let mut sender = self.connect(up, ident).await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(UpstreamError::Http)?;
        Ok((resp, sender))
    }

    /// Opens a new TLS connection to `up` and starts its HTTP/1.1 driver task.
    pub async fn connect(
        &self,
        up: &Upstream,
        ident: Ident,
    ) -> Result<SendRequest<Body>, UpstreamError> {
        let tcp = connect_timeout(&up.addr.authority(), self.connect_timeout)
            .await
            .map_err(UpstreamError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let config = match ident {
            Ident::Hub => self.tls_hub.clone(),
            Ident::Anonymous => self.tls_anon.clone(),
        };
        let name = ServerName::try_from(up.addr.host.clone()).map_err(|e| {
            UpstreamError::Tls(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        })?;
        let tcp = crate::net::io::Stream::new(tcp).map_err(UpstreamError::Connect)?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(UpstreamError::Tls)?;
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, Body>(crate::net::io::Tls(tls))
            .await
            .map_err(UpstreamError::Http)?;
        let url = up.addr.url.clone();
        crate::net::rt::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                log::debug!("connection to {url} ended: {e}");
            }
        })
        .detach();
        Ok(sender)
    }
}
