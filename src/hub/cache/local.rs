//! The local responder: what clients get while no apiserver is reachable (DESIGN.md, "Offline
//! semantics"). Reads run on the blocking pool; every answer is counted by component/resource.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use smol::stream::{Stream, StreamExt};

use super::chunks;
use super::read::{self, Lookup, ObjectData, Served};
use super::render::{self, accepts, content_type};
use super::{nonresource, token, Cache, Kind, Target};
use crate::hub::upstream::Pool;
use crate::k8s::request_info::{RequestInfo, Verb};
use crate::k8s::selector_syntax;
use crate::k8s::status::Reason;
use crate::net::http::{full, Body, BoxError};
use crate::store::{Encoding, StoreError, ViewKey};

/// Whether the local responder accepts this write of a cached component offline: events
/// (echoed), TokenRequests, and kubelet's lease renewals, node status updates and CSINode
/// updates (a failing CSINode follow-up makes kubelet exit, see DESIGN.md).
pub fn takes_offline_write(cache: &Cache, info: &RequestInfo, component: &str) -> bool {
    if !(info.is_resource && cache.agents.includes(component)) {
        return false;
    }
    let r = (info.resource.as_str(), info.subresource.as_str());
    match info.verb {
        Verb::Create => info.resource == "events" || token::is_token_request(info),
        Verb::Update | Verb::Patch => matches!(
            r,
            ("leases", "") | ("nodes", "") | ("nodes", "status") | ("csinodes", "")
        ),
        _ => false,
    }
}

/// How long an offline watch without `timeoutSeconds` stays open at most.
const DEFAULT_WATCH_SECS: u64 = 1800;
/// How often an open offline watch checks whether the cloud is back.
const CLOUD_POLL: Duration = Duration::from_millis(250);

/// One offline request.
pub struct Offline {
    pub cache: Arc<Cache>,
    pub pool: Arc<Pool>,
    pub info: RequestInfo,
    pub component: String,
    pub headers: HeaderMap,
    /// The request body (writes), already read.
    pub body: Bytes,
}

impl Offline {
    /// The answer, or `None` when the cache has nothing to say (the caller sends its 503).
    pub async fn answer(self, target: Option<Target>) -> Option<Response<Body>> {
        let resp = match (&target, self.info.verb) {
            (Some(t), _) => self.read(t).await,
            (None, Verb::Delete | Verb::DeleteCollection) if self.cached_component() => status(
                403,
                Reason::Forbidden,
                "delete is not supported while the cloud is unreachable",
            ),
            (None, Verb::Create | Verb::Update | Verb::Patch)
                if takes_offline_write(&self.cache, &self.info, &self.component) =>
            {
                match self.info.verb {
                    Verb::Create if self.info.resource == "events" => self.echo(201),
                    Verb::Create => self.token().await,
                    _ => self.accept_write().await,
                }
            }
            (None, Verb::Get | Verb::List)
                if self.cache.agents.includes(&self.component)
                    && nonresource::is_cached_path(&self.info) =>
            {
                self.nonresource().await?
            }
            // `kubectl get -w` watches as a Table: nothing is cached of it, and offline there is
            // nothing to tell; it stays open like any other watch.
            (None, Verb::Watch)
                if self.cached_component()
                    && self.accept().is_some_and(super::table::asks_table) =>
            {
                self.stream(Encoding::Json, smol::stream::empty())
            }
            _ => return None,
        };
        self.cache
            .metrics
            .offline(&self.component, &self.info.resource, resp.status().as_u16());
        Some(resp)
    }

    fn cached_component(&self) -> bool {
        self.info.is_resource && self.cache.agents.includes(&self.component)
    }

    pub(super) fn accept(&self) -> Option<&str> {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
    }

    fn echo(&self, code: u16) -> Response<Body> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(header::HeaderValue::from_static("application/json"));
        Response::builder()
            .status(code)
            .header(header::CONTENT_TYPE, ct)
            .body(full(self.body.clone()))
            .unwrap_or_else(|_| status(500, Reason::InternalError, "bad response"))
    }

    /// PUT echoes the object sent; a node (status) PATCH answers the cached node with the patch
    /// applied (`node_patch.rs`), other PATCHes the cached object. The cache keeps what the
    /// cloud said, so offline LISTs still equal the last online ones. See docs/internals.md,
    /// "Offline writes".
    async fn accept_write(&self) -> Response<Body> {
        if self.info.verb == Verb::Update {
            return self.echo(200);
        }
        let view = super::view_of(&self.info, &self.component, true);
        match self.lookup(view).await {
            Ok(Lookup::Found(o, _)) if self.info.resource == "nodes" => self.patched(o),
            // Lease and CSINode PATCHes (kubelet PUTs them) answer the cached object as it is.
            Ok(Lookup::Found(o, _)) => self.object(o),
            Ok(_) => never_cached(&self.pool),
            Err(e) => store_failed(&e),
        }
    }

    /// `/version` or discovery as last answered online to the same Accept; `None`: never seen.
    async fn nonresource(&self) -> Option<Response<Body>> {
        let store = self.cache.store.clone();
        let (component, info) = (self.component.clone(), self.info.clone());
        let accept = self.header(header::ACCEPT).unwrap_or_default();
        let found =
            smol::unblock(move || nonresource::answer(&store, &component, &info, &accept)).await;
        match found {
            Ok(Some((ct, body))) => Some(
                Response::builder()
                    .status(200)
                    .header(header::CONTENT_TYPE, ct)
                    .body(full(Bytes::from(body)))
                    .unwrap_or_else(|_| status(500, Reason::InternalError, "bad response")),
            ),
            Ok(None) => None,
            Err(e) => Some(store_failed(&e)),
        }
    }

    async fn lookup(&self, view: ViewKey) -> Result<Lookup, StoreError> {
        let store = self.cache.store.clone();
        let accept = self.accept().map(str::to_string);
        smol::unblock(move || read::object(&store, &view, accept.as_deref())).await
    }

    /// A ServiceAccount token: the last one issued while valid, else a fake (see `token.rs`).
    async fn token(&self) -> Response<Body> {
        let store = self.cache.store.clone();
        let (component, info, body) =
            (self.component.clone(), self.info.clone(), self.body.clone());
        let ct = self.header(header::CONTENT_TYPE);
        let accept = self.header(header::ACCEPT);
        let answer = smol::unblock(move || {
            token::answer(
                &store,
                &component,
                &info,
                ct.as_deref(),
                &body,
                accept.as_deref(),
            )
        })
        .await;
        match answer {
            Ok(a) => {
                if a.source == token::Source::Fake {
                    log::info!(
                        "offline: no valid token cached for {} {}/{}; answering a fake one",
                        self.component,
                        self.info.namespace,
                        self.info.name
                    );
                }
                bytes(201, content_type(a.encoding, false), a.body)
            }
            Err(token::Refused::BadRequest(m)) => status(400, Reason::BadRequest, &m),
            Err(token::Refused::NotAcceptable) => not_acceptable(Encoding::Json),
            Err(token::Refused::Store(e)) => store_failed(&e),
        }
    }

    fn header(&self, name: header::HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    async fn read(&self, t: &Target) -> Response<Body> {
        if let Err(msg) = self.selectors_taken() {
            return status(400, Reason::BadRequest, &msg);
        }
        let paged = self
            .info
            .continue_token
            .as_deref()
            .is_some_and(|c| !c.is_empty());
        if paged && self.info.verb == Verb::List {
            // The rest of a paged LIST: the upstream's snapshot is gone. The apiserver's answer
            // for a compacted one, on which client-go's pager relists in full (served here).
            return status(410, Reason::Expired, CONTINUE_EXPIRED);
        }
        let store = self.cache.store.clone();
        let view = t.view.clone();
        let log = &self.cache.offline_log;
        match t.kind {
            Kind::Get => match self.lookup(view).await {
                Ok(Lookup::Found(o, meta)) => {
                    log.served(&t.view, &meta, || 1, None);
                    self.object(o)
                }
                Ok(Lookup::Absent(from, meta)) if self.info.resource != "csinodes" => {
                    log.served(&t.view, &meta, || 0, Some(&from));
                    not_found(&self.info)
                }
                Ok(_) => never_cached(&self.pool),
                Err(e) => store_failed(&e),
            },
            Kind::Table => match smol::unblock(move || read::view(&store, &view)).await {
                Ok(Some(v)) => {
                    log.served(&t.view, &v.meta, || v.items.len(), v.from.as_ref());
                    let (api, rv) = (&v.meta.api_version, v.meta.resource_version);
                    let one = self.info.verb == Verb::Get;
                    match super::table::offline_body(api, rv, &v.items, one) {
                        Some(body) => bytes(200, "application/json", body),
                        None => not_found(&self.info),
                    }
                }
                Ok(None) => never_cached(&self.pool),
                Err(e) => store_failed(&e),
            },
            Kind::List | Kind::Watch { list: true } => {
                let (cache, want) = (self.cache.clone(), t.view.clone());
                let found = smol::unblock(move || {
                    let v = read::served(&cache.store, &view)?;
                    if let Some(v) = &v {
                        // Counting a filtered view reads it: only for the outage's first line.
                        let log = &cache.offline_log;
                        log.served(&want, &v.meta, || v.count(), v.from.as_ref());
                    }
                    Ok(v)
                });
                match found.await {
                    Ok(Some(v)) if t.kind == Kind::List => self.list(v),
                    Ok(Some(v)) => self.watch_list(v),
                    Ok(None) => never_cached(&self.pool),
                    Err(e) => store_failed(&e),
                }
            }
            Kind::Watch { list: false } => self.empty_watch(t).await,
        }
    }

    /// A collection request's selectors as kube-apiserver parses them: where it answers 400, so
    /// does the hub, even when the selector's normalised form names a cached view (`a=1,`).
    /// A GET takes no selectors, so the apiserver ignores them there.
    fn selectors_taken(&self) -> Result<(), String> {
        if self.info.verb == Verb::Get {
            return Ok(());
        }
        let labels = self.info.label_selector.as_deref().unwrap_or_default();
        let fields = self.info.field_selector.as_deref().unwrap_or_default();
        selector_syntax::check_labels(labels)?;
        selector_syntax::check_fields(fields)
    }

    pub(super) fn object(&self, o: ObjectData) -> Response<Body> {
        if !accepts(self.accept(), o.encoding) {
            return not_acceptable(o.encoding);
        }
        match render::object(o.encoding, &o.api_version, &o.kind, &o.bytes) {
            Ok(b) => bytes(200, content_type(o.encoding, false), b),
            Err(e) => status(500, Reason::InternalError, &format!("cached object: {e}")),
        }
    }

    /// Written as the store is read (`chunks.rs`), whatever the size of the view.
    fn list(&self, v: Served) -> Response<Body> {
        if !accepts(self.accept(), v.meta.encoding) {
            return not_acceptable(v.meta.encoding);
        }
        let ct = content_type(v.meta.encoding, false);
        Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, ct)
            .body(StreamBody::new(chunks::list(v)).boxed_unsync())
            .unwrap_or_else(|_| status(500, Reason::InternalError, "bad response"))
    }

    fn watch_list(&self, v: Served) -> Response<Body> {
        if !accepts(self.accept(), v.meta.encoding) {
            return not_acceptable(v.meta.encoding);
        }
        let enc = v.meta.encoding;
        self.stream(enc, chunks::watch_list(v))
    }

    async fn empty_watch(&self, t: &Target) -> Response<Body> {
        let store = self.cache.store.clone();
        let (c, g) = (t.view.component.clone(), t.view.gvr.clone());
        let stored = smol::unblock(move || store.views_for(&c, &g)).await.ok();
        if let Some((v, m)) = stored.iter().flatten().find(|(v, _)| *v == t.view) {
            self.cache
                .offline_log
                .served(v, m, || m.count as usize, None);
        }
        let enc = match stored.and_then(|v| v.first().map(|(_, m)| m.encoding)) {
            Some(e) => e,
            None if accepts(self.accept(), Encoding::Protobuf) => Encoding::Protobuf,
            None => Encoding::Json,
        };
        if !accepts(self.accept(), enc) {
            return not_acceptable(enc);
        }
        self.stream(enc, smol::stream::empty())
    }

    /// 200, `prefix`, then nothing until timeoutSeconds or the cloud is back; then a clean end.
    fn stream(
        &self,
        enc: Encoding,
        prefix: impl Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static,
    ) -> Response<Body> {
        let secs = self.info.timeout_seconds.unwrap_or(DEFAULT_WATCH_SECS);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let pool = self.pool.clone();
        let wait = smol::stream::once_future(async move {
            loop {
                let now = Instant::now();
                if now >= deadline || pool.servers().iter().any(|s| s.is_healthy()) {
                    return;
                }
                smol::Timer::after(CLOUD_POLL.min(deadline - now)).await;
            }
        })
        .filter_map(|()| None);
        Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, content_type(enc, true))
            .body(StreamBody::new(prefix.chain(wait)).boxed_unsync())
            .unwrap_or_else(|_| status(500, Reason::InternalError, "bad response"))
    }
}

/// kube-apiserver's message for a `continue` it can no longer honour (and gives no new token for).
const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

fn bytes(code: u16, ct: &'static str, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, ct)
        .body(full(body))
        .unwrap_or_else(|_| status(500, Reason::InternalError, "bad response"))
}

pub(super) fn status(code: u16, reason: Reason, msg: &str) -> Response<Body> {
    crate::hub::proxy::status_response(code, reason, msg)
}

fn never_cached(pool: &Pool) -> Response<Body> {
    let states: Vec<String> = pool.servers().iter().map(|s| s.describe()).collect();
    let msg = format!(
        "no healthy apiserver ({}) and this data was never cached by the hub",
        states.join("; ")
    );
    status(503, Reason::ServiceUnavailable, &msg)
}

/// What kube-apiserver answers for an object that does not exist.
fn not_found(info: &RequestInfo) -> Response<Body> {
    let msg = format!("{} \"{}\" not found", info.resource, info.name);
    let body = crate::k8s::status::failure_for(
        404,
        Reason::NotFound,
        &msg,
        &info.name,
        &info.group,
        &info.resource,
    );
    bytes(404, "application/json", body)
}

fn not_acceptable(enc: Encoding) -> Response<Body> {
    let msg = format!(
        "the cloud is unreachable and the cached answer is {}, which the Accept header refuses",
        content_type(enc, false)
    );
    status(406, Reason::NotAcceptable, &msg)
}

fn store_failed(e: &StoreError) -> Response<Body> {
    log::warn!("cache: offline read failed: {e}");
    status(
        503,
        Reason::ServiceUnavailable,
        &format!("the cloud is unreachable and the cache failed: {e}"),
    )
}
