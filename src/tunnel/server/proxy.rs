//! The CONNECT front end: read a CONNECT head, find the node's agent, open a stream, let the
//! agent dial, answer `200 Connection established` and splice — or answer one clear error line.

use crate::net::http::accept_next;
use std::sync::Arc;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsAcceptor;
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::unix::UnixListener;
use smol::net::TcpListener;

use crate::net::shutdown::Shutdown;
use crate::tunnel::connect::{self, ConnectRequest};
use crate::tunnel::frame::{DialFailure, Frame};
use crate::tunnel::metrics::DialError;
use crate::tunnel::server::State;
use crate::tunnel::{allow, splice, wire};

/// Serves CONNECT on TCP (TLS when `tls` is given) until `shutdown`.
pub async fn serve_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    shutdown: Shutdown,
) {
    while let Some((tcp, peer)) = accept_next(&listener, &shutdown, "CONNECT clients").await {
        let state = state.clone();
        let tls = tls.clone();
        smol::spawn(async move {
            match tls {
                None => handle(tcp, &state, None).await,
                Some(acceptor) => {
                    let deadline = state.config.handshake_timeout;
                    let hs = async { acceptor.accept(tcp).await.map_err(|e| e.to_string()) }
                        .or(async {
                            smol::Timer::after(deadline).await;
                            Err("timed out".to_string())
                        })
                        .await;
                    match hs {
                        Ok(stream) => {
                            let denied = node_client(&stream);
                            handle(stream, &state, denied).await
                        }
                        Err(e) => log::debug!("CONNECT client {peer}: TLS handshake failed: {e}"),
                    }
                }
            }
        })
        .detach();
    }
}

/// Serves plain CONNECT on a Unix socket until `shutdown`.
pub async fn serve_uds(listener: UnixListener, state: Arc<State>, shutdown: Shutdown) {
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                shutdown.wait().await;
                None
            })
            .await;
        match accepted {
            None => return,
            Some(Ok((stream, _))) => {
                let state = state.clone();
                smol::spawn(async move { handle(stream, &state, None).await }).detach();
            }
            Some(Err(e)) => {
                log::warn!("accepting CONNECT clients on the Unix socket failed: {e}");
                smol::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A refusal: what to count and what to answer.
struct Refusal {
    why: DialError,
    code: u16,
    reason: String,
}

impl Refusal {
    fn new(why: DialError, code: u16, reason: impl Into<String>) -> Self {
        Refusal {
            why,
            code,
            reason: reason.into(),
        }
    }
}

/// Why a TLS client may not use the front end: node identities (`CN=system:node:*`) are refused,
/// so a node's kubelet certificate cannot reach other nodes through the tunnel.
fn node_client<S>(tls: &futures_rustls::server::TlsStream<S>) -> Option<String> {
    let der = tls.get_ref().1.peer_certificates()?.first()?;
    let node = crate::tunnel::cert::node_name(der).ok()?;
    Some(format!("node {node} may not use the CONNECT front end"))
}

/// Serves one CONNECT client; `denied` refuses it with 403 once its head has arrived.
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    state: &State,
    denied: Option<String>,
) {
    let result = async {
        let (req, leftover) = read_head(&mut client, state.config.handshake_timeout).await?;
        if let Some(why) = denied {
            return Err(Refusal::new(DialError::ClientRefused, 403, why));
        }
        tunnel(&mut client, req, leftover, state).await
    }
    .await;
    if let Err(r) = result {
        state.metrics.dial_error(r.why);
        let level = match r.why {
            DialError::BadRequest => log::Level::Debug,
            _ => log::Level::Info,
        };
        log::log!(level, "CONNECT refused with {}: {}", r.code, r.reason);
        let _ = client
            .write_all(&connect::error_response(r.code, &r.reason))
            .await;
        let _ = client.flush().await;
        let _ = client.close().await;
    }
}

/// Reads until a whole CONNECT head; returns it and the bytes that followed it.
async fn read_head<S: AsyncRead + Unpin>(
    client: &mut S,
    deadline: Duration,
) -> Result<(ConnectRequest, Vec<u8>), Refusal> {
    let read = async {
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 2048];
        loop {
            match connect::decode(&buf) {
                Ok(Some((req, used))) => return Ok((req, buf.split_off(used))),
                Ok(None) => {}
                Err(e) => {
                    let (code, why) = e.status();
                    return Err(Refusal::new(DialError::BadRequest, code, why));
                }
            }
            let n = client
                .read(&mut chunk)
                .await
                .map_err(|e| Refusal::new(DialError::BadRequest, 400, e.to_string()))?;
            if n == 0 {
                return Err(Refusal::new(
                    DialError::BadRequest,
                    400,
                    "connection closed before a CONNECT head",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    read.or(async {
        smol::Timer::after(deadline).await;
        Err(Refusal::new(
            DialError::BadRequest,
            408,
            "no CONNECT head in time",
        ))
    })
    .await
}

async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut S,
    req: ConnectRequest,
    leftover: Vec<u8>,
    state: &State,
) -> Result<(), Refusal> {
    let target = allow::join(&req.host, req.port);
    let route = state.routes.lookup(&req.host).ok_or_else(|| {
        Refusal::new(
            DialError::UnknownNode,
            503,
            format!("no tunnel agent connected for {}", req.host),
        )
    })?;
    let link_down = |e: &dyn std::fmt::Display| {
        Refusal::new(
            DialError::LinkFailed,
            503,
            format!("tunnel to node {} failed: {e}", route.node),
        )
    };
    let (mut stream, _slot) = route.link.open().await.map_err(|e| link_down(&e))?;
    let dial = Frame::Dial {
        host: req.host.clone(),
        port: req.port,
    };
    wire::write_frame(&mut stream, &dial)
        .await
        .map_err(|e| link_down(&e))?;
    let mut from_agent = Vec::new();
    let answer = wire::read_frame_timeout(&mut stream, &mut from_agent, state.config.dial_timeout)
        .or(async {
            route.link.dead().wait().await;
            Err(wire::WireError::Closed)
        })
        .await;
    match answer {
        Ok(Frame::DialOk) => {}
        Ok(Frame::DialRefused { reason }) => {
            return Err(Refusal::new(DialError::Refused, 403, reason))
        }
        Ok(Frame::DialFailed {
            kind: DialFailure::Timeout,
            reason,
        }) => return Err(Refusal::new(DialError::Timeout, 504, reason)),
        Ok(Frame::DialFailed { reason, .. }) => {
            return Err(Refusal::new(DialError::Unreachable, 502, reason))
        }
        Ok(other) => return Err(link_down(&format!("unexpected answer {other:?}"))),
        Err(wire::WireError::Timeout) => {
            return Err(Refusal::new(
                DialError::Timeout,
                504,
                format!("agent did not connect to {target} in time"),
            ))
        }
        Err(e) => return Err(link_down(&e)),
    }
    let _open = state.metrics.stream();
    let established = async {
        client.write_all(connect::ESTABLISHED).await?;
        splice::write_leftover(client, &from_agent).await?;
        splice::write_leftover(&mut stream, &leftover).await?;
        let m = &state.metrics;
        splice::splice(client, &mut stream, &m.bytes_to_edge, &m.bytes_from_edge).await
    };
    let result = established
        .or(async {
            route.link.dead().wait().await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "tunnel link lost",
            ))
        })
        .await;
    if let Err(e) = result {
        log::debug!("CONNECT {target} via node {} ended: {e}", route.node);
    }
    Ok(())
}
