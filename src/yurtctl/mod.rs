//! `yurt yurtctl` (or a link named `yurtctl`): the admin CLI that converts a native Kubernetes
//! cluster into a Yurt cluster and back, plus the on-node half its conversion Jobs run.
//!
//! Cloud build only: the cluster commands use kube-rs on a tokio runtime of their own, started
//! here and nowhere else.

pub mod args;
pub mod error;
pub mod flags;
pub mod hostops;
pub mod layout;
pub mod node;
pub mod plan;
pub mod template;

use args::{Args, Cmd, ManifestsArgs, NodeCmd};
use error::Error;
use plan::{split_list, Plan};

/// Entry point for `yurt yurtctl <args>`; returns the exit code.
pub fn main(rest: &[&str]) -> i32 {
    crate::cli::run_parsed::<Args>("yurtctl", rest, |a| match run(a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("yurtctl: {e}");
            e.exit_code()
        }
    })
}

fn run(a: Args) -> Result<(), Error> {
    match a.cmd {
        Cmd::Manifests(m) => manifests(m),
        Cmd::Node(n) => match n.cmd {
            NodeCmd::Convert(c) => node::convert(&node_options(c)?),
            NodeCmd::Revert(r) => node::revert(std::path::Path::new(&r.root), r.restart_kubelet),
        },
        Cmd::Convert(_) | Cmd::Revert(_) | Cmd::Status(_) => {
            Err(Error::Usage("not implemented yet".into()))
        }
    }
}

fn manifests(m: ManifestsArgs) -> Result<(), Error> {
    let cloud = split_list(&m.cloud_nodes);
    let tunnel = match (m.tunnel_server_address, cloud.first()) {
        (Some(t), _) => t,
        (None, Some(c)) => format!("{c}:10262"),
        (None, None) => String::new(),
    };
    let plan = Plan {
        cloud,
        edge: split_list(&m.edge_nodes),
        autonomous: split_list(&m.autonomous_nodes),
        tunnel_server_address: tunnel,
        image: plan::image(m.image_registry.as_deref()),
    };
    plan.validate()?;
    print!("{}", plan.manifests_yaml()?);
    Ok(())
}

fn node_options(c: args::NodeConvertArgs) -> Result<node::ConvertOptions, Error> {
    let root = std::path::PathBuf::from(&c.root);
    let node_name = match c.node_name.or_else(|| std::env::var("NODE_NAME").ok()) {
        Some(n) => n,
        None => std::fs::read_to_string(root.join("etc/hostname"))
            .map(|s| s.trim().to_string())
            .map_err(|_| {
                Error::Usage("--node-name is required (no $NODE_NAME, no /etc/hostname)".into())
            })?,
    };
    Ok(node::ConvertOptions {
        root,
        node_name,
        image: c.image.unwrap_or_else(|| plan::image(None)),
        tunnel_server_address: c.tunnel_server_address,
        wait_hub: c.wait_hub,
        restart_kubelet: c.restart_kubelet,
        timeout: args::duration(&c.timeout).map_err(Error::Usage)?,
    })
}
