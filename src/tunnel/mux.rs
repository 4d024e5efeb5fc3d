//! The link: one yamux connection driven by its own task, with a cheap handle to open streams,
//! close the link, and learn when it died.
//!
//! yamux makes progress only while `poll_next_inbound` is polled, so one task owns the
//! connection and polls it together with open requests. Dropping the connection (not a graceful
//! close) wakes every stream with end-of-file; splices also watch [`Link::dead`], so no stream
//! outlives its link.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};
use smol::channel::{bounded, Receiver, Sender};
use smol::stream::Stream as _;

use crate::net::shutdown::{self, Shutdown, Trigger};

/// Stream cap of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxLimits {
    /// Most streams a link opens at once; one more gets [`LinkError::Full`] (a 503 for the
    /// CONNECT). Default 512. Memory: a stream whose reader stalls buffers at most its receive
    /// window, 256 KiB.
    pub max_streams: usize,
    /// Receive window shared by the link's fast streams beyond their 256 KiB start: yamux grows
    /// a stream's window towards its bandwidth-delay product while its reader keeps up, so one
    /// stream over a slow, long link is not capped at 256 KiB per round trip. Default 16 MiB.
    pub shared_window: usize,
}

impl Default for MuxLimits {
    fn default() -> Self {
        MuxLimits {
            max_streams: 512,
            shared_window: 16 << 20,
        }
    }
}

impl MuxLimits {
    /// yamux's own limit: twice ours plus the control stream. yamux tears the whole connection
    /// down when its limit is hit and forgets closed streams only as it polls, so ours, checked
    /// before opening, must stay well below it.
    pub fn yamux_streams(&self) -> usize {
        self.max_streams.max(1) * 2 + 1
    }

    /// The yamux configuration: stream limit as above, connection window 256 KiB per stream
    /// (yamux's minimum) plus [`MuxLimits::shared_window`].
    pub fn config(&self) -> yamux::Config {
        let n = self.yamux_streams();
        let mut c = yamux::Config::default();
        // Order matters: yamux checks window >= 256 KiB × streams on each call.
        c.set_max_connection_receive_window(None);
        c.set_max_num_streams(n);
        let window = n * yamux::DEFAULT_CREDIT as usize + self.shared_window;
        c.set_max_connection_receive_window(Some(window));
        c
    }
}

/// Why a stream could not be opened.
#[derive(Debug)]
pub enum LinkError {
    /// The link is gone.
    Closed,
    /// The link already carries [`MuxLimits::max_streams`] streams.
    Full(usize),
    /// yamux refused (stream cap, connection error).
    Yamux(yamux::ConnectionError),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Closed => f.write_str("tunnel link closed"),
            LinkError::Full(n) => write!(f, "tunnel link carries its limit of {n} streams"),
            LinkError::Yamux(e) => write!(f, "tunnel link: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

type OpenReply = Sender<yamux::Result<yamux::Stream>>;

/// A handle to a running link. Cloning is cheap; the link ends on [`Link::close`], when the peer
/// goes away, or on a connection error — never just because handles are dropped.
#[derive(Debug, Clone)]
pub struct Link {
    open_tx: Sender<OpenReply>,
    open_streams: std::sync::Arc<AtomicUsize>,
    max_streams: usize,
    close: std::sync::Arc<Trigger>,
    dead: Shutdown,
}

impl Link {
    /// Starts driving `conn` on a new task. Each stream the peer opens goes to `on_inbound` with
    /// the link's [`Link::dead`] signal.
    pub fn spawn<T, F>(conn: yamux::Connection<T>, limits: MuxLimits, on_inbound: F) -> Link
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: Fn(yamux::Stream, Shutdown) + Send + Sync + 'static,
    {
        let (open_tx, open_rx) = bounded(256);
        let (close, close_rx) = shutdown::channel();
        let (dead_trigger, dead) = shutdown::channel();
        let task_dead = dead.clone();
        smol::spawn(async move {
            drive(conn, open_rx, close_rx, task_dead, on_inbound).await;
            dead_trigger.fire();
        })
        .detach();
        Link {
            open_tx,
            open_streams: Default::default(),
            max_streams: limits.max_streams,
            close: std::sync::Arc::new(close),
            dead,
        }
    }

    /// Opens a stream to the peer; it counts against the cap until the returned [`Slot`] drops.
    pub async fn open(&self) -> Result<(yamux::Stream, Slot), LinkError> {
        let slot = Slot::take(&self.open_streams, self.max_streams)?;
        let (tx, rx) = bounded(1);
        self.open_tx.send(tx).await.map_err(|_| LinkError::Closed)?;
        match rx.recv().await {
            Ok(Ok(s)) => Ok((s, slot)),
            Ok(Err(e)) => Err(LinkError::Yamux(e)),
            Err(_) => Err(LinkError::Closed),
        }
    }

    /// Streams opened through this link and still held.
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::Relaxed)
    }

    /// Ends the link: the connection is dropped and every stream on it ends.
    pub fn close(&self) {
        self.close.fire();
    }

    /// Fires once the link has ended.
    pub fn dead(&self) -> &Shutdown {
        &self.dead
    }
}

/// One counted stream of a link; dropping it frees the place.
#[derive(Debug)]
pub struct Slot(std::sync::Arc<AtomicUsize>);

impl Slot {
    fn take(count: &std::sync::Arc<AtomicUsize>, max: usize) -> Result<Slot, LinkError> {
        let before = count.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(count.clone());
        if before >= max {
            return Err(LinkError::Full(max)); // dropping `slot` undoes the increment
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn drive<T, F>(
    mut conn: yamux::Connection<T>,
    open_rx: Receiver<OpenReply>,
    close: Shutdown,
    dead: Shutdown,
    on_inbound: F,
) where
    T: AsyncRead + AsyncWrite + Unpin,
    F: Fn(yamux::Stream, Shutdown),
{
    let mut open_rx = pin!(open_rx);
    let mut closed = pin!(close.wait());
    let mut pending: Option<OpenReply> = None;
    std::future::poll_fn(|cx| {
        if closed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        loop {
            if pending.is_none() {
                match open_rx.as_mut().poll_next(cx) {
                    Poll::Ready(Some(reply)) => pending = Some(reply),
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            match conn.poll_new_outbound(cx) {
                Poll::Ready(result) => {
                    if let Some(reply) = pending.take() {
                        let _ = reply.try_send(result);
                    }
                }
                Poll::Pending => break,
            }
        }
        loop {
            match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(stream))) => on_inbound(stream, dead.clone()),
                Poll::Ready(Some(Err(e))) => {
                    log::debug!("tunnel link ended: {e}");
                    return Poll::Ready(());
                }
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    // Dropped while active: yamux marks every stream closed and wakes its readers and writers.
    drop(conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cap_makes_a_valid_yamux_config() {
        // yamux asserts window >= 256 KiB × streams; a wrong call order panics here.
        for max_streams in [0, 1, 4, 512, 5000] {
            for shared_window in [0, 16 << 20] {
                let limits = MuxLimits {
                    max_streams,
                    shared_window,
                };
                let _ = limits.config();
                assert_eq!(limits.yamux_streams(), max_streams.max(1) * 2 + 1);
            }
        }
    }
}
