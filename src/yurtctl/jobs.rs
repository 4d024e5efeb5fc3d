//! Per-node Jobs (`node convert` / `node revert` on the node): create one, wait for it to
//! finish, and tell complete from failed from still running.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::cluster::{Cluster, DryRun, ObjRef};
use super::lock::Lock;

/// How often the lock is renewed while waiting (well inside its 60 s lease).
const RENEW_EVERY: Duration = Duration::from_secs(15);

/// Where a Job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Running,
    Complete,
    Failed,
}

fn condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

/// The state of a Job object.
pub fn state(job: &Value) -> JobState {
    if condition(job, "Complete") || job["status"]["succeeded"].as_i64().unwrap_or(0) >= 1 {
        JobState::Complete
    } else if condition(job, "Failed") || job["status"]["failed"].as_i64().unwrap_or(0) >= 1 {
        JobState::Failed
    } else {
        JobState::Running
    }
}

/// Runs `job` to completion: reuses a complete one, replaces a failed one, waits up to
/// `timeout`, renewing `lock` meanwhile. Returns a human cause on failure.
pub async fn run(c: &Cluster, job: &Value, lock: &Lock, timeout: Duration) -> Result<(), String> {
    let r = ObjRef::of(job).map_err(|e| e.to_string())?;
    match c.get(&r).await.map_err(|e| e.to_string())? {
        Some(cur) if state(&cur) == JobState::Complete => return Ok(()),
        Some(cur) if state(&cur) == JobState::Failed => {
            println!("  {r}: failed before; replacing it");
            c.delete(&r).await.map_err(|e| e.to_string())?;
            c.create(job).await.map_err(|e| e.to_string())?;
        }
        Some(_) => {}
        None => {
            c.create(job).await.map_err(|e| e.to_string())?;
        }
    }
    if c.dry_run != DryRun::None {
        return Ok(());
    }
    wait(c, &r, lock, timeout).await
}

async fn wait(c: &Cluster, r: &ObjRef, lock: &Lock, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut renewed = Instant::now();
    loop {
        if renewed.elapsed() >= RENEW_EVERY {
            lock.renew(c)
                .await
                .map_err(|e| format!("renewing the lock: {e}"))?;
            renewed = Instant::now();
        }
        let cur = c.get(r).await.map_err(|e| e.to_string())?;
        match cur.as_ref().map(state) {
            Some(JobState::Complete) => return Ok(()),
            Some(JobState::Failed) => {
                return Err(format!(
                    "{r} failed (see: kubectl -n kube-system logs job/{})",
                    r.name
                ))
            }
            None => return Err(format!("{r} disappeared")),
            Some(JobState::Running) => {}
        }
        if Instant::now() >= deadline {
            return Err(format!("{r} not complete after {}s", timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
