//! Pure: a LIST body (JSON or protobuf) split into its items as the bytes arrive, so a list of
//! any size is cached in the memory of one item.
//!
//! [`ListScanner::next`] follows the decoder shape of this crate: `Ok(None)` = need more bytes,
//! `Ok(Some((step, used)))` = the caller drops `used` bytes from the front of its buffer. A value
//! that arrives in many reads is scanned once: the scanner remembers how far it got.
//! [`ListScanner::finish`] checks the body ended where a List ends and gives its metadata.
//!
//! Items come out byte-exact (JSON: the element text; protobuf: the object message without
//! envelope), the same bytes [`super::json::decode_list_json`] and [`super::pb::decode_list`]
//! give for the whole body. The list's own fields are checked with serde; items are checked by
//! whoever reads their metadata.

use serde::de::IgnoredAny;

use super::decode_error::DecodeError;
use super::json::{decode_list_meta_json, json_text};
use super::meta::Encoding;
use super::pb::wire::{fields, read_varint};
use super::pb::MAGIC;
use super::watch::MAX_FRAME_LEN;

/// The List's own fields, known once the body ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListHead {
    /// e.g. `v1`.
    pub api_version: String,
    /// e.g. `PodList`.
    pub kind: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// `metadata.continue`: non-empty when more pages follow.
    pub continue_token: String,
}

/// What one call of [`ListScanner::next`] consumed.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// One item.
    Item(&'a [u8]),
    /// Structure or list fields.
    Skipped,
}

/// Which top-level JSON field a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Items,
    Metadata,
    Kind,
    ApiVersion,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    // JSON
    Start,
    KeyOrEnd,
    Key,
    Colon(Field),
    Value(Field),
    Whole(Field),
    ItemsNull,
    ItemOrClose,
    Item,
    ItemSep,
    AfterValue,
    // protobuf
    Magic,
    Fields,
    Raw,
    // both
    End,
}

/// Incremental extent of one JSON value: how far it was scanned, and the scanner's state there.
#[derive(Debug, Clone, Copy, Default)]
struct ValueScan {
    pos: usize,
    depth: u32,
    in_str: bool,
    esc: bool,
}

impl ValueScan {
    /// The value's length once `buf` holds all of it.
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        while let Some(&b) = buf.get(self.pos) {
            if self.pos >= MAX_FRAME_LEN {
                return Err(too_large(self.pos));
            }
            if self.in_str {
                match b {
                    _ if self.esc => self.esc = false,
                    b'\\' => self.esc = true,
                    b'"' => {
                        self.in_str = false;
                        if self.depth == 0 {
                            return Ok(Some(self.pos + 1));
                        }
                    }
                    _ => {}
                }
            } else {
                match b {
                    b'"' => self.in_str = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' if self.depth == 0 => return Ok(Some(self.pos)),
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Ok(Some(self.pos + 1));
                        }
                    }
                    b',' | b' ' | b'\t' | b'\r' | b'\n' if self.depth == 0 => {
                        return Ok(Some(self.pos))
                    }
                    _ => {}
                }
            }
            self.pos += 1;
        }
        Ok(None)
    }
}

fn too_large(len: usize) -> DecodeError {
    DecodeError::TooLarge {
        len: len as u64,
        max: MAX_FRAME_LEN as u64,
    }
}

/// Splits one LIST body; see the module docs.
#[derive(Debug)]
pub struct ListScanner {
    state: State,
    value: ValueScan,
    head: ListHead,
    /// JSON: `items` was there; protobuf: the List message was.
    items_seen: bool,
    /// Protobuf: bytes of the List message not read yet.
    raw_left: usize,
}

impl ListScanner {
    /// A scanner for a body in `enc`.
    pub fn new(enc: Encoding) -> ListScanner {
        ListScanner {
            state: match enc {
                Encoding::Json => State::Start,
                Encoding::Protobuf => State::Magic,
            },
            value: ValueScan::default(),
            head: ListHead::default(),
            items_seen: false,
            raw_left: 0,
        }
    }

    /// The next step in `buf` (the bytes not consumed yet); `Ok(None)` = need more bytes.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        match self.state {
            State::Magic | State::Fields | State::Raw => self.next_pb(buf),
            _ => self.next_json(buf),
        }
    }

    /// The List's fields, once the whole body (ending with `rest`, not consumed) was scanned.
    pub fn finish(&self, rest: &[u8]) -> Result<ListHead, DecodeError> {
        let done = match self.state {
            State::End => rest.iter().all(u8::is_ascii_whitespace),
            State::Fields => rest.is_empty(),
            _ => false,
        };
        if !done {
            return Err(DecodeError::Truncated);
        }
        if !self.items_seen {
            return Err(DecodeError::invalid("not a List"));
        }
        Ok(self.head.clone())
    }

    fn next_json<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        let skip = if self.value.pos == 0 {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        } else {
            0
        };
        if skip > 0 {
            return Ok(Some((Step::Skipped, skip)));
        }
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        let one = |s: &mut Self, next: State| {
            s.state = next;
            Ok(Some((Step::Skipped, 1)))
        };
        match (self.state, b) {
            (State::Start, b'{') => one(self, State::KeyOrEnd),
            (State::KeyOrEnd, b'}') => one(self, State::End),
            (State::KeyOrEnd, b'"') => {
                self.state = State::Key;
                self.next_json(buf)
            }
            (State::Key, _) => self.key(buf),
            (State::Colon(f), b':') => one(self, State::Value(f)),
            (State::Value(Field::Items), _) if self.items_seen => {
                Err(DecodeError::invalid("`items` appears twice"))
            }
            (State::Value(Field::Items), b'[') => {
                self.items_seen = true;
                one(self, State::ItemOrClose)
            }
            (State::Value(Field::Items), _) => {
                self.items_seen = true;
                self.state = State::ItemsNull;
                self.next_json(buf)
            }
            (State::Value(f), _) => {
                self.state = State::Whole(f);
                self.next_json(buf)
            }
            (State::Whole(f), _) => self.whole(buf, f),
            (State::ItemsNull, _) => match self.value.scan(buf)? {
                Some(n) if &buf[..n] == b"null" => self.done_value(n, State::AfterValue),
                Some(_) => Err(DecodeError::invalid("`items` is not an array")),
                None => Ok(None),
            },
            (State::ItemOrClose, b']') => one(self, State::AfterValue),
            (State::ItemOrClose | State::Item, _) => {
                self.state = State::Item;
                match self.value.scan(buf)? {
                    Some(0) => Err(DecodeError::invalid("empty item")),
                    Some(n) => {
                        self.value = ValueScan::default();
                        self.state = State::ItemSep;
                        Ok(Some((Step::Item(&buf[..n]), n)))
                    }
                    None => Ok(None),
                }
            }
            (State::ItemSep, b',') => one(self, State::Item),
            (State::ItemSep, b']') => one(self, State::AfterValue),
            (State::AfterValue, b',') => one(self, State::Key),
            (State::AfterValue, b'}') => one(self, State::End),
            _ => Err(DecodeError::Invalid(
                format!("unexpected {:?} in a List", char::from(b)).into(),
            )),
        }
    }

    fn done_value<'a>(
        &mut self,
        n: usize,
        next: State,
    ) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        self.value = ValueScan::default();
        self.state = next;
        Ok(Some((Step::Skipped, n)))
    }

    fn key<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        if buf.first() != Some(&b'"') && self.value.pos == 0 {
            return Err(DecodeError::invalid("a List field name is not a string"));
        }
        let Some(n) = self.value.scan(buf)? else {
            return Ok(None);
        };
        let name: String = serde_json::from_slice(&buf[..n]).map_err(|e| DecodeError::json(&e))?;
        let field = match name.as_str() {
            "items" => Field::Items,
            "metadata" => Field::Metadata,
            "kind" => Field::Kind,
            "apiVersion" => Field::ApiVersion,
            _ => Field::Other,
        };
        self.done_value(n, State::Colon(field))
    }

    fn whole<'a>(
        &mut self,
        buf: &'a [u8],
        f: Field,
    ) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        let Some(n) = self.value.scan(buf)? else {
            return Ok(None);
        };
        let v = &buf[..n];
        match f {
            Field::Metadata => {
                let (rv, cont) = decode_list_meta_json(v)?;
                (self.head.resource_version, self.head.continue_token) = (rv, cont);
            }
            Field::Kind => self.head.kind = json_text(v)?,
            Field::ApiVersion => self.head.api_version = json_text(v)?,
            Field::Items | Field::Other => {
                serde_json::from_slice::<IgnoredAny>(v).map_err(|e| DecodeError::json(&e))?;
            }
        }
        self.done_value(n, State::AfterValue)
    }

    fn next_pb<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        match self.state {
            State::Magic => {
                if buf.len() < MAGIC.len() {
                    return if MAGIC.starts_with(buf) {
                        Ok(None)
                    } else {
                        Err(DecodeError::invalid("missing k8s\\0 magic"))
                    };
                }
                if !buf.starts_with(MAGIC) {
                    return Err(DecodeError::invalid("missing k8s\\0 magic"));
                }
                self.state = State::Fields;
                Ok(Some((Step::Skipped, MAGIC.len())))
            }
            State::Raw if self.raw_left == 0 => {
                self.state = State::Fields;
                Ok(Some((Step::Skipped, 0)))
            }
            _ => self.pb_field(buf),
        }
    }

    /// One field of the envelope (outside `raw`) or of the List message (inside).
    fn pb_field<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Step<'a>, usize)>, DecodeError> {
        let inside = self.state == State::Raw;
        let limit = if inside {
            buf.len().min(self.raw_left)
        } else {
            buf.len()
        };
        let view = &buf[..limit];
        if view.is_empty() {
            return Ok(None);
        }
        let mut pos = 0;
        let Some(tag) = partial(read_varint(view, &mut pos))? else {
            return Ok(None);
        };
        let (number, wire) = (tag >> 3, tag & 7);
        let payload = match wire {
            0 => match partial(read_varint(view, &mut pos))? {
                Some(_) => 0,
                None => return Ok(None),
            },
            1 => 8,
            5 => 4,
            2 => match partial(read_varint(view, &mut pos))? {
                Some(len) => usize::try_from(len).map_err(|_| too_large(usize::MAX))?,
                None => return Ok(None),
            },
            _ => return Err(DecodeError::invalid("unsupported wire type in a List")),
        };
        if !inside && number == 2 && wire == 2 {
            if self.items_seen {
                // runtime.Unknown.raw is `bytes`: a second one would replace the first.
                return Err(DecodeError::invalid("two List messages in one envelope"));
            }
            self.items_seen = true;
            self.state = State::Raw;
            self.raw_left = payload;
            return Ok(Some((Step::Skipped, pos)));
        }
        if payload > MAX_FRAME_LEN {
            return Err(too_large(payload));
        }
        let end = pos + payload;
        if inside && end > self.raw_left {
            return Err(DecodeError::invalid("a List field runs past the List"));
        }
        let Some(body) = view.get(pos..end) else {
            return Ok(None);
        };
        let step = match (inside, number, wire) {
            (true, 2, 2) => Step::Item(body),
            (true, 1, 2) => {
                self.list_meta(body)?;
                Step::Skipped
            }
            (false, 1, 2) => {
                self.type_meta(body)?;
                Step::Skipped
            }
            _ => Step::Skipped,
        };
        if inside {
            self.raw_left -= end;
        }
        Ok(Some((step, end)))
    }

    fn type_meta(&mut self, msg: &[u8]) -> Result<(), DecodeError> {
        for f in fields(msg) {
            let f = f?;
            match f.number {
                1 => self.head.api_version = f.str()?.into(),
                2 => self.head.kind = f.str()?.into(),
                _ => {}
            }
        }
        Ok(())
    }

    fn list_meta(&mut self, msg: &[u8]) -> Result<(), DecodeError> {
        for f in fields(msg) {
            let f = f?;
            match f.number {
                2 => self.head.resource_version = f.str()?.into(),
                3 => self.head.continue_token = f.str()?.into(),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A varint read that ran out of bytes is "need more", not an error.
fn partial(r: Result<u64, DecodeError>) -> Result<Option<u64>, DecodeError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(DecodeError::Truncated) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[path = "list_stream_tests.rs"]
mod tests;
