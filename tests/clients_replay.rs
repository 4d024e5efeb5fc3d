//! The node's real clients through the hub, as `reference/node-clients.md` catalogs them:
//! kubelet, kube-proxy (1.34/1.35 combined selector and 1.36 split selectors), CoreDNS and
//! flannel, each as a client-go 1.34 LIST+WATCH client and as a 1.35+ WatchList client. Each
//! replay runs online, with the cloud cut, and after a hub restart with the cloud still cut;
//! offline answers must equal what the cloud last served, in the encoding asked for. Then the
//! cloud comes back: offline watches end cleanly and every informer re-lists once.

mod clientskit;
mod hubkit;
mod support;

use std::time::{Duration, Instant};

use clientskit::scripts::{all, Flavour};
use clientskit::stream::{encoding, list};
use clientskit::*;
use clientskit::{reflector, scripts};

fn step(what: &str) {
    eprintln!("clients_replay: {what}");
}

/// Long enough for a watch that ends at once to show (client-go's "very short watch" is < 1 s).
fn hold() {
    std::thread::sleep(Duration::from_millis(1200));
}

fn settle() {
    std::thread::sleep(BOOKMARKS * 3 + Duration::from_millis(300));
}

/// Every problem of the runs, one per line (empty: none).
fn report(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// [`report`], with the hub's cache counters when something is wrong.
fn report_hub(rig: &Rig, what: &str, mut problems: Vec<String>) {
    if !problems.is_empty() {
        let m = rig.hub().metrics();
        let cache = m
            .lines()
            .filter(|l| l.starts_with("node_yurthub_cache_") && !l.contains("offline"));
        problems.extend(cache.map(str::to_string));
    }
    report(what, problems);
}

fn online_checks(rig: &Rig, runs: &[Run]) {
    let mut p = Vec::new();
    for r in runs {
        p.extend(r.problems(Duration::from_secs(5)));
        for (c, a) in r.script.calls.iter().zip(&r.answers) {
            if !(200..300).contains(&a.status) {
                p.push(format!(
                    "{} {} {}: {} {}",
                    r.script.name,
                    c.what,
                    c.path,
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
        }
        p.extend(
            r.reflectors
                .iter()
                .filter_map(|refl| holds_what_the_double_has(rig, refl)),
        );
    }
    report_hub(rig, "online", p);
}

/// The informer holds exactly what the double has (items and resourceVersion).
fn holds_what_the_double_has(rig: &Rig, refl: &reflector::Reflector) -> Option<String> {
    let i = &refl.spec;
    let direct = smol::block_on(rig.direct.get(&i.list_path(""), &[("Accept", &i.accept)]))
        .expect("direct list");
    let (rv, items) = list(
        encoding(direct.header("content-type").unwrap_or("")),
        &direct.body,
    );
    let st = refl.state();
    (st.items != items || st.last_rv != rv).then(|| {
        format!(
            "{}: holds {} items at {}, the double has {} at {rv}",
            i.name,
            st.items.len(),
            st.last_rv,
            items.len()
        )
    })
}

fn replay(flavour: Flavour) {
    let mut rig = Rig::new(&format!("{flavour:?}"));
    step("online");
    let online = run_all(rig.proxy(), &all(flavour, &rig.double));
    churn(&rig.double, 1);
    settle();
    online_checks(&rig, &online);
    let informers: usize = online.iter().map(|r| r.reflectors.len()).sum();
    assert!(informers >= 20, "{informers} informers");

    step("cut");
    let all_reflectors: Vec<_> = online.iter().flat_map(|r| &r.reflectors).collect();
    step(&format!(
        "cache caught up in {:?}",
        rig.wait_cached(&all_reflectors)
    ));
    rig.cut();
    let want: Vec<Expect> = online.iter().map(Run::expect).collect();
    // Running clients lose their watches and re-watch: held open offline, never a relist.
    let mut p = Vec::new();
    for r in online.iter().flat_map(|r| &r.reflectors) {
        let rewatched = r.wait(Duration::from_secs(5), |st| {
            !st.ends.is_empty() && st.watching_since.is_some()
        });
        if !rewatched || r.state().syncs.len() != 1 {
            p.push(format!(
                "{}: after the cut {:?}",
                r.spec.name,
                r.state().failures
            ));
        }
    }
    report("running clients at the cut", p);

    step("replay with the cloud cut");
    let cut = run_all(rig.proxy(), &all(flavour, &rig.double));
    hold();
    let p = cut
        .iter()
        .zip(&want)
        .flat_map(|(r, w)| differences(r, w))
        .collect();
    report_hub(&rig, "cloud cut", p);
    drop((online, cut));

    step("hub restart");
    rig.restart_hub(true);
    step("replay after the restart");
    let rebooted = run_all(rig.proxy(), &all(flavour, &rig.double));
    hold();
    let p = rebooted
        .iter()
        .zip(&want)
        .flat_map(|(r, w)| differences(r, w))
        .collect();
    report_hub(&rig, "hub restarted, cloud still cut", p);
    let m = rig.hub().metrics();
    for (c, res) in [
        ("kubelet", "pods"),
        ("kubelet", "nodes"),
        ("kubelet", "secrets"),
        ("kubelet", "configmaps"),
        ("kubelet", "serviceaccounts"),
        ("kubelet", "csinodes"),
        ("kubelet", "leases"),
        ("kube-proxy", "servicecidrs"),
        ("kube-proxy", "endpointslices"),
        ("coredns", "namespaces"),
        ("flanneld", "nodes"),
        ("flanneld", "pods"),
    ] {
        let line = format!("node_yurthub_cache_offline_answers_total{{component=\"{c}\",resource=\"{res}\",code=\"2");
        assert!(m.contains(&line), "no {line} in\n{m}");
    }

    // The cloud comes back after a long outage: the cluster changed meanwhile and the watch
    // history is gone, so every re-watch gets 410 and its informer re-lists, once.
    churn(&rig.double, 2);
    rig.double.compact();
    rig.double.clear_requests();
    step("cloud back");
    let back = Instant::now();
    rig.restore();
    let reflectors: Vec<_> = rebooted.iter().flat_map(|r| &r.reflectors).collect();
    let deadline = back + Duration::from_secs(20);
    for r in &reflectors {
        let left = deadline.saturating_duration_since(Instant::now());
        r.wait(left, |st| {
            st.syncs.len() >= 2 && st.watching_since.is_some()
        });
    }
    std::thread::sleep(Duration::from_secs(2)); // a storm would show now
    let mut p: Vec<String> = reflectors
        .iter()
        .filter_map(|r| holds_what_the_double_has(&rig, r))
        .collect();
    for r in &reflectors {
        let st = r.state();
        let first = st.ends.iter().find(|e| e.at > back);
        if !first.is_some_and(|e| e.clean && e.error.is_none()) {
            p.push(format!(
                "{}: the offline watch ended {first:?}",
                r.spec.name
            ));
        }
        let (lists, watches) = requests_for(&rig.double, &r.spec);
        if lists != 1
            || !(1..=2).contains(&watches)
            || st.syncs.len() != 2
            || st.watching_since.is_none()
        {
            p.push(format!(
                "{}: {lists} lists, {watches} watches at the double; {} syncs; failures {:?}",
                r.spec.name,
                st.syncs.len(),
                st.failures
            ));
        }
    }
    report("cloud back", p);
}

#[test]
fn list_watch_clients_replay_online_cut_and_rebooted_then_resync_once() {
    replay(Flavour::ListWatch);
}

#[test]
fn watch_list_clients_replay_online_cut_and_rebooted_then_resync_once() {
    replay(Flavour::WatchList);
}

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
                clientskit::scripts::token_request_pb("default", "worker-0"),
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

/// `yurt hub` says once per view and outage what it serves offline, and counts the answers.
#[test]
fn yurt_hub_logs_each_view_once_per_outage_when_it_first_serves_it_offline() {
    use std::io::BufRead;
    let double = yurt::apidouble::ApiDouble::sandbox(NODE);
    let (addr, stop) = serve_at(&double, "127.0.0.1:0".parse().expect("addr"));
    let dir = std::env::temp_dir().join(format!("yurt-clients-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let kc = dir.join("kubelet.conf");
    let url = format!("https://127.0.0.1:{}", addr.port());
    let cert = hubkit::pki().node_client(NODE).expect("cert");
    std::fs::write(&kc, hubkit::pki().kubeconfig(&url, &cert)).expect("kubeconfig");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_yurt"))
        .args([
            "hub",
            &format!("--node-name={NODE}"),
            &format!("--kubeconfig={}", kc.display()),
        ])
        .args([
            "--proxy-port=0",
            "--port=0",
            "--heartbeat-interval-seconds=1",
            "--heartbeat-failed-retry=1",
        ])
        .arg(format!("--disk-cache-path={}", dir.join("cache").display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("yurt hub");
    let stderr = child.stderr.take().expect("stderr");
    let _child = hubkit::Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let read_for = |d: Duration, lines: &mut Vec<String>| {
        let until = Instant::now() + d;
        while let Ok(l) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            lines.push(l);
        }
    };
    while !lines.iter().any(|l| l.contains("proxy listening on")) {
        read_for(Duration::from_millis(200), &mut lines);
        assert!(lines.len() < 100, "{lines:#?}");
    }
    let proxy = hubkit::addr_after(&lines, "proxy listening on http://");
    let server = hubkit::addr_after(&lines, "server on http://");
    let ua = "kubelet/v1.35.1 (linux/arm64) kubernetes/e4f5a6b";
    let pods =
        format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{NODE}&limit=500&resourceVersion=0");
    let nodes =
        format!("/api/v1/nodes?fieldSelector=metadata.name%3D{NODE}&limit=500&resourceVersion=0");
    let get = |path: &str| {
        let c = scripts::Call {
            what: "GET",
            method: "GET",
            path: path.to_string(),
            accept: scripts::PB,
            content_type: None,
            body: Vec::new(),
            need: scripts::Need::Offline,
        };
        call(proxy, ua, &c).status
    };
    let metrics = || {
        let r = hubkit::request(
            server,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        String::from_utf8_lossy(&r.body).into_owned()
    };
    let healthy = |up: bool| {
        format!(
            "node_yurthub_server_healthy_status{{server=\"{url}\"}} {}",
            u8::from(up)
        )
    };
    let wait = |marker: String| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !metrics().contains(&marker) {
            assert!(Instant::now() < deadline, "never {marker}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!((get(&pods), get(&nodes)), (200, 200));
    std::thread::sleep(Duration::from_millis(300));
    stop.fire();
    wait(healthy(false));
    for p in [&pods, &pods, &nodes, &pods] {
        assert_eq!(get(p), 200, "{p}");
    }
    read_for(Duration::from_millis(500), &mut lines);
    let served = |lines: &[String], what: &str| lines.iter().filter(|l| l.contains(what)).count();
    let pods_line = format!("offline: serving kubelet v1/pods from the cache (all namespaces, fieldSelector spec.nodeName={NODE}): 3 items, data ");
    let nodes_line = format!("offline: serving kubelet v1/nodes from the cache (all namespaces, fieldSelector metadata.name={NODE}): 1 item, data ");
    assert_eq!(
        (served(&lines, &pods_line), served(&lines, &nodes_line)),
        (1, 1),
        "{lines:#?}"
    );
    assert!(metrics().contains("node_yurthub_cache_offline_answers_total{component=\"kubelet\",resource=\"pods\",code=\"200\"} 3"), "{}", metrics());

    // The next outage logs afresh.
    let (_, stop) = serve_at(&double, addr);
    wait(healthy(true));
    assert_eq!(get(&pods), 200);
    stop.fire();
    wait(healthy(false));
    assert_eq!(get(&pods), 200);
    read_for(Duration::from_millis(500), &mut lines);
    assert_eq!(served(&lines, &pods_line), 2, "{lines:#?}");
    drop(_child);
    let _ = std::fs::remove_dir_all(&dir);
}
