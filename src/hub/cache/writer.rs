//! The writer: one task per cached response, fed by the tee. Store I/O runs on smol's blocking
//! pool, never on the executor; a body that did not end cleanly commits nothing.
//!
//! A LIST (and a WatchList's initial events) is split into objects as it arrives and streamed
//! into the view's next generation chunk by chunk (`store/list.rs`), so memory stays a chunk
//! whatever the size of the list. GETs and Tables are small: whole body, then one commit.

use std::sync::Arc;
use std::time::Duration;

use super::decode::{self, store_encoding, OwnedItem};
use super::pages::Page;
use super::tee::{copies, CopyRx, CopyTx, Msg};
use super::watch::{Step, Watcher};
use super::{Cache, Kind, Target};
use crate::k8s::list_stream::{ListHead, ListScanner, Step as Piece};
use crate::k8s::meta::{rv_u64, Encoding};
use crate::k8s::watch::MAX_FRAME_LEN;
use crate::store::{Item, ListMeta, ListWriter, StoreError};

/// Bytes of decoded objects handed to the store at once.
const PUSH_BYTES: usize = 256 * 1024;
/// How long a watch's writer lets the rest of a burst arrive before writing: events that come
/// together become one batch and one sync, not one each (flash wear). Only the cache waits.
const COALESCE: Duration = Duration::from_millis(20);

/// Starts the writer of one response; returns the tee's end of the channel.
pub fn spawn(cache: Arc<Cache>, target: Target, enc: Encoding) -> CopyTx {
    let (tx, rx) = copies(cache.writer_lag);
    smol::spawn(async move {
        match target.kind {
            Kind::Get | Kind::Table => snapshot(cache, target, enc, rx).await,
            Kind::List => list(cache, target, enc, rx).await,
            Kind::Watch { list } => watch(cache, target, enc, list, rx).await,
        }
    })
    .detach();
    tx
}

/// GET / Table: the whole body, then its commit (a Table page like a LIST page).
async fn snapshot(cache: Arc<Cache>, target: Target, enc: Encoding, rx: CopyRx) {
    let Some(body) = whole_body(&target, rx).await else {
        return;
    };
    if target.kind == Kind::Table {
        return table(cache, target, enc, &body).await;
    }
    smol::unblock(move || commit_get(&cache, &target, enc, &body)).await
}

/// The answer's bytes once it ended cleanly; `None` if it was cut short or too big to cache.
async fn whole_body(target: &Target, rx: CopyRx) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match rx.recv().await {
            Some(Msg::Data(b)) if body.len() + b.len() <= MAX_FRAME_LEN => {
                body.extend_from_slice(&b)
            }
            Some(Msg::Data(_)) => {
                log::warn!("cache: answer over {MAX_FRAME_LEN} bytes not cached");
                return None;
            }
            Some(Msg::End) => return Some(body),
            None => {
                cut_short(target);
                return None;
            }
        }
    }
}

fn cut_short(target: &Target) {
    log::info!(
        "cache: {:?} answer was cut short; nothing cached",
        target.view.gvr
    );
}

fn malformed(cache: &Cache, target: &Target, e: &dyn std::fmt::Display) {
    log::warn!(
        "cache: malformed {:?} answer ({e}); nothing cached",
        target.view.gvr
    );
    cache.metrics.write_failure("malformed");
}

fn commit_get(cache: &Cache, target: &Target, enc: Encoding, body: &[u8]) {
    let d = match decode::object(enc, body) {
        Ok(d) => d,
        Err(e) => return malformed(cache, target, &e),
    };
    let meta = list_meta(&d.api_version, &d.kind, d.resource_version, enc);
    let Some(item) = d.items.first() else {
        return;
    };
    let view = super::read::get_view(&target.view, meta.encoding);
    if let Err(e) = cache.store.put_object(&view, &meta, &item.as_item()) {
        failed(cache, &e);
    }
}

/// A Table (kubectl's `get`): its rows are the view's items, and a Table paged by
/// `--chunk-size` is gathered page by page like a LIST, committed at its last page. The
/// columns item comes from the first page.
async fn table(cache: Arc<Cache>, target: Target, enc: Encoding, body: &[u8]) {
    let d = match super::table::decode(body) {
        Ok(d) => d,
        Err(e) => return malformed(&cache, &target, &e),
    };
    let Some((w, page)) = list_writer(&cache, &target).await else {
        return;
    };
    let mut items = d.items;
    if !target.continue_token.is_empty() {
        items.retain(|i| !super::table::is_columns(i));
    }
    super::table::in_namespace(&mut items, &target.view.namespace);
    let Some(w) = push(&cache, w, items).await else {
        return;
    };
    if !d.continue_token.is_empty() {
        return cache.pages.park(page, d.continue_token, w);
    }
    let meta = list_meta(&d.api_version, &d.kind, d.resource_version, enc);
    finish(&cache, &target, w, meta).await
}

fn list_meta(api_version: &str, kind: &str, resource_version: u64, enc: Encoding) -> ListMeta {
    ListMeta {
        api_version: api_version.into(),
        kind: kind.into(),
        resource_version,
        encoding: store_encoding(enc),
    }
}

fn failed(cache: &Cache, e: &StoreError) {
    let reason = match e {
        StoreError::Full { .. } => "full",
        StoreError::Invalid(_) => "invalid",
        StoreError::Busy => return log::debug!("cache: {e}"),
        _ => "io",
    };
    log::warn!("cache: write failed: {e}");
    cache.metrics.write_failure(reason);
}

/// The LIST writer of this page: a new one for a first page, the parked one for a next page.
async fn list_writer(cache: &Arc<Cache>, target: &Target) -> Option<(ListWriter, Page)> {
    if !target.continue_token.is_empty() {
        return cache.pages.next(&target.view, &target.continue_token).await;
    }
    let page = cache.pages.first(&target.view);
    let (c, view) = (cache.clone(), target.view.clone());
    match smol::unblock(move || c.store.begin_list(&view)).await {
        Ok(w) => Some((w, page)),
        Err(e) => {
            failed(cache, &e);
            None
        }
    }
}

/// Hands `items` to the store on the blocking pool; `None` once the LIST was given up.
async fn push(cache: &Arc<Cache>, w: ListWriter, items: Vec<OwnedItem>) -> Option<ListWriter> {
    if items.is_empty() {
        return Some(w);
    }
    let c = cache.clone();
    let (w, r) = smol::unblock(move || {
        let mut w = w;
        let borrowed: Vec<Item<'_>> = items.iter().map(OwnedItem::as_item).collect();
        let r = w.push(&c.store, &borrowed);
        (w, r)
    })
    .await;
    match r {
        Ok(()) => Some(w),
        Err(e) => {
            failed(cache, &e);
            None
        }
    }
}

/// Commits a LIST written by `w` with the List fields of its last page.
async fn finish(cache: &Arc<Cache>, target: &Target, w: ListWriter, meta: ListMeta) {
    let c = cache.clone();
    let r = smol::unblock(move || w.finish(&c.store, &meta)).await;
    match r {
        Ok(outcome) => log::debug!("cache: LIST of {:?}: {outcome:?}", target.view.gvr),
        Err(e) => failed(cache, &e),
    }
}

/// LIST: objects decoded as frames arrive, pushed in chunks; committed (or parked until the next
/// page) once the body ended cleanly.
async fn list(cache: Arc<Cache>, target: Target, enc: Encoding, rx: CopyRx) {
    let Some((mut w, page)) = list_writer(&cache, &target).await else {
        return; // dropping rx tells the tee to stop copying
    };
    let mut scan = ListScanner::new(enc);
    let (mut buf, mut items, mut gathered) = (Vec::new(), Vec::new(), 0);
    loop {
        match rx.recv().await {
            Some(Msg::Data(b)) => buf.extend_from_slice(&b),
            Some(Msg::End) => break,
            None => return cut_short(&target),
        }
        if let Err(e) = split(&mut scan, &mut buf, enc, &mut items, &mut gathered) {
            return malformed(&cache, &target, &e);
        }
        if gathered >= PUSH_BYTES {
            gathered = 0;
            let Some(next) = push(&cache, w, std::mem::take(&mut items)).await else {
                return;
            };
            w = next;
        }
    }
    let head = match scan.finish(&buf) {
        Ok(h) => h,
        Err(e) => return malformed(&cache, &target, &e),
    };
    let Some(w) = push(&cache, w, items).await else {
        return;
    };
    if !head.continue_token.is_empty() {
        return cache.pages.park(page, head.continue_token, w);
    }
    match head_meta(&head, enc) {
        Ok(meta) => finish(&cache, &target, w, meta).await,
        Err(e) => malformed(&cache, &target, &e),
    }
}

fn head_meta(head: &ListHead, enc: Encoding) -> Result<ListMeta, String> {
    let rv = rv_u64(&head.resource_version)
        .ok_or_else(|| format!("list resourceVersion {:?}", head.resource_version))?;
    Ok(list_meta(&head.api_version, &head.kind, rv, enc))
}

/// Takes every whole object out of `buf` into `items`.
fn split(
    scan: &mut ListScanner,
    buf: &mut Vec<u8>,
    enc: Encoding,
    items: &mut Vec<OwnedItem>,
    gathered: &mut usize,
) -> Result<(), String> {
    let mut used = 0;
    while let Some((piece, n)) = scan.next(&buf[used..]).map_err(|e| e.to_string())? {
        if let Piece::Item(bytes) = piece {
            let item = decode::item(enc, bytes).map_err(|e| e.to_string())?;
            *gathered += item.bytes.len();
            items.push(item);
        }
        used += n;
    }
    buf.drain(..used);
    Ok(())
}

/// WATCH: decode as frames come, one batch per burst (frames arriving within [`COALESCE`]); a
/// WatchList's initial events stream into a new snapshot committed at their bookmark.
async fn watch(cache: Arc<Cache>, target: Target, enc: Encoding, list: bool, rx: CopyRx) {
    let mut w = Watcher::new(enc, list);
    let target = Arc::new(target);
    let mut snapshot: Option<ListWriter> = None;
    while let Some(msg) = rx.recv().await {
        if matches!(msg, Msg::Data(_)) {
            smol::Timer::after(COALESCE).await;
        }
        let mut msgs = vec![msg];
        while let Some(m) = rx.try_recv() {
            msgs.push(m);
        }
        for m in &msgs {
            if let Msg::Data(b) = m {
                w.push(b);
            }
        }
        for step in w.steps() {
            if !run_step(&cache, &target, enc, step, &mut snapshot).await {
                return;
            }
        }
        if w.stopped {
            return;
        }
    }
}

/// One step of a watch; `false` when caching this stream is over.
async fn run_step(
    cache: &Arc<Cache>,
    target: &Arc<Target>,
    enc: Encoding,
    step: Step,
    snapshot: &mut Option<ListWriter>,
) -> bool {
    match step {
        Step::Initial(items) => {
            let w = match snapshot.take() {
                Some(w) => w,
                None => match list_writer(cache, target).await {
                    Some((w, _page)) => w,
                    None => return false,
                },
            };
            *snapshot = push(cache, w, items).await;
            snapshot.is_some()
        }
        Step::Commit {
            api_version,
            kind,
            resource_version,
        } => {
            let w = match snapshot.take() {
                Some(w) => w,
                None => match list_writer(cache, target).await {
                    Some((w, _page)) => w,
                    None => return false,
                },
            };
            let meta = list_meta(&api_version, &kind, resource_version, enc);
            finish(cache, target, w, meta).await;
            true
        }
        Step::Apply(events) => {
            let (c, t) = (cache.clone(), target.clone());
            smol::unblock(move || {
                if !super::order::caught_up(&c.store, &t.view, t.watch_from) {
                    log::info!(
                        "cache: the {:?} list this watch follows never reached the cache; not caching the watch",
                        t.view.gvr
                    );
                    return false;
                }
                let evs: Vec<_> = events.iter().filter_map(|e| e.as_event()).collect();
                if let Err(e) = c.store.apply(&t.view, &evs) {
                    failed(&c, &e);
                }
                true
            })
            .await
        }
    }
}
