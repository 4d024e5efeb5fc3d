//! The link: one yamux connection driven by its own task, with a cheap handle to open streams,
//! close the link, and learn when it died.
//!
//! yamux makes progress only while `poll_next_inbound` is polled, so one task owns the
//! connection and polls it together with open requests. Dropping the connection (not a graceful
//! close) wakes every stream with end-of-file; splices also watch [`Link::dead`], so no stream
//! outlives its link.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use futures_io::{AsyncRead, AsyncWrite};
use smol::channel::{bounded, Receiver, Sender};
use smol::stream::Stream as _;

use crate::net::shutdown::{self, Shutdown, Trigger};

/// Stream and window caps of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxLimits {
    /// Most streams open at once on one link. Default 512.
    pub max_streams: usize,
    /// Receive window ceiling summed over all streams of a link, bytes; each stream starts at
    /// 256 KiB and auto-tunes up to its share. Default 256 KiB × `max_streams` (128 MiB), the
    /// smallest yamux accepts, which bounds memory per link.
    pub connection_window: usize,
}

impl Default for MuxLimits {
    fn default() -> Self {
        MuxLimits {
            max_streams: 512,
            connection_window: 512 * yamux::DEFAULT_CREDIT as usize,
        }
    }
}

impl MuxLimits {
    /// The yamux configuration; a window below yamux's minimum is raised to it.
    pub fn config(&self) -> yamux::Config {
        let streams = self.max_streams.max(1);
        let floor = streams * yamux::DEFAULT_CREDIT as usize;
        let mut c = yamux::Config::default();
        c.set_max_connection_receive_window(Some(self.connection_window.max(floor)));
        c.set_max_num_streams(streams);
        c
    }
}

/// Why a stream could not be opened.
#[derive(Debug)]
pub enum LinkError {
    /// The link is gone.
    Closed,
    /// yamux refused (stream cap, connection error).
    Yamux(yamux::ConnectionError),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Closed => f.write_str("tunnel link closed"),
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
    close: std::sync::Arc<Trigger>,
    dead: Shutdown,
}

impl Link {
    /// Starts driving `conn` on a new task. Each stream the peer opens goes to `on_inbound` with
    /// the link's [`Link::dead`] signal.
    pub fn spawn<T, F>(conn: yamux::Connection<T>, on_inbound: F) -> Link
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
            close: std::sync::Arc::new(close),
            dead,
        }
    }

    /// Opens a stream to the peer.
    pub async fn open(&self) -> Result<yamux::Stream, LinkError> {
        let (tx, rx) = bounded(1);
        self.open_tx.send(tx).await.map_err(|_| LinkError::Closed)?;
        match rx.recv().await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(LinkError::Yamux(e)),
            Err(_) => Err(LinkError::Closed),
        }
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
