//! Verb: the Kubernetes verb a request carries, and the HTTP methods the parser accepts.

use std::fmt;

/// The Kubernetes verb of a request, as kube-apiserver's authorizer and audit log name it.
///
/// There is no `connect` verb: kube-apiserver's RequestInfo has none. `exec`, `attach` and
/// `portforward` arrive as POST (`create`) or, over WebSockets, GET (`get`) on the pod's
/// subresource; the HTTP `CONNECT` method is refused (see [`super::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET or HEAD of one named object (or a subresource of it).
    Get,
    /// GET or HEAD of a collection without `watch`.
    List,
    /// GET of a collection with `watch=true` (any value but `0`/`false`), or the `/watch/` path prefix.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one named object.
    Delete,
    /// DELETE of a collection.
    DeleteCollection,
    /// The long-removed `/api/v1/proxy/...` path prefix, which kube-apiserver's RequestInfo still names
    /// `proxy`. Not the `.../proxy` subresource, which keeps its method's verb.
    Proxy,
}

impl Verb {
    /// The lower-case name Kubernetes uses: `get`, `list`, `watch`, `deletecollection`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Proxy => "proxy",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verb an HTTP method stands for before the name and query are looked at; `None` for a
/// method the parser refuses. Methods are case-sensitive (RFC 9110), so `get` is refused.
pub(super) fn for_method(method: &str) -> Option<Verb> {
    match method {
        "GET" | "HEAD" => Some(Verb::Get),
        "POST" => Some(Verb::Create),
        "PUT" => Some(Verb::Update),
        "PATCH" => Some(Verb::Patch),
        "DELETE" => Some(Verb::Delete),
        _ => None,
    }
}

/// The verb of a resource request from the method's verb, once the name and `watch` are known:
/// a nameless GET is a list (or a watch), a nameless DELETE a deletecollection.
pub(super) fn refine(base: Verb, has_name: bool, watch_param: bool) -> Verb {
    match base {
        Verb::Get if !has_name && watch_param => Verb::Watch,
        Verb::Get if !has_name => Verb::List,
        Verb::Delete if !has_name => Verb::DeleteCollection,
        other => other,
    }
}
