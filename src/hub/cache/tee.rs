//! The tee: a response body that streams to the client unchanged and hands a copy of each frame
//! to the cache writer.
//!
//! The client is never held for the cache (issue 3: "never delaying the client on disk I/O").
//! Copies wait for their writer in a queue bounded in bytes ([`TEE_BUDGET`]), which bounds the
//! hub's memory: a LIST arriving faster than the disk takes it (a 20 MiB list on a LAN) would
//! otherwise pile up in RAM. When a copy would go over the budget, that answer is not cached (a
//! log line and `node_yurthub_cache_abandoned_responses_total`) and the client goes on at full
//! speed; the next LIST of the view tries again.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use smol::channel::{Receiver, Sender};

use super::metrics::CacheMetrics;
use super::{writer, Cache, Target};
use crate::k8s::meta::Encoding;
use crate::net::http::{Body, BoxError};

/// Bytes of copies one answer may have waiting for its writer (the writer takes a LIST in
/// 256 KiB pieces and a memtable flush at most stalls it briefly; a disk slower than the
/// network for longer than this costs the answer, not the client).
pub const TEE_BUDGET: usize = 4 * 1024 * 1024;

/// What the writer receives.
#[derive(Debug)]
pub enum Msg {
    /// A frame of the body, as the upstream sent it.
    Data(Bytes),
    /// The body ended cleanly. A channel closed without it means truncated.
    End,
}

impl Msg {
    fn len(&self) -> usize {
        match self {
            Msg::Data(b) => b.len(),
            Msg::End => 0,
        }
    }
}

/// The tee's end of the queue of copies.
pub struct CopyTx {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    budget: usize,
}

/// Why a copy was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// The writer is [`TEE_BUDGET`] behind.
    OverBudget,
    /// The writer stopped (it decided not to cache the answer).
    Closed,
}

impl CopyTx {
    /// Queues `msg` without waiting.
    pub fn try_send(&self, msg: Msg) -> Result<(), NotQueued> {
        let n = msg.len();
        if self.queued.fetch_add(n, Ordering::AcqRel) + n > self.budget {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(NotQueued::OverBudget);
        }
        self.tx.try_send(msg).map_err(|_| NotQueued::Closed)
    }
}

/// The writer's end of the queue of copies.
pub struct CopyRx {
    rx: Receiver<Msg>,
    queued: Arc<AtomicUsize>,
}

impl CopyRx {
    /// The next copy; `None` once the tee is gone (after `End`, or cut short without it).
    pub async fn recv(&self) -> Option<Msg> {
        let m = self.rx.recv().await.ok()?;
        self.queued.fetch_sub(m.len(), Ordering::AcqRel);
        Some(m)
    }

    /// The next copy if one is queued.
    pub fn try_recv(&self) -> Option<Msg> {
        let m = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(m.len(), Ordering::AcqRel);
        Some(m)
    }
}

/// A queue of copies holding at most `budget` bytes.
pub fn copies(budget: usize) -> (CopyTx, CopyRx) {
    let (tx, rx) = smol::channel::unbounded();
    let queued = Arc::new(AtomicUsize::new(0));
    let tx = CopyTx {
        tx,
        queued: queued.clone(),
        budget,
    };
    (tx, CopyRx { rx, queued })
}

/// Whether an answer can be kept as it streams by: 2xx and identity-encoded.
pub fn keepable(status: StatusCode, h: &HeaderMap) -> bool {
    status.is_success()
        && h.get(header::CONTENT_ENCODING)
            .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

/// A whole body of at most `max` bytes from the tee; `None` if it was cut short or too big.
pub async fn collect(rx: CopyRx, max: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match rx.recv().await? {
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
) -> Option<CopyTx> {
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
    tx: Option<CopyTx>,
    metrics: Arc<CacheMetrics>,
    component: String,
}

impl TeeBody {
    /// Wraps `inner`; frames go to `tx`.
    pub fn new(inner: Body, tx: CopyTx, metrics: Arc<CacheMetrics>, component: &str) -> Self {
        TeeBody {
            inner,
            tx: Some(tx),
            metrics,
            component: component.to_string(),
        }
    }

    fn send(&mut self, msg: Msg) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(msg) {
            Ok(()) => {}
            Err(NotQueued::OverBudget) => {
                log::warn!(
                    "cache: writer fell {} MiB behind; this {} response is not cached",
                    TEE_BUDGET >> 20,
                    self.component
                );
                self.metrics.abandoned(&self.component);
                self.tx = None;
            }
            Err(NotQueued::Closed) => self.tx = None,
        }
    }

    /// The body is over: `End` tells the writer it is whole.
    fn end(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(Msg::End);
        }
    }
}

impl HttpBody for TeeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
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
            Poll::Ready(Some(Err(_))) => this.tx = None,
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

    fn drain(rx: &CopyRx) -> Vec<Msg> {
        std::iter::from_fn(|| rx.try_recv()).collect()
    }

    #[test]
    fn a_writer_over_budget_loses_the_answer_and_the_client_gets_everything() {
        // Nobody reads: the third byte would put the writer 3 bytes behind a budget of 2.
        let (tx, rx) = copies(2);
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&["a", "b", "c", "d"]), tx, m.clone(), "kubelet");
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abcd", "the client gets everything");
        let msgs = drain(&rx);
        assert!(
            matches!(&msgs[..], [Msg::Data(a), Msg::Data(b)] if &a[..] == b"a" && &b[..] == b"b"),
            "{msgs:?}"
        );
        assert!(
            smol::block_on(rx.recv()).is_none(),
            "abandoned: no End, queue closed"
        );
        assert!(m
            .render()
            .contains("abandoned_responses_total{component=\"kubelet\"} 1"));
    }

    #[test]
    fn a_writer_that_keeps_up_gets_everything_then_end() {
        let (tx, rx) = copies(2);
        let mut tee = TeeBody::new(body(&["ab", "cd", "ef"]), tx, Arc::default(), "kubelet");
        let mut got = Vec::new();
        let mut msgs = Vec::new();
        smol::block_on(async {
            while let Some(f) = tee.frame().await {
                got.extend_from_slice(f.expect("frame").data_ref().expect("data"));
                msgs.extend(drain(&rx)); // the writer takes each copy before the next frame
            }
        });
        msgs.extend(drain(&rx));
        assert_eq!(&got[..], b"abcdef");
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(matches!(msgs.last(), Some(Msg::End)), "{msgs:?}");
    }

    #[test]
    fn budget_counts_bytes_waiting_not_bytes_sent() {
        let (tx, rx) = copies(3);
        assert_eq!(tx.try_send(Msg::Data(Bytes::from_static(b"ab"))), Ok(()));
        assert_eq!(
            tx.try_send(Msg::Data(Bytes::from_static(b"cd"))),
            Err(NotQueued::OverBudget)
        );
        assert!(smol::block_on(rx.recv()).is_some());
        assert_eq!(tx.try_send(Msg::Data(Bytes::from_static(b"cd"))), Ok(()));
        assert_eq!(tx.try_send(Msg::End), Ok(()), "End always fits");
        drop(rx);
        assert_eq!(tx.try_send(Msg::End), Err(NotQueued::Closed));
    }
}
