//! The GC's requests: one GET to a healthy upstream with the hub's identity, a timeout, and a
//! bounded body; and the page loop of a LIST.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, Limited};
use smol::future::FutureExt;

use super::plan::{list_url, Failure};
use crate::hub::upstream::{Ident, Pool};
use crate::k8s::watch::MAX_FRAME_LEN;
use crate::store::ViewKey;

/// User-Agent of GC requests.
const USER_AGENT: &str = concat!("yurthub/", env!("CARGO_PKG_VERSION"), " (cache gc)");

/// A whole answer.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// GETs `path_and_query` from a healthy upstream. A transport error marks that server
/// unhealthy (as the proxy does); a timeout does not (the health probe decides).
pub async fn get(
    pool: &Pool,
    path_and_query: &str,
    accept: &str,
    timeout: Duration,
) -> Result<Reply, Failure> {
    let exchange = exchange(pool, path_and_query, accept);
    exchange
        .or(async {
            smol::Timer::after(timeout).await;
            Err(Failure::Timeout)
        })
        .await
}

async fn exchange(pool: &Pool, path_and_query: &str, accept: &str) -> Result<Reply, Failure> {
    let up = pool
        .pick(None)
        .ok_or_else(|| Failure::Transport("no healthy apiserver".into()))?;
    let mut req = Request::get(path_and_query)
        .header(header::HOST, up.addr.authority())
        .header(header::ACCEPT, accept)
        .header(header::USER_AGENT, USER_AGENT);
    if let Some(b) = pool.bearer() {
        req = req.header(header::AUTHORIZATION, b.clone());
    }
    let req = req
        .body(crate::net::http::empty())
        .map_err(|e| Failure::Undecodable(format!("request: {e}")))?;
    let (resp, sender) = match pool.send(&up, Ident::Hub, req).await {
        Ok(r) => r,
        Err(e) => {
            pool.mark_failed(&up, &e.to_string());
            return Err(Failure::Transport(e.to_string()));
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = Limited::new(resp.into_body(), MAX_FRAME_LEN)
        .collect()
        .await
        .map_err(|e| Failure::Undecodable(format!("body: {e}")))?
        .to_bytes();
    pool.put_back(&up, Ident::Hub, sender);
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

/// How a paged LIST ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Listed {
    /// Every page was read.
    Complete,
    /// The first page answered 404: the collection does not exist upstream.
    NotFound,
}

/// Lists the view's collection page by page; `page` reads each 200 body and returns its
/// `continue` token. Any other answer (410 on a continue, 5xx, ...) fails the whole list.
pub async fn list(
    pool: &Pool,
    view: &ViewKey,
    accept: &str,
    timeout: Duration,
    mut page: impl FnMut(&Reply) -> Result<String, Failure>,
) -> Result<Listed, Failure> {
    let mut token = String::new();
    let mut first = true;
    loop {
        let reply = get(pool, &list_url(view, &token), accept, timeout).await?;
        match reply.status {
            404 if first => return Ok(Listed::NotFound),
            200 => {}
            code => return Err(Failure::Status(code)),
        }
        token = page(&reply)?;
        if token.is_empty() {
            return Ok(Listed::Complete);
        }
        first = false;
    }
}
