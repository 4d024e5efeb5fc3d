//! Tests: a bounded, deterministic fuzz smoke run of parse() and component(), so CI exercises them without nightly.
//!
//! `fuzz/` holds the coverage-guided fuzzer; this is its cheap cousin: a fixed-seed xorshift
//! generator mutating real request targets 50,000 times.

use super::{component, parse, RequestError, RequestInfo};
use std::panic;

use crate::test_rng::Rng;

const ROUNDS: usize = 50_000;

const SEEDS: &[&str] = &[
    "/api/v1/nodes?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dedge-1&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeout=7m23s&timeoutSeconds=443&watch=true",
    "/api/v1/services?fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&limit=500&resourceVersion=0",
    "/api/v1/namespaces/kube-system/secrets?fieldSelector=metadata.name%3Dx&watch=1",
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1?timeout=10s",
    "/api/v1/namespaces/a/pods/p/exec?command=sh&stdin=true",
    "/api/v1/namespaces/a/services/https:web:443/proxy/x/y",
    "/api/v1/watch/namespaces/x/pods/p",
    "/api/v1/proxy/nodes/n/metrics",
    "/api/v1/namespaces/x/finalize",
    "/apis/storage.k8s.io/v1/csinodes/edge-1?resourceVersion=0",
    "/api/v1/pods?continue=abc%3D&limit=5",
    "/apis/apps/v1",
    "/version",
    "/",
];

const METHODS: &[&str] = &[
    "GET", "GET", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
];

/// Pieces that steer the parser into its corners.
const ATOMS: &[&str] = &[
    "/",
    "//",
    "%",
    "%2",
    "%2F",
    "%2e",
    "%2E%2E",
    "%00",
    "%C3",
    "%C3%A9",
    "%FF",
    "..",
    ".",
    "?",
    "&",
    "=",
    "+",
    ";",
    "#",
    " ",
    "\t",
    "\0",
    "\u{7f}",
    "é",
    "\u{10ffff}",
    "api",
    "apis",
    "v1",
    "watch",
    "proxy",
    "namespaces",
    "status",
    "finalize",
    "/watch/",
    "/namespaces/",
    "watch=true",
    "watch=0",
    "limit=",
    "limit=-1",
    "timeoutSeconds=9",
    "sendInitialEvents=1",
    "labelSelector=",
    "resourceVersion=",
    "18446744073709551616",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        let end = (at + rng.below(8)).min(chars.len());
        match rng.below(6) {
            0 | 1 => {
                let atom = rng.pick(ATOMS);
                chars.splice(at..at, atom.chars());
            }
            2 => drop(chars.drain(at..end)),
            3 => chars.insert(at, char::from(rng.below(128) as u8)),
            4 => {
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => {
                let other: Vec<char> = rng.pick(SEEDS).chars().collect();
                let from = rng.below(other.len());
                chars.truncate(at);
                chars.extend(&other[from..]);
            }
        }
    }
    chars.into_iter().collect()
}

/// Counts of outcomes, so the run proves it reached every branch it claims to exercise.
#[derive(Default, Debug)]
struct Tally {
    resource: usize,
    non_resource: usize,
    watch: usize,
    unknown_method: usize,
    bad_path: usize,
    bad_query: usize,
}

fn run_one(method: &str, target: &str, tally: &mut Tally) {
    let result = panic::catch_unwind(|| parse(method, target))
        .unwrap_or_else(|_| panic!("parse panicked on {method:?} {target:?}"));
    assert_eq!(result, parse(method, target), "deterministic");
    match result {
        Ok(info) => check_ok(method, target, &info, tally),
        Err(RequestError::UnknownMethod(_)) => tally.unknown_method += 1,
        Err(RequestError::BadPath(_)) => tally.bad_path += 1,
        Err(RequestError::BadQuery(_)) => tally.bad_query += 1,
    }
}

fn check_ok(method: &str, target: &str, info: &RequestInfo, tally: &mut Tally) {
    if let Err(broken) = info.check_invariants() {
        panic!("{method:?} {target:?}: {broken}: {info:?}");
    }
    if info.is_resource {
        tally.resource += 1;
    } else {
        tally.non_resource += 1;
    }
    tally.watch += usize::from(info.watch);
    let encoded = encode_path_letters(target);
    assert_eq!(
        Ok(info),
        parse(method, &encoded).as_ref(),
        "{target:?} vs {encoded:?}"
    );
}

/// The same target with every letter and digit of its path (outside `%XX` escapes) written as
/// `%XX`: it must parse to the same RequestInfo, since paths are compared decoded.
fn encode_path_letters(target: &str) -> String {
    let (path, query) = target
        .split_once('?')
        .map_or((target, None), |(p, q)| (p, Some(q)));
    let mut out = String::new();
    let mut escape_left = 0u8;
    for c in path.chars() {
        if c == '%' {
            escape_left = 2;
            out.push(c);
        } else if escape_left > 0 || !c.is_ascii_alphanumeric() {
            escape_left = escape_left.saturating_sub(1);
            out.push(c);
        } else {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        }
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn parse_never_panics_and_keeps_its_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    for round in 0..ROUNDS {
        let method = if round % 16 == 0 {
            mutate(&mut rng, "PATCH")
        } else {
            rng.pick(METHODS).to_owned()
        };
        let seed = rng.pick(SEEDS);
        let target = mutate(&mut rng, seed);
        run_one(&method, &target, &mut tally);
        let ua = component(Some(&target));
        assert!(
            !ua.contains('/') && ua.trim() == ua,
            "{target:?} gave {ua:?}"
        );
    }
    let reached = [
        tally.resource,
        tally.non_resource,
        tally.watch,
        tally.unknown_method,
        tally.bad_path,
        tally.bad_query,
    ];
    assert!(
        reached.iter().all(|&n| n >= 200),
        "every outcome reached often: {tally:?}"
    );
}
