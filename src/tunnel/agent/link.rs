//! One agent link to one server address: connect, TLS, register, keepalive; and the loop that
//! reconnects it with jittered exponential backoff, forever.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_rustls::TlsConnector;
use rustls::pki_types::ServerName;
use smol::future::FutureExt;

use crate::net::shutdown::Shutdown;
use crate::tunnel::agent::{dial, AgentState};
use crate::tunnel::control;
use crate::tunnel::frame::Frame;
use crate::tunnel::mux::{Link, Slot};
use crate::tunnel::wire;

/// Why a link attempt ended before the node was registered.
#[derive(Debug)]
pub enum LinkError {
    /// TCP or TLS failed or timed out.
    Connect(String),
    /// The server refused the registration (its reason).
    Rejected(String),
    /// The control stream failed during registration.
    Register(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Connect(e) => write!(f, "cannot connect: {e}"),
            LinkError::Rejected(e) => write!(f, "server refused registration: {e}"),
            LinkError::Register(e) => write!(f, "registration failed: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Keeps a link to `addr` up until `shutdown`. The backoff restarts after each registered link.
pub async fn run_forever(
    addr: SocketAddr,
    server_name: String,
    state: Arc<AgentState>,
    shutdown: Shutdown,
) {
    let mut attempt = 0u32;
    while !shutdown.is_fired() {
        match run_once(addr, &server_name, &state, &shutdown).await {
            Ok(why) if shutdown.is_fired() => log::info!("link to {addr} closed: {why}"),
            Ok(why) => {
                log::warn!("link to {addr} lost: {why}");
                attempt = 0;
            }
            Err(e) => {
                state
                    .metrics
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                log::warn!("link to {addr}: {e}");
            }
        }
        let delay = state.config.backoff.delay(attempt, fastrand::f64());
        attempt = attempt.saturating_add(1);
        let stopped = async {
            smol::Timer::after(delay).await;
            false
        }
        .or(async {
            shutdown.wait().await;
            true
        })
        .await;
        if stopped {
            break;
        }
    }
}

/// One link: returns `Ok(reason it ended)` once it had been registered, else why it never was.
pub async fn run_once(
    addr: SocketAddr,
    server_name: &str,
    state: &Arc<AgentState>,
    shutdown: &Shutdown,
) -> Result<String, LinkError> {
    let config = &state.config;
    let tls = connect(addr, server_name, state.tls(), config.connect_timeout).await?;
    let conn = yamux::Connection::new(tls, config.mux.config(), yamux::Mode::Client);
    let dial_state = state.clone();
    let link = Link::spawn(conn, config.mux, move |stream, dead| {
        smol::spawn(dial::serve(stream, dial_state.clone(), dead)).detach();
    });
    let registered = register(&link, state)
        .or(async {
            smol::Timer::after(config.connect_timeout).await;
            Err(LinkError::Register("timed out".into()))
        })
        .await;
    let (ctl, _slot, leftover) = match registered {
        Ok(r) => r,
        Err(e) => {
            link.close();
            return Err(e);
        }
    };
    log::info!(
        "registered node {} with tunnel server {addr}",
        config.node_name
    );
    state.metrics.links.fetch_add(1, Ordering::Relaxed);
    let end = async {
        control::keepalive(ctl, config.keepalive, leftover)
            .await
            .to_string()
    }
    .or(async {
        link.dead().wait().await;
        "connection closed".to_string()
    })
    .or(async {
        shutdown.wait().await;
        "shutting down".to_string()
    })
    .await;
    state.metrics.links.fetch_sub(1, Ordering::Relaxed);
    link.close();
    Ok(end)
}

type Tls = futures_rustls::client::TlsStream<smol::net::TcpStream>;

async fn connect(
    addr: SocketAddr,
    server_name: &str,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Tls, LinkError> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| LinkError::Connect(format!("bad server name {server_name:?}: {e}")))?;
    let attempt = async {
        let tcp = smol::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    };
    attempt
        .or(async {
            smol::Timer::after(timeout).await;
            Err("timed out".to_string())
        })
        .await
        .map_err(LinkError::Connect)
}

/// The control stream, its slot (held for the link's life) and bytes read past the answer.
type Control = (yamux::Stream, Slot, Vec<u8>);

async fn register(link: &Link, state: &AgentState) -> Result<Control, LinkError> {
    let reg = |e: &dyn std::fmt::Display| LinkError::Register(e.to_string());
    let (mut ctl, slot) = link.open().await.map_err(|e| reg(&e))?;
    let hello = Frame::Register {
        node: state.config.node_name.clone(),
        ips: state.config.node_ips.clone(),
    };
    wire::write_frame(&mut ctl, &hello)
        .await
        .map_err(|e| reg(&e))?;
    let mut buf = Vec::new();
    match wire::read_frame(&mut ctl, &mut buf).await {
        Ok(Frame::Registered) => Ok((ctl, slot, buf)),
        Ok(Frame::Rejected { reason }) => Err(LinkError::Rejected(reason)),
        Ok(other) => Err(LinkError::Register(format!("unexpected answer {other:?}"))),
        Err(e) => Err(reg(&e)),
    }
}
