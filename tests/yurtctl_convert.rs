//! `yurtctl convert` / `revert` / `status` against the API double (1 cloud + 2 edge nodes), the
//! binary run as users run it. The double has no kubelet, so a "fake kubelet" thread marks
//! conversion Jobs complete through the double's status subresource (except for nodes a test
//! holds back, to interrupt a conversion).

mod support;
mod yurtctl_support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{json, Value};
use yurtctl_support::*;

/// True when `small` is contained in `big` (objects key by key, everything else equal).
fn contains(big: &Value, small: &Value) -> bool {
    match (big, small) {
        (Value::Object(b), Value::Object(s)) => s
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|bv| contains(bv, v))),
        _ => big == small,
    }
}

#[test]
fn convert_creates_exactly_the_manifests_is_idempotent_and_revert_restores_everything() {
    let env = Env::new(cluster());
    let before = env.dump();
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    for line in [
        "[1/6] preflight ok",
        "node edge-1 (1/2): converted",
        "node edge-2 (2/2): converted",
        "node edge-2: edge, autonomous: labelled",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    let after = env.dump();
    let node = |n: &str| after[&format!("Node//{n}")].clone();
    assert_eq!(
        node("cloud-1")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "false"
    );
    assert_eq!(
        node("edge-1")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "true"
    );
    assert_eq!(
        node("edge-2")["metadata"]["labels"]["openyurt.io/is-edge-worker"],
        "true"
    );
    assert_eq!(
        node("edge-2")["metadata"]["annotations"]["node.beta.openyurt.io/autonomy"],
        "true"
    );
    assert!(node("edge-1")["metadata"].get("annotations").is_none());
    assert!(node("cloud-1")["metadata"].get("annotations").is_none());

    // Exactly the objects `yurtctl manifests` prints, each as printed.
    let mut margs = vec!["manifests"];
    margs.extend_from_slice(&CONVERT[1..]);
    margs.push("--edge-nodes=edge-1,edge-2");
    let m = env.yurtctl(&margs);
    assert!(m.status.success(), "{}", out(&m));
    let printed = yurt::yurtctl::template::parse("manifests", &String::from_utf8_lossy(&m.stdout))
        .expect("parse");
    let new_keys: BTreeSet<String> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    let printed_keys: BTreeSet<String> = printed.iter().map(key).collect();
    assert_eq!(new_keys, printed_keys);
    for p in &printed {
        assert!(
            contains(&after[&key(p)], p),
            "{} differs from the manifest",
            key(p)
        );
    }

    // A second convert changes nothing (not even a resourceVersion).
    let again = env.yurtctl(&CONVERT);
    assert!(again.status.success(), "{}", out(&again));
    assert!(out(&again).contains("resuming"), "{}", out(&again));
    assert_eq!(env.dump(), after);

    // Another plan is refused, naming what differs.
    let mut other = CONVERT.to_vec();
    other[2] = "--autonomous-nodes=edge-1";
    let o = env.yurtctl(&other);
    one_line_failure(
        &o,
        1,
        "already converted with another plan (autonomous nodes: recorded \"edge-2\", now \"edge-1\")",
    );
    assert_eq!(env.dump(), after);

    // Status shows roles and autonomy.
    let s = env.yurtctl(&["status"]);
    assert!(s.status.success(), "{}", out(&s));
    let st = String::from_utf8_lossy(&s.stdout);
    assert!(
        st.lines().any(|l| l.starts_with("edge-2")
            && l.contains("edge")
            && l.contains("yes")
            && l.contains("unknown")),
        "{st}"
    );
    assert!(
        st.lines()
            .any(|l| l.starts_with("cloud-1") && l.contains("cloud")),
        "{st}"
    );

    // Revert restores every object.
    let r = env.yurtctl(&["revert", "--timeout=20s"]);
    assert!(r.status.success(), "{}", out(&r));
    assert_eq!(without_rv(&env.dump()), without_rv(&before));
    let r = env.yurtctl(&["revert"]);
    assert!(
        r.status.success() && out(&r).contains("nothing to do"),
        "{}",
        out(&r)
    );
}

#[test]
fn convert_interrupted_after_node_1_resumes() {
    let env = Env::new(cluster());
    env.kubelet.hold("yurtctl-convert-edge-2", true);
    let o = env.yurtctl(&[&CONVERT[..], &["--timeout=2s"]].concat());
    one_line_failure(&o, 1, "node edge-2: step convert job failed");
    assert!(out(&o).contains("state left: labelled edge"), "{}", out(&o));
    assert!(
        out(&o).contains("node edge-1 (1/2): converted"),
        "{}",
        out(&o)
    );
    let mid = env.dump();
    assert!(
        !mid.contains_key("Lease/kube-system/yurtctl-lock"),
        "lock released on failure"
    );
    let job1 = mid["Job/kube-system/yurtctl-convert-edge-1"].clone();
    assert_eq!(job1["status"]["succeeded"], 1);

    env.kubelet.hold("yurtctl-convert-edge-2", false);
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("resuming"), "{}", out(&o));
    let after = env.dump();
    assert_eq!(
        after["Job/kube-system/yurtctl-convert-edge-1"], job1,
        "node 1's Job untouched"
    );
    assert_eq!(
        after["Job/kube-system/yurtctl-convert-edge-2"]["status"]["succeeded"],
        1
    );
    assert!(!after.contains_key("Lease/kube-system/yurtctl-lock"));
}

#[test]
fn client_dry_run_sends_only_reads() {
    let env = Env::new(cluster());
    let before = env.dump();
    env.srv.double.clear_requests();
    let o = env.yurtctl(&[&CONVERT[..], &["--dry-run=client"]].concat());
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("ConfigMap kube-system/yurt-hub-cfg: would be created"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("dry run: would convert"), "{}", out(&o));
    assert_eq!(env.dump(), before);
    let writes: Vec<_> = env
        .srv
        .double
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

#[test]
fn stale_lock_is_recovered_and_a_fresh_one_refuses() {
    let env = Env::new(cluster());
    let lease = |renew: &str| {
        json!({"metadata": {"name": "yurtctl-lock"},
               "spec": {"holderIdentity": "yurtctl@elsewhere/1", "leaseDurationSeconds": 60, "renewTime": renew}})
    };
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    let fresh = yurt_now();
    env.srv.double.create(path, lease(&fresh)).expect("lease");
    let before = env.dump();
    let o = env.yurtctl(&CONVERT);
    one_line_failure(
        &o,
        1,
        "another yurtctl (yurtctl@elsewhere/1) holds kube-system/yurtctl-lock",
    );
    assert_eq!(env.dump(), before, "nothing written while locked");

    env.srv
        .double
        .delete(&format!("{path}/yurtctl-lock"))
        .expect("delete");
    env.srv
        .double
        .create(path, lease("2020-01-01T00:00:00.000000Z"))
        .expect("lease");
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("recovering stale kube-system/yurtctl-lock (held by yurtctl@elsewhere/1"),
        "{}",
        out(&o)
    );
    assert!(!env.dump().contains_key("Lease/kube-system/yurtctl-lock"));
}

/// Now in the Lease's MicroTime format.
fn yurt_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let days = secs / 86400;
    let (y, m, d) = civil(days as i64);
    let s = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000000Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn bad_input_is_one_line_nonzero_and_changes_nothing() {
    let env = Env::new(cluster());
    let before = env.dump();
    let o = env.yurtctl(&["convert", "--cloud-nodes=cloud-1,nope", "--timeout=5s"]);
    one_line_failure(
        &o,
        1,
        "unknown node(s): nope; the cluster has: cloud-1, edge-1, edge-2",
    );
    let o = env.yurtctl(&[
        "convert",
        "--cloud-nodes=cloud-1",
        "--autonomous-nodes=cloud-1",
    ]);
    one_line_failure(&o, 64, "cloud nodes cannot be autonomous");
    let o = env.yurtctl(&["convert", "--cloud-nodes=cloud-1", "--dry-run=maybe"]);
    one_line_failure(&o, 64, "--dry-run must be none, client or server");
    let o = env.yurtctl(&["convert", "--cloud-nodes=cloud-1", "--timeout=soon"]);
    one_line_failure(&o, 64, "--timeout");
    let o = env.yurtctl(&["convert"]);
    one_line_failure(&o, 64, "cloud-nodes");
    assert_eq!(env.dump(), before);

    // A node someone already labelled.
    let mut n = env.srv.double.get("/api/v1/nodes/edge-1").expect("node");
    n["metadata"]["labels"]["openyurt.io/is-edge-worker"] = json!("true");
    env.srv
        .double
        .update("/api/v1/nodes/edge-1", n)
        .expect("label");
    let before = env.dump();
    let o = env.yurtctl(&CONVERT);
    one_line_failure(&o, 1, "node edge-1 already converted (openyurt.io/is-edge-worker=true); run `yurtctl revert` first");
    let o = env.yurtctl(&["revert"]);
    one_line_failure(
        &o,
        1,
        "node edge-1 carries yurt labels but kube-system/yurt-hub-cfg is missing",
    );
    assert_eq!(env.dump(), before);
}

#[test]
fn not_ready_node_is_refused() {
    let d = cluster();
    d.create("/api/v1/nodes", node("edge-3", "10.0.0.23", false))
        .expect("node");
    let env = Env::new(d);
    let before = env.dump();
    let o = env.yurtctl(&CONVERT);
    one_line_failure(&o, 1, "node edge-3 is not Ready");
    assert_eq!(env.dump(), before);
}

#[test]
fn kubeconfig_is_found_the_kubectl_way() {
    let env = Env::new(cluster());
    // --kubeconfig wins over $KUBECONFIG; a missing file is one line.
    let o = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(["yurtctl", "status"])
        .env("KUBECONFIG", env.dir.join("missing"))
        .env("HOME", &env.dir)
        .output()
        .expect("run");
    one_line_failure(&o, 1, "kubeconfig:");
    let o = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(["yurtctl", "status", "--kubeconfig", &env.kubeconfig()])
        .env("KUBECONFIG", env.dir.join("missing"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", out(&o));
    // No KUBECONFIG: ~/.kube/config.
    std::fs::create_dir_all(env.dir.join(".kube")).expect("mkdir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let good = env.srv.kubeconfig();
    // Current context "dead" (a closed port); "api-double" is the live one.
    let two = good
        .replace("current-context: api-double", "current-context: dead")
        .replacen(
            "clusters:\n",
            &format!("clusters:\n- cluster:\n    server: https://{closed}\n  name: dead\n"),
            1,
        )
        .replacen(
            "contexts:\n",
            "contexts:\n- context:\n    cluster: dead\n    user: admin\n  name: dead\n",
            1,
        );
    std::fs::write(env.dir.join(".kube/config"), two).expect("write");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_yurt"))
            .args(["yurtctl", "status"])
            .args(extra)
            .env_remove("KUBECONFIG")
            .env("HOME", &env.dir)
            .output()
            .expect("run")
    };
    one_line_failure(&run(&[]), 1, "cluster unreachable");
    let o = run(&["--context=api-double"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cloud-1"));
    one_line_failure(&run(&["--context=nope"]), 1, "kubeconfig:");
}

#[test]
fn failed_node_job_is_reported_and_retried_on_rerun() {
    let env = Env::new(cluster());
    env.kubelet.fail("yurtctl-convert-edge-1", true);
    let o = env.yurtctl(&CONVERT);
    one_line_failure(
        &o,
        1,
        "node edge-1: step convert job failed: Job kube-system/yurtctl-convert-edge-1 failed (see: kubectl -n kube-system logs job/yurtctl-convert-edge-1)",
    );
    assert!(
        !env.dump()
            .contains_key("Job/kube-system/yurtctl-convert-edge-2"),
        "stopped at edge-1"
    );
    env.kubelet.fail("yurtctl-convert-edge-1", false);
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("failed before; replacing it"),
        "{}",
        out(&o)
    );
}

#[test]
fn revert_interrupted_resumes_and_still_restores_everything() {
    let env = Env::new(cluster());
    let before = without_rv(&env.dump());
    let o = env.yurtctl(&CONVERT);
    assert!(o.status.success(), "{}", out(&o));
    env.kubelet.hold("yurtctl-revert-edge-2", true);
    let o = env.yurtctl(&["revert", "--timeout=2s"]);
    one_line_failure(&o, 1, "node edge-2: step revert job failed");
    let mid = env.dump();
    assert!(
        mid.contains_key("ConfigMap/kube-system/yurt-hub-cfg"),
        "record kept for resuming"
    );
    assert!(
        !mid.contains_key("Job/kube-system/yurtctl-convert-edge-1"),
        "edge-1 done"
    );
    env.kubelet.hold("yurtctl-revert-edge-2", false);
    let o = env.yurtctl(&["revert"]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(without_rv(&env.dump()), before);
}

#[test]
fn server_dry_run_marks_every_write_dry_run_all_and_writes_nothing() {
    // The double honours dryRun=All (query, or a DELETE's DeleteOptions) like kube-apiserver:
    // the writes are validated and answered, never stored.
    let env = Env::new(cluster());
    let before = env.dump();
    env.srv.double.clear_requests();
    let o = env.yurtctl(&[&CONVERT[..], &["--dry-run=server"]].concat());
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("created (server dry run)"), "{}", out(&o));
    let writes: Vec<_> = env
        .srv
        .double
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(writes.len() >= 12, "{writes:?}");
    assert_eq!(env.dump(), before, "a server dry run changed the cluster");
    // kube-rs sends a DELETE's dryRun in its DeleteOptions body, which the log does not keep.
    for w in writes.iter().filter(|w| w.method != "DELETE") {
        assert!(
            w.path_and_query.contains("dryRun=All"),
            "{} {}",
            w.method,
            w.path_and_query
        );
    }
}

#[test]
fn exec_credential_plugins_are_used() {
    let env = Env::new(cluster());
    let plugin = env.dir.join("cred.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec-plugin\"}}'\n",
    )
    .expect("plugin");
    // Run through /bin/sh: exec'ing a file just written races other tests' forks (ETXTBSY).
    let kc = env.srv.kubeconfig();
    let users = kc.find("users:\n").expect("users");
    let exec_user = format!(
        "users:\n- name: admin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [{}]\n      interactiveMode: Never\n",
        plugin.display()
    );
    std::fs::write(
        env.dir.join("exec-kubeconfig"),
        format!("{}{exec_user}", &kc[..users]),
    )
    .expect("kc");
    env.srv.double.clear_requests();
    let o = Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args(["yurtctl", "status", "--kubeconfig"])
        .arg(env.dir.join("exec-kubeconfig"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", out(&o));
    let reqs = env.srv.double.requests();
    assert!(!reqs.is_empty());
    for r in reqs.iter().filter(|r| r.path_and_query != "/version") {
        assert_eq!(
            r.authorization.as_deref(),
            Some("Bearer from-exec-plugin"),
            "{r:?}"
        );
        assert!(!r.client_cert, "{r:?}");
    }
}

#[test]
fn a_failing_node_check_stops_before_anything_is_written() {
    let env = Env::new(cluster());
    let before = env.dump();
    env.kubelet.fail("yurtctl-check-edge-2", true);
    let o = env.yurtctl(&CONVERT);
    one_line_failure(&o, 1, "node edge-2: step node check failed");
    assert!(
        out(&o).contains("state left: nothing changed on any node"),
        "{}",
        out(&o)
    );
    assert_eq!(without_rv(&env.dump()), without_rv(&before));
}
