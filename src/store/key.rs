//! Cache keys: one pure function turns a view, and an object in it, into bytes.
//!
//! A key is a format tag followed by length-prefixed fields (u32 big-endian length, then the
//! bytes), never a file path: `/`, `..`, NUL and any unicode are just bytes, and no two different
//! views share a key. Fields are ordered component, group, version, resource, namespace, name,
//! labelSelector, fieldSelector, so every view of a component (or of one resource of it) is a
//! key prefix. An object's key inside a view is the view key + namespace + name.

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
    /// The same view with both selectors in canonical form: terms trimmed, sorted and
    /// deduplicated, `==` written `=`, set values sorted (`b=2,a=1` equals `a=1, b=2`).
    pub fn normalized(mut self) -> ViewKey {
        self.label_selector = selector::normalize(&self.label_selector);
        self.field_selector = selector::normalize(&self.field_selector);
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

/// Key of the object `namespace`/`name` under `view` (an [`objects_prefix`]).
pub fn member_key(view: &[u8], namespace: &str, name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(view.len() + 8 + namespace.len() + name.len());
    out.extend_from_slice(view);
    put_field(&mut out, namespace.as_bytes());
    put_field(&mut out, name.as_bytes());
    out
}

/// Namespace and name of an object key that starts with `view` (an [`objects_prefix`]).
pub fn member_name(view: &[u8], key: &[u8]) -> Option<(String, String)> {
    let mut rest = key.strip_prefix(view)?;
    let namespace = take_field(&mut rest)?;
    let name = take_field(&mut rest)?;
    rest.is_empty().then_some((namespace, name))
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
            let m = member_key(&v.encode(), name, name);
            assert_eq!(
                member_name(&v.encode(), &m),
                Some((name.into(), name.into()))
            );
        }
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
