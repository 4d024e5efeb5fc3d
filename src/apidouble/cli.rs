//! `yurt api-double`: serve the API double alone.

use argh::FromArgs;

/// Serve the Kubernetes API double (tests and benchmarks).
#[derive(FromArgs, Debug)]
pub struct ApiDoubleArgs {}

/// Entry point.
pub fn main(_args: ApiDoubleArgs) -> i32 {
    eprintln!("yurt api-double: not built yet");
    1
}
