//! `yurtctl revert`: convert in reverse. Edge nodes first (a Job per node puts kubelet back on its
//! own kubeconfig, removes the hub and its cache), then labels and annotations, then the cloud
//! components, and the plan's record (`yurt-hub-cfg`) last so an interrupted revert resumes.

use std::time::Duration;

use super::cluster::{Cluster, DryRun, ObjRef};
use super::convert::{recorded, step, verb};
use super::error::Error;
use super::plan::{Plan, HUB_CFG};
use super::{jobs, lock, nodes, template};

/// Runs the whole revert.
pub async fn run(c: &Cluster, timeout: Duration) -> Result<(), Error> {
    let Some(p) = recorded(c).await? else {
        let all = c.list("v1", "Node").await?;
        if let Some(n) = all.iter().find(|n| nodes::unmark_patch(n).is_some()) {
            return Err(Error::Preflight(format!(
                "node {} carries yurt labels but kube-system/{HUB_CFG} is missing: not converted by yurtctl; nothing changed",
                nodes::name(n)
            )));
        }
        println!("not converted (no kube-system/{HUB_CFG}); nothing to do");
        return Ok(());
    };
    let held = lock::acquire(c).await?;
    step(
        1,
        4,
        &format!(
            "lock kube-system/{} held by {}",
            lock::LOCK_NAME,
            held.holder
        ),
    );
    let result = steps(c, &p, &held, timeout).await;
    let released = held.release(c).await;
    result?;
    released?;
    let verb = if c.dry_run == DryRun::None {
        "reverted"
    } else {
        "dry run: would revert"
    };
    println!(
        "{verb}: {} edge node(s) back on their own kubeconfig",
        p.edge.len()
    );
    Ok(())
}

async fn steps(c: &Cluster, p: &Plan, l: &lock::Lock, t: Duration) -> Result<(), Error> {
    revert_nodes(c, p, l, t).await?;
    for n in c.list("v1", "Node").await? {
        let name = nodes::name(&n);
        let Some(patch) = nodes::unmark_patch(&n) else {
            continue;
        };
        c.merge_patch(&ObjRef::cluster("v1", "Node", name), patch)
            .await
            .map_err(|e| {
                fail(
                    Some(name),
                    "unlabel",
                    e,
                    "every edge node reverted; some labels remain",
                )
            })?;
        step(
            3,
            4,
            &format!("node {name}: {}", verb(c, true, "unlabelled")),
        );
    }
    l.renew(c).await?;
    let objs = p.cluster_objects(&super::certs::TunnelCerts::redacted())?;
    let (record, rest): (Vec<_>, Vec<_>) = objs
        .iter()
        .partition(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == HUB_CFG);
    for obj in rest.iter().rev().chain(record.iter()) {
        let r = ObjRef::of(obj)?;
        let existed = c.delete(&r).await.map_err(|e| {
            fail(
                None,
                "cloud components",
                e,
                "nodes reverted; cloud components partly deleted",
            )
        })?;
        step(4, 4, &format!("{r}: {}", verb(c, existed, "deleted")));
    }
    Ok(())
}

async fn revert_nodes(c: &Cluster, p: &Plan, l: &lock::Lock, t: Duration) -> Result<(), Error> {
    let present: Vec<String> = c
        .list("v1", "Node")
        .await?
        .iter()
        .map(|n| nodes::name(n).to_string())
        .collect();
    for (k, name) in p.edge.iter().enumerate() {
        l.renew(c).await?;
        if !present.contains(name) {
            step(
                2,
                4,
                &format!("node {name}: no longer in the cluster; skipped"),
            );
            continue;
        }
        let job = p.node_job(&template::NODE_REVERT_JOB, name)?;
        let state = "kubelet may be on the hub's kubeconfig still; rerun revert to resume";
        step(
            2,
            4,
            &format!(
                "node {name} ({}/{}): revert Job started",
                k + 1,
                p.edge.len()
            ),
        );
        jobs::run(c, &job, l, t)
            .await
            .map_err(|cause| Error::Step {
                node: Some(name.clone()),
                step: "revert job".into(),
                cause,
                state: state.into(),
            })?;
        for j in [&job, &p.node_job(&template::NODE_CONVERT_JOB, name)?] {
            let r = ObjRef::of(j)?;
            c.delete(&r)
                .await
                .map_err(|e| fail(Some(name), "job cleanup", e, "node reverted"))?;
        }
        step(
            2,
            4,
            &format!(
                "node {name} ({}/{}): {}",
                k + 1,
                p.edge.len(),
                verb(c, true, "reverted")
            ),
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
