//! The tee: a response body that streams to the client unchanged and hands a copy of each frame
//! to the cache writer through a bounded channel.
//!
//! The channel bounds the hub's memory: a LIST arriving faster than the disk takes it (a 20 MiB
//! list on a LAN) would otherwise pile up in RAM. When it is full the tee holds the *next* frame
//! until the writer made room, so the client is paced to the disk while the disk keeps up; a
//! writer that takes no frame for [`TEE_MAX_STALL`] (a stalled disk) gets the rest of that
//! response no more: it is not cached (a log line and a metric) and the client goes on at full
//! speed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use smol::channel::{Sender, TrySendError};
use smol::Timer;

use super::metrics::CacheMetrics;
use super::{writer, Cache, Target};
use crate::k8s::meta::Encoding;
use crate::net::http::{Body, BoxError};

/// Frames buffered between a watch and its writer (events are small).
pub const TEE_FRAMES: usize = 1024;
/// Frames buffered between a LIST, GET or Table and its writer: up to ~16 KiB each, so about
/// 1 MiB of a list in flight.
pub const TEE_LIST_FRAMES: usize = 64;
/// Longest a response is held back at once waiting for its writer; then it is not cached.
pub const TEE_MAX_STALL: Duration = Duration::from_secs(1);

/// A copy waiting for room in the channel: `true` once sent, `false` when the wait ran out.
type Waiting = Pin<Box<dyn Future<Output = bool> + Send>>;

/// What the writer receives.
#[derive(Debug)]
pub enum Msg {
    /// A frame of the body, as the upstream sent it.
    Data(Bytes),
    /// The body ended cleanly. A channel closed without it means truncated.
    End,
}

/// Whether an answer can be kept as it streams by: 2xx and identity-encoded.
pub fn keepable(status: StatusCode, h: &HeaderMap) -> bool {
    status.is_success()
        && h.get(header::CONTENT_ENCODING)
            .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

/// A whole body of at most `max` bytes from the tee; `None` if it was cut short or too big.
pub async fn collect(rx: smol::channel::Receiver<Msg>, max: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match rx.recv().await.ok()? {
            Msg::Data(b) if body.len() + b.len() <= max => body.extend_from_slice(&b),
            Msg::Data(_) => return None,
            Msg::End => return Some(body),
        }
    }
}

/// Starts the writer for an answer worth caching: 2xx, identity-encoded, JSON or protobuf.
pub fn start(
    cache: &Arc<Cache>,
    target: &Target,
    status: StatusCode,
    h: &HeaderMap,
) -> Option<Sender<Msg>> {
    let enc = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Encoding::from_content_type)?;
    if !keepable(status, h) {
        return None;
    }
    Some(writer::spawn(cache.clone(), target.clone(), enc))
}

/// The client's body plus the copy.
pub struct TeeBody {
    inner: Body,
    tx: Option<Sender<Msg>>,
    metrics: Arc<CacheMetrics>,
    component: String,
    /// A copy the writer has no room for yet; polled before the next frame.
    waiting: Option<Waiting>,
}

impl TeeBody {
    /// Wraps `inner`; frames go to `tx`.
    pub fn new(inner: Body, tx: Sender<Msg>, metrics: Arc<CacheMetrics>, component: &str) -> Self {
        TeeBody {
            inner,
            tx: Some(tx),
            metrics,
            component: component.to_string(),
            waiting: None,
        }
    }

    fn send(&mut self, msg: Msg) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                self.waiting = Some(wait_send(tx.clone(), msg, TEE_MAX_STALL));
            }
            Err(TrySendError::Closed(_)) => self.tx = None,
        }
    }

    fn give_up(&mut self) {
        log::warn!(
            "cache: writer fell behind; this {} response is not cached",
            self.component
        );
        self.metrics.abandoned(&self.component);
        self.tx = None;
        self.waiting = None;
    }

    /// Waits (at most [`TEE_MAX_STALL`]) until the writer took the copy it had no room for.
    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(w) = self.waiting.as_mut() else {
            return Poll::Ready(());
        };
        let sent = match w.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(sent) => sent,
        };
        self.waiting = None;
        if !sent {
            self.give_up();
        }
        Poll::Ready(())
    }

    /// The body is over: `End` goes after any copy still waiting, without holding the client.
    fn end(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        match self.waiting.take() {
            Some(w) => smol::spawn(async move {
                if w.await {
                    wait_send(tx, Msg::End, TEE_MAX_STALL).await;
                }
            })
            .detach(),
            None => {
                if let Err(TrySendError::Full(end)) = tx.try_send(Msg::End) {
                    smol::spawn(wait_send(tx, end, TEE_MAX_STALL)).detach();
                }
            }
        }
    }
}

/// Sends `msg` once the channel has room, or gives up after `budget`; `true` if sent.
fn wait_send(tx: Sender<Msg>, msg: Msg, budget: Duration) -> Waiting {
    Box::pin(async move {
        let sent = async { tx.send(msg).await.is_ok() };
        smol::future::or(sent, async {
            Timer::after(budget).await;
            false
        })
        .await
    })
}

impl HttpBody for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.poll_waiting(cx).is_pending() {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.send(Msg::Data(data.clone()));
                }
                if this.inner.is_end_stream() {
                    this.end();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                this.tx = None;
                this.waiting = None;
            }
            Poll::Ready(None) => this.end(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn body(chunks: &[&'static str]) -> Body {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        StreamBody::new(smol::stream::iter(frames)).boxed_unsync()
    }

    #[test]
    fn a_stuck_writer_holds_the_client_no_longer_than_the_budget() {
        let (tx, rx) = smol::channel::bounded(1);
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&["a", "b", "c"]), tx, m.clone(), "kubelet");
        let started = std::time::Instant::now();
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abc", "the client gets everything");
        assert!(
            started.elapsed() < TEE_MAX_STALL * 3,
            "held {:?}",
            started.elapsed()
        );
        assert!(matches!(rx.try_recv(), Ok(Msg::Data(d)) if &d[..] == b"a"));
        assert!(rx.try_recv().is_err(), "abandoned: no End, channel closed");
        assert!(m
            .render()
            .contains("abandoned_responses_total{component=\"kubelet\"} 1"));
    }

    #[test]
    fn a_slow_writer_paces_the_client_and_gets_everything() {
        let (tx, rx) = smol::channel::bounded(1);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(m) = smol::block_on(rx.recv()) {
                std::thread::sleep(Duration::from_millis(5));
                got.push(m);
            }
            got
        });
        let chunks = ["a", "b", "c", "d", "e", "f"];
        let tee = TeeBody::new(body(&chunks), tx, Arc::default(), "kubelet");
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abcdef");
        let msgs = reader.join().expect("reader");
        assert_eq!(msgs.len(), chunks.len() + 1, "{msgs:?}");
        assert!(matches!(msgs.last(), Some(Msg::End)), "{msgs:?}");
    }

    #[test]
    fn a_whole_body_ends_with_end() {
        let (tx, rx) = smol::channel::bounded(8);
        let tee = TeeBody::new(body(&["a", "b"]), tx, Arc::default(), "kubelet");
        smol::block_on(tee.collect()).expect("body");
        let msgs: Vec<Msg> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(matches!(msgs.last(), Some(Msg::End)), "{msgs:?}");
        assert_eq!(msgs.len(), 3);
    }
}
