//! The types a JSON node must keep where clients read the offline answer: kube-apiserver decodes
//! a patched node into its Go struct and refuses a patch that breaks them; so does the hub.
#![expect(dead_code, reason = "deserialized only to check the types")]

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::k8s::time::parse_rfc3339;

#[derive(Deserialize)]
struct Node {
    metadata: Option<Meta>,
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Meta {
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    capacity: Option<BTreeMap<String, Quantity>>,
    allocatable: Option<BTreeMap<String, Quantity>>,
    phase: Option<String>,
    conditions: Option<Vec<Condition>>,
    addresses: Option<Vec<Address>>,
    images: Option<Vec<Image>>,
    volumes_in_use: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Quantity {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "time")]
    last_heartbeat_time: Option<i64>,
    #[serde(default, deserialize_with = "time")]
    last_transition_time: Option<i64>,
    reason: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Address {
    #[serde(rename = "type")]
    kind: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Image {
    names: Option<Vec<String>>,
    size_bytes: Option<i64>,
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(t) => parse_rfc3339(&t)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{t:?} is not an RFC 3339 UTC time"))),
    }
}

/// Why `node` would not decode as a Node where the offline answer is read, if it would not.
pub(super) fn check(node: &Value) -> Result<(), String> {
    Node::deserialize(node)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
