//! Running clients: each script's reflectors and calls, what a client holds afterwards, how an
//! offline run differs from the online one, and the requests the double saw per informer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use yurt::apidouble::ApiDouble;

use super::informer::{self, Informer};
use super::reflector::Reflector;
use super::scripts::{self, Call, Script};
use super::stream::{self, encoding, list, Items, Obj};
use super::{Rig, BOOKMARKS};

/// The answer to one call.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub took: Duration,
}

/// Sends one call as `ua`.
pub fn call(addr: SocketAddr, ua: &str, c: &Call) -> Answer {
    let mut h = vec![("User-Agent", ua), ("Accept", c.accept)];
    if let Some(ct) = c.content_type {
        h.push(("Content-Type", ct));
    }
    let start = Instant::now();
    let conn = stream::open(addr, c.method, &c.path, &h, &c.body).expect("the hub answers");
    let (status, ct) = (
        conn.status,
        conn.header("content-type").unwrap_or("").to_string(),
    );
    let body = conn.body(Duration::from_secs(10)).expect("a whole answer");
    Answer {
        status,
        content_type: ct,
        body,
        took: start.elapsed(),
    }
}

/// One client's run: its reflectors (still running) and the answers to its calls.
pub struct Run {
    pub script: Script,
    pub reflectors: Vec<Reflector>,
    pub answers: Vec<Answer>,
}

/// Starts `s`'s informers (all synced within 10 s, or the run says which did not), then its calls.
pub fn run(addr: SocketAddr, s: &Script) -> Run {
    let mut reflectors = Vec::new();
    for (n, i) in s.informers.iter().enumerate() {
        reflectors.push(Reflector::start(addr, i.clone()));
        if n == 0 && s.gate {
            reflectors[0].wait(Duration::from_secs(10), |st| !st.syncs.is_empty());
        }
    }
    for r in &reflectors {
        r.wait(Duration::from_secs(10), |st| {
            !st.syncs.is_empty() && st.watching_since.is_some()
        });
    }
    let answers = s.calls.iter().map(|c| call(addr, &s.ua, c)).collect();
    Run {
        script: s.clone(),
        reflectors,
        answers,
    }
}

/// Runs every script at once.
pub fn run_all(addr: SocketAddr, scripts: &[Script]) -> Vec<Run> {
    std::thread::scope(|sc| {
        let hs: Vec<_> = scripts
            .iter()
            .map(|s| sc.spawn(move || run(addr, s)))
            .collect();
        hs.into_iter().map(|h| h.join().expect("run")).collect()
    })
}

/// What an informer synced to last, as its client holds it.
#[derive(Debug, Clone)]
pub struct Held {
    pub name: String,
    pub content_type: String,
    pub rv: String,
    pub items: Items,
}

/// What one client last got from the cloud: its informers' state and its calls' answers.
pub struct Expect {
    pub informers: Vec<Held>,
    pub answers: Vec<Answer>,
}

impl Run {
    /// What the client holds now.
    pub fn expect(&self) -> Expect {
        let informers = self
            .reflectors
            .iter()
            .map(|r| {
                let st = r.state();
                let ct = st
                    .syncs
                    .last()
                    .map(|s| s.content_type.clone())
                    .unwrap_or_default();
                Held {
                    name: r.spec.name.clone(),
                    content_type: ct,
                    rv: st.last_rv.clone(),
                    items: st.items.clone(),
                }
            })
            .collect();
        Expect {
            informers,
            answers: self.answers.clone(),
        }
    }

    /// Problems of a run: informers not synced (in time), listed twice, not watching, or whose
    /// watch ended at once; a resourceVersion that is not a decimal integer; a WatchList stream
    /// without its bookmark. Call it a second after the run, so short watches show.
    pub fn problems(&self, within: Duration) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.reflectors {
            let st = r.state();
            let n = &r.spec.name;
            match st.syncs.first() {
                None => out.push(format!("{n}: never synced; failures {:?}", st.failures)),
                Some(s) if r.spec.needed && s.took > within => {
                    out.push(format!("{n}: synced after {:?}", s.took))
                }
                Some(_) => {}
            }
            if st.syncs.len() > 1 {
                out.push(format!(
                    "{n}: listed {} times; ends {:?}",
                    st.syncs.len(),
                    st.ends
                ));
            }
            if let Some(e) = st
                .ends
                .iter()
                .find(|e| e.events == 0 && e.lasted < Duration::from_secs(1))
            {
                out.push(format!("{n}: a watch ended at once: {e:?}"));
            }
            if st.watching_since.is_none() {
                out.push(format!(
                    "{n}: not watching; ends {:?}, failures {:?}",
                    st.ends, st.failures
                ));
            }
            if !st.bad_rvs.is_empty() || st.no_bookmark > 0 {
                out.push(format!(
                    "{n}: resourceVersions {:?}, WatchLists without bookmark {}",
                    st.bad_rvs, st.no_bookmark
                ));
            }
        }
        out
    }
}

/// One line per difference between an offline `run` and what the client held online.
pub fn differences(run: &Run, want: &Expect) -> Vec<String> {
    let mut out = run.problems(Duration::from_secs(1));
    for (r, held) in run.reflectors.iter().zip(&want.informers) {
        let st = r.state();
        let Some(s) = st.syncs.first() else { continue };
        let n = &held.name;
        if s.content_type != held.content_type {
            out.push(format!(
                "{n}: offline {} but online {}",
                s.content_type, held.content_type
            ));
        }
        if s.rv != held.rv {
            out.push(format!(
                "{n}: offline resourceVersion {} but online {}",
                s.rv, held.rv
            ));
        }
        if s.items != held.items {
            let keys = |i: &Items| {
                i.values()
                    .map(|o| format!("{}@{}", o.key, o.rv))
                    .collect::<Vec<_>>()
            };
            out.push(format!(
                "{n}: offline items {:?} but online {:?}",
                keys(&s.items),
                keys(&held.items)
            ));
        }
    }
    for ((c, got), online) in run.script.calls.iter().zip(&run.answers).zip(&want.answers) {
        out.extend(call_difference(&run.script.name, c, got, online));
    }
    out
}

fn object(a: &Answer) -> Option<Obj> {
    let enc = yurt::k8s::meta::Encoding::from_content_type(&a.content_type)?;
    Some(stream::obj(enc, &a.body))
}

fn call_difference(client: &str, c: &Call, got: &Answer, online: &Answer) -> Option<String> {
    use scripts::Need;
    let what = format!("{client} {} {}", c.what, c.path);
    let ok = (200..300).contains(&got.status);
    let text = || String::from_utf8_lossy(&got.body).into_owned();
    if got.took > Duration::from_secs(1) && c.need != Need::No {
        return Some(format!("{what}: answered after {:?}", got.took));
    }
    match c.need {
        Need::No if !ok && !got.content_type.starts_with("application/json") => {
            Some(format!("{what}: {} without a Status body", got.status))
        }
        Need::No => None,
        Need::Accepted if !ok => Some(format!(
            "{what}: refused offline: {} {}",
            got.status,
            text()
        )),
        Need::Accepted if c.method == "PUT" && got.body != c.body => {
            Some(format!("{what}: the echo differs from what was sent"))
        }
        Need::Accepted => object(got)
            .filter(|o| yurt::k8s::meta::rv_u64(&o.rv).is_none() && c.method == "PATCH")
            .map(|o| format!("{what}: resourceVersion {:?}", o.rv)),
        Need::Offline | Need::Careful if c.method == "POST" => {
            let tok = |a: &Answer| {
                yurt::k8s::token::decode(encoding(&a.content_type), &a.body)
                    .map(|t| t.token)
                    .unwrap_or_default()
            };
            (got.status != 201
                || got.content_type != online.content_type
                || tok(got) != tok(online))
            .then(|| {
                format!(
                    "{what}: {} {} token {:?}, online {:?}",
                    got.status,
                    got.content_type,
                    tok(got),
                    tok(online)
                )
            })
        }
        Need::Offline | Need::Careful => {
            let same = got.status == online.status
                && got.content_type == online.content_type
                && object(got) == object(online);
            (!same).then(|| {
                format!(
                    "{what}: offline {} {} {:?} but online {} {} {:?}",
                    got.status,
                    got.content_type,
                    object(got).map(|o| o.rv),
                    online.status,
                    online.content_type,
                    object(online).map(|o| o.rv)
                )
            })
        }
    }
}

/// (LIST or WatchList, WATCH) requests the double got for `i`.
pub fn requests_for(d: &ApiDouble, i: &Informer) -> (usize, usize) {
    let sel = |k: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!("{k}={}", informer::go_escape(v)))
    };
    let mut want: Vec<String> = [
        sel("labelSelector", &i.label),
        sel("fieldSelector", &i.field),
    ]
    .into_iter()
    .flatten()
    .collect();
    want.sort();
    let (mut lists, mut watches) = (0, 0);
    for r in d.requests() {
        let (path, query) = r
            .path_and_query
            .split_once('?')
            .unwrap_or((&r.path_and_query, ""));
        if r.user_agent != i.ua || path != i.path || r.method != "GET" {
            continue;
        }
        let params: Vec<&str> = query.split('&').collect();
        let mut got: Vec<String> = params
            .iter()
            .filter(|p| p.starts_with("labelSelector=") || p.starts_with("fieldSelector="))
            .map(|p| p.to_string())
            .collect();
        got.sort();
        if got != want {
            continue;
        }
        let watch = params.contains(&"watch=true");
        if !watch || params.contains(&"sendInitialEvents=true") {
            lists += 1;
        } else {
            watches += 1;
        }
    }
    (lists, watches)
}

pub fn step(what: &str) {
    eprintln!("clients_replay: {what}");
}

/// Long enough for a watch that ends at once to show (client-go's "very short watch" is < 1 s).
pub fn hold() {
    std::thread::sleep(Duration::from_millis(1200));
}

pub fn settle() {
    std::thread::sleep(BOOKMARKS * 3 + Duration::from_millis(300));
}

/// Every problem of the runs, one per line (empty: none).
pub fn report(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// [`report`], with the hub's cache counters when something is wrong.
pub fn report_hub(rig: &Rig, what: &str, mut problems: Vec<String>) {
    if !problems.is_empty() {
        let m = rig.hub().metrics();
        let cache = m
            .lines()
            .filter(|l| l.starts_with("node_yurthub_cache_") && !l.contains("offline"));
        problems.extend(cache.map(str::to_string));
    }
    report(what, problems);
}

pub fn online_checks(rig: &Rig, runs: &[Run]) {
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
pub fn holds_what_the_double_has(rig: &Rig, refl: &Reflector) -> Option<String> {
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
