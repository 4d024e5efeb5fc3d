//! The hub's cache: which requests are cached (a [`Target`]), the tee and writer that fill the
//! store online, and the local responder that answers from it offline.
//!
//! Contract: DESIGN.md, "The cache (fjall)" and "Offline semantics".

pub mod chunks;
pub mod cli;
pub mod config;
pub mod decode;
pub mod filter;
pub mod gc;
pub mod inspect;
pub mod local;
pub mod metrics;
mod node_patch;
pub mod nonresource;
pub mod offline_log;
pub mod order;
pub mod pages;
pub mod read;
pub mod render;
pub mod table;
pub mod tee;
pub mod token;
pub mod watch;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use crate::k8s::meta::rv_u64;
use crate::k8s::request_info::{RequestInfo, Verb};
use crate::store::{Gvr, Store, StoreError, ViewKey};

pub use config::{Agents, CacheConfig};

/// What kind of cached answer a request gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GET of one object: its own view.
    Get,
    /// LIST of a collection (maybe one page of it).
    List,
    /// WATCH; `list` when it is a WatchList (`sendInitialEvents=true`).
    Watch { list: bool },
    /// LIST answered as a `meta.k8s.io` Table (kubectl), in its own view.
    Table,
}

/// A cacheable request: its view and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub view: ViewKey,
    pub kind: Kind,
    /// `continue` of a LIST page request, empty for the first page.
    pub continue_token: String,
    /// `resourceVersion` a plain WATCH starts from: its events wait for the view to reach it
    /// (see `order.rs`). `None` for other requests and WatchLists.
    pub watch_from: Option<u64>,
}

/// The open store plus what to cache.
pub struct Cache {
    pub store: Arc<Store>,
    pub agents: Agents,
    pub metrics: Arc<metrics::CacheMetrics>,
    pub pages: pages::Pages,
    /// One line per view first served offline in an outage.
    pub offline_log: offline_log::OfflineLog,
    /// Bytes of copies an answer may have waiting for its writer before the client is paced
    /// (`--cache-writer-lag-mib`).
    pub writer_lag: usize,
}

impl Cache {
    /// Opens the store; waits up to 3 s for a previous hub in this process to let go of it.
    pub fn open(cfg: &CacheConfig) -> Result<Cache, StoreError> {
        let mut tries = 0;
        let store = loop {
            match Store::open(&cfg.dir, &cfg.store) {
                Ok(s) => break s,
                Err(StoreError::Engine(e)) if tries < 30 => {
                    log::debug!("cache: opening {}: {e}; retrying", cfg.dir.display());
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Cache {
            store: Arc::new(store),
            agents: cfg.agents.clone(),
            metrics: Arc::default(),
            pages: pages::Pages::default(),
            offline_log: offline_log::OfflineLog::default(),
            writer_lag: cfg.writer_lag,
        })
    }

    /// The request's cache target, if its component is cached and it reads resources.
    pub fn target(
        &self,
        info: &RequestInfo,
        component: &str,
        accept: Option<&str>,
    ) -> Option<Target> {
        target(info, component, accept, &self.agents)
    }
}

/// Pure: the view a resource GET / LIST / WATCH of a cached component reads. Answers converted
/// on request (`as=…` in Accept) are not the objects: only Tables are cached, apart (a GET as
/// a Table is the LIST by the object's name: one row, or none).
pub fn target(
    info: &RequestInfo,
    component: &str,
    accept: Option<&str>,
    agents: &Agents,
) -> Option<Target> {
    let accept = accept.unwrap_or_default();
    if accept.contains("as=") {
        let mut t = plain_target(info, component, agents)?;
        if !table::asks_table(accept) {
            return None;
        }
        match t.kind {
            Kind::List => {}
            Kind::Get => t.view = read::by_name(&t.view),
            _ => return None,
        }
        t.kind = Kind::Table;
        t.view
            .component
            .push_str(table::suffix(info.include_object.as_deref())?);
        return Some(t);
    }
    plain_target(info, component, agents)
}

fn plain_target(info: &RequestInfo, component: &str, agents: &Agents) -> Option<Target> {
    if !info.is_resource || !info.subresource.is_empty() || !agents.includes(component) {
        return None;
    }
    let kind = match info.verb {
        Verb::Get => Kind::Get,
        Verb::List => Kind::List,
        Verb::Watch => Kind::Watch {
            list: info.is_watch_list(),
        },
        _ => return None,
    };
    Some(Target {
        view: view_of(info, component, kind == Kind::Get),
        kind,
        continue_token: info.continue_token.clone().unwrap_or_default(),
        watch_from: match kind {
            Kind::Watch { list: false } => info.resource_version.as_deref().and_then(rv_u64),
            _ => None,
        },
    })
}

/// The normalised view of a request (with the object's name for a GET).
pub fn view_of(info: &RequestInfo, component: &str, named: bool) -> ViewKey {
    ViewKey {
        component: component.to_string(),
        gvr: Gvr::new(&info.group, &info.version, &info.resource),
        namespace: info.namespace.clone(),
        name: if named {
            info.name.clone()
        } else {
            String::new()
        },
        label_selector: info.label_selector.clone().unwrap_or_default(),
        field_selector: info.field_selector.clone().unwrap_or_default(),
    }
    .normalized()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::request_info::parse;

    #[test]
    fn targets() {
        let a = Agents::default();
        let i = parse(
            "GET",
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&limit=500",
        )
        .expect("ok");
        let t = target(&i, "kubelet", None, &a).expect("cached");
        assert_eq!(t.kind, Kind::List);
        assert_eq!(t.view.field_selector, "spec.nodeName=n1");
        assert!(target(&i, "kubectl", None, &a).is_none());
        let w = parse("GET", "/api/v1/pods?watch=true&sendInitialEvents=true").expect("ok");
        assert_eq!(
            target(&w, "kubelet", None, &a).map(|t| (t.kind, t.watch_from)),
            Some((Kind::Watch { list: true }, None))
        );
        let from = parse("GET", "/api/v1/pods?watch=true&resourceVersion=42").expect("ok");
        assert_eq!(
            target(&from, "kubelet", None, &a).map(|t| t.watch_from),
            Some(Some(42))
        );
        let g = parse("GET", "/api/v1/nodes/n1").expect("ok");
        assert_eq!(
            target(&g, "kubelet", None, &a).map(|t| t.view.name),
            Some("n1".into())
        );
        let s = parse("GET", "/api/v1/nodes/n1/status").expect("ok");
        assert!(target(&s, "kubelet", None, &a).is_none());
        let p = parse("PUT", "/api/v1/nodes/n1").expect("ok");
        assert!(target(&p, "kubelet", None, &a).is_none());
        let table = Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
        let all = Agents::All;
        let t = target(&i, "kubectl", table, &all).expect("table view");
        assert_eq!(
            (t.kind, t.view.component.as_str()),
            (Kind::Table, "kubectl#table")
        );
        assert!(target(&w, "kubectl", table, &all).is_none());
        // Rows with whole objects (`--sort-by`) are a view of their own; rows without any are
        // not cached.
        let component = |q: &str| {
            let r = parse("GET", &format!("/api/v1/pods?{q}")).expect("ok");
            target(&r, "kubectl", table, &all).map(|t| t.view.component)
        };
        assert_eq!(
            component("includeObject=Metadata"),
            Some("kubectl#table".into())
        );
        assert_eq!(
            component("includeObject=Object"),
            Some("kubectl#object#table".into())
        );
        assert_eq!(component("includeObject=None"), None);
        let one = parse("GET", "/api/v1/namespaces/d/pods/a,b?labelSelector=x").expect("ok");
        let t = target(&one, "kubectl", table, &all).expect("one row");
        assert_eq!(
            (t.kind, t.view.name.as_str(), t.view.namespace.as_str()),
            (Kind::Table, "", "d")
        );
        assert_eq!(
            (
                t.view.label_selector.as_str(),
                t.view.field_selector.as_str()
            ),
            ("", r"metadata.name=a\,b")
        );
        assert!(target(
            &i,
            "kubectl",
            Some("application/json;as=PartialObjectMetadataList"),
            &all
        )
        .is_none());
    }
}
