//! Non-resource GETs (`/version` and discovery: `/api`, `/api/v1`, `/apis`, `/apis/<g>/<v>`):
//! DESIGN.md, "Offline semantics", answers them offline "from what was stored online".
//!
//! Online, a cached component's 2xx answer is kept as sent (body and Content-Type), keyed by path
//! and the request's Accept header: discovery answers differ by Accept (aggregated `apidiscovery`
//! v2 or the legacy lists), and a client sends the same Accept each time. Offline, the same path
//! and Accept get that answer back; anything else is left to the caller's 503.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap, StatusCode};

use super::tee::CopyTx;
use super::Cache;
use crate::k8s::request_info::{RequestInfo, Verb};
use crate::store::{Encoding, Gvr, Item, ListMeta, Store, StoreError, ViewKey};

/// Largest answer kept (aggregated discovery of a big cluster is a few hundred KiB).
const MAX_ANSWER: usize = 4 << 20;

/// Whether a request is a non-resource GET whose answer the cache keeps.
pub fn is_cached_path(info: &RequestInfo) -> bool {
    if info.is_resource || !matches!(info.verb, Verb::Get | Verb::List) {
        return false;
    }
    let p = info.path.trim_end_matches('/');
    let segs: Vec<&str> = p.split('/').skip(1).collect();
    match segs.as_slice() {
        ["version"] | ["api"] | ["apis"] => true,
        ["api", v] => !v.is_empty(),
        ["apis", g, v] => !g.is_empty() && !v.is_empty(),
        _ => false,
    }
}

fn gvr() -> Gvr {
    Gvr::new("", "", "nonresource")
}

/// Whether a stored view holds a non-resource answer.
pub fn is_view(view: &ViewKey) -> bool {
    view.gvr == gvr()
}

/// The store view of one path + Accept (a single-object view: `name` holds the key).
fn view(component: &str, path: &str, accept: &str) -> ViewKey {
    ViewKey {
        component: component.to_string(),
        gvr: gvr(),
        name: format!("{path}\0{accept}"),
        ..ViewKey::default()
    }
}

/// A stored answer: `u16` length of the Content-Type, the Content-Type, then the body.
fn pack(content_type: &str, body: &[u8]) -> Vec<u8> {
    let ct = content_type.as_bytes();
    let mut out = Vec::with_capacity(2 + ct.len() + body.len());
    out.extend_from_slice(&(ct.len() as u16).to_be_bytes());
    out.extend_from_slice(ct);
    out.extend_from_slice(body);
    out
}

fn unpack(stored: &[u8]) -> Option<(String, Vec<u8>)> {
    let len = u16::from_be_bytes(stored.get(..2)?.try_into().ok()?) as usize;
    let ct = std::str::from_utf8(stored.get(2..2 + len)?).ok()?;
    Some((ct.to_string(), stored[2 + len..].to_vec()))
}

/// Starts keeping a 2xx, identity-encoded answer; `None` when it is not one to keep.
pub fn start(
    cache: &Arc<Cache>,
    info: &RequestInfo,
    component: &str,
    accept: &str,
    status: StatusCode,
    h: &HeaderMap,
) -> Option<CopyTx> {
    let ct = h.get(header::CONTENT_TYPE)?.to_str().ok()?.to_string();
    if !super::tee::keepable(status, h) || ct.len() > 1024 {
        return None;
    }
    let (tx, rx) = super::tee::copies(cache.writer_lag);
    let cache = cache.clone();
    let view = view(component, &info.path, accept);
    smol::spawn(async move {
        if let Some(body) = super::tee::collect(rx, MAX_ANSWER).await {
            smol::unblock(move || keep(&cache, &view, &ct, &body)).await;
        }
    })
    .detach();
    Some(tx)
}

fn keep(cache: &Cache, view: &ViewKey, content_type: &str, body: &[u8]) {
    // A later answer always replaces an earlier one: its "resourceVersion" is the time kept.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64);
    let meta = ListMeta {
        api_version: String::new(),
        kind: String::new(),
        resource_version: now,
        encoding: Encoding::Json,
    };
    let bytes = pack(content_type, body);
    let item = Item {
        namespace: "",
        name: &view.name,
        resource_version: now,
        bytes: &bytes,
    };
    if let Err(e) = cache.store.put_object(view, &meta, &item) {
        log::warn!(
            "cache: {} answer not kept: {e}",
            view.name.split('\0').next().unwrap_or("")
        );
        cache.metrics.write_failure("io");
    }
}

/// The stored answer (Content-Type, body) to the same path and Accept, if any (blocking).
pub fn answer(
    store: &Store,
    component: &str,
    info: &RequestInfo,
    accept: &str,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let Some((_, items)) = store.list(&view(component, &info.path, accept))? else {
        return Ok(None);
    };
    Ok(items.first().and_then(|i| unpack(i.bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::request_info::parse;

    fn info(path: &str) -> RequestInfo {
        parse("GET", path).expect("parses")
    }

    #[test]
    fn version_and_discovery_paths_are_kept_and_nothing_else() {
        for p in [
            "/version",
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps/v1",
            "/version/",
        ] {
            assert!(is_cached_path(&info(p)), "{p}");
        }
        for p in [
            "/healthz",
            "/openapi/v2",
            "/apis/apps",
            "/api/v1/pods",
            "/metrics",
            "/",
        ] {
            assert!(!is_cached_path(&info(p)), "{p}");
        }
    }

    #[test]
    fn packing_round_trips_and_rejects_short_records() {
        let p = pack("application/json;g=apidiscovery.k8s.io;v=v2", b"{\"a\":1}");
        assert_eq!(
            unpack(&p),
            Some((
                "application/json;g=apidiscovery.k8s.io;v=v2".to_string(),
                b"{\"a\":1}".to_vec()
            ))
        );
        assert_eq!(unpack(&[0]), None);
        assert_eq!(unpack(&[0, 9, b'a']), None);
    }
}
