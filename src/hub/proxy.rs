//! The proxy path: classify a request, pick a healthy upstream, forward it unchanged (but for
//! hop-by-hop headers and the hub's identity), and stream the answer back.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::body::{ProxyBody, Return};
use super::cache::local::{takes_offline_write, Offline};
use super::cache::{nonresource, tee::TeeBody, token, Cache, Target};
use super::metrics::{Metrics, Series};
use super::upgrade;
use super::upstream::{Ident, Pool, Upstream};
use crate::k8s::request_info::{self, RequestInfo};
use crate::k8s::status::{self, Reason};
use crate::net::http::{full, Body, ConnInfo};

/// The proxy's shared state.
pub struct Proxy {
    pub pool: Arc<Pool>,
    pub metrics: Arc<Metrics>,
    /// The cache, when its store opened.
    pub cache: Option<Arc<Cache>>,
}

/// What the proxy knows of a request besides its bytes.
struct Ctx {
    info: RequestInfo,
    component: String,
    series: Arc<Series>,
    target: Option<Target>,
    /// A ServiceAccount TokenRequest of a cached component: its answer is kept for offline use.
    token: bool,
    /// `/version` or discovery GET of a cached component: its answer is kept per Accept.
    nonresource: Option<String>,
}

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

impl Proxy {
    /// Handles one client request end to end.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        _conn: ConnInfo,
    ) -> Response<Body> {
        let _in_flight = self.metrics.in_flight();
        let ua = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let raw_component = request_info::component(ua);
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let info = match request_info::parse(req.method().as_str(), path) {
            Ok(info) => info,
            Err(e) => {
                let code = e.http_status();
                let reason = if code == 405 {
                    Reason::MethodNotAllowed
                } else {
                    Reason::BadRequest
                };
                self.metrics
                    .series(&raw_component, "invalid", "", "")
                    .request(code);
                return status_response(code, reason, &e.to_string());
            }
        };
        let resource = if info.is_resource {
            info.resource.as_str()
        } else {
            "non-resource"
        };
        let series =
            self.metrics
                .series(&raw_component, info.verb_str(), resource, &info.subresource);
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let target = self
            .cache
            .as_ref()
            .and_then(|c| c.target(&info, &raw_component, accept))
            .filter(|_| req.method() == Method::GET);
        let token = self
            .cache
            .as_ref()
            .is_some_and(|c| c.agents.includes(&raw_component) && token::is_token_request(&info));
        let nonresource = self
            .cache
            .as_ref()
            .filter(|c| c.agents.includes(&raw_component) && req.method() == Method::GET)
            .filter(|_| nonresource::is_cached_path(&info))
            .map(|_| accept.unwrap_or_default().to_string());
        let ctx = Ctx {
            info,
            component: raw_component,
            series,
            target,
            token,
            nonresource,
        };
        let resp = self.forward(req, &ctx).await;
        ctx.series.request(resp.status().as_u16());
        resp
    }

    /// Answers from the cache (no upstream, or a read failed to reach one); `None`: cannot.
    async fn offline(&self, ctx: &Ctx, headers: &HeaderMap, body: Bytes) -> Option<Response<Body>> {
        let cache = self.cache.clone()?;
        let off = Offline {
            cache,
            pool: self.pool.clone(),
            info: ctx.info.clone(),
            component: ctx.component.clone(),
            headers: headers.clone(),
            body,
        };
        off.answer(ctx.target.clone()).await
    }

    async fn forward(&self, mut req: Request<Incoming>, ctx: &Ctx) -> Response<Body> {
        let Some(mut up) = self.pool.pick(None) else {
            let headers = req.headers().clone();
            let body = match http_body_util::Limited::new(req.into_body(), MAX_OFFLINE_BODY)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(_) => Bytes::new(),
            };
            return match self.offline(ctx, &headers, body).await {
                Some(r) => r,
                None => self.no_upstream(),
            };
        };
        let ident = if req.headers().contains_key(header::AUTHORIZATION) {
            Ident::Anonymous
        } else {
            Ident::Hub
        };
        let client_upgrade = is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let retriable =
            matches!(parts.method, Method::GET | Method::HEAD) && client_upgrade.is_none();
        // A write the cache answers offline (kubelet's lease and status updates, events, token
        // requests) keeps its small body, so a cloud found gone by this very request (a hub
        // just restarted offline) still gets it accepted instead of a 503.
        let offline_write = !retriable
            && client_upgrade.is_none()
            && self
                .cache
                .as_ref()
                .is_some_and(|c| takes_offline_write(c, &ctx.info, &ctx.component));
        let (mut body, kept) = if offline_write {
            match http_body_util::Limited::new(body, MAX_OFFLINE_BODY)
                .collect()
                .await
            {
                Ok(b) => {
                    let b = b.to_bytes();
                    (Some(full(b.clone())), Some(b))
                }
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    let msg = format!("request body over {MAX_OFFLINE_BODY} bytes");
                    return status_response(413, Reason::RequestEntityTooLarge, &msg);
                }
                Err(e) => {
                    let msg = format!("reading the request body: {e}");
                    return status_response(400, Reason::BadRequest, &msg);
                }
            }
        } else {
            (Some(body.map_err(|e| e.into()).boxed_unsync()), None)
        };
        loop {
            // Only a request that may go to another server needs its headers again.
            let headers = if retriable || kept.is_some() {
                parts.headers.clone()
            } else {
                std::mem::take(&mut parts.headers)
            };
            let out = self.upstream_request(
                &parts,
                headers,
                &up,
                ident,
                body.take(),
                ctx.target.is_some() || ctx.token || ctx.nonresource.is_some(),
            );
            let start = Instant::now();
            match self.pool.send(&up, ident, out).await {
                Ok((resp, sender)) => {
                    ctx.series.upstream_latency(start.elapsed());
                    if let Some(c) = &self.cache {
                        c.offline_log.online();
                    }
                    let ret = Return {
                        pool: self.pool.clone(),
                        upstream: up,
                        ident,
                        sender,
                    };
                    return self.respond(resp, ret, client_upgrade, ctx);
                }
                Err(e) => {
                    log::warn!(
                        "{} {}: upstream {}: {e}",
                        parts.method,
                        parts.uri,
                        up.addr.url
                    );
                    self.metrics.upstream_error(&up.addr.url, e.reason());
                    self.pool.mark_failed(&up, &e.to_string());
                    // A request without a body can go to another server; others must not be replayed.
                    match self.pool.pick(Some(&up)).filter(|_| retriable) {
                        Some(next) => up = next,
                        None => {
                            if retriable || kept.is_some() {
                                let body = kept.clone().unwrap_or_default();
                                if let Some(r) = self.offline(ctx, &parts.headers, body).await {
                                    return r;
                                }
                            }
                            let msg = format!(
                                "the hub could not reach the apiserver {}: {e}",
                                up.addr.url
                            );
                            return status_response(503, Reason::ServiceUnavailable, &msg);
                        }
                    }
                }
            }
        }
    }

    /// The upstream request: same method, path, query and end-to-end headers; Host and identity set.
    /// `headers` are the client's (moved in when the request cannot be retried).
    fn upstream_request(
        &self,
        parts: &http::request::Parts,
        mut headers: HeaderMap,
        up: &Upstream,
        ident: Ident,
        body: Option<Body>,
        cached: bool,
    ) -> Request<Body> {
        let mut req = Request::new(body.unwrap_or_else(crate::net::http::empty));
        *req.method_mut() = parts.method.clone();
        let mut uri = http::uri::Parts::default();
        uri.path_and_query = Some(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
        );
        if let Ok(uri) = http::Uri::from_parts(uri) {
            *req.uri_mut() = uri;
        }
        let upgrade = is_upgrade(&headers);
        strip_hop_by_hop(&mut headers, upgrade);
        if cached {
            // Identity-encoded answers can be decoded as they stream by.
            headers.remove(header::ACCEPT_ENCODING);
        }
        if let Some(host) = &up.host {
            headers.insert(header::HOST, host.clone());
        }
        if ident == Ident::Hub {
            if let Some(bearer) = self.pool.bearer() {
                headers.insert(header::AUTHORIZATION, bearer.clone());
            }
        }
        *req.headers_mut() = headers;
        req
    }

    fn respond(
        &self,
        mut resp: Response<Incoming>,
        ret: Return,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
        ctx: &Ctx,
    ) -> Response<Body> {
        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        if switching {
            if let Some(client) = client_upgrade {
                let upstream = hyper::upgrade::on(&mut resp);
                let series = ctx.series.clone();
                crate::net::rt::spawn(async move {
                    let _keep = ret;
                    match upgrade::splice(client, upstream).await {
                        Ok((up_bytes, down_bytes)) => series.traffic(down_bytes, up_bytes),
                        Err(e) => log::debug!("upgraded stream ended: {e}"),
                    }
                })
                .detach();
            }
            return client_response(resp.map(|_| crate::net::http::empty()), true);
        }
        let tee = self.tee_to(ctx, &resp);
        let resp = resp.map(|inner| {
            let body = ProxyBody::new(inner, ret, self.metrics.clone(), ctx.series.clone());
            match tee {
                Some((cache, tx)) => TeeBody::new(
                    body.boxed_unsync(),
                    tx,
                    cache.metrics.clone(),
                    &ctx.component,
                )
                .boxed_unsync(),
                None => body.boxed_unsync(),
            }
        });
        client_response(resp, false)
    }

    /// A writer for a cacheable answer (see [`super::cache::tee::start`]).
    fn tee_to(
        &self,
        ctx: &Ctx,
        resp: &Response<Incoming>,
    ) -> Option<(Arc<Cache>, super::cache::tee::CopyTx)> {
        let cache = self.cache.as_ref()?;
        let (status, headers) = (resp.status(), resp.headers());
        let tx = match &ctx.target {
            Some(target) => super::cache::tee::start(cache, target, status, headers)?,
            None if ctx.token => token::start(cache, &ctx.info, &ctx.component, status, headers)?,
            None => match &ctx.nonresource {
                Some(accept) => {
                    nonresource::start(cache, &ctx.info, &ctx.component, accept, status, headers)?
                }
                None => return None,
            },
        };
        Some((cache.clone(), tx))
    }

    fn no_upstream(&self) -> Response<Body> {
        let states: Vec<String> = self.pool.servers().iter().map(|s| s.describe()).collect();
        let msg = format!("no healthy apiserver to forward to: {}", states.join("; "));
        status_response(503, Reason::ServiceUnavailable, &msg)
    }
}

/// Whether the request or response asks to switch protocols.
fn is_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(header::UPGRADE)
        && h.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
}

/// The upstream's answer as the client gets it: HTTP/1.1, the same status and end-to-end headers
/// (the upstream's map, stripped in place), none of hyper's per-connection extensions.
fn client_response(resp: Response<Body>, switching: bool) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    parts.version = http::Version::HTTP_11;
    parts.extensions = http::Extensions::new();
    strip_hop_by_hop(&mut parts.headers, switching);
    Response::from_parts(parts, body)
}

/// Removes hop-by-hop headers (and those named in Connection); keeps Connection/Upgrade when the
/// exchange upgrades.
fn strip_hop_by_hop(h: &mut HeaderMap, upgrade: bool) {
    // Most messages carry none of them: look once before removing anything.
    let any = h.keys().any(|n| is_hop_by_hop(n) || n == header::UPGRADE);
    if any {
        let named: Vec<HeaderName> = h
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .filter(|n| !(upgrade && n == header::UPGRADE))
            .collect();
        for name in HOP_BY_HOP {
            h.remove(name);
        }
        for name in &named {
            h.remove(name);
        }
        if !upgrade {
            h.remove(header::UPGRADE);
        }
    }
    if upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
}

/// Whether `n` is one of [`HOP_BY_HOP`] (a `match` on the name: runs for every header of every
/// message, where a search of the list compared strings one by one).
fn is_hop_by_hop(n: &HeaderName) -> bool {
    let hop = matches!(
        n.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
    );
    debug_assert_eq!(hop, HOP_BY_HOP.contains(&n.as_str()));
    hop
}

/// Largest request body read for an offline answer (an event or a lease).
const MAX_OFFLINE_BODY: usize = 3 << 20;

/// A Kubernetes Status answer.
pub fn status_response(code: u16, reason: Reason, message: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(status::failure(code, reason, message)))
        .expect("valid status response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_names_are_exactly_the_list() {
        for name in HOP_BY_HOP {
            assert!(is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "content-type",
            "upgrade",
            "host",
            "authorization",
            "connections",
            "t",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Trace"),
        );
        h.insert("x-trace", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let mut out = h.clone();
        strip_hop_by_hop(&mut out, false);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out.contains_key(header::ACCEPT));

        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        h.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        assert!(is_upgrade(&h));
        let mut out = h.clone();
        strip_hop_by_hop(&mut out, true);
        assert_eq!(
            out.get(header::UPGRADE).map(|v| v.as_bytes()),
            Some(&b"SPDY/3.1"[..])
        );
        assert_eq!(
            out.get(header::CONNECTION).map(|v| v.as_bytes()),
            Some(&b"Upgrade"[..])
        );
        assert!(out.contains_key("x-stream-protocol-version"));
    }
}
