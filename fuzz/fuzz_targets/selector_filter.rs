//! Fuzz target: a view never seen online served by filtering a broader one holds exactly what
//! kube-apiserver would answer. Properties and the reference evaluator:
//! `yurt::fuzzing::selector_filter` (the normal test suite runs them too).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yurt::fuzzing::selector_filter::check(data));
