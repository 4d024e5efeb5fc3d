//! A Kubernetes API double for tests, benchmarks and the sandbox (shape checked against real captures).
//!
//! [`ApiDouble`] keeps objects as JSON in memory and serves them over HTTP/1.1 (TLS optional) the
//! way kube-apiserver does: discovery (plain and aggregated `apidiscovery.k8s.io/v2`), get / list /
//! watch / create / update / patch / delete, `status` subresources, ServiceAccount tokens,
//! label and field selectors, limit/continue, resourceVersion semantics with compaction (410),
//! bookmarks, WatchList (`sendInitialEvents`), server-side Tables for kubectl, and JSON, YAML or
//! Kubernetes protobuf answers chosen from `Accept`. Callers drive it directly too
//! ([`ApiDouble::create`], …), and every request is logged for assertions ([`ApiDouble::requests`]).
//!
//! Limitations, on purpose:
//! - **Protobuf answers carry live metadata but fixture spec/status.** The double has no schemas,
//!   so the protobuf form of an object is its ObjectMeta (encoded from the JSON) followed by the
//!   non-metadata fields of `tests/fixtures/k8s-api-testdata/<group>.<version>.<Kind>.pb`. Clients
//!   that read only metadata (caches, the hub) see real data; a kubelet reading a pod's spec in
//!   protobuf would not. TokenRequest and Status are fully encoded.
//!   [`ApiDouble::set_protobuf`]`(false)` (CLI `--no-protobuf`) answers JSON to clients that also
//!   accept it, e.g. for `kubectl describe`, which asks for protobuf.
//! - Protobuf *request* bodies are refused with 415 (but TokenRequests, which kubelet sends in
//!   protobuf); server-side apply too. Strategic merge patch is the hub's (`k8s::patch`, every
//!   directive), with list strategies chosen by field name (conditions, containers, addresses,
//!   finalizers, …) rather than per type.
//! - Deletion is immediate (no graceful phase, no finalizers, no garbage collection); namespaces are
//!   not required to exist; there is no admission, validation beyond names, or managedFields.
//! - Field selectors accept any dotted JSON path (the real server allows a fixed set per kind).
//! - One resource version per group (`v1`); `/openapi/*` is 404, so `kubectl create/apply -f`
//!   need `--validate=false`.
//! - `resourceVersion=0` lists ignore `limit` (as the apiserver's watch cache does); a continue
//!   token lists the snapshot of its first page (rebuilt from the retained history).

pub mod cli;
pub mod discovery;
pub mod encode_pb;
pub mod errors;
pub mod handler;
pub mod list;
pub mod meta;
pub mod negotiate;
pub mod objects;
pub mod patch;
pub mod path;
pub mod render;
pub mod resources;
pub mod seed;
pub mod selectors;
pub mod store;
pub mod table;
pub mod watch;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::sync::lock;
pub use errors::DoubleError;
use path::{route, ResPath, Route};
use store::Store;

/// One request the double served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path_and_query: String,
    /// `User-Agent` ("" when absent).
    pub user_agent: String,
    /// `Accept` ("" when absent).
    pub accept: String,
    pub authorization: Option<String>,
    /// The client presented a certificate the TLS config verified.
    pub client_cert: bool,
}

/// Behaviour knobs (all defaults documented on their setters).
#[derive(Debug, Clone)]
struct Settings {
    bookmark_interval: Duration,
    require_auth: bool,
    delay: Duration,
    protobuf: bool,
}

#[derive(Debug)]
struct Inner {
    store: Mutex<Store>,
    requests: Mutex<Vec<LoggedRequest>>,
    settings: Mutex<Settings>,
}

/// The Kubernetes API double. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct ApiDouble {
    inner: Arc<Inner>,
}

impl Default for ApiDouble {
    fn default() -> Self {
        ApiDouble::new()
    }
}

fn resource_path(path: &str) -> Result<ResPath, DoubleError> {
    match route(path) {
        Route::Resource(p) => Ok(p),
        _ => Err(DoubleError::UnknownPath(path.to_string())),
    }
}

impl ApiDouble {
    /// An empty store (resourceVersion 1) serving the standard resource table.
    pub fn new() -> ApiDouble {
        ApiDouble {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::new()),
                requests: Mutex::new(Vec::new()),
                settings: Mutex::new(Settings {
                    bookmark_interval: Duration::from_secs(60),
                    require_auth: true,
                    delay: Duration::ZERO,
                    protobuf: true,
                }),
            }),
        }
    }

    /// A small cluster around `node`: namespaces `default` and `kube-system`, the Node (labels,
    /// addresses, Ready), three pods on it (one in kube-system), one pod on `other-node`, the
    /// `kubernetes` Service and a ConfigMap. See [`seed::sandbox`].
    pub fn sandbox(node: &str) -> ApiDouble {
        let d = ApiDouble::new();
        seed::sandbox(&d, node);
        d
    }

    /// Creates an object in the collection at `path` (`/api/v1/namespaces/default/pods`); assigns
    /// uid, creationTimestamp and resourceVersion and emits ADDED.
    pub fn create(&self, path: &str, obj: Value) -> Result<Value, DoubleError> {
        let p = resource_path(path)?;
        objects::create(&mut self.store(), &p, obj).map(|o| (*o).clone())
    }

    /// Replaces the object at `path` (or its status, for `…/status`); emits MODIFIED.
    pub fn update(&self, path: &str, obj: Value) -> Result<Value, DoubleError> {
        let p = resource_path(path)?;
        objects::update(&mut self.store(), &p, obj).map(|o| (*o).clone())
    }

    /// Deletes the object at `path` and returns its last state; emits DELETED.
    pub fn delete(&self, path: &str) -> Result<Value, DoubleError> {
        let p = resource_path(path)?;
        objects::delete(&mut self.store(), &p, None, None).map(|o| (*o).clone())
    }

    /// The object at `path`, if any.
    pub fn get(&self, path: &str) -> Option<Value> {
        let p = resource_path(path).ok()?;
        let res = resources::get(p.res)?;
        let name = p.name.as_deref()?;
        let key = store::key(p.namespace.as_deref().filter(|_| res.namespaced), name);
        self.store().get(p.res, &key).map(|o| (*o).clone())
    }

    /// The objects of the collection at `path` (all namespaces for a cluster-wide path), in key order.
    pub fn list(&self, path: &str) -> Result<Vec<Value>, DoubleError> {
        let p = resource_path(path)?;
        let page = list::list(
            &self.store(),
            p.res,
            p.namespace.as_deref(),
            &list::Query::default(),
        )?;
        Ok(page.items.iter().map(|o| (**o).clone()).collect())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.store().rv()
    }

    /// Forgets the event history up to now: a later watch or exact list from an older
    /// resourceVersion gets 410 Expired.
    pub fn compact(&self) {
        self.store().compact();
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    /// Open watch streams right now.
    pub fn watch_count(&self) -> usize {
        self.store().watchers()
    }

    /// How often watches with `allowWatchBookmarks` get a BOOKMARK (default 60 s, like the apiserver).
    pub fn set_bookmark_interval(&self, d: Duration) {
        lock(&self.inner.settings).bookmark_interval = d.max(Duration::from_millis(10));
    }

    /// Whether requests need a bearer token or a verified client certificate (default true;
    /// `/healthz`, `/readyz`, `/livez` and `/version` are always open).
    pub fn set_require_auth(&self, on: bool) {
        lock(&self.inner.settings).require_auth = on;
    }

    /// Whether answers may be protobuf (default true, as the apiserver). Off, clients that also
    /// accept JSON get JSON: handy for humans with `kubectl describe`, since protobuf spec/status
    /// come from fixtures.
    pub fn set_protobuf(&self, on: bool) {
        lock(&self.inner.settings).protobuf = on;
    }

    /// Delays every answer except health checks (default zero), to test timeouts.
    pub fn set_delay(&self, d: Duration) {
        lock(&self.inner.settings).delay = d;
    }

    /// Serves until `shutdown` fires; open connections get one second to finish.
    pub async fn serve(
        &self,
        listener: smol::net::TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        shutdown: crate::net::shutdown::Shutdown,
    ) {
        let me = self.clone();
        let sd = shutdown.clone();
        let handler = move |req, info| handler::handle(me.clone(), req, info, sd.clone());
        crate::net::http::serve(listener, tls, shutdown, Duration::from_secs(1), handler).await;
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    pub(crate) fn store_mutex(&self) -> &Mutex<Store> {
        &self.inner.store
    }

    fn settings(&self) -> Settings {
        lock(&self.inner.settings).clone()
    }

    fn log(&self, r: LoggedRequest) {
        lock(&self.inner.requests).push(r);
    }
}
