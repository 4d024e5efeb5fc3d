//! Kubelet configuration layouts on a node, found under a root directory: kubeadm's
//! (`10-kubeadm.conf` drop-in + `/var/lib/kubelet/kubeadm-flags.env`) and a plain systemd one
//! (`kubelet.service` or a `kubelet.service.d/*.conf` drop-in carrying `--kubeconfig`).

use std::path::{Path, PathBuf};

use super::error::Error;
use super::flags;

/// Where yurtctl keeps its files on a node (relative to the root).
pub const YURT_DIR: &str = "var/lib/openyurt";
/// The kubelet kubeconfig yurtctl writes.
pub const KUBELET_CONF: &str = "var/lib/openyurt/kubelet.conf";
/// The tunnel CA the `yurt edge` static pod's agent trusts (`--tunnel-ca-file`).
pub const TUNNEL_CA: &str = "var/lib/openyurt/tunnel-ca.crt";
/// The record of a node conversion (what was edited, what was created).
pub const STATE: &str = "var/lib/openyurt/node-state.json";
/// Originals of edited files, at their relative paths below this directory.
pub const BACKUP: &str = "var/lib/openyurt/backup";
/// The hub cache directory the `yurt edge` static pod uses.
pub const CACHE: &str = "var/lib/openyurt/cache";
/// The static pod directory when kubelet names none (kubeadm's).
pub const DEFAULT_POD_DIR: &str = "/etc/kubernetes/manifests";
/// The `yurt edge` static pod's file name in kubelet's static pod directory.
pub const STATIC_POD_FILE: &str = "yurt-edge.yaml";

const UNIT_DIRS: [&str; 3] = [
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];
const KUBEADM_ENV: &str = "var/lib/kubelet/kubeadm-flags.env";

/// A recognised layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Kubeadm,
    Systemd,
}

impl Kind {
    /// `kubeadm` or `systemd`, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kubeadm => "kubeadm",
            Kind::Systemd => "systemd",
        }
    }
}

/// What convert will edit on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    /// Files (relative to the root) that set `--kubeconfig`, in command-line order.
    pub files: Vec<String>,
    /// The kubeconfig kubelet uses today (absolute path on the node).
    pub kubeconfig: String,
    /// Kubelet's static pod directory (absolute), if its flags or config name one.
    pub static_pod_dir: Option<String>,
}

/// `root/rel`.
pub fn at(root: &Path, rel: &str) -> PathBuf {
    root.join(rel)
}

fn kubeadm_dropins() -> Vec<String> {
    UNIT_DIRS
        .iter()
        .map(|d| format!("{d}/kubelet.service.d/10-kubeadm.conf"))
        .collect()
}

/// `kubelet.service` and its `*.conf` drop-ins in every unit directory, sorted per directory.
fn systemd_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in UNIT_DIRS {
        out.push(format!("{d}/kubelet.service"));
        let dropins = format!("{d}/kubelet.service.d");
        let mut names: Vec<String> = std::fs::read_dir(at(root, &dropins))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".conf"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        out.extend(names.into_iter().map(|n| format!("{dropins}/{n}")));
    }
    out
}

fn read(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(at(root, rel)).ok()
}

/// Finds the layout under `root`; an unknown layout is one clear [`Error::Layout`].
pub fn detect(root: &Path) -> Result<Found, Error> {
    let dropins = kubeadm_dropins();
    let kubeadm = dropins.iter().any(|f| at(root, f).is_file());
    let (kind, candidates) = if kubeadm {
        let mut c = dropins;
        c.push(KUBEADM_ENV.to_string());
        (Kind::Kubeadm, c)
    } else {
        (Kind::Systemd, systemd_files(root))
    };
    let mut files = Vec::new();
    let mut kubeconfig = None;
    let mut static_pod_dir = None;
    for rel in candidates {
        let Some(text) = read(root, &rel) else {
            continue;
        };
        if let Some(dir) = pod_dir(root, &text) {
            static_pod_dir = Some(dir);
        }
        let edit = flags::point_kubeconfig(&text, "");
        if let Some(last) = edit.old_kubeconfigs.last() {
            kubeconfig = Some(last.clone());
            files.push(rel);
        }
    }
    let kubeconfig = kubeconfig.ok_or_else(|| unknown(root, kubeadm))?;
    if kubeconfig == format!("/{KUBELET_CONF}") {
        return Err(Error::Layout(format!(
            "{}: kubelet already points at /{KUBELET_CONF} but {STATE} is missing; restore the kubelet config by hand",
            root.display()
        )));
    }
    Ok(Found {
        kind,
        files,
        kubeconfig,
        static_pod_dir,
    })
}

/// The static pod directory a unit or env file sets: `--pod-manifest-path`, else the
/// `staticPodPath` of the file `--config` names.
fn pod_dir(root: &Path, unit_text: &str) -> Option<String> {
    if let Some(d) = flags::flag_value(unit_text, "--pod-manifest-path") {
        return Some(d);
    }
    let config = flags::flag_value(unit_text, "--config")?;
    let text = read(root, config.trim_start_matches('/'))?;
    flags::top_level_scalar(&text, "staticPodPath")
}

fn unknown(root: &Path, kubeadm: bool) -> Error {
    let what = if kubeadm {
        "kubeadm's 10-kubeadm.conf is there but no file sets --kubeconfig"
    } else {
        "found neither kubeadm's kubelet.service.d/10-kubeadm.conf nor a kubelet.service (or drop-in) with --kubeconfig"
    };
    Error::Layout(format!(
        "unknown kubelet layout under {}: {what}; nothing changed",
        root.display()
    ))
}
