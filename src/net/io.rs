//! Sockets for hyper: a TCP stream that remembers when it was drained, and TLS on top of it that
//! hands plaintext straight to hyper.
//!
//! `smol::net::TcpStream` (async-io) tries `recv` on every `poll_read` and only then asks the
//! reactor. hyper polls a connection's read side far more often than data arrives (to spot a
//! client leaving mid-request, to check an idle pooled connection, after every wake-up of the
//! task for another reason), so on the hub's proxy path about three `recv` calls in four returned
//! `EAGAIN` (docs/BENCHMARKS.md). [`Stream`] keeps what tokio keeps: a read that came back short
//! or with `EAGAIN` drained the socket, and until a new read edge arrives a read just waits. A
//! short read on a TCP socket means its receive queue was empty at that moment; data arriving
//! later brings an edge ([`super::readiness`], which also says why the sockets are not in
//! async-io's reactor), so nothing is missed.
//!
//! Both types implement hyper's `Read` themselves rather than through smol-hyper's adapter, which
//! zeroes hyper's whole free buffer (8 KiB and more) on every poll, data or not: [`Stream`]
//! receives into a per-thread scratch buffer and copies what came (without `unsafe` there is no
//! reading into hyper's uninitialised buffer), and [`Tls`] copies rustls' decrypted bytes.

use std::cell::RefCell;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;
use rustls::ConnectionCommon;
use smol::Async;

use super::readiness::{Dir, Registration};

/// A non-blocking TCP stream registered edge-triggered with [`readiness`] (futures-io and hyper
/// I/O traits).
pub struct Stream {
    tcp: std::net::TcpStream,
    reg: Registration,
    /// Whether a read may find data without waiting for an edge.
    readable: bool,
    /// The read edge count before the read that drained the socket.
    read_seen: u64,
}

impl Stream {
    /// Takes over a smol TCP stream (set its options first): it leaves async-io's reactor for
    /// the edge-triggered one.
    pub fn new(tcp: smol::net::TcpStream) -> io::Result<Stream> {
        let tcp = Arc::<Async<std::net::TcpStream>>::from(tcp);
        let tcp = Arc::try_unwrap(tcp)
            .map_err(|_| io::Error::other("the TCP stream is shared"))?
            .into_inner()?;
        Stream::from_std(tcp)
    }

    /// Takes over a connected std TCP stream.
    pub fn from_std(tcp: std::net::TcpStream) -> io::Result<Stream> {
        tcp.set_nonblocking(true)?;
        let reg = Registration::new(&tcp)?;
        Ok(Stream {
            tcp,
            reg,
            readable: true,
            read_seen: 0,
        })
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.peer_addr()
    }

    /// Reads into `buf`, waiting for an edge only when the socket was drained.
    fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            if !self.readable {
                ready!(self.reg.poll_edge(Dir::Read, self.read_seen, cx));
                self.readable = true;
            }
            let seen = self.reg.tick(Dir::Read);
            match (&self.tcp).read(buf) {
                Ok(n) => {
                    // Short: the receive queue is empty now. The end of the stream (0) brings no
                    // further edge, so it is not a wait: the next read returns 0 again.
                    if n < buf.len() && n > 0 {
                        self.readable = false;
                        self.read_seen = seen;
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    self.read_seen = seen;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Runs a write, waiting for a write edge while the send buffer is full.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&std::net::TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let seen = self.reg.tick(Dir::Write);
            match op(&self.tcp) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.reg.poll_edge(Dir::Write, seen, cx));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return Poll::Ready(r),
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_recv(cx, buf)
    }
}

/// Bytes read from a socket before hyper gets them (one buffer per thread, zeroed once).
const SCRATCH: usize = 64 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, |mut tcp| tcp.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_send(cx, |mut tcp| tcp.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.tcp.shutdown(Shutdown::Write))
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        SCRATCH_BUF.with_borrow_mut(|scratch| {
            if scratch.is_empty() {
                scratch.resize(SCRATCH, 0);
            }
            let len = buf.remaining().min(SCRATCH);
            let n = ready!(this.poll_recv(cx, &mut scratch[..len]))?;
            buf.put_slice(&scratch[..n]);
            Poll::Ready(Ok(()))
        })
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(self, cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write_vectored(self, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(self, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_close(self, cx)
    }
}

/// A futures-rustls stream (client or server side) over a [`Stream`].
pub trait TlsParts: AsyncWrite + Unpin {
    /// What rustls keeps for this side.
    type Data;
    /// The socket and the TLS state.
    fn parts(&mut self) -> (&mut Stream, &mut ConnectionCommon<Self::Data>);
}

impl TlsParts for futures_rustls::client::TlsStream<Stream> {
    type Data = rustls::client::ClientConnectionData;
    fn parts(&mut self) -> (&mut Stream, &mut ConnectionCommon<Self::Data>) {
        let (io, conn) = self.get_mut();
        (io, &mut **conn)
    }
}

impl TlsParts for futures_rustls::server::TlsStream<Stream> {
    type Data = rustls::server::ServerConnectionData;
    fn parts(&mut self) -> (&mut Stream, &mut ConnectionCommon<Self::Data>) {
        let (io, conn) = self.get_mut();
        (io, &mut **conn)
    }
}

/// hyper I/O over an established TLS stream: reads copy decrypted bytes from rustls into hyper's
/// buffer; writes go through futures-rustls.
pub struct Tls<T>(pub T);

/// `std::io` view of a [`Stream`] for rustls: `WouldBlock` when it would wait.
struct SyncIo<'a, 'b> {
    io: &'a mut Stream,
    cx: &'a mut Context<'b>,
}

impl Read for SyncIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match AsyncRead::poll_read(Pin::new(&mut *self.io), self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for SyncIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match AsyncWrite::poll_write(Pin::new(&mut *self.io), self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: TlsParts> hyper::rt::Read for Tls<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let (io, conn) = self.get_mut().0.parts();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            // Decrypted bytes first; `Ok(&[])` is a clean close, an error an unclean one.
            match conn.reader().into_first_chunk() {
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    io::BufRead::consume(&mut conn.reader(), n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            match conn.read_tls(&mut SyncIo { io, cx }) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
            if let Err(e) = conn.process_new_packets() {
                // Tell the peer why (an alert), without hiding the real error.
                let _ = conn.write_tls(&mut SyncIo { io, cx });
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }
}

impl<T: TlsParts> hyper::rt::Write for Tls<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed setup step in a test should panic where it happens
mod tests {
    use super::*;
    use smol::io::{AsyncReadExt, AsyncWriteExt};
    use std::time::Duration;

    /// `fut`'s output, or `None` if it has not finished within `secs` seconds.
    async fn within<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> Option<T> {
        let late = async {
            smol::Timer::after(Duration::from_secs(secs)).await;
            None
        };
        smol::future::or(async { Some(fut.await) }, late).await
    }

    /// Runs the test body on smol's executor (the process-wide readiness instance and its
    /// driver task), then on the hub's runtime (its own instance, waited on by its thread).
    fn on_both<F: std::future::Future<Output = ()>>(body: impl Fn() -> F) {
        smol::block_on(body());
        crate::net::rt::block_on(body());
    }

    /// After a short read the stream waits for the reactor; bytes that arrive later (and the end
    /// of the stream) must still be delivered, not lost to the skipped `recv`.
    #[test]
    fn bytes_after_a_short_read_arrive() {
        on_both(|| async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let writer = crate::net::rt::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                s.write_all(b"first").await.unwrap();
                smol::Timer::after(Duration::from_millis(50)).await;
                s.write_all(b"second").await.unwrap();
                smol::Timer::after(Duration::from_millis(50)).await;
                s.write_all(b"third").await.unwrap();
            });
            let mut s = Stream::new(smol::net::TcpStream::connect(addr).await.unwrap()).unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"first");
            assert!(!s.readable, "a short read marks the socket drained");
            let mut rest = Vec::new();
            let done = within(5, s.read_to_end(&mut rest)).await;
            assert!(done.expect("later bytes were never read").is_ok());
            assert_eq!(rest, b"secondthird");
            writer.await;
        });
    }

    /// The last bytes and the end of the stream in one edge: the read of the bytes comes back
    /// short, and the end must still be reported (no further edge announces it).
    #[test]
    fn the_end_right_after_the_last_bytes_is_seen() {
        on_both(|| async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let tcp = std::net::TcpStream::connect(addr).unwrap();
            let (mut peer, _) = listener.accept().unwrap();
            // Both are queued before the stream is even registered.
            std::io::Write::write_all(&mut peer, b"last words").unwrap();
            drop(peer);
            let mut s = Stream::from_std(tcp).unwrap();
            let mut rest = Vec::new();
            let done = within(5, s.read_to_end(&mut rest)).await;
            assert!(done.expect("the end of the stream was never seen").is_ok());
            assert_eq!(rest, b"last words");
        });
    }

    /// A write that found the send buffer full waits for the peer to read, then finishes: the
    /// write edge after `EAGAIN` must wake it, with every byte delivered in order.
    #[test]
    fn a_full_send_buffer_drains_and_the_write_finishes() {
        const TOTAL: usize = 16 * 1024 * 1024;
        on_both(|| async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let tcp = std::net::TcpStream::connect(addr).unwrap();
            let (peer, _) = listener.accept().unwrap();
            let mut s = Stream::from_std(tcp).unwrap();
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            let expect = data.clone();
            // The peer starts reading only after the writer had to wait.
            let reader = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                let mut got = Vec::new();
                std::io::Read::read_to_end(&mut &peer, &mut got).unwrap();
                got
            });
            let write = async {
                s.write_all(&data).await.unwrap();
                s.close().await.unwrap();
            };
            assert!(
                within(20, write).await.is_some(),
                "the write never finished"
            );
            assert!(reader.join().unwrap() == expect, "bytes lost or reordered");
        });
    }
}
