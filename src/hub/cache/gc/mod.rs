//! Cache GC at start: once an apiserver is reachable, drop what no longer exists upstream.
//!
//! One pass per hub start, view by view, with the hub's own identity and metadata-only requests
//! (`as=PartialObjectMetadata[List]`, light on a weak link):
//! - a GET's own view whose object now answers 404, or exists with another uid, is dropped;
//! - a collection view that misses nothing upstream is left alone; one holding objects the
//!   upstream no longer lists with its selectors (pods no longer bound to this node, deleted
//!   objects) is replaced by a fresh LIST in its encoding, so it stays a complete state the
//!   upstream really had, never a pruned mix;
//! - a collection whose resource answers 404 (its API is gone) is dropped.
//!
//! Any other answer leaves the view as it is: timeouts, 403, 5xx, transport errors, cut or
//! undecodable bodies. A transport error marks the server unhealthy; the pass waits until one
//! is healthy again and asks again (at most three times per view). Kubectl's table views are not collected. Every drop is logged and
//! counted (`node_yurthub_cache_gc_*` in `/metrics`).

mod fetch;
pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use smol::future::FutureExt;

use self::fetch::Listed;
use self::plan::{Failure, Ident, ObjectVerdict, ACCEPT_LIST_META, ACCEPT_OBJECT_META};
use super::decode::{self, store_encoding, Decoded};
use super::Cache;
use crate::hub::upstream::Pool;
use crate::k8s::json::decode_list_json;
use crate::k8s::meta::{meta as object_meta, Encoding as Wire};
use crate::net::shutdown::Shutdown;
use crate::store::{Committed, Encoding, ListMeta, ViewKey, ViewMeta};

/// How long one GC request (headers and body) may take (default 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a paused pass looks for a healthy apiserver.
const ONLINE_POLL: Duration = Duration::from_millis(250);
/// Tries per view when the upstream cannot be reached.
const MAX_ATTEMPTS: u32 = 3;
/// Names listed in one log line.
const LOGGED_NAMES: usize = 10;

/// What the GC did with one view.
#[derive(Debug)]
enum Outcome {
    Kept,
    Dropped {
        objects: u64,
        why: &'static str,
    },
    Relisted {
        gone: Vec<String>,
        resource_version: u64,
    },
    Left(Failure),
    Skipped,
}

struct Gc {
    cache: Arc<Cache>,
    pool: Arc<Pool>,
    timeout: Duration,
}

/// Runs one GC pass once an apiserver is healthy; returns early on shutdown.
pub async fn run(cache: Arc<Cache>, pool: Arc<Pool>, timeout: Duration, shutdown: Shutdown) {
    let gc = Gc {
        cache,
        pool,
        timeout,
    };
    gc.pass().or(shutdown.wait()).await
}

impl Gc {
    async fn pass(&self) {
        self.online().await;
        let store = self.cache.store.clone();
        let views = match smol::unblock(move || store.views()).await {
            Ok(v) => v,
            Err(e) => {
                log::warn!("cache gc: cannot list the cached views: {e}; nothing collected");
                return;
            }
        };
        let mut tally: HashMap<&'static str, u64> = HashMap::new();
        for (view, meta) in &views {
            let outcome = self.checked(view, meta).await;
            *tally.entry(self.record(view, outcome)).or_default() += 1;
        }
        let n = |k| tally.get(k).copied().unwrap_or(0);
        log::info!(
            "cache gc: {} views checked: {} kept, {} dropped, {} relisted, {} left as they were (no definite answer), {} skipped",
            views.len(),
            n("kept"),
            n("dropped"),
            n("relisted"),
            n("left"),
            n("skipped")
        );
        self.cache.metrics.gc_pass();
    }

    /// The view's outcome; a request that never reached an apiserver is tried again once one
    /// is healthy, up to [`MAX_ATTEMPTS`] times.
    async fn checked(&self, view: &ViewKey, meta: &ViewMeta) -> Outcome {
        let mut attempts = 0;
        loop {
            self.online().await;
            attempts += 1;
            match self.view(view, meta).await {
                Outcome::Left(Failure::Transport(e)) if attempts < MAX_ATTEMPTS => {
                    log::debug!(
                        "cache gc: {}: {e}; trying again once online",
                        describe(view)
                    );
                }
                outcome => return outcome,
            }
        }
    }

    /// Waits until some apiserver counts as healthy.
    async fn online(&self) {
        while !self.pool.servers().iter().any(|s| s.is_healthy()) {
            smol::Timer::after(ONLINE_POLL).await;
        }
    }

    async fn view(&self, view: &ViewKey, meta: &ViewMeta) -> Outcome {
        // Tables, kept tokens and /version/discovery answers are not objects the upstream can be
        // asked about by name: they are replaced when the client asks again online.
        if view.component.ends_with(super::table::TABLE_SUFFIX)
            || super::token::is_view(view)
            || super::nonresource::is_view(view)
        {
            return Outcome::Skipped;
        }
        let r = if view.name.is_empty() {
            self.collection(view, meta).await
        } else {
            self.object(view, meta).await
        };
        r.unwrap_or_else(Outcome::Left)
    }

    /// A GET's own view: dropped when its object answers 404 or has another uid.
    async fn object(&self, view: &ViewKey, meta: &ViewMeta) -> Result<Outcome, Failure> {
        let cached = self.cached(view, meta.encoding).await?;
        let uid = cached.first().map(|i| i.uid.as_str()).unwrap_or_default();
        let path = plan::path(view);
        let reply = fetch::get(&self.pool, &path, ACCEPT_OBJECT_META, self.timeout).await?;
        let upstream_uid = (reply.status == 200)
            .then(|| object_meta(Wire::Json, &reply.body).ok())
            .flatten()
            .filter(|m| m.name == view.name)
            .map(|m| m.uid);
        match plan::object_verdict(reply.status, uid, upstream_uid.as_deref())? {
            ObjectVerdict::Exists => Ok(Outcome::Kept),
            ObjectVerdict::Gone => self.drop_view(view, meta, "answers 404 upstream").await,
            ObjectVerdict::Replaced => {
                self.drop_view(
                    view,
                    meta,
                    "was replaced upstream by an object with a new uid",
                )
                .await
            }
        }
    }

    /// A collection view: relisted when it holds objects the upstream no longer lists.
    async fn collection(&self, view: &ViewKey, meta: &ViewMeta) -> Result<Outcome, Failure> {
        let mut upstream = HashMap::new();
        let listed = fetch::list(&self.pool, view, ACCEPT_LIST_META, self.timeout, |r| {
            metadata_page(&r.body, &mut upstream)
        })
        .await?;
        if listed == Listed::NotFound {
            return self
                .drop_view(view, meta, "its resource answers 404 upstream")
                .await;
        }
        let cached = self.cached(view, meta.encoding).await?;
        let gone: Vec<String> = plan::gone(&cached, &upstream)
            .iter()
            .map(|i| qualified(&i.namespace, &i.name))
            .collect();
        if gone.is_empty() {
            return Ok(Outcome::Kept);
        }
        self.relist(view, meta.encoding, gone).await
    }

    /// Replaces the view with a fresh LIST in its encoding (refused if older than the view).
    async fn relist(
        &self,
        view: &ViewKey,
        enc: Encoding,
        gone: Vec<String>,
    ) -> Result<Outcome, Failure> {
        let accept = match enc {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/vnd.kubernetes.protobuf",
        };
        let mut whole: Option<(Wire, Decoded)> = None;
        let listed = fetch::list(&self.pool, view, accept, self.timeout, |r| {
            full_page(r, &mut whole)
        })
        .await?;
        let Some((wire, d)) = whole.filter(|_| listed == Listed::Complete) else {
            return Err(Failure::Status(404));
        };
        let meta = ListMeta {
            api_version: d.api_version.clone(),
            kind: d.kind.clone(),
            resource_version: d.resource_version,
            encoding: store_encoding(wire),
        };
        let resource_version = d.resource_version;
        let (store, v) = (self.cache.store.clone(), view.clone());
        let committed = smol::unblock(move || {
            let items: Vec<_> = d.items.iter().map(|i| i.as_item()).collect();
            store.commit_list(&v, &meta, &items)
        })
        .await
        .map_err(|e| Failure::Store(e.to_string()))?;
        Ok(match committed {
            Committed::Stored => Outcome::Relisted {
                gone,
                resource_version,
            },
            Committed::Stale { .. } | Committed::Cancelled => Outcome::Kept,
        })
    }

    /// Drops the view unless a newer snapshot was committed since it was read.
    async fn drop_view(
        &self,
        view: &ViewKey,
        meta: &ViewMeta,
        why: &'static str,
    ) -> Result<Outcome, Failure> {
        let (store, v, rv) = (
            self.cache.store.clone(),
            view.clone(),
            meta.resource_version,
        );
        let dropped = smol::unblock(move || store.drop_view_at(&v, rv))
            .await
            .map_err(|e| Failure::Store(e.to_string()))?;
        Ok(match dropped {
            true => Outcome::Dropped {
                objects: meta.count,
                why,
            },
            false => Outcome::Kept,
        })
    }

    /// Namespace, name and uid of every object the view holds now.
    async fn cached(&self, view: &ViewKey, enc: Encoding) -> Result<Vec<Ident>, Failure> {
        let (store, v) = (self.cache.store.clone(), view.clone());
        let wire = match enc {
            Encoding::Json => Wire::Json,
            Encoding::Protobuf => Wire::Protobuf,
        };
        smol::unblock(move || {
            let Some((_, objects)) = store.scan(&v)? else {
                return Ok(Vec::new());
            };
            objects
                .map(|o| {
                    o.map(|o| Ident {
                        uid: object_meta(wire, o.bytes())
                            .map(|m| m.uid)
                            .unwrap_or_default(),
                        namespace: o.namespace,
                        name: o.name,
                    })
                })
                .collect()
        })
        .await
        .map_err(|e: crate::store::StoreError| Failure::Store(e.to_string()))
    }

    /// Logs and counts one outcome; returns its tally key.
    fn record(&self, view: &ViewKey, outcome: Outcome) -> &'static str {
        let (m, res) = (&self.cache.metrics, &view.gvr.resource);
        let shown = describe(view);
        match outcome {
            Outcome::Kept => "kept",
            Outcome::Skipped => "skipped",
            Outcome::Dropped { objects, why } => {
                log::info!("cache gc: dropped {shown} ({objects} objects): it {why}");
                m.gc_dropped(super::read::component_of(view), res, 1, objects);
                "dropped"
            }
            Outcome::Relisted {
                gone,
                resource_version,
            } => {
                log::info!(
                    "cache gc: {shown}: {} objects no longer upstream ({}); replaced by the upstream list at resourceVersion {resource_version}",
                    gone.len(),
                    names(&gone)
                );
                m.gc_dropped(super::read::component_of(view), res, 0, gone.len() as u64);
                "relisted"
            }
            Outcome::Left(f) => {
                log::info!("cache gc: left {shown} as it is: {f}");
                m.gc_left(&f.reason());
                "left"
            }
        }
    }
}

/// Reads one metadata page into `upstream` (namespace/name → uid); returns its continue token.
fn metadata_page(
    body: &[u8],
    upstream: &mut HashMap<(String, String), String>,
) -> Result<String, Failure> {
    let undecodable =
        |e: crate::k8s::decode_error::DecodeError| Failure::Undecodable(e.to_string());
    let list = decode_list_json(body).map_err(undecodable)?;
    for item in &list.items {
        let m = object_meta(Wire::Json, item.get().as_bytes()).map_err(undecodable)?;
        upstream.insert((m.namespace, m.name), m.uid);
    }
    Ok(list.continue_token.into_owned())
}

/// Adds one page of a full LIST to `whole`; every page must come in the first one's encoding.
fn full_page(r: &fetch::Reply, whole: &mut Option<(Wire, Decoded)>) -> Result<String, Failure> {
    let wire = Wire::from_content_type(&r.content_type)
        .ok_or_else(|| Failure::Undecodable(format!("content type {:?}", r.content_type)))?;
    let page = decode::list(wire, &r.body).map_err(|e| Failure::Undecodable(e.to_string()))?;
    let token = page.continue_token.clone();
    match whole {
        None => *whole = Some((wire, page)),
        Some((w, d)) if *w == wire => d.items.extend(page.items),
        Some(_) => return Err(Failure::Undecodable("pages in two encodings".into())),
    }
    Ok(token)
}

fn qualified(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("{name:?}")
    } else {
        format!("{namespace:?}/{name:?}")
    }
}

/// The first names, then how many more.
fn names(all: &[String]) -> String {
    let mut s = all
        .iter()
        .take(LOGGED_NAMES)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > LOGGED_NAMES {
        s.push_str(&format!(" and {} more", all.len() - LOGGED_NAMES));
    }
    s
}

/// One line naming a view: component, resource, namespace, name and selectors.
fn describe(v: &ViewKey) -> String {
    let g = &v.gvr;
    let mut s = format!("{} {}/{}", v.component, g.version, g.resource);
    if !g.group.is_empty() {
        s = format!("{} {}/{}/{}", v.component, g.group, g.version, g.resource);
    }
    for (k, val) in [
        ("namespace", &v.namespace),
        ("name", &v.name),
        ("labels", &v.label_selector),
        ("fields", &v.field_selector),
    ] {
        if !val.is_empty() {
            s.push_str(&format!(" {k}={val:?}"));
        }
    }
    s
}
