//! Real kube-apiserver bytes (tests/fixtures/k8s-captures): lists, GETs, Status errors and
//! watch streams decode the same in protobuf and JSON, and our encoders reproduce them.

mod walkers_support;

use walkers_support::{capture, dechunk, json_events, pb_events, Summary};
use yurt::k8s::json::{
    bookmark_json, decode_list_json, encode_list_json, encode_watch_line, status_json,
    with_type_meta,
};
use yurt::k8s::meta::{meta, rv_u64, Encoding, Meta};
use yurt::k8s::pb::{
    bookmark_pb, decode_envelope, decode_list, decode_watch_frame, encode_envelope, encode_list,
    encode_watch_frame, status,
};
use yurt::k8s::watch::EventType;

const LISTS: [&str; 3] = ["list-pods", "list-nodes", "list-namespaces"];
const STREAMS: [&str; 5] = [
    "watch-pods",
    "watchlist-pods",
    "watch-pods-rv1",
    "watch-pods-rv2-after-compaction",
    "watch-pods-rv2-compacted-nowatchcache",
];

fn pb_list_metas(body: &[u8]) -> (String, Vec<Meta>) {
    let env = decode_envelope(body).expect("envelope");
    let list = decode_list(env.raw).expect("pb list");
    let metas = list
        .items
        .iter()
        .map(|i| meta(Encoding::Protobuf, i).expect("item meta"));
    (list.resource_version.to_owned(), metas.collect())
}

fn json_list_metas(body: &[u8]) -> (String, Vec<Meta>) {
    let list = decode_list_json(body).expect("json list");
    let metas = list
        .items
        .iter()
        .map(|i| meta(Encoding::Json, i.get().as_bytes()).expect("item"));
    (list.resource_version.into_owned(), metas.collect())
}

#[test]
fn lists_agree_between_pb_and_json() {
    for name in LISTS {
        let pb = pb_list_metas(&capture(&format!("{name}.pb.body")));
        let json = json_list_metas(&capture(&format!("{name}.json.body")));
        assert_eq!(pb, json, "{name}");
        assert!(!pb.1.is_empty(), "{name}: no items");
        assert!(pb
            .1
            .iter()
            .all(|m| rv_u64(&m.resource_version).is_some() && !m.uid.is_empty()));
    }
    let namespaces = json_list_metas(&capture("list-namespaces.json.body")).1;
    let names: Vec<_> = namespaces.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
}

#[test]
fn pb_lists_reencode_byte_exact() {
    for name in LISTS {
        let body = capture(&format!("{name}.pb.body"));
        let env = decode_envelope(&body).expect("envelope");
        let list = decode_list(env.raw).expect("list");
        let again = encode_list(
            env.api_version,
            env.kind,
            list.resource_version,
            list.continue_token,
            &list.items,
        );
        assert_eq!(again, body, "{name}");
    }
}

#[test]
fn json_lists_reencode_to_the_same_document() {
    for name in LISTS {
        let body = capture(&format!("{name}.json.body"));
        let list = decode_list_json(&body).expect("list");
        let items: Vec<&[u8]> = list.items.iter().map(|i| i.get().as_bytes()).collect();
        let ours = encode_list_json(
            &list.api_version,
            &list.kind,
            &list.resource_version,
            &items,
        );
        let back = decode_list_json(&ours).expect("our list decodes");
        let back_items: Vec<&str> = back.items.iter().map(|i| i.get()).collect();
        let orig_items: Vec<&str> = list.items.iter().map(|i| i.get()).collect();
        assert_eq!(back_items, orig_items, "{name}: items byte-exact");
        assert_eq!(back.resource_version, list.resource_version);
        let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).expect("json");
        assert_eq!(parse(&ours), parse(&body), "{name}: same document");
    }
}

#[test]
fn get_and_error_bodies() {
    let pb = meta(Encoding::Protobuf, &capture("get-pod.pb.body")).expect("pb");
    assert_eq!(
        pb,
        meta(Encoding::Json, &capture("get-pod.json.body")).expect("json")
    );
    for (name, code, reason) in [
        ("get-pod-notfound", 404, "NotFound"),
        ("list-pods-rv2-exact-compacted-nowatchcache", 410, "Expired"),
    ] {
        let env_body = capture(&format!("{name}.pb.body"));
        let env = decode_envelope(&env_body).expect("envelope");
        assert_eq!(env.kind, "Status");
        let pb = status(env.raw).expect("pb status");
        let json_body = capture(&format!("{name}.json.body"));
        assert_eq!(pb, status_json(&json_body).expect("json status"), "{name}");
        assert_eq!((pb.code, pb.reason.as_ref()), (code, reason));
        assert!(
            decode_list_json(&json_body).is_err(),
            "{name}: a Status is not a list"
        );
    }
    assert!(
        decode_list_json(&capture("list-pods.table.json.body")).is_err(),
        "Table has rows"
    );
    let limit1 = capture("list-pods-allns-limit1.json.body");
    let limit1 = decode_list_json(&limit1).expect("limit=1");
    assert_eq!(
        (limit1.items.len(), limit1.continue_token.as_ref()),
        (1, "")
    );
}

fn ev(t: &str, name: &str, rv: &str) -> Summary {
    Summary {
        event_type: t.to_owned(),
        name: name.to_owned(),
        resource_version: rv.to_owned(),
        initial_events_end: false,
        error_code: None,
    }
}

#[test]
fn watch_streams_agree_between_pb_and_json() {
    for name in STREAMS {
        let pb = pb_events(&capture(&format!("{name}.pb.body")));
        let json = json_events(&capture(&format!("{name}.json.body")));
        assert_eq!(pb, json, "{name}");
        assert!(!pb.is_empty(), "{name}");
    }
    let watch = json_events(&capture("watch-pods.json.body"));
    let want = [
        ev("MODIFIED", "demo-pod-1", "73"),
        ev("ADDED", "demo-pod-2", "74"),
        ev("MODIFIED", "demo-pod-2", "75"),
        ev("DELETED", "demo-pod-2", "76"),
        ev("BOOKMARK", "", "76"),
        ev("BOOKMARK", "", "76"),
    ];
    assert_eq!(watch, want);
}

#[test]
fn the_410_and_the_initial_events_end_bookmark_are_recognised() {
    let expired = pb_events(&capture("watch-pods-rv2-compacted-nowatchcache.pb.body"));
    assert_eq!(expired.len(), 1);
    assert_eq!(
        (expired[0].event_type.as_str(), expired[0].error_code),
        ("ERROR", Some(410))
    );
    let list = pb_events(&capture("watchlist-pods.pb.body"));
    let ends: Vec<_> = list
        .iter()
        .enumerate()
        .filter(|(_, e)| e.initial_events_end)
        .collect();
    assert_eq!(ends.len(), 1, "exactly one initial-events-end bookmark");
    let (at, end) = ends[0];
    assert_eq!(
        (at, end.event_type.as_str(), end.resource_version.as_str()),
        (1, "BOOKMARK", "72")
    );
    assert!(list[..at].iter().all(|e| e.event_type == "ADDED"));
}

#[test]
fn pb_frames_reencode_byte_exact() {
    for name in STREAMS {
        let stream = capture(&format!("{name}.pb.body"));
        let mut rebuilt = Vec::new();
        let mut rest = &stream[..];
        while let Some((event, used)) = decode_watch_frame(rest).expect("valid") {
            rebuilt.extend(encode_watch_frame(event.event_type, event.object));
            rest = &rest[used..];
        }
        assert_eq!(rebuilt, stream, "{name}");
    }
}

/// The body of an HTTP/1.1 capture as a client sees it: de-chunked when the headers say so,
/// with the encoding its Content-Type names.
fn http11_body(name: &str) -> (Encoding, bool, Vec<u8>) {
    let headers = String::from_utf8(capture(&format!("{name}.headers"))).expect("ascii");
    let header = |h: &str| {
        let line = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(h));
        line.map(|l| l[h.len()..].trim().to_owned())
    };
    let ct = header("content-type:").expect("content-type");
    let encoding = Encoding::from_content_type(&ct).expect("known encoding");
    let chunked = header("transfer-encoding:").is_some_and(|v| v == "chunked");
    let raw = capture(&format!("{name}.rawbody"));
    (encoding, chunked, if chunked { dechunk(&raw) } else { raw })
}

#[test]
fn http11_bodies_decode_after_dechunking() {
    let (pb_enc, pb_chunked, pb_body) = http11_body("http11-list-pods.pb");
    let (json_enc, json_chunked, json_body) = http11_body("http11-list-pods.json");
    assert_eq!((pb_enc, json_enc), (Encoding::Protobuf, Encoding::Json));
    assert!(
        !pb_chunked && json_chunked,
        "the pb list came with Content-Length"
    );
    let pb = pb_list_metas(&pb_body);
    assert_eq!(pb, json_list_metas(&json_body));
    assert!(!pb.1.is_empty());
    let (_, pb_chunked, pb_body) = http11_body("http11-watch-pods.pb");
    let (_, json_chunked, json_body) = http11_body("http11-watch-pods.json");
    assert!(pb_chunked && json_chunked);
    let pb = pb_events(&pb_body);
    assert_eq!(pb, json_events(&json_body));
    assert!(!pb.is_empty());
}

/// What the hub serves offline for a WatchList: ADDED per cached list item, then the bookmark.
#[test]
fn offline_watchlist_answer_matches_the_real_one() {
    let body = capture("list-pods.pb.body");
    let env = decode_envelope(&body).expect("envelope");
    let list = decode_list(env.raw).expect("list");
    let mut pb = Vec::new();
    for item in &list.items {
        pb.extend(encode_watch_frame(
            EventType::Added,
            &encode_envelope("v1", "Pod", item),
        ));
    }
    pb.extend(encode_watch_frame(
        EventType::Bookmark,
        &bookmark_pb("v1", "Pod", list.resource_version, true),
    ));
    let json_list = capture("list-pods.json.body");
    let json_list = decode_list_json(&json_list).expect("json list");
    let mut json = Vec::new();
    for item in &json_list.items {
        let typed = with_type_meta("v1", "Pod", item.get().as_bytes()).expect("object");
        json.extend(encode_watch_line(EventType::Added, &typed));
    }
    json.extend(bookmark_json(
        "v1",
        "Pod",
        &json_list.resource_version,
        true,
    ));
    let real = pb_events(&capture("watchlist-pods.pb.body"));
    assert_eq!(pb_events(&pb), real[..2]);
    assert_eq!(json_events(&json), real[..2]);
    let real_pb = capture("watchlist-pods.pb.body");
    let first = encode_watch_frame(
        EventType::Added,
        &encode_envelope("v1", "Pod", list.items[0]),
    );
    assert_eq!(
        first,
        real_pb[..first.len()],
        "ADDED frame byte-identical to the apiserver's"
    );
    let real_json = capture("watchlist-pods.json.body");
    let first_line = real_json
        .split_inclusive(|&b| b == b'\n')
        .next()
        .expect("line");
    assert_eq!(
        &json[..first_line.len()],
        first_line,
        "ADDED line byte-identical"
    );
}
