//! Percent-decoding: path segments (RFC 3986) and query keys and values (form encoding, `+` is a space).

/// Why a piece of a URL could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DecodeError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl DecodeError {
    /// What went wrong, for an error message.
    pub(super) fn describe(self) -> &'static str {
        match self {
            DecodeError::BadEscape => "'%' is not followed by two hex digits",
            DecodeError::NotUtf8 => "percent-encoded bytes are not UTF-8",
        }
    }
}

/// Where the ASCII byte `b` first occurs in `s`. Request targets are short: a plain loop beats
/// `str::find`'s searcher, which showed up in the hub's profile.
pub(super) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// Whether the ASCII byte `b` occurs in `s` (see [`find_byte`]).
pub(super) fn has_byte(s: &str, b: u8) -> bool {
    s.bytes().any(|c| c == b)
}

/// Decodes `%XX` escapes; with `plus_is_space` (query strings) a `+` becomes a space.
pub(super) fn percent_decode(raw: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(raw.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(escaped_byte(bytes.get(i + 1..i + 3))?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

/// The byte two hex digits after a `%` stand for.
fn escaped_byte(digits: Option<&[u8]>) -> Result<u8, DecodeError> {
    match digits {
        Some(&[hi, lo]) => Ok((hex(hi)? << 4) | hex(lo)?),
        _ => Err(DecodeError::BadEscape),
    }
}

fn hex(digit: u8) -> Result<u8, DecodeError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(DecodeError::BadEscape),
    }
}

/// The first character a request target may not carry raw: controls, space, non-ASCII and `#`
/// (a fragment never reaches a server). Everything else printable is let through, as Go's
/// net/http does.
pub(super) fn first_forbidden_raw(raw: &str) -> Option<char> {
    // The common case, printable ASCII but `#`, without decoding characters.
    if raw.bytes().all(|b| b > b' ' && b < 0x7f && b != b'#') {
        return None;
    }
    raw.chars()
        .find(|&c| c.is_control() || c == ' ' || c == '#' || !c.is_ascii())
}
