//! Tests of the protobuf encoders against real kube-apiserver bytes.

use super::*;
use crate::apidouble::errors::DoubleError;
use crate::apidouble::resources::{find, get};

fn capture(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/k8s-captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(p).expect("capture exists")
}

fn json_capture(name: &str) -> Value {
    serde_json::from_slice(&capture(name)).expect("json capture")
}

fn field(msg: &[u8], n: u32) -> &[u8] {
    fields(msg)
        .expect("valid message")
        .into_iter()
        .find(|f| f.0 == n)
        .expect("field present")
        .2
}

#[test]
fn status_bodies_are_byte_identical() {
    let nf = DoubleError::NotFound {
        resource: "pods".into(),
        group: String::new(),
        name: "nope".into(),
    };
    assert_eq!(
        status_envelope(&nf.status()),
        capture("get-pod-notfound.pb.body")
    );
    let gone = DoubleError::Expired("The resourceVersion for the provided list is too old.".into());
    assert_eq!(
        status_envelope(&gone.status()),
        capture("list-pods-rv2-exact-compacted-nowatchcache.pb.body")
    );
}

#[test]
fn object_meta_matches_the_apiserver_without_managed_fields() {
    let json = json_capture("get-pod.json.body");
    let pb = capture("get-pod.pb.body");
    let real_meta = field(unwrap_envelope(&pb).expect("envelope"), 1);
    let real_no_mf: Vec<u8> = fields(real_meta)
        .expect("meta")
        .into_iter()
        .filter(|f| f.0 != 17)
        .flat_map(|f| f.1.iter().copied())
        .collect();
    assert_eq!(object_meta(&json["metadata"]), real_no_mf);
}

#[test]
fn list_meta_and_envelope_match() {
    let pb = capture("list-pods.pb.body");
    let raw = unwrap_envelope(&pb).expect("envelope");
    assert_eq!(field(raw, 1), list_meta("72", "", None));
    let pods = get(find("", "v1", "pods").expect("pods")).expect("pods");
    let json = json_capture("list-pods.json.body");
    let items: Vec<&Value> = json["items"].as_array().expect("items").iter().collect();
    let ours = list_envelope(pods, &items, "72", "", None);
    let body = ours.strip_prefix(MAGIC).expect("magic");
    let real_body = pb.strip_prefix(MAGIC).expect("magic");
    assert_eq!(field(body, 1), field(real_body, 1), "typeMeta");
    let ours_raw = unwrap_envelope(&ours).expect("ours");
    let ours_item = field(ours_raw, 2);
    let real_item = field(raw, 2);
    let meta_fields = |m: &[u8]| {
        fields(field(m, 1))
            .expect("meta")
            .iter()
            .map(|f| f.0)
            .filter(|n| *n != 17)
            .collect::<Vec<_>>()
    };
    assert_eq!(meta_fields(ours_item), meta_fields(real_item));
    let tops = |m: &[u8]| {
        fields(m)
            .expect("obj")
            .iter()
            .map(|f| f.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(tops(ours_item), tops(real_item), "metadata, spec, status");
}

#[test]
fn watch_frames_rebuild_the_capture() {
    let pb = capture("watch-pods.pb.body");
    let len = u32::from_be_bytes([pb[0], pb[1], pb[2], pb[3]]) as usize;
    let frame = &pb[..4 + len];
    let ev = &frame[4..];
    let t = std::str::from_utf8(field(ev, 1)).expect("type");
    let raw = field(field(ev, 2), 1);
    assert_eq!(t, "MODIFIED");
    assert_eq!(watch_frame(t, raw), frame);
}

#[test]
fn fixture_rest_drops_metadata_only() {
    for r in crate::apidouble::resources::RESOURCES {
        let rest = fixture_rest(r);
        let fs = fields(&rest).expect("valid");
        assert!(!fs.is_empty(), "{} has spec/status", r.name);
        assert!(fs.iter().all(|f| f.0 != 1), "{}", r.name);
    }
}

#[test]
fn token_request_encodes_live_status() {
    let tr = serde_json::json!({"metadata": {"name": "sa"}, "spec": {"audiences": ["a"], "expirationSeconds": 3607},
        "status": {"token": "tok123", "expirationTimestamp": "2026-11-25T18:18:26Z"}});
    let env = token_request_envelope(&tr);
    let raw = unwrap_envelope(&env).expect("envelope");
    assert_eq!(field(field(raw, 3), 1), b"tok123");
    assert_eq!(field(field(raw, 2), 1), b"a");
}

#[test]
fn the_reader_survives_every_prefix() {
    for name in ["list-pods.pb.body", "watch-pods.pb.body", "get-pod.pb.body"] {
        let b = capture(name);
        for i in 0..b.len() {
            let _ = fields(&b[..i]);
            let _ = unwrap_envelope(&b[..i]);
        }
    }
    assert!(fields(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_none());
    assert!(fields(&[0x0b]).is_none());
}
