//! The cluster as yurtctl sees it: a kube-rs client from the kubeconfig (found the kubectl way)
//! and a few untyped calls (get, list, create-if-absent, merge patch, delete) that honour
//! `--dry-run`.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

use super::error::Error;

/// `--dry-run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    /// Write for real.
    None,
    /// Print what would be written; send only reads.
    Client,
    /// Send writes with `dryRun=All`: the server validates, stores nothing.
    Server,
}

impl DryRun {
    /// Parses `none`, `client` or `server`.
    pub fn parse(s: &str) -> Result<DryRun, Error> {
        match s {
            "none" | "" => Ok(DryRun::None),
            "client" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            other => Err(Error::Usage(format!(
                "--dry-run must be none, client or server, not {other:?}"
            ))),
        }
    }
}

/// A connected cluster.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    pub dry_run: DryRun,
    /// The API server URL, for messages.
    pub url: String,
}

/// Identifies one object: apiVersion, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjRef {
    /// The reference of a manifest object.
    pub fn of(obj: &Value) -> Result<ObjRef, Error> {
        let s = |v: &Value| v.as_str().map(String::from);
        let bad = || Error::Template(format!("object without apiVersion/kind/name: {obj}"));
        Ok(ObjRef {
            api_version: s(&obj["apiVersion"]).ok_or_else(bad)?,
            kind: s(&obj["kind"]).ok_or_else(bad)?,
            namespace: s(&obj["metadata"]["namespace"]),
            name: s(&obj["metadata"]["name"]).ok_or_else(bad)?,
        })
    }

    /// A cluster-scoped reference.
    pub fn cluster(api_version: &str, kind: &str, name: &str) -> ObjRef {
        ObjRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: None,
            name: name.into(),
        }
    }

    /// A reference in `kube-system`.
    pub fn system(api_version: &str, kind: &str, name: &str) -> ObjRef {
        ObjRef {
            namespace: Some("kube-system".into()),
            ..ObjRef::cluster(api_version, kind, name)
        }
    }
}

impl std::fmt::Display for ObjRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// An error and its causes on one line (`client error (Connect): Connection refused`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out = format!("{out}: {s}");
        }
        cur = c.source();
    }
    out
}

fn api_error(what: impl Into<String>, e: kube::Error) -> Error {
    match e {
        kube::Error::Api(r) => Error::Api {
            what: what.into(),
            source: format!("{} ({})", r.message, r.code),
        },
        other => Error::Unreachable(format!("{}: {}", what.into(), chain(&other))),
    }
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(r) if r.code == code)
}

fn to_value(o: DynamicObject) -> Result<Value, Error> {
    serde_json::to_value(o).map_err(|e| Error::Template(e.to_string()))
}

/// Loads the kubeconfig the kubectl way: `--kubeconfig`, else `$KUBECONFIG` (merged), else
/// `~/.kube/config`; then `--context` or the current one.
pub async fn connect(
    kubeconfig: Option<&str>,
    context: Option<&str>,
    dry_run: DryRun,
) -> Result<Cluster, Error> {
    let kc = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|e| Error::Kubeconfig(format!("{e} (give --kubeconfig, or set KUBECONFIG)")))?;
    let opts = KubeConfigOptions {
        context: context.map(String::from),
        ..KubeConfigOptions::default()
    };
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    cfg.connect_timeout = Some(std::time::Duration::from_secs(5));
    cfg.read_timeout = Some(std::time::Duration::from_secs(30));
    let url = cfg.cluster_url.to_string();
    let client = kube::Client::try_from(cfg).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    client
        .apiserver_version()
        .await
        .map_err(|e| Error::Unreachable(format!("{url}: {}", chain(&e))))?;
    Ok(Cluster {
        client,
        dry_run,
        url,
    })
}

impl Cluster {
    fn api(&self, r: &ObjRef) -> Api<DynamicObject> {
        let (group, version) = r
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", &r.api_version));
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &r.kind));
        match &r.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &ar),
            None => Api::all_with(self.client.clone(), &ar),
        }
    }

    /// The object, if it exists.
    pub async fn get(&self, r: &ObjRef) -> Result<Option<Value>, Error> {
        match self.api(r).get_opt(&r.name).await {
            Ok(Some(o)) => to_value(o).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(api_error(format!("get {r}"), e)),
        }
    }

    /// Every object of a kind (cluster-wide).
    pub async fn list(&self, api_version: &str, kind: &str) -> Result<Vec<Value>, Error> {
        let r = ObjRef::cluster(api_version, kind, "");
        let list = self
            .api(&r)
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error(format!("list {kind}"), e))?;
        list.items.into_iter().map(to_value).collect()
    }

    /// Objects of a kind in `namespace` matching `label_selector`.
    pub async fn list_selected(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, Error> {
        let r = ObjRef {
            namespace: Some(namespace.into()),
            ..ObjRef::cluster(api_version, kind, "")
        };
        let lp = ListParams::default().labels(label_selector);
        let list = self
            .api(&r)
            .list(&lp)
            .await
            .map_err(|e| api_error(format!("list {kind} in {namespace}"), e))?;
        list.items.into_iter().map(to_value).collect()
    }

    /// Creates `obj` unless it exists. Returns whether it created (or would create) it.
    pub async fn create(&self, obj: &Value) -> Result<bool, Error> {
        let r = ObjRef::of(obj)?;
        if self.get(&r).await?.is_some() {
            return Ok(false);
        }
        if self.dry_run == DryRun::Client {
            return Ok(true);
        }
        let dynobj: DynamicObject =
            serde_json::from_value(obj.clone()).map_err(|e| Error::Template(e.to_string()))?;
        let pp = PostParams {
            dry_run: self.dry_run == DryRun::Server,
            ..PostParams::default()
        };
        match self.api(&r).create(&pp, &dynobj).await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, 409) => Ok(false),
            Err(e) => Err(api_error(format!("create {r}"), e)),
        }
    }

    /// Applies a JSON merge patch.
    pub async fn merge_patch(&self, r: &ObjRef, patch: Value) -> Result<(), Error> {
        if self.dry_run == DryRun::Client {
            return Ok(());
        }
        let pp = PatchParams {
            dry_run: self.dry_run == DryRun::Server,
            ..PatchParams::default()
        };
        self.api(r)
            .patch(&r.name, &pp, &Patch::Merge(patch))
            .await
            .map(|_| ())
            .map_err(|e| api_error(format!("patch {r}"), e))
    }

    /// Replaces an object (optimistic: `obj` carries the resourceVersion it was read at).
    pub async fn replace(&self, obj: &Value) -> Result<(), Error> {
        let r = ObjRef::of(obj)?;
        if self.dry_run == DryRun::Client {
            return Ok(());
        }
        let dynobj: DynamicObject =
            serde_json::from_value(obj.clone()).map_err(|e| Error::Template(e.to_string()))?;
        let pp = PostParams {
            dry_run: self.dry_run == DryRun::Server,
            ..PostParams::default()
        };
        self.api(&r)
            .replace(&r.name, &pp, &dynobj)
            .await
            .map(|_| ())
            .map_err(|e| api_error(format!("replace {r}"), e))
    }

    /// Deletes an object; returns whether it existed.
    pub async fn delete(&self, r: &ObjRef) -> Result<bool, Error> {
        if self.dry_run == DryRun::Client {
            return Ok(self.get(r).await?.is_some());
        }
        let dp = DeleteParams {
            dry_run: self.dry_run == DryRun::Server,
            ..DeleteParams::background()
        };
        match self.api(r).delete(&r.name, &dp).await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, 404) => Ok(false),
            Err(e) => Err(api_error(format!("delete {r}"), e)),
        }
    }
}
