//! Resource paths: the API prefix, group, version, namespace, resource, name and subresource a path names.

use super::decode::has_byte;
use super::error::{quote, RequestError};
use super::verb::Verb;

/// What a resource path names. Empty strings for parts the path does not have.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Target {
    pub api_prefix: String,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub name: String,
    pub subresource: String,
    /// `Watch` or `Proxy` when the verb came from a `/watch/` or `/proxy/` path prefix.
    pub path_verb: Option<Verb>,
}

/// Subresources of a namespace (`/namespaces/<ns>/status`), as opposed to resources inside it.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Classifies decoded path segments the way kube-apiserver's RequestInfoFactory does;
/// `Ok(None)` for a non-resource path (`/version`, `/api`, `/apis/<group>/<version>`, ...).
///
/// One difference on purpose: for the `namespaces` resource itself (`/api/v1/namespaces/<ns>`,
/// `.../<ns>/status`) the namespace stays empty, because a Namespace object is cluster-scoped
/// (its `metadata.namespace` is empty) and cache keys must agree with the objects a LIST returns.
///
/// The segments that name something are moved into the target (left empty in `parts`).
pub(super) fn classify(parts: &mut [String]) -> Result<Option<Target>, RequestError> {
    let mut target = Target::default();
    let rest = match parts {
        [prefix, version, rest @ ..] if prefix == "api" && !rest.is_empty() => {
            target.api_prefix = take(prefix);
            target.version = take(version);
            rest
        }
        [prefix, group, version, rest @ ..] if prefix == "apis" && !rest.is_empty() => {
            target.api_prefix = take(prefix);
            target.group = take(group);
            target.version = take(version);
            rest
        }
        _ => return Ok(None),
    };
    let rest = strip_path_verb(&mut target, rest)?;
    let rest = enter_namespace(&mut target, rest);
    name_parts(&mut target, rest);
    check_no_slash(&target)?;
    Ok(Some(target))
}

/// Consumes a `/watch/` or `/proxy/` prefix; it must be followed by at least a resource.
fn take(s: &mut String) -> String {
    std::mem::take(s)
}

fn strip_path_verb<'a>(
    target: &mut Target,
    rest: &'a mut [String],
) -> Result<&'a mut [String], RequestError> {
    let verb = match rest.first().map(String::as_str) {
        Some("watch") => Verb::Watch,
        Some("proxy") => Verb::Proxy,
        _ => return Ok(rest),
    };
    if rest.len() < 2 {
        return Err(RequestError::BadPath(format!(
            "/{verb}/ must be followed by a resource"
        )));
    }
    target.path_verb = Some(verb);
    Ok(&mut rest[1..])
}

/// Consumes `namespaces/<ns>` when a namespaced resource follows; leaves it when the path is
/// about the namespace itself.
fn enter_namespace<'a>(target: &mut Target, rest: &'a mut [String]) -> &'a mut [String] {
    let namespaced = matches!(&rest[..], [ns_word, _, next, ..]
        if ns_word == "namespaces" && !NAMESPACE_SUBRESOURCES.contains(&next.as_str()));
    if !namespaced {
        return rest;
    }
    target.namespace = take(&mut rest[1]);
    &mut rest[2..]
}

/// Reads `resource[/name[/subresource[/anything...]]]`; the `/proxy/` prefix takes no subresource.
fn name_parts(target: &mut Target, rest: &mut [String]) {
    let mut it = rest.iter_mut();
    if let Some(resource) = it.next() {
        target.resource = take(resource);
    }
    if let Some(name) = it.next() {
        target.name = take(name);
    }
    if target.path_verb != Some(Verb::Proxy) {
        if let Some(sub) = it.next() {
            target.subresource = take(sub);
        }
    }
}

/// Refuses a decoded `/` (sent as `%2F`) in any part that names something; later segments
/// (a proxy subresource's path) may hold one.
fn check_no_slash(target: &Target) -> Result<(), RequestError> {
    let named = [
        &target.group,
        &target.version,
        &target.namespace,
        &target.resource,
        &target.name,
        &target.subresource,
    ];
    match named.iter().find(|part| has_byte(part, b'/')) {
        Some(part) => Err(RequestError::BadPath(format!(
            "{} names an API object but contains an encoded '/'",
            quote(part)
        ))),
        None => Ok(()),
    }
}
