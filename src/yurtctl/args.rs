//! yurtctl's flags (argh): one struct per subcommand, `--flag=value` accepted via the shared
//! dispatcher's rewriting.

use argh::FromArgs;

/// yurtctl: convert a native Kubernetes cluster into a Yurt cluster and back
#[derive(FromArgs, Debug)]
pub struct Args {
    #[argh(subcommand)]
    pub cmd: Cmd,
}

/// The subcommands.
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Cmd {
    Convert(ConvertArgs),
    Revert(RevertArgs),
    Status(StatusArgs),
    Manifests(ManifestsArgs),
    Node(NodeArgs),
    Join(JoinArgs),
    Reset(ResetArgs),
}

/// turn this cluster into a Yurt cluster: label nodes, deploy the tunnel, convert edge nodes
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "convert")]
pub struct ConvertArgs {
    /// cloud nodes, comma-separated (required); every other node becomes an edge node
    #[argh(option)]
    pub cloud_nodes: String,
    /// edge nodes that keep their pods when the cloud is unreachable, comma-separated
    #[argh(option, default = "String::new()")]
    pub autonomous_nodes: String,
    /// where edge nodes reach the tunnel server, host:port (default: first cloud node's
    /// InternalIP:10262)
    #[argh(option)]
    pub tunnel_server_address: Option<String>,
    /// registry prefix for the yurt image (default: none, image `yurt:<version>`)
    #[argh(option)]
    pub image_registry: Option<String>,
    /// none (default), client (print the plan, call nothing that writes) or server (the API
    /// server validates every write and stores nothing)
    #[argh(option, default = "String::from(\"none\")")]
    pub dry_run: String,
    /// overall limit per wait, e.g. 300s or 5m (default 5m)
    #[argh(option, default = "String::from(\"5m\")")]
    pub timeout: String,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[argh(option)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default: the current context)
    #[argh(option)]
    pub context: Option<String>,
}

/// undo convert: nodes back to their kubeconfig, labels and cloud components removed
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "revert")]
pub struct RevertArgs {
    /// none (default), client or server, as for convert
    #[argh(option, default = "String::from(\"none\")")]
    pub dry_run: String,
    /// overall limit per wait, e.g. 300s or 5m (default 5m)
    #[argh(option, default = "String::from(\"5m\")")]
    pub timeout: String,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[argh(option)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default: the current context)
    #[argh(option)]
    pub context: Option<String>,
}

/// each node's role, autonomy, hub health and tunnel connection
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "status")]
pub struct StatusArgs {
    /// a tunnel server's meta address host:port (10265); without it tunnels show `unknown`
    #[argh(option)]
    pub tunnel_meta: Option<String>,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[argh(option)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default: the current context)
    #[argh(option)]
    pub context: Option<String>,
}

/// print every object convert would create, as YAML
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "manifests")]
pub struct ManifestsArgs {
    /// cloud nodes, comma-separated (required)
    #[argh(option)]
    pub cloud_nodes: String,
    /// edge nodes, comma-separated (one conversion Job each)
    #[argh(option, default = "String::new()")]
    pub edge_nodes: String,
    /// autonomous edge nodes, comma-separated
    #[argh(option, default = "String::new()")]
    pub autonomous_nodes: String,
    /// where edge nodes reach the tunnel server, host:port (default: <first cloud node>:10262)
    #[argh(option)]
    pub tunnel_server_address: Option<String>,
    /// registry prefix for the yurt image
    #[argh(option)]
    pub image_registry: Option<String>,
    /// print the tunnel's Secret and CA ConfigMap with a freshly generated tunnel CA and server
    /// certificate (default: their key material empty; convert generates it)
    #[argh(switch)]
    pub generate_tunnel_certs: bool,
}

/// the on-node half (what conversion Jobs run)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "node")]
pub struct NodeArgs {
    #[argh(subcommand)]
    pub cmd: NodeCmd,
}

/// `node` subcommands.
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum NodeCmd {
    Check(NodeCheckArgs),
    Convert(NodeConvertArgs),
    Revert(NodeRevertArgs),
    HostRun(NodeHostRunArgs),
}

/// check that node convert would work here (layout known, ports free); changes nothing
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct NodeCheckArgs {
    /// the host's root directory (default /)
    #[argh(option, default = "String::from(\"/\")")]
    pub root: String,
    /// ports that must be free, comma-separated (Jobs: 10261,10267,10268)
    #[argh(option, default = "String::new()")]
    pub check_ports: String,
    /// check that kubelet can be restarted from here (`systemctl is-active kubelet` on the host)
    #[argh(switch)]
    pub check_restart: bool,
}

/// point this node's kubelet at the hub (saving the originals)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "convert")]
pub struct NodeConvertArgs {
    /// the host's root directory (default /; Jobs mount the host at /host)
    #[argh(option, default = "String::from(\"/\")")]
    pub root: String,
    /// this node's name (default: $NODE_NAME, then the root's /etc/hostname)
    #[argh(option)]
    pub node_name: Option<String>,
    /// yurt image for the hub's static pod (default yurt:<version>)
    #[argh(option)]
    pub image: Option<String>,
    /// tunnel server address host:port for the hub's static pod (required)
    #[argh(option)]
    pub tunnel_server_address: String,
    /// the tunnel CA (PEM) agents trust, copied to /var/lib/openyurt/tunnel-ca.crt (required;
    /// Jobs mount ConfigMap yurt-tunnel-ca)
    #[argh(option)]
    pub tunnel_ca_file: String,
    /// this node's IP addresses, comma-separated, registered with the tunnel (required; Jobs
    /// pass status.hostIP)
    #[argh(option)]
    pub node_ip: String,
    /// wait for http://127.0.0.1:10267/v1/healthz before switching kubelet
    #[argh(switch)]
    pub wait_hub: bool,
    /// run systemctl daemon-reload and restart kubelet when done
    #[argh(switch)]
    pub restart_kubelet: bool,
    /// limit for the hub to become healthy, e.g. 120s (default 2m)
    #[argh(option, default = "String::from(\"2m\")")]
    pub timeout: String,
    /// ports that must be free before converting, comma-separated (Jobs: 10261,10267,10268)
    #[argh(option, default = "String::new()")]
    pub check_ports: String,
}

/// restore this node's kubelet config byte for byte and remove the hub
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "revert")]
pub struct NodeRevertArgs {
    /// the host's root directory (default /)
    #[argh(option, default = "String::from(\"/\")")]
    pub root: String,
    /// run systemctl daemon-reload and restart kubelet after restoring its files
    #[argh(switch)]
    pub restart_kubelet: bool,
}

/// run a command in PID 1's mount namespace (the host's, in a Job with hostPID): how node Jobs
/// restart kubelet
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "host-run")]
pub struct NodeHostRunArgs {
    /// the command and its arguments (after `--`)
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

/// on a node of a converted cluster: make this node an edge node and convert it in place
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "join")]
pub struct JoinArgs {
    /// this node's name (default: $NODE_NAME, then the root's /etc/hostname)
    #[argh(option)]
    pub node_name: Option<String>,
    /// mark the node autonomous
    #[argh(switch)]
    pub autonomous: bool,
    /// the host's root directory (default /)
    #[argh(option, default = "String::from(\"/\")")]
    pub root: String,
    /// wait for http://127.0.0.1:10267/v1/healthz before switching kubelet
    #[argh(switch)]
    pub wait_hub: bool,
    /// run systemctl daemon-reload and restart kubelet when done
    #[argh(switch)]
    pub restart_kubelet: bool,
    /// limit for the hub to become healthy, e.g. 120s (default 2m)
    #[argh(option, default = "String::from(\"2m\")")]
    pub timeout: String,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[argh(option)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default: the current context)
    #[argh(option)]
    pub context: Option<String>,
}

/// on a node leaving a converted cluster: revert it in place, drop its label and record
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "reset")]
pub struct ResetArgs {
    /// this node's name (default: $NODE_NAME, then the root's /etc/hostname)
    #[argh(option)]
    pub node_name: Option<String>,
    /// the host's root directory (default /)
    #[argh(option, default = "String::from(\"/\")")]
    pub root: String,
    /// run systemctl daemon-reload and restart kubelet after restoring its files
    #[argh(switch)]
    pub restart_kubelet: bool,
    /// kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[argh(option)]
    pub kubeconfig: Option<String>,
    /// kubeconfig context (default: the current context)
    #[argh(option)]
    pub context: Option<String>,
}

/// Parses `30s`, `5m`, `1h` or plain seconds.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, mult) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| std::time::Duration::from_secs(n * mult))
        .map_err(|_| format!("--timeout: {s:?} is not a duration like 30s, 5m or 1h"))
}
