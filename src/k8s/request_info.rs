//! RequestInfo: what a Kubernetes API request asks for, parsed from its method and URL.
//!
//! [`parse`] follows kube-apiserver's `RequestInfoFactory` (k8s.io/apiserver
//! `pkg/endpoints/request/requestinfo.go`): `/api/<version>/...` and
//! `/apis/<group>/<version>/...`, `namespaces/<ns>/<resource>[/<name>[/<subresource>...]]`,
//! the deprecated `/watch/` and `/proxy/` path prefixes, and GET/DELETE without a name meaning
//! list (or watch) and deletecollection. It is pure: no I/O, and no panic on any input.
//!
//! Where Yurt decides differently, on purpose:
//! - Methods: GET, HEAD (as GET), POST, PUT, PATCH, DELETE. Anything else, including `OPTIONS`
//!   (CORS preflight, which no node client sends and the hub does not serve) and `CONNECT` (the
//!   tunnel's front end, not an API request), is [`RequestError::UnknownMethod`] (405).
//! - No `connect` verb: exec/attach/portforward are create (POST) or get (GET) on a subresource.
//! - Non-resource verbs are the method's verb (`create` for POST), not the lower-case method.
//! - The `namespaces` resource has an empty namespace (see `resource::classify`).
//! - Malformed URLs are errors instead of best guesses: empty, `.` and `..` segments, bad
//!   percent-encoding, control and raw non-ASCII characters, `;` in the query, non-numeric
//!   `limit`/`timeoutSeconds` (see [`RequestError`]).
//! - Segments are decoded one at a time, and an encoded `/` in a part that names something
//!   (group, version, namespace, resource, name, subresource) is refused.
//! - A `metadata.name` field selector does not fill [`RequestInfo::name`].
//!
//! ```
//! use yurt::k8s::request_info::{parse, Verb};
//! let info = parse("GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dedge-1&watch=true").unwrap();
//! assert_eq!(info.verb, Verb::Watch);
//! assert_eq!(info.resource, "nodes");
//! assert_eq!(info.field_selector.as_deref(), Some("metadata.name=edge-1"));
//! ```

mod decode;
mod error;
mod info;
mod invariants;
mod path;
mod query;
mod resource;
mod verb;

#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_fuzz_smoke;
#[cfg(test)]
mod tests_query;
#[cfg(test)]
mod tests_resource;

pub use error::RequestError;
pub use info::RequestInfo;
pub use verb::Verb;

/// Parses a request from its HTTP method and request target in origin form (`/path?query`).
///
/// Errors: [`RequestError::UnknownMethod`] for a method other than GET, HEAD, POST, PUT, PATCH,
/// DELETE; [`RequestError::BadPath`] / [`RequestError::BadQuery`] for a malformed URL. Checks run
/// in that order. List options are read only for resource requests.
pub fn parse(method: &str, path_and_query: &str) -> Result<RequestInfo, RequestError> {
    let base = verb::for_method(method)
        .ok_or_else(|| RequestError::UnknownMethod(error::quote(method)))?;
    let (raw_path, raw_query) = match decode::find_byte(path_and_query, b'?') {
        Some(i) => (&path_and_query[..i], &path_and_query[i + 1..]),
        None => (path_and_query, ""),
    };
    let mut segments = path::split(raw_path)?;
    let query = query::Query::parse(raw_query)?;
    match resource::classify(&mut segments.parts)? {
        None => Ok(RequestInfo::non_resource(base, segments.path)),
        Some(target) => resource_request(base, target, segments.path, &query),
    }
}

fn resource_request(
    base: Verb,
    target: resource::Target,
    path: String,
    query: &query::Query,
) -> Result<RequestInfo, RequestError> {
    let opts = query::list_options(query)?;
    let verb = target
        .path_verb
        .unwrap_or_else(|| verb::refine(base, !target.name.is_empty(), opts.watch));
    Ok(RequestInfo {
        is_resource: true,
        verb,
        path,
        api_prefix: target.api_prefix,
        group: target.group,
        version: target.version,
        namespace: target.namespace,
        resource: target.resource,
        subresource: target.subresource,
        name: target.name,
        label_selector: opts.label_selector,
        field_selector: opts.field_selector,
        resource_version: opts.resource_version,
        resource_version_match: opts.resource_version_match,
        timeout_seconds: opts.timeout_seconds,
        limit: opts.limit,
        continue_token: opts.continue_token,
        include_object: opts.include_object,
        send_initial_events: opts.send_initial_events,
        allow_watch_bookmarks: opts.allow_watch_bookmarks,
        watch: verb == Verb::Watch,
    })
}

/// The component a request comes from: its User-Agent up to the first `/`, trimmed and
/// lower-cased (`kubelet/v1.36.2 (linux/arm64) kubernetes/abcdef1` → `kubelet`,
/// `CoreDNS/1.14.2 ...` → `coredns`); `""` when the header is absent or empty.
///
/// The result can hold any character but `/`: whoever builds keys from it must escape it.
pub fn component(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let head = ua.split_once('/').map_or(ua, |(head, _)| head);
    head.trim().to_lowercase()
}
