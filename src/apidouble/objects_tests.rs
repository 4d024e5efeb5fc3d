//! Tests of create/update/patch/delete semantics on the store.

use super::*;
use crate::apidouble::path::{route, Route};

fn rp(path: &str) -> ResPath {
    match route(path) {
        Route::Resource(r) => r,
        other => panic!("{path}: {other:?}"),
    }
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

#[test]
fn create_defaults_and_conflicts() {
    let mut st = Store::new();
    let p = create(&mut st, &rp("/api/v1/namespaces/default/pods"), pod("a")).expect("created");
    assert_eq!(p["kind"], "Pod");
    assert_eq!(p["apiVersion"], "v1");
    assert_eq!(p["metadata"]["namespace"], "default");
    assert_eq!(p["metadata"]["resourceVersion"], "2");
    assert_eq!(p["metadata"]["generation"], 1);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(meta_str(&p, "uid").len(), 36);
    assert!(crate::apidouble::meta::parse_rfc3339(meta_str(&p, "creationTimestamp")).is_some());
    let dup = create(&mut st, &rp("/api/v1/namespaces/default/pods"), pod("a")).expect_err("dup");
    assert_eq!((dup.code(), dup.reason()), (409, "AlreadyExists"));
    let other_ns = create(
        &mut st,
        &rp("/api/v1/namespaces/other/pods"),
        json!({"metadata": {"name": "b", "namespace": "default"}}),
    );
    assert_eq!(other_ns.expect_err("mismatch").code(), 400);
    let noname = create(
        &mut st,
        &rp("/api/v1/namespaces/default/pods"),
        json!({"metadata": {}}),
    );
    assert_eq!(noname.expect_err("no name").code(), 422);
    let gen = create(
        &mut st,
        &rp("/api/v1/namespaces/default/pods"),
        json!({"metadata": {"generateName": "web-"}}),
    )
    .expect("gen");
    assert!(meta_str(&gen, "name").starts_with("web-") && meta_str(&gen, "name").len() == 9);
    let wrong_kind = create(
        &mut st,
        &rp("/api/v1/configmaps"),
        json!({"kind": "Pod", "metadata": {"name": "x"}}),
    );
    assert!(wrong_kind.is_err());
    let ns = create(
        &mut st,
        &rp("/api/v1/namespaces"),
        json!({"metadata": {"name": "team", "namespace": "ignored"}}),
    )
    .expect("ns");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team"
    );
    assert!(ns["metadata"].get("namespace").is_none());
    assert!(
        create(&mut st, &rp("/api/v1/pods"), pod("c")).is_err(),
        "needs a namespace"
    );
    assert!(create(
        &mut st,
        &rp("/api/v1/namespaces/default/pods"),
        json!("str")
    )
    .is_err());
    assert!(create(
        &mut st,
        &rp("/api/v1/namespaces/default/pods"),
        json!({"metadata": {"name": "s"}, "status": "x"})
    )
    .is_ok());
}

#[test]
fn updates_check_versions_and_keep_status() {
    let mut st = Store::new();
    let path = rp("/api/v1/namespaces/default/pods/a");
    let created =
        create(&mut st, &rp("/api/v1/namespaces/default/pods"), pod("a")).expect("created");
    let mut changed = (*created).clone();
    changed["metadata"]["labels"]["app"] = json!("y");
    changed["status"] = json!({"phase": "Running"});
    let up = update(&mut st, &path, changed.clone()).expect("updated");
    assert_eq!(up["metadata"]["labels"]["app"], "y");
    assert_eq!(
        up["status"]["phase"], "Pending",
        "main resource PUT keeps status"
    );
    assert_eq!(up["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(up["metadata"]["generation"], 1, "spec unchanged");
    let stale = update(&mut st, &path, changed.clone()).expect_err("stale");
    assert_eq!((stale.code(), stale.reason()), (409, "Conflict"));
    let mut st_body = (*up).clone();
    st_body["status"] = json!({"phase": "Running"});
    let s = update(
        &mut st,
        &rp("/api/v1/namespaces/default/pods/a/status"),
        st_body,
    )
    .expect("status");
    assert_eq!(s["status"]["phase"], "Running");
    let rv = st.rv();
    let same = update(&mut st, &path, (*s).clone()).expect("no-op");
    assert_eq!(st.rv(), rv, "a no-op update commits nothing");
    assert_eq!(
        same["metadata"]["resourceVersion"],
        s["metadata"]["resourceVersion"]
    );
    let mut spec = (*s).clone();
    spec["spec"]["containers"][0]["image"] = json!("j");
    assert_eq!(
        update(&mut st, &path, spec).expect("spec")["metadata"]["generation"],
        2
    );
    let missing = update(
        &mut st,
        &rp("/api/v1/namespaces/default/pods/zz"),
        pod("zz"),
    )
    .expect_err("404");
    assert_eq!(missing.to_string(), "pods \"zz\" not found");
    let rename = update(&mut st, &path, pod("b")).expect_err("rename");
    assert_eq!(rename.code(), 400);
}

#[test]
fn patches_and_deletes() {
    let mut st = Store::new();
    create(&mut st, &rp("/api/v1/nodes"), json!({"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}})).expect("node");
    let p = patch(&mut st, &rp("/api/v1/nodes/n1/status"), &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}, "metadata": {"labels": {"x": "y"}}}), PatchKind::Strategic).expect("patched");
    assert_eq!(p["status"]["conditions"][0]["status"], "True");
    assert!(
        p["metadata"].get("labels").is_none(),
        "a status patch changes only status"
    );
    let m = patch(
        &mut st,
        &rp("/api/v1/nodes/n1"),
        &json!({"metadata": {"labels": {"x": "y"}}, "status": {"phase": "z"}}),
        PatchKind::Merge,
    )
    .expect("patched");
    assert_eq!(m["metadata"]["labels"]["x"], "y");
    assert!(
        m["status"].get("phase").is_none(),
        "a main patch keeps status"
    );
    let uid_pre = patch(
        &mut st,
        &rp("/api/v1/nodes/n1"),
        &json!({"metadata": {"uid": "other"}}),
        PatchKind::Merge,
    );
    assert_eq!(uid_pre.expect_err("uid").code(), 409);
    assert_eq!(
        delete(&mut st, &rp("/api/v1/nodes/n1"), Some("nope"), None)
            .expect_err("pre")
            .code(),
        409
    );
    let gone = delete(&mut st, &rp("/api/v1/nodes/n1"), None, None).expect("deleted");
    assert_eq!(gone["metadata"]["resourceVersion"], st.rv().to_string());
    assert_eq!(
        delete(&mut st, &rp("/api/v1/nodes/n1"), None, None)
            .expect_err("gone")
            .code(),
        404
    );
}

#[test]
fn tokens_need_the_service_account() {
    let mut st = Store::new();
    let tp = rp("/api/v1/namespaces/default/serviceaccounts/default/token");
    assert_eq!(token(&st, &tp, json!({})).expect_err("no sa").code(), 404);
    create(
        &mut st,
        &rp("/api/v1/namespaces/default/serviceaccounts"),
        json!({"metadata": {"name": "default"}}),
    )
    .expect("sa");
    let t = token(
        &st,
        &tp,
        json!({"spec": {"audiences": ["x"], "expirationSeconds": 3607}}),
    )
    .expect("token");
    assert_eq!(t["kind"], "TokenRequest");
    assert!(t["status"]["token"].as_str().is_some_and(|s| !s.is_empty()));
    let exp = crate::apidouble::meta::parse_rfc3339(
        t["status"]["expirationTimestamp"].as_str().unwrap_or(""),
    )
    .expect("time");
    assert!((exp - now_secs() - 3607).abs() < 5);
    assert!(token(&st, &tp, json!({"spec": 5})).is_ok());
    assert_eq!(
        t["metadata"].get("name"),
        None,
        "the request's metadata is copied"
    );
    let other = json!({"metadata": {"name": "builder"}});
    assert_eq!(token(&st, &tp, other).expect_err("mismatch").code(), 400);
}
