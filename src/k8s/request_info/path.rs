//! Request paths: the raw path checked and split into percent-decoded segments.

use super::decode::{find_byte, first_forbidden_raw, has_byte, percent_decode};
use super::error::{quote, RequestError};

/// A checked path: every segment decoded, none empty, `.` or `..`, none holding a control character.
#[derive(Debug)]
pub(super) struct Segments {
    /// The decoded path: `/`, the segments joined by `/`, and the trailing `/` if the client sent one.
    pub path: String,
    /// The decoded segments, without the leading and trailing `/`.
    pub parts: Vec<String>,
}

/// Splits and decodes the path part of a request target (everything before `?`).
///
/// Differs from Go's net/http + RequestInfo on purpose: segments are decoded one by one, so a
/// `%2F` stays inside its segment (the caller decides whether that is allowed), and empty
/// segments (`//`) are refused instead of silently shifting every later segment.
pub(super) fn split(raw: &str) -> Result<Segments, RequestError> {
    if raw.is_empty() {
        return Err(bad("the path is empty".to_owned()));
    }
    let Some(body) = raw.strip_prefix('/') else {
        return Err(bad(format!("{} does not start with '/'", quote(raw))));
    };
    // One pass over the bytes: anything a target may not carry raw, escapes, segment count.
    let (mut plain, mut escaped, mut slashes) = (true, false, 0usize);
    for &b in raw.as_bytes() {
        match b {
            b'%' => escaped = true,
            b'/' => slashes += 1,
            b'#' => plain = false,
            b if b <= b' ' || b >= 0x7f => plain = false,
            _ => {}
        }
    }
    if !plain {
        if let Some(c) = first_forbidden_raw(raw) {
            return Err(bad(format!(
                "{} contains the raw character {c:?}",
                quote(raw)
            )));
        }
    }
    let (body, trailing_slash) = match body.strip_suffix('/') {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    let parts = decode_all(body, escaped, slashes)?;
    // Without escapes the decoded path is the raw one (the checks above refused `//`, `.`, `..`;
    // a lone `//` decodes to `/`).
    let unchanged = !escaped && (!trailing_slash || !parts.is_empty());
    let path = if unchanged {
        raw.to_owned()
    } else {
        let mut path = format!("/{}", parts.join("/"));
        if trailing_slash && !parts.is_empty() {
            path.push('/');
        }
        path
    };
    Ok(Segments { path, parts })
}

/// The segments of `body` (the path without its leading and trailing `/`), decoded when the path
/// has `escaped` bytes; `slashes` (those of the whole path) bounds their number.
fn decode_all(body: &str, escaped: bool, slashes: usize) -> Result<Vec<String>, RequestError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::with_capacity(slashes);
    let mut rest = body;
    loop {
        let end = find_byte(rest, b'/').unwrap_or(rest.len());
        parts.push(decode_segment(&rest[..end], escaped)?);
        if end == rest.len() {
            return Ok(parts);
        }
        rest = &rest[end + 1..];
    }
}

fn decode_segment(raw: &str, escaped: bool) -> Result<String, RequestError> {
    if raw.is_empty() {
        return Err(bad("the path has an empty segment (\"//\")".to_owned()));
    }
    if !escaped || !has_byte(raw, b'%') {
        // Nothing to decode; raw control characters were refused with the whole path.
        if raw == "." || raw == ".." {
            return Err(bad(format!("segment {} is a dot segment", quote(raw))));
        }
        return Ok(raw.to_owned());
    }
    let decoded = percent_decode(raw, false)
        .map_err(|e| bad(format!("segment {}: {}", quote(raw), e.describe())))?;
    if decoded == "." || decoded == ".." {
        return Err(bad(format!("segment {} is a dot segment", quote(raw))));
    }
    if decoded.chars().any(char::is_control) {
        return Err(bad(format!(
            "segment {} decodes to a control character",
            quote(raw)
        )));
    }
    Ok(decoded)
}

fn bad(why: String) -> RequestError {
    RequestError::BadPath(why)
}
