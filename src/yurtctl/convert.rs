//! `yurtctl convert`: preflight, lock, a check Job per edge node, cloud components (the first
//! being the plan's record, `kube-system/yurt-hub-cfg`; the tunnel's certificates generated
//! once), node labels, then one conversion Job per edge node, one node at a time. Every step
//! prints as it happens; a rerun with the same plan resumes where it stopped.

use std::time::Duration;

use serde_json::Value;

use super::certs::{host_of, TunnelCerts};
use super::cluster::{Cluster, DryRun, ObjRef};
use super::error::Error;
use super::plan::{self, Plan, HUB_CFG};
use super::{jobs, lock, nodes, template};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Input {
    pub cloud: Vec<String>,
    pub autonomous: Vec<String>,
    pub tunnel_server_address: Option<String>,
    pub image_registry: Option<String>,
    pub timeout: Duration,
}

/// Steps convert prints.
const TOTAL: usize = 6;

pub(crate) fn step(n: usize, total: usize, msg: &str) {
    println!("[{n}/{total}] {msg}");
}

/// The recorded plan, if a conversion started (`kube-system/yurt-hub-cfg`).
pub async fn recorded(c: &Cluster) -> Result<Option<Plan>, Error> {
    let r = ObjRef::system("v1", "ConfigMap", HUB_CFG);
    Ok(c.get(&r).await?.as_ref().and_then(Plan::from_configmap))
}

/// The plan for this cluster: every node not named cloud is edge.
pub fn plan_for(all: &[Value], i: &Input) -> Result<Plan, Error> {
    let names: Vec<&str> = all.iter().map(nodes::name).collect();
    let unknown: Vec<&str> = i
        .cloud
        .iter()
        .chain(&i.autonomous)
        .map(String::as_str)
        .filter(|n| !names.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Preflight(format!(
            "unknown node(s): {}; the cluster has: {}",
            unknown.join(", "),
            names.join(", ")
        )));
    }
    let edge = names
        .iter()
        .filter(|n| !i.cloud.iter().any(|c| c == *n))
        .map(|n| n.to_string())
        .collect();
    let first_cloud = all
        .iter()
        .find(|n| i.cloud.first().map(String::as_str) == Some(nodes::name(n)));
    let tunnel = match (
        &i.tunnel_server_address,
        first_cloud.and_then(nodes::internal_ip),
    ) {
        (Some(t), _) => t.clone(),
        (None, Some(ip)) => format!("{ip}:10262"),
        (None, None) => {
            return Err(Error::Preflight(
                "cloud node has no InternalIP; give --tunnel-server-address".into(),
            ))
        }
    };
    let p = Plan {
        cloud: i.cloud.clone(),
        edge,
        autonomous: i.autonomous.clone(),
        tunnel_server_address: tunnel,
        image: plan::image(i.image_registry.as_deref()),
    };
    p.validate()?;
    Ok(p)
}

/// Refuses to start unless every node is Ready and none is marked by anyone but this plan.
pub fn preflight(all: &[Value], p: &Plan, recorded: Option<&Plan>) -> Result<(), Error> {
    if let Some(r) = recorded {
        if let Some(diff) = r.difference(p) {
            return Err(Error::Preflight(format!(
                "cluster already converted with another plan ({diff}); run `yurtctl revert` first"
            )));
        }
    }
    for n in all {
        let marked = nodes::edge_label(n).is_some() || nodes::autonomy(n).is_some();
        if marked && recorded.is_none() {
            return Err(Error::Preflight(format!(
                "node {} already converted ({}={}); run `yurtctl revert` first",
                nodes::name(n),
                plan::EDGE_LABEL,
                nodes::edge_label(n).unwrap_or("-")
            )));
        }
        if !nodes::is_ready(n) {
            return Err(Error::Preflight(format!(
                "node {} is not Ready; every node must be Ready to convert",
                nodes::name(n)
            )));
        }
    }
    Ok(())
}

/// The Secret holding the tunnel server's certificate and the tunnel CA.
pub const TUNNEL_SECRET: &str = "yurt-tunnel-server-certs";
/// The ConfigMap holding the tunnel CA for agents.
pub const TUNNEL_CA: &str = "yurt-tunnel-ca";
/// Where kube-apiserver publishes its client CA (`client-ca-file`), which signs kubelets'
/// client certificates; the tunnel server verifies agents with it.
pub const CLIENT_CA: &str = "extension-apiserver-authentication";

/// Refuses to start when the cluster publishes no client CA for the tunnel server to mount.
pub async fn client_ca_present(c: &Cluster) -> Result<(), Error> {
    let cm = c.get(&ObjRef::system("v1", "ConfigMap", CLIENT_CA)).await?;
    let has = cm.as_ref().is_some_and(|cm| {
        cm["data"]["client-ca-file"]
            .as_str()
            .is_some_and(|s| s.contains("BEGIN CERTIFICATE"))
    });
    if has {
        return Ok(());
    }
    Err(Error::Preflight(format!(
        "ConfigMap kube-system/{CLIENT_CA} has no client-ca-file (kube-apiserver publishes it when run with --client-ca-file); the tunnel server verifies agents' node certificates with it"
    )))
}

/// Runs the whole conversion.
pub async fn run(c: &Cluster, i: Input) -> Result<(), Error> {
    let all = c.list("v1", "Node").await?;
    let p = plan_for(&all, &i)?;
    let rec = recorded(c).await?;
    preflight(&all, &p, rec.as_ref())?;
    client_ca_present(c).await?;
    let resume = if rec.is_some() {
        " (resuming a recorded conversion)"
    } else {
        ""
    };
    step(
        1,
        TOTAL,
        &format!(
            "preflight ok: {} node(s) Ready; cloud: {}; edge: {}; autonomous: {}{resume}",
            all.len(),
            p.cloud.join(","),
            p.edge.join(","),
            p.autonomous.join(",")
        ),
    );
    let held = lock::acquire(c).await?;
    step(
        2,
        TOTAL,
        &format!(
            "lock kube-system/{} held by {}",
            lock::LOCK_NAME,
            held.holder
        ),
    );
    let result = steps(c, &p, &all, &held, i.timeout).await;
    let released = held.release(c).await;
    result?;
    released?;
    let verb = if c.dry_run == DryRun::None {
        "converted"
    } else {
        "dry run: would convert"
    };
    println!(
        "{verb}: {} cloud node(s), {} edge node(s)",
        p.cloud.len(),
        p.edge.len()
    );
    Ok(())
}

pub(crate) fn verb(c: &Cluster, done: bool, yes: &str) -> String {
    match (done, c.dry_run) {
        (false, _) => "unchanged".into(),
        (true, DryRun::Client) => format!("would be {yes}"),
        (true, DryRun::Server) => format!("{yes} (server dry run)"),
        (true, DryRun::None) => yes.into(),
    }
}

async fn steps(
    c: &Cluster,
    p: &Plan,
    all: &[Value],
    l: &lock::Lock,
    t: Duration,
) -> Result<(), Error> {
    check_nodes(c, p, l, t).await?;
    create_components(c, p).await?;
    l.renew(c).await?;
    label_nodes(c, p, all).await?;
    convert_nodes(c, p, l, t).await
}

/// Step 3: a check Job on every edge node not converted yet (kubelet layout known, hub ports
/// free), deleted afterwards; nothing else is written before all pass.
async fn check_nodes(c: &Cluster, p: &Plan, l: &lock::Lock, t: Duration) -> Result<(), Error> {
    for name in &p.edge {
        let convert_job = ObjRef::of(&p.node_job(&template::NODE_CONVERT_JOB, name)?)?;
        if c.get(&convert_job)
            .await?
            .is_some_and(|j| jobs::state(&j) == jobs::JobState::Complete)
        {
            step(
                3,
                TOTAL,
                &format!("node {name}: already converted; check skipped"),
            );
            continue;
        }
        let job = p.node_job(&template::NODE_CHECK_JOB, name)?;
        let result = jobs::run(c, &job, l, t).await;
        c.delete(&ObjRef::of(&job)?).await?;
        result.map_err(|cause| Error::Step {
            node: Some(name.clone()),
            step: "node check".into(),
            cause: format!("{cause}; `yurt yurtctl node check` on the node says why"),
            state: "nothing changed on any node".into(),
        })?;
        step(
            3,
            TOTAL,
            &format!("node {name}: {}", verb(c, true, "checked")),
        );
    }
    Ok(())
}

/// The tunnel's certificates: those of an existing Secret (a convert made it before), else new.
async fn tunnel_certs(c: &Cluster, p: &Plan) -> Result<TunnelCerts, Error> {
    let secret = ObjRef::system("v1", "Secret", TUNNEL_SECRET);
    match c.get(&secret).await? {
        Some(s) => {
            let certs = TunnelCerts::from_secret(&s)?;
            step(
                4,
                TOTAL,
                &format!("{secret}: kept (its tunnel CA and certificate stay)"),
            );
            Ok(certs)
        }
        None => {
            let host = host_of(&p.tunnel_server_address);
            let certs = TunnelCerts::generate(host)?;
            step(
                4,
                TOTAL,
                &format!("tunnel CA and server certificate for {host} generated"),
            );
            Ok(certs)
        }
    }
}

/// The tunnel CA ConfigMap must hold the Secret's CA, or agents would refuse the server.
async fn check_tunnel_ca(c: &Cluster, certs: &TunnelCerts) -> Result<(), Error> {
    let r = ObjRef::system("v1", "ConfigMap", TUNNEL_CA);
    match c.get(&r).await? {
        Some(cm) if cm["data"]["ca.crt"].as_str() != Some(certs.ca_pem.as_str()) => {
            Err(Error::Step {
                node: None,
                step: "cloud components".into(),
                cause: format!("{r} does not hold the CA of Secret kube-system/{TUNNEL_SECRET}"),
                state: format!("no node changed; delete {r} and rerun convert"),
            })
        }
        _ => Ok(()),
    }
}

/// Step 4: the cloud components, the plan's record first.
async fn create_components(c: &Cluster, p: &Plan) -> Result<(), Error> {
    let certs = tunnel_certs(c, p).await?;
    for obj in p.cluster_objects(&certs)? {
        let r = ObjRef::of(&obj)?;
        let created = c.create(&obj).await.map_err(|e| {
            fail(
                None,
                "cloud components",
                e,
                "no node changed; cloud components partly created",
            )
        })?;
        step(4, TOTAL, &format!("{r}: {}", verb(c, created, "created")));
    }
    check_tunnel_ca(c, &certs).await
}

/// Step 5: the edge label on every node, the autonomy annotation on autonomous ones.
async fn label_nodes(c: &Cluster, p: &Plan, all: &[Value]) -> Result<(), Error> {
    for n in all {
        let name = nodes::name(n);
        let edge = p.edge.iter().any(|e| e == name);
        let auto = p.autonomous.iter().any(|a| a == name);
        let done = nodes::edge_label(n) == Some(if edge { "true" } else { "false" })
            && (!auto || nodes::autonomy(n) == Some("true"));
        if !done {
            let r = ObjRef::cluster("v1", "Node", name);
            c.merge_patch(&r, nodes::mark_patch(edge, auto))
                .await
                .map_err(|e| {
                    fail(
                        Some(name),
                        "label",
                        e,
                        "cloud components deployed; earlier nodes labelled",
                    )
                })?;
        }
        let role = if edge { "edge" } else { "cloud" };
        let auto = if auto { ", autonomous" } else { "" };
        step(
            5,
            TOTAL,
            &format!("node {name}: {role}{auto}: {}", verb(c, !done, "labelled")),
        );
    }
    Ok(())
}

/// Step 6: one conversion Job per edge node, one node at a time.
async fn convert_nodes(c: &Cluster, p: &Plan, l: &lock::Lock, t: Duration) -> Result<(), Error> {
    let total = p.edge.len();
    for (k, name) in p.edge.iter().enumerate() {
        l.renew(c).await?;
        let job = p.node_job(&template::NODE_CONVERT_JOB, name)?;
        step(
            6,
            TOTAL,
            &format!("node {name} ({}/{total}): conversion Job started", k + 1),
        );
        jobs::run(c, &job, l, t).await.map_err(|cause| Error::Step {
            node: Some(name.clone()),
            step: "convert job".into(),
            cause,
            state: format!(
                "labelled edge; kubelet may be on its original or the hub's kubeconfig; {k} of {total} edge node(s) converted before it; rerun convert to resume, or revert"
            ),
        })?;
        let done = verb(c, true, "converted");
        step(
            6,
            TOTAL,
            &format!("node {name} ({}/{total}): {done}", k + 1),
        );
    }
    Ok(())
}

fn fail(node: Option<&str>, step: &str, e: Error, state: &str) -> Error {
    Error::Step {
        node: node.map(String::from),
        step: step.into(),
        cause: e.to_string(),
        state: state.into(),
    }
}
