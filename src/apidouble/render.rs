//! Answers: objects, lists, Tables and Status errors encoded as negotiated (JSON, YAML, protobuf),
//! with the headers kube-apiserver sends.

use hyper::Response;
use serde::Serialize;
use serde_json::Value;

use super::encode_pb;
use super::errors::DoubleError;
use super::list::{ListMeta, Page};
use super::meta::{new_uid, now_secs, ListItem, Ordered};
use super::negotiate::{Encoding, Form, Negotiated};
use super::resources::Resource;
use super::table::{partial_metadata, table_json, IncludeObject};
use crate::net::http::{full, Body};

/// A response with kube-apiserver's standard headers.
pub fn respond(code: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    let pairs = [
        ("audit-id", new_uid()),
        ("cache-control", "no-cache, private".to_string()),
        ("content-type", content_type.to_string()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}

/// Serializes JSON, indented when `pretty` (kube-apiserver indents for `?pretty` and curl).
pub fn to_json<T: Serialize>(v: &T, pretty: bool) -> Vec<u8> {
    let out = if pretty {
        serde_json::to_vec_pretty(v)
    } else {
        serde_json::to_vec(v)
    };
    out.unwrap_or_default()
}

/// A whole JSON body: compact ones end in a newline (Go's encoder), indented ones do not.
pub fn body_json<T: Serialize>(v: &T, pretty: bool) -> Vec<u8> {
    let mut out = to_json(v, pretty);
    if !pretty {
        out.push(b'\n');
    }
    out
}

fn encode<T: Serialize>(v: &T, enc: Encoding, pretty: bool) -> Vec<u8> {
    match enc {
        Encoding::Yaml => serde_yaml_ng::to_string(v)
            .map(String::into_bytes)
            .unwrap_or_default(),
        _ => body_json(v, pretty),
    }
}

/// A Status error answer, protobuf when the client prefers it.
pub fn error(e: &DoubleError, neg: Negotiated, pretty: bool) -> Response<Body> {
    let status = e.status();
    match neg.encoding {
        Encoding::Protobuf => respond(
            e.code(),
            neg.content_type(),
            encode_pb::status_envelope(&status),
        ),
        Encoding::Yaml => respond(
            e.code(),
            "application/yaml",
            encode(&status, Encoding::Yaml, false),
        ),
        Encoding::Json => respond(e.code(), "application/json", body_json(&status, pretty)),
    }
}

/// One object, in the negotiated form.
pub fn object(
    res: &Resource,
    obj: &Value,
    neg: Negotiated,
    include: IncludeObject,
    pretty: bool,
    code: u16,
) -> Response<Body> {
    let body = match (neg.form, neg.encoding) {
        (Form::Table(v), _) => {
            let meta = ListMeta {
                resource_version: super::meta::meta_str(obj, "resourceVersion").to_string(),
                ..Default::default()
            };
            table_json(res, &[obj], v, meta, include, now_secs())
        }
        (Form::PartialMetadata, e) => encode(&Ordered(&partial_metadata(obj)), e, pretty),
        (_, Encoding::Protobuf) => encode_pb::object_envelope(res, obj),
        (_, e) => encode(&Ordered(obj), e, pretty),
    };
    respond(code, neg.content_type(), body)
}

#[derive(Serialize)]
struct ListOut<'a, I: Serialize> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: &'a ListMeta,
    items: Vec<I>,
}

/// A list page, in the negotiated form.
pub fn list(
    res: &Resource,
    page: &Page,
    neg: Negotiated,
    include: IncludeObject,
    pretty: bool,
) -> Response<Body> {
    let items: Vec<&Value> = page.items.iter().map(|a| &**a).collect();
    let body = match (neg.form, neg.encoding) {
        (Form::Table(v), _) => table_json(res, &items, v, page.meta.clone(), include, now_secs()),
        (Form::PartialMetadata, e) => {
            let partial: Vec<Value> = items.iter().map(|o| partial_metadata(o)).collect();
            let out = ListOut {
                kind: "PartialObjectMetadataList".into(),
                api_version: "meta.k8s.io/v1".into(),
                metadata: &page.meta,
                items: partial.iter().map(Ordered).collect(),
            };
            encode(&out, e, pretty)
        }
        (_, Encoding::Protobuf) => {
            let m = &page.meta;
            encode_pb::list_envelope(
                res,
                &items,
                &m.resource_version,
                &m.continue_,
                m.remaining_item_count,
            )
        }
        (_, e) => {
            let out = ListOut {
                kind: format!("{}List", res.kind),
                api_version: res.api_version(),
                metadata: &page.meta,
                items: items.iter().map(|o| ListItem(o)).collect(),
            };
            encode(&out, e, pretty)
        }
    };
    respond(200, neg.content_type(), body)
}

/// A TokenRequest answer (201), fully protobuf-encoded when asked.
pub fn token(tr: &Value, neg: Negotiated, pretty: bool) -> Response<Body> {
    let body = match neg.encoding {
        Encoding::Protobuf => encode_pb::token_request_envelope(tr),
        e => encode(&Ordered(tr), e, pretty),
    };
    let ct = if neg.form == Form::Plain {
        neg.content_type()
    } else {
        "application/json"
    };
    respond(201, ct, body)
}
