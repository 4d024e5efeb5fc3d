//! Fuzz target: configuration text from users (kubeconfig, --server-addr, the agent's
//! allowlist, --cache-config JSON, RFC 3339 times). First line: which parser; then its input.
//! The properties live in `yurt::fuzzing::user_config` (the normal test suite runs them too).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yurt::fuzzing::user_config::check(data));
