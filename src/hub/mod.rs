//! YurtHub: the node-local proxy (and later cache) in front of kube-apiserver.

pub mod config;

/// `yurt hub` entry point.
pub fn main(_args: config::HubArgs) -> i32 {
    1
}
