//! HTTP Upgrade pass-through (exec, attach, port-forward over SPDY or WebSocket): after both sides
//! switched protocols, bytes are spliced unchanged in both directions.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Read, ReadBuf, Write};
use hyper::upgrade::{OnUpgrade, Upgraded};
use smol::io::AsyncWriteExt;

/// futures-io view of a hyper upgraded connection.
pub struct UpgradedIo(pub Upgraded);

impl AsyncRead for UpgradedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, rb.unfilled()) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for UpgradedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Waits for both upgrades, then copies bytes both ways until each side has closed.
/// Returns (client→upstream, upstream→client) byte counts.
pub async fn splice(client: OnUpgrade, upstream: OnUpgrade) -> std::io::Result<(u64, u64)> {
    let (c, u) = smol::future::zip(client, upstream).await;
    let to_io =
        |r: Result<Upgraded, hyper::Error>| r.map(UpgradedIo).map_err(std::io::Error::other);
    let (c, u) = (to_io(c)?, to_io(u)?);
    let (cr, cw) = smol::io::split(c);
    let (ur, uw) = smol::io::split(u);
    let (a, b) = smol::future::zip(pipe(cr, uw), pipe(ur, cw)).await;
    Ok((a?, b?))
}

/// Copies until EOF, then closes the writer so the other side sees the half-close.
pub async fn pipe<R, W>(r: R, mut w: W) -> std::io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let n = smol::io::copy(r, &mut w).await?;
    w.close().await?;
    Ok(n)
}
