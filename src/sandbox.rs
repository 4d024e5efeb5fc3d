//! `yurt sandbox`: a local playground (API double + hub on loopback) for kubectl.

use argh::FromArgs;

/// Start a local playground: an API double and a hub on loopback.
#[derive(FromArgs, Debug)]
pub struct SandboxArgs {}

/// Entry point.
pub fn main(_args: SandboxArgs) -> i32 {
    eprintln!("yurt sandbox: not built yet");
    1
}
