//! Fuzz target: kubectl Tables as the hub caches and serves them offline.
//! The properties live in `yurt::fuzzing::table` (the normal test suite runs them too).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yurt::fuzzing::table::check(data));
