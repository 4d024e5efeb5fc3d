//! Protobuf watch streams: [4-byte big-endian length][WatchEvent{type=1, object=2{raw=1}}] frames.

use super::envelope::{decode_envelope, encode_envelope, Envelope};
use super::meta::status;
use super::wire::fields;
use super::write::{len_field_size, put_bytes, put_len_prefix};
use crate::k8s::decode_error::DecodeError;
use crate::k8s::watch::{EventType, StatusSummary, INITIAL_EVENTS_END, MAX_FRAME_LEN};

/// One decoded watch event; slices borrow from the stream buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent<'a> {
    /// ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
    pub event_type: EventType,
    /// The object exactly as sent: a whole `k8s\0` envelope, ready to store or re-frame.
    pub object: &'a [u8],
    /// `object` decoded: its kind, apiVersion and raw message.
    pub envelope: Envelope<'a>,
    /// For ERROR events, the Status inside (e.g. code 410, reason `Expired`).
    pub error: Option<StatusSummary<'a>>,
}

/// Decodes the first frame of `buf` with the default [`MAX_FRAME_LEN`].
///
/// `Ok(None)`: the frame is not complete yet. `Ok(Some((event, n)))`: drop `n` bytes and call again.
///
/// ```
/// use yurt::k8s::pb::{bookmark_pb, decode_watch_frame, encode_watch_frame};
/// use yurt::k8s::watch::EventType;
/// let frame = encode_watch_frame(EventType::Bookmark, &bookmark_pb("v1", "Pod", "72", true));
/// assert!(decode_watch_frame(&frame[..10])?.is_none()); // need more bytes
/// let (event, used) = decode_watch_frame(&frame)?.expect("complete");
/// assert_eq!((event.event_type, event.envelope.kind, used), (EventType::Bookmark, "Pod", frame.len()));
/// # Ok::<(), yurt::k8s::decode_error::DecodeError>(())
/// ```
pub fn decode_watch_frame(buf: &[u8]) -> Result<Option<(WatchEvent<'_>, usize)>, DecodeError> {
    decode_watch_frame_limited(buf, MAX_FRAME_LEN)
}

/// [`decode_watch_frame`] with a caller-chosen cap: a longer declared frame is
/// [`DecodeError::TooLarge`] before any byte of it is awaited.
pub fn decode_watch_frame_limited(
    buf: &[u8],
    max_len: usize,
) -> Result<Option<(WatchEvent<'_>, usize)>, DecodeError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let len = usize::try_from(len).map_err(|_| too_large(len.into(), max_len))?;
    if len > max_len || len > usize::MAX - 4 {
        return Err(too_large(len as u64, max_len));
    }
    let Some(frame) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    Ok(Some((watch_event(frame)?, 4 + len)))
}

fn too_large(len: u64, max: usize) -> DecodeError {
    DecodeError::TooLarge {
        len,
        max: max as u64,
    }
}

/// Decodes one WatchEvent message (the frame without its length prefix).
pub fn watch_event(msg: &[u8]) -> Result<WatchEvent<'_>, DecodeError> {
    let (mut event_type, mut object) = (None, None);
    for field in fields(msg) {
        let field = field?;
        match field.number {
            1 => event_type = Some(EventType::parse(field.str()?)?),
            2 => object = Some(raw_extension(field.bytes()?)?),
            _ => {}
        }
    }
    let event_type = event_type.ok_or(DecodeError::invalid("watch event without a type"))?;
    let object = object.ok_or(DecodeError::invalid("watch event without an object"))?;
    let envelope = decode_envelope(object)?;
    let error = match event_type {
        EventType::Error => Some(status(envelope.raw)?),
        _ => None,
    };
    Ok(WatchEvent {
        event_type,
        object,
        envelope,
        error,
    })
}

/// RawExtension{raw=1}: the enveloped object.
fn raw_extension(msg: &[u8]) -> Result<&[u8], DecodeError> {
    let mut raw: &[u8] = &[];
    for field in fields(msg) {
        let field = field?;
        if field.number == 1 {
            raw = field.bytes()?;
        }
    }
    Ok(raw)
}

/// Encodes one frame (length prefix included), byte for byte as kube-apiserver does.
///
/// `enveloped_object` is a whole `k8s\0` envelope ([`WatchEvent::object`], or
/// [`encode_envelope`] around a List item). Objects over 4 GiB cannot be framed; the hub
/// never holds one, since every decoder caps input at [`MAX_FRAME_LEN`].
pub fn encode_watch_frame(event_type: EventType, enveloped_object: &[u8]) -> Vec<u8> {
    let kind = event_type.as_str();
    let ext_len = len_field_size(1, enveloped_object.len());
    let msg_len = len_field_size(1, kind.len()) + len_field_size(2, ext_len);
    let mut out = Vec::with_capacity(4 + msg_len);
    out.extend_from_slice(&u32::try_from(msg_len).unwrap_or(u32::MAX).to_be_bytes());
    put_bytes(&mut out, 1, kind.as_bytes());
    put_len_prefix(&mut out, 2, ext_len);
    put_bytes(&mut out, 1, enveloped_object);
    out
}

/// A BOOKMARK's object: an envelope around {1: ObjectMeta{resourceVersion, annotations}}.
///
/// Generic over kinds because ObjectMeta is field 1 of every object and protobuf leaves absent
/// fields at their defaults (kube-apiserver's own bookmarks spell out every empty field instead;
/// the decoded object is the same). Frame it with [`encode_watch_frame`].
pub fn bookmark_pb(api_version: &str, kind: &str, rv: &str, initial_events_end: bool) -> Vec<u8> {
    let mut meta = Vec::new();
    put_bytes(&mut meta, 6, rv.as_bytes());
    if initial_events_end {
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, INITIAL_EVENTS_END.as_bytes());
        put_bytes(&mut entry, 2, b"true");
        put_bytes(&mut meta, 12, &entry);
    }
    let mut raw = Vec::with_capacity(meta.len() + 4);
    put_bytes(&mut raw, 1, &meta);
    encode_envelope(api_version, kind, &raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pb::meta::object_meta;

    #[test]
    fn frames_round_trip() {
        let object = bookmark_pb("v1", "Pod", "72", true);
        let frame = encode_watch_frame(EventType::Bookmark, &object);
        let (event, used) = decode_watch_frame(&frame)
            .expect("valid")
            .expect("complete");
        assert_eq!(
            (event.event_type, event.object, used),
            (EventType::Bookmark, &object[..], frame.len())
        );
        let meta = object_meta(event.envelope.raw).expect("meta");
        assert_eq!(meta.resource_version, "72");
        assert_eq!(meta.annotation(INITIAL_EVENTS_END), Some("true"));
        for cut in 0..frame.len() {
            assert_eq!(decode_watch_frame(&frame[..cut]), Ok(None), "prefix {cut}");
        }
    }

    #[test]
    fn huge_declared_length_is_refused_without_waiting() {
        let buf = [0xff, 0xff, 0xff, 0xff, 0x0a];
        assert!(matches!(
            decode_watch_frame(&buf),
            Err(DecodeError::TooLarge { .. })
        ));
        let small_cap = [0, 0, 0, 11];
        assert!(matches!(
            decode_watch_frame_limited(&small_cap, 10),
            Err(DecodeError::TooLarge { len: 11, max: 10 })
        ));
    }
}
