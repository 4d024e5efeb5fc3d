//! The conversion lock: Lease `kube-system/yurtctl-lock`. Held while convert or revert writes,
//! renewed between steps, released at the end (also on failure); a lease not renewed for its
//! duration is stale and taken over.

use k8s_openapi::chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::cluster::{Cluster, DryRun, ObjRef};
use super::error::Error;

/// The Lease's name in kube-system.
pub const LOCK_NAME: &str = "yurtctl-lock";
/// Seconds after the last renewal when a lock counts as stale.
pub const LOCK_SECONDS: i64 = 60;

/// A held lock.
#[derive(Debug, Clone)]
pub struct Lock {
    pub holder: String,
}

fn lease_ref() -> ObjRef {
    ObjRef::system("coordination.k8s.io/v1", "Lease", LOCK_NAME)
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn lease(holder: &str) -> Value {
    let t = now();
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LOCK_NAME, "namespace": "kube-system"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": LOCK_SECONDS,
                 "acquireTime": t, "renewTime": t}
    })
}

/// Seconds since the lease was last renewed (or acquired); `None` if it carries no time.
fn age(l: &Value) -> Option<i64> {
    let spec = &l["spec"];
    let t = spec["renewTime"]
        .as_str()
        .or(spec["acquireTime"].as_str())?;
    let at = DateTime::parse_from_rfc3339(t).ok()?;
    Some((Utc::now() - at.with_timezone(&Utc)).num_seconds())
}

/// Who this process is: `yurtctl@<host>/<pid>`.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    format!("yurtctl@{}/{}", host.trim(), std::process::id())
}

/// Takes the lock, recovering it when stale. Client dry-runs only check it.
pub async fn acquire(c: &Cluster) -> Result<Lock, Error> {
    let holder = identity();
    let Some(mut cur) = c.get(&lease_ref()).await? else {
        if !c.create(&lease(&holder)).await? {
            return Err(Error::Locked(format!(
                "kube-system/{LOCK_NAME} was taken just now by another yurtctl"
            )));
        }
        return Ok(Lock { holder });
    };
    let other = cur["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let duration = cur["spec"]["leaseDurationSeconds"]
        .as_i64()
        .unwrap_or(LOCK_SECONDS);
    match age(&cur) {
        Some(a) if a <= duration => Err(Error::Locked(format!(
            "another yurtctl ({other}) holds kube-system/{LOCK_NAME}, renewed {a}s ago; it goes stale after {duration}s"
        ))),
        a => {
            let ago = a.map(|a| format!("{a}s ago")).unwrap_or_else(|| "never".into());
            println!("lock: recovering stale kube-system/{LOCK_NAME} (held by {other}, renewed {ago})");
            let t = now();
            cur["spec"] = json!({"holderIdentity": holder, "leaseDurationSeconds": LOCK_SECONDS,
                                 "acquireTime": t, "renewTime": t});
            c.replace(&cur).await.map_err(|e| {
                Error::Locked(format!("could not take over the stale lock: {e}"))
            })?;
            Ok(Lock { holder })
        }
    }
}

impl Lock {
    /// Renews the lease (between steps). Dry runs hold no lease: nothing to renew.
    pub async fn renew(&self, c: &Cluster) -> Result<(), Error> {
        if c.dry_run != DryRun::None {
            return Ok(());
        }
        let patch = json!({"spec": {"renewTime": now(), "holderIdentity": self.holder}});
        c.merge_patch(&lease_ref(), patch).await
    }

    /// Deletes the lease if this process still holds it (dry runs created none).
    pub async fn release(&self, c: &Cluster) -> Result<(), Error> {
        if c.dry_run != DryRun::None {
            return Ok(());
        }
        match c.get(&lease_ref()).await? {
            Some(l) if l["spec"]["holderIdentity"] == self.holder.as_str() => {
                c.delete(&lease_ref()).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }
}
