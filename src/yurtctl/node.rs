//! `yurtctl node convert` / `node revert`: the on-node half. Convert saves the kubelet files it
//! edits, writes the tunnel CA, the hub's static pod and `/var/lib/openyurt/kubelet.conf`, then
//! points kubelet at it; revert puts the saved bytes back and removes everything convert created.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::layout::{
    self, at, Kind, BACKUP, CACHE, DEFAULT_POD_DIR, KUBELET_CONF, STATE, STATIC_POD_FILE, TUNNEL_CA,
};
use super::{flags, hostops, template};

/// What `node convert` needs besides the root.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub root: PathBuf,
    pub node_name: String,
    pub image: String,
    pub tunnel_server_address: String,
    /// The tunnel CA (PEM) the agent trusts, written to [`TUNNEL_CA`].
    pub tunnel_ca_pem: Vec<u8>,
    /// The node's IPs, comma-separated, which the agent registers.
    pub node_ip: String,
    pub wait_hub: bool,
    pub restart_kubelet: bool,
    pub timeout: Duration,
    /// Ports that must be free before a first conversion (the Job passes 10261,10267,10268).
    pub check_ports: Vec<u16>,
}

/// The record convert leaves in [`STATE`]; revert works from it alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeState {
    pub layout: Kind,
    pub original_kubeconfig: String,
    pub server_addr: String,
    /// Edited files, relative to the root; originals under [`BACKUP`].
    pub edited: Vec<String>,
    /// The hub's static pod file, relative to the root.
    pub static_pod: String,
    /// Directories convert created, parents first.
    pub created_dirs: Vec<String>,
}

fn say(msg: &str) {
    println!("node: {msg}");
}

fn read_state(root: &Path) -> Result<Option<NodeState>, Error> {
    let path = at(root, STATE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::Layout(format!("{}: unreadable: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes `bytes` to `root/rel` through a temporary file and a rename, keeping the old mode;
/// does nothing when the content is already `bytes`. Returns whether it wrote.
fn write_file(root: &Path, rel: &str, bytes: &[u8]) -> Result<bool, Error> {
    let path = at(root, rel);
    if std::fs::read(&path).is_ok_and(|cur| cur == bytes) {
        return Ok(false);
    }
    let tmp = path.with_extension("yurtctl-tmp");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    if let Ok(meta) = std::fs::metadata(&path) {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(true)
}

/// Creates `rel` and its missing parents, appending each one it creates to `created`.
fn ensure_dir(root: &Path, rel: &str, created: &mut Vec<String>) -> Result<(), Error> {
    let mut cur = String::new();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        cur = if cur.is_empty() {
            part.to_string()
        } else {
            format!("{cur}/{part}")
        };
        let p = at(root, &cur);
        if !p.is_dir() {
            std::fs::create_dir(&p).map_err(|e| Error::io(&p, e))?;
            created.push(cur.clone());
        }
    }
    Ok(())
}

fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// What a first conversion will work from: the layout and the API server kubelet uses.
fn inspect(root: &Path) -> Result<(layout::Found, String), Error> {
    let found = layout::detect(root)?;
    let kc_rel = found.kubeconfig.trim_start_matches('/');
    let server_addr = std::fs::read_to_string(at(root, kc_rel))
        .ok()
        .and_then(|t| flags::kubeconfig_server(&t))
        .ok_or_else(|| {
            Error::Layout(format!(
                "kubelet's kubeconfig {} has no readable server; nothing changed",
                found.kubeconfig
            ))
        })?;
    Ok((found, server_addr))
}

/// `yurtctl node check`: would `node convert` work here? Changes nothing.
pub fn check(root: &Path, ports: &[u16], restart: bool) -> Result<(), Error> {
    if read_state(root)?.is_some() {
        say(&format!("already converted (/{STATE} present)"));
        return Ok(());
    }
    hostops::ports_free(ports).map_err(Error::Preflight)?;
    if restart {
        hostops::check_restart(root).map_err(Error::Preflight)?;
    }
    let (found, server) = inspect(root)?;
    say(&format!(
        "check ok: layout {}, kubelet uses {} (server {server}), edits {}",
        found.kind.name(),
        found.kubeconfig,
        found.files.join(", ")
    ));
    Ok(())
}

/// First conversion: inspect, back up the originals and record the state.
fn prepare(root: &Path) -> Result<NodeState, Error> {
    let (found, server_addr) = inspect(root)?;
    let mut created_dirs = Vec::new();
    for rel in &found.files {
        let dest = format!("{BACKUP}/{rel}");
        ensure_dir(root, parent(&dest), &mut created_dirs)?;
        std::fs::copy(at(root, rel), at(root, &dest)).map_err(|e| Error::io(at(root, &dest), e))?;
    }
    let pod_dir = found.static_pod_dir.clone().unwrap_or_else(|| {
        say(&format!(
            "kubelet names no static pod directory; using {DEFAULT_POD_DIR}"
        ));
        DEFAULT_POD_DIR.to_string()
    });
    let static_pod = format!("{}/{STATIC_POD_FILE}", pod_dir.trim_matches('/'));
    ensure_dir(root, parent(&static_pod), &mut created_dirs)?;
    let state = NodeState {
        layout: found.kind,
        static_pod,
        original_kubeconfig: found.kubeconfig,
        server_addr,
        edited: found.files,
        created_dirs,
    };
    let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::Layout(e.to_string()))?;
    write_file(root, STATE, &json)?;
    Ok(state)
}

/// Checks the agent's inputs before anything is written: IPs and a PEM CA.
fn validate(o: &ConvertOptions) -> Result<(), Error> {
    let ips: Vec<&str> = o
        .node_ip
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ips.is_empty() {
        return Err(Error::Usage(
            "--node-ip must name this node's IP (the tunnel routes kube-apiserver's CONNECTs by it)"
                .into(),
        ));
    }
    if let Some(bad) = ips.iter().find(|s| s.parse::<std::net::IpAddr>().is_err()) {
        return Err(Error::Usage(format!(
            "--node-ip: {bad:?} is not an IP address"
        )));
    }
    crate::net::tls::certs_from_pem(&o.tunnel_ca_pem, "the tunnel CA")
        .map_err(|e| Error::Usage(format!("tunnel CA: {e}")))?;
    Ok(())
}

/// `yurtctl node convert`.
pub fn convert(o: &ConvertOptions) -> Result<(), Error> {
    validate(o)?;
    let root = o.root.as_path();
    let state = match read_state(root)? {
        Some(s) => {
            say(&format!(
                "already prepared ({STATE} present); checking every file"
            ));
            s
        }
        None => {
            hostops::ports_free(&o.check_ports).map_err(Error::Preflight)?;
            prepare(root)?
        }
    };
    say(&format!(
        "layout {}: {} (kubelet used {})",
        state.layout.name(),
        state.edited.join(", "),
        state.original_kubeconfig
    ));
    let kubeconfig_dir = state
        .original_kubeconfig
        .rsplit_once('/')
        .map(|(d, _)| if d.is_empty() { "/" } else { d })
        .unwrap_or("/");
    let values = [
        ("node", o.node_name.as_str()),
        ("image", o.image.as_str()),
        ("tunnel_server_address", o.tunnel_server_address.as_str()),
        ("server_addr", state.server_addr.as_str()),
        ("original_kubeconfig", state.original_kubeconfig.as_str()),
        ("kubeconfig_dir", kubeconfig_dir),
        ("node_ip", o.node_ip.as_str()),
    ];
    report(write_file(root, TUNNEL_CA, &o.tunnel_ca_pem)?, TUNNEL_CA);
    let pod = template::render(&template::EDGE_POD, &values)?;
    report(
        write_file(root, &state.static_pod, pod.as_bytes())?,
        &state.static_pod,
    );
    if o.wait_hub {
        hostops::wait_hub(o.timeout)
            .map_err(|cause| step_err("wait-hub", cause, "hub installed, kubelet unchanged"))?;
        say("hub healthy");
    }
    let kubelet_conf = template::render(&template::KUBELET_CONF, &[])?;
    report(
        write_file(root, KUBELET_CONF, kubelet_conf.as_bytes())?,
        KUBELET_CONF,
    );
    for rel in &state.edited {
        let text =
            std::fs::read_to_string(at(root, rel)).map_err(|e| Error::io(at(root, rel), e))?;
        let edit = flags::point_kubeconfig(&text, &format!("/{KUBELET_CONF}"));
        report(write_file(root, rel, edit.text.as_bytes())?, rel);
    }
    if o.restart_kubelet {
        hostops::restart_kubelet(root).map_err(|cause| {
            step_err(
                "restart-kubelet",
                cause,
                "kubelet config points at the hub; kubelet not restarted",
            )
        })?;
        say("kubelet restarted");
    }
    say("converted");
    Ok(())
}

fn report(wrote: bool, rel: &str) {
    let what = if wrote { "wrote" } else { "unchanged" };
    say(&format!("{what} /{rel}"));
}

fn step_err(step: &str, cause: String, state: &str) -> Error {
    Error::Step {
        node: None,
        step: step.to_string(),
        cause,
        state: state.to_string(),
    }
}

/// `yurtctl node revert`: kubelet first, then the hub, then yurtctl's files and the cache.
pub fn revert(root: &Path, restart_kubelet: bool) -> Result<(), Error> {
    let Some(state) = read_state(root)? else {
        say(&format!("not converted (no /{STATE}); nothing to do"));
        return Ok(());
    };
    for rel in &state.edited {
        let backup = at(root, &format!("{BACKUP}/{rel}"));
        let bytes = std::fs::read(&backup).map_err(|e| Error::io(&backup, e))?;
        report(write_file(root, rel, &bytes)?, rel);
    }
    if restart_kubelet {
        hostops::restart_kubelet(root).map_err(|cause| {
            step_err(
                "restart-kubelet",
                cause,
                "kubelet config restored; kubelet not restarted; hub still installed",
            )
        })?;
        say("kubelet restarted on its original kubeconfig");
    }
    remove_file(root, &state.static_pod)?;
    remove_file(root, KUBELET_CONF)?;
    remove_file(root, TUNNEL_CA)?;
    remove_tree(root, CACHE)?;
    remove_tree(root, BACKUP)?;
    remove_file(root, STATE)?;
    for dir in state.created_dirs.iter().rev() {
        remove_tree(root, dir)?;
    }
    say("reverted");
    Ok(())
}

fn remove_file(root: &Path, rel: &str) -> Result<(), Error> {
    match std::fs::remove_file(at(root, rel)) {
        Ok(()) => {
            say(&format!("removed /{rel}"));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(at(root, rel), e)),
    }
}

fn remove_tree(root: &Path, rel: &str) -> Result<(), Error> {
    match std::fs::remove_dir_all(at(root, rel)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(at(root, rel), e)),
    }
}
