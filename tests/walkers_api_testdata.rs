//! Every Kubernetes API type in tests/fixtures/k8s-api-testdata: the protobuf walker and the
//! JSON reader must agree on type and metadata for the same object.

mod walkers_support;

use std::collections::BTreeMap;

use walkers_support::fixtures;
use yurt::k8s::json::{object_meta_json, status_json, JsonMeta};
use yurt::k8s::pb::{
    decode_envelope, decode_list, object_meta, status, watch_event, wire, ObjectMeta,
};

/// Kinds whose field 1 is not ObjectMeta, with the reason. `*Options` kinds are a rule of their own.
const NO_OBJECT_META: [(&str, &str); 5] = [
    (
        "AdmissionReview",
        "a request/response envelope; field 1 is `request`",
    ),
    (
        "DeploymentRollback",
        "an action, not a stored object; field 1 is `name`",
    ),
    ("APIGroup", "discovery document; field 1 is `name`"),
    ("APIVersions", "discovery document; field 1 is `versions`"),
    ("SerializedReference", "field 1 is `reference`"),
];

fn exception(kind: &str) -> Option<&'static str> {
    if kind.ends_with("Options") {
        return Some("query options, never stored; field 1 is the first option");
    }
    NO_OBJECT_META
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, why)| *why)
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp such as `2008-01-01T01:01:01Z`.
fn rfc3339_seconds(ts: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| ts[r].parse::<i64>().expect("digits");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d - 719_469;
    days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)
}

fn sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<&'a str, &'a str> {
    pairs.collect()
}

fn assert_same_meta(stem: &str, pb: &ObjectMeta<'_>, json: &JsonMeta<'_>) {
    assert_eq!(pb.name, json.name, "{stem}: name");
    assert_eq!(pb.generate_name, json.generate_name, "{stem}: generateName");
    assert_eq!(pb.namespace, json.namespace, "{stem}: namespace");
    assert_eq!(pb.uid, json.uid, "{stem}: uid");
    assert_eq!(
        pb.resource_version, json.resource_version,
        "{stem}: resourceVersion"
    );
    assert_eq!(pb.generation, json.generation, "{stem}: generation");
    let pb_labels = sorted(pb.labels.iter().copied());
    let json_labels = sorted(json.labels.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
    assert_eq!(pb_labels, json_labels, "{stem}: labels");
    let pb_ann = sorted(pb.annotations.iter().copied());
    let json_ann = sorted(
        json.annotations
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref())),
    );
    assert_eq!(pb_ann, json_ann, "{stem}: annotations");
    let secs = |t: &Option<std::borrow::Cow<'_, str>>| t.as_deref().map(rfc3339_seconds);
    let pb_created = pb.creation_timestamp.map(|t| t.seconds);
    assert_eq!(
        pb_created,
        secs(&json.creation_timestamp),
        "{stem}: creationTimestamp"
    );
    let pb_deleted = pb.deletion_timestamp.map(|t| t.seconds);
    assert_eq!(
        pb_deleted,
        secs(&json.deletion_timestamp),
        "{stem}: deletionTimestamp"
    );
}

/// Status: field 1 is ListMeta, the rest are Status fields.
fn check_status(raw: &[u8], json: &[u8]) {
    let (pb, js) = (
        status(raw).expect("pb status"),
        status_json(json).expect("json status"),
    );
    assert_eq!(pb, js);
    assert_eq!((pb.code, pb.reason.as_ref()), (6, "reasonValue"));
    let list_meta = decode_list(raw).expect("ListMeta at field 1");
    let v: serde_json::Value = serde_json::from_slice(json).expect("json");
    assert_eq!(list_meta.resource_version, v["metadata"]["resourceVersion"]);
    assert_eq!(list_meta.continue_token, v["metadata"]["continue"]);
    assert_eq!(
        list_meta.remaining_item_count,
        v["metadata"]["remainingItemCount"].as_i64()
    );
}

/// WatchEvent here holds `type: "typeValue"` and a JSON object in RawExtension.raw, unlike a
/// real stream (known type, `k8s\0` envelope): the strict decoder refuses it, the wire agrees.
fn check_watch_event(raw: &[u8], json: &[u8]) {
    assert!(
        watch_event(raw).is_err(),
        "unknown event type must be refused"
    );
    let v: serde_json::Value = serde_json::from_slice(json).expect("json");
    let fields: Vec<_> = wire::fields(raw).collect::<Result<_, _>>().expect("wire");
    assert_eq!(fields[0].str().expect("type"), v["type"]);
    let ext: Vec<_> = wire::fields(fields[1].bytes().expect("object"))
        .collect::<Result<_, _>>()
        .expect("ext");
    let object: serde_json::Value =
        serde_json::from_slice(ext[0].bytes().expect("raw")).expect("raw is JSON");
    assert_eq!(object, v["object"]);
}

#[test]
fn pb_and_json_agree_for_every_api_type() {
    let dir = fixtures("k8s-api-testdata");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".pb").map(str::to_owned))
        .collect();
    stems.sort();
    assert!(stems.len() >= 190, "found only {} .pb files", stems.len());
    let (mut compared, mut skipped, mut special) = (0, Vec::new(), 0);
    for stem in &stems {
        let pb = std::fs::read(dir.join(format!("{stem}.pb"))).expect("pb");
        let json = std::fs::read(dir.join(format!("{stem}.json"))).expect("json pair");
        let env = decode_envelope(&pb).unwrap_or_else(|e| panic!("{stem}: envelope: {e}"));
        let jm = object_meta_json(&json).unwrap_or_else(|e| panic!("{stem}: json: {e}"));
        assert_eq!(
            (env.kind, env.api_version),
            (jm.kind.as_ref(), jm.api_version.as_ref()),
            "{stem}"
        );
        let has_meta = serde_json::from_slice::<serde_json::Value>(&json).expect("json")
            ["metadata"]
            .is_object();
        match env.kind {
            "Status" => check_status(env.raw, &json),
            "" if stem.ends_with(".WatchEvent") => check_watch_event(env.raw, &json),
            kind if exception(kind).is_some() => {
                assert!(!has_meta, "{stem}: listed as an exception but has metadata");
                skipped.push(stem.clone());
                continue;
            }
            kind => {
                assert!(
                    !kind.ends_with("List"),
                    "{stem}: a List in testdata: check its items"
                );
                assert!(
                    has_meta,
                    "{stem}: no metadata and not listed as an exception"
                );
                let pm = object_meta(env.raw).unwrap_or_else(|e| panic!("{stem}: pb meta: {e}"));
                assert_same_meta(stem, &pm, &jm);
                assert_eq!(pm.name, "nameValue", "{stem}: fixtures fill every field");
                compared += 1;
                continue;
            }
        }
        special += 1;
    }
    assert_eq!(special, 2, "Status and WatchEvent");
    assert_eq!(skipped.len(), 20, "exceptions changed: {skipped:?}");
    assert!(compared >= 160, "compared only {compared}");
    for (kind, _) in NO_OBJECT_META {
        assert!(
            skipped.iter().any(|s| s.ends_with(&format!(".{kind}"))),
            "stale exception {kind}"
        );
    }
}

#[test]
fn date_helper_is_right() {
    assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), 0);
    assert_eq!(rfc3339_seconds("2008-01-01T01:01:01Z"), 1_199_149_261);
    assert_eq!(rfc3339_seconds("2024-03-01T00:00:00Z"), 1_709_251_200);
}
