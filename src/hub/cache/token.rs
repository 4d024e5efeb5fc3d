//! ServiceAccount TokenRequests (`POST …/serviceaccounts/<sa>/token`), which kubelet sends again
//! for every projected token volume after each restart (its token cache is in memory only).
//!
//! Online, the apiserver's 2xx answer is kept, as sent, per component, namespace and
//! [`TokenRequest::key`] (ServiceAccount, bound pod, audiences). Offline, the same request gets
//! that answer back while its token is still valid; else a clearly fake token: an unsigned JWT
//! (`alg: none`, issuer `yurthub-offline`) valid for [`FAKE_TTL`] at most, so kubelet asks again
//! soon and gets a real token once the cloud is back (DESIGN.md, "Offline semantics").

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::{HeaderMap, StatusCode};

use super::render::accepts;
use super::tee::CopyTx;
use super::Cache;
use crate::k8s::meta::Encoding as Wire;
use crate::k8s::request_info::{RequestInfo, Verb};
use crate::k8s::token::{self, TokenRequest};
use crate::store::{Encoding, Gvr, Item, ListMeta, Store, StoreError, ViewKey};

/// Longest lifetime of a fake token: kubelet refreshes a token within 20 % of its requested
/// lifetime of expiring, so a short one is replaced by a real token soon after the cloud is back.
pub const FAKE_TTL: i64 = 600;
/// The issuer a fake token names, so nobody mistakes it for the cluster's.
pub const FAKE_ISSUER: &str = "yurthub-offline";
/// Largest TokenRequest answer kept.
const MAX_ANSWER: usize = 64 << 10;

/// Where tokens are kept in the store (one object per key, in the namespace's own view).
fn gvr() -> Gvr {
    Gvr::new("authentication.k8s.io", "v1", "tokenrequests")
}

/// Whether a stored view holds kept tokens.
pub fn is_view(view: &ViewKey) -> bool {
    view.gvr == gvr()
}

fn view(component: &str, namespace: &str, key: &str) -> ViewKey {
    ViewKey {
        component: component.to_string(),
        gvr: gvr(),
        namespace: namespace.to_string(),
        name: key.to_string(),
        ..ViewKey::default()
    }
}

/// Whether the request asks for a ServiceAccount token.
pub fn is_token_request(info: &RequestInfo) -> bool {
    info.is_resource
        && info.verb == Verb::Create
        && info.group.is_empty()
        && info.resource == "serviceaccounts"
        && info.subresource == "token"
}

fn wire(e: Encoding) -> Wire {
    match e {
        Encoding::Json => Wire::Json,
        Encoding::Protobuf => Wire::Protobuf,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Starts keeping a TokenRequest answer (2xx, identity-encoded JSON or protobuf).
pub fn start(
    cache: &Arc<Cache>,
    info: &RequestInfo,
    component: &str,
    status: StatusCode,
    h: &HeaderMap,
) -> Option<CopyTx> {
    let enc = super::tee::kept_encoding(status, h)?;
    let (tx, rx) = super::tee::copies(cache.writer_lag);
    let (cache, info, component) = (cache.clone(), info.clone(), component.to_string());
    smol::spawn(async move {
        if let Some(body) = super::tee::collect(rx, MAX_ANSWER).await {
            smol::unblock(move || keep(&cache, &component, &info, enc, &body)).await;
        }
    })
    .detach();
    Some(tx)
}

/// Keeps an answer under the key its request will have offline. The ServiceAccount and
/// namespace come from the URL: kube-apiserver copies the request's (usually empty) metadata.
fn keep(cache: &Cache, component: &str, info: &RequestInfo, enc: Wire, body: &[u8]) {
    let namespace = info.namespace.as_str();
    let tr = match token::decode(enc, body) {
        Ok(tr) if !tr.token.is_empty() => TokenRequest {
            name: info.name.clone(),
            namespace: namespace.to_string(),
            ..tr
        },
        Ok(_) => return,
        Err(e) => {
            log::warn!("cache: TokenRequest answer not kept: {e}");
            cache.metrics.write_failure("malformed");
            return;
        }
    };
    let key = tr.key();
    let meta = ListMeta {
        api_version: token::API_VERSION.into(),
        kind: token::KIND.into(),
        resource_version: tr.expiration.unwrap_or(0).max(0) as u64,
        encoding: super::decode::store_encoding(enc),
    };
    let item = Item {
        namespace,
        name: &key,
        resource_version: meta.resource_version,
        bytes: body,
    };
    if let Err(e) = cache
        .store
        .put_object(&view(component, namespace, &key), &meta, &item)
    {
        log::warn!("cache: TokenRequest answer not kept: {e}");
        cache.metrics.write_failure("io");
    }
}

/// Where an offline token answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The last token the apiserver issued for this request, still valid.
    Issued,
    /// A fake one: none issued, or expired.
    Fake,
}

/// An offline answer: body in `encoding`, and where the token came from.
#[derive(Debug)]
pub struct Answer {
    pub encoding: Encoding,
    pub body: Vec<u8>,
    pub source: Source,
}

/// Why a TokenRequest cannot be answered offline.
#[derive(Debug)]
pub enum Refused {
    /// The request body is not a TokenRequest (or in a media type other than JSON/protobuf).
    BadRequest(String),
    /// The client accepts neither JSON nor protobuf.
    NotAcceptable,
    Store(StoreError),
}

/// The offline answer to a TokenRequest for ServiceAccount `info.name` (blocking: reads the store).
pub fn answer(
    store: &Store,
    component: &str,
    info: &RequestInfo,
    content_type: Option<&str>,
    body: &[u8],
    accept: Option<&str>,
) -> Result<Answer, Refused> {
    let enc = content_type
        .map_or(Some(Wire::Json), Wire::from_content_type)
        .ok_or_else(|| {
            Refused::BadRequest("a TokenRequest body must be JSON or protobuf".into())
        })?;
    let mut want = if body.is_empty() {
        TokenRequest::default()
    } else {
        token::decode(enc, body).map_err(|e| {
            Refused::BadRequest(format!("the TokenRequest body could not be read: {e}"))
        })?
    };
    want.name = info.name.clone();
    want.namespace = info.namespace.clone();
    let stored = store
        .list(&view(component, &info.namespace, &want.key()))
        .map_err(Refused::Store)?
        .and_then(|(meta, items)| Some((meta.encoding, items.into_iter().next()?)));
    let stored = stored.map(|(e, i)| (e, i.bytes().to_vec()));
    pick(stored, &want, accept, now())
}

/// Pure: the stored answer when its token is valid at `now` (re-encoded if the client needs the
/// other encoding), else a fake token for `want`.
pub fn pick(
    stored: Option<(Encoding, Vec<u8>)>,
    want: &TokenRequest,
    accept: Option<&str>,
    now: i64,
) -> Result<Answer, Refused> {
    let out = [Encoding::Protobuf, Encoding::Json]
        .into_iter()
        .filter(|e| accepts(accept, *e));
    let preferred: Vec<Encoding> = out.collect();
    let Some(&first) = preferred.first() else {
        return Err(Refused::NotAcceptable);
    };
    if let Some((enc, bytes)) = stored {
        if let Ok(tr) = token::decode(wire(enc), &bytes) {
            if tr.expiration.is_some_and(|exp| exp > now) {
                if preferred.contains(&enc) {
                    return Ok(Answer {
                        encoding: enc,
                        body: bytes,
                        source: Source::Issued,
                    });
                }
                let body = token::encode(wire(first), &tr, now);
                return Ok(Answer {
                    encoding: first,
                    body,
                    source: Source::Issued,
                });
            }
        }
    }
    let fake = fake(want, now);
    Ok(Answer {
        encoding: first,
        body: token::encode(wire(first), &fake, now),
        source: Source::Fake,
    })
}

/// A TokenRequest answered with an unsigned JWT that says what it is.
pub fn fake(want: &TokenRequest, now: i64) -> TokenRequest {
    let ttl = want.expiration_seconds.unwrap_or(3600).clamp(1, FAKE_TTL);
    let exp = now + ttl;
    let bound = want.bound.clone().unwrap_or_default();
    let claims = serde_json::json!({
        "iss": FAKE_ISSUER,
        "sub": format!("system:serviceaccount:{}:{}", want.namespace, want.name),
        "aud": want.audiences,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "kubernetes.io": {
            "namespace": want.namespace,
            "serviceaccount": {"name": want.name},
            "pod": {"name": bound.name, "uid": bound.uid},
        },
        "yurthub.openyurt.io/offline": "fake token: the cloud was unreachable and no valid token was cached",
    });
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = br#"{"alg":"none","typ":"JWT"}"#;
    TokenRequest {
        token: format!("{}.{}.", b64(header), b64(claims.to_string().as_bytes())),
        expiration: Some(exp),
        ..want.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::token::BoundRef;

    fn want() -> TokenRequest {
        TokenRequest {
            name: "default".into(),
            namespace: "default".into(),
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3607),
            bound: Some(BoundRef {
                kind: "Pod".into(),
                api_version: "v1".into(),
                name: "web-0".into(),
                uid: "u1".into(),
            }),
            ..TokenRequest::default()
        }
    }

    fn issued(exp: i64) -> TokenRequest {
        TokenRequest {
            token: "real.jwt.sig".into(),
            expiration: Some(exp),
            ..want()
        }
    }

    const KUBELET: Option<&str> = Some("application/vnd.kubernetes.protobuf,application/json");

    #[test]
    fn a_valid_issued_token_comes_back_as_stored() {
        let stored = token::encode(Wire::Protobuf, &issued(2_000), 1_000);
        let a = pick(
            Some((Encoding::Protobuf, stored.clone())),
            &want(),
            KUBELET,
            1_500,
        )
        .expect("answer");
        assert_eq!(
            (a.source, a.encoding, &a.body),
            (Source::Issued, Encoding::Protobuf, &stored)
        );
        let j = pick(
            Some((Encoding::Protobuf, stored)),
            &want(),
            Some("application/json"),
            1_500,
        )
        .expect("answer");
        let back = token::decode(Wire::Json, &j.body).expect("json");
        assert_eq!(
            (j.source, back.token.as_str()),
            (Source::Issued, "real.jwt.sig")
        );
    }

    #[test]
    fn expired_or_missing_tokens_are_clearly_fake_and_short_lived() {
        let stored = token::encode(Wire::Json, &issued(2_000), 1_000);
        for s in [Some((Encoding::Json, stored)), None] {
            let a = pick(s, &want(), KUBELET, 2_000).expect("answer");
            assert_eq!((a.source, a.encoding), (Source::Fake, Encoding::Protobuf));
            let tr = token::decode(Wire::Protobuf, &a.body).expect("pb");
            assert_eq!(tr.expiration, Some(2_000 + FAKE_TTL));
            assert_eq!((tr.bound, tr.audiences), (want().bound, want().audiences));
            let claims = tr.token.split('.').nth(1).expect("claims");
            let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .expect("b64");
            let claims: serde_json::Value = serde_json::from_slice(&claims).expect("json");
            assert_eq!(claims["iss"], FAKE_ISSUER);
            assert_eq!(claims["kubernetes.io"]["pod"]["name"], "web-0");
            assert!(tr.token.ends_with('.'), "unsigned");
        }
        assert!(matches!(
            pick(None, &want(), Some("application/yaml"), 1),
            Err(Refused::NotAcceptable)
        ));
    }
}
