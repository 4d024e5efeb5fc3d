//! The `k8s\0` envelope: magic + runtime.Unknown{typeMeta, raw, contentEncoding, contentType}.

use super::wire::fields;
use super::write::{len_field_size, put_bytes, put_len_prefix};
use crate::k8s::decode_error::DecodeError;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// A decoded envelope; every slice borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Envelope<'a> {
    /// `typeMeta.apiVersion`, e.g. `v1` or `apps/v1`.
    pub api_version: &'a str,
    /// `typeMeta.kind`, e.g. `Pod` or `PodList`.
    pub kind: &'a str,
    /// The object's own message (ObjectMeta at field 1, or a List).
    pub raw: &'a [u8],
    /// `contentEncoding`; kube-apiserver writes it empty.
    pub content_encoding: &'a str,
    /// `contentType`; kube-apiserver writes it empty.
    pub content_type: &'a str,
}

/// Decodes a whole protobuf body: checks the magic and reads runtime.Unknown.
///
/// A missing field stays empty; a short input is [`DecodeError::Truncated`].
pub fn decode_envelope(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let unknown = strip_magic(body)?;
    let mut env = Envelope::default();
    for field in fields(unknown) {
        let field = field?;
        match field.number {
            1 => type_meta(field.bytes()?, &mut env)?,
            2 => env.raw = field.bytes()?,
            3 => env.content_encoding = field.str()?,
            4 => env.content_type = field.str()?,
            _ => {}
        }
    }
    Ok(env)
}

/// True when `bytes` start with the envelope magic.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn strip_magic(body: &[u8]) -> Result<&[u8], DecodeError> {
    match body.strip_prefix(MAGIC.as_slice()) {
        Some(rest) => Ok(rest),
        None if MAGIC.starts_with(body) => Err(DecodeError::Truncated),
        None => Err(DecodeError::invalid("missing k8s\\0 magic")),
    }
}

fn type_meta<'a>(msg: &'a [u8], env: &mut Envelope<'a>) -> Result<(), DecodeError> {
    for field in fields(msg) {
        let field = field?;
        match field.number {
            1 => env.api_version = field.str()?,
            2 => env.kind = field.str()?,
            _ => {}
        }
    }
    Ok(())
}

/// Encodes `raw` in an envelope exactly as kube-apiserver does (empty contentEncoding/Type kept).
pub fn encode_envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    encode_envelope_with(api_version, kind, raw.len(), |out| {
        out.extend_from_slice(raw)
    })
}

/// Writes an envelope whose `raw_len`-byte payload is appended by `write_raw`.
pub(crate) fn encode_envelope_with(
    api_version: &str,
    kind: &str,
    raw_len: usize,
    write_raw: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let type_meta_len = len_field_size(1, api_version.len()) + len_field_size(2, kind.len());
    let total = MAGIC.len() + len_field_size(1, type_meta_len) + len_field_size(2, raw_len) + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    put_len_prefix(&mut out, 1, type_meta_len);
    put_bytes(&mut out, 1, api_version.as_bytes());
    put_bytes(&mut out, 2, kind.as_bytes());
    put_len_prefix(&mut out, 2, raw_len);
    let before = out.len();
    write_raw(&mut out);
    debug_assert_eq!(out.len() - before, raw_len, "raw length announced wrongly");
    put_bytes(&mut out, 3, b"");
    put_bytes(&mut out, 4, b"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_the_type() {
        let body = encode_envelope("apps/v1", "Deployment", b"\x0a\x00");
        let env = decode_envelope(&body).expect("own encoding decodes");
        assert_eq!((env.api_version, env.kind), ("apps/v1", "Deployment"));
        assert_eq!(env.raw, b"\x0a\x00");
    }

    #[test]
    fn rejects_missing_or_short_magic() {
        assert_eq!(decode_envelope(b"k8"), Err(DecodeError::Truncated));
        assert!(matches!(
            decode_envelope(b"{\"kind\":1}"),
            Err(DecodeError::Invalid(_))
        ));
        assert_eq!(decode_envelope(b"k8s\0"), Ok(Envelope::default()));
    }
}
