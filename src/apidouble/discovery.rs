//! Discovery: `/version`, `/api` (APIVersions), `/apis` (APIGroupList), `/apis/<g>` (APIGroup),
//! `/api/v1` and `/apis/<g>/<v>` (APIResourceList), and aggregated `apidiscovery.k8s.io/v2`.

use hyper::Response;
use serde::Serialize;

use super::errors::DoubleError;
use super::negotiate::{negotiate, Form};
use super::path::Route;
use super::render::{body_json, respond};
use super::resources::{self, Resource, Subresource, RESOURCES};
use crate::net::http::Body;

/// `/version`, as the captured v1.36 server answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub major: &'static str,
    pub minor: &'static str,
    pub emulation_major: &'static str,
    pub emulation_minor: &'static str,
    pub min_compatibility_major: &'static str,
    pub min_compatibility_minor: &'static str,
    pub git_version: &'static str,
    pub git_commit: &'static str,
    pub git_tree_state: &'static str,
    pub build_date: &'static str,
    pub go_version: &'static str,
    pub compiler: &'static str,
    pub platform: &'static str,
}

/// The version the double claims.
pub fn version() -> Version {
    Version {
        major: "1",
        minor: "36",
        emulation_major: "1",
        emulation_minor: "36",
        min_compatibility_major: "1",
        min_compatibility_minor: "35",
        git_version: "v1.36.2",
        git_commit: "98b35193b2ac7a23a673325f5e9b830ecd5ba406",
        git_tree_state: "clean",
        build_date: "2026-11-25T17:02:32Z",
        go_version: "go1.26.6",
        compiler: "gc",
        platform: "linux/amd64",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiResource {
    name: String,
    singular_name: &'static str,
    namespaced: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'static [&'static str],
}

fn resource_list(group: &str, version: &str) -> serde_json::Value {
    let mut out = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        out.push(ApiResource {
            name: r.name.into(),
            singular_name: r.singular,
            namespaced: r.namespaced,
            group: "",
            version: "",
            kind: r.kind,
            verbs: resources::ALL_VERBS,
            short_names: r.short_names,
            categories: r.categories,
        });
        for s in r.subresources {
            out.push(ApiResource {
                name: format!("{}/{}", r.name, s.name),
                singular_name: "",
                namespaced: r.namespaced,
                group: s.group,
                version: s.version,
                kind: s.kind,
                verbs: s.verbs,
                short_names: &[],
                categories: &[],
            });
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    serde_json::json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out})
}

fn api_group(g: &str) -> serde_json::Value {
    let gv = serde_json::json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
    serde_json::json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DiscoSub {
    subresource: &'static str,
    response_kind: ResponseKind,
    verbs: &'static [&'static str],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DiscoResource {
    resource: &'static str,
    response_kind: ResponseKind,
    scope: &'static str,
    singular_resource: &'static str,
    verbs: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    short_names: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    categories: &'static [&'static str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subresources: Vec<DiscoSub>,
}

fn disco_resource(r: &Resource) -> DiscoResource {
    let sub = |s: &Subresource| DiscoSub {
        subresource: s.name,
        response_kind: ResponseKind {
            group: s.group,
            version: s.version,
            kind: s.kind,
        },
        verbs: s.verbs,
    };
    DiscoResource {
        resource: r.name,
        response_kind: ResponseKind {
            group: "",
            version: "",
            kind: r.kind,
        },
        scope: if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        },
        singular_resource: r.singular,
        verbs: resources::ALL_VERBS,
        short_names: r.short_names,
        categories: r.categories,
        subresources: r.subresources.iter().map(sub).collect(),
    }
}

/// The aggregated discovery document for the core group (`core`) or all named groups.
fn aggregated(core: bool) -> serde_json::Value {
    let items: Vec<serde_json::Value> = resources::groups()
        .into_iter()
        .filter(|g| g.is_empty() == core)
        .map(|g| {
            let res: Vec<DiscoResource> = RESOURCES.iter().filter(|r| r.group == g).map(disco_resource).collect();
            let meta = if g.is_empty() { serde_json::json!({}) } else { serde_json::json!({"name": g}) };
            serde_json::json!({"metadata": meta, "versions": [{"version": "v1", "resources": res, "freshness": "Current"}]})
        })
        .collect();
    serde_json::json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// Answers a discovery route.
pub fn answer(
    route: &Route,
    accept: &str,
    host: &str,
    pretty: bool,
) -> Result<Response<Body>, DoubleError> {
    let aggregated_ok = matches!(route, Route::ApiRoot | Route::ApisRoot);
    let neg = negotiate(accept, aggregated_ok)?;
    if neg.form == Form::AggregatedDiscovery {
        let doc = aggregated(*route == Route::ApiRoot);
        return Ok(respond(
            200,
            neg.content_type(),
            body_json(&super::meta::Ordered(&doc), pretty),
        ));
    }
    let doc = match route {
        Route::ApiRoot => serde_json::json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}),
        Route::ApisRoot => {
            let groups: Vec<_> = resources::groups()
                .into_iter()
                .filter(|g| !g.is_empty())
                .map(api_group)
                .collect();
            serde_json::json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        Route::Group(g) => {
            let mut v = api_group(g);
            v["kind"] = "APIGroup".into();
            v["apiVersion"] = "v1".into();
            v
        }
        Route::GroupVersion(g, v) => resource_list(g, v),
        _ => return Err(DoubleError::UnknownPath(String::new())),
    };
    Ok(respond(
        200,
        "application/json",
        body_json(&super::meta::Ordered(&doc), pretty),
    ))
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

    #[test]
    fn version_equals_the_capture() {
        assert_eq!(
            serde_json::to_value(version()).expect("json"),
            capture("version.json.body")
        );
    }

    #[test]
    fn aggregated_entries_match_the_real_ones() {
        let real = capture("discovery-aggregated.json.body");
        let ours = aggregated(false);
        assert_eq!(ours["kind"], real["kind"]);
        assert_eq!(ours["apiVersion"], real["apiVersion"]);
        let find = |doc: &serde_json::Value, g: &str, r: &str| -> serde_json::Value {
            doc["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["metadata"]["name"] == g)
                .flat_map(|i| {
                    i["versions"][0]["resources"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .find(|x| x["resource"] == r)
                .unwrap_or_default()
        };
        for (g, r) in [
            ("coordination.k8s.io", "leases"),
            ("storage.k8s.io", "csinodes"),
            ("certificates.k8s.io", "certificatesigningrequests"),
            ("events.k8s.io", "events"),
        ] {
            let (o, x) = (find(&ours, g, r), find(&real, g, r));
            for k in [
                "resource",
                "responseKind",
                "scope",
                "singularResource",
                "verbs",
                "shortNames",
            ] {
                assert_eq!(o[k], x[k], "{g}/{r} {k}");
            }
        }
        let core = aggregated(true);
        let pods = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .expect("core")
            .iter()
            .find(|r| r["resource"] == "pods")
            .cloned()
            .unwrap_or_default();
        assert_eq!(pods["subresources"][0]["subresource"], "status");
        assert_eq!(core["items"][0]["metadata"], serde_json::json!({}));
    }

    #[test]
    fn resource_lists_name_subresources() {
        let l = resource_list("", "v1");
        let names: Vec<&str> = l["resources"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(
            names.contains(&"pods")
                && names.contains(&"pods/status")
                && names.contains(&"serviceaccounts/token")
        );
        assert_eq!(l["groupVersion"], "v1");
        assert_eq!(
            resource_list("coordination.k8s.io", "v1")["groupVersion"],
            "coordination.k8s.io/v1"
        );
    }
}
