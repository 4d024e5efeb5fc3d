//! JSON watch streams: one `{"type":…,"object":…}` WatchEvent per newline-terminated line.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::meta::{status_json, Str};
use crate::k8s::decode_error::DecodeError;
use crate::k8s::watch::{EventType, StatusSummary, MAX_FRAME_LEN};

/// One decoded JSON watch event; `object` borrows the exact bytes from the stream buffer.
#[derive(Debug, Clone)]
pub struct JsonWatchEvent<'a> {
    /// ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
    pub event_type: EventType,
    /// The object exactly as sent (with kind and apiVersion, unlike List items).
    pub object: &'a RawValue,
    /// For ERROR events, the Status inside (e.g. code 410, reason `Expired`).
    pub error: Option<StatusSummary<'a>>,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, rename = "type")]
    event_type: Str<'a>,
    #[serde(borrow)]
    object: &'a RawValue,
}

/// Decodes the first line of `buf` with the default [`MAX_FRAME_LEN`].
///
/// `Ok(None)`: no newline yet. `Ok(Some((event, n)))`: drop `n` bytes (newline included) and
/// call again. A complete line that is not a WatchEvent is an error.
///
/// ```
/// use yurt::k8s::json::decode_watch_line;
/// use yurt::k8s::watch::EventType;
/// let stream = b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}\n{\"type\"";
/// let (event, used) = decode_watch_line(stream)?.expect("first line is complete");
/// assert_eq!((event.event_type, event.error.map(|s| s.code)), (EventType::Error, Some(410)));
/// assert!(decode_watch_line(&stream[used..])?.is_none()); // second line not finished
/// # Ok::<(), yurt::k8s::decode_error::DecodeError>(())
/// ```
pub fn decode_watch_line(buf: &[u8]) -> Result<Option<(JsonWatchEvent<'_>, usize)>, DecodeError> {
    decode_watch_line_limited(buf, MAX_FRAME_LEN)
}

/// [`decode_watch_line`] with a caller-chosen cap on the line length (newline excluded): once
/// more than `max_len` bytes are buffered without a newline, [`DecodeError::TooLarge`].
pub fn decode_watch_line_limited(
    buf: &[u8],
    max_len: usize,
) -> Result<Option<(JsonWatchEvent<'_>, usize)>, DecodeError> {
    let window = &buf[..buf.len().min(max_len.saturating_add(1))];
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() > max_len {
            return Err(DecodeError::TooLarge {
                len: buf.len() as u64,
                max: max_len as u64,
            });
        }
        return Ok(None);
    };
    Ok(Some((watch_event_json(&buf[..end])?, end + 1)))
}

/// Decodes one JSON WatchEvent object (a line without its newline).
pub fn watch_event_json(line: &[u8]) -> Result<JsonWatchEvent<'_>, DecodeError> {
    let raw: RawEvent<'_> = serde_json::from_slice(line).map_err(|e| DecodeError::json(&e))?;
    let event_type = EventType::parse(&raw.event_type.0)?;
    if !raw.object.get().starts_with('{') {
        return Err(DecodeError::invalid(
            "watch event object is not a JSON object",
        ));
    }
    let error = match event_type {
        EventType::Error => Some(status_json(raw.object.get().as_bytes())?),
        _ => None,
    };
    Ok(JsonWatchEvent {
        event_type,
        object: raw.object,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPIRED: &[u8] = include_bytes!(
        "../../../tests/fixtures/k8s-captures/watch-pods-rv2-compacted-nowatchcache.json.body"
    );

    #[test]
    fn recognises_the_real_410() {
        let (event, used) = decode_watch_line(EXPIRED)
            .expect("valid")
            .expect("complete");
        assert_eq!((event.event_type, used), (EventType::Error, EXPIRED.len()));
        let status = event.error.expect("status");
        assert_eq!((status.code, status.reason.as_ref()), (410, "Expired"));
        assert!(matches!(decode_watch_line(&EXPIRED[..used - 1]), Ok(None)));
        assert!(matches!(
            decode_watch_line(b"\n"),
            Err(DecodeError::Truncated)
        ));
    }
}
