//! RequestError: why a request could not be parsed, with the HTTP status to answer it with.

use std::fmt;

/// Why [`super::parse`] refused a request. `Display` is one line for humans (and for the
/// `message` of a Kubernetes Status); [`RequestError::http_status`] is the code to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The HTTP method is not one of GET, HEAD, POST, PUT, PATCH, DELETE (holds it, shortened).
    UnknownMethod(String),
    /// The path is malformed: empty, not starting with `/`, `.`/`..`/empty segments, bad
    /// percent-encoding, control or non-ASCII characters, or a `/watch/` with nothing after it.
    BadPath(String),
    /// The query is malformed: bad percent-encoding, `;` separators, control characters, or a
    /// non-numeric `limit`/`timeoutSeconds`.
    BadQuery(String),
}

impl RequestError {
    /// 405 Method Not Allowed for [`RequestError::UnknownMethod`], 400 Bad Request otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            RequestError::UnknownMethod(_) => 405,
            RequestError::BadPath(_) | RequestError::BadQuery(_) => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::UnknownMethod(m) => write!(
                f,
                "HTTP method {m} is not supported (GET, HEAD, POST, PUT, PATCH and DELETE are)"
            ),
            RequestError::BadPath(why) => write!(f, "bad request path: {why}"),
            RequestError::BadQuery(why) => write!(f, "bad query string: {why}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Longest piece of client input quoted in an error message, in characters.
const QUOTE_MAX: usize = 64;

/// Client input made safe to show in one line: debug-escaped, in quotes, cut at [`QUOTE_MAX`].
pub(super) fn quote(input: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in input.chars().enumerate() {
        if i == QUOTE_MAX {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out.push('"');
    out
}
