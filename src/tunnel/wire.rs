//! Reading and writing control frames on a stream: the thin I/O loop around [`frame::decode`].

use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};

use crate::tunnel::frame::{self, Frame, FrameError};

/// Why a frame could not be read or written.
#[derive(Debug)]
pub enum WireError {
    /// The stream failed.
    Io(std::io::Error),
    /// The peer sent bytes that are not a frame.
    Frame(FrameError),
    /// The stream ended before a whole frame arrived.
    Closed,
    /// No whole frame arrived in time.
    Timeout,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "stream failed: {e}"),
            WireError::Frame(e) => e.fmt(f),
            WireError::Closed => f.write_str("stream closed"),
            WireError::Timeout => f.write_str("timed out waiting for a frame"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Reads one frame. `buf` holds bytes read earlier and keeps what follows the frame, which
/// belongs to whoever reads the stream next.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<Frame, WireError> {
    loop {
        if let Some((f, used)) = frame::decode(buf).map_err(WireError::Frame)? {
            buf.drain(..used);
            return Ok(f);
        }
        let mut chunk = [0u8; 1024];
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(WireError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// [`read_frame`] with a deadline.
pub async fn read_frame_timeout<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Frame, WireError> {
    read_frame(r, buf)
        .or(async {
            smol::Timer::after(timeout).await;
            Err(WireError::Timeout)
        })
        .await
}

/// Writes one frame and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> std::io::Result<()> {
    w.write_all(&frame::to_bytes(f)).await?;
    w.flush().await
}
