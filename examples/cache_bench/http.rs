//! A minimal blocking HTTP/1.1 client: keep-alive requests over any stream (plain TCP to the hub,
//! rustls to the API double), whole answers de-chunked. Enough for the benchmark, nothing more.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

/// Status and de-chunked body of one answer.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn<S: Read + Write> {
    io: BufReader<S>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Conn<TcpStream> {
    /// Plain TCP to `addr`.
    pub fn tcp(addr: SocketAddr) -> io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            io: BufReader::with_capacity(64 * 1024, s),
        })
    }
}

/// TLS stream to the API double.
pub type Tls = StreamOwned<ClientConnection, TcpStream>;

impl Conn<Tls> {
    /// TLS to `addr` (certificate for `localhost`) with `config`.
    pub fn tls(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let name = ServerName::try_from("localhost").map_err(|e| bad(e.to_string()))?;
        let c = ClientConnection::new(config, name).map_err(|e| bad(e.to_string()))?;
        Ok(Conn {
            io: BufReader::with_capacity(64 * 1024, StreamOwned::new(c, s)),
        })
    }
}

impl<S: Read + Write> Conn<S> {
    /// The underlying stream.
    pub fn io_ref(&self) -> &S {
        self.io.get_ref()
    }

    /// Sends a request; `headers` are `Name: value` lines.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> io::Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let w = self.io.get_mut();
        w.write_all(head.as_bytes())?;
        w.write_all(body)?;
        w.flush()
    }

    /// Sends a request and reads the whole answer.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[&str],
        body: &[u8],
    ) -> io::Result<Reply> {
        self.send(method, path, headers, body)?;
        self.read_reply()
    }

    /// Reads the status line and headers; returns the status and how the body is framed.
    pub fn read_head(&mut self) -> io::Result<(u16, Framing)> {
        let mut line = String::new();
        self.io.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("status line {line:?}")))?;
        let mut framing = Framing::Close;
        loop {
            line.clear();
            if self.io.read_line(&mut line)? == 0 {
                return Err(bad("headers cut short"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                return Ok((status, framing));
            }
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                framing = Framing::Length(v.parse().map_err(|_| bad("content-length"))?);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                framing = Framing::Chunked;
            }
        }
    }

    /// Reads a whole answer.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        let (status, framing) = self.read_head()?;
        let mut body = Vec::new();
        match framing {
            Framing::Length(n) => {
                body.resize(n, 0);
                self.io.read_exact(&mut body)?;
            }
            Framing::Close => {
                self.io.read_to_end(&mut body)?;
            }
            Framing::Chunked => {
                while let Some(chunk) = self.next_chunk()? {
                    body.extend_from_slice(&chunk);
                }
            }
        }
        Ok(Reply { status, body })
    }

    /// The next chunk of a chunked body, `None` at its end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        self.io.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| bad(format!("chunk size {line:?}")))?;
        let mut chunk = vec![0; size + 2];
        self.io.read_exact(&mut chunk)?;
        chunk.truncate(size);
        Ok((size > 0).then_some(chunk))
    }
}

/// How a body is delimited.
pub enum Framing {
    Length(usize),
    Chunked,
    Close,
}
