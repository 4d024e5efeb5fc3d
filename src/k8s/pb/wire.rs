//! Protobuf wire format: a bounds-checked walker over the fields of one message.
//!
//! Every wire type is understood (varint, fixed64, length-delimited, groups, fixed32), so
//! unknown fields are skipped whatever they are. Nothing here allocates or panics.

use crate::k8s::decode_error::DecodeError;

/// Deepest nesting of (deprecated) groups that [`Fields`] skips before giving up.
const MAX_GROUP_DEPTH: usize = 32;

/// One field's payload, by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, embedded messages, packed repeated.
    Bytes(&'a [u8]),
    /// Wire type 3 up to its matching end: skipped, contents not exposed.
    Group,
    /// Wire type 5.
    Fixed32(u32),
}

/// One field of a message: its number and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field number (1..=2^29-1).
    pub number: u32,
    /// The payload.
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field.
    pub fn bytes(&self) -> Result<&'a [u8], DecodeError> {
        match self.value {
            Value::Bytes(b) => Ok(b),
            _ => Err(DecodeError::invalid("expected a length-delimited field")),
        }
    }

    /// The payload of a string field, which must be UTF-8.
    pub fn str(&self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::invalid("string is not UTF-8"))
    }

    /// The payload of a varint field (`int64`, `uint64`, `bool`, enums).
    pub fn varint(&self) -> Result<u64, DecodeError> {
        match self.value {
            Value::Varint(v) => Ok(v),
            _ => Err(DecodeError::invalid("expected a varint field")),
        }
    }

    /// An `int64` field (two's complement in the varint).
    pub fn int64(&self) -> Result<i64, DecodeError> {
        Ok(self.varint()? as i64)
    }

    /// An `int32` field: protobuf keeps the low 32 bits.
    pub fn int32(&self) -> Result<i32, DecodeError> {
        Ok(self.varint()? as i32)
    }
}

/// Iterator over the fields of one message; yields an error once, then stops.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Walks the fields of `message` in wire order.
pub fn fields(message: &[u8]) -> Fields<'_> {
    Fields {
        buf: message,
        pos: 0,
    }
}

/// [`fields`] with each field's whole encoding (key, length and payload), so a rewriter can copy
/// the fields it does not touch byte for byte.
pub fn fields_with_bytes(
    message: &[u8],
) -> impl Iterator<Item = Result<(Field<'_>, &[u8]), DecodeError>> {
    let mut it = fields(message);
    std::iter::from_fn(move || {
        let start = it.pos;
        let field = it.next()?;
        Some(field.and_then(|f| {
            let whole = message.get(start..it.pos).ok_or(DecodeError::Truncated)?;
            Ok((f, whole))
        }))
    })
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let field = read_field(self.buf, &mut self.pos);
        if field.is_err() {
            self.pos = self.buf.len();
        }
        Some(field)
    }
}

/// Reads a base-128 varint of at most 10 bytes whose value fits 64 bits.
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        if i == 9 && byte > 1 {
            return Err(DecodeError::invalid("varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::invalid("varint overflows 64 bits"))
}

/// Reads a field key: (field number, wire type).
fn read_key(buf: &[u8], pos: &mut usize) -> Result<(u32, u8), DecodeError> {
    let key = read_varint(buf, pos)?;
    let key = u32::try_from(key).map_err(|_| DecodeError::invalid("field key too large"))?;
    let number = key >> 3;
    if number == 0 {
        return Err(DecodeError::invalid("field number 0"));
    }
    Ok((number, (key & 7) as u8))
}

fn read_field<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Field<'a>, DecodeError> {
    let (number, wire) = read_key(buf, pos)?;
    let value = match wire {
        3 => skip_group(buf, pos, number).map(|()| Value::Group)?,
        4 => return Err(DecodeError::invalid("end-group without a start")),
        _ => read_plain(buf, pos, wire)?,
    };
    Ok(Field { number, value })
}

/// Reads a payload of wire type 0, 1, 2 or 5.
fn read_plain<'a>(buf: &'a [u8], pos: &mut usize, wire: u8) -> Result<Value<'a>, DecodeError> {
    match wire {
        0 => read_varint(buf, pos).map(Value::Varint),
        1 => take(buf, pos, 8).map(|b| Value::Fixed64(le_u64(b))),
        2 => {
            let len = read_varint(buf, pos)?;
            let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
            take(buf, pos, len).map(Value::Bytes)
        }
        5 => take(buf, pos, 4).map(|b| Value::Fixed32(le_u64(b) as u32)),
        _ => Err(DecodeError::invalid("bad wire type")),
    }
}

/// Skips a group started by field `number`, nested groups included, without recursion.
fn skip_group(buf: &[u8], pos: &mut usize, number: u32) -> Result<(), DecodeError> {
    let mut open = [0u32; MAX_GROUP_DEPTH];
    open[0] = number;
    let mut depth = 1;
    while depth > 0 {
        let (n, wire) = read_key(buf, pos)?;
        match wire {
            3 if depth == MAX_GROUP_DEPTH => {
                return Err(DecodeError::invalid("groups nested too deep"))
            }
            3 => {
                open[depth] = n;
                depth += 1;
            }
            4 if open[depth - 1] == n => depth -= 1,
            4 => return Err(DecodeError::invalid("end-group does not match its start")),
            _ => read_plain(buf, pos, wire).map(|_| ())?,
        }
    }
    Ok(())
}

/// Takes `len` bytes at `pos`, or reports that the buffer is too short.
fn take<'a>(buf: &'a [u8], pos: &mut usize, len: usize) -> Result<&'a [u8], DecodeError> {
    let end = pos.checked_add(len).ok_or(DecodeError::Truncated)?;
    let out = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    Ok(out)
}

/// Little-endian value of up to 8 bytes.
fn le_u64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> Result<Vec<Field<'_>>, DecodeError> {
        fields(buf).collect()
    }

    #[test]
    fn reads_every_wire_type() {
        // 1: varint 150, 2: fixed64, 3: bytes "hi", 4: group{5: varint 1}, 6: fixed32.
        let msg = [
            0x08, 0x96, 0x01, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1a, 2, b'h', b'i', 0x23, 0x28, 1,
            0x24, 0x35, 2, 0, 0, 0,
        ];
        let got = all(&msg).expect("valid message");
        let values: Vec<_> = got.iter().map(|f| (f.number, f.value)).collect();
        assert_eq!(
            values,
            vec![
                (1, Value::Varint(150)),
                (2, Value::Fixed64(1)),
                (3, Value::Bytes(b"hi")),
                (4, Value::Group),
                (6, Value::Fixed32(2)),
            ]
        );
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: [(&[u8], DecodeError); 8] = [
            (&[0x08], DecodeError::Truncated),
            (&[0x08, 0x80], DecodeError::Truncated),
            (&[0x0a, 5, 1, 2], DecodeError::Truncated),
            (&[0x0e, 0], DecodeError::invalid("bad wire type")),
            (&[0x0f, 0], DecodeError::invalid("bad wire type")),
            (&[0x00, 0], DecodeError::invalid("field number 0")),
            (&[0x0c], DecodeError::invalid("end-group without a start")),
            (
                &[0x0b, 0x14],
                DecodeError::invalid("end-group does not match its start"),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(all(bytes).err(), Some(want), "input {bytes:02x?}");
        }
    }

    #[test]
    fn rejects_overlong_varints_and_huge_lengths() {
        let eleven = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0,
        ];
        assert!(matches!(all(&eleven), Err(DecodeError::Invalid(_))));
        let max = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(
            all(&max).expect("u64::MAX")[0].value,
            Value::Varint(u64::MAX)
        );
        let huge_len = [
            0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0,
        ];
        assert_eq!(all(&huge_len).err(), Some(DecodeError::Truncated));
    }

    #[test]
    fn deep_groups_are_an_error_not_a_stack_overflow() {
        let mut msg = vec![0x0b; 10_000];
        msg.extend(vec![0x0c; 10_000]);
        assert!(matches!(all(&msg), Err(DecodeError::Invalid(_))));
        let nested = [0x0b, 0x13, 0x14, 0x0c];
        assert_eq!(all(&nested).expect("two levels")[0].value, Value::Group);
    }
}
