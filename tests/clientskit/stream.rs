//! A blocking HTTP/1.1 client that reads answers chunk by chunk (so a watch can be followed and a
//! clean end told from a cut), and the decoding of List bodies and watch events in both encodings
//! into comparable objects.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use yurt::k8s::json::decode_watch_line;
use yurt::k8s::meta::{meta, Encoding};
use yurt::k8s::pb::{decode_envelope, decode_list, decode_watch_frame};

/// One object as a client compares it: key, resourceVersion and content without type meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    /// `namespace/name`.
    pub key: String,
    pub rv: String,
    /// JSON without `kind`/`apiVersion` (lists omit them, watch events carry them), or the bare
    /// protobuf message.
    pub content: Vec<u8>,
}

/// Items by key.
pub type Items = BTreeMap<String, Obj>;

/// Reads `bytes` (a List item, a watch event's object or a GET body) into an [`Obj`].
pub fn obj(enc: Encoding, bytes: &[u8]) -> Obj {
    let m = meta(enc, bytes).unwrap_or_else(|e| panic!("object metadata: {e}"));
    let content = match enc {
        Encoding::Json => {
            let mut v: Value = serde_json::from_slice(bytes).expect("json object");
            if let Some(o) = v.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            serde_json::to_vec(&v).expect("json")
        }
        Encoding::Protobuf if bytes.starts_with(b"k8s\0") => {
            decode_envelope(bytes).expect("envelope").raw.to_vec()
        }
        Encoding::Protobuf => bytes.to_vec(),
    };
    Obj {
        key: format!("{}/{}", m.namespace, m.name),
        rv: m.resource_version,
        content,
    }
}

/// The encoding a `Content-Type` names (panics on anything else: clients only take these).
pub fn encoding(content_type: &str) -> Encoding {
    Encoding::from_content_type(content_type)
        .unwrap_or_else(|| panic!("content type {content_type:?}"))
}

/// (list resourceVersion, items) of a List body.
pub fn list(enc: Encoding, body: &[u8]) -> (String, Items) {
    match enc {
        Encoding::Json => {
            let v: Value = serde_json::from_slice(body).expect("json list");
            let items = v["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| obj(enc, &serde_json::to_vec(i).expect("item")))
                .map(|o| (o.key.clone(), o))
                .collect();
            let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or("");
            (rv.to_string(), items)
        }
        Encoding::Protobuf => {
            let env = decode_envelope(body).expect("pb envelope");
            let l = decode_list(env.raw).expect("pb list");
            let items = l
                .items
                .iter()
                .map(|i| obj(enc, i))
                .map(|o| (o.key.clone(), o))
                .collect();
            (l.resource_version.to_string(), items)
        }
    }
}

/// One watch event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Added(Obj),
    Modified(Obj),
    Deleted(Obj),
    Bookmark { rv: String, initial_end: bool },
    Error(i32),
}

/// Takes every complete event off the front of `buf`; undecodable bytes panic.
pub fn events(enc: Encoding, buf: &mut Vec<u8>) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut used = 0;
    loop {
        let rest = &buf[used..];
        let (ty, object, code, n) = match enc {
            Encoding::Json => match decode_watch_line(rest).expect("json watch line") {
                None => break,
                Some((e, n)) => (
                    e.event_type.as_str(),
                    e.object.get().as_bytes().to_vec(),
                    e.error.map(|s| s.code),
                    n,
                ),
            },
            Encoding::Protobuf => match decode_watch_frame(rest).expect("pb watch frame") {
                None => break,
                Some((e, n)) => (
                    e.event_type.as_str(),
                    e.object.to_vec(),
                    e.error.map(|s| s.code),
                    n,
                ),
            },
        };
        used += n;
        out.push(match ty {
            "ADDED" => Ev::Added(obj(enc, &object)),
            "MODIFIED" => Ev::Modified(obj(enc, &object)),
            "DELETED" => Ev::Deleted(obj(enc, &object)),
            "BOOKMARK" => {
                let m = meta(enc, &object).expect("bookmark meta");
                Ev::Bookmark {
                    rv: m.resource_version,
                    initial_end: m.initial_events_end,
                }
            }
            _ => Ev::Error(code.unwrap_or(0)),
        });
    }
    buf.drain(..used);
    out
}

/// What the next read of a body gave.
#[derive(Debug)]
pub enum Chunk {
    Data(Vec<u8>),
    /// The body ended properly (last chunk, or all of Content-Length).
    End,
    /// Nothing yet (read timeout); call again.
    Pending,
    /// The connection broke before the body ended.
    Broken,
}

/// An answer being read.
pub struct Conn {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    stream: TcpStream,
    buf: Vec<u8>,
    chunked: bool,
    left: Option<usize>,
}

/// Sends one request and reads the status line and headers (10 s at most).
pub fn open(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Conn> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16384];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = stream.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "no answer"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let chunked = get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let left = get("content-length").and_then(|v| v.parse().ok());
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(Conn {
        status,
        headers,
        stream,
        buf,
        chunked,
        left,
    })
}

impl Conn {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A clone of the socket, to cut the connection from another thread.
    pub fn socket(&self) -> Option<TcpStream> {
        self.stream.try_clone().ok()
    }

    fn fill(&mut self) -> Option<Chunk> {
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => Some(Chunk::Broken),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                None
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Some(Chunk::Pending)
            }
            Err(_) => Some(Chunk::Broken),
        }
    }

    /// The next piece of the body.
    pub fn next(&mut self) -> Chunk {
        loop {
            if !self.chunked {
                if self.left == Some(0) {
                    return Chunk::End;
                }
                if !self.buf.is_empty() {
                    let n = self.left.map_or(self.buf.len(), |l| l.min(self.buf.len()));
                    self.left = self.left.map(|l| l - n);
                    return Chunk::Data(self.buf.drain(..n).collect());
                }
                match self.fill() {
                    Some(Chunk::Broken) if self.left.is_none() => return Chunk::End,
                    Some(c) => return c,
                    None => continue,
                }
            }
            if let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size = std::str::from_utf8(&self.buf[..eol])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
                let Some(size) = size else {
                    return Chunk::Broken;
                };
                if size == 0 {
                    return Chunk::End;
                }
                if self.buf.len() >= eol + 2 + size + 2 {
                    let data = self.buf[eol + 2..eol + 2 + size].to_vec();
                    self.buf.drain(..eol + 4 + size);
                    return Chunk::Data(data);
                }
            }
            if let Some(c) = self.fill() {
                return c;
            }
        }
    }

    /// The whole body (waits up to `within`); `None` if it broke or did not end in time.
    pub fn body(mut self, within: Duration) -> Option<Vec<u8>> {
        let deadline = std::time::Instant::now() + within;
        let mut out = Vec::new();
        while std::time::Instant::now() < deadline {
            match self.next() {
                Chunk::Data(d) => out.extend(d),
                Chunk::End => return Some(out),
                Chunk::Pending => {}
                Chunk::Broken => return None,
            }
        }
        None
    }
}
