//! A node reboot while the cloud is cut: the hub's cache was filled online by the node's clients
//! (client-go 1.35+), then the hub restarts with the cloud still away and kubelet starts again.

mod clientskit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use clientskit::scripts::{all, Flavour};
use clientskit::stream::encoding;
use clientskit::*;

/// DESIGN.md, "Offline semantics": what a restarting kubelet (and its neighbours) needs from a
/// hub whose cache was filled online, after the node rebooted with the cloud still cut.
#[test]
fn node_reboot_offline_every_needed_call_answers_within_a_second_and_none_is_dangerous() {
    use clientskit::scripts::{Call, Need, PB};
    let mut rig = Rig::new("reboot");
    let online = run_all(rig.proxy(), &all(Flavour::WatchList, &rig.double));
    settle();
    report(
        "online",
        online
            .iter()
            .flat_map(|r| r.problems(Duration::from_secs(5)))
            .collect(),
    );
    let issued = online[0]
        .script
        .calls
        .iter()
        .position(|c| c.what == "TokenRequest")
        .map(|n| online[0].answers[n].clone())
        .expect("kubelet asked for a token");
    let issued =
        yurt::k8s::token::decode(encoding(&issued.content_type), &issued.body).expect("token");
    let all_reflectors: Vec<_> = online.iter().flat_map(|r| &r.reflectors).collect();
    rig.wait_cached(&all_reflectors);
    rig.cut();
    drop(online);
    step("reboot");
    // kubelet starts right away: the hub learns that the cloud is gone from its first request.
    rig.restart_hub(false);

    let mut scripts = all(Flavour::WatchList, &rig.double);
    let csinode = format!("/apis/storage.k8s.io/v1/csinodes/{NODE}");
    let put = rig
        .double
        .get(&csinode)
        .expect("csinode")
        .to_string()
        .into_bytes();
    let extra = |what, method, path: String, body: Vec<u8>, need| Call {
        what,
        method,
        path,
        accept: PB,
        content_type: (!body.is_empty()).then_some("application/json"),
        body,
        need,
    };
    scripts[0].calls.extend([
        extra("CSINode PUT", "PUT", csinode, put, Need::Accepted),
        Call {
            content_type: Some("application/vnd.kubernetes.protobuf"),
            ..extra(
                "TokenRequest, pod never seen",
                "POST",
                "/api/v1/namespaces/default/serviceaccounts/default/token".into(),
                clientskit::scripts::token_request_pb("worker-0"),
                Need::Offline,
            )
        },
        extra(
            "CSINode GET, other node",
            "GET",
            "/apis/storage.k8s.io/v1/csinodes/other-node?resourceVersion=0".into(),
            Vec::new(),
            Need::Careful,
        ),
        extra(
            "node GET, unknown",
            "GET",
            "/api/v1/nodes/ghost".into(),
            Vec::new(),
            Need::No,
        ),
    ]);
    scripts[4].calls.push(extra(
        "node GET, unknown",
        "GET",
        "/api/v1/nodes/ghost".into(),
        Vec::new(),
        Need::No,
    ));
    let t = Instant::now();
    let runs = run_all(rig.proxy(), &scripts);
    step(&format!("replayed in {:?}", t.elapsed()));
    hold();

    let mut p: Vec<String> = runs
        .iter()
        .flat_map(|r| r.problems(Duration::from_secs(1)))
        .collect();
    let answer = |r: &Run, what: &str| {
        let n = r
            .script
            .calls
            .iter()
            .position(|c| c.what == what)
            .unwrap_or_else(|| panic!("no {what}"));
        r.answers[n].clone()
    };
    for r in &runs {
        for (c, a) in r.script.calls.iter().zip(&r.answers) {
            let ok = (200..300).contains(&a.status);
            if c.need != Need::No && a.took > Duration::from_secs(1) {
                p.push(format!(
                    "{} {}: answered after {:?}",
                    r.script.name, c.what, a.took
                ));
            }
            if matches!(c.need, Need::Offline | Need::Accepted) && !ok {
                p.push(format!(
                    "{} {}: {} {}",
                    r.script.name,
                    c.what,
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
            if ok && a.status != 201 && a.content_type.starts_with("application/") {
                let o = clientskit::stream::obj(encoding(&a.content_type), &a.body);
                if yurt::k8s::meta::rv_u64(&o.rv).is_none() && c.method != "PUT" {
                    p.push(format!(
                        "{} {}: resourceVersion {:?}",
                        r.script.name, c.what, o.rv
                    ));
                }
            }
        }
    }
    let kubelet = &runs[0];
    // CSINode: the start-up GET answers 200 only because every follow-up works; never a 404.
    let first = answer(kubelet, "CSINode GET (rv=0)");
    let follow = ["node GET", "CSINode GET", "CSINode PUT"].map(|w| answer(kubelet, w).status);
    if first.status != 200 || follow.iter().any(|s| !(200..300).contains(s)) {
        p.push(format!(
            "CSINode: {} then follow-ups {follow:?}",
            first.status
        ));
    }
    let other = answer(kubelet, "CSINode GET, other node").status;
    if !(500..600).contains(&other) {
        p.push(format!("CSINode never cached: {other}, not a 5xx"));
    }
    // Tokens: the one issued online (still valid), else a clearly fake one.
    let tok = |what| {
        let a = answer(kubelet, what);
        (
            a.status,
            yurt::k8s::token::decode(encoding(&a.content_type), &a.body).ok(),
        )
    };
    match tok("TokenRequest") {
        (201, Some(t)) if t.token == issued.token && t.expiration == issued.expiration => {}
        other => p.push(format!(
            "kubelet's token: {other:?}, issued {:?}",
            issued.token
        )),
    }
    match tok("TokenRequest, pod never seen") {
        (201, Some(t))
            if t.token != issued.token
                && t.token.ends_with('.')
                && t.bound.as_ref().is_some_and(|b| b.name == "worker-0") =>
        {
            let exp = t.expiration.unwrap_or(0)
                - std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_secs() as i64;
            if !(0..=600).contains(&exp) {
                p.push(format!("fake token valid for {exp} s"));
            }
        }
        other => p.push(format!("fake token: {other:?}")),
    }
    // Unknown objects: 404 only where a complete view says so (flannel lists every node).
    let ghost = |r: &Run| answer(r, "node GET, unknown").status;
    if (ghost(kubelet), ghost(&runs[4])) != (503, 404) {
        p.push(format!(
            "node ghost: kubelet {}, flannel {}",
            ghost(kubelet),
            ghost(&runs[4])
        ));
    }
    report("node reboot offline", p);
}
