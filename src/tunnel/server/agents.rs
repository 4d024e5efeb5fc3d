//! The agent listener: TLS 1.3 with required client certificates, the node name taken from the
//! certificate, registration on the control stream, then keepalive until the link ends.

use crate::net::http::accept_next;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_rustls::TlsAcceptor;
use smol::future::FutureExt;
use smol::net::{TcpListener, TcpStream};

use crate::net::shutdown::Shutdown;
use crate::tunnel::cert::{self, CertNameError};
use crate::tunnel::control;
use crate::tunnel::frame::Frame;
use crate::tunnel::mux::Link;
use crate::tunnel::server::routes::Route;
use crate::tunnel::server::State;
use crate::tunnel::wire::{self, WireError};

/// Why an agent connection was turned away.
#[derive(Debug)]
pub enum AgentError {
    /// TLS failed (no or untrusted certificate, wrong protocol, garbage) or timed out.
    Handshake(String),
    /// The certificate does not name a node.
    Cert(CertNameError),
    /// The agent registered another node than its certificate names.
    NameMismatch { cert: String, claimed: String },
    /// The control stream did not open or carry a registration in time.
    Register(String),
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            AgentError::Cert(e) => e.fmt(f),
            AgentError::NameMismatch { cert, claimed } => write!(
                f,
                "certificate names node {cert:?} but the agent registers {claimed:?}"
            ),
            AgentError::Register(e) => write!(f, "registration failed: {e}"),
        }
    }
}

impl std::error::Error for AgentError {}

/// Accepts agents until `shutdown`. Handshakes run on each connection's own task.
pub async fn accept(listener: TcpListener, state: Arc<State>, shutdown: Shutdown) {
    let acceptor = TlsAcceptor::from(state.config.agent_tls.clone());
    while let Some((tcp, peer)) = accept_next(&listener, &shutdown, "agents").await {
        let task = serve_agent(tcp, peer, acceptor.clone(), state.clone(), shutdown.clone());
        smol::spawn(async move {
            if let Err(e) = task.await {
                log::warn!("agent {peer} refused: {e}");
            }
        })
        .detach();
    }
}

async fn serve_agent(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    shutdown: Shutdown,
) -> Result<(), AgentError> {
    let _ = tcp.set_nodelay(true);
    let deadline = state.config.handshake_timeout;
    let tls = async { acceptor.accept(tcp).await.map_err(|e| e.to_string()) }
        .or(async {
            smol::Timer::after(deadline).await;
            Err("timed out".to_string())
        })
        .await
        .map_err(AgentError::Handshake)?;
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or_else(|| AgentError::Handshake("no client certificate".into()))?;
    let cert_node = cert::node_name(&der);
    let conn = yamux::Connection::new(tls, state.config.mux.config(), yamux::Mode::Server);
    let (ctl_tx, ctl_rx) = smol::channel::bounded(1);
    // The agent's first stream is the control stream; it may open no others.
    let link = Link::spawn(conn, state.config.mux, move |stream, _dead| {
        let _ = ctl_tx.try_send(stream);
    });
    let registered = register(&ctl_rx, &cert_node, deadline).await;
    let (ctl, cert_node, ips, leftover) = match registered {
        Ok(r) => r,
        Err(e) => {
            // Give the rejection frame a moment to leave before the link drops.
            smol::Timer::after(Duration::from_millis(100)).await;
            link.close();
            return Err(e);
        }
    };
    let route = Arc::new(Route {
        id: state.next_id(),
        node: cert_node,
        ips,
        peer,
        since: SystemTime::now(),
        link: link.clone(),
    });
    if let Some(stale) = state.routes.insert(route.clone()) {
        log::info!(
            "node {}: newer agent link from {peer} replaces {}",
            route.node,
            stale.peer
        );
        stale.link.close();
    }
    log::info!(
        "node {} registered from {peer} with addresses {:?}",
        route.node,
        route.ips
    );
    let end = async { Some(control::keepalive(ctl, state.config.keepalive, leftover).await) }
        .or(async {
            link.dead().wait().await;
            None
        })
        .or(async {
            shutdown.wait().await;
            None
        })
        .await;
    state.routes.remove(&route.node, route.id);
    link.close();
    match end {
        Some(why) => log::info!("node {} link from {peer} ended: {why}", route.node),
        None => log::info!("node {} link from {peer} closed", route.node),
    }
    Ok(())
}

type Registered = (yamux::Stream, String, Vec<std::net::IpAddr>, Vec<u8>);

/// Waits for the control stream and its `Register` frame; answers it.
async fn register(
    ctl_rx: &smol::channel::Receiver<yamux::Stream>,
    cert_node: &Result<String, CertNameError>,
    deadline: Duration,
) -> Result<Registered, AgentError> {
    let reg_err = |e: &dyn std::fmt::Display| AgentError::Register(e.to_string());
    let mut ctl = async { ctl_rx.recv().await.map_err(|_| WireError::Closed) }
        .or(async {
            smol::Timer::after(deadline).await;
            Err(WireError::Timeout)
        })
        .await
        .map_err(|e| reg_err(&e))?;
    let mut buf = Vec::new();
    let frame = wire::read_frame_timeout(&mut ctl, &mut buf, deadline)
        .await
        .map_err(|e| reg_err(&e))?;
    let Frame::Register { node, ips } = frame else {
        return Err(AgentError::Register(format!(
            "expected Register, got {frame:?}"
        )));
    };
    let checked = match cert_node {
        Err(e) => Err(AgentError::Cert(e.clone())),
        Ok(cert) if *cert != node => Err(AgentError::NameMismatch {
            cert: cert.clone(),
            claimed: node,
        }),
        Ok(cert) => Ok(cert.clone()),
    };
    let node = match checked {
        Ok(node) => node,
        Err(err) => {
            let reason = err.to_string();
            let _ = wire::write_frame(&mut ctl, &Frame::Rejected { reason }).await;
            return Err(err);
        }
    };
    wire::write_frame(&mut ctl, &Frame::Registered)
        .await
        .map_err(|e| reg_err(&e))?;
    Ok((ctl, node, ips, buf))
}
