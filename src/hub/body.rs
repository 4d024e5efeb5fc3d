//! The response body of a proxied request: streams upstream frames as they come, counts bytes, and
//! hands the connection back to the pool once the exchange finished cleanly.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use super::metrics::{Metrics, Series};
use super::upstream::{Ident, Pool, Upstream};
use crate::net::http::{Body, BoxError};

/// Where the connection goes when the body ends.
pub struct Return {
    pub pool: Arc<Pool>,
    pub upstream: Arc<Upstream>,
    pub ident: Ident,
    pub sender: SendRequest<Body>,
}

/// Upstream body plus bookkeeping.
pub struct ProxyBody {
    inner: Incoming,
    ret: Option<Return>,
    metrics: Arc<Metrics>,
    series: Arc<Series>,
    bytes: u64,
}

impl ProxyBody {
    /// Wraps `inner`; `ret` is given back to the pool at a clean end of stream.
    pub fn new(
        inner: Incoming,
        ret: Return,
        metrics: Arc<Metrics>,
        series: Arc<Series>,
    ) -> ProxyBody {
        ProxyBody {
            inner,
            ret: Some(ret),
            metrics,
            series,
            bytes: 0,
        }
    }

    /// Gives the connection back once the upstream message is complete. hyper stops polling a
    /// body as soon as `is_end_stream()` holds, so this runs after every frame, not only at `None`.
    fn release_if_done(&mut self) {
        if self.inner.is_end_stream() {
            if let Some(r) = self.ret.take() {
                r.pool.put_back(&r.upstream, r.ident, r.sender);
            }
        }
    }

    fn flush_bytes(&mut self) {
        if self.bytes > 0 {
            self.series.traffic(self.bytes, 0);
            self.bytes = 0;
        }
    }
}

impl HttpBody for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                    // Long watches report as they go, not only at the end.
                    if this.bytes >= 64 * 1024 {
                        this.flush_bytes();
                    }
                }
                this.release_if_done();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.flush_bytes();
                if let Some(r) = this.ret.take() {
                    r.pool
                        .mark_failed(&r.upstream, &format!("response body failed: {e}"));
                    r.pool_error(&this.metrics);
                }
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(None) => {
                this.flush_bytes();
                if let Some(r) = this.ret.take() {
                    r.pool.put_back(&r.upstream, r.ident, r.sender);
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Return {
    fn pool_error(&self, metrics: &Metrics) {
        metrics.upstream_error(&self.upstream.addr.url, "body");
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // An empty body may never be polled at all.
        self.release_if_done();
        self.flush_bytes();
    }
}
