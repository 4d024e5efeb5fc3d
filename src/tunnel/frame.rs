//! Tunnel control frames between server and agent: registration, keepalive and the stream-open
//! header (dial request and its answer). Pure encode/decode, no I/O.
//!
//! Wire form: `version (1 byte) | kind (1 byte) | payload length (u16, big endian) | payload`.
//! Strings are UTF-8; a string that is not the last field carries a one-byte length before it.

use std::net::IpAddr;

/// The only frame version this build speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 4;
/// Largest payload accepted; bigger lengths are invalid, so a reader never buffers more.
pub const MAX_PAYLOAD: usize = 4096;
/// Most IP addresses one agent may register.
pub const MAX_IPS: usize = 32;

/// Why a dial on the agent failed (not refused by policy: it was tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialFailure {
    /// Connecting failed (refused, unreachable, name did not resolve).
    Unreachable,
    /// Connecting took longer than the agent's dial timeout.
    Timeout,
}

/// One control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Agent → server, first frame of the control stream: who the agent is.
    Register { node: String, ips: Vec<IpAddr> },
    /// Server → agent: registration accepted.
    Registered,
    /// Server → agent: registration refused, with a one-line reason.
    Rejected { reason: String },
    /// Either side: keepalive probe.
    Ping(u64),
    /// Either side: answer to [`Frame::Ping`] with the same number.
    Pong(u64),
    /// Server → agent, first frame of a data stream: connect to `host:port`.
    Dial { host: String, port: u16 },
    /// Agent → server: connected; the stream now carries the connection's bytes.
    DialOk,
    /// Agent → server: the destination is not allowed.
    DialRefused { reason: String },
    /// Agent → server: the destination was allowed but could not be reached.
    DialFailed { kind: DialFailure, reason: String },
}

/// Why bytes are not a valid frame. Any of these ends the stream that carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The first byte is not [`VERSION`].
    Version(u8),
    /// Unknown frame kind.
    Kind(u8),
    /// Payload length above [`MAX_PAYLOAD`].
    TooLong(usize),
    /// The payload does not match its kind (wrong size, bad string, bad address, bad name).
    Payload(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Version(v) => write!(f, "unsupported tunnel frame version {v}"),
            FrameError::Kind(k) => write!(f, "unknown tunnel frame kind {k}"),
            FrameError::TooLong(n) => write!(f, "tunnel frame payload of {n} bytes is too long"),
            FrameError::Payload(what) => write!(f, "malformed tunnel frame: {what}"),
        }
    }
}

impl std::error::Error for FrameError {}

const K_REGISTER: u8 = 1;
const K_REGISTERED: u8 = 2;
const K_REJECTED: u8 = 3;
const K_PING: u8 = 4;
const K_PONG: u8 = 5;
const K_DIAL: u8 = 6;
const K_DIAL_OK: u8 = 7;
const K_DIAL_REFUSED: u8 = 8;
const K_DIAL_FAILED: u8 = 9;

/// Appends the wire form of `frame` to `out`. Over-long strings are cut to fit the limits
/// (at a character boundary), so encoding never fails; the encoding of a decoded frame is the
/// bytes it came from (canonical).
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    let mut p = Vec::new();
    let kind = match frame {
        Frame::Register { node, ips } => {
            put_str8(&mut p, node);
            let ips = &ips[..ips.len().min(MAX_IPS)];
            p.push(ips.len() as u8);
            for ip in ips {
                match ip {
                    IpAddr::V4(v4) => {
                        p.push(4);
                        p.extend_from_slice(&v4.octets());
                    }
                    IpAddr::V6(v6) => {
                        p.push(6);
                        p.extend_from_slice(&v6.octets());
                    }
                }
            }
            K_REGISTER
        }
        Frame::Registered => K_REGISTERED,
        Frame::Rejected { reason } => {
            put_rest(&mut p, reason);
            K_REJECTED
        }
        Frame::Ping(n) => {
            p.extend_from_slice(&n.to_be_bytes());
            K_PING
        }
        Frame::Pong(n) => {
            p.extend_from_slice(&n.to_be_bytes());
            K_PONG
        }
        Frame::Dial { host, port } => {
            p.extend_from_slice(&port.to_be_bytes());
            put_rest(&mut p, host);
            K_DIAL
        }
        Frame::DialOk => K_DIAL_OK,
        Frame::DialRefused { reason } => {
            put_rest(&mut p, reason);
            K_DIAL_REFUSED
        }
        Frame::DialFailed { kind, reason } => {
            p.push(match kind {
                DialFailure::Unreachable => 1,
                DialFailure::Timeout => 2,
            });
            put_rest(&mut p, reason);
            K_DIAL_FAILED
        }
    };
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&(p.len() as u16).to_be_bytes());
    out.extend_from_slice(&p);
}

/// The wire form of `frame` as a new buffer.
pub fn to_bytes(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    encode(frame, &mut out);
    out
}

/// Decodes one frame from the front of `buf`: `Ok(None)` = need more bytes, else the frame and
/// how many bytes it used. Never panics.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let Some(&kind) = buf.get(1) else {
        return Ok(None);
    };
    if !(K_REGISTER..=K_DIAL_FAILED).contains(&kind) {
        return Err(FrameError::Kind(kind));
    }
    let Some(len) = buf.get(2..4) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    if len > MAX_PAYLOAD {
        return Err(FrameError::TooLong(len));
    }
    let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
        return Ok(None);
    };
    Ok(Some((decode_payload(kind, payload)?, HEADER_LEN + len)))
}

fn decode_payload(kind: u8, p: &[u8]) -> Result<Frame, FrameError> {
    let empty = |f: Frame| {
        if p.is_empty() {
            Ok(f)
        } else {
            Err(FrameError::Payload("unexpected payload"))
        }
    };
    match kind {
        K_REGISTER => decode_register(p),
        K_REGISTERED => empty(Frame::Registered),
        K_REJECTED => Ok(Frame::Rejected {
            reason: text(p, "reason is not UTF-8")?,
        }),
        K_PING => Ok(Frame::Ping(u64_of(p)?)),
        K_PONG => Ok(Frame::Pong(u64_of(p)?)),
        K_DIAL => decode_dial(p),
        K_DIAL_OK => empty(Frame::DialOk),
        K_DIAL_REFUSED => Ok(Frame::DialRefused {
            reason: text(p, "reason is not UTF-8")?,
        }),
        _ => decode_dial_failed(p),
    }
}

fn decode_register(p: &[u8]) -> Result<Frame, FrameError> {
    let (&n, rest) = p.split_first().ok_or(FrameError::Payload("no node name"))?;
    let name = rest
        .get(..n as usize)
        .ok_or(FrameError::Payload("node name cut short"))?;
    let node = text(name, "node name is not UTF-8")?;
    if !valid_node_name(&node) {
        return Err(FrameError::Payload("invalid node name"));
    }
    let rest = &rest[n as usize..];
    let (&count, mut rest) = rest
        .split_first()
        .ok_or(FrameError::Payload("no IP count"))?;
    if count as usize > MAX_IPS {
        return Err(FrameError::Payload("too many IPs"));
    }
    let mut ips = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (ip, used) = decode_ip(rest)?;
        ips.push(ip);
        rest = &rest[used..];
    }
    if !rest.is_empty() {
        return Err(FrameError::Payload("trailing bytes after IPs"));
    }
    Ok(Frame::Register { node, ips })
}

fn decode_ip(p: &[u8]) -> Result<(IpAddr, usize), FrameError> {
    match p.first() {
        Some(4) => {
            let b: [u8; 4] = p
                .get(1..5)
                .and_then(|s| s.try_into().ok())
                .ok_or(FrameError::Payload("IPv4 address cut short"))?;
            Ok((IpAddr::from(b), 5))
        }
        Some(6) => {
            let b: [u8; 16] = p
                .get(1..17)
                .and_then(|s| s.try_into().ok())
                .ok_or(FrameError::Payload("IPv6 address cut short"))?;
            Ok((IpAddr::from(b), 17))
        }
        _ => Err(FrameError::Payload("bad IP family")),
    }
}

fn decode_dial(p: &[u8]) -> Result<Frame, FrameError> {
    let port = p.get(..2).ok_or(FrameError::Payload("no port"))?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    let host = text(&p[2..], "host is not UTF-8")?;
    if !valid_host(&host) || port == 0 {
        return Err(FrameError::Payload("invalid dial destination"));
    }
    Ok(Frame::Dial { host, port })
}

fn decode_dial_failed(p: &[u8]) -> Result<Frame, FrameError> {
    let (&k, rest) = p
        .split_first()
        .ok_or(FrameError::Payload("no failure kind"))?;
    let kind = match k {
        1 => DialFailure::Unreachable,
        2 => DialFailure::Timeout,
        _ => return Err(FrameError::Payload("unknown failure kind")),
    };
    Ok(Frame::DialFailed {
        kind,
        reason: text(rest, "reason is not UTF-8")?,
    })
}

fn u64_of(p: &[u8]) -> Result<u64, FrameError> {
    let b: [u8; 8] = p
        .try_into()
        .map_err(|_| FrameError::Payload("ping must carry 8 bytes"))?;
    Ok(u64::from_be_bytes(b))
}

fn text(b: &[u8], what: &'static str) -> Result<String, FrameError> {
    String::from_utf8(b.to_vec()).map_err(|_| FrameError::Payload(what))
}

fn put_str8(p: &mut Vec<u8>, s: &str) {
    let s = cut(s, 255);
    p.push(s.len() as u8);
    p.extend_from_slice(s.as_bytes());
}

/// Appends `s` as the last field, cut so the whole payload fits [`MAX_PAYLOAD`].
fn put_rest(p: &mut Vec<u8>, s: &str) {
    p.extend_from_slice(cut(s, MAX_PAYLOAD.saturating_sub(p.len())).as_bytes());
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A Kubernetes node name: a DNS subdomain (lowercase letters, digits, '-', '.'), 1–253 bytes.
pub fn valid_node_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

/// A dial host: an IP address or a DNS name, 1–255 visible ASCII bytes.
pub fn valid_host(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())
}
