//! The writer: one task per cached response, fed by the tee. Store I/O runs on smol's blocking
//! pool, never on the executor; a body that did not end cleanly writes nothing.

use std::sync::Arc;
use std::time::Duration;

use smol::channel::Receiver;

use super::decode::{self, store_encoding, Decoded};
use super::tee::{Msg, TEE_FRAMES};
use super::watch::{Step, Watcher};
use super::{Cache, Kind, Target};
use crate::k8s::meta::Encoding;
use crate::k8s::watch::MAX_FRAME_LEN;
use crate::store::{ListMeta, StoreError};

/// Starts the writer of one response; returns the tee's end of the channel.
pub fn spawn(cache: Arc<Cache>, target: Target, enc: Encoding) -> smol::channel::Sender<Msg> {
    let (tx, rx) = smol::channel::bounded(TEE_FRAMES);
    smol::spawn(async move {
        match target.kind {
            Kind::Get | Kind::List | Kind::Table => snapshot(cache, target, enc, rx).await,
            Kind::Watch { list } => watch(cache, target, enc, list, rx).await,
        }
    })
    .detach();
    tx
}

/// GET / LIST: the whole body, then one commit.
async fn snapshot(cache: Arc<Cache>, target: Target, enc: Encoding, rx: Receiver<Msg>) {
    let mut body = Vec::new();
    loop {
        match rx.recv().await {
            Ok(Msg::Data(b)) if body.len() + b.len() <= MAX_FRAME_LEN => body.extend_from_slice(&b),
            Ok(Msg::Data(_)) => {
                log::warn!("cache: answer over {MAX_FRAME_LEN} bytes not cached");
                return;
            }
            Ok(Msg::End) => break,
            Err(_) => {
                log::info!(
                    "cache: {:?} answer was cut short; nothing cached",
                    target.view.gvr
                );
                return;
            }
        }
    }
    smol::unblock(move || commit_snapshot(&cache, &target, enc, &body)).await
}

fn commit_snapshot(cache: &Cache, target: &Target, enc: Encoding, body: &[u8]) {
    let decoded = match target.kind {
        Kind::Get => decode::object(enc, body),
        Kind::Table => super::table::decode(body),
        _ => decode::list(enc, body),
    };
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => {
            log::warn!(
                "cache: malformed {:?} answer ({e}); nothing cached",
                target.view.gvr
            );
            cache.metrics.write_failure("malformed");
            return;
        }
    };
    let whole = match target.kind {
        Kind::List => cache
            .pages
            .feed(&target.view, &target.continue_token, decoded),
        _ => Some(decoded),
    };
    if let Some(d) = whole {
        commit(cache, target, enc, d);
    }
}

/// Replaces the view with `d` (LIST, WatchList snapshot, GET).
fn commit(cache: &Cache, target: &Target, enc: Encoding, d: Decoded) {
    let meta = ListMeta {
        api_version: d.api_version,
        kind: d.kind,
        resource_version: d.resource_version,
        encoding: store_encoding(enc),
    };
    let items: Vec<_> = d.items.iter().map(|i| i.as_item()).collect();
    let r = match target.kind {
        Kind::Get => match items.first() {
            Some(i) => cache.store.put_object(&target.view, &meta, i),
            None => return,
        },
        _ => cache.store.commit_list(&target.view, &meta, &items),
    };
    if let Err(e) = r {
        failed(cache, &e);
    }
}

fn failed(cache: &Cache, e: &StoreError) {
    let reason = match e {
        StoreError::Full { .. } => "full",
        StoreError::Invalid(_) => "invalid",
        _ => "io",
    };
    log::warn!("cache: write failed: {e}");
    cache.metrics.write_failure(reason);
}

/// How long a watch's first events wait for the LIST they continue from to be committed.
const CATCH_UP: Duration = Duration::from_secs(3);

/// WATCH: decode as frames come, one batch per group of frames available together.
///
/// A plain watch continues from the LIST it follows (`resourceVersion=R`): its events fit only a
/// view that already holds that LIST. The LIST's own writer may still be committing when the first
/// events arrive, so they wait for the view to reach R; applied to the older state they would
/// leave it neither old nor new (and the LIST, now older than the view, would be refused).
async fn watch(cache: Arc<Cache>, target: Target, enc: Encoding, list: bool, rx: Receiver<Msg>) {
    let mut w = Watcher::new(enc, list);
    let mut since = target.since;
    let target = Arc::new(target);
    while let Ok(msg) = rx.recv().await {
        let mut msgs = vec![msg];
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        for m in &msgs {
            if let Msg::Data(b) = m {
                w.push(b);
            }
        }
        let steps = w.steps();
        if !steps.is_empty() && since > 0 {
            if !caught_up(&cache, &target, since).await {
                log::info!(
                    "cache: the {:?} view never reached resourceVersion {since}, which this watch \
                     continues from; not caching the watch",
                    target.view.gvr
                );
                return;
            }
            since = 0;
        }
        if !steps.is_empty() {
            let (c, t) = (cache.clone(), target.clone());
            smol::unblock(move || run_steps(&c, &t, enc, steps)).await;
        }
        if w.stopped {
            return;
        }
    }
}

/// Whether the view holds everything up to `since` (its resourceVersion never goes down), waiting
/// up to [`CATCH_UP`] for a commit in flight.
async fn caught_up(cache: &Arc<Cache>, target: &Arc<Target>, since: u64) -> bool {
    let deadline = std::time::Instant::now() + CATCH_UP;
    loop {
        let (c, t) = (cache.clone(), target.clone());
        let rv = smol::unblock(move || {
            c.store
                .scan(&t.view)
                .map(|v| v.map(|(m, _)| m.resource_version))
        })
        .await;
        if matches!(rv, Ok(Some(rv)) if rv >= since) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}

fn run_steps(cache: &Cache, target: &Target, enc: Encoding, steps: Vec<Step>) {
    for step in steps {
        match step {
            Step::Commit(d) => commit(cache, target, enc, d),
            Step::Apply(events) => {
                let evs: Vec<_> = events.iter().filter_map(|e| e.as_event()).collect();
                if let Err(e) = cache.store.apply(&target.view, &evs) {
                    failed(cache, &e);
                }
            }
        }
    }
}
