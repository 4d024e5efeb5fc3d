//! The meta HTTP server of the tunnel server and agent: `/healthz`, `/metrics`, and whatever
//! extra JSON pages the caller adds (the server's `/v1/agents`).

use std::sync::Arc;
use std::time::Duration;

use hyper::{Response, StatusCode};
use smol::net::TcpListener;

use crate::net::http::{self, Body};
use crate::net::shutdown::Shutdown;

/// A page: content type and body, built per request.
pub type Page = Arc<dyn Fn() -> (&'static str, String) + Send + Sync>;

/// Serves `pages` (path → page) plus `/healthz` until `shutdown`.
pub async fn serve(listener: TcpListener, pages: Vec<(&'static str, Page)>, shutdown: Shutdown) {
    let pages = Arc::new(pages);
    http::serve(
        listener,
        None,
        shutdown,
        Duration::from_secs(1),
        move |req, _info| {
            let pages = pages.clone();
            async move { answer(req.uri().path(), &pages) }
        },
    )
    .await;
}

fn answer(path: &str, pages: &[(&'static str, Page)]) -> Response<Body> {
    if path == "/healthz" {
        return reply(StatusCode::OK, "text/plain", "ok".to_string());
    }
    match pages.iter().find(|(p, _)| *p == path) {
        Some((_, page)) => {
            let (ctype, body) = page();
            reply(StatusCode::OK, ctype, body)
        }
        None => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    }
}

fn reply(status: StatusCode, ctype: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(http::full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(ctype),
    );
    r
}

/// The Prometheus text content type.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4";
