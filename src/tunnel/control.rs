//! Keepalive on the control stream: each side pings every interval and answers the peer's pings;
//! a side that hears nothing for two of its intervals declares the link dead.

use std::time::Duration;

use smol::future::FutureExt;
use smol::stream::StreamExt;

use crate::tunnel::frame::Frame;
use crate::tunnel::wire::{self, WireError};

/// Why the keepalive loop ended.
#[derive(Debug)]
pub enum KeepaliveEnd {
    /// Nothing arrived for two intervals.
    Dead,
    /// The control stream failed or carried something unexpected.
    Wire(WireError),
    /// The peer sent a frame that has no place on a registered control stream.
    Unexpected(Frame),
}

impl std::fmt::Display for KeepaliveEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepaliveEnd::Dead => f.write_str("no keepalive from the peer for two intervals"),
            KeepaliveEnd::Wire(e) => e.fmt(f),
            KeepaliveEnd::Unexpected(fr) => write!(f, "unexpected control frame {fr:?}"),
        }
    }
}

/// Runs keepalive on `stream` until the link looks dead or the stream fails. `leftover` holds
/// bytes already read past the registration frames.
pub async fn keepalive(
    stream: yamux::Stream,
    interval: Duration,
    leftover: Vec<u8>,
) -> KeepaliveEnd {
    let (mut reader, mut writer) = smol::io::split(stream);
    let (pong_tx, pong_rx) = smol::channel::bounded::<u64>(16);
    let read = async move {
        let mut buf = leftover;
        loop {
            match wire::read_frame_timeout(&mut reader, &mut buf, interval * 2).await {
                Ok(Frame::Ping(n)) => {
                    let _ = pong_tx.try_send(n);
                }
                Ok(Frame::Pong(_)) => {}
                Ok(other) => return KeepaliveEnd::Unexpected(other),
                Err(WireError::Timeout) => return KeepaliveEnd::Dead,
                Err(e) => return KeepaliveEnd::Wire(e),
            }
        }
    };
    let write = async move {
        let mut ticks = smol::Timer::interval(interval);
        let mut seq = 0u64;
        loop {
            let frame = async {
                ticks.next().await;
                seq += 1;
                Some(Frame::Ping(seq))
            }
            .or(async { pong_rx.recv().await.ok().map(Frame::Pong) })
            .await;
            let Some(frame) = frame else {
                return KeepaliveEnd::Wire(WireError::Closed);
            };
            if let Err(e) = wire::write_frame(&mut writer, &frame).await {
                return KeepaliveEnd::Wire(WireError::Io(e));
            }
        }
    };
    read.or(write).await
}
