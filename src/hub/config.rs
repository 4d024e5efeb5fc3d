//! Hub flags and their resolved configuration.

use argh::FromArgs;

/// Node-local proxy and cache in front of kube-apiserver.
#[derive(FromArgs, Debug)]
pub struct HubArgs {}
