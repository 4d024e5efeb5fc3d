//! HTTP handling: request log, authentication, routing, and the REST verbs on resource paths.

use super::store::Store;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::Value;

use super::errors::DoubleError;
use super::list::{self, Query};
use super::negotiate::{negotiate_with, Negotiated};
use super::patch::PatchKind;
use super::path::{parse_query, route, ResPath, Route};
use super::render;
use super::resources;
use super::watch::{self, WatchPlan};
use super::{discovery, objects, ApiDouble, LoggedRequest};
use crate::net::http::{Body, ConnInfo};
use crate::net::shutdown::Shutdown;

/// Largest request body read (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn pretty_for(ua: &str, q: &Query) -> bool {
    q.pretty || ua.starts_with("curl") || ua.starts_with("Wget")
}

/// Serves one request.
pub async fn handle(
    d: ApiDouble,
    req: Request<Incoming>,
    info: ConnInfo,
    shutdown: Shutdown,
) -> Response<Body> {
    let ua = header(&req, "user-agent").unwrap_or_default();
    let accept = header(&req, "accept").unwrap_or_default();
    let authorization = header(&req, "authorization");
    let path = req.uri().path().to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_string());
    d.log(LoggedRequest {
        method: req.method().to_string(),
        path_and_query: pq,
        user_agent: ua.clone(),
        accept: accept.clone(),
        authorization: authorization.clone(),
        client_cert: info.client_cert,
    });
    let settings = d.settings();
    let r = route(&path);
    if r == Route::Health {
        return render::respond(200, "text/plain; charset=utf-8", b"ok".to_vec());
    }
    if !settings.delay.is_zero() {
        smol::Timer::after(settings.delay).await;
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    let neg = negotiate_with(
        &accept,
        matches!(r, Route::ApiRoot | Route::ApisRoot),
        settings.protobuf,
    )
    .unwrap_or(Negotiated::JSON);
    let pretty = query
        .iter()
        .any(|(k, v)| k == "pretty" && v != "false" && v != "0")
        || ua.starts_with("curl")
        || ua.starts_with("Wget");
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| !t.trim().is_empty());
    if settings.require_auth && r != Route::Version && !bearer && !info.client_cert {
        return render::error(&DoubleError::Unauthorized, neg, pretty);
    }
    let result = match r {
        Route::Version => Ok(render::respond(
            200,
            "application/json",
            render::body_json(&discovery::version(), pretty),
        )),
        Route::Resource(p) => {
            rest(
                &d,
                req,
                p,
                &query,
                &ua,
                shutdown,
                settings.bookmark_interval,
            )
            .await
        }
        Route::Unknown => {
            log::warn!("yurt api double: no handler for {} {path}", req.method());
            Err(DoubleError::UnknownPath(path.clone()))
        }
        other => discovery::answer(
            &other,
            &accept,
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or(""),
            pretty,
        ),
    };
    result.unwrap_or_else(|e| render::error(&e, neg, pretty))
}

async fn read_body(req: Request<Incoming>) -> Result<Option<Value>, DoubleError> {
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| DoubleError::TooLarge(format!("the request body could not be read: {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(None);
    }
    let media = ct.split(';').next().unwrap_or("").trim();
    match media {
        "application/vnd.kubernetes.protobuf" => Err(DoubleError::UnsupportedMediaType(
            "the yurt API double does not read protobuf request bodies yet; send application/json".into(),
        )),
        "application/yaml" => serde_yaml_ng::from_slice(&bytes).map(Some).map_err(|e| DoubleError::BadRequest(format!("the request body is not valid YAML: {e}"))),
        "" | "application/json" | "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/json-patch+json" => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| DoubleError::BadRequest(format!("the request body is not valid JSON: {e}")))
        }
        other => Err(DoubleError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other:?})"
        ))),
    }
}

/// A TokenRequest body: JSON (or YAML), or protobuf as kubelet sends it (the one protobuf body
/// the double reads: its fields are known, see `k8s::token`).
async fn read_token_body(req: Request<Incoming>) -> Result<Value, DoubleError> {
    let pb = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::k8s::meta::Encoding::from_content_type)
        == Some(crate::k8s::meta::Encoding::Protobuf);
    if !pb {
        return Ok(read_body(req).await?.unwrap_or(Value::Null));
    }
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| DoubleError::TooLarge(format!("the request body could not be read: {e}")))?
        .to_bytes();
    let tr =
        crate::k8s::token::decode(crate::k8s::meta::Encoding::Protobuf, &bytes).map_err(|e| {
            DoubleError::BadRequest(format!("the TokenRequest body is not valid protobuf: {e}"))
        })?;
    let mut spec = serde_json::json!({"audiences": tr.audiences});
    if let Some(s) = tr.expiration_seconds {
        spec["expirationSeconds"] = s.into();
    }
    if let Some(b) = tr.bound {
        spec["boundObjectRef"] = serde_json::json!({"kind": b.kind, "apiVersion": b.api_version, "name": b.name, "uid": b.uid});
    }
    Ok(serde_json::json!({"spec": spec}))
}

/// Runs a write on the live store, or on a throwaway copy for a dry run.
fn with_store<T>(d: &ApiDouble, dry: bool, f: impl FnOnce(&mut Store) -> T) -> T {
    if dry {
        let mut copy = d.store().dry_run_copy();
        f(&mut copy)
    } else {
        f(&mut d.store())
    }
}

fn not_allowed() -> DoubleError {
    DoubleError::MethodNotAllowed(
        "the server does not allow this method on the requested resource".into(),
    )
}

async fn rest(
    d: &ApiDouble,
    req: Request<Incoming>,
    p: ResPath,
    pairs: &[(String, String)],
    ua: &str,
    shutdown: Shutdown,
    bookmark_every: std::time::Duration,
) -> Result<Response<Body>, DoubleError> {
    let res = resources::get(p.res).ok_or_else(|| DoubleError::UnknownPath(String::new()))?;
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let neg = negotiate_with(&accept, false, d.settings().protobuf)?;
    let mut q = Query::parse(pairs)?;
    let pretty = pretty_for(ua, &q);
    let include = q.include();
    let method = req.method().clone();
    let is_watch = q.watch || p.watch_prefix;
    // `dryRun=All`: the write is validated and answered but never stored (or watched).
    let dry = pairs.iter().any(|(k, v)| k == "dryRun" && v == "All");
    match (method, p.name.clone(), p.sub.as_deref()) {
        (Method::GET, name, None) if is_watch => {
            if let Some(n) = name {
                let mut f = q.field.clone();
                f.0.push(super::selectors::FieldReq {
                    path: "metadata.name".into(),
                    value: n,
                    equal: true,
                });
                q.field = f;
            }
            let plan = WatchPlan {
                res: p.res,
                namespace: p.namespace.clone(),
                query: q,
                neg,
            };
            watch::serve(d.store_mutex(), plan, bookmark_every, shutdown)
        }
        (Method::GET, None, None) => {
            let page = list::list(&d.store(), p.res, p.namespace.as_deref(), &q)?;
            Ok(render::list(res, &page, neg, include, pretty))
        }
        (Method::GET, Some(_), None | Some("status")) => {
            let obj = objects_get(d, &p)?;
            Ok(render::object(res, &obj, neg, include, pretty, 200))
        }
        (Method::POST, None, None) => {
            let body = read_body(req)
                .await?
                .ok_or_else(|| DoubleError::BadRequest("the request body is empty".into()))?;
            let obj = with_store(d, dry, |st| objects::create(st, &p, body))?;
            Ok(render::object(res, &obj, neg, include, pretty, 201))
        }
        (Method::POST, Some(_), Some("token")) => {
            let body = read_token_body(req).await?;
            let tr = objects::token(&d.store(), &p, body)?;
            Ok(render::token(&tr, neg, pretty))
        }
        (Method::PUT, Some(_), None | Some("status")) => {
            let body = read_body(req)
                .await?
                .ok_or_else(|| DoubleError::BadRequest("the request body is empty".into()))?;
            let obj = with_store(d, dry, |st| objects::update(st, &p, body))?;
            Ok(render::object(res, &obj, neg, include, pretty, 200))
        }
        (Method::PATCH, Some(_), None | Some("status")) => {
            let ct = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let kind = PatchKind::from_content_type(&ct)?;
            let body = read_body(req)
                .await?
                .ok_or_else(|| DoubleError::BadRequest("the patch body is empty".into()))?;
            let obj = with_store(d, dry, |st| objects::patch(st, &p, &body, kind))?;
            Ok(render::object(res, &obj, neg, include, pretty, 200))
        }
        (Method::DELETE, Some(_), None) => {
            let opts = read_body(req).await?.unwrap_or(Value::Null);
            let pre = |k: &str| {
                opts.pointer(&format!("/preconditions/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            // DeleteOptions may carry the dry run in the body instead (kube-rs does).
            let dry = dry
                || opts
                    .get("dryRun")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "All"));
            let (uid, rv) = (pre("uid"), pre("resourceVersion"));
            let obj = with_store(d, dry, |st| {
                objects::delete(st, &p, uid.as_deref(), rv.as_deref())
            })?;
            Ok(render::object(res, &obj, neg, include, pretty, 200))
        }
        (Method::DELETE, None, None) => {
            let page = list::list(
                &d.store(),
                p.res,
                p.namespace.as_deref(),
                &Query {
                    label: q.label.clone(),
                    field: q.field.clone(),
                    ..Default::default()
                },
            )?;
            let mut st = d.store();
            let mut deleted = Vec::new();
            for o in &page.items {
                let name = super::meta::meta_str(o, "name").to_string();
                let ns = Some(super::meta::meta_str(o, "namespace").to_string())
                    .filter(|n| !n.is_empty());
                let one = ResPath {
                    namespace: ns,
                    name: Some(name),
                    ..p.clone()
                };
                deleted.push(objects::delete(&mut st, &one, None, None)?);
            }
            let page = list::Page {
                items: deleted,
                meta: list::ListMeta {
                    resource_version: st.rv().to_string(),
                    ..Default::default()
                },
            };
            Ok(render::list(res, &page, neg, include, pretty))
        }
        _ => Err(not_allowed()),
    }
}

fn objects_get(d: &ApiDouble, p: &ResPath) -> Result<Value, DoubleError> {
    let res = resources::get(p.res).ok_or_else(|| DoubleError::UnknownPath(String::new()))?;
    let name = p.name.as_deref().unwrap_or("");
    let key = super::store::key(p.namespace.as_deref().filter(|_| res.namespaced), name);
    d.store()
        .get(p.res, &key)
        .map(|o| (*o).clone())
        .ok_or_else(|| DoubleError::not_found(res, name))
}
