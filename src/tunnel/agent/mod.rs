//! `yurt tunnel-agent`: keeps one link to every tunnel server address, registers the node, and
//! dials allowlisted destinations for the streams servers open. Meta: `/healthz`, `/metrics`.

pub mod cli;
pub mod dial;
pub mod link;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use smol::future::FutureExt;
use smol::net::TcpListener;

use crate::net::shutdown::Shutdown;
use crate::tunnel::allow::Allowlist;
use crate::tunnel::backoff::Backoff;
use crate::tunnel::meta::{self, Page};
use crate::tunnel::metrics::Metrics;
use crate::tunnel::mux::MuxLimits;
use crate::tunnel::tls::AgentTlsFiles;

/// How often server names are resolved again to find new replicas.
pub const RESOLVE_INTERVAL: Duration = Duration::from_secs(60);

/// The resolved agent configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// This node's name; must match the certificate's `CN=system:node:<name>`.
    pub node_name: String,
    /// This node's addresses, registered so CONNECT by IP finds this agent.
    pub node_ips: Vec<IpAddr>,
    /// Server addresses `host:port`; a name stands for every address it resolves to.
    pub servers: Vec<String>,
    /// TLS for links ([`crate::tunnel::tls::agent_dial_config`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// When set, `tls` is rebuilt from these files before each connection attempt (the last
    /// good configuration stays in use while they are unreadable). Default: none.
    pub tls_files: Option<AgentTlsFiles>,
    /// Destinations streams may reach. Default: node IPs and 127.0.0.1 on 10250 and 10255.
    pub allow: Allowlist,
    /// Keepalive interval; a link silent for two intervals is dropped. Default 10 s.
    pub keepalive: Duration,
    /// Reconnect delays. Default 0.5 s doubling to 30 s, jittered.
    pub backoff: Backoff,
    /// Deadline for connecting to a server (TCP + TLS + registration) and to a destination.
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Stream and window caps per link.
    pub mux: MuxLimits,
}

impl AgentConfig {
    /// A configuration with every default.
    pub fn new(
        node_name: String,
        node_ips: Vec<IpAddr>,
        servers: Vec<String>,
        tls: Arc<rustls::ClientConfig>,
    ) -> Self {
        let allow = Allowlist::default_for(&node_ips);
        AgentConfig {
            node_name,
            node_ips,
            servers,
            tls,
            tls_files: None,
            allow,
            keepalive: Duration::from_secs(10),
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            mux: MuxLimits::default(),
        }
    }
}

/// State shared by every task of one agent.
#[derive(Debug)]
pub struct AgentState {
    pub config: AgentConfig,
    pub metrics: Metrics,
    /// The TLS configuration last loaded from `config.tls_files` (starts as `config.tls`).
    tls: std::sync::Mutex<Arc<rustls::ClientConfig>>,
}

impl AgentState {
    /// State for `config` with zeroed metrics.
    pub fn new(config: AgentConfig) -> AgentState {
        let tls = std::sync::Mutex::new(config.tls.clone());
        AgentState {
            config,
            metrics: Metrics::default(),
            tls,
        }
    }

    /// The TLS configuration for the next connection: reloaded from the files when configured,
    /// else (or when they cannot be used) the last good one.
    pub fn tls(&self) -> Arc<rustls::ClientConfig> {
        let mut current = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(files) = &self.config.tls_files {
            match files.load() {
                Ok(fresh) => *current = fresh,
                Err(e) => log::warn!("keeping the previous TLS material: {e}"),
            }
        }
        current.clone()
    }
}

/// Runs the agent until `shutdown`: links to every server address, reconnecting forever.
pub async fn run_agent(meta: Option<TcpListener>, config: AgentConfig, shutdown: Shutdown) {
    let state = Arc::new(AgentState::new(config));
    let mut tasks = Vec::new();
    for server in state.config.servers.clone() {
        tasks.push(smol::spawn(follow_name(
            server,
            state.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = meta {
        let s = state.clone();
        let metrics: Page = Arc::new(move || {
            (
                meta::PROMETHEUS,
                s.metrics.render("yurt_tunnel_agent", "links_connected"),
            )
        });
        tasks.push(smol::spawn(meta::serve(
            l,
            vec![("/metrics", metrics)],
            shutdown.clone(),
        )));
    }
    for t in tasks {
        t.await;
    }
}

/// Resolves `server` now and every [`RESOLVE_INTERVAL`], keeping one link loop per address.
async fn follow_name(server: String, state: Arc<AgentState>, shutdown: Shutdown) {
    let host = server.rsplit_once(':').map_or(server.as_str(), |(h, _)| h);
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut started: HashSet<SocketAddr> = HashSet::new();
    let mut links = Vec::new();
    let mut failures = 0u32;
    loop {
        let wait = match smol::net::resolve(server.as_str()).await {
            Ok(addrs) => {
                failures = 0;
                for addr in addrs.into_iter().filter(|a| started.insert(*a)) {
                    log::info!("tunnel server {server}: linking to {addr}");
                    let task =
                        link::run_forever(addr, host.clone(), state.clone(), shutdown.clone());
                    links.push(smol::spawn(task));
                }
                RESOLVE_INTERVAL
            }
            Err(e) => {
                log::warn!("tunnel server {server}: cannot resolve: {e}");
                failures += 1;
                state.config.backoff.delay(failures, fastrand::f64())
            }
        };
        let stop = async {
            smol::Timer::after(wait).await;
            false
        }
        .or(async {
            shutdown.wait().await;
            true
        })
        .await;
        if stop {
            break;
        }
    }
    for l in links {
        l.await;
    }
}
