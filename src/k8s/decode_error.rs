//! DecodeError: why a Kubernetes body (protobuf or JSON) could not be read.

use std::borrow::Cow;
use std::fmt;

/// Why bytes could not be decoded. Callers branch on the variant; `Display` is for humans.
///
/// Stream decoders report "need more bytes" as `Ok(None)`, never as [`DecodeError::Truncated`]:
/// `Truncated` means a length or varint inside a *complete* buffer points past its end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a field, varint or declared length.
    Truncated,
    /// The bytes are not what the format allows; the reason says what was wrong.
    Invalid(Cow<'static, str>),
    /// A declared frame or line is longer than the allowed maximum (bytes), so it was not buffered.
    TooLarge {
        /// Declared (or already buffered) length in bytes.
        len: u64,
        /// The limit it exceeded.
        max: u64,
    },
}

impl DecodeError {
    /// An [`DecodeError::Invalid`] with a fixed reason.
    pub(crate) fn invalid(reason: &'static str) -> Self {
        DecodeError::Invalid(Cow::Borrowed(reason))
    }

    /// Wraps a serde_json error: its message says where the JSON broke.
    pub(crate) fn json(err: &serde_json::Error) -> Self {
        if err.is_eof() {
            return DecodeError::Truncated;
        }
        DecodeError::Invalid(Cow::Owned(format!("JSON: {err}")))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("input ends in the middle of a value"),
            DecodeError::Invalid(reason) => write!(f, "invalid encoding: {reason}"),
            DecodeError::TooLarge { len, max } => {
                write!(f, "{len} bytes exceed the limit of {max} bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
