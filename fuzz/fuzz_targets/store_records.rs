//! Fuzz target: store keys and records as read back from a damaged or hostile cache directory.
//! The properties live in `yurt::fuzzing::store_records` (the normal test suite runs them too).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yurt::fuzzing::store_records::check(data));
