//! The hub server (`--port`, 10267): `/v1/healthz`, `/v1/readyz`, `/metrics`, `/v1/cache`.

use std::sync::Arc;

use http::{header, Method, Response};
use hyper::body::Incoming;
use hyper::Request;

use super::cache::Cache;
use super::metrics::Metrics;
use super::upstream::Pool;
use crate::net::http::{full, Body, ConnInfo};

/// State the hub server reports on.
pub struct HubServer {
    pub pool: Arc<Pool>,
    pub metrics: Arc<Metrics>,
    pub cache: Option<Arc<Cache>>,
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
                .body(full(self.metrics_text()))
                .expect("valid response"),
            "/v1/cache" => self.cache_views().await,
            other => text(
                404,
                format!("{other} not found; try /v1/healthz, /v1/readyz or /metrics\n"),
            ),
        }
    }
}

impl HubServer {
    fn metrics_text(&self) -> String {
        let mut t = self.metrics.render(&self.pool.snapshot());
        if let Some(c) = &self.cache {
            t.push_str(&c.metrics.render());
        }
        t
    }

    /// `GET /v1/cache`: every view as JSON.
    async fn cache_views(&self) -> Response<Body> {
        let json = |code: u16, body: Vec<u8>| {
            Response::builder()
                .status(code)
                .header(header::CONTENT_TYPE, "application/json")
                .body(full(body))
                .expect("valid response")
        };
        let Some(cache) = self.cache.clone() else {
            return json(404, br#"{"error":"the hub runs without a cache"}"#.to_vec());
        };
        match smol::unblock(move || super::cache::inspect::views_json(&cache.store)).await {
            Ok(body) => json(200, body),
            Err(e) => json(
                500,
                serde_json::to_vec(&serde_json::json!({"error": e.to_string()}))
                    .unwrap_or_default(),
            ),
        }
    }
}
