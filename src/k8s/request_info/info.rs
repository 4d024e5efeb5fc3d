//! RequestInfo: the parsed form of one Kubernetes API request.

use super::verb::Verb;

/// What a Kubernetes API request asks for, as [`super::parse`] reads it from the method and URL.
///
/// Resource requests (`/api/v1/...`, `/apis/<group>/<version>/...` with a resource) fill the
/// resource fields and the list options; non-resource requests (`/version`, `/healthz`,
/// discovery such as `/api/v1` or `/apis/apps`, `/openapi/v2`, ...) leave them empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for a request about an API resource; false for `/version`, `/healthz`, discovery, ...
    pub is_resource: bool,
    /// The Kubernetes verb. For non-resource requests it comes from the method alone
    /// (GET/HEAD get, POST create, PUT update, PATCH patch, DELETE delete), where
    /// kube-apiserver would use the lower-case method (`post`, `put`, `head`).
    pub verb: Verb,
    /// The percent-decoded path, always starting with `/`.
    pub path: String,
    /// `api` or `apis`; empty for non-resource requests.
    pub api_prefix: String,
    /// The API group; empty for the core group (`/api/v1`).
    pub group: String,
    /// The API version (`v1`, `v1beta1`, ...).
    pub version: String,
    /// The namespace; empty for cluster-scoped resources (including `namespaces` itself) and for
    /// requests across all namespaces.
    pub namespace: String,
    /// The resource (`pods`, `nodes`, `leases`, ...).
    pub resource: String,
    /// The subresource (`status`, `log`, `exec`, `token`, `proxy`, ...); later segments are not
    /// interpreted (they stay in [`RequestInfo::path`]).
    pub subresource: String,
    /// The object name from the path; empty for collections. A `metadata.name` field selector
    /// does not fill it (kube-apiserver does that for authorization only).
    pub name: String,
    /// `labelSelector`, decoded; `None` when absent or empty.
    pub label_selector: Option<String>,
    /// `fieldSelector`, decoded; `None` when absent or empty.
    pub field_selector: Option<String>,
    /// `resourceVersion`; `None` when absent or empty.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` (`NotOlderThan`, `Exact`); `None` when absent or empty.
    pub resource_version_match: Option<String>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `limit`.
    pub limit: Option<u64>,
    /// `continue`; `None` when absent or empty.
    pub continue_token: Option<String>,
    /// `includeObject` of a Table (`None`, `Metadata`, `Object`); `None` when absent or empty.
    pub include_object: Option<String>,
    /// `sendInitialEvents` (true unless absent, `0` or `false`).
    pub send_initial_events: bool,
    /// `allowWatchBookmarks` (true unless absent, `0` or `false`).
    pub allow_watch_bookmarks: bool,
    /// True exactly when `verb` is [`Verb::Watch`].
    pub watch: bool,
}

impl RequestInfo {
    /// A request that names no API resource; only the verb and path are set.
    pub(super) fn non_resource(verb: Verb, path: String) -> RequestInfo {
        RequestInfo {
            is_resource: false,
            verb,
            path,
            api_prefix: String::new(),
            group: String::new(),
            version: String::new(),
            namespace: String::new(),
            resource: String::new(),
            subresource: String::new(),
            name: String::new(),
            label_selector: None,
            field_selector: None,
            resource_version: None,
            resource_version_match: None,
            timeout_seconds: None,
            limit: None,
            continue_token: None,
            include_object: None,
            send_initial_events: false,
            allow_watch_bookmarks: false,
            watch: false,
        }
    }

    /// A WatchList request (client-go 1.35+ informers): a watch that asks for the initial state
    /// as ADDED events closed by a bookmark (`sendInitialEvents=true`) instead of a LIST.
    pub fn is_watch_list(&self) -> bool {
        self.watch && self.send_initial_events
    }

    /// The verb's lower-case Kubernetes name (`get`, `list`, `watch`, ...).
    pub fn verb_str(&self) -> &'static str {
        self.verb.as_str()
    }
}
