//! The hub server (`--port`, 10267): `/v1/healthz`, `/v1/readyz`, `/metrics`.

use std::sync::Arc;

use http::{header, Method, Response};
use hyper::body::Incoming;
use hyper::Request;

use super::metrics::Metrics;
use super::upstream::Pool;
use crate::net::http::{full, Body, ConnInfo};

/// State the hub server reports on.
pub struct HubServer {
    pub pool: Arc<Pool>,
    pub metrics: Arc<Metrics>,
}

impl HubServer {
    /// Answers one request.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        _conn: ConnInfo,
    ) -> Response<Body> {
        let text = |code: u16, body: String| {
            Response::builder()
                .status(code)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(full(body))
                .expect("valid response")
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(405, "only GET is served here\n".into());
        }
        match req.uri().path() {
            "/v1/healthz" => text(200, "OK".into()),
            "/v1/readyz" => text(200, "OK".into()),
            "/metrics" => Response::builder()
                .header(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )
                .body(full(self.metrics.render(&self.pool.snapshot())))
                .expect("valid response"),
            other => text(
                404,
                format!("{other} not found; try /v1/healthz, /v1/readyz or /metrics\n"),
            ),
        }
    }
}
