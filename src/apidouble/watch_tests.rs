//! Tests of watch streams: starts, filtering, bookmarks, WatchList, expiry and timeouts.

use std::sync::Mutex;

use http_body_util::BodyExt;
use serde_json::json;

use super::*;
use crate::apidouble::path::parse_query;
use crate::net::shutdown;

fn store_with_pods() -> Mutex<Store> {
    let mut st = Store::new();
    for (n, app) in [("a", "web"), ("b", "db")] {
        st.commit(EventType::Added, 2, &format!("default/{n}"), json!({"metadata": {"name": n, "namespace": "default", "labels": {"app": app}, "resourceVersion": ""}}));
    }
    Mutex::new(st)
}

fn plan(q: &str) -> WatchPlan {
    WatchPlan {
        res: 2,
        namespace: Some("default".into()),
        query: Query::parse(&parse_query(q)).expect(q),
        neg: Negotiated::JSON,
    }
}

/// Reads events until `n` arrived or the stream ended.
fn read(resp: Response<Body>, n: usize) -> Vec<Value> {
    smol::block_on(async {
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while out.len() < n {
            let frame = async { body.frame().await }
                .or(async {
                    smol::Timer::after(Duration::from_secs(5)).await;
                    None
                })
                .await;
            let Some(Ok(frame)) = frame else { break };
            if let Ok(data) = frame.into_data() {
                for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    out.push(serde_json::from_slice(line).expect("one JSON event per line"));
                }
            }
        }
        out
    })
}

fn types(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap_or(""),
                e["object"]["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn rv_zero_sends_synthetic_adds_then_live_events() {
    let st = store_with_pods();
    let (_t, sd) = shutdown::channel();
    let resp = serve(
        &st,
        plan("watch=1&resourceVersion=0&labelSelector=app%3Dweb"),
        Duration::from_secs(60),
        sd,
    )
    .expect("watch");
    assert_eq!(resp.headers()["content-type"], "application/json");
    {
        let mut g = st.lock().expect("lock");
        g.commit(
            EventType::Added,
            2,
            "default/c",
            json!({"metadata": {"name": "c", "namespace": "default", "labels": {"app": "web"}}}),
        );
        g.commit(
            EventType::Added,
            2,
            "other/d",
            json!({"metadata": {"name": "d", "namespace": "other", "labels": {"app": "web"}}}),
        );
        g.commit(
            EventType::Modified,
            2,
            "default/a",
            json!({"metadata": {"name": "a", "namespace": "default", "labels": {"app": "db"}}}),
        );
        g.commit(
            EventType::Modified,
            2,
            "default/b",
            json!({"metadata": {"name": "b", "namespace": "default", "labels": {"app": "web"}}}),
        );
    }
    let evs = read(resp, 4);
    assert_eq!(
        types(&evs),
        vec!["ADDED a", "ADDED c", "DELETED a", "ADDED b"]
    );
    assert_eq!(
        evs[2]["object"]["metadata"]["resourceVersion"], "6",
        "a DELETED for leaving the selection carries the event's RV"
    );
}

#[test]
fn replay_from_an_rv_and_410_after_compaction() {
    let st = store_with_pods();
    let (_t, sd) = shutdown::channel();
    let evs = read(
        serve(
            &st,
            plan("watch=1&resourceVersion=2&timeoutSeconds=1"),
            Duration::from_secs(60),
            sd.clone(),
        )
        .expect("watch"),
        10,
    );
    assert_eq!(
        types(&evs),
        vec!["ADDED b"],
        "events after RV 2, then the timeout ends the stream"
    );
    st.lock().expect("lock").compact();
    let evs = read(
        serve(
            &st,
            plan("watch=1&resourceVersion=2"),
            Duration::from_secs(60),
            sd,
        )
        .expect("watch"),
        10,
    );
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["type"], "ERROR");
    assert_eq!(evs[0]["object"]["code"], 410);
    assert_eq!(
        evs[0]["object"]["message"],
        "The resourceVersion for the provided watch is too old."
    );
}

#[test]
fn watchlist_ends_initial_events_with_the_marked_bookmark() {
    let st = store_with_pods();
    let (_t, sd) = shutdown::channel();
    let q =
        "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
    let resp = serve(&st, plan(q), Duration::from_millis(50), sd).expect("watch");
    let evs = read(resp, 4);
    assert_eq!(types(&evs[..3]), vec!["ADDED a", "ADDED b", "BOOKMARK "]);
    assert_eq!(
        evs[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(evs[2]["object"]["metadata"]["resourceVersion"], "3");
    assert_eq!(evs[2]["object"]["kind"], "Pod");
    assert_eq!(evs[3]["type"], "BOOKMARK", "periodic bookmark");
    assert!(evs[3]["object"]["metadata"].get("annotations").is_none());
}

#[test]
fn invalid_watch_options_are_refused() {
    let st = store_with_pods();
    let (_t, sd) = shutdown::channel();
    for (q, code) in [
        (
            "watch=1&sendInitialEvents=true&allowWatchBookmarks=true",
            422,
        ),
        (
            "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
            422,
        ),
        (
            "watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=1",
            422,
        ),
        ("watch=1&resourceVersion=abc", 400),
    ] {
        assert_eq!(
            serve(&st, plan(q), Duration::from_secs(60), sd.clone())
                .expect_err(q)
                .code(),
            code,
            "{q}"
        );
    }
    let huge = plan("watch=1&timeoutSeconds=18446744073709551615&allowWatchBookmarks=1");
    assert!(
        serve(&st, huge, Duration::MAX, sd).is_ok(),
        "huge durations are clamped, not a panic"
    );
}

#[test]
fn shutdown_ends_streams_and_pb_frames() {
    let st = store_with_pods();
    let (t, sd) = shutdown::channel();
    let mut p = plan("watch=1&resourceVersion=0");
    p.neg = crate::apidouble::negotiate::negotiate("application/vnd.kubernetes.protobuf", false)
        .expect("pb");
    let resp = serve(&st, p, Duration::from_secs(60), sd).expect("watch");
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    t.fire();
    let bytes = smol::block_on(resp.into_body().collect())
        .expect("ends")
        .to_bytes();
    let mut pos = 0;
    let mut n = 0;
    while pos + 4 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
            as usize;
        let ev = &bytes[pos + 4..pos + 4 + len];
        let fs = encode_pb::fields(ev).expect("WatchEvent");
        assert_eq!(fs[0].2, b"ADDED");
        pos += 4 + len;
        n += 1;
    }
    assert_eq!((n, pos), (2, bytes.len()));
}
