//! Protobuf wire format, writing side: keys, varints and length-delimited fields.

/// Wire type of length-delimited fields.
const LEN: u64 = 2;

/// Appends `value` as a base-128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes `value` takes as a varint.
pub fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends the key and length of a length-delimited field whose payload follows.
pub fn put_len_prefix(out: &mut Vec<u8>, number: u32, len: usize) {
    put_varint(out, (u64::from(number) << 3) | LEN);
    put_varint(out, len as u64);
}

/// Appends a whole length-delimited field (string, bytes or embedded message).
pub fn put_bytes(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_len_prefix(out, number, payload.len());
    out.extend_from_slice(payload);
}

/// Encoded size of a length-delimited field with a `len`-byte payload.
pub fn len_field_size(number: u32, len: usize) -> usize {
    varint_len(u64::from(number) << 3) + varint_len(len as u64) + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pb::wire::read_varint;

    #[test]
    fn varints_round_trip_and_sizes_agree() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value), "{value}");
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Ok(value));
            assert_eq!(pos, out.len());
        }
    }
}
