//! The hub cache: views of what each component asked online, stored atomically in fjall.
//!
//! Contract: DESIGN.md, "The cache (fjall)". The store never parses Kubernetes bytes: callers
//! hand it decoded [`Item`]s and [`Event`]s and the bytes as sent, and get those bytes back.
//!
//! - A **view** ([`ViewKey`]) = component + group/version/resource + namespace (or all) +
//!   selectors (+ the name, for a GET's own view). Nothing crosses components.
//! - [`Store::commit_list`] (or [`Store::begin_list`] for a LIST streamed in chunks) swaps a
//!   view's membership atomically under a new generation (`list.rs`); [`Store::apply`] runs a
//!   burst of watch events through a pure planner (`apply.rs`) and writes the plan in one batch.
//! - Keys are bytes from one pure function (`key.rs`), never paths.
//! - Defaults are sized for boards ([`StoreConfig`]); the directory is 0700, files 0600.
//!
//! ```no_run
//! use yurt::store::{Encoding, Event, Gvr, Item, ListMeta, Store, StoreConfig, ViewKey};
//! # fn main() -> Result<(), yurt::store::StoreError> {
//! let store = Store::open("/var/lib/yurt/cache".as_ref(), &StoreConfig::default())?;
//! let view = ViewKey {
//!     component: "kubelet".into(),
//!     gvr: Gvr::new("", "v1", "pods"),
//!     field_selector: "spec.nodeName=n1".into(),
//!     ..ViewKey::default()
//! }
//! .normalized();
//! let meta = ListMeta { api_version: "v1".into(), kind: "PodList".into(), resource_version: 7, encoding: Encoding::Json };
//! let pod = Item { namespace: "default", name: "web", resource_version: 5, bytes: br#"{"kind":"Pod"}"# };
//! store.commit_list(&view, &meta, &[pod])?;
//! store.apply(&view, &[Event::Bookmark { resource_version: 9 }])?;
//! let (meta, pods) = store.list(&view)?.expect("cached");
//! assert_eq!((meta.resource_version, pods.len()), (9, 1));
//! # Ok(()) }
//! ```

mod apply;
pub(crate) mod codec;
mod config;
mod db;
mod error;
pub(crate) mod key;
mod list;
mod listwriter;
pub mod perms;
mod read;
pub(crate) mod selector;
mod sync;
mod visible;
mod write;

pub use apply::{ApplyStats, Event, Item};
pub use codec::{Encoding, ViewMeta};
pub use config::{
    StoreConfig, SyncPolicy, DEFAULT_BLOCK_CACHE_BYTES, DEFAULT_MAX_CACHE_BYTES,
    DEFAULT_MAX_JOURNAL_BYTES, DEFAULT_WORKER_THREADS, DEFAULT_WRITE_BUFFER_BYTES,
};
pub use db::Store;
pub use error::StoreError;
pub use key::{Gvr, ViewKey};
pub use listwriter::ListWriter;
pub use read::{Objects, StoredItem, ViewScan};
pub use write::{Applied, Committed, ListMeta};
