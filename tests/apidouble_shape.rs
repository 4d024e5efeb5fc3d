//! The API double over HTTPS answers with the shape of real kube-apiserver bytes
//! (tests/fixtures/k8s-captures): JSON and protobuf lists, watches, WatchList, Status errors,
//! headers, Tables, discovery, paging and authentication.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{capture, capture_content_type, DoubleServer, Stream};
use yurt::apidouble::ApiDouble;

const PB: &str = "application/vnd.kubernetes.protobuf";
const WAIT: Duration = Duration::from_secs(10);

// ---- a tiny protobuf reader, independent of the crate's ----

fn varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// (field number, payload) of every field; varints come back as their value's decimal text.
fn pb_fields(b: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos);
        match key & 7 {
            0 => out.push((key >> 3, varint(b, &mut pos).to_string().into_bytes())),
            2 => {
                let len = varint(b, &mut pos) as usize;
                out.push((key >> 3, b[pos..pos + len].to_vec()));
                pos += len;
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

fn numbers(b: &[u8]) -> Vec<u64> {
    pb_fields(b).into_iter().map(|f| f.0).collect()
}

fn pb_field(b: &[u8], n: u64) -> Vec<u8> {
    pb_fields(b)
        .into_iter()
        .find(|f| f.0 == n)
        .map(|f| f.1)
        .unwrap_or_else(|| panic!("field {n} missing"))
}

/// The envelope fields and the object message of a `k8s\0` body.
fn envelope(b: &[u8]) -> (Vec<u64>, Vec<u8>, Vec<u8>) {
    let body = b.strip_prefix(b"k8s\0").expect("k8s\\0 magic");
    (numbers(body), pb_field(body, 1), pb_field(body, 2))
}

fn frames(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= b.len() {
        let len = u32::from_be_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        out.push(b[pos + 4..pos + 4 + len].to_vec());
        pos += 4 + len;
    }
    out
}

// ---- helpers ----

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn json_capture(name: &str) -> Value {
    serde_json::from_slice(&capture(name)).expect("JSON capture")
}

fn lines(b: &[u8]) -> Vec<Value> {
    b.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("one JSON event per line"))
        .collect()
}

fn server() -> DoubleServer {
    let d = ApiDouble::sandbox("edge-1");
    d.create(
        "/api/v1/namespaces/default/pods",
        json!({"metadata": {"name": "annotated", "labels": {"app": "demo"}, "annotations": {"a": "b"}},
               "spec": {"nodeName": "edge-1", "containers": [{"name": "c", "image": "i"}]}}),
    )
    .expect("pod");
    DoubleServer::start(d)
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(f)
}

async fn watch(srv: &DoubleServer, path: &str, accept: &str) -> Stream {
    let s = srv
        .client()
        .open("GET", path, &[("Accept", accept)], b"")
        .await
        .expect("watch opens");
    assert_eq!(s.status, 200, "{path}");
    s
}

// ---- tests ----

#[test]
fn json_list_has_the_captured_shape() {
    let srv = server();
    let r = block(srv.client().get("/api/v1/namespaces/default/pods", &[])).expect("list");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some(capture_content_type("list-pods.json.headers").as_str())
    );
    assert_eq!(r.header("cache-control"), Some("no-cache, private"));
    let (ours, real) = (r.json(), json_capture("list-pods.json.body"));
    let raw = String::from_utf8(r.body.clone()).expect("utf8");
    assert!(
        raw.starts_with(r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":""#),
        "{raw:.80}"
    );
    assert_eq!(keys(&ours), keys(&real));
    let rv = ours["metadata"]["resourceVersion"].as_str().expect("rv");
    assert!(
        rv.parse::<u64>()
            .is_ok_and(|n| n == srv.double.resource_version()),
        "decimal RV {rv}"
    );
    let item = ours["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["metadata"]["name"] == "annotated")
        .expect("item");
    let real_item = &real["items"][0];
    assert_eq!(
        keys(item),
        keys(real_item),
        "items carry no kind/apiVersion, like the real list"
    );
    let meta_keys = keys(&item["metadata"]);
    let real_meta: Vec<String> = keys(&real_item["metadata"])
        .into_iter()
        .filter(|k| meta_keys.contains(k))
        .collect();
    assert_eq!(meta_keys, real_meta, "ObjectMeta key order");
    assert!(meta_keys.len() >= 8);
    assert_eq!(
        ours["items"].as_array().map(Vec::len),
        Some(4),
        "default ns: 3 seeded + 1"
    );
}

#[test]
fn protobuf_list_and_get_have_the_captured_structure() {
    let srv = server();
    let r = block(srv.client().get(
        "/api/v1/namespaces/default/pods",
        &[(
            "Accept",
            "application/vnd.kubernetes.protobuf,application/json",
        )],
    ))
    .expect("list");
    assert_eq!(
        r.header("content-type"),
        Some(capture_content_type("list-pods.pb.headers").as_str())
    );
    let (env, tm, raw) = envelope(&r.body);
    let (real_env, real_tm, real_raw) = envelope(&capture("list-pods.pb.body"));
    assert_eq!(
        env, real_env,
        "Unknown: typeMeta, raw, contentEncoding, contentType"
    );
    assert_eq!(pb_fields(&tm), pb_fields(&real_tm), "typeMeta v1/PodList");
    let list_meta = pb_field(&raw, 1);
    assert_eq!(
        numbers(&list_meta),
        numbers(&pb_field(&real_raw, 1)),
        "ListMeta fields"
    );
    let rv = String::from_utf8(pb_field(&list_meta, 2)).expect("rv");
    assert_eq!(rv, srv.double.resource_version().to_string());
    let items: Vec<Vec<u8>> = pb_fields(&raw)
        .into_iter()
        .filter(|f| f.0 == 2)
        .map(|f| f.1)
        .collect();
    assert_eq!(items.len(), 4);
    let real_item = pb_field(&real_raw, 2);
    assert_eq!(
        numbers(&items[0]),
        numbers(&real_item),
        "metadata, spec, status"
    );
    // The single GET: ObjectMeta fields equal the real ones but managedFields (17).
    let g = block(srv.client().get(
        "/api/v1/namespaces/default/pods/annotated",
        &[("Accept", PB)],
    ))
    .expect("get");
    assert_eq!(
        g.header("content-type"),
        Some(capture_content_type("get-pod.pb.headers").as_str())
    );
    let (_, tm, obj) = envelope(&g.body);
    assert_eq!(String::from_utf8(pb_field(&tm, 2)).expect("kind"), "Pod");
    let (_, _, real_obj) = envelope(&capture("get-pod.pb.body"));
    let real_meta: Vec<u64> = numbers(&pb_field(&real_obj, 1))
        .into_iter()
        .filter(|n| *n != 17)
        .collect();
    let meta = pb_field(&obj, 1);
    assert_eq!(numbers(&meta), real_meta);
    assert_eq!(pb_field(&meta, 1), b"annotated");
    assert_eq!(pb_field(&meta, 3), b"default");
    assert_eq!(
        numbers(&pb_field(&meta, 8)),
        vec![1, 2],
        "creationTimestamp is Time: seconds, nanos"
    );
}

#[test]
fn errors_are_the_real_status_bodies() {
    let srv = server();
    let c = srv.client();
    let nf = block(c.get("/api/v1/namespaces/default/pods/nope", &[])).expect("404");
    assert_eq!(nf.status, 404);
    assert_eq!(
        nf.header("content-type"),
        Some(capture_content_type("get-pod-notfound.json.headers").as_str())
    );
    assert_eq!(nf.json(), json_capture("get-pod-notfound.json.body"));
    let nf_pb =
        block(c.get("/api/v1/namespaces/default/pods/nope", &[("Accept", PB)])).expect("404 pb");
    assert_eq!(
        nf_pb.body,
        capture("get-pod-notfound.pb.body"),
        "byte-identical protobuf Status"
    );
    let bad =
        block(c.get("/api/v1/namespaces/default/pods?continue=Z2FyYmFnZQ", &[])).expect("400");
    let real_bad = json_capture("list-pods-continue-expired.json.body");
    assert_eq!(bad.status, 400);
    assert_eq!(keys(&bad.json()), keys(&real_bad));
    assert_eq!(
        (bad.json()["reason"].clone(), bad.json()["code"].clone()),
        (real_bad["reason"].clone(), real_bad["code"].clone())
    );
    assert!(bad.json()["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("invalid continue token")));
    srv.double.compact();
    let gone = block(c.get(
        "/api/v1/namespaces/default/pods?resourceVersion=2&resourceVersionMatch=Exact",
        &[],
    ))
    .expect("410");
    assert_eq!(gone.status, 410);
    assert_eq!(
        gone.json(),
        json_capture("list-pods-rv2-exact-compacted-nowatchcache.json.body")
    );
    let gone_pb = block(c.get(
        "/api/v1/namespaces/default/pods?resourceVersion=2&resourceVersionMatch=Exact",
        &[("Accept", PB)],
    ))
    .expect("410");
    assert_eq!(
        gone_pb.body,
        capture("list-pods-rv2-exact-compacted-nowatchcache.pb.body")
    );
    let unknown = block(c.get("/apis/apps/v1/replicasets", &[])).expect("unknown");
    assert_eq!(
        (unknown.status, unknown.json()["reason"].as_str()),
        (404, Some("NotFound"))
    );
    let not_allowed =
        block(c.request("PUT", "/api/v1/namespaces/default/pods", &[], b"{}")).expect("405");
    assert_eq!(not_allowed.status, 405);
    let pb_body = block(c.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        &[("Content-Type", PB)],
        b"k8s\0",
    ))
    .expect("415");
    assert_eq!(
        (pb_body.status, pb_body.json()["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let dup = block(c.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        &[("Content-Type", "application/json")],
        br#"{"metadata":{"name":"annotated"}}"#,
    ))
    .expect("409");
    assert_eq!(
        (dup.status, dup.json()["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
}

#[test]
fn compacted_watch_is_200_then_an_in_stream_410() {
    let srv = server();
    srv.double.compact();
    block(async {
        let mut s = watch(
            &srv,
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion=2",
            "application/json",
        )
        .await;
        let body = s.read_until(WAIT, |_| false).await;
        assert_eq!(
            lines(&body),
            lines(&capture("watch-pods-rv2-compacted-nowatchcache.json.body"))
        );
        assert!(s.ended, "the stream ends after the ERROR");
        let mut p = watch(
            &srv,
            "/api/v1/namespaces/default/pods?watch=1&resourceVersion=2",
            PB,
        )
        .await;
        assert_eq!(
            p.headers
                .iter()
                .find(|h| h.0 == "content-type")
                .map(|h| h.1.clone()),
            Some(capture_content_type(
                "watch-pods-rv2-compacted-nowatchcache.pb.headers"
            ))
        );
        let body = p.read_until(WAIT, |_| false).await;
        assert_eq!(
            body,
            capture("watch-pods-rv2-compacted-nowatchcache.pb.body"),
            "byte-identical ERROR frame"
        );
    });
}

#[test]
fn json_watch_is_one_event_per_line_with_bookmarks() {
    let srv = server();
    srv.double.set_bookmark_interval(Duration::from_millis(200));
    let rv = srv.double.resource_version();
    block(async {
        let path = format!("/api/v1/namespaces/default/pods?allowWatchBookmarks=true&resourceVersion={rv}&watch=true");
        let mut s = watch(&srv, &path, "application/json").await;
        assert_eq!(
            s.headers
                .iter()
                .find(|h| h.0 == "content-type")
                .map(|h| h.1.as_str()),
            Some(capture_content_type("watch-pods.json.headers").as_str())
        );
        assert!(s
            .headers
            .iter()
            .any(|h| h.0 == "transfer-encoding" && h.1 == "chunked"));
        srv.double
            .create(
                "/api/v1/namespaces/default/pods",
                json!({"metadata": {"name": "live"}}),
            )
            .expect("create");
        srv.double
            .create(
                "/api/v1/namespaces/kube-system/pods",
                json!({"metadata": {"name": "elsewhere"}}),
            )
            .expect("create");
        srv.double
            .delete("/api/v1/namespaces/default/pods/live")
            .expect("delete");
        let body = s
            .read_until(WAIT, |b| b.windows(8).any(|w| w == b"BOOKMARK"))
            .await;
        let evs = lines(&body);
        let real = lines(&capture("watch-pods.json.body"));
        let kinds: Vec<&str> = evs
            .iter()
            .map(|e| e["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            vec!["ADDED", "DELETED", "BOOKMARK"],
            "namespace filter applies"
        );
        assert_eq!(keys(&evs[0]), keys(&real[0]), "type, object");
        assert_eq!(
            keys(&evs[0]["object"])[..3],
            keys(&real[0]["object"])[..3],
            "kind, apiVersion, metadata"
        );
        let bm = &evs[2];
        let mut real_bm = real.last().cloned().expect("capture bookmark");
        real_bm["object"]["metadata"]["resourceVersion"] =
            bm["object"]["metadata"]["resourceVersion"].clone();
        assert_eq!(*bm, real_bm, "bookmark object as the apiserver writes it");
        assert_eq!(
            bm["object"]["metadata"]["resourceVersion"],
            srv.double.resource_version().to_string()
        );
        let d = evs[1]["object"]["metadata"]["resourceVersion"]
            .as_str()
            .expect("rv");
        assert!(d.parse::<u64>().is_ok_and(|n| n > rv));
    });
}

#[test]
fn protobuf_watch_frames_have_the_captured_structure() {
    let srv = server();
    let rv = srv.double.resource_version();
    block(async {
        let mut s = watch(
            &srv,
            &format!("/api/v1/namespaces/default/pods?resourceVersion={rv}&watch=true"),
            "application/vnd.kubernetes.protobuf, */*",
        )
        .await;
        assert_eq!(
            s.headers
                .iter()
                .find(|h| h.0 == "content-type")
                .map(|h| h.1.as_str()),
            Some(capture_content_type("watch-pods.pb.headers").as_str())
        );
        srv.double
            .create(
                "/api/v1/namespaces/default/pods",
                json!({"metadata": {"name": "live", "labels": {"x": "y"}}}),
            )
            .expect("create");
        let body = s.read_until(WAIT, |b| !frames(b).is_empty()).await;
        let ours = frames(&body);
        let real = frames(&capture("watch-pods.pb.body"));
        assert_eq!(
            numbers(&ours[0]),
            numbers(&real[0]),
            "WatchEvent: type, object"
        );
        assert_eq!(pb_field(&ours[0], 1), b"ADDED");
        let ext = pb_field(&ours[0], 2);
        assert_eq!(
            numbers(&ext),
            numbers(&pb_field(&real[0], 2)),
            "RawExtension: raw"
        );
        let (env, tm, obj) = envelope(&pb_field(&ext, 1));
        let (real_env, real_tm, _) = envelope(&pb_field(&pb_field(&real[0], 2), 1));
        assert_eq!((env, pb_fields(&tm)), (real_env, pb_fields(&real_tm)));
        assert_eq!(pb_field(&pb_field(&obj, 1), 1), b"live");
    });
}

#[test]
fn watchlist_sends_initial_events_then_the_end_bookmark_then_live_events() {
    let srv = server();
    let q = "/api/v1/namespaces/default/pods?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&watch=true";
    let rv = srv.double.resource_version().to_string();
    block(async {
        let mut s = watch(&srv, q, "application/json").await;
        let body = s
            .read_until(WAIT, |b| {
                b.windows(25).any(|w| w == b"k8s.io/initial-events-end")
            })
            .await;
        let evs = lines(&body);
        let real = lines(&capture("watchlist-pods.json.body"));
        let n = evs.len();
        assert_eq!(n, 5, "4 pods in default, then the bookmark");
        assert!(evs[..n - 1].iter().all(|e| e["type"] == "ADDED"));
        let mut real_bm = real
            .iter()
            .find(|e| e["type"] == "BOOKMARK")
            .cloned()
            .expect("capture bookmark");
        real_bm["object"]["metadata"]["resourceVersion"] = json!(rv);
        assert_eq!(evs[n - 1], real_bm);
        srv.double
            .create(
                "/api/v1/namespaces/default/pods",
                json!({"metadata": {"name": "after"}}),
            )
            .expect("create");
        let more = lines(&s.read_until(WAIT, |b| b.ends_with(b"\n")).await);
        assert_eq!(
            (
                more[0]["type"].as_str(),
                more[0]["object"]["metadata"]["name"].as_str()
            ),
            (Some("ADDED"), Some("after"))
        );
        // The same in protobuf: ADDED frames, then a BOOKMARK carrying the annotation.
        let mut p = watch(&srv, q, PB).await;
        let body = p.read_until(WAIT, |b| frames(b).len() >= 6).await;
        let fs = frames(&body);
        let types: Vec<Vec<u8>> = fs.iter().map(|f| pb_field(f, 1)).collect();
        assert_eq!(types.iter().filter(|t| t.as_slice() == b"ADDED").count(), 5);
        assert_eq!(types[5], b"BOOKMARK");
        let (_, _, obj) = envelope(&pb_field(&pb_field(&fs[5], 2), 1));
        let meta = pb_field(&obj, 1);
        let real_frames = frames(&capture("watchlist-pods.pb.body"));
        let real_bm = real_frames
            .iter()
            .find(|f| pb_field(f, 1) == b"BOOKMARK")
            .expect("capture bookmark");
        let (_, _, real_obj) = envelope(&pb_field(&pb_field(real_bm, 2), 1));
        let real_meta = pb_field(&real_obj, 1);
        assert_eq!(numbers(&meta), numbers(&real_meta));
        assert_eq!(
            pb_field(&meta, 12),
            pb_field(&real_meta, 12),
            "initial-events-end annotation"
        );
    });
}

#[test]
fn timeouts_end_watches_cleanly() {
    let srv = server();
    block(async {
        let mut s = watch(
            &srv,
            "/api/v1/pods?watch=1&timeoutSeconds=1&resourceVersion=0",
            "application/json",
        )
        .await;
        let body = s.read_until(WAIT, |_| false).await;
        assert_eq!(lines(&body).len(), 5, "synthetic ADDED for all 5 pods");
        assert!(s.ended, "terminal chunk received");
    });
}

#[test]
fn tables_discovery_and_version() {
    let srv = server();
    let c = srv.client();
    let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let t = block(c.get(
        "/api/v1/namespaces/default/pods?limit=500",
        &[("Accept", kubectl)],
    ))
    .expect("table");
    assert_eq!(
        t.header("content-type"),
        Some(capture_content_type("list-pods.table.json.headers").as_str())
    );
    let (ours, real) = (t.json(), json_capture("list-pods.table.json.body"));
    let names = |v: &Value| {
        v["columnDefinitions"]
            .as_array()
            .map(|c| c.iter().map(|x| x["name"].clone()).collect::<Vec<_>>())
    };
    assert_eq!(names(&ours), names(&real));
    assert_eq!(keys(&ours), keys(&real));
    assert_eq!(ours["rows"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        keys(&ours["rows"][0]["object"]),
        keys(&real["rows"][0]["object"])
    );
    let disc =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let a = block(c.get("/apis", &[("Accept", disc)])).expect("aggregated");
    assert_eq!(
        a.header("content-type"),
        Some(capture_content_type("discovery-aggregated.json.headers").as_str())
    );
    assert_eq!(
        keys(&a.json()),
        keys(&json_capture("discovery-aggregated.json.body"))
    );
    let api = block(c.get("/api", &[])).expect("/api");
    assert_eq!(
        keys(&api.json()),
        keys(&json_capture("discovery-api.json.body"))
    );
    let v = block(srv.anonymous().get("/version", &[])).expect("version");
    assert_eq!(v.json(), json_capture("version.json.body"));
    let curl = block(c.get("/version", &[("User-Agent", "curl/8.5.0")])).expect("version");
    assert_eq!(
        curl.body,
        capture("version.json.body"),
        "pretty-printed for curl, byte for byte"
    );
}

#[test]
fn paging_walks_every_pod_once() {
    let srv = server();
    let c = srv.client();
    let mut seen = Vec::new();
    let mut cont = String::new();
    loop {
        let r = block(c.get(&format!("/api/v1/pods?limit=2&continue={cont}"), &[]))
            .expect("page")
            .json();
        seen.extend(
            r["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string()),
        );
        match r["metadata"]["continue"].as_str() {
            Some(next) => {
                assert!(r["metadata"]["remainingItemCount"]
                    .as_i64()
                    .is_some_and(|n| n > 0));
                cont = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let sel = block(c.get(
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&labelSelector=app%20in%20(web%2Cdemo)",
        &[],
    ))
    .expect("sel")
    .json();
    let mut names: Vec<&str> = sel["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, vec!["annotated", "web-0"]);
}

#[test]
fn authentication_and_the_request_log() {
    let srv = server();
    let anon = srv.anonymous();
    let denied = block(anon.get("/api/v1/pods", &[])).expect("401");
    assert_eq!(
        (denied.status, denied.json()["reason"].as_str()),
        (401, Some("Unauthorized"))
    );
    assert_eq!(
        block(anon.get("/healthz", &[])).expect("healthz").body,
        b"ok"
    );
    let ok = block(anon.get(
        "/api/v1/pods",
        &[
            ("Authorization", "Bearer abc"),
            (
                "User-Agent",
                "kubelet/v1.32.0 (linux/arm64) kubernetes/abcdef0",
            ),
        ],
    ))
    .expect("200");
    assert_eq!(ok.status, 200);
    block(srv.client().get("/api/v1/nodes", &[("Accept", PB)])).expect("cert");
    let log = srv.double.requests();
    let bearer = log
        .iter()
        .find(|r| r.authorization.as_deref() == Some("Bearer abc"))
        .expect("logged");
    assert_eq!(
        (
            bearer.method.as_str(),
            bearer.path_and_query.as_str(),
            bearer.client_cert
        ),
        ("GET", "/api/v1/pods", false)
    );
    assert!(bearer.user_agent.starts_with("kubelet/"));
    let cert = log
        .iter()
        .find(|r| r.path_and_query == "/api/v1/nodes")
        .expect("logged");
    assert!(cert.client_cert);
    assert_eq!(cert.accept, PB);
    srv.double.set_require_auth(false);
    assert_eq!(
        block(anon.get("/api/v1/pods", &[])).expect("open").status,
        200
    );
}

#[test]
fn writes_over_http() {
    let srv = server();
    let c = srv.client();
    let json_ct = [("Content-Type", "application/json")];
    let created = block(c.request(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &json_ct,
        br#"{"metadata":{"name":"cm1"},"data":{"k":"v"}}"#,
    ))
    .expect("create");
    assert_eq!(created.status, 201);
    let cm = created.json();
    assert_eq!(
        (cm["kind"].as_str(), cm["metadata"]["namespace"].as_str()),
        (Some("ConfigMap"), Some("default"))
    );
    let patch = [("Content-Type", "application/merge-patch+json")];
    let p = block(c.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm1",
        &patch,
        br#"{"data":{"k":"w"}}"#,
    ))
    .expect("patch");
    assert_eq!(p.json()["data"]["k"], "w");
    let mut stale = cm.clone();
    stale["data"]["k"] = json!("x");
    let conflict = block(c.request(
        "PUT",
        "/api/v1/namespaces/default/configmaps/cm1",
        &json_ct,
        stale.to_string().as_bytes(),
    ))
    .expect("put");
    assert_eq!(
        (conflict.status, conflict.json()["reason"].as_str()),
        (409, Some("Conflict"))
    );
    let node_patch = [("Content-Type", "application/strategic-merge-patch+json")];
    let body = br#"{"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#;
    let n = block(c.request("PATCH", "/api/v1/nodes/edge-1/status", &node_patch, body))
        .expect("status patch");
    assert_eq!(n.json()["status"]["conditions"][0]["status"], "False");
    assert_eq!(
        n.json()["status"]["addresses"][0]["type"],
        "InternalIP",
        "the rest of status is kept"
    );
    let tok = block(c.request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        &json_ct,
        br#"{"spec":{"audiences":["x"],"expirationSeconds":3607}}"#,
    ))
    .expect("token");
    assert_eq!(tok.status, 201);
    assert!(tok.json()["status"]["token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let del = block(c.request(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/cm1",
        &[],
        b"",
    ))
    .expect("delete");
    assert_eq!(del.status, 200);
    assert!(srv
        .double
        .get("/api/v1/namespaces/default/configmaps/cm1")
        .is_none());
}

#[test]
fn protobuf_token_requests_are_read_and_answered_with_their_bound_pod() {
    use yurt::k8s::meta::Encoding;
    use yurt::k8s::token::{decode, encode, BoundRef, TokenRequest};
    let srv = server();
    let want = TokenRequest {
        audiences: vec!["https://kubernetes.default.svc.cluster.local".into()],
        expiration_seconds: Some(3607),
        bound: Some(BoundRef {
            kind: "Pod".into(),
            api_version: "v1".into(),
            name: "web-0".into(),
            uid: "u-1".into(),
        }),
        ..TokenRequest::default()
    };
    let pb = "application/vnd.kubernetes.protobuf";
    let r = block(srv.client().request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        &[("Content-Type", pb), ("Accept", pb)],
        &encode(Encoding::Protobuf, &want, 0),
    ))
    .expect("token");
    assert_eq!((r.status, r.header("content-type")), (201, Some(pb)));
    let got = decode(Encoding::Protobuf, &r.body).expect("a TokenRequest");
    assert_eq!((got.bound, got.audiences), (want.bound, want.audiences));
    assert_eq!(
        (got.name.as_str(), got.namespace.as_str()),
        ("", ""),
        "the request's metadata, copied as kube-apiserver does"
    );
    assert!(!got.token.is_empty() && got.expiration.is_some());
    let bad = block(srv.client().request(
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        &[("Content-Type", pb)],
        b"k8s\0\x0a\xff",
    ))
    .expect("answer");
    assert_eq!(bad.status, 400);
    let lease = block(srv.client().request(
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        &[("Content-Type", pb)],
        b"k8s\0",
    ))
    .expect("answer");
    assert_eq!(lease.status, 415, "other protobuf bodies are still refused");
}

#[test]
fn dry_run_writes_are_answered_but_not_stored() {
    let srv = DoubleServer::start(ApiDouble::sandbox("edge-1"));
    let c = srv.client();
    let rv = srv.double.resource_version();
    let cm = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry","namespace":"default"},"data":{"a":"1"}}"#;
    let r = smol::block_on(c.request(
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=All",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ],
        cm,
    ))
    .expect("dry-run create");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["metadata"]["name"], "dry");
    assert!(
        srv.double
            .get("/api/v1/namespaces/default/configmaps/dry")
            .is_none(),
        "dry-run create stored"
    );
    let web = "/api/v1/namespaces/default/pods/web-0";
    let r = smol::block_on(c.request(
        "DELETE",
        web,
        &[
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ],
        br#"{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}"#,
    ))
    .expect("dry-run delete");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        srv.double.get(web).is_some(),
        "dry-run delete removed the pod"
    );
    assert_eq!(
        srv.double.resource_version(),
        rv,
        "a dry run moved the resourceVersion"
    );
}
