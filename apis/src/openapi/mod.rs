//! The `/openapi/v2` and `/openapi/v3` documents, built from the typed schemas of the resource
//! table.
//!
//! Clients read these documents rather than compiled-in knowledge: `kubectl explain` walks the v3
//! schema of a kind (found by its `x-kubernetes-group-version-kind` extension), `kubectl apply`
//! computes three-way strategic merge patches from the `x-kubernetes-patch-*` extensions, and
//! kubectl decides whether to send `fieldValidation` by looking for that parameter on the PATCH
//! operations of a kind. So the documents follow upstream's shape: upstream definition names,
//! one path per resource, subresource and verb, and the extensions upstream puts on them.
//!
//! The documents are generated once per process (the resource table is static) in [`schemas`]
//! (definitions) and [`paths`] (operations); both public functions hand out clones.

mod patch_meta;
mod paths;
mod schemas;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::resources::RESOURCES;
use paths::Dialect;

/// The Kubernetes release the documents describe.
const KUBERNETES_VERSION: &str = "v1.33.0";

/// The Swagger 2.0 document served at `/openapi/v2`: every path and every definition.
pub fn v2_document() -> Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build_v2).clone()
}

/// The OpenAPI 3.0 documents served under `/openapi/v3/<path>`, one per served group-version,
/// keyed by that path (`api/v1`, `apis/apps/v1`, ...), in resource-table order.
pub fn v3_documents() -> Vec<(String, Value)> {
    static DOCUMENTS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    DOCUMENTS.get_or_init(build_v3).clone()
}

fn build_v2() -> Value {
    let catalog = schemas::catalog();
    let mut paths = Map::new();
    for resource in RESOURCES {
        paths::add_resource_paths(&mut paths, resource, Dialect::Swagger2);
    }
    let mut definitions = Map::new();
    for (name, schema) in catalog {
        definitions.insert(name.clone(), schemas::to_swagger2(name, schema));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

fn build_v3() -> Vec<(String, Value)> {
    let catalog = schemas::catalog();
    let mut group_versions: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !group_versions.contains(&(r.group, r.version)) {
            group_versions.push((r.group, r.version));
        }
    }
    group_versions
        .into_iter()
        .map(|(group, version)| {
            let mut paths = Map::new();
            for resource in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
                paths::add_resource_paths(&mut paths, resource, Dialect::OpenApi3);
            }
            let mut roots = BTreeSet::new();
            schemas::collect_refs(&Value::Object(paths.clone()), &mut roots);
            let mut components = Map::new();
            for name in schemas::closure(catalog, roots) {
                if let Some(schema) = catalog.get(&name) {
                    let converted = schemas::to_openapi3(&name, schema);
                    components.insert(name, converted);
                }
            }
            let path = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
            let document = json!({
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
                "paths": paths,
                "components": {"schemas": components},
            });
            (path, document)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn v3(path: &str) -> Value {
        v3_documents().into_iter().find(|(p, _)| p == path).map(|(_, d)| d).expect("document served")
    }

    /// Follows a `$ref` (directly or through a one-element `allOf`) to the named schema.
    fn resolve<'a>(document: &'a Value, schema: &'a Value, prefix: &str, section: &[&str]) -> &'a Value {
        let reference = schema
            .get("$ref")
            .or_else(|| schema.pointer("/allOf/0/$ref"))
            .and_then(Value::as_str);
        match reference {
            Some(r) => {
                let name = r.strip_prefix(prefix).expect("reference into this document");
                let mut at = document;
                for key in section {
                    at = &at[*key];
                }
                &at[name]
            }
            None => schema,
        }
    }

    fn assert_refs_resolve(document: &Value, prefix: &str, section: &[&str]) {
        let mut names = BTreeSet::new();
        schemas::collect_refs(document, &mut names);
        assert!(!names.is_empty());
        let mut defined = document;
        for key in section {
            defined = &defined[*key];
        }
        for name in names {
            assert!(defined.get(&name).is_some(), "{name} is referenced but not defined");
        }
        let text = document.to_string();
        let foreign = if prefix == schemas::SWAGGER2_REF_PREFIX {
            schemas::OPENAPI3_REF_PREFIX
        } else {
            schemas::SWAGGER2_REF_PREFIX
        };
        let at = text.find(foreign).map(|i| &text[i.saturating_sub(300)..i + 100]);
        assert!(at.is_none(), "references use {prefix} only: {at:?}");
    }

    #[test]
    fn v2_defines_every_kind_and_list_with_its_group_version_kind() {
        let document = v2_document();
        assert_eq!(document["swagger"], "2.0");
        assert_eq!(document["info"]["title"], "Kubernetes");
        let definitions = document["definitions"].as_object().expect("definitions");
        for r in RESOURCES {
            for kind in [r.kind, r.list_kind] {
                let wanted = json!({"group": r.group, "version": r.version, "kind": kind});
                let found = definitions.values().any(|d| {
                    d["x-kubernetes-group-version-kind"].as_array().is_some_and(|gvks| gvks.contains(&wanted))
                });
                assert!(found, "no definition for {r:?} {kind}");
            }
        }
        assert!(definitions.contains_key("io.k8s.api.apps.v1.Deployment"));
        assert!(definitions.contains_key("io.k8s.api.apps.v1.DeploymentList"));
        assert!(definitions.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        // Like upstream, only the Event kinds require metadata.
        assert!(definitions["io.k8s.api.apps.v1.Deployment"].get("required").is_none());
        let event_required = &definitions["io.k8s.api.core.v1.Event"]["required"];
        assert!(event_required.as_array().is_some_and(|r| r.contains(&json!("metadata"))));
    }

    #[test]
    fn every_reference_resolves_within_its_document() {
        assert_refs_resolve(&v2_document(), schemas::SWAGGER2_REF_PREFIX, &["definitions"]);
        let documents = v3_documents();
        let group_versions: BTreeSet<String> = RESOURCES.iter().map(|r| r.api_version()).collect();
        assert_eq!(documents.len(), group_versions.len());
        for (path, document) in &documents {
            assert_eq!(document["openapi"], "3.0.0", "{path}");
            assert_refs_resolve(document, schemas::OPENAPI3_REF_PREFIX, &["components", "schemas"]);
        }
    }

    /// Checks the keywords of a schema and of its subschemas (not property names).
    fn assert_openapi_schema(schema: &Value, at: &str) {
        let Value::Object(object) = schema else {
            panic!("schema at {at} is not an object: {schema}");
        };
        for keyword in ["$schema", "$defs", "const", "prefixItems", "unevaluatedProperties"] {
            assert!(!object.contains_key(keyword), "{keyword} at {at}");
        }
        if let Some(t) = object.get("type") {
            assert!(t.is_string(), "type {t} at {at}");
        }
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, s) in properties {
                assert_openapi_schema(s, &format!("{at}.{name}"));
            }
        }
        if let Some(items) = object.get("items") {
            assert_openapi_schema(items, &format!("{at}[]"));
        }
        if let Some(additional @ Value::Object(_)) = object.get("additionalProperties") {
            assert_openapi_schema(additional, &format!("{at}{{}}"));
        }
        for alternatives in ["allOf", "anyOf", "oneOf"] {
            for s in object.get(alternatives).and_then(Value::as_array).into_iter().flatten() {
                assert_openapi_schema(s, &format!("{at}/{alternatives}"));
            }
        }
    }

    #[test]
    fn no_json_schema_2020_constructs_remain() {
        let v2 = v2_document();
        for (name, schema) in v2["definitions"].as_object().expect("definitions") {
            assert!(schema.get("allOf").is_none(), "v2 keeps $ref siblings: {name}");
            assert_openapi_schema(schema, name);
        }
        for (path, document) in &v3_documents() {
            for (name, schema) in document["components"]["schemas"].as_object().expect("schemas") {
                assert_openapi_schema(schema, &format!("{path} {name}"));
            }
        }
    }

    #[test]
    fn deployment_containers_resolve_to_container_with_described_image() {
        let document = v3("apis/apps/v1");
        let prefix = schemas::OPENAPI3_REF_PREFIX;
        let section = ["components", "schemas"];
        let schemas_map = document["components"]["schemas"].as_object().expect("schemas");
        let deployment = schemas_map
            .values()
            .find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|g| g.contains(&json!({"group": "apps", "version": "v1", "kind": "Deployment"})))
            })
            .expect("Deployment in apps/v1");
        let mut at = deployment;
        for field in ["spec", "template", "spec", "containers"] {
            at = resolve(&document, &at["properties"][field], prefix, &section);
        }
        assert_eq!(at["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(at["x-kubernetes-patch-strategy"], "merge");
        let container = resolve(&document, &at["items"], prefix, &section);
        let image = container["properties"]["image"]["description"].as_str().expect("image description");
        assert!(image.to_lowercase().contains("image"));
        // A field's own description sits next to an allOf-wrapped reference, as in OpenAPI 3.0.
        let spec = &deployment["properties"]["spec"];
        assert!(spec["allOf"].is_array() && spec["description"].is_string(), "{spec}");
    }

    #[test]
    fn int_or_string_and_quantity_take_upstream_shapes() {
        let document = v2_document();
        let int_or_string = &document["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["type"], "string");
        assert_eq!(int_or_string["format"], "int-or-string");
        let quantity = &document["definitions"]["io.k8s.apimachinery.pkg.api.resource.Quantity"];
        assert_eq!(quantity["type"], "string");
        let time = &document["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.Time"];
        assert_eq!(time["format"], "date-time");
        let core = v3("api/v1");
        let schemas = &core["components"]["schemas"];
        let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
        assert!(int_or_string.get("type").is_none());
        let quantity = &schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"];
        assert_eq!(quantity["oneOf"], json!([{"type": "string"}, {"type": "number"}]));
    }

    fn has_field_validation(operation: &Value) -> bool {
        operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"))
    }

    #[test]
    fn every_patch_operation_declares_field_validation_in_both_dialects() {
        let deployment_gvk = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
        let v2 = v2_document();
        let v3 = v3("apis/apps/v1");
        for document in [&v2, &v3] {
            let paths = document["paths"].as_object().expect("paths");
            let patches: Vec<&Value> = paths.values().filter_map(|p| p.get("patch")).collect();
            assert!(!patches.is_empty());
            assert!(patches.iter().all(|op| has_field_validation(op)));
            assert!(patches.iter().any(|op| op["x-kubernetes-group-version-kind"] == deployment_gvk));
        }
        let patch = &v3["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        let content = patch["requestBody"]["content"].as_object().expect("patch body");
        assert!(content.contains_key("application/strategic-merge-patch+json"));
        assert!(content.contains_key("application/apply-patch+yaml"));
        let v2_patch = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(v2_patch["consumes"].as_array().is_some_and(|c| c.contains(&json!("application/merge-patch+json"))));
    }

    #[test]
    fn paths_follow_the_verbs_and_scope_of_each_resource() {
        let v2 = v2_document();
        let paths = v2["paths"].as_object().expect("paths");
        let pods = &paths["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(pods["get"]["x-kubernetes-action"], "list");
        assert_eq!(pods["get"]["operationId"], "listCoreV1NamespacedPod");
        assert_eq!(pods["delete"]["x-kubernetes-action"], "deletecollection");
        assert!(paths.contains_key("/api/v1/pods"));
        assert!(paths.contains_key("/api/v1/namespaces/{namespace}/pods/{name}/status"));
        // Namespaces have no deletecollection upstream (services do, since v1.31).
        assert!(paths["/api/v1/namespaces"].get("delete").is_none());
        assert_eq!(paths["/api/v1/namespaces/{namespace}/services"]["delete"]["x-kubernetes-action"], "deletecollection");
        // Cluster-scoped resources have no namespace segment.
        assert!(paths.contains_key("/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"));
        assert_eq!(
            paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["put"]["operationId"],
            "replaceRbacAuthorizationV1ClusterRole"
        );
        // The scale subresource exchanges autoscaling/v1 Scale.
        let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"];
        assert_eq!(scale["x-kubernetes-group-version-kind"]["kind"], "Scale");
        assert_eq!(scale["responses"]["200"]["schema"]["$ref"], "#/definitions/io.k8s.api.autoscaling.v1.Scale");
        // Read-only resources have no write operations.
        let component_statuses = &paths["/api/v1/componentstatuses/{name}"];
        assert!(component_statuses.get("get").is_some() && component_statuses.get("patch").is_none());
    }

    #[test]
    fn v3_documents_hold_only_their_group_version() {
        let apps = v3("apis/apps/v1");
        let paths = apps["paths"].as_object().expect("paths");
        assert!(paths.keys().all(|p| p.starts_with("/apis/apps/v1/")));
        let core = v3("api/v1");
        assert!(core["paths"].as_object().expect("paths").keys().all(|p| p.starts_with("/api/v1/")));
        assert!(core["components"]["schemas"].get("io.k8s.api.core.v1.Pod").is_some());
        assert!(core["components"]["schemas"].get("io.k8s.api.apps.v1.Deployment").is_none());
    }

    #[test]
    fn every_patch_marker_lands_on_a_generated_property() {
        let catalog = schemas::catalog();
        for entry in patch_meta::PATCH_META {
            let definition = catalog.get(entry.definition);
            let target = match definition {
                Some(d) if entry.property.is_empty() => Some(d),
                Some(d) => d["properties"].get(entry.property),
                None => None,
            };
            assert!(target.is_some(), "{}.{} is not generated", entry.definition, entry.property);
        }
    }

    #[test]
    fn object_meta_carries_upstream_merge_keys() {
        let v2 = v2_document();
        let meta = &v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
        assert_eq!(meta["ownerReferences"]["x-kubernetes-patch-merge-key"], "uid");
        assert_eq!(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge");
        let selector = &v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"];
        assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    }
}
