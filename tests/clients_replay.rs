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
use clientskit::*;

fn replay(flavour: Flavour) {
    let mut rig = Rig::new(&format!("{flavour:?}"));
    step("online");
    let online = run_all(rig.proxy(), &all(flavour, &rig.double));
    cluster::churn(&rig.double, 1);
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

    let m = rig.hub().metrics();
    assert!(
        !m.contains("node_yurthub_cache_write_failures_total{"),
        "the store refused answers of real clients:\n{m}"
    );

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
    cluster::churn(&rig.double, 2);
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
