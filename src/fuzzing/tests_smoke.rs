//! Tests: bounded, deterministic runs of every fuzz property, so `cargo test` on stable checks
//! what `cargo fuzz` checks: the committed seeds (`fuzz/seeds/<target>/`), then mutants of them.

use std::panic;

use crate::test_rng::Rng;
use std::path::Path;

/// The committed seeds of `target`; there must be some.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.expect("dir entry").path()).expect("seed"))
        .collect();
    out.sort();
    assert!(
        out.len() >= 3,
        "{}: only {} seeds",
        dir.display(),
        out.len()
    );
    out
}

/// Bytes that steer decoders into their branches (separators, escapes, tags, boundaries).
const TOKENS: &[&[u8]] = &[
    b"\0",
    b"\x01",
    b"\x02",
    b"\xff",
    b"/",
    b"..",
    b",",
    b"=",
    b"==",
    b"!=",
    b"!",
    b" in (",
    b" notin (",
    b"(",
    b")",
    b"\\",
    b"\\,",
    b"metadata.name",
    b"metadata.namespace",
    b"\n",
    b"\xc3",
    b"\xe2\x98\x83",
    b" ",
    b":",
    b"[",
    b"]",
    b"https://",
    b"Z",
    b".",
    b"-",
    b"\"",
    b"{",
    b"}",
    b"0",
    b"9",
];

/// One to four random edits of `input`, some splicing in part of `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => out[at] = rng.next() as u8,
            2 => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, t.iter().copied());
            }
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(16)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            5 => out.truncate(at),
            _ => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                let copy = out[at.min(end)..end].to_vec();
                out.splice(at..at, copy);
            }
        }
    }
    out
}

/// Runs `check` on every seed and on `rounds` mutants; a failure names the input.
fn run(target: &str, rounds: usize, check: fn(&[u8])) {
    let seeds = seeds(target);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    let inputs = seeds.iter().cloned().chain((0..rounds).map(|_| {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        mutate(&mut rng, a, b)
    }));
    for input in inputs {
        if panic::catch_unwind(|| check(&input)).is_err() {
            panic!(
                "{target}: property violated by {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn store_records() {
    use crate::store::codec::ViewMeta;
    use crate::store::ViewKey;
    let seeds = seeds("store_records");
    let keys = seeds
        .iter()
        .filter(|s| ViewKey::decode(s).is_some())
        .count();
    let metas = seeds.iter().filter(|s| ViewMeta::decode(s).is_ok()).count();
    assert!(
        keys >= 2 && metas >= 2,
        "seeds: {keys} view keys, {metas} metadata"
    );
    run("store_records", 20_000, super::store_records::check);
}

#[test]
fn selector_filter() {
    run("selector_filter", 20_000, super::selector_filter::check);
}

#[test]
fn table() {
    let seeds = seeds("table");
    let tables = seeds
        .iter()
        .filter(|s| crate::hub::cache::table::decode(s).is_ok())
        .count();
    assert_eq!(tables, seeds.len(), "every seed is a Table");
    run("table", 20_000, super::table::check);
}

#[test]
fn user_config() {
    run("user_config", 20_000, super::user_config::check);
}
