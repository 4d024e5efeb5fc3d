//! A Kubernetes API double for tests, benchmarks and the sandbox (shape checked against real captures).

pub mod cli;
