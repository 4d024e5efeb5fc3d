//! Offline node (status) PATCHes: the cached node with the patch applied, in the stored
//! encoding, as DESIGN.md's "Offline semantics" asks; the cache itself is not changed.

use std::collections::BTreeSet;
use std::sync::Mutex;

use http::{header, Response};

use super::local::{status, Offline};
use super::read::{wire, ObjectData};
use super::render::accepts;
use crate::k8s::patch::{apply_node, PatchError, PatchKind, Scope};
use crate::k8s::status::Reason;
use crate::net::http::Body;

/// How many distinct unapplied patch keys are logged (once each) before the hub stops noting
/// new ones: keys come from clients, so the set must stay bounded.
const LOGGED_KEYS: usize = 64;

impl Offline {
    /// The answer to a PATCH of `nodes/<n>` or `nodes/<n>/status` found cached as `o`: the node
    /// with the patch applied, its resourceVersion as cached. JSON patches (RFC 6902) and
    /// server-side apply are not applied: those get the cached node as it is.
    pub(super) fn patched(&self, o: ObjectData) -> Response<Body> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let kind = match PatchKind::from_content_type(ct) {
            Ok(Some(kind)) => kind,
            Ok(None) => return self.object(o),
            Err(e) => return status(415, Reason::UnsupportedMediaType, &e.to_string()),
        };
        if !accepts(self.accept(), o.encoding) {
            return self.object(o); // the 406 `object` gives
        }
        let scope = match self.info.subresource.as_str() {
            "status" => Scope::Status,
            _ => Scope::Object,
        };
        match apply_node(wire(o.encoding), &o.bytes, kind, &self.body, scope) {
            Ok(p) => {
                log_unapplied(&self.info.name, &p.ignored);
                self.object(ObjectData {
                    bytes: p.bytes,
                    ..o
                })
            }
            Err(e @ PatchError::BadObject(_)) => {
                log::warn!("cache: offline patch of node {}: {e}", self.info.name);
                status(500, Reason::InternalError, &e.to_string())
            }
            Err(e @ PatchError::UnsupportedMediaType(_)) => {
                status(415, Reason::UnsupportedMediaType, &e.to_string())
            }
            Err(e) => status(400, Reason::BadRequest, &e.to_string()),
        }
    }
}

/// One debug line per patch key the protobuf patcher leaves as cached, the first time it is seen.
fn log_unapplied(node: &str, keys: &[String]) {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if keys.is_empty() {
        return;
    }
    let mut seen = crate::sync::lock(&SEEN);
    for k in keys {
        if seen.len() < LOGGED_KEYS && seen.insert(k.clone()) {
            log::debug!(
                "offline: node {node} patch key {k} is not applied to protobuf nodes; answered as cached"
            );
        }
    }
}
