//! The tee: a response body that streams to the client unchanged and hands a copy of each frame
//! to the cache writer.
//!
//! Copies wait for their writer in a queue bounded in bytes (the writer's lag,
//! `--cache-writer-lag-mib`, default [`TEE_BUDGET`]). While the writer is within it, the client
//! is never held for the cache. Past it (a LIST arriving faster than the disk takes it: 20 MiB
//! on a LAN at 48 MB/s against a writer at ~20 MB/s on the benchmark machine) the tee holds the
//! *next* frame until the writer made room, so the client is paced to the disk instead of the
//! hub piling the answer up in RAM or giving up caching it (counted, with the time held, in
//! `node_yurthub_cache_paced_total` and `node_yurthub_cache_paced_seconds_total`); a writer that makes no room for
//! [`TEE_MAX_STALL`] (a stalled disk) gets the rest of that answer no more (a log line and
//! `node_yurthub_cache_abandoned_responses_total`) and the client goes on at full speed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use smol::channel::{Receiver, Sender};
use smol::Timer;

use super::metrics::CacheMetrics;
use super::{writer, Cache, Target};
use crate::k8s::meta::Encoding;
use crate::net::http::{Body, BoxError};

/// Bytes of copies one answer may have waiting for its writer before the client is paced.
pub const TEE_BUDGET: usize = 1024 * 1024;
/// Longest a response is held back at once waiting for its writer; then it is not cached.
pub const TEE_MAX_STALL: Duration = Duration::from_secs(1);

/// A copy waiting for room in the queue: `true` once queued, `false` when the wait ran out.
type Waiting = Pin<Box<dyn Future<Output = bool> + Send>>;

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
#[derive(Clone)]
pub struct CopyTx {
    tx: Sender<Msg>,
    queued: Arc<AtomicUsize>,
    budget: usize,
    /// Signalled by the writer each time it took a copy (in an `Arc`: a `Receiver` is not
    /// `Unpin`, and the tee's body must be).
    room: Arc<Receiver<()>>,
}

/// Why a copy was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// The writer is its budget behind.
    OverBudget,
    /// The writer stopped (it decided not to cache the answer).
    Closed,
}

impl CopyTx {
    /// Queues `msg` without waiting; gives it back when it was not queued. A copy always fits
    /// an empty queue, whatever its size, and `End` always fits.
    pub fn try_send(&self, msg: Msg) -> Result<(), (NotQueued, Msg)> {
        let n = msg.len();
        let before = self.queued.fetch_add(n, Ordering::AcqRel);
        if n > 0 && before > 0 && before + n > self.budget {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err((NotQueued::OverBudget, msg));
        }
        self.tx.try_send(msg).map_err(|e| {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            (NotQueued::Closed, e.into_inner())
        })
    }

    /// Queues `msg` once the writer made room for it, waiting at most `wait`; `true` if queued.
    pub async fn send_within(&self, mut msg: Msg, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match self.try_send(msg) {
                Ok(()) => return true,
                Err((NotQueued::Closed, _)) => return false,
                Err((NotQueued::OverBudget, m)) => msg = m,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let woke = smol::future::or(async { self.room.recv().await.is_ok() }, async {
                Timer::after(left).await;
                false
            })
            .await;
            if !woke {
                return false;
            }
        }
    }
}

/// The writer's end of the queue of copies.
pub struct CopyRx {
    rx: Receiver<Msg>,
    queued: Arc<AtomicUsize>,
    room: Sender<()>,
}

impl CopyRx {
    fn took(&self, m: &Msg) {
        self.queued.fetch_sub(m.len(), Ordering::AcqRel);
        let _ = self.room.try_send(());
    }

    /// The next copy; `None` once the tee is gone (after `End`, or cut short without it).
    pub async fn recv(&self) -> Option<Msg> {
        let m = self.rx.recv().await.ok()?;
        self.took(&m);
        Some(m)
    }

    /// The next copy if one is queued.
    pub fn try_recv(&self) -> Option<Msg> {
        let m = self.rx.try_recv().ok()?;
        self.took(&m);
        Some(m)
    }
}

/// A queue of copies holding at most `budget` bytes.
pub fn copies(budget: usize) -> (CopyTx, CopyRx) {
    let (tx, rx) = smol::channel::unbounded();
    let (room_tx, room_rx) = smol::channel::bounded(1);
    let queued = Arc::new(AtomicUsize::new(0));
    let tx = CopyTx {
        tx,
        queued: queued.clone(),
        budget,
        room: Arc::new(room_rx),
    };
    let rx = CopyRx {
        rx,
        queued,
        room: room_tx,
    };
    (tx, rx)
}

/// Whether an answer can be kept as it streams by: 2xx and identity-encoded.
pub fn keepable(status: StatusCode, h: &HeaderMap) -> bool {
    status.is_success()
        && h.get(header::CONTENT_ENCODING)
            .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"))
}

/// The encoding of an answer that can be kept ([`keepable`], JSON or protobuf).
pub fn kept_encoding(status: StatusCode, h: &HeaderMap) -> Option<Encoding> {
    let enc = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Encoding::from_content_type)?;
    keepable(status, h).then_some(enc)
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
    let enc = kept_encoding(status, h)?;
    Some(writer::spawn(cache.clone(), target.clone(), enc))
}

/// The client's body plus the copy.
pub struct TeeBody {
    inner: Body,
    tx: Option<CopyTx>,
    metrics: Arc<CacheMetrics>,
    component: String,
    /// A copy the writer has no room for yet, and since when; polled before the next frame.
    waiting: Option<Waiting>,
    held_since: Option<Instant>,
}

impl TeeBody {
    /// Wraps `inner`; frames go to `tx`.
    pub fn new(inner: Body, tx: CopyTx, metrics: Arc<CacheMetrics>, component: &str) -> Self {
        TeeBody {
            inner,
            tx: Some(tx),
            metrics,
            component: component.to_string(),
            waiting: None,
            held_since: None,
        }
    }

    fn send(&mut self, msg: Msg) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(msg) {
            Ok(()) => {}
            Err((NotQueued::OverBudget, msg)) => {
                let tx = tx.clone();
                self.waiting = Some(Box::pin(
                    async move { tx.send_within(msg, TEE_MAX_STALL).await },
                ));
                self.held_since = Some(Instant::now());
            }
            Err((NotQueued::Closed, _)) => self.tx = None,
        }
    }

    fn give_up(&mut self) {
        log::warn!(
            "cache: writer stalled for {TEE_MAX_STALL:?}; this {} response is not cached",
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
        if let Some(since) = self.held_since.take() {
            self.metrics.paced(&self.component, since.elapsed());
        }
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
                    let _ = tx.try_send(Msg::End);
                }
            })
            .detach(),
            None => {
                let _ = tx.try_send(Msg::End);
            }
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

    fn drain(rx: &CopyRx) -> Vec<Msg> {
        std::iter::from_fn(|| rx.try_recv()).collect()
    }

    /// The value of `name{component="kubelet"}` in the metrics text, if there is one.
    fn kubelet_metric(m: &CacheMetrics, name: &str) -> Option<f64> {
        let prefix = format!("{name}{{component=\"kubelet\"}} ");
        m.render()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
    }

    #[test]
    fn a_stuck_writer_holds_the_client_no_longer_than_the_stall_budget() {
        // Nobody reads: "c" would put the writer past a budget of 2 bytes.
        let (tx, rx) = copies(2);
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&["a", "b", "c", "d"]), tx, m.clone(), "kubelet");
        let started = Instant::now();
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abcd", "the client gets everything");
        let held = started.elapsed();
        assert!(
            held >= TEE_MAX_STALL && held < TEE_MAX_STALL * 3,
            "held {held:?}"
        );
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
        assert_eq!(
            kubelet_metric(&m, "node_yurthub_cache_paced_total"),
            Some(1.0)
        );
        let secs = kubelet_metric(&m, "node_yurthub_cache_paced_seconds_total").expect("held");
        assert!(secs >= TEE_MAX_STALL.as_secs_f64(), "{secs}");
    }

    #[test]
    fn a_slow_writer_paces_the_client_and_gets_everything() {
        let (tx, rx) = copies(1);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(m) = smol::block_on(rx.recv()) {
                std::thread::sleep(Duration::from_millis(5));
                got.push(m);
            }
            got
        });
        let chunks = ["a", "b", "c", "d", "e", "f"];
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&chunks), tx, m.clone(), "kubelet");
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abcdef");
        let msgs = reader.join().expect("reader");
        assert_eq!(msgs.len(), chunks.len() + 1, "{msgs:?}");
        assert!(matches!(msgs.last(), Some(Msg::End)), "{msgs:?}");
        // Held at least once (the reader sleeps 5 ms a copy), never more than once per frame.
        let paced = kubelet_metric(&m, "node_yurthub_cache_paced_total").expect("paced");
        assert!((1.0..=chunks.len() as f64).contains(&paced), "{paced}");
        let secs = kubelet_metric(&m, "node_yurthub_cache_paced_seconds_total").expect("held");
        assert!(secs > 0.0 && secs < TEE_MAX_STALL.as_secs_f64(), "{secs}");
    }

    #[test]
    fn a_writer_within_its_lag_never_holds_the_client() {
        // Nobody reads until the body is over: 6 bytes fit a lag of 8, so nothing waits.
        let (tx, rx) = copies(8);
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&["ab", "cd", "ef"]), tx, m.clone(), "kubelet");
        let started = Instant::now();
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abcdef");
        assert!(
            started.elapsed() < TEE_MAX_STALL / 2,
            "{:?}",
            started.elapsed()
        );
        let msgs = drain(&rx);
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(matches!(msgs.last(), Some(Msg::End)), "{msgs:?}");
        assert_eq!(kubelet_metric(&m, "node_yurthub_cache_paced_total"), None);
    }

    #[test]
    fn budget_counts_bytes_waiting_not_bytes_sent() {
        let (tx, rx) = copies(3);
        let data = |b: &'static [u8]| Msg::Data(Bytes::from_static(b));
        assert!(tx.try_send(data(b"ab")).is_ok());
        assert!(matches!(
            tx.try_send(data(b"cd")),
            Err((NotQueued::OverBudget, _))
        ));
        assert!(smol::block_on(rx.recv()).is_some());
        assert!(
            tx.try_send(data(b"cdef")).is_ok(),
            "an empty queue takes any copy"
        );
        assert!(tx.try_send(Msg::End).is_ok(), "End always fits");
        drop(rx);
        assert!(matches!(tx.try_send(Msg::End), Err((NotQueued::Closed, _))));
    }
}
