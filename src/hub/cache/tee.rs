//! The tee: a response body that streams to the client unchanged and hands a copy of each frame
//! to the cache writer through a bounded channel. It never waits: when the writer is behind, that
//! response is simply not cached (a log line and a metric).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use http_body::{Body as HttpBody, Frame, SizeHint};
use smol::channel::{Sender, TrySendError};

use super::metrics::CacheMetrics;
use super::{writer, Cache, Target};
use crate::k8s::meta::Encoding;
use crate::net::http::{Body, BoxError};

/// Frames buffered between a response and its writer before the tee gives up.
pub const TEE_FRAMES: usize = 1024;

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
}

impl TeeBody {
    /// Wraps `inner`; frames go to `tx`.
    pub fn new(inner: Body, tx: Sender<Msg>, metrics: Arc<CacheMetrics>, component: &str) -> Self {
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
            Err(TrySendError::Full(_)) => {
                log::warn!(
                    "cache: writer fell behind; this {} response is not cached",
                    self.component
                );
                self.metrics.abandoned(&self.component);
                self.tx = None;
            }
            Err(TrySendError::Closed(_)) => self.tx = None,
        }
    }

    fn end(&mut self) {
        self.send(Msg::End);
        self.tx = None;
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

    #[test]
    fn a_slow_writer_never_delays_the_client_and_gets_no_end() {
        let (tx, rx) = smol::channel::bounded(1);
        let m = Arc::new(CacheMetrics::default());
        let tee = TeeBody::new(body(&["a", "b", "c"]), tx, m.clone(), "kubelet");
        let got = smol::block_on(tee.collect()).expect("body").to_bytes();
        assert_eq!(&got[..], b"abc");
        assert!(matches!(rx.try_recv(), Ok(Msg::Data(d)) if &d[..] == b"a"));
        assert!(rx.try_recv().is_err(), "abandoned: no End, channel closed");
        assert!(m
            .render()
            .contains("abandoned_responses_total{component=\"kubelet\"} 1"));
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
