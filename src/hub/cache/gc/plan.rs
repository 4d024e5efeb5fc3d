//! Pure part of the cache GC: the URL that asks the upstream about a view, what an answer
//! means for it, and which stored objects the upstream no longer has.

use std::collections::HashMap;

use crate::store::ViewKey;

/// Objects per page when the GC lists a collection.
pub const PAGE_LIMIT: usize = 500;
/// Accept of a GC request about a single object: its metadata only.
pub const ACCEPT_OBJECT_META: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
/// Accept of a GC list: every object's metadata only.
pub const ACCEPT_LIST_META: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// An object's identity: namespace, name, and uid (`""` when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Why a view is left as it is: the upstream did not give a definite answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection, TLS failure or a broken exchange (the server is marked unhealthy).
    Transport(String),
    /// No whole answer within the GC timeout.
    Timeout,
    /// An answer other than 200 and 404 (403, 410, 429, 5xx, ...).
    Status(u16),
    /// A 200 whose body was cut, too large, or not what was asked for.
    Undecodable(String),
    /// The store could not be read or written.
    Store(String),
}

impl Failure {
    /// Metric label.
    pub fn reason(&self) -> String {
        match self {
            Failure::Transport(_) => "transport".into(),
            Failure::Timeout => "timeout".into(),
            Failure::Status(code) => format!("status_{code}"),
            Failure::Undecodable(_) => "undecodable".into(),
            Failure::Store(_) => "store".into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Transport(e) => write!(f, "upstream unreachable: {e}"),
            Failure::Timeout => f.write_str("no answer in time"),
            Failure::Status(code) => write!(f, "upstream answered {code}"),
            Failure::Undecodable(e) => write!(f, "unusable answer: {e}"),
            Failure::Store(e) => write!(f, "cache: {e}"),
        }
    }
}

/// What a GET of a single object's metadata says about its cached view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectVerdict {
    /// The object still exists (same uid, or a uid is unknown): keep.
    Exists,
    /// 404: drop the view.
    Gone,
    /// Another object of the same name (a new uid): the cached one is gone, drop the view.
    Replaced,
}

/// The verdict on a single-object view from the GET's status and, for a 200, the upstream uid.
pub fn object_verdict(
    status: u16,
    cached_uid: &str,
    upstream_uid: Option<&str>,
) -> Result<ObjectVerdict, Failure> {
    match (status, upstream_uid) {
        (404, _) => Ok(ObjectVerdict::Gone),
        (200, Some(up)) if !up.is_empty() && !cached_uid.is_empty() && up != cached_uid => {
            Ok(ObjectVerdict::Replaced)
        }
        (200, Some(_)) => Ok(ObjectVerdict::Exists),
        (200, None) => Err(Failure::Undecodable("no object metadata".into())),
        (code, _) => Err(Failure::Status(code)),
    }
}

/// Cached objects the upstream no longer has: absent from its list, or present under another
/// uid (deleted and created again). `upstream` maps namespace/name to uid.
pub fn gone<'a>(
    cached: &'a [Ident],
    upstream: &HashMap<(String, String), String>,
) -> Vec<&'a Ident> {
    cached
        .iter()
        .filter(
            |c| match upstream.get(&(c.namespace.clone(), c.name.clone())) {
                None => true,
                Some(uid) => !uid.is_empty() && !c.uid.is_empty() && *uid != c.uid,
            },
        )
        .collect()
}

/// The API path of a view: its object for a GET's view, else its collection.
pub fn path(view: &ViewKey) -> String {
    let g = &view.gvr;
    let mut p = if g.group.is_empty() {
        format!("/api/{}", segment(&g.version))
    } else {
        format!("/apis/{}/{}", segment(&g.group), segment(&g.version))
    };
    if !view.namespace.is_empty() {
        p.push_str("/namespaces/");
        p.push_str(&segment(&view.namespace));
    }
    p.push('/');
    p.push_str(&segment(&g.resource));
    if !view.name.is_empty() {
        p.push('/');
        p.push_str(&segment(&view.name));
    }
    p
}

/// A page of a view's collection with its selectors: path and query.
pub fn list_url(view: &ViewKey, continue_token: &str) -> String {
    let mut url = format!("{}?limit={PAGE_LIMIT}", path(view));
    for (k, v) in [
        ("labelSelector", &view.label_selector),
        ("fieldSelector", &view.field_selector),
        ("continue", &continue_token.to_string()),
    ] {
        if !v.is_empty() {
            url.push('&');
            url.push_str(k);
            url.push('=');
            url.push_str(&segment(v));
        }
    }
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Gvr;

    fn ident(name: &str, uid: &str) -> Ident {
        Ident {
            namespace: "d".into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn paths_escape_every_field() {
        let v = ViewKey {
            component: "kubelet".into(),
            gvr: Gvr::new("", "v1", "pods"),
            field_selector: "spec.nodeName=n 1".into(),
            ..ViewKey::default()
        };
        assert_eq!(
            list_url(&v, ""),
            "/api/v1/pods?limit=500&fieldSelector=spec.nodeName%3Dn%201"
        );
        let s = ViewKey {
            gvr: Gvr::new("apps", "v1", "deployments"),
            namespace: "kube-system".into(),
            name: "../a/b\0".into(),
            label_selector: "!a,b in (x,y)".into(),
            ..ViewKey::default()
        };
        assert_eq!(
            path(&s),
            "/apis/apps/v1/namespaces/kube-system/deployments/..%2Fa%2Fb%00"
        );
        assert!(list_url(&s, "tok=")
            .ends_with("&labelSelector=%21a%2Cb%20in%20%28x%2Cy%29&continue=tok%3D"));
    }

    #[test]
    fn only_404_and_a_new_uid_condemn_an_object() {
        assert_eq!(object_verdict(404, "u1", None), Ok(ObjectVerdict::Gone));
        assert_eq!(
            object_verdict(200, "u1", Some("u2")),
            Ok(ObjectVerdict::Replaced)
        );
        assert_eq!(
            object_verdict(200, "u1", Some("u1")),
            Ok(ObjectVerdict::Exists)
        );
        assert_eq!(
            object_verdict(200, "", Some("u2")),
            Ok(ObjectVerdict::Exists)
        );
        for code in [403, 410, 429, 500, 503, 504, 401] {
            assert_eq!(object_verdict(code, "u1", None), Err(Failure::Status(code)));
        }
        assert!(matches!(
            object_verdict(200, "u1", None),
            Err(Failure::Undecodable(_))
        ));
    }

    #[test]
    fn gone_means_absent_or_another_uid() {
        let cached = [
            ident("a", "1"),
            ident("b", "2"),
            ident("c", "3"),
            ident("d", ""),
        ];
        let upstream: HashMap<(String, String), String> = [
            (("d".into(), "a".into()), "1".into()),
            (("d".into(), "b".into()), "9".into()),
            (("d".into(), "d".into()), "4".into()),
        ]
        .into();
        let names: Vec<&str> = gone(&cached, &upstream)
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["b", "c"]);
    }
}
