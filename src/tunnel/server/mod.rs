//! `yurt tunnel-server`: accepts agent links and offers kube-apiserver an HTTP CONNECT front end
//! (TLS with client certificates on TCP, plain on a Unix socket or loopback port) that reaches
//! each node's kubelet through its agent. Meta server: `/healthz`, `/metrics`, `/v1/agents`.
//!
//! Answers on the front end: 200 and splice; 400/405/431 for an unusable head; 403 when the
//! agent's allowlist refuses the destination or the TLS client is a node
//! (`CN=system:node:*`, so a node's kubelet certificate never reaches other nodes); 503 when no
//! agent serves the node or its link fails; 502 when the agent cannot connect; 504 on timeout.

pub mod agents;
pub mod cli;
pub mod proxy;
pub mod routes;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use smol::net::unix::UnixListener;
use smol::net::TcpListener;

use crate::net::shutdown::Shutdown;
use crate::tunnel::meta::{self, Page};
use crate::tunnel::metrics::Metrics;
use crate::tunnel::mux::{Link, MuxLimits};

/// Sockets the server serves, bound by the caller. Front ends left `None` are not offered.
#[derive(Debug)]
pub struct ServerListeners {
    /// Agent links (default :10262).
    pub agents: TcpListener,
    /// CONNECT over TLS with client certificates (default :10263).
    pub proxy_tls: Option<TcpListener>,
    /// Plain CONNECT on loopback (default 127.0.0.1:10264).
    pub proxy_plain: Option<TcpListener>,
    /// Plain CONNECT on a Unix socket (what kube-apiserver's `transport.uds` dials).
    pub proxy_uds: Option<UnixListener>,
    /// Meta server (default :10265).
    pub meta: Option<TcpListener>,
}

/// The resolved server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// TLS for agent links: TLS 1.3, client certificates required ([`crate::tunnel::tls`]).
    pub agent_tls: Arc<rustls::ServerConfig>,
    /// TLS for the CONNECT front end (client certificates required).
    pub proxy_tls: Arc<rustls::ServerConfig>,
    /// Keepalive interval on agent links; a link silent for two intervals is dropped. Default 10 s.
    pub keepalive: Duration,
    /// Stream and window caps per link.
    pub mux: MuxLimits,
    /// How long an agent may take to answer a dial (it dials with its own, shorter timeout).
    /// Default 15 s.
    pub dial_timeout: Duration,
    /// TLS handshake plus registration deadline for agents, and the CONNECT head deadline.
    /// Default 10 s.
    pub handshake_timeout: Duration,
}

impl ServerConfig {
    /// A configuration with every default and the given TLS material.
    pub fn new(agent_tls: Arc<rustls::ServerConfig>, proxy_tls: Arc<rustls::ServerConfig>) -> Self {
        ServerConfig {
            agent_tls,
            proxy_tls,
            keepalive: Duration::from_secs(10),
            mux: MuxLimits::default(),
            dial_timeout: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// State shared by every task of one server.
#[derive(Debug)]
pub struct State {
    pub config: ServerConfig,
    pub routes: routes::Routes<Link>,
    pub metrics: Metrics,
    next_id: AtomicU64,
}

impl State {
    fn new(config: ServerConfig) -> Self {
        State {
            config,
            routes: routes::Routes::default(),
            metrics: Metrics::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh registration id.
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Runs the server until `shutdown`; then listeners close and every agent link is dropped.
pub async fn run_server(listeners: ServerListeners, config: ServerConfig, shutdown: Shutdown) {
    let state = Arc::new(State::new(config));
    let mut tasks = vec![smol::spawn(agents::accept(
        listeners.agents,
        state.clone(),
        shutdown.clone(),
    ))];
    let tls = Some(futures_rustls::TlsAcceptor::from(
        state.config.proxy_tls.clone(),
    ));
    if let Some(l) = listeners.proxy_tls {
        tasks.push(smol::spawn(proxy::serve_tcp(
            l,
            tls,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = listeners.proxy_plain {
        tasks.push(smol::spawn(proxy::serve_tcp(
            l,
            None,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = listeners.proxy_uds {
        tasks.push(smol::spawn(proxy::serve_uds(
            l,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = listeners.meta {
        tasks.push(smol::spawn(meta::serve(l, pages(&state), shutdown.clone())));
    }
    for t in tasks {
        t.await;
    }
    for route in state.routes.list() {
        route.link.close();
    }
}

fn pages(state: &Arc<State>) -> Vec<(&'static str, Page)> {
    let s = state.clone();
    let metrics: Page = Arc::new(move || {
        let links = s.routes.len() as i64;
        s.metrics
            .links
            .store(links, std::sync::atomic::Ordering::Relaxed);
        (
            meta::PROMETHEUS,
            s.metrics.render("yurt_tunnel_server", "agents_connected"),
        )
    });
    let s = state.clone();
    let agents: Page = Arc::new(move || ("application/json", agents_json(&s)));
    vec![("/metrics", metrics), ("/v1/agents", agents)]
}

/// `/v1/agents`: `[{"node", "addresses", "peer", "connectedSince"}]`, since in Unix seconds.
fn agents_json(state: &State) -> String {
    let list: Vec<serde_json::Value> = state
        .routes
        .list()
        .iter()
        .map(|r| {
            let since = r
                .since
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            serde_json::json!({
                "node": r.node,
                "addresses": r.ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>(),
                "peer": r.peer.to_string(),
                "connectedSince": since,
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string() + "\n"
}
