//! Pure: the parts of an `authentication.k8s.io/v1` TokenRequest the hub needs (the pod a token is
//! bound to, its audiences, the token and its expiry), read from and written to JSON and
//! Kubernetes protobuf.
//!
//! Protobuf layout (`k8s.io/api/authentication/v1/generated.proto`): TokenRequest{metadata=1,
//! spec=2, status=3}; TokenRequestSpec{audiences=1 (repeated), boundObjectRef=3,
//! expirationSeconds=4}; BoundObjectReference{kind=1, apiVersion=2, name=3, uid=4};
//! TokenRequestStatus{token=1, expirationTimestamp=2 (Time{seconds=1, nanos=2})}.

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use super::decode_error::DecodeError;
use super::meta::Encoding;
use super::pb::wire::fields;
use super::pb::write::{put_bytes, put_varint};
use super::pb::{decode_envelope, encode_envelope, object_meta};
use super::time::{parse_rfc3339, rfc3339};

/// `apiVersion` of a TokenRequest.
pub const API_VERSION: &str = "authentication.k8s.io/v1";
/// `kind` of a TokenRequest.
pub const KIND: &str = "TokenRequest";

/// The object a token is bound to (kubelet binds every projected token to its pod).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoundRef {
    pub kind: String,
    pub api_version: String,
    pub name: String,
    pub uid: String,
}

/// What the hub reads from a TokenRequest (a request body or an apiserver answer).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRequest {
    /// `metadata.name`: the ServiceAccount.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `spec.audiences`, as sent.
    pub audiences: Vec<String>,
    /// `spec.expirationSeconds`.
    pub expiration_seconds: Option<i64>,
    /// `spec.boundObjectRef`.
    pub bound: Option<BoundRef>,
    /// `status.token`; empty in a request.
    pub token: String,
    /// `status.expirationTimestamp`, seconds since the epoch; `None` in a request.
    pub expiration: Option<i64>,
}

impl TokenRequest {
    /// What identifies "the same token" across requests: ServiceAccount, bound object and
    /// audiences (sorted), not the requested lifetime.
    pub fn key(&self) -> String {
        let mut aud = self.audiences.clone();
        aud.sort();
        let b = self.bound.clone().unwrap_or_default();
        format!(
            "{}/{}/{}/{}/{}",
            self.name,
            b.kind,
            b.name,
            b.uid,
            aud.join(",")
        )
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonTr {
    metadata: JsonMeta,
    spec: JsonSpec,
    status: JsonStatus,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonMeta {
    name: String,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonSpec {
    audiences: Option<Vec<String>>,
    expiration_seconds: Option<i64>,
    bound_object_ref: Option<BoundRef>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonStatus {
    token: String,
    expiration_timestamp: Option<String>,
}

/// Decodes a TokenRequest body: JSON, or protobuf in its `k8s\0` envelope.
///
/// ```
/// use yurt::k8s::{meta::Encoding, token};
/// let body = br#"{"spec":{"audiences":["api"],"boundObjectRef":{"kind":"Pod","name":"web-0","uid":"u1"}}}"#;
/// let tr = token::decode(Encoding::Json, body)?;
/// assert_eq!(tr.bound.map(|b| b.name), Some("web-0".to_string()));
/// # Ok::<(), yurt::k8s::decode_error::DecodeError>(())
/// ```
pub fn decode(enc: Encoding, body: &[u8]) -> Result<TokenRequest, DecodeError> {
    match enc {
        Encoding::Json => decode_json(body),
        Encoding::Protobuf => decode_pb(body),
    }
}

fn decode_json(body: &[u8]) -> Result<TokenRequest, DecodeError> {
    let t: JsonTr = serde_json::from_slice(body).map_err(|e| DecodeError::json(&e))?;
    let expiration = match t.status.expiration_timestamp.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            parse_rfc3339(s)
                .ok_or_else(|| DecodeError::invalid("expirationTimestamp is not RFC 3339"))?,
        ),
    };
    Ok(TokenRequest {
        name: t.metadata.name,
        namespace: t.metadata.namespace,
        audiences: t.spec.audiences.unwrap_or_default(),
        expiration_seconds: t.spec.expiration_seconds,
        bound: t.spec.bound_object_ref,
        token: t.status.token,
        expiration,
    })
}

fn decode_pb(body: &[u8]) -> Result<TokenRequest, DecodeError> {
    let env = decode_envelope(body)?;
    let m = object_meta(env.raw)?;
    let mut tr = TokenRequest {
        name: m.name.to_string(),
        namespace: m.namespace.to_string(),
        ..TokenRequest::default()
    };
    for f in fields(env.raw) {
        let f = f?;
        match f.number {
            2 => pb_spec(f.bytes()?, &mut tr)?,
            3 => pb_status(f.bytes()?, &mut tr)?,
            _ => {}
        }
    }
    Ok(tr)
}

fn pb_spec(msg: &[u8], tr: &mut TokenRequest) -> Result<(), DecodeError> {
    for f in fields(msg) {
        let f = f?;
        match f.number {
            1 => tr.audiences.push(f.str()?.to_string()),
            3 => {
                let mut b = BoundRef::default();
                for g in fields(f.bytes()?) {
                    let g = g?;
                    let slot = match g.number {
                        1 => &mut b.kind,
                        2 => &mut b.api_version,
                        3 => &mut b.name,
                        4 => &mut b.uid,
                        _ => continue,
                    };
                    *slot = g.str()?.to_string();
                }
                tr.bound = Some(b);
            }
            4 => tr.expiration_seconds = Some(f.int64()?),
            _ => {}
        }
    }
    Ok(())
}

fn pb_status(msg: &[u8], tr: &mut TokenRequest) -> Result<(), DecodeError> {
    for f in fields(msg) {
        let f = f?;
        match f.number {
            1 => tr.token = f.str()?.to_string(),
            2 => {
                let mut secs = 0;
                for g in fields(f.bytes()?) {
                    let g = g?;
                    if g.number == 1 {
                        secs = g.int64()?;
                    }
                }
                tr.expiration = Some(secs);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Encodes `tr` as kube-apiserver answers a TokenRequest (creationTimestamp `created`).
pub fn encode(enc: Encoding, tr: &TokenRequest, created: i64) -> Vec<u8> {
    match enc {
        Encoding::Json => encode_json(tr, created),
        Encoding::Protobuf => encode_pb(tr, created),
    }
}

fn encode_json(tr: &TokenRequest, created: i64) -> Vec<u8> {
    let mut spec = Map::new();
    spec.insert("audiences".into(), json!(tr.audiences));
    if let Some(s) = tr.expiration_seconds {
        spec.insert("expirationSeconds".into(), json!(s));
    }
    if let Some(b) = &tr.bound {
        spec.insert(
            "boundObjectRef".into(),
            json!({"kind": b.kind, "apiVersion": b.api_version, "name": b.name, "uid": b.uid}),
        );
    }
    let v = json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {"name": tr.name, "namespace": tr.namespace, "creationTimestamp": rfc3339(created)},
        "spec": Json::Object(spec),
        "status": {"token": tr.token, "expirationTimestamp": rfc3339(tr.expiration.unwrap_or(created))},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

fn time(secs: i64) -> Vec<u8> {
    let mut t = Vec::new();
    put_varint(&mut t, 1 << 3);
    put_varint(&mut t, secs as u64);
    put_varint(&mut t, 2 << 3);
    put_varint(&mut t, 0);
    t
}

fn encode_pb(tr: &TokenRequest, created: i64) -> Vec<u8> {
    let mut meta = Vec::new();
    put_bytes(&mut meta, 1, tr.name.as_bytes());
    put_bytes(&mut meta, 3, tr.namespace.as_bytes());
    put_bytes(&mut meta, 8, &time(created));
    let mut spec = Vec::new();
    for a in &tr.audiences {
        put_bytes(&mut spec, 1, a.as_bytes());
    }
    if let Some(b) = &tr.bound {
        let mut m = Vec::new();
        for (n, s) in [(1, &b.kind), (2, &b.api_version), (3, &b.name), (4, &b.uid)] {
            put_bytes(&mut m, n, s.as_bytes());
        }
        put_bytes(&mut spec, 3, &m);
    }
    if let Some(s) = tr.expiration_seconds {
        put_varint(&mut spec, 4 << 3);
        put_varint(&mut spec, s as u64);
    }
    let mut status = Vec::new();
    put_bytes(&mut status, 1, tr.token.as_bytes());
    put_bytes(&mut status, 2, &time(tr.expiration.unwrap_or(created)));
    let mut raw = Vec::new();
    put_bytes(&mut raw, 1, &meta);
    put_bytes(&mut raw, 2, &spec);
    put_bytes(&mut raw, 3, &status);
    encode_envelope(API_VERSION, KIND, &raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(ext: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/fixtures/k8s-api-testdata/authentication.k8s.io.v1.TokenRequest.{ext}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(p).expect("fixture")
    }

    #[test]
    fn both_encodings_of_the_api_testdata_read_the_same() {
        let j = decode(Encoding::Json, &fixture("json")).expect("json");
        let p = decode(Encoding::Protobuf, &fixture("pb")).expect("pb");
        assert_eq!(j, p);
        assert_eq!(j.audiences, ["audiencesValue"]);
        assert_eq!(j.expiration_seconds, Some(4));
        assert_eq!(j.bound.as_ref().map(|b| b.uid.as_str()), Some("uidValue"));
        assert_eq!(j.token, "tokenValue");
        assert_eq!(j.expiration, parse_rfc3339("2002-01-01T01:01:01Z"));
        assert_eq!(
            (j.name.as_str(), j.namespace.as_str()),
            ("nameValue", "namespaceValue")
        );
    }

    #[test]
    fn every_prefix_of_real_bytes_is_an_error_or_a_value_never_a_panic() {
        for ext in ["json", "pb"] {
            let b = fixture(ext);
            let enc = if ext == "pb" {
                Encoding::Protobuf
            } else {
                Encoding::Json
            };
            for n in 0..b.len() {
                let _ = decode(enc, &b[..n]);
            }
        }
    }

    #[test]
    fn what_is_encoded_reads_back() {
        let tr = TokenRequest {
            name: "default".into(),
            namespace: "ns".into(),
            audiences: vec!["a".into(), "b".into()],
            expiration_seconds: Some(3607),
            bound: Some(BoundRef {
                kind: "Pod".into(),
                api_version: "v1".into(),
                name: "web-0".into(),
                uid: "u-1".into(),
            }),
            token: "t".into(),
            expiration: Some(1_900_000_000),
        };
        for enc in [Encoding::Json, Encoding::Protobuf] {
            assert_eq!(
                decode(enc, &encode(enc, &tr, 1_800_000_000)).expect("reads"),
                tr
            );
        }
        let mut other = tr.clone();
        other.audiences.reverse();
        other.expiration_seconds = Some(600);
        assert_eq!(tr.key(), other.key());
        assert!(decode(Encoding::Json, b"[1]").is_err());
        assert!(decode(Encoding::Protobuf, b"{}").is_err());
    }
}
