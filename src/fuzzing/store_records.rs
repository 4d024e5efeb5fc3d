//! Fuzz property: store keys and records read back from a damaged or hostile cache directory.
//!
//! Every decoder (`key.rs`, `codec.rs`) runs on the raw input: it may refuse, never panic, and
//! whatever it accepts re-encodes to exactly the input (each record has one canonical form, so
//! no two stored byte strings mean the same thing). Then fields cut from the input (at `FF`
//! bytes, so `/`, `..`, NUL and unicode all occur) go through encode → decode, which must be the
//! identity, with non-UTF-8 fields refused rather than mangled.

use crate::store::codec::{encode_object, object_rv, Encoding, ViewMeta, OBJECT_HEADER};
use crate::store::key::{
    gvr_prefix, member_key, member_name, meta_key, object_key, objects_prefix, split_object_key,
    view_of_meta_key, GENERATION_BYTES,
};
use crate::store::{Gvr, StoreError, ViewKey};

/// Checks every property on `data`; panics on a violation.
pub fn check(data: &[u8]) {
    decoded_reencodes(data);
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    raw_fields_decode_or_refuse(&pieces);
    fields_round_trip(&pieces, data);
}

fn corrupt(e: &StoreError) {
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
    assert!(!e.to_string().is_empty());
}

/// Whatever a decoder accepts is the canonical encoding of what it returns.
fn decoded_reencodes(data: &[u8]) {
    if let Some(v) = ViewKey::decode(data) {
        assert_eq!(v.encode(), data, "view key");
    }
    if let Some(v) = view_of_meta_key(data) {
        assert_eq!(meta_key(&v.encode()), data, "meta key");
    }
    match ViewMeta::decode(data) {
        Ok(m) => assert_eq!(m.encode(), data, "view metadata"),
        Err(e) => corrupt(&e),
    }
    match object_rv(data) {
        Ok(rv) => assert_eq!(encode_object(rv, &data[OBJECT_HEADER..]), data, "object"),
        Err(e) => corrupt(&e),
    }
    match split_object_key(data) {
        Some((member, generation)) => assert_eq!(object_key(member, generation), data),
        None => assert!(data.len() < GENERATION_BYTES),
    }
    let k = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    for objs in [&data[..0], &data[..data.len().min(1)], &data[..k]] {
        if let Some((namespace, name)) = member_name(objs, data) {
            assert_eq!(member_key(objs, &namespace, &name), data, "member key");
        }
    }
}

/// A key laid out by hand from eight raw fields decodes iff every field is UTF-8, to them.
fn raw_fields_decode_or_refuse(pieces: &[&[u8]]) {
    let field = |i: usize| pieces.get(i).copied().unwrap_or_default();
    let mut raw = vec![1u8];
    for i in 0..8 {
        let len = u32::try_from(field(i).len()).unwrap_or(u32::MAX);
        raw.extend_from_slice(&len.to_be_bytes());
        raw.extend_from_slice(field(i));
    }
    let utf8: Option<Vec<&str>> = (0..8).map(|i| std::str::from_utf8(field(i)).ok()).collect();
    match (ViewKey::decode(&raw), utf8) {
        (Some(v), Some(f)) => {
            let got = [
                &v.component,
                &v.gvr.group,
                &v.gvr.version,
                &v.gvr.resource,
                &v.namespace,
                &v.name,
                &v.label_selector,
                &v.field_selector,
            ];
            assert!(got.iter().zip(&f).all(|(a, b)| a == b), "{v:?} from {f:?}");
        }
        (None, None) => {}
        (v, f) => panic!("hand-made key: decoded {v:?}, fields {f:?}"),
    }
}

/// Eight bytes of the input at `at` (zero-padded) as a number.
fn number(data: &[u8], at: usize) -> u64 {
    let mut n = [0u8; 8];
    for (i, b) in n.iter_mut().enumerate() {
        *b = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_be_bytes(n)
}

/// encode → decode is the identity for any field values.
fn fields_round_trip(pieces: &[&[u8]], data: &[u8]) {
    let field = |i: usize| String::from_utf8_lossy(pieces.get(i).copied().unwrap_or_default());
    let view = ViewKey {
        component: field(0).into(),
        gvr: Gvr::new(&field(1), &field(2), &field(3)),
        namespace: field(4).into(),
        name: field(5).into(),
        label_selector: field(6).into(),
        field_selector: field(7).into(),
    };
    let key = view.encode();
    assert_eq!(ViewKey::decode(&key).as_ref(), Some(&view));
    assert!(key.starts_with(&gvr_prefix(&view.component, &view.gvr)));
    assert_eq!(view_of_meta_key(&meta_key(&key)).as_ref(), Some(&view));
    let normal = view.clone().normalized();
    assert_eq!(
        normal.clone().normalized(),
        normal,
        "normalising is idempotent"
    );

    let objs = objects_prefix(&key);
    let (ns, name) = (&view.namespace, &view.name);
    let m = member_key(&objs, ns, name);
    assert_eq!(member_name(&objs, &m), Some((ns.clone(), name.clone())));
    let generation = number(data, 0);
    let k = object_key(&m, generation);
    assert_eq!(split_object_key(&k), Some((&m[..], generation)));
    // The swapped pair: members never prefix one another, and sort like etcd's `ns/name`.
    let other = member_key(&objs, name, ns);
    if other != m {
        assert!(!m.starts_with(&other) && !other.starts_with(&m), "prefix");
    }
    let plain = |ns: &str, name: &str| !ns.contains(['/', '\0']) && !name.contains('\0');
    if plain(ns, name) && plain(name, ns) {
        let etcd = format!("{ns}/{name}").cmp(&format!("{name}/{ns}"));
        assert_eq!(m.cmp(&other), etcd, "order of {ns:?}/{name:?}");
    }

    let meta = ViewMeta {
        resource_version: number(data, 1),
        encoding: if number(data, 2) & 1 == 0 {
            Encoding::Json
        } else {
            Encoding::Protobuf
        },
        api_version: field(8).into(),
        kind: field(9).into(),
        count: number(data, 3),
        bytes: number(data, 4),
        committed_at: number(data, 5),
        updated_at: number(data, 6),
        generation: number(data, 7),
    };
    assert_eq!(ViewMeta::decode(&meta.encode()).ok(), Some(meta));
    let body = pieces.last().copied().unwrap_or_default();
    let stored = encode_object(generation, body);
    assert_eq!(object_rv(&stored).ok(), Some(generation));
    assert_eq!(&stored[OBJECT_HEADER..], body);
}
