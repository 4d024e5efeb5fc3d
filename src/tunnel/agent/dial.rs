//! One stream the server opened: read the dial header, check the allowlist, connect, answer,
//! then splice until either side ends or the link dies.

use std::sync::Arc;
use std::time::Duration;

use smol::future::FutureExt;

use crate::net::shutdown::Shutdown;
use crate::tunnel::agent::AgentState;
use crate::tunnel::allow;
use crate::tunnel::frame::{DialFailure, Frame};
use crate::tunnel::metrics::DialError;
use crate::tunnel::{splice, wire};

/// How long the server may take to send the dial header after opening a stream.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one stream; every outcome is answered on the stream or ends it.
pub async fn serve(mut stream: yamux::Stream, state: Arc<AgentState>, dead: Shutdown) {
    let mut buf = Vec::new();
    let (host, port) = match wire::read_frame_timeout(&mut stream, &mut buf, HEADER_TIMEOUT).await {
        Ok(Frame::Dial { host, port }) => (host, port),
        Ok(other) => return log::warn!("stream opened with {other:?} instead of a dial"),
        Err(e) => return log::warn!("stream without a dial header: {e}"),
    };
    let config = &state.config;
    let target = allow::resolve_target(&host, &config.node_name, &config.node_ips);
    if let Err(reason) = config.allow.check(&target, port) {
        state.metrics.dial_error(DialError::Refused);
        log::info!("refused dial to {}: {reason}", allow::join(&host, port));
        let _ = wire::write_frame(&mut stream, &Frame::DialRefused { reason }).await;
        return;
    }
    let addr = allow::join(&target, port);
    let mut tcp = match crate::net::http::connect_timeout(&addr, config.connect_timeout).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let timeout = e.kind() == std::io::ErrorKind::TimedOut;
            let (kind, why) = if timeout {
                (DialFailure::Timeout, DialError::Timeout)
            } else {
                (DialFailure::Unreachable, DialError::Unreachable)
            };
            state.metrics.dial_error(why);
            let reason = format!(
                "agent on {} cannot connect to {addr}: {e}",
                config.node_name
            );
            let _ = wire::write_frame(&mut stream, &Frame::DialFailed { kind, reason }).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    if wire::write_frame(&mut stream, &Frame::DialOk)
        .await
        .is_err()
    {
        return;
    }
    let _open = state.metrics.stream();
    let m = &state.metrics;
    let spliced = async {
        splice::write_leftover(&mut tcp, &buf).await?;
        splice::splice(&mut stream, &mut tcp, &m.bytes_to_edge, &m.bytes_from_edge).await
    }
    .or(async {
        dead.wait().await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "tunnel link lost",
        ))
    })
    .await;
    if let Err(e) = spliced {
        log::debug!("stream to {addr} ended: {e}");
    }
}
