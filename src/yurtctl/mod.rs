//! `yurt yurtctl` (or a link named `yurtctl`): the admin CLI that converts a native Kubernetes
//! cluster into a Yurt cluster and back, plus the on-node half its conversion Jobs run.
//!
//! Cloud build only: the cluster commands use kube-rs on a tokio runtime of their own, started
//! here and nowhere else.

pub mod args;
pub mod certs;
pub mod cluster;
pub mod convert;
pub mod error;
pub mod flags;
pub mod hostops;
pub mod jobs;
pub mod join;
pub mod layout;
pub mod lock;
pub mod node;
pub mod nodes;
pub mod plan;
pub mod revert;
pub mod status;
pub mod template;

use args::{Args, Cmd, ManifestsArgs, NodeCmd};
use error::Error;
use plan::{split_list, Plan};

/// Entry point for `yurt yurtctl <args>`; returns the exit code.
pub fn main(rest: &[&str]) -> i32 {
    // yurtctl reports in its own lines; library logs (kube-rs) only when RUST_LOG asks.
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(log::LevelFilter::Off);
    }
    let args = match parse(rest) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("yurtctl: {e}");
            e.exit_code()
        }
    }
}

/// Parses flags; on failure prints one line (argh's first line, with the flags it lists when
/// that line ends in a colon) and returns the exit code (0 for `--help`).
fn parse(rest: &[&str]) -> Result<Args, i32> {
    use argh::FromArgs;
    Args::from_args(&["yurtctl"], rest).map_err(|early| {
        if early.status.is_ok() {
            print!("{}", early.output);
            return 0;
        }
        let mut lines = early
            .output
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or("invalid arguments");
        let msg = if first.ends_with(':') {
            let listed: Vec<&str> = lines.take_while(|l| l.starts_with('-')).collect();
            format!("{first} {}", listed.join(", "))
        } else {
            first.to_string()
        };
        eprintln!("yurtctl: {msg} (see `yurtctl --help`)");
        crate::cli::EXIT_USAGE
    })
}

fn run(a: Args) -> Result<(), Error> {
    match a.cmd {
        Cmd::Manifests(m) => manifests(m),
        Cmd::Node(n) => match n.cmd {
            NodeCmd::Check(c) => node::check(
                std::path::Path::new(&c.root),
                &ports(&c.check_ports)?,
                c.check_restart,
            ),
            NodeCmd::Convert(c) => node::convert(&node_options(c)?),
            NodeCmd::Revert(r) => node::revert(std::path::Path::new(&r.root), r.restart_kubelet),
            NodeCmd::HostRun(h) => match hostops::host_run(&h.command) {
                Ok(0) => Ok(()),
                Ok(code) => std::process::exit(code),
                Err(e) => Err(Error::Preflight(e)),
            },
        },
        Cmd::Convert(c) => {
            let dry = cluster::DryRun::parse(&c.dry_run)?;
            let input = convert::Input {
                cloud: split_list(&c.cloud_nodes),
                autonomous: split_list(&c.autonomous_nodes),
                tunnel_server_address: c.tunnel_server_address,
                image_registry: c.image_registry,
                timeout: args::duration(&c.timeout).map_err(Error::Usage)?,
            };
            if input.cloud.is_empty() {
                return Err(Error::Usage(
                    "--cloud-nodes must name at least one node".into(),
                ));
            }
            on_cluster(c.kubeconfig, c.context, dry, |cl| async move {
                convert::run(&cl, input).await
            })
        }
        Cmd::Revert(r) => {
            let dry = cluster::DryRun::parse(&r.dry_run)?;
            let timeout = args::duration(&r.timeout).map_err(Error::Usage)?;
            on_cluster(r.kubeconfig, r.context, dry, |cl| async move {
                revert::run(&cl, timeout).await
            })
        }
        Cmd::Join(j) => {
            let autonomous = j.autonomous;
            let o = node::ConvertOptions {
                node_name: node_name(&j.root, j.node_name)?,
                root: j.root.into(),
                image: String::new(),
                tunnel_server_address: String::new(),
                tunnel_ca_pem: Vec::new(),
                node_ip: String::new(),
                wait_hub: j.wait_hub,
                restart_kubelet: j.restart_kubelet,
                timeout: args::duration(&j.timeout).map_err(Error::Usage)?,
                check_ports: Vec::new(),
            };
            on_cluster(
                j.kubeconfig,
                j.context,
                cluster::DryRun::None,
                |cl| async move { join::join(&cl, o, autonomous).await },
            )
        }
        Cmd::Reset(r) => {
            let name = node_name(&r.root, r.node_name)?;
            let root = std::path::PathBuf::from(r.root);
            let restart = r.restart_kubelet;
            on_cluster(
                r.kubeconfig,
                r.context,
                cluster::DryRun::None,
                |cl| async move { join::reset(&cl, &name, &root, restart).await },
            )
        }
        Cmd::Status(s) => {
            let meta = s.tunnel_meta;
            on_cluster(
                s.kubeconfig,
                s.context,
                cluster::DryRun::None,
                |cl| async move { status::run(&cl, meta.as_deref()).await },
            )
        }
    }
}

/// Starts yurtctl's own tokio runtime (the only one in the crate), connects, runs `f`.
fn on_cluster<F, Fut>(
    kubeconfig: Option<String>,
    context: Option<String>,
    dry: cluster::DryRun,
    f: F,
) -> Result<(), Error>
where
    F: FnOnce(cluster::Cluster) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    rt.block_on(async move {
        let cl = cluster::connect(kubeconfig.as_deref(), context.as_deref(), dry).await?;
        f(cl).await
    })
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
    let certs = if m.generate_tunnel_certs {
        certs::TunnelCerts::generate(certs::host_of(&plan.tunnel_server_address))?
    } else {
        certs::TunnelCerts::redacted()
    };
    print!("{}", plan.manifests_yaml(&certs)?);
    Ok(())
}

/// `--node-name`, else `$NODE_NAME`, else the root's `/etc/hostname`.
fn node_name(root: &str, flag: Option<String>) -> Result<String, Error> {
    match flag.or_else(|| std::env::var("NODE_NAME").ok()) {
        Some(n) => Ok(n),
        None => std::fs::read_to_string(std::path::Path::new(root).join("etc/hostname"))
            .map(|s| s.trim().to_string())
            .map_err(|_| {
                Error::Usage("--node-name is required (no $NODE_NAME, no /etc/hostname)".into())
            }),
    }
}

/// Parses a comma-separated port list.
fn ports(s: &str) -> Result<Vec<u16>, Error> {
    split_list(s)
        .iter()
        .map(|p| {
            p.parse()
                .map_err(|_| Error::Usage(format!("--check-ports: {p:?} is not a port")))
        })
        .collect()
}

fn node_options(c: args::NodeConvertArgs) -> Result<node::ConvertOptions, Error> {
    Ok(node::ConvertOptions {
        check_ports: ports(&c.check_ports)?,
        node_name: node_name(&c.root, c.node_name)?,
        root: c.root.into(),
        image: c.image.unwrap_or_else(|| plan::image(None)),
        tunnel_server_address: c.tunnel_server_address,
        tunnel_ca_pem: std::fs::read(&c.tunnel_ca_file)
            .map_err(|e| Error::Usage(format!("--tunnel-ca-file {}: {e}", c.tunnel_ca_file)))?,
        node_ip: c.node_ip,
        wait_hub: c.wait_hub,
        restart_kubelet: c.restart_kubelet,
        timeout: args::duration(&c.timeout).map_err(Error::Usage)?,
    })
}
