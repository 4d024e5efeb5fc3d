//! Server-side printing: `meta.k8s.io` Tables (what `kubectl get` asks for), with kubectl-like
//! columns for pods, nodes and namespaces and Name / Created At for every other kind.

use serde::Serialize;
use serde_json::{json, Value};

use super::list::ListMeta;
use super::meta::{human_age, parse_rfc3339, Ordered};
use super::resources::Resource;

/// What each row carries in `object` (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    Object,
}

impl IncludeObject {
    /// From the `includeObject` query value (`None`, `Metadata`, `Object`; default Metadata).
    pub fn parse(v: Option<&str>) -> IncludeObject {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

#[derive(Serialize)]
struct Column {
    name: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
}

const fn col(name: &'static str, priority: i32, description: &'static str) -> Column {
    Column {
        name,
        type_: "string",
        format: "",
        description,
        priority,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name must be unique within a namespace.",
    priority: 0,
};

/// Wraps a stored object so it serializes in Kubernetes key order.
struct OrderedValue(Value);

impl Serialize for OrderedValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Ordered(&self.0).serialize(s)
    }
}

#[derive(Serialize)]
struct Table {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: ListMeta,
    #[serde(rename = "columnDefinitions")]
    columns: Vec<Column>,
    rows: Vec<RowOut>,
}

#[derive(Serialize)]
struct RowOut {
    cells: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<OrderedValue>,
}

fn columns(kind: &str) -> Vec<Column> {
    match kind {
        "Pod" => vec![
            NAME,
            col("Ready", 0, "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", 0, "The aggregate status of the containers in this pod."),
            col("Restarts", 0, "The number of times the containers in this pod have been restarted."),
            col("Age", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."),
            col("IP", 1, "podIP address allocated to the pod."),
            col("Node", 1, "NodeName indicates in which node this pod is scheduled."),
            col("Nominated Node", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
            col("Readiness Gates", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
        ],
        "Node" => vec![
            NAME,
            col("Status", 0, "The status of the node"),
            col("Roles", 0, "The roles of the node"),
            col("Age", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."),
            col("Version", 0, "Kubelet Version reported by the node."),
            col("Internal-IP", 1, "List of internal IPs."),
            col("External-IP", 1, "List of external IPs."),
            col("OS-Image", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            col("Kernel-Version", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            col("Container-Runtime", 1, "Container runtime version reported by the node."),
        ],
        "Namespace" => vec![
            NAME,
            col("Status", 0, "The status of the namespace"),
            col("Age", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."),
        ],
        _ => vec![
            NAME,
            Column { name: "Created At", type_: "date", format: "", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", priority: 0 },
        ],
    }
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |cur, k| cur.get(*k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn or_none(v: &str) -> Value {
    Value::String(if v.is_empty() {
        "<none>".into()
    } else {
        v.to_string()
    })
}

fn pod_cells(o: &Value, age: Value) -> Vec<Value> {
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.map_or(0, |v| v.iter().filter(|c| c["ready"] == true).count());
    let restarts: i64 = statuses.map_or(0, |v| {
        v.iter().filter_map(|c| c["restartCount"].as_i64()).sum()
    });
    let waiting = statuses.and_then(|v| {
        v.iter()
            .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str))
    });
    let status = if !s(o, &["metadata", "deletionTimestamp"]).is_empty() {
        "Terminating"
    } else if !s(o, &["status", "reason"]).is_empty() {
        s(o, &["status", "reason"])
    } else if let Some(w) = waiting {
        w
    } else {
        s(o, &["status", "phase"])
    };
    let gates = o
        .pointer("/spec/readinessGates")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    vec![
        json!(s(o, &["metadata", "name"])),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        age,
        or_none(s(o, &["status", "podIP"])),
        or_none(s(o, &["spec", "nodeName"])),
        or_none(s(o, &["status", "nominatedNodeName"])),
        if gates == 0 {
            json!("<none>")
        } else {
            json!(format!("0/{gates}"))
        },
    ]
}

fn node_cells(o: &Value, age: Value) -> Vec<Value> {
    let conds = o.pointer("/status/conditions").and_then(Value::as_array);
    let ready = conds
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"] == "True");
    let mut status = match ready {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let addr = |t: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|x| x["type"] == t))
            .map(|x| s(x, &["address"]))
            .unwrap_or("")
    };
    vec![
        json!(s(o, &["metadata", "name"])),
        json!(status),
        or_none(&roles.join(",")),
        age,
        json!(s(o, &["status", "nodeInfo", "kubeletVersion"])),
        or_none(addr("InternalIP")),
        or_none(addr("ExternalIP")),
        or_none(s(o, &["status", "nodeInfo", "osImage"])),
        or_none(s(o, &["status", "nodeInfo", "kernelVersion"])),
        or_none(s(o, &["status", "nodeInfo", "containerRuntimeVersion"])),
    ]
}

fn cells(kind: &str, o: &Value, now: i64) -> Vec<Value> {
    let created = s(o, &["metadata", "creationTimestamp"]);
    let age = match parse_rfc3339(created) {
        Some(t) => json!(human_age(now - t)),
        None => json!("<unknown>"),
    };
    match kind {
        "Pod" => pod_cells(o, age),
        "Node" => node_cells(o, age),
        "Namespace" => vec![
            json!(s(o, &["metadata", "name"])),
            json!(s(o, &["status", "phase"])),
            age,
        ],
        _ => vec![json!(s(o, &["metadata", "name"])), json!(created)],
    }
}

/// The PartialObjectMetadata form of an object.
pub fn partial_metadata(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A Table of `objs` (of resource `res`) as JSON bytes.
pub fn table_json(
    res: &Resource,
    objs: &[&Value],
    version: &str,
    meta: ListMeta,
    include: IncludeObject,
    now: i64,
) -> Vec<u8> {
    let rows = objs
        .iter()
        .map(|o| {
            let object = match include {
                IncludeObject::None => None,
                IncludeObject::Metadata => Some(partial_metadata(o)),
                IncludeObject::Object => Some((*o).clone()),
            };
            RowOut {
                cells: cells(res.kind, o, now),
                object: object.map(OrderedValue),
            }
        })
        .collect();
    let t = Table {
        kind: "Table",
        api_version: format!("meta.k8s.io/{version}"),
        metadata: meta,
        columns: columns(res.kind),
        rows,
    };
    serde_json::to_vec(&t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apidouble::resources::{find, get};

    fn capture() -> Value {
        let p = format!(
            "{}/tests/fixtures/k8s-captures/list-pods.table.json.body",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(p).expect("capture")).expect("json")
    }

    #[test]
    fn pod_table_has_the_captured_shape() {
        let real = capture();
        let pods = get(find("", "v1", "pods").expect("pods")).expect("pods");
        let list: Value = serde_json::from_slice(
            &std::fs::read(format!(
                "{}/tests/fixtures/k8s-captures/list-pods.json.body",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("list"),
        )
        .expect("json");
        let items: Vec<&Value> = list["items"].as_array().expect("items").iter().collect();
        let created = parse_rfc3339("2026-11-25T17:18:26Z").expect("time");
        let meta = ListMeta {
            resource_version: "72".into(),
            ..Default::default()
        };
        let ours: Value = serde_json::from_slice(&table_json(
            pods,
            &items,
            "v1",
            meta,
            IncludeObject::Metadata,
            created + 1,
        ))
        .expect("json");
        let names = |v: &Value| {
            v["columnDefinitions"]
                .as_array()
                .expect("cols")
                .iter()
                .map(|c| c["name"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&ours), names(&real));
        assert_eq!(ours["rows"][0]["cells"], real["rows"][0]["cells"]);
        assert_eq!(
            ours["rows"][0]["object"]["metadata"],
            real["rows"][0]["object"]["metadata"]
        );
        assert_eq!(ours["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        let keys = |v: &Value| {
            v.as_object()
                .expect("obj")
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut rk = keys(&real);
        let mut ok = keys(&ours);
        rk.sort();
        ok.sort();
        assert_eq!(ok, rk);
        let raw = String::from_utf8(table_json(
            pods,
            &items,
            "v1",
            ListMeta::default(),
            IncludeObject::None,
            0,
        ))
        .expect("utf8");
        assert!(
            raw.starts_with(r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"#),
            "{raw}"
        );
        assert!(!raw.contains("\"object\""));
    }

    #[test]
    fn nodes_and_others() {
        let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/edge": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.32.0"},
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}});
        let c = cells("Node", &node, 0);
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "edge");
        assert_eq!(c[4], "v1.32.0");
        assert_eq!(c[5], "10.0.0.5");
        assert_eq!(c[6], "<none>");
        let cm = json!({"metadata": {"name": "c", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(
            cells("ConfigMap", &cm, 0),
            vec![json!("c"), json!("2026-01-01T00:00:00Z")]
        );
        assert_eq!(columns("ConfigMap")[1].name, "Created At");
    }
}
