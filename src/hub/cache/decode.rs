//! Pure: upstream bodies (JSON or protobuf, as sent) into owned items and events for the store.
//!
//! Protobuf objects are kept without their `k8s\0` envelope (as List items come), so a view's
//! objects have one form whichever request filled them; JSON objects are kept as sent.

use crate::k8s::decode_error::DecodeError;
use crate::k8s::json::{decode_list_json, decode_watch_line, object_meta_json};
use crate::k8s::meta::{meta, rv_u64, Encoding};
use crate::k8s::pb::{decode_envelope, decode_list, decode_watch_frame};
use crate::k8s::watch::EventType;
use crate::store;

/// One object, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedItem {
    pub namespace: String,
    pub name: String,
    pub resource_version: u64,
    pub bytes: Vec<u8>,
}

impl OwnedItem {
    /// The store's borrowed form.
    pub fn as_item(&self) -> store::Item<'_> {
        store::Item {
            namespace: &self.namespace,
            name: &self.name,
            resource_version: self.resource_version,
            bytes: &self.bytes,
        }
    }
}

/// A decoded LIST page (or a GET's object as a one-item list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub api_version: String,
    pub kind: String,
    pub resource_version: u64,
    pub continue_token: String,
    pub items: Vec<OwnedItem>,
}

/// One watch event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedEvent {
    Put(OwnedItem),
    Delete(OwnedItem),
    /// `end`: the WatchList's `k8s.io/initial-events-end` bookmark.
    Bookmark {
        resource_version: u64,
        end: bool,
        api_version: String,
        kind: String,
    },
    /// ERROR (e.g. 410): the stream is over and its view stays as it was.
    Error(i32),
}

impl OwnedEvent {
    /// The store's borrowed form; `None` for ERROR.
    pub fn as_event(&self) -> Option<store::Event<'_>> {
        Some(match self {
            OwnedEvent::Put(i) => store::Event::Put(i.as_item()),
            OwnedEvent::Delete(i) => store::Event::Delete {
                namespace: &i.namespace,
                name: &i.name,
                resource_version: i.resource_version,
            },
            OwnedEvent::Bookmark {
                resource_version, ..
            } => store::Event::Bookmark {
                resource_version: *resource_version,
            },
            OwnedEvent::Error(_) => return None,
        })
    }
}

/// The store's name of an encoding.
pub fn store_encoding(e: Encoding) -> store::Encoding {
    match e {
        Encoding::Json => store::Encoding::Json,
        Encoding::Protobuf => store::Encoding::Protobuf,
    }
}

fn rv(s: &str) -> Result<u64, DecodeError> {
    rv_u64(s).ok_or(DecodeError::Invalid(
        "resourceVersion is not a decimal".into(),
    ))
}

/// One object (bare protobuf message or JSON object) with its name, namespace and RV.
pub fn item(enc: Encoding, bytes: &[u8]) -> Result<OwnedItem, DecodeError> {
    let m = meta(enc, bytes)?;
    if m.name.is_empty() {
        return Err(DecodeError::Invalid("object without a name".into()));
    }
    Ok(OwnedItem {
        resource_version: rv(&m.resource_version)?,
        namespace: m.namespace,
        name: m.name,
        bytes: bytes.to_vec(),
    })
}

/// A whole LIST body.
pub fn list(enc: Encoding, body: &[u8]) -> Result<Decoded, DecodeError> {
    match enc {
        Encoding::Json => {
            let l = decode_list_json(body)?;
            let items = l
                .items
                .iter()
                .map(|i| item(enc, i.get().as_bytes()))
                .collect::<Result<_, _>>()?;
            Ok(Decoded {
                api_version: l.api_version.into_owned(),
                kind: l.kind.into_owned(),
                resource_version: rv(&l.resource_version)?,
                continue_token: l.continue_token.into_owned(),
                items,
            })
        }
        Encoding::Protobuf => {
            let env = decode_envelope(body)?;
            let l = decode_list(env.raw)?;
            let items = l
                .items
                .iter()
                .map(|i| item(enc, i))
                .collect::<Result<_, _>>()?;
            Ok(Decoded {
                api_version: env.api_version.into(),
                kind: env.kind.into(),
                resource_version: rv(l.resource_version)?,
                continue_token: l.continue_token.into(),
                items,
            })
        }
    }
}

/// A whole GET body: the object as a one-item [`Decoded`] (kind = the object's kind).
pub fn object(enc: Encoding, body: &[u8]) -> Result<Decoded, DecodeError> {
    let (api_version, kind, one) = match enc {
        Encoding::Json => {
            let m = object_meta_json(body)?;
            (
                m.api_version.into_owned(),
                m.kind.into_owned(),
                item(enc, body)?,
            )
        }
        Encoding::Protobuf => {
            let env = decode_envelope(body)?;
            (env.api_version.into(), env.kind.into(), item(enc, env.raw)?)
        }
    };
    Ok(Decoded {
        api_version,
        kind,
        resource_version: one.resource_version,
        continue_token: String::new(),
        items: vec![one],
    })
}

/// The next complete watch event in `buf`: `Ok(None)` = need more bytes.
pub fn next_event(enc: Encoding, buf: &[u8]) -> Result<Option<(OwnedEvent, usize)>, DecodeError> {
    match enc {
        Encoding::Json => match decode_watch_line(buf)? {
            None => Ok(None),
            Some((e, used)) => {
                let code = e.error.as_ref().map_or(0, |s| s.code);
                let obj = e.object.get().as_bytes();
                // Stored as a LIST item is: without the type meta watch objects carry.
                let bare = crate::k8s::json::without_type_meta(obj);
                Ok(Some((event(enc, e.event_type, obj, &bare, code)?, used)))
            }
        },
        Encoding::Protobuf => match decode_watch_frame(buf)? {
            None => Ok(None),
            Some((e, used)) => {
                let code = e.error.as_ref().map_or(0, |s| s.code);
                Ok(Some((
                    event(enc, e.event_type, e.object, e.envelope.raw, code)?,
                    used,
                )))
            }
        },
    }
}

/// `whole` is the event's object as sent (envelope included); `bare` what is stored.
fn event(
    enc: Encoding,
    t: EventType,
    whole: &[u8],
    bare: &[u8],
    code: i32,
) -> Result<OwnedEvent, DecodeError> {
    Ok(match t {
        EventType::Added | EventType::Modified => OwnedEvent::Put(item(enc, bare)?),
        EventType::Deleted => OwnedEvent::Delete(item(enc, bare)?),
        EventType::Error => OwnedEvent::Error(code),
        EventType::Bookmark => {
            let m = meta(enc, whole)?;
            let (api_version, kind) = type_meta(enc, whole)?;
            OwnedEvent::Bookmark {
                resource_version: rv(&m.resource_version)?,
                end: m.initial_events_end,
                api_version,
                kind,
            }
        }
    })
}

fn type_meta(enc: Encoding, whole: &[u8]) -> Result<(String, String), DecodeError> {
    Ok(match enc {
        Encoding::Json => {
            let m = object_meta_json(whole)?;
            (m.api_version.into_owned(), m.kind.into_owned())
        }
        Encoding::Protobuf => {
            let e = decode_envelope(whole)?;
            (e.api_version.into(), e.kind.into())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/k8s-captures");

    #[test]
    fn real_pod_in_both_encodings() {
        let j = std::fs::read(format!("{CAPTURES}/get-pod.json.body")).expect("json");
        let p = std::fs::read(format!("{CAPTURES}/get-pod.pb.body")).expect("pb");
        let (a, b) = (
            object(Encoding::Json, &j).expect("json"),
            object(Encoding::Protobuf, &p).expect("pb"),
        );
        assert_eq!((a.kind.as_str(), a.resource_version), ("Pod", 72));
        assert_eq!((&b.kind, &b.items[0].name), (&a.kind, &a.items[0].name));
        // Truncation is caught by HTTP framing; a prefix must only never panic.
        for n in 0..p.len() {
            let _ = object(Encoding::Protobuf, &p[..n]);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b"{"[..], b"k8s\0\xff\xff", b"{\"items\":[{}]}", b""] {
            assert!(list(Encoding::Json, bad).is_err());
            assert!(list(Encoding::Protobuf, bad).is_err());
        }
    }
}
