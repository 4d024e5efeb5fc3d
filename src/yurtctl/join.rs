//! `yurtctl join` / `yurtctl reset`, run on one node of an already converted cluster: join adds
//! the node to the plan's record, labels it edge and converts it in place (no Job); reset
//! reverts it in place first, then removes its label and its entry in the record.

use serde_json::{json, Value};

use super::cluster::{Cluster, ObjRef};
use super::convert::{recorded, TUNNEL_CA};
use super::error::Error;
use super::node::{self, ConvertOptions};
use super::plan::{Plan, HUB_CFG};
use super::{lock, nodes, template};

fn record_ref() -> ObjRef {
    ObjRef::system("v1", "ConfigMap", HUB_CFG)
}

/// The record patch for new edge and autonomous lists.
fn record_patch(p: &Plan) -> Value {
    json!({"data": {"edgeNodes": p.edge.join(","), "autonomousNodes": p.autonomous.join(",")}})
}

async fn prepare(c: &Cluster, name: &str) -> Result<(Plan, Option<Value>), Error> {
    let p = recorded(c).await?.ok_or_else(|| {
        Error::Preflight(format!(
            "cluster not converted (no kube-system/{HUB_CFG}); run `yurtctl convert` first"
        ))
    })?;
    let n = c.get(&ObjRef::cluster("v1", "Node", name)).await?;
    if p.cloud.iter().any(|x| x == name) {
        return Err(Error::Preflight(format!(
            "node {name} is a cloud node; only edge nodes join or reset"
        )));
    }
    Ok((p, n))
}

/// Joins node `o.node_name` as an edge node (autonomous if asked) and converts it in place.
pub async fn join(c: &Cluster, mut o: ConvertOptions, autonomous: bool) -> Result<(), Error> {
    let name = o.node_name.clone();
    let (mut p, n) = prepare(c, &name).await?;
    let n = n.ok_or_else(|| {
        Error::Preflight(format!(
            "node {name} is not in the cluster; join it to Kubernetes first"
        ))
    })?;
    if nodes::edge_label(&n) == Some("false") {
        return Err(Error::Preflight(format!(
            "node {name} is labelled cloud; reset it first"
        )));
    }
    let ca_ref = ObjRef::system("v1", "ConfigMap", TUNNEL_CA);
    let ca = c
        .get(&ca_ref)
        .await?
        .and_then(|cm| cm["data"]["ca.crt"].as_str().map(|s| s.as_bytes().to_vec()))
        .ok_or_else(|| {
            Error::Preflight(format!(
                "{ca_ref} is missing: the tunnel CA comes from it; rerun `yurtctl convert`"
            ))
        })?;
    if nodes::internal_ips(&n).is_empty() {
        return Err(Error::Preflight(format!(
            "node {name} reports no InternalIP; the tunnel routes kube-apiserver's CONNECTs by it"
        )));
    }
    let held = lock::acquire(c).await?;
    let result = async {
        if !p.edge.contains(&name) {
            p.edge.push(name.clone());
        }
        if autonomous && !p.autonomous.contains(&name) {
            p.autonomous.push(name.clone());
        }
        c.merge_patch(&record_ref(), record_patch(&p)).await?;
        println!("[1/3] kube-system/{HUB_CFG}: {name} recorded as an edge node");
        c.merge_patch(
            &ObjRef::cluster("v1", "Node", &name),
            nodes::mark_patch(true, autonomous),
        )
        .await?;
        println!(
            "[2/3] node {name}: labelled edge{}",
            if autonomous { ", autonomous" } else { "" }
        );
        o.image = p.image.clone();
        o.tunnel_server_address = p.tunnel_server_address.clone();
        o.tunnel_ca_pem = ca;
        o.node_ip = nodes::internal_ips(&n).join(",");
        node::convert(&o).map_err(|e| {
            step_err(
                &name,
                "node convert",
                e,
                "recorded and labelled edge; rerun join or reset",
            )
        })?;
        println!("[3/3] node {name}: converted");
        Ok(())
    }
    .await;
    let released = held.release(c).await;
    result.and(released)
}

/// Reverts node `name` in place, then removes its label and its entry in the record.
pub async fn reset(
    c: &Cluster,
    name: &str,
    root: &std::path::Path,
    restart: bool,
) -> Result<(), Error> {
    let (mut p, n) = prepare(c, name).await?;
    let held = lock::acquire(c).await?;
    let result = async {
        node::revert(root, restart).map_err(|e| {
            step_err(
                name,
                "node revert",
                e,
                "still recorded and labelled edge; rerun reset",
            )
        })?;
        println!("[1/3] node {name}: reverted");
        if let Some(patch) = n.as_ref().and_then(nodes::unmark_patch) {
            c.merge_patch(&ObjRef::cluster("v1", "Node", name), patch)
                .await?;
        }
        println!("[2/3] node {name}: unlabelled");
        p.edge.retain(|x| x != name);
        p.autonomous.retain(|x| x != name);
        c.merge_patch(&record_ref(), record_patch(&p)).await?;
        let job = p.node_job(&template::NODE_CONVERT_JOB, name)?;
        c.delete(&ObjRef::of(&job)?).await?;
        println!("[3/3] kube-system/{HUB_CFG}: {name} removed (and its conversion Job, if any)");
        Ok(())
    }
    .await;
    let released = held.release(c).await;
    result.and(released)
}

fn step_err(node: &str, step: &str, e: Error, state: &str) -> Error {
    Error::Step {
        node: Some(node.to_string()),
        step: step.into(),
        cause: e.to_string(),
        state: state.into(),
    }
}
