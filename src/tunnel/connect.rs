//! The HTTP CONNECT request head as kube-apiserver's egress selector sends it
//! (`CONNECT <node-ip or name>:<port> HTTP/1.1`), and the one-line answers the proxy gives.
//! Pure decode, no I/O.

/// Largest request head accepted (request line plus headers).
pub const MAX_HEAD: usize = 8 * 1024;

/// A parsed CONNECT request: where the client wants to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Node IP (without brackets for IPv6) or node name, lower-cased.
    pub host: String,
    /// Destination port.
    pub port: u16,
}

/// Why a request head is unusable; each maps to the status the proxy answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The head is longer than [`MAX_HEAD`] (431).
    TooLarge,
    /// A well-formed request with another method (405).
    NotConnect,
    /// Not an HTTP/1.x request head, or a bad authority (400).
    Malformed(&'static str),
}

impl ConnectError {
    /// The HTTP status line and a one-line reason for the answer.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            ConnectError::TooLarge => (431, "request head too large"),
            ConnectError::NotConnect => (405, "only CONNECT is supported"),
            ConnectError::Malformed(why) => (400, why),
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, why) = self.status();
        write!(f, "{code}: {why}")
    }
}

impl std::error::Error for ConnectError {}

/// Decodes a CONNECT head from the front of `buf`: `Ok(None)` = need more bytes, else the
/// request and the head's length (bytes after it already belong to the tunnel). Never panics.
pub fn decode(buf: &[u8]) -> Result<Option<(ConnectRequest, usize)>, ConnectError> {
    let Some(end) = find_head_end(buf) else {
        if buf.len() >= MAX_HEAD {
            return Err(ConnectError::TooLarge);
        }
        check_partial(buf)?;
        return Ok(None);
    };
    if end > MAX_HEAD {
        return Err(ConnectError::TooLarge);
    }
    let head = std::str::from_utf8(&buf[..end - 4])
        .map_err(|_| ConnectError::Malformed("request head is not text"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let req = parse_request_line(request_line)?;
    for line in lines {
        check_header(line)?;
    }
    Ok(Some((req, end)))
}

/// Rejects early what can never become a request head, so garbage is answered at once.
fn check_partial(buf: &[u8]) -> Result<(), ConnectError> {
    let line_end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    let first = &buf[..line_end];
    if first
        .iter()
        .any(|&b| !(b.is_ascii_graphic() || b == b' ' || b == b'\r'))
    {
        return Err(ConnectError::Malformed("request line is not text"));
    }
    if line_end < buf.len() && !first.ends_with(b"\r") {
        return Err(ConnectError::Malformed("lines must end with CRLF"));
    }
    Ok(())
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn parse_request_line(line: &str) -> Result<ConnectRequest, ConnectError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ConnectError::Malformed("bad request line"));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(ConnectError::Malformed("not HTTP/1.x"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ConnectError::Malformed("bad method"));
    }
    if method != "CONNECT" {
        return Err(ConnectError::NotConnect);
    }
    parse_authority(target)
}

/// `host:port`, `[v6]:port`; the host must be a plain name or address.
pub fn parse_authority(target: &str) -> Result<ConnectRequest, ConnectError> {
    let bad = ConnectError::Malformed("target must be host:port");
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or(bad.clone())?;
        h.parse::<std::net::Ipv6Addr>().map_err(|_| bad.clone())?;
        (h, p)
    } else {
        let (h, p) = target.rsplit_once(':').ok_or(bad.clone())?;
        if h.contains(':') {
            return Err(bad); // IPv6 needs brackets
        }
        (h, p)
    };
    let port: u16 = match port.parse() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(ConnectError::Malformed("bad port")),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'));
    if !host_ok {
        return Err(ConnectError::Malformed("bad host"));
    }
    Ok(ConnectRequest {
        host: host.to_ascii_lowercase(),
        port,
    })
}

fn check_header(line: &str) -> Result<(), ConnectError> {
    let Some((name, _value)) = line.split_once(':') else {
        return Err(ConnectError::Malformed("bad header line"));
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectError::Malformed("bad header name"));
    }
    Ok(())
}

/// The success answer.
pub const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

/// An error answer with a one-line plain-text body; the proxy closes the connection after it.
pub fn error_response(code: u16, reason: &str) -> Vec<u8> {
    let text = match code {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    let body: String = reason.replace(['\r', '\n'], " ") + "\n";
    format!(
        "HTTP/1.1 {code} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = b"CONNECT 127.0.0.1:10250 HTTP/1.1\r\nHost: 127.0.0.1:10250\r\nUser-Agent: curl/8.5.0\r\nProxy-Connection: Keep-Alive\r\n\r\n";
    // As kube-apiserver's egress dialer writes it (Host is not the target there).
    const APISERVER: &[u8] = b"CONNECT 10.0.0.5:10250 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    #[test]
    fn every_prefix_needs_more_then_parses() {
        for head in [CURL, APISERVER] {
            for i in 0..head.len() {
                assert_eq!(decode(&head[..i]), Ok(None), "prefix {i}");
            }
            let mut with_tail = head.to_vec();
            with_tail.extend_from_slice(b"\x16\x03\x01");
            let (req, used) = decode(&with_tail)
                .expect("test input is valid")
                .expect("test input is valid");
            assert_eq!(used, head.len());
            assert_eq!(req.port, 10250);
        }
    }

    #[test]
    fn targets() {
        let ok = |t: &str| parse_authority(t).map(|r| (r.host, r.port));
        assert_eq!(ok("Edge-1:10250"), Ok(("edge-1".into(), 10250)));
        assert_eq!(ok("[fd00::1]:10255"), Ok(("fd00::1".into(), 10255)));
        assert!(ok("fd00::1").is_err());
        assert!(ok("a:0").is_err());
        assert!(ok("a:+1").is_err());
        assert!(ok(":1").is_err());
        assert!(ok("a b:1").is_err());
        assert!(ok("a/b:1").is_err());
    }

    #[test]
    fn errors_map_to_statuses() {
        let err = |b: &[u8]| decode(b).expect_err("test input is invalid").status().0;
        assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(err(b"CONNECT a HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(err(b"CONNECT a:1 SPDY/3\r\n\r\n"), 400);
        assert_eq!(err(b"\x16\x03\x01\x02\x00"), 400);
        assert_eq!(err(b"CONNECT a:1 HTTP/1.1\n"), 400);
        assert_eq!(err(b"CONNECT a:1 HTTP/1.1\r\nbad\r\n\r\n"), 400);
        assert_eq!(err(&vec![b'A'; MAX_HEAD]), 431);
        let mut long = b"CONNECT a:1 HTTP/1.1\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_HEAD));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(err(&long), 431);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u32 = 0x1234_5678;
        for round in 0..20_000usize {
            let mut buf = CURL[..round % CURL.len()].to_vec();
            for _ in 0..(round % 7) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = x as usize % (buf.len() + 1);
                buf.insert(at, x as u8);
            }
            if let Ok(Some((_, used))) = decode(&buf) {
                assert!(used <= buf.len());
            }
        }
    }

    #[test]
    fn error_response_is_one_line() {
        let r = String::from_utf8(error_response(503, "no agent\r\nfor node x"))
            .expect("test input is valid");
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(r.ends_with("\r\n\r\nno agent  for node x\n"));
    }
}
