//! Kubernetes `Status` error bodies (`kind: Status`, `apiVersion: v1`), as kube-apiserver writes them.

use serde::Serialize;

/// The `reason` field of a failure Status, as Kubernetes spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    UnsupportedMediaType,
    Expired,
    Gone,
    RequestEntityTooLarge,
    InternalError,
    ServiceUnavailable,
    Timeout,
}

impl Reason {
    /// The name kube-apiserver puts in `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::Expired => "Expired",
            Reason::Gone => "Gone",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::InternalError => "InternalError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
            Reason::Timeout => "Timeout",
        }
    }
}

#[derive(Serialize)]
struct StatusBody<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Empty,
    status: &'static str,
    message: &'a str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details<'a>>,
    code: u16,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Details<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
}

/// A failure Status as JSON bytes (no trailing newline, like kube-apiserver).
///
/// ```
/// use yurt::k8s::status::{failure, Reason};
/// let body = failure(503, Reason::ServiceUnavailable, "no healthy upstream");
/// let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert_eq!(v["code"], 503);
/// ```
pub fn failure(code: u16, reason: Reason, message: &str) -> Vec<u8> {
    failure_for(code, reason, message, "", "", "")
}

/// A failure Status naming the object it is about (`details.name/group/kind`), as a 404 does.
pub fn failure_for(
    code: u16,
    reason: Reason,
    message: &str,
    name: &str,
    group: &str,
    kind: &str,
) -> Vec<u8> {
    let details = if name.is_empty() && group.is_empty() && kind.is_empty() {
        None
    } else {
        Some(Details { name, group, kind })
    };
    let body = StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: Empty {},
        status: "Failure",
        message,
        reason: reason.as_str(),
        details,
        code,
    };
    // Serializing plain strings and integers cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_the_real_apiserver_shape() {
        // Field order and content as in k8s-captures/get-pod-notfound.json.body.
        let real = include_str!("../../tests/fixtures/k8s-captures/get-pod-notfound.json.body");
        let ours = failure_for(
            404,
            Reason::NotFound,
            "pods \"nope\" not found",
            "nope",
            "",
            "pods",
        );
        let real_v: serde_json::Value = serde_json::from_str(real).expect("capture is JSON");
        let ours_v: serde_json::Value = serde_json::from_slice(&ours).expect("ours is JSON");
        let keys = |v: &serde_json::Value| {
            v.as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(keys(&real_v), keys(&ours_v));
        assert_eq!(real_v["details"], ours_v["details"]);
        assert_eq!(real_v["reason"], ours_v["reason"]);
        assert_eq!(real_v["code"], ours_v["code"]);
    }

    #[test]
    fn messages_are_escaped() {
        let body = failure(400, Reason::BadRequest, "bad \"quote\"\n");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(v["message"], "bad \"quote\"\n");
        assert_eq!(v["status"], "Failure");
    }
}
