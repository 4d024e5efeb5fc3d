//! Writes: create, update (whole object or `status`), patch, delete and TokenRequest, with the
//! defaulting and preconditions kube-apiserver applies (uid, timestamps, generation, conflicts).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::errors::DoubleError;
use super::meta::{meta_str, new_uid, now_secs, rfc3339};
use super::patch::{self, PatchKind};
use super::path::ResPath;
use super::resources::{self, Resource};
use super::store::{key, EventType, Store};

fn info(p: &ResPath) -> Result<&'static Resource, DoubleError> {
    resources::get(p.res).ok_or_else(|| DoubleError::UnknownPath(format!("resource #{}", p.res)))
}

fn metadata_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, DoubleError> {
    let o = obj
        .as_object_mut()
        .ok_or_else(|| DoubleError::BadRequest("the request body must be a JSON object".into()))?;
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut()
        .ok_or_else(|| DoubleError::BadRequest("metadata must be an object".into()))
}

/// Checks `kind`/`apiVersion` of a body against the resource and fills them in.
fn set_type(obj: &mut Value, res: &Resource) -> Result<(), DoubleError> {
    let av = res.api_version();
    for (k, want) in [("apiVersion", av.as_str()), ("kind", res.kind)] {
        match obj.get(k).and_then(Value::as_str) {
            Some(got) if !got.is_empty() && got != want => {
                return Err(DoubleError::BadRequest(format!("the {k} of the provided object ({got}) does not match the expected {k} ({want})")))
            }
            _ => {}
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("kind".into(), json!(res.kind));
        o.insert("apiVersion".into(), json!(av));
    }
    Ok(())
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    new_uid()
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .take(5)
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// Creates an object in the collection `p`; emits ADDED.
pub fn create(st: &mut Store, p: &ResPath, mut obj: Value) -> Result<Arc<Value>, DoubleError> {
    let res = info(p)?;
    if p.name.is_some() || p.sub.is_some() {
        return Err(DoubleError::MethodNotAllowed(format!(
            "create is not allowed on a named {} path",
            res.name
        )));
    }
    set_type(&mut obj, res)?;
    let meta = metadata_mut(&mut obj)?;
    let mut name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        let gen = meta
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if gen.is_empty() {
            return Err(DoubleError::Invalid {
                kind: res.kind.into(),
                name: String::new(),
                message: "metadata.name: Required value: name or generateName is required".into(),
            });
        }
        name = format!("{gen}{}", random_suffix());
        meta.insert("name".into(), json!(name));
    }
    let body_ns = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let ns = match (&p.namespace, res.namespaced) {
        (Some(ns), true) if !body_ns.is_empty() && &body_ns != ns => {
            return Err(DoubleError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()))
        }
        (Some(ns), true) => Some(ns.clone()),
        (None, true) => return Err(DoubleError::MethodNotAllowed(format!("{} must be created in a namespace", res.name))),
        _ => None,
    };
    match &ns {
        Some(ns) => meta.insert("namespace".into(), json!(ns)),
        None => meta.remove("namespace"),
    };
    let k = key(ns.as_deref(), &name);
    if st.get(p.res, &k).is_some() {
        return Err(DoubleError::AlreadyExists {
            resource: res.qualified_name(),
            group: res.group.into(),
            name,
        });
    }
    meta.insert("uid".into(), json!(new_uid()));
    meta.insert("creationTimestamp".into(), json!(rfc3339(now_secs())));
    meta.remove("deletionTimestamp");
    meta.remove("selfLink");
    if res.kind == "Namespace" {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    default_fields(&mut obj, res);
    Ok(st.commit(EventType::Added, p.res, &k, obj))
}

fn default_fields(obj: &mut Value, res: &Resource) {
    let Some(o) = obj.as_object_mut() else { return };
    if o.contains_key("spec")
        && !matches!(
            res.kind,
            "Node" | "Namespace" | "Service" | "PersistentVolume" | "PersistentVolumeClaim"
        )
    {
        if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("generation".into(), json!(1));
        }
    }
    match res.kind {
        "Pod" => {
            if let Some(st) = o
                .entry("status")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                st.entry("phase").or_insert_with(|| json!("Pending"));
            }
        }
        "Namespace" => {
            o.entry("spec")
                .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
            o.entry("status")
                .or_insert_with(|| json!({"phase": "Active"}));
        }
        _ => {}
    }
}

fn existing(
    st: &Store,
    p: &ResPath,
) -> Result<(&'static Resource, String, Arc<Value>), DoubleError> {
    let res = info(p)?;
    let name = p.name.clone().ok_or_else(|| {
        DoubleError::MethodNotAllowed(format!("this verb needs a named {} path", res.name))
    })?;
    let k = key(p.namespace.as_deref().filter(|_| res.namespaced), &name);
    let cur = st
        .get(p.res, &k)
        .ok_or_else(|| DoubleError::not_found(res, &name))?;
    Ok((res, k, cur))
}

fn conflict(res: &Resource, name: &str, why: String) -> DoubleError {
    DoubleError::Conflict {
        resource: res.qualified_name(),
        group: res.group.into(),
        name: name.into(),
        why,
    }
}

/// Replaces an object (or only its status for the `status` subresource); emits MODIFIED.
/// A stale `metadata.resourceVersion` or a different `metadata.uid` is a 409; a no-op changes nothing.
pub fn update(st: &mut Store, p: &ResPath, mut obj: Value) -> Result<Arc<Value>, DoubleError> {
    let (res, k, cur) = existing(st, p)?;
    let name = meta_str(&cur, "name").to_string();
    set_type(&mut obj, res)?;
    let body_name = meta_str(&obj, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(DoubleError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let body_rv = meta_str(&obj, "resourceVersion");
    if !body_rv.is_empty() && body_rv != meta_str(&cur, "resourceVersion") {
        return Err(conflict(res, &name, "the object has been modified; please apply your changes to the latest version and try again".into()));
    }
    let body_uid = meta_str(&obj, "uid");
    if !body_uid.is_empty() && body_uid != meta_str(&cur, "uid") {
        return Err(conflict(
            res,
            &name,
            format!(
                "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                meta_str(&cur, "uid")
            ),
        ));
    }
    let mut new = match p.sub.as_deref() {
        Some("status") => {
            let mut n = (*cur).clone();
            n["status"] = obj.get("status").cloned().unwrap_or(json!({}));
            n
        }
        _ if res.has_status() => {
            if let Some(o) = obj.as_object_mut() {
                match cur.get("status") {
                    Some(s) => o.insert("status".into(), s.clone()),
                    None => o.remove("status"),
                };
            }
            obj
        }
        _ => obj,
    };
    let cur_meta = cur.get("metadata").cloned().unwrap_or(json!({}));
    let meta = metadata_mut(&mut new)?;
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "resourceVersion",
        "generation",
        "deletionTimestamp",
    ] {
        match cur_meta.get(f) {
            Some(v) => meta.insert(f.into(), v.clone()),
            None => meta.remove(f),
        };
    }
    if new == *cur {
        return Ok(cur);
    }
    if new.get("spec") != cur.get("spec") {
        if let Some(g) = cur_meta.get("generation").and_then(Value::as_i64) {
            new["metadata"]["generation"] = json!(g + 1);
        }
    }
    Ok(st.commit(EventType::Modified, p.res, &k, new))
}

/// Patches an object (or its status); emits MODIFIED unless nothing changed.
pub fn patch(
    st: &mut Store,
    p: &ResPath,
    body: &Value,
    kind: PatchKind,
) -> Result<Arc<Value>, DoubleError> {
    let (_, _, cur) = existing(st, p)?;
    let patched = patch::apply(&cur, body, kind)?;
    update(st, p, patched)
}

/// Deletes an object at once (no graceful phase); emits DELETED. `uid`/`rv` are preconditions.
pub fn delete(
    st: &mut Store,
    p: &ResPath,
    uid: Option<&str>,
    rv: Option<&str>,
) -> Result<Arc<Value>, DoubleError> {
    let (res, k, cur) = existing(st, p)?;
    let name = meta_str(&cur, "name").to_string();
    if let Some(u) = uid.filter(|u| *u != meta_str(&cur, "uid")) {
        return Err(conflict(
            res,
            &name,
            format!(
                "Precondition failed: UID in precondition: {u}, UID in object meta: {}",
                meta_str(&cur, "uid")
            ),
        ));
    }
    if let Some(r) = rv.filter(|r| *r != meta_str(&cur, "resourceVersion")) {
        return Err(conflict(res, &name, format!("Precondition failed: ResourceVersion in precondition: {r}, ResourceVersion in object meta: {}", meta_str(&cur, "resourceVersion"))));
    }
    Ok(st.commit(EventType::Deleted, p.res, &k, (*cur).clone()))
}

/// `POST …/serviceaccounts/<sa>/token`: a TokenRequest with a (fake) token and its expiry.
pub fn token(st: &Store, p: &ResPath, mut req: Value) -> Result<Value, DoubleError> {
    let sa_path = ResPath {
        sub: None,
        ..p.clone()
    };
    let (_, _, sa) = existing(st, &sa_path)?;
    let secs = req
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(3600)
        .max(600);
    let now = now_secs();
    let ns = meta_str(&sa, "namespace");
    let name = meta_str(&sa, "name");
    if !req.is_object() {
        req = json!({});
    }
    req["kind"] = json!("TokenRequest");
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    // kube-apiserver answers a copy of the request: its metadata stays as sent (usually empty),
    // but must not name another ServiceAccount or namespace than the URL.
    let meta = metadata_mut(&mut req)?;
    for (k, want) in [("name", name), ("namespace", ns)] {
        if meta
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty() && v != want)
        {
            return Err(DoubleError::BadRequest(format!(
                "{k} in URL does not match {k} in TokenRequest object"
            )));
        }
    }
    meta.insert("creationTimestamp".into(), json!(rfc3339(now)));
    if !req.get("spec").is_some_and(Value::is_object) {
        req["spec"] = json!({});
    }
    req["spec"]["expirationSeconds"] = json!(secs);
    req["status"] = json!({
        "token": format!("yurt-double-token.{ns}.{name}.{}", new_uid()),
        "expirationTimestamp": rfc3339(now + secs),
    });
    Ok(req)
}

#[cfg(test)]
#[path = "objects_tests.rs"]
mod tests;
