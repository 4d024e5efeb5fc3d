//! Active health probes: each server's `/readyz` on every heartbeat interval, with the hub's identity.

use std::sync::Arc;

use http::{header, Request};
use smol::future::FutureExt;

use super::config::Heartbeat;
use super::upstream::{Ident, Pool, Upstream};
use crate::net::shutdown::Shutdown;

/// Probes every server until shutdown. The first round runs at once.
pub async fn run(pool: Arc<Pool>, hb: Heartbeat, shutdown: Shutdown) {
    let tasks: Vec<_> = pool
        .servers()
        .iter()
        .cloned()
        .map(|up| crate::net::rt::spawn(probe_loop(pool.clone(), up, hb, shutdown.clone())))
        .collect();
    for t in tasks {
        t.await;
    }
}

async fn probe_loop(pool: Arc<Pool>, up: Arc<Upstream>, hb: Heartbeat, shutdown: Shutdown) {
    loop {
        let mut last_err = String::new();
        let mut ok = false;
        for _ in 0..hb.failed_retry {
            match probe_once(&pool, &up, hb).await {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => last_err = e,
            }
            if shutdown.is_fired() {
                return;
            }
        }
        if ok {
            pool.mark_probe_ok(&up, hb.healthy_threshold);
        } else {
            pool.mark_failed(&up, &format!("health probe failed: {last_err}"));
        }
        let stopped = async {
            shutdown.wait().await;
            true
        }
        .or(async {
            smol::Timer::after(hb.interval).await;
            false
        })
        .await;
        if stopped {
            return;
        }
    }
}

/// One probe on a fresh connection: any answer below 500 means the server is up.
async fn probe_once(pool: &Pool, up: &Upstream, hb: Heartbeat) -> Result<(), String> {
    let attempt = async {
        let mut sender = pool
            .connect(up, Ident::Hub)
            .await
            .map_err(|e| e.to_string())?;
        let mut req = Request::get("/readyz").header(header::HOST, up.addr.authority());
        if let Some(b) = pool.bearer() {
            req = req.header(header::AUTHORIZATION, b.clone());
        }
        let req = req
            .body(crate::net::http::empty())
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            s if s < 500 => Ok(()),
            s => Err(format!("/readyz answered {s}")),
        }
    };
    attempt
        .or(async {
            smol::Timer::after(hb.timeout).await;
            Err(format!("no answer within {}s", hb.timeout.as_secs()))
        })
        .await
}
