//! Cache keys: one pure function turns a view, and an object in it, into bytes.
//!
//! A view key is a format tag followed by length-prefixed fields (u32 big-endian length, then the
//! bytes), never a file path: `/`, `..`, NUL and any unicode are just bytes, and no two different
//! views share a key. Fields are ordered component, group, version, resource, namespace, name,
//! labelSelector, fieldSelector, so every view of a component (or of one resource of it) is a
//! key prefix.
//!
//! An object's key inside a view is the view key + its *member* part + a generation. The member
//! part sorts like kube-apiserver's (etcd's) `namespace/name` keys, so a view streams out in the
//! order a LIST has, and it is prefix-free, so one object's versions are adjacent:
//! namespace with NUL → `00 01` and `/` → `00 02`, then `/`; name with NUL → `00 FF`, then
//! `00 01`. The generation (u64 big-endian) tells a committed version from one of a LIST still
//! being written (`list.rs`).

use super::selector;

/// First byte of every key; a different layout gets a different tag.
const KEY_FORMAT: u8 = 1;
/// Longest key the store writes. fjall's own bound is u16::MAX, and every object key repeats its
/// view's key, so views with selectors longer than this are refused as not cacheable.
pub(crate) const MAX_KEY_BYTES: usize = 16 * 1024;

/// Group, version and resource of a Kubernetes API collection (group `""` = the core group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvr {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Resource (plural, lower case), e.g. `pods`.
    pub resource: String,
}

impl Gvr {
    /// Builds a `Gvr` from its three parts.
    pub fn new(group: &str, version: &str, resource: &str) -> Gvr {
        Gvr {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
        }
    }
}

/// What one request of one component asked for: the unit the cache stores and answers.
///
/// A collection view (LIST / WATCH) has `name == ""`; a GET's own single-object view names the
/// object. Build it with [`ViewKey::normalized`] so equal selectors map to one view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewKey {
    /// Who asked, e.g. `kubelet` (nothing is shared between components).
    pub component: String,
    /// The API collection.
    pub gvr: Gvr,
    /// Namespace, `""` = all namespaces (or a cluster-scoped resource).
    pub namespace: String,
    /// Object name for a GET's view, `""` for a collection.
    pub name: String,
    /// `labelSelector` as sent (normalised by [`ViewKey::normalized`]).
    pub label_selector: String,
    /// `fieldSelector` as sent (normalised by [`ViewKey::normalized`]).
    pub field_selector: String,
}

impl ViewKey {
    /// The same view with both selectors in canonical form: terms sorted and deduplicated, `==`
    /// written `=`; label terms trimmed and set values sorted (`b=2,a=1` equals `a=1, b=2`).
    pub fn normalized(mut self) -> ViewKey {
        self.label_selector = selector::normalize(&self.label_selector);
        self.field_selector = selector::normalize_fields(&self.field_selector);
        self
    }

    /// The view's key: tag + the eight length-prefixed fields. Pure and injective.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = gvr_prefix(&self.component, &self.gvr);
        for field in [
            &self.namespace,
            &self.name,
            &self.label_selector,
            &self.field_selector,
        ] {
            put_field(&mut out, field.as_bytes());
        }
        out
    }

    /// Decodes a key made by [`ViewKey::encode`]; `None` if it is not exactly one.
    pub fn decode(key: &[u8]) -> Option<ViewKey> {
        let (view, rest) = split_view(key)?;
        rest.is_empty().then_some(view)
    }

    /// Whether an object at `namespace`/`name` can belong to this view.
    pub fn may_hold(&self, namespace: &str, name: &str) -> bool {
        (self.namespace.is_empty() || self.namespace == namespace)
            && (self.name.is_empty() || self.name == name)
    }
}

/// Tag of a view's metadata record: views and objects share one keyspace (and so one journal,
/// which fjall can drop as soon as that one keyspace is flushed).
const META_TAG: u8 = b'v';
/// Tag of an object record.
const OBJECT_TAG: u8 = b'o';
/// Tag of the store's format record.
const FORMAT_TAG: u8 = b'f';
/// Tag of a LIST's pending-generation record.
const PENDING_TAG: u8 = b'p';

/// Where the metadata of the view with key `view` (or, for a prefix, of views) is stored.
pub fn meta_key(view: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(view.len() + 1);
    out.push(META_TAG);
    out.extend_from_slice(view);
    out
}

/// The view a metadata record belongs to.
pub fn view_of_meta_key(key: &[u8]) -> Option<ViewKey> {
    ViewKey::decode(key.strip_prefix(&[META_TAG])?)
}

/// Prefix of every object record of the view with key `view`.
pub fn objects_prefix(view: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(view.len() + 1);
    out.push(OBJECT_TAG);
    out.extend_from_slice(view);
    out
}

/// Key prefix shared by every view of `component` on `gvr`.
pub fn gvr_prefix(component: &str, gvr: &Gvr) -> Vec<u8> {
    let mut out = vec![KEY_FORMAT];
    for field in [component, &gvr.group, &gvr.version, &gvr.resource] {
        put_field(&mut out, field.as_bytes());
    }
    out
}

/// Where the store's format record lives (`db.rs`).
pub fn format_key() -> Vec<u8> {
    vec![FORMAT_TAG]
}

/// Where the generation of a LIST being written into the view `view` is noted (`list.rs`).
pub fn pending_key(view: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(view.len() + 1);
    out.push(PENDING_TAG);
    out.extend_from_slice(view);
    out
}

/// Prefix of every stored version of the object `namespace`/`name` under `objs` (an
/// [`objects_prefix`]): sorts like etcd's `namespace/name`, and no member is a prefix of another.
pub fn member_key(objs: &[u8], namespace: &str, name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(objs.len() + 4 + namespace.len() + name.len());
    out.extend_from_slice(objs);
    for &b in namespace.as_bytes() {
        match b {
            0 => out.extend_from_slice(&[0, 1]),
            b'/' => out.extend_from_slice(&[0, 2]),
            b => out.push(b),
        }
    }
    out.push(b'/');
    for &b in name.as_bytes() {
        match b {
            0 => out.extend_from_slice(&[0, 0xFF]),
            b => out.push(b),
        }
    }
    out.extend_from_slice(&[0, 1]);
    out
}

/// Bytes of the generation at the end of an object key.
pub const GENERATION_BYTES: usize = 8;

/// Key of one version (`generation`) of an object; `member` is a [`member_key`].
pub fn object_key(member: &[u8], generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(member.len() + GENERATION_BYTES);
    out.extend_from_slice(member);
    out.extend_from_slice(&generation.to_be_bytes());
    out
}

/// Splits an object key into its member part and generation.
pub fn split_object_key(key: &[u8]) -> Option<(&[u8], u64)> {
    let (member, generation) = key.split_last_chunk::<GENERATION_BYTES>()?;
    Some((member, u64::from_be_bytes(*generation)))
}

/// Namespace and name of a member key (see [`member_key`]) under `objs`.
pub fn member_name(objs: &[u8], member: &[u8]) -> Option<(String, String)> {
    let mut rest = member.strip_prefix(objs)?;
    let mut namespace = Vec::new();
    loop {
        let (&b, tail) = rest.split_first()?;
        rest = tail;
        match b {
            b'/' => break,
            0 => {
                let (&e, tail) = rest.split_first()?;
                rest = tail;
                namespace.push(match e {
                    1 => 0,
                    2 => b'/',
                    _ => return None,
                });
            }
            b => namespace.push(b),
        }
    }
    let mut name = Vec::new();
    loop {
        let (&b, tail) = rest.split_first()?;
        rest = tail;
        if b != 0 {
            name.push(b);
            continue;
        }
        let (&e, tail) = rest.split_first()?;
        rest = tail;
        match e {
            0xFF => name.push(0),
            1 if rest.is_empty() => break,
            _ => return None,
        }
    }
    Some((
        String::from_utf8(namespace).ok()?,
        String::from_utf8(name).ok()?,
    ))
}

/// Splits a key into its view and whatever follows the view's eight fields.
fn split_view(key: &[u8]) -> Option<(ViewKey, &[u8])> {
    let mut rest = key.strip_prefix(&[KEY_FORMAT])?;
    let mut next = || take_field(&mut rest);
    let view = ViewKey {
        component: next()?,
        gvr: Gvr {
            group: next()?,
            version: next()?,
            resource: next()?,
        },
        namespace: next()?,
        name: next()?,
        label_selector: next()?,
        field_selector: next()?,
    };
    Some((view, rest))
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    // A field longer than u32::MAX cannot reach here: keys are checked against MAX_KEY_BYTES,
    // and saturating keeps encode total (the length check then refuses the key).
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn take_field(rest: &mut &[u8]) -> Option<String> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if tail.len() < len {
        return None;
    }
    let (field, tail) = tail.split_at(len);
    *rest = tail;
    String::from_utf8(field.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn view(component: &str, ns: &str, labels: &str) -> ViewKey {
        ViewKey {
            component: component.into(),
            gvr: Gvr::new("", "v1", "pods"),
            namespace: ns.into(),
            label_selector: labels.into(),
            ..ViewKey::default()
        }
    }

    #[test]
    fn normalized_selectors_map_to_one_view() {
        let a = view("kubelet", "", "b=2,a=1").normalized();
        let b = view("kubelet", "", " a=1 , b==2").normalized();
        assert_eq!(a, b);
        assert_eq!(a.encode(), b.encode());
        assert_ne!(a.encode(), view("kubelet", "", "a=1").normalized().encode());
    }

    #[test]
    fn shifting_bytes_between_fields_changes_the_key() {
        // Without length prefixes these two would both read "ab".
        let a = view("kubelet", "a", "b");
        let b = view("kubelet", "ab", "");
        assert_ne!(a.encode(), b.encode());
        assert_ne!(
            view("kube", "let", "").encode(),
            view("kubelet", "", "").encode()
        );
    }

    #[test]
    fn hostile_names_round_trip() {
        let long = "x".repeat(253);
        for name in [
            "a/b",
            "..",
            "../../etc/passwd",
            "nul\0byte",
            "ünïcødé/☃",
            "",
            &long,
        ] {
            let mut v = view("kubelet", name, name);
            v.name = name.into();
            assert_eq!(ViewKey::decode(&v.encode()), Some(v.clone()));
            let objs = objects_prefix(&v.encode());
            let m = member_key(&objs, name, name);
            assert_eq!(member_name(&objs, &m), Some((name.into(), name.into())));
            let k = object_key(&m, 7);
            assert_eq!(split_object_key(&k), Some((&m[..], 7)));
        }
    }

    #[test]
    fn members_sort_like_etcd_keys_and_none_is_a_prefix_of_another() {
        let objs = objects_prefix(&view("kubelet", "", "").encode());
        let pairs = [
            ("default", "pod-1"),
            ("default", "pod-10"),
            ("default", "pod-2"),
            ("default-2", "a"),
            ("kube", "z"),
            ("kube-system", "a"),
            ("", "node-1"),
            ("a/b", "c"),
            ("a", "b/c"),
            ("nul\0", "x"),
            ("x", "nul\0"),
            ("x", "nul"),
        ];
        let mut by_etcd: Vec<(String, Vec<u8>)> = Vec::new();
        let mut all: Vec<Vec<u8>> = Vec::new();
        for (ns, name) in pairs {
            let m = member_key(&objs, ns, name);
            assert_eq!(member_name(&objs, &m), Some((ns.into(), name.into())));
            for other in &all {
                assert!(
                    !other.starts_with(&m) && !m.starts_with(other),
                    "{ns}/{name}"
                );
            }
            all.push(m.clone());
            if !ns.contains(['/', '\0']) && !name.contains('\0') {
                by_etcd.push((format!("{ns}/{name}"), m));
            }
        }
        let mut etcd = by_etcd.clone();
        etcd.sort_by(|a, b| a.0.cmp(&b.0));
        by_etcd.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            by_etcd.iter().map(|p| &p.0).collect::<Vec<_>>(),
            etcd.iter().map(|p| &p.0).collect::<Vec<_>>()
        );
        assert_eq!(member_name(&objs, &objs), None);
        let m = member_key(&objs, "ns", "n");
        assert_eq!(member_name(&objs, &m[..m.len() - 1]), None);
    }

    #[test]
    fn decode_refuses_anything_else() {
        let k = view("kubelet", "ns", "").encode();
        assert_eq!(ViewKey::decode(&k[..k.len() - 1]), None);
        let mut longer = k.clone();
        longer.push(0);
        assert_eq!(ViewKey::decode(&longer), None);
        assert_eq!(ViewKey::decode(b""), None);
        assert_eq!(ViewKey::decode(&[2]), None);
    }

    /// xorshift64*: deterministic randomness without a dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn random_field(state: &mut u64) -> String {
        const ALPHABET: [&str; 10] = ["a", "/", ".", "\0", "\u{1}", "=", ",", "é", "☃", "\u{4}"];
        let len = (next(state) % 6) as usize;
        (0..len)
            .map(|_| ALPHABET[(next(state) % 10) as usize])
            .collect()
    }

    #[test]
    fn encode_is_injective_on_random_views() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let mut seen: HashMap<Vec<u8>, ViewKey> = HashMap::new();
        for _ in 0..20_000 {
            let mut f = || random_field(&mut state);
            let v = ViewKey {
                component: f(),
                gvr: Gvr::new(&f(), &f(), &f()),
                namespace: f(),
                name: f(),
                label_selector: f(),
                field_selector: f(),
            };
            let key = v.encode();
            assert_eq!(ViewKey::decode(&key).as_ref(), Some(&v));
            if let Some(other) = seen.insert(key, v.clone()) {
                assert_eq!(other, v, "two views share a key");
            }
        }
        assert!(
            seen.len() > 10_000,
            "random views too alike: {}",
            seen.len()
        );
    }
}
