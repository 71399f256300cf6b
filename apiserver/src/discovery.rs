//! Discovery: `/api`, `/apis`, the per-group and per-version documents, legacy and aggregated.
//!
//! Everything is derived from the resource table, so discovery can never list a resource the
//! router does not serve. kubectl 1.32 asks `/api` and `/apis` for the aggregated form
//! (`APIGroupDiscoveryList`, apidiscovery.k8s.io/v2) and falls back to the legacy documents.

use corten_apis::resources::{self, RESOURCES};
use corten_apis::ResourceInfo;
use serde_json::{json, Value};

/// `GET /api`: the legacy core versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_doc(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions.iter().map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v })).collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`: every named group (legacy `APIGroupList`).
pub fn group_list() -> Value {
    let groups: Vec<Value> = resources::groups().iter().filter(|(g, _)| !g.is_empty()).map(|(g, v)| group_doc(g, v)).collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `GET /apis/<group>`, if served.
pub fn group(name: &str) -> Option<Value> {
    let groups = resources::groups();
    let (g, v) = groups.iter().find(|(g, _)| *g == name && !g.is_empty())?;
    let mut doc = group_doc(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn scope(info: &ResourceInfo) -> &'static str {
    if info.namespaced { "Namespaced" } else { "Cluster" }
}

/// `GET /api/v1` or `/apis/<group>/<version>`: the legacy `APIResourceList`, if served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for info in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        let mut entry = json!({
            "name": info.plural,
            "singularName": info.singular(),
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": info.verbs,
        });
        if !info.short_names.is_empty() {
            entry["shortNames"] = json!(info.short_names);
        }
        if !info.categories.is_empty() {
            entry["categories"] = json!(info.categories);
        }
        resources.push(entry);
        for sub in info.subresources {
            let mut entry = json!({
                "name": format!("{}/{}", info.plural, sub.name),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": sub.kind.map_or(info.kind, |(_, _, k)| k),
                "verbs": sub.verbs,
            });
            if let Some((g, v, _)) = sub.kind {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            resources.push(entry);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources }))
}

fn aggregated_version(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .map(|info| {
            let subresources: Vec<Value> = info
                .subresources
                .iter()
                .map(|sub| {
                    let (g, v, k) = sub.kind.unwrap_or((info.group, info.version, info.kind));
                    json!({ "subresource": sub.name, "responseKind": { "group": g, "version": v, "kind": k }, "verbs": sub.verbs })
                })
                .collect();
            let mut entry = json!({
                "resource": info.plural,
                "responseKind": { "group": info.group, "version": info.version, "kind": info.kind },
                "scope": scope(info),
                "singularResource": info.singular(),
                "verbs": info.verbs,
            });
            if !info.short_names.is_empty() {
                entry["shortNames"] = json!(info.short_names);
            }
            if !info.categories.is_empty() {
                entry["categories"] = json!(info.categories);
            }
            if !subresources.is_empty() {
                entry["subresources"] = json!(subresources);
            }
            entry
        })
        .collect();
    json!({ "version": version, "resources": resources, "freshness": "Current" })
}

/// `GET /api` or `/apis` as `APIGroupDiscoveryList` (aggregated discovery v2).
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = resources::groups()
        .iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            json!({
                "metadata": { "name": g, "creationTimestamp": null },
                "versions": versions.iter().map(|v| aggregated_version(g, v)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items })
}

/// The Content-Type of aggregated discovery responses.
pub const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resource_list_includes_subresources_with_their_kinds() {
        let list = resource_list("", "v1").expect("core served");
        let names: Vec<&str> = list["resources"].as_array().expect("array").iter().filter_map(|r| r["name"].as_str()).collect();
        assert!(names.contains(&"pods"));
        assert!(names.contains(&"pods/status"));
        let deploy = resource_list("apps", "v1").expect("apps served");
        let scale = deploy["resources"].as_array().expect("array").iter().find(|r| r["name"] == "deployments/scale").expect("scale");
        assert_eq!(scale["kind"], "Scale");
        assert_eq!(scale["group"], "autoscaling");
    }

    #[test]
    fn aggregated_discovery_separates_core_from_groups() {
        let core = aggregated(true);
        assert_eq!(core["items"].as_array().expect("array").len(), 1);
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        let groups = aggregated(false);
        assert!(groups["items"].as_array().expect("array").iter().any(|g| g["metadata"]["name"] == "apps"));
        assert!(group("nosuch.io").is_none());
        assert!(group("apps").is_some());
    }
}
