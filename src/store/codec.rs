//! Stored values: a view's metadata and one object (resourceVersion + the bytes as sent).
//!
//! Both start with a format byte; integers are big-endian; strings are length-prefixed.
//! Decoding never panics: anything unexpected is [`StoreError::Corrupt`].

use super::StoreError;

/// First byte of a stored object.
const VALUE_FORMAT: u8 = 1;
/// First byte of a view's metadata (2: with its generation).
const META_FORMAT: u8 = 2;
/// The whole value of a deletion recorded by a LIST still being written (`list.rs`).
pub(crate) const TOMBSTONE: &[u8] = &[0];
/// Bytes before the object's own bytes in a stored object value.
pub(crate) const OBJECT_HEADER: usize = 9;

/// Wire encoding the upstream used for a view's objects; offline answers use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/vnd.kubernetes.protobuf` (`k8s\0` + runtime.Unknown).
    Protobuf,
}

/// What the store knows about one view, besides its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewMeta {
    /// The view's resourceVersion: of its last LIST, raised by later events and bookmarks.
    pub resource_version: u64,
    /// Encoding of every stored object of the view.
    pub encoding: Encoding,
    /// `apiVersion` of the list (or of the object, for a GET's view), e.g. `v1`.
    pub api_version: String,
    /// `kind` of the list (e.g. `PodList`), or of the object for a GET's view.
    pub kind: String,
    /// Number of stored objects.
    pub count: u64,
    /// Sum of the stored objects' bytes.
    pub bytes: u64,
    /// Unix seconds of the last complete snapshot (LIST, WatchList or GET).
    pub committed_at: u64,
    /// Unix seconds of the last write of any kind (snapshot or events).
    pub updated_at: u64,
    /// Generation of the committed snapshot: object versions above it belong to a LIST still
    /// being written and are not part of the view (`list.rs`).
    pub(crate) generation: u64,
}

impl Encoding {
    fn tag(self) -> u8 {
        match self {
            Encoding::Json => 1,
            Encoding::Protobuf => 2,
        }
    }

    fn from_tag(tag: u8) -> Option<Encoding> {
        match tag {
            1 => Some(Encoding::Json),
            2 => Some(Encoding::Protobuf),
            _ => None,
        }
    }
}

impl ViewMeta {
    /// The stored form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![META_FORMAT, self.encoding.tag()];
        for n in [
            self.resource_version,
            self.count,
            self.bytes,
            self.committed_at,
            self.updated_at,
            self.generation,
        ] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        for s in [&self.api_version, &self.kind] {
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    /// Reads the stored form back.
    pub(crate) fn decode(bytes: &[u8]) -> Result<ViewMeta, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("view metadata of {} bytes", bytes.len()));
        let mut r = Reader(bytes);
        if r.byte() != Some(META_FORMAT) {
            return Err(corrupt());
        }
        let encoding = r.byte().and_then(Encoding::from_tag).ok_or_else(corrupt)?;
        let mut n = || r.u64().ok_or_else(corrupt);
        let (resource_version, count, bytes_, committed_at, updated_at, generation) =
            (n()?, n()?, n()?, n()?, n()?, n()?);
        let api_version = r.string().ok_or_else(corrupt)?;
        let kind = r.string().ok_or_else(corrupt)?;
        if !r.0.is_empty() {
            return Err(corrupt());
        }
        Ok(ViewMeta {
            resource_version,
            encoding,
            api_version,
            kind,
            count,
            bytes: bytes_,
            committed_at,
            updated_at,
            generation,
        })
    }
}

/// The stored form of one object.
pub(crate) fn encode_object(resource_version: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(OBJECT_HEADER + bytes.len());
    out.push(VALUE_FORMAT);
    out.extend_from_slice(&resource_version.to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Whether a stored value records a deletion rather than an object.
pub(crate) fn is_tombstone(value: &[u8]) -> bool {
    value == TOMBSTONE
}

/// The resourceVersion of a stored object; its bytes start at [`OBJECT_HEADER`].
pub(crate) fn object_rv(value: &[u8]) -> Result<u64, StoreError> {
    let mut r = Reader(value);
    match (r.byte(), r.u64()) {
        (Some(VALUE_FORMAT), Some(rv)) => Ok(rv),
        _ => Err(StoreError::Corrupt(format!(
            "object value of {} bytes",
            value.len()
        ))),
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn u64(&mut self) -> Option<u64> {
        let (n, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_be_bytes(*n))
    }

    fn string(&mut self) -> Option<String> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (s, rest) = rest.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ViewMeta {
        ViewMeta {
            resource_version: 42,
            encoding: Encoding::Protobuf,
            api_version: "v1".into(),
            kind: "PodList".into(),
            count: 3,
            bytes: 999,
            committed_at: 1_700_000_000,
            updated_at: 1_700_000_100,
            generation: 5,
        }
    }

    #[test]
    fn view_meta_round_trips() {
        assert_eq!(ViewMeta::decode(&meta().encode()).ok(), Some(meta()));
    }

    #[test]
    fn every_truncation_is_corrupt_not_a_panic() {
        let full = meta().encode();
        for cut in 0..full.len() {
            assert!(matches!(
                ViewMeta::decode(&full[..cut]),
                Err(StoreError::Corrupt(_))
            ));
        }
        let obj = encode_object(7, b"abc");
        assert_eq!(object_rv(&obj).ok(), Some(7));
        for cut in 0..OBJECT_HEADER {
            assert!(matches!(
                object_rv(&obj[..cut]),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
