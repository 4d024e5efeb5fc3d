//! Splicing two byte streams both ways on one task, with per-direction buffers, half-close
//! (end-of-file on one side closes the other side's write half) and byte counters.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

/// Buffer per direction. yamux frames carry at most 16 KiB, so more buys nothing.
const BUF: usize = 16 * 1024;

/// One direction of a splice.
struct Half<'a> {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
    counter: &'a AtomicU64,
}

impl<'a> Half<'a> {
    fn new(counter: &'a AtomicU64) -> Self {
        Half {
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            done: false,
            counter,
        }
    }

    /// Moves bytes from `r` to `w` until both block; `Ready` once `w` is closed after `r`'s EOF.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.start < self.end {
                let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                self.counter.fetch_add(n as u64, Ordering::Relaxed);
                continue;
            }
            if self.eof {
                ready!(Pin::new(&mut *w).poll_flush(cx))?;
                ready!(Pin::new(&mut *w).poll_close(cx))?;
                self.done = true;
                continue;
            }
            match Pin::new(&mut *r).poll_read(cx, &mut self.buf) {
                Poll::Ready(Ok(0)) => self.eof = true,
                Poll::Ready(Ok(n)) => {
                    self.start = 0;
                    self.end = n;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // Nothing to read: push out what the writer buffered, then wait.
                    ready!(Pin::new(&mut *w).poll_flush(cx))?;
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Copies `a` → `b` and `b` → `a` until both directions reached end-of-file, or either fails.
/// `a_to_b` and `b_to_a` count the bytes written each way as they go.
pub async fn splice<A, B>(
    a: &mut A,
    b: &mut B,
    a_to_b: &AtomicU64,
    b_to_a: &AtomicU64,
) -> io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut up = Half::new(a_to_b);
    let mut down = Half::new(b_to_a);
    std::future::poll_fn(|cx| {
        let u = up.poll_copy(cx, a, b)?;
        let d = down.poll_copy(cx, b, a)?;
        if u.is_ready() && d.is_ready() {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Writes `bytes` (already read past a header) before splicing starts.
pub async fn write_leftover<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    use smol::io::AsyncWriteExt;
    if !bytes.is_empty() {
        w.write_all(bytes).await?;
        w.flush().await?;
    }
    Ok(())
}
