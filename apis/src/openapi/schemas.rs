//! The definitions shared by every document, named and shaped like upstream's.
//!
//! The `k8s-openapi` types already name their schemas with upstream's dotted names
//! (`io.k8s.api.apps.v1.Deployment`), so one generator run over the resource table yields the
//! definitions. What schemars emits is JSON Schema 2020-12; Swagger 2.0 and OpenAPI 3.0 differ
//! (single `type`, no boolean schemas, `$ref` siblings), so each schema is normalized here, and
//! what the Go types declare through struct tags (merge keys, list types) is added from
//! [`super::patch_meta`]. List kinds have no schema in `k8s-openapi` and are built here.
//!
//! The catalog keeps Swagger 2.0 references (`#/definitions/<name>`); [`to_openapi3`] rewrites
//! them for a v3 document.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::{Binding, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ListMeta, Patch, Status, WatchEvent};
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use super::patch_meta::PATCH_META;
use crate::resources::RESOURCES;

/// Where Swagger 2.0 keeps definitions, as a `$ref` prefix.
pub(super) const SWAGGER2_REF_PREFIX: &str = "#/definitions/";
/// Where OpenAPI 3.0 keeps schemas, as a `$ref` prefix.
pub(super) const OPENAPI3_REF_PREFIX: &str = "#/components/schemas/";

/// Upstream's IntOrString definition: an integer or a string, which JSON Schema can only say
/// with `oneOf` and Swagger 2.0 not at all.
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
/// Upstream's Quantity definition: a string, though a bare number is accepted too.
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// The list metadata every List kind carries.
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// Every definition, by upstream name, with Swagger 2.0 references. Built once.
pub(super) fn catalog() -> &'static Map<String, Value> {
    static CATALOG: OnceLock<Map<String, Value>> = OnceLock::new();
    CATALOG.get_or_init(build_catalog)
}

/// The upstream definition name of a kind: the kind's schema name with the kind replaced, which
/// also names the List kind (`io.k8s.api.apps.v1.DeploymentList`) next to its item.
pub(super) fn definition_name(kind_schema_name: &str, kind: &str) -> String {
    match kind_schema_name.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{kind}"),
        None => kind.to_string(),
    }
}

/// The definition carrying this group-version-kind, e.g. `io.k8s.api.apps.v1.Deployment`.
pub(super) fn kind_definition(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    let wanted = json!({"group": group, "kind": kind, "version": version});
    catalog().iter().find_map(|(name, schema)| {
        let gvks = schema.get("x-kubernetes-group-version-kind")?.as_array()?;
        gvks.contains(&wanted).then_some(name.as_str())
    })
}

fn build_catalog() -> Map<String, Value> {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
    });
    let mut generator = SchemaGenerator::new(settings);
    let mut kinds = Vec::new();
    for resource in RESOURCES {
        let reference = (resource.schema)(&mut generator);
        if let Some(name) = reference.get("$ref").and_then(Value::as_str).and_then(ref_name) {
            kinds.push((name.to_string(), resource.group, resource.version, resource.kind, resource.list_kind));
        }
    }
    let scale = generator.subschema_for::<Scale>();
    let binding = generator.subschema_for::<Binding>();
    // Definitions the operations refer to besides the kinds themselves.
    generator.subschema_for::<ListMeta>();
    generator.subschema_for::<DeleteOptions>();
    generator.subschema_for::<Status>();
    generator.subschema_for::<Patch>();
    // The watch event schema does not depend on the object type; any kind will do.
    generator.subschema_for::<WatchEvent<Pod>>();
    let mut definitions = generator.take_definitions(false);
    for schema in definitions.values_mut() {
        normalize(schema);
    }
    for (name, group, version, kind, list_kind) in kinds {
        if !METADATA_REQUIRED.contains(&(group, kind)) {
            if let Some(schema) = definitions.get_mut(&name) {
                make_metadata_optional(schema);
            }
        }
        set_gvk(&mut definitions, &name, group, version, kind);
        let list_name = definition_name(&name, list_kind);
        definitions.insert(list_name.clone(), list_schema(&name, kind));
        set_gvk(&mut definitions, &list_name, group, version, list_kind);
    }
    for (reference, gvk) in [(&scale, ("autoscaling", "v1", "Scale")), (&binding, ("", "v1", "Binding"))] {
        if let Some(name) = reference.get("$ref").and_then(Value::as_str).and_then(ref_name) {
            set_gvk(&mut definitions, name, gvk.0, gvk.1, gvk.2);
        }
    }
    apply_patch_meta(&mut definitions);
    definitions
}

/// The definition name a `$ref` points to, in either document dialect.
pub(super) fn ref_name(reference: &str) -> Option<&str> {
    reference.strip_prefix(SWAGGER2_REF_PREFIX).or_else(|| reference.strip_prefix(OPENAPI3_REF_PREFIX))
}

/// Rewrites JSON Schema 2020-12 constructs into what Swagger 2.0 and OpenAPI 3.0 both accept:
/// a single `type` (a nullable type list becomes its non-null member), `const` as a one-value
/// `enum`, no `$schema`, and no boolean subschemas.
fn normalize(schema: &mut Value) {
    let Value::Object(object) = schema else { return };
    object.remove("$schema");
    if let Some(Value::Array(types)) = object.get("type") {
        match types.iter().filter_map(Value::as_str).find(|t| *t != "null").map(str::to_string) {
            Some(single) => object.insert("type".into(), Value::String(single)),
            None => object.remove("type"),
        };
    }
    if let Some(Value::Array(options)) = object.get("enum") {
        let without_null: Vec<Value> = options.iter().filter(|v| !v.is_null()).cloned().collect();
        object.insert("enum".into(), Value::Array(without_null));
    }
    if let Some(constant) = object.remove("const") {
        object.insert("enum".into(), Value::Array(vec![constant]));
    }
    for (keyword, value) in object.iter_mut() {
        match keyword.as_str() {
            "properties" | "patternProperties" => {
                if let Value::Object(named) = value {
                    named.values_mut().for_each(normalize_subschema);
                }
            }
            "items" | "not" => normalize_subschema(value),
            // A boolean `additionalProperties` is valid in both dialects.
            "additionalProperties" => normalize(value),
            "allOf" | "anyOf" | "oneOf" => {
                if let Value::Array(alternatives) = value {
                    alternatives.iter_mut().for_each(normalize_subschema);
                }
            }
            _ => {}
        }
    }
}

/// Normalizes a subschema; the boolean schema `true` (anything) becomes the empty schema.
fn normalize_subschema(value: &mut Value) {
    if value.as_bool() == Some(true) {
        *value = json!({});
    }
    normalize(value);
}

/// The kinds whose Go type requires `metadata` (the field has no `omitempty`); every other kind
/// declares it optional upstream, though the Rust types always carry it.
const METADATA_REQUIRED: &[(&str, &str)] = &[("", "Event"), ("events.k8s.io", "Event")];

fn make_metadata_optional(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else { return };
    let Some(Value::Array(required)) = object.get_mut("required") else { return };
    required.retain(|field| field != "metadata");
    if required.is_empty() {
        object.remove("required");
    }
}

fn set_gvk(definitions: &mut Map<String, Value>, name: &str, group: &str, version: &str, kind: &str) {
    if let Some(Value::Object(schema)) = definitions.get_mut(name) {
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": group, "kind": kind, "version": version}]),
        );
    }
}

/// The schema of `<Kind>List`, shaped like every upstream List kind.
fn list_schema(item_name: &str, kind: &str) -> Value {
    json!({
        "description": format!("A list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "The versioned schema of this representation of an object (group/version).",
                "type": "string",
            },
            "items": {
                "description": format!("The {kind} objects in the list."),
                "type": "array",
                "items": {"$ref": format!("{SWAGGER2_REF_PREFIX}{item_name}")},
            },
            "kind": {
                "description": "The REST resource this object represents, in CamelCase.",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{SWAGGER2_REF_PREFIX}{LIST_META}"),
                "description": "Standard list metadata.",
            },
        },
        "required": ["items"],
    })
}

/// Adds the strategic-merge-patch and list/map-type extensions to the properties that declare
/// them upstream.
fn apply_patch_meta(definitions: &mut Map<String, Value>) {
    for entry in PATCH_META {
        let Some(definition) = definitions.get_mut(entry.definition) else { continue };
        let target = if entry.property.is_empty() {
            Some(definition)
        } else {
            definition.get_mut("properties").and_then(|p| p.get_mut(entry.property))
        };
        let Some(property) = target.and_then(Value::as_object_mut) else { continue };
        if let Some(strategy) = entry.patch_strategy {
            property.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        }
        if let Some(key) = entry.patch_merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        if let Some(list_type) = entry.list_type {
            property.insert("x-kubernetes-list-type".into(), json!(list_type));
        }
        if !entry.list_map_keys.is_empty() {
            property.insert("x-kubernetes-list-map-keys".into(), json!(entry.list_map_keys));
        }
        if let Some(map_type) = entry.map_type {
            property.insert("x-kubernetes-map-type".into(), json!(map_type));
        }
    }
}

/// A definition as it appears in the Swagger 2.0 document. The scalars that accept two JSON
/// types are declared as strings, as upstream does (Swagger 2.0 has no `oneOf`).
pub(super) fn to_swagger2(name: &str, schema: &Value) -> Value {
    let mut out = schema.clone();
    if let Some(object) = out.as_object_mut() {
        match name {
            INT_OR_STRING => {
                object.insert("type".into(), json!("string"));
                object.insert("format".into(), json!("int-or-string"));
            }
            QUANTITY => {
                object.remove("x-kubernetes-int-or-string");
                object.insert("type".into(), json!("string"));
            }
            _ => {}
        }
    }
    out
}

/// A definition as it appears in an OpenAPI 3.0 document (see [`openapi3_schema`]). The scalars
/// that accept two JSON types list both in `oneOf`, as upstream does; having no single `type`
/// also makes `kubectl explain` show them by name (`<IntOrString>`, `<Quantity>`).
pub(super) fn to_openapi3(name: &str, schema: &Value) -> Value {
    let mut out = openapi3_schema(schema);
    if let Some(object) = out.as_object_mut() {
        match name {
            INT_OR_STRING => {
                object.insert("format".into(), json!("int-or-string"));
                object.insert("oneOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
            }
            QUANTITY => {
                object.remove("x-kubernetes-int-or-string");
                object.insert("oneOf".into(), json!([{"type": "string"}, {"type": "number"}]));
            }
            _ => {}
        }
    }
    out
}

/// A schema in OpenAPI 3.0 form: references point into `components/schemas`, and a reference
/// with sibling keywords (a field's own description) is wrapped in `allOf`, since OpenAPI 3.0
/// ignores siblings of `$ref`.
fn openapi3_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (keyword, value) in object {
        let converted = match (keyword.as_str(), value) {
            ("$ref", Value::String(reference)) => {
                Value::String(format!("{OPENAPI3_REF_PREFIX}{}", ref_name(reference).unwrap_or(reference)))
            }
            ("properties" | "patternProperties", Value::Object(named)) => {
                Value::Object(named.iter().map(|(name, s)| (name.clone(), openapi3_schema(s))).collect())
            }
            ("items" | "additionalProperties" | "not", _) => openapi3_schema(value),
            ("allOf" | "anyOf" | "oneOf", Value::Array(alternatives)) => {
                Value::Array(alternatives.iter().map(openapi3_schema).collect())
            }
            _ => value.clone(),
        };
        out.insert(keyword.clone(), converted);
    }
    if out.len() > 1 {
        if let Some(reference) = out.remove("$ref") {
            out.insert("allOf".into(), json!([{"$ref": reference}]));
        }
    }
    Value::Object(out)
}

/// Adds the name of every definition referenced anywhere in `value`.
pub(super) fn collect_refs(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(ref_name) {
                names.insert(name.to_string());
            }
            object.values().for_each(|v| collect_refs(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, names)),
        _ => {}
    }
}

/// The given definitions and every definition they reference, transitively.
pub(super) fn closure(catalog: &Map<String, Value>, roots: BTreeSet<String>) -> BTreeSet<String> {
    let mut done = BTreeSet::new();
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = catalog.get(&name) {
            let mut found = BTreeSet::new();
            collect_refs(schema, &mut found);
            pending.extend(found.into_iter().filter(|n| !done.contains(n)));
        }
    }
    done
}
