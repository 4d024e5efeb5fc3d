//! Serving HTTP/1.1 with hyper on smol: accept loop, optional TLS, upgrades, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_rustls::TlsAcceptor;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use smol::future::FutureExt;
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::SmolTimer;

use crate::net::shutdown::Shutdown;

/// Boxed error for response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The response body every handler returns: streamed upstream bytes or a local answer.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head accepted; bigger ones get 431 from hyper.
pub const MAX_HEAD_BYTES: usize = 256 * 1024;

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the client presented a certificate our TLS config verified.
    pub client_cert: bool,
}

/// Default deadline for a client to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` fires, then lets open connections finish for up to `grace`.
/// TLS handshakes run on the connection's own task, so a slow client never blocks accepting.
/// Request heads must arrive within [`HEAD_TIMEOUT`], except on loopback listeners, whose
/// clients are the node's own processes (see [`serve_with`] for why).
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: Shutdown,
    grace: Duration,
    handler: H,
) where
    H: Fn(Request<Incoming>, ConnInfo) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let head_timeout = (!loopback).then_some(HEAD_TIMEOUT);
    serve_with(listener, tls, shutdown, grace, head_timeout, handler).await
}

/// [`serve`] with a choice of request-head deadline. `None` saves a timer per request (about
/// 10 % of the hub's proxy throughput, measured) and suits loopback listeners whose clients are
/// local processes; anything reachable from a network should keep a deadline.
pub async fn serve_with<H, F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: Shutdown,
    grace: Duration,
    head_timeout: Option<Duration>,
    handler: H,
) where
    H: Fn(Request<Incoming>, ConnInfo) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let acceptor = tls.map(TlsAcceptor::from);
    // Every connection task holds a sender; recv() errors once all are gone.
    let (alive_tx, alive_rx) = smol::channel::bounded::<()>(1);
    while let Some((stream, peer)) = accept_next(&listener, &shutdown, "HTTP clients").await {
        let handler = handler.clone();
        let acceptor = acceptor.clone();
        let shutdown = shutdown.clone();
        let alive = alive_tx.clone();
        let stream = match crate::net::io::Stream::new(stream) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot take the connection from {peer}: {e}");
                continue;
            }
        };
        crate::net::rt::spawn(async move {
            match acceptor {
                None => {
                    let info = ConnInfo {
                        peer,
                        client_cert: false,
                    };
                    serve_conn(stream, info, shutdown, grace, head_timeout, handler).await
                }
                Some(acceptor) => {
                    let hs = async { Some(acceptor.accept(stream).await) }
                        .or(async {
                            smol::Timer::after(HANDSHAKE_TIMEOUT).await;
                            None
                        })
                        .await;
                    match hs {
                        Some(Ok(tls)) => {
                            let client_cert = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .is_some_and(|c| !c.is_empty());
                            let info = ConnInfo { peer, client_cert };
                            let tls = crate::net::io::Tls(tls);
                            serve_conn(tls, info, shutdown, grace, head_timeout, handler).await
                        }
                        Some(Err(e)) => log::debug!("TLS handshake with {peer} failed: {e}"),
                        None => log::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
            drop(alive);
        })
        .detach();
    }
    drop(alive_tx);
    let _ = alive_rx
        .recv()
        .or(async {
            smol::Timer::after(grace + Duration::from_millis(100)).await;
            Ok(())
        })
        .await;
}

/// Serves one connection; on shutdown asks hyper to finish the current exchange, then waits `grace`.
async fn serve_conn<S, H, F>(
    stream: S,
    info: ConnInfo,
    shutdown: Shutdown,
    grace: Duration,
    head_timeout: Option<Duration>,
    handler: H,
) where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, ConnInfo) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let fut = handler(req, info);
        async move { Ok::<_, std::convert::Infallible>(fut.await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(SmolTimer::new())
        .max_buf_size(MAX_HEAD_BYTES)
        .header_read_timeout(head_timeout);
    let conn = builder.serve_connection(stream, service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let finished = async { Some(conn.as_mut().await) }
        .or(async {
            shutdown.wait().await;
            None
        })
        .await;
    let result = match finished {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            match async { Some(conn.as_mut().await) }
                .or(async {
                    smol::Timer::after(grace).await;
                    None
                })
                .await
            {
                Some(r) => r,
                None => return,
            }
        }
    };
    if let Err(e) = result {
        log::debug!("connection from {}: {e}", info.peer);
    }
}

/// Connects TCP with a deadline.
pub async fn connect_timeout(addr: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    async { TcpStream::connect(addr).await }
        .or(async {
            smol::Timer::after(timeout).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("connect to {addr} timed out"),
            ))
        })
        .await
}

/// The next connection on `listener` (TCP_NODELAY set), or `None` once `shutdown` fired. Accept
/// errors (e.g. out of file descriptors) are logged as `what` and retried after a short pause, so
/// one bad moment never ends an accept loop.
pub async fn accept_next(
    listener: &TcpListener,
    shutdown: &Shutdown,
    what: &str,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = async { Some(listener.accept().await) }
            .or(async {
                shutdown.wait().await;
                None
            })
            .await?;
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return Some((stream, peer));
            }
            Err(e) => {
                log::warn!("accepting {what} failed: {e}");
                smol::Timer::after(Duration::from_millis(50)).await;
            }
        }
    }
}
