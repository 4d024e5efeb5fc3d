//! Failures of the double and the `Status` bodies (JSON, as kube-apiserver shapes them) they become.

use serde::Serialize;

use super::resources::Resource;

/// Why a request or a direct store call failed. Each maps to one HTTP code and Status reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DoubleError {
    /// 404: no such object (`resource` is the qualified plural, e.g. `leases.coordination.k8s.io`).
    NotFound {
        resource: String,
        group: String,
        name: String,
    },
    /// 404: the path names no resource or endpoint the double serves.
    UnknownPath(String),
    /// 409: create of an existing object.
    AlreadyExists {
        resource: String,
        group: String,
        name: String,
    },
    /// 409: stale `metadata.resourceVersion` or uid precondition.
    Conflict {
        resource: String,
        group: String,
        name: String,
        why: String,
    },
    /// 422: the object or the options are invalid.
    Invalid {
        kind: String,
        name: String,
        message: String,
    },
    /// 400: malformed request (bad selector, continue token, body).
    BadRequest(String),
    /// 401: no bearer token and no client certificate.
    Unauthorized,
    /// 405: verb not allowed on this path.
    MethodNotAllowed(String),
    /// 406: no acceptable response media type.
    NotAcceptable(String),
    /// 410: resourceVersion or continue token older than the retained history.
    Expired(String),
    /// 413: body too large.
    TooLarge(String),
    /// 415: request body in a media type the double does not read.
    UnsupportedMediaType(String),
    /// 504: resourceVersion newer than the store's.
    TooLargeResourceVersion { requested: u64, current: u64 },
}

impl DoubleError {
    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            DoubleError::NotFound { .. } | DoubleError::UnknownPath(_) => 404,
            DoubleError::AlreadyExists { .. } | DoubleError::Conflict { .. } => 409,
            DoubleError::Invalid { .. } => 422,
            DoubleError::BadRequest(_) => 400,
            DoubleError::Unauthorized => 401,
            DoubleError::MethodNotAllowed(_) => 405,
            DoubleError::NotAcceptable(_) => 406,
            DoubleError::Expired(_) => 410,
            DoubleError::TooLarge(_) => 413,
            DoubleError::UnsupportedMediaType(_) => 415,
            DoubleError::TooLargeResourceVersion { .. } => 504,
        }
    }

    /// Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            DoubleError::NotFound { .. } | DoubleError::UnknownPath(_) => "NotFound",
            DoubleError::AlreadyExists { .. } => "AlreadyExists",
            DoubleError::Conflict { .. } => "Conflict",
            DoubleError::Invalid { .. } => "Invalid",
            DoubleError::BadRequest(_) => "BadRequest",
            DoubleError::Unauthorized => "Unauthorized",
            DoubleError::MethodNotAllowed(_) => "MethodNotAllowed",
            DoubleError::NotAcceptable(_) => "NotAcceptable",
            DoubleError::Expired(_) => "Expired",
            DoubleError::TooLarge(_) => "RequestEntityTooLarge",
            DoubleError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            DoubleError::TooLargeResourceVersion { .. } => "Timeout",
        }
    }

    /// A NotFound for `name` of `res`.
    pub fn not_found(res: &Resource, name: &str) -> DoubleError {
        DoubleError::NotFound {
            resource: res.qualified_name(),
            group: res.group.to_string(),
            name: name.to_string(),
        }
    }

    /// The Status body as a value (for JSON answers and in-stream ERROR events).
    pub fn status(&self) -> Status {
        let (name, group, kind) = match self {
            DoubleError::NotFound {
                resource,
                group,
                name,
            }
            | DoubleError::AlreadyExists {
                resource,
                group,
                name,
            }
            | DoubleError::Conflict {
                resource,
                group,
                name,
                ..
            } => {
                let plural = resource.split('.').next().unwrap_or(resource);
                (name.clone(), group.clone(), plural.to_string())
            }
            DoubleError::Invalid { kind, name, .. } => (name.clone(), String::new(), kind.clone()),
            _ => Default::default(),
        };
        let details = match self {
            DoubleError::UnknownPath(_) => Some(Details::default()),
            DoubleError::TooLargeResourceVersion { .. } => Some(Details {
                causes: vec![Cause {
                    reason: "ResourceVersionTooLarge".into(),
                    message: "Too large resource version".into(),
                    field: None,
                }],
                retry_after_seconds: Some(1),
                ..Default::default()
            }),
            _ if name.is_empty() && kind.is_empty() => None,
            _ => Some(Details {
                name,
                group,
                kind,
                ..Default::default()
            }),
        };
        Status {
            kind: "Status",
            api_version: "v1",
            metadata: Empty {},
            status: "Failure",
            message: self.to_string(),
            reason: self.reason(),
            details,
            code: self.code(),
        }
    }

    /// The Status body as JSON bytes.
    pub fn status_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.status()).unwrap_or_default()
    }
}

impl std::fmt::Display for DoubleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DoubleError::NotFound { resource, name, .. } => {
                write!(f, "{resource} \"{name}\" not found")
            }
            DoubleError::UnknownPath(_) => {
                f.write_str("the server could not find the requested resource")
            }
            DoubleError::AlreadyExists { resource, name, .. } => {
                write!(f, "{resource} \"{name}\" already exists")
            }
            DoubleError::Conflict {
                resource,
                name,
                why,
                ..
            } => {
                write!(
                    f,
                    "Operation cannot be fulfilled on {resource} \"{name}\": {why}"
                )
            }
            DoubleError::Invalid {
                kind,
                name,
                message,
            } => write!(f, "{kind} \"{name}\" is invalid: {message}"),
            DoubleError::Unauthorized => f.write_str("Unauthorized"),
            DoubleError::TooLargeResourceVersion { requested, current } => {
                write!(
                    f,
                    "Too large resource version: {requested}, current: {current}"
                )
            }
            DoubleError::BadRequest(m)
            | DoubleError::MethodNotAllowed(m)
            | DoubleError::NotAcceptable(m)
            | DoubleError::Expired(m)
            | DoubleError::TooLarge(m)
            | DoubleError::UnsupportedMediaType(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DoubleError {}

/// `metav1.Status`, fields in Go declaration order.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub kind: &'static str,
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub metadata: Empty,
    pub status: &'static str,
    pub message: String,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    pub code: u16,
}

/// An empty JSON object (`metadata: {}`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Empty {}

/// `metav1.StatusDetails`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Details {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<i32>,
}

/// `metav1.StatusCause`.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(name: &str) -> serde_json::Value {
        let p = format!(
            "{}/tests/fixtures/k8s-captures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(p).expect("capture")).expect("json")
    }

    fn json(e: &DoubleError) -> serde_json::Value {
        serde_json::from_slice(&e.status_json()).expect("json")
    }

    #[test]
    fn statuses_equal_the_captures() {
        let nf = DoubleError::NotFound {
            resource: "pods".into(),
            group: String::new(),
            name: "nope".into(),
        };
        assert_eq!(json(&nf), capture("get-pod-notfound.json.body"));
        let gone =
            DoubleError::Expired("The resourceVersion for the provided list is too old.".into());
        assert_eq!(
            json(&gone),
            capture("list-pods-rv2-exact-compacted-nowatchcache.json.body")
        );
        let bad = DoubleError::BadRequest(
            "invalid continue token: continue key is not valid: default/".into(),
        );
        assert_eq!(json(&bad), capture("list-pods-continue-expired.json.body"));
    }

    #[test]
    fn key_order_is_go_field_order() {
        let e = DoubleError::AlreadyExists {
            resource: "leases.coordination.k8s.io".into(),
            group: "coordination.k8s.io".into(),
            name: "n".into(),
        };
        let s = String::from_utf8(e.status_json()).expect("utf8");
        assert_eq!(
            s,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"leases.coordination.k8s.io \"n\" already exists","reason":"AlreadyExists","details":{"name":"n","group":"coordination.k8s.io","kind":"leases"},"code":409}"#
        );
        assert_eq!(DoubleError::Unauthorized.code(), 401);
    }
}
