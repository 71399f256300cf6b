//! Encoding of the OpenAPI v2 (Swagger 2.0) document as the gnostic `openapi.v2.Document`
//! protobuf message, the form `/openapi/v2` takes for
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
//!
//! Why: `kubectl` asks for the v2 document in that protobuf form only (client-side validation,
//! e.g. of a `kind: List` file), and gives up when the server can answer with JSON alone. The
//! message schema is gnostic's `openapiv2/OpenAPIv2.proto`, compiled into the descriptor set
//! `proto/openapi_v2.desc` (regenerate with `scripts/gen-openapi-v2-descriptor.sh`); the message is
//! built reflectively with `prost-reflect` by walking the JSON document alongside the schema.
//!
//! Most JSON objects map onto a message field by field (`camelCase` key -> `snake_case` field,
//! `$ref` -> `_ref`). The exceptions are gnostic's own modelling choices:
//! - JSON maps become repeated `Named*` pairs (`definitions`, `properties`, `paths`, `responses`,
//!   ...), here in sorted key order, as upstream's JSON (from Go maps) is sorted too;
//! - `x-*` keys become `vendor_extension` entries whose `Any.yaml` holds the value as YAML text,
//!   which is what kubectl parses back (e.g. `x-kubernetes-group-version-kind`);
//! - values that JSON allows in several shapes become small wrappers or oneofs (`TypeItem`,
//!   `ItemsItem`, `AdditionalPropertiesItem`, `Parameter`, `ParametersItem`, `ResponseValue`, ...),
//!   chosen by the JSON shape or the `in`/`type` discriminator, as gnostic's compiler does.
//!
//! JSON that fits no field of the schema is skipped rather than rejected: a best-effort encoding
//! still lets kubectl validate, while an error would leave it with nothing.

use std::sync::OnceLock;

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::{Map, Value as Json};

/// The compiled gnostic OpenAPI v2 schema (a `FileDescriptorSet` without source info).
const DESCRIPTOR_SET: &[u8] = include_bytes!("../proto/openapi_v2.desc");

/// Full name of the top-level message.
const DOCUMENT_MESSAGE: &str = "openapi.v2.Document";

/// JSON nesting depth beyond which a document is rejected (protects the recursive walk).
const MAX_DEPTH: usize = 256;

/// Why the OpenAPI v2 document could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiV2Error {
    /// The document is not a JSON object.
    #[error("OpenAPI v2 document must be a JSON object")]
    NotAnObject,
    /// The document nests deeper than any real document does.
    #[error("OpenAPI v2 document nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The bundled schema could not be loaded or does not match the encoder (a build problem).
    #[error("OpenAPI v2 protobuf schema unusable: {0}")]
    Schema(String),
}

/// Encodes an OpenAPI v2 JSON document as gnostic `openapi.v2.Document` protobuf bytes.
pub fn encode_v2_document(doc: &Json) -> Result<Vec<u8>, OpenApiV2Error> {
    if !doc.is_object() {
        return Err(OpenApiV2Error::NotAnObject);
    }
    let document = pool()?
        .get_message_by_name(DOCUMENT_MESSAGE)
        .ok_or_else(|| OpenApiV2Error::Schema(format!("{DOCUMENT_MESSAGE} missing")))?;
    let message = message_from_json(&document, doc, 0)?.ok_or(OpenApiV2Error::NotAnObject)?;
    Ok(prost::Message::encode_to_vec(&message))
}

/// The descriptor pool, decoded once per process.
fn pool() -> Result<&'static DescriptorPool, OpenApiV2Error> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTOR_SET).map_err(|error| error.to_string()))
        .as_ref()
        .map_err(|reason| OpenApiV2Error::Schema(reason.clone()))
}

/// Builds a message of type `desc` from `json`; `None` when the JSON has a shape the message
/// cannot hold (the caller then leaves the field out).
fn message_from_json(
    desc: &MessageDescriptor,
    json: &Json,
    depth: usize,
) -> Result<Option<DynamicMessage>, OpenApiV2Error> {
    if depth > MAX_DEPTH {
        return Err(OpenApiV2Error::TooDeep);
    }
    let mut message = DynamicMessage::new(desc.clone());
    let filled = match desc.name() {
        "Any" => {
            set(&mut message, "yaml", Value::String(to_yaml(json)))?;
            true
        }
        "TypeItem" | "StringArray" => {
            let strings: Vec<Value> = match json {
                Json::String(text) => vec![Value::String(text.clone())],
                Json::Array(items) => items
                    .iter()
                    .filter_map(|item| item.as_str().map(|text| Value::String(text.to_owned())))
                    .collect(),
                _ => return Ok(None),
            };
            set(&mut message, "value", Value::List(strings))?;
            true
        }
        "ItemsItem" => {
            let schemas = match json {
                Json::Array(items) => items.as_slice(),
                Json::Object(_) => std::slice::from_ref(json),
                _ => return Ok(None),
            };
            set_json_list(&mut message, "schema", schemas, depth)?
        }
        "AdditionalPropertiesItem" => match json {
            Json::Bool(allowed) => {
                set(&mut message, "boolean", Value::Bool(*allowed))?;
                true
            }
            _ => set_json(&mut message, "schema", json, depth)?,
        },
        "Parameter" => {
            let choice = if discriminator(json, "in") == Some("body") {
                "body_parameter"
            } else {
                "non_body_parameter"
            };
            set_json(&mut message, choice, json, depth)?
        }
        "NonBodyParameter" => {
            let choice = match discriminator(json, "in") {
                Some("header") => "header_parameter_sub_schema",
                Some("formData") => "form_data_parameter_sub_schema",
                Some("query") => "query_parameter_sub_schema",
                Some("path") => "path_parameter_sub_schema",
                _ => return Ok(None),
            };
            set_json(&mut message, choice, json, depth)?
        }
        "ParametersItem" | "ResponseValue" => {
            let choice = match (json.get("$ref").is_some(), desc.name()) {
                (true, _) => "json_reference",
                (false, "ParametersItem") => "parameter",
                (false, _) => "response",
            };
            set_json(&mut message, choice, json, depth)?
        }
        "SchemaItem" => {
            let choice = if discriminator(json, "type") == Some("file") {
                "file_schema"
            } else {
                "schema"
            };
            set_json(&mut message, choice, json, depth)?
        }
        "SecurityDefinitionsItem" => {
            let choice = match (discriminator(json, "type"), discriminator(json, "flow")) {
                (Some("basic"), _) => "basic_authentication_security",
                (Some("apiKey"), _) => "api_key_security",
                (Some("oauth2"), Some("implicit")) => "oauth2_implicit_security",
                (Some("oauth2"), Some("password")) => "oauth2_password_security",
                (Some("oauth2"), Some("application")) => "oauth2_application_security",
                (Some("oauth2"), Some("accessCode")) => "oauth2_access_code_security",
                _ => return Ok(None),
            };
            set_json(&mut message, choice, json, depth)?
        }
        "Paths" => fill_named_map(&mut message, json, "path", depth)?,
        "Responses" => fill_named_map(&mut message, json, "response_code", depth)?,
        _ if is_named_map(desc) => {
            fill_named_map(&mut message, json, "additional_properties", depth)?
        }
        _ => fill_fields(&mut message, json, depth)?,
    };
    Ok(filled.then_some(message))
}

/// The string value of `key` in a JSON object, used to pick a oneof member.
fn discriminator<'a>(json: &'a Json, key: &str) -> Option<&'a str> {
    json.get(key).and_then(Json::as_str)
}

/// Whether a message models a JSON map: its only field is `repeated Named* additional_properties`.
fn is_named_map(desc: &MessageDescriptor) -> bool {
    let mut fields = desc.fields();
    match (fields.next(), fields.next()) {
        (Some(field), None) => field.name() == "additional_properties" && field.is_list(),
        _ => false,
    }
}

/// Fills a struct-like message: each JSON key sets the field of the same (snake-cased) name, and
/// `x-*` keys become vendor extensions. Returns false when `json` is not an object.
fn fill_fields(
    message: &mut DynamicMessage,
    json: &Json,
    depth: usize,
) -> Result<bool, OpenApiV2Error> {
    let Json::Object(object) = json else {
        return Ok(false);
    };
    let desc = message.descriptor();
    let mut extensions = Vec::new();
    for (key, value) in object {
        if key.starts_with("x-") {
            extensions.push((key, value));
            continue;
        }
        let field_name = if key == "$ref" {
            "_ref".to_owned()
        } else {
            snake_case(key)
        };
        let Some(field) = desc.get_field_by_name(&field_name) else {
            continue;
        };
        if field.name() == "vendor_extension" {
            continue;
        }
        if let Some(field_value) = field_value(&field, value, depth)? {
            try_set(message, &field, field_value)?;
        }
    }
    if let Some(field) = desc.get_field_by_name("vendor_extension") {
        extensions.sort_by(|left, right| left.0.cmp(right.0));
        let entries = named_entries(&field, extensions, depth)?;
        if !entries.is_empty() {
            try_set(message, &field, Value::List(entries))?;
        }
    }
    Ok(true)
}

/// Fills a map-like message: each JSON entry becomes a `Named*` pair in `entries_field`, except
/// `x-*` keys, which go to `vendor_extension` when the message has one. Returns false when `json`
/// is not an object.
fn fill_named_map(
    message: &mut DynamicMessage,
    json: &Json,
    entries_field: &str,
    depth: usize,
) -> Result<bool, OpenApiV2Error> {
    let Json::Object(object) = json else {
        return Ok(false);
    };
    let desc = message.descriptor();
    let extension_field = desc.get_field_by_name("vendor_extension");
    let (extensions, entries): (Vec<_>, Vec<_>) = sorted(object)
        .into_iter()
        .partition(|(key, _)| extension_field.is_some() && key.starts_with("x-"));
    for (field_name, pairs) in [(entries_field, entries), ("vendor_extension", extensions)] {
        let Some(field) = desc.get_field_by_name(field_name) else {
            continue;
        };
        let named = named_entries(&field, pairs, depth)?;
        if !named.is_empty() {
            try_set(message, &field, Value::List(named))?;
        }
    }
    Ok(true)
}

/// The entries of a JSON object in sorted key order.
fn sorted(object: &Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut entries: Vec<_> = object.iter().collect();
    entries.sort_by(|left, right| left.0.cmp(right.0));
    entries
}

/// Builds `Named*` messages (`name` plus `value`) for the repeated field `field`, skipping values
/// that do not fit the pair's `value` type.
fn named_entries(
    field: &FieldDescriptor,
    pairs: Vec<(&String, &Json)>,
    depth: usize,
) -> Result<Vec<Value>, OpenApiV2Error> {
    let Kind::Message(named_desc) = field.kind() else {
        return Err(OpenApiV2Error::Schema(format!(
            "{} is not a message field",
            field.full_name()
        )));
    };
    let (Some(name_field), Some(value_field)) = (
        named_desc.get_field_by_name("name"),
        named_desc.get_field_by_name("value"),
    ) else {
        return Err(OpenApiV2Error::Schema(format!(
            "{} is not a name/value pair",
            named_desc.full_name()
        )));
    };
    let mut entries = Vec::with_capacity(pairs.len());
    for (name, json) in pairs {
        let Some(value) = field_value(&value_field, json, depth)? else {
            continue;
        };
        let mut entry = DynamicMessage::new(named_desc.clone());
        try_set(&mut entry, &name_field, Value::String(name.clone()))?;
        try_set(&mut entry, &value_field, value)?;
        entries.push(Value::Message(entry));
    }
    Ok(entries)
}

/// Converts `json` to the value of `field`; `None` when it does not fit the field's type.
fn field_value(
    field: &FieldDescriptor,
    json: &Json,
    depth: usize,
) -> Result<Option<Value>, OpenApiV2Error> {
    if !field.is_list() {
        return single_value(&field.kind(), json, depth);
    }
    let Json::Array(items) = json else {
        return Ok(None);
    };
    let kind = field.kind();
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        if let Some(value) = single_value(&kind, item, depth)? {
            values.push(value);
        }
    }
    Ok(Some(Value::List(values)))
}

/// Converts `json` to one value of protobuf type `kind`; `None` when it does not fit.
fn single_value(kind: &Kind, json: &Json, depth: usize) -> Result<Option<Value>, OpenApiV2Error> {
    Ok(match kind {
        Kind::String => json.as_str().map(|text| Value::String(text.to_owned())),
        Kind::Bool => json.as_bool().map(Value::Bool),
        Kind::Double => json.as_f64().map(Value::F64),
        Kind::Int64 => json
            .as_i64()
            .or_else(|| {
                json.as_f64()
                    .filter(|number| number.fract() == 0.0)
                    .map(|number| number as i64)
            })
            .map(Value::I64),
        Kind::Message(desc) => message_from_json(desc, json, depth + 1)?.map(Value::Message),
        _ => None,
    })
}

/// Sets field `name` of `message` to the conversion of `json`; returns whether it was set.
fn set_json(
    message: &mut DynamicMessage,
    name: &str,
    json: &Json,
    depth: usize,
) -> Result<bool, OpenApiV2Error> {
    let field = field_named(message, name)?;
    match field_value(&field, json, depth)? {
        Some(value) => {
            try_set(message, &field, value)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Sets the repeated field `name` of `message` to the conversion of each of `items`.
fn set_json_list(
    message: &mut DynamicMessage,
    name: &str,
    items: &[Json],
    depth: usize,
) -> Result<bool, OpenApiV2Error> {
    let field = field_named(message, name)?;
    let kind = field.kind();
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        if let Some(value) = single_value(&kind, item, depth)? {
            values.push(value);
        }
    }
    try_set(message, &field, Value::List(values))?;
    Ok(true)
}

/// Sets field `name` of `message` to `value`.
fn set(message: &mut DynamicMessage, name: &str, value: Value) -> Result<(), OpenApiV2Error> {
    let field = field_named(message, name)?;
    try_set(message, &field, value)
}

/// The field `name` of `message`'s type; its absence means the descriptor does not match.
fn field_named(message: &DynamicMessage, name: &str) -> Result<FieldDescriptor, OpenApiV2Error> {
    let desc = message.descriptor();
    desc.get_field_by_name(name)
        .ok_or_else(|| OpenApiV2Error::Schema(format!("{} has no field {name}", desc.full_name())))
}

/// Sets a field, reporting a type mismatch (a descriptor/encoder disagreement) as an error.
fn try_set(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    value: Value,
) -> Result<(), OpenApiV2Error> {
    message
        .try_set_field(field, value)
        .map_err(|error| OpenApiV2Error::Schema(error.to_string()))
}

/// `camelCase` -> `snake_case`, the proto field name of a JSON key.
fn snake_case(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + 4);
    for character in key.chars() {
        if character.is_ascii_uppercase() {
            name.push('_');
            name.push(character.to_ascii_lowercase());
        } else {
            name.push(character);
        }
    }
    name
}

/// Renders a JSON value as block-style YAML text, the form gnostic stores in `Any.yaml`.
fn to_yaml(value: &Json) -> String {
    let mut out = String::new();
    write_yaml(&mut out, value, 0);
    out
}

/// Appends `value` as YAML whose lines start at column `indent`; always ends with a newline.
fn write_yaml(out: &mut String, value: &Json, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Json::Object(object) if !object.is_empty() => {
            for (key, child) in sorted(object) {
                out.push_str(&pad);
                out.push_str(&yaml_string(key));
                out.push(':');
                if is_nonempty_collection(child) {
                    out.push('\n');
                    write_yaml(out, child, indent + 2);
                } else {
                    out.push(' ');
                    out.push_str(&yaml_scalar(child));
                    out.push('\n');
                }
            }
        }
        Json::Array(items) if !items.is_empty() => {
            for item in items {
                if is_nonempty_collection(item) {
                    // The item's block, with the dash taking the place of its first indentation.
                    let mut block = String::new();
                    write_yaml(&mut block, item, indent + 2);
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&block[indent + 2..]);
                } else {
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&yaml_scalar(item));
                    out.push('\n');
                }
            }
        }
        _ => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(value));
            out.push('\n');
        }
    }
}

/// Whether a value is written as an indented block (a non-empty object or array).
fn is_nonempty_collection(value: &Json) -> bool {
    match value {
        Json::Object(object) => !object.is_empty(),
        Json::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// A scalar or empty collection in YAML flow form.
fn yaml_scalar(value: &Json) -> String {
    match value {
        Json::String(text) => yaml_string(text),
        Json::Object(_) => "{}".to_owned(),
        Json::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// A YAML string: plain when it cannot be read as anything but that string, otherwise
/// double-quoted (JSON string syntax is valid YAML double-quoted syntax).
fn yaml_string(text: &str) -> String {
    const RESERVED: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    let plain = text
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '/')
        && text
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_./".contains(character))
        && !RESERVED.iter().any(|word| word.eq_ignore_ascii_case(text));
    if plain {
        text.to_owned()
    } else {
        Json::String(text.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(bytes: &[u8]) -> DynamicMessage {
        let desc = pool()
            .unwrap()
            .get_message_by_name(DOCUMENT_MESSAGE)
            .unwrap();
        DynamicMessage::decode(desc, bytes).unwrap()
    }

    fn field(message: &DynamicMessage, name: &str) -> Value {
        assert!(
            message.has_field_by_name(name),
            "{} has no {name}",
            message.descriptor().name()
        );
        message.get_field_by_name(name).unwrap().into_owned()
    }

    fn child(message: &DynamicMessage, name: &str) -> DynamicMessage {
        field(message, name).as_message().unwrap().clone()
    }

    fn text(message: &DynamicMessage, name: &str) -> String {
        field(message, name).as_str().unwrap().to_owned()
    }

    fn list(message: &DynamicMessage, name: &str) -> Vec<Value> {
        field(message, name).as_list().unwrap().to_vec()
    }

    /// The `value` of the `Named*` pair called `name` in the repeated field `field_name`.
    fn named(message: &DynamicMessage, field_name: &str, name: &str) -> DynamicMessage {
        let names: Vec<String> = list(message, field_name)
            .iter()
            .map(|entry| text(entry.as_message().unwrap(), "name"))
            .collect();
        let entry = list(message, field_name)
            .into_iter()
            .find(|entry| text(entry.as_message().unwrap(), "name") == name)
            .unwrap_or_else(|| panic!("no {name} in {field_name}: {names:?}"));
        child(entry.as_message().unwrap(), "value")
    }

    fn names(message: &DynamicMessage, field_name: &str) -> Vec<String> {
        list(message, field_name)
            .iter()
            .map(|entry| text(entry.as_message().unwrap(), "name"))
            .collect()
    }

    fn strings(message: &DynamicMessage, name: &str) -> Vec<String> {
        list(message, name)
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    }

    fn sample_document() -> Json {
        json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {
                "/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {
                    "parameters": [
                        {"$ref": "#/parameters/namespace-vgWSWtn3"},
                        {"name": "name", "in": "path", "required": true, "type": "string", "uniqueItems": true,
                         "description": "name of the Deployment"}
                    ],
                    "patch": {
                        "description": "partially update the specified Deployment",
                        "operationId": "patchAppsV1NamespacedDeployment",
                        "consumes": ["application/json-patch+json", "application/merge-patch+json"],
                        "produces": ["application/json"],
                        "schemes": ["https"],
                        "tags": ["apps_v1"],
                        "parameters": [
                            {"name": "body", "in": "body", "required": true,
                             "schema": {"type": "object"}},
                            {"name": "dryRun", "in": "query", "type": "string", "uniqueItems": true,
                             "description": "When present, indicates that modifications should not be persisted."},
                            {"name": "X-Trace", "in": "header", "type": "string"}
                        ],
                        "responses": {
                            "200": {"description": "OK",
                                    "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}},
                            "401": {"description": "Unauthorized"}
                        },
                        "x-kubernetes-action": "patch",
                        "x-kubernetes-group-version-kind": {"group": "apps", "kind": "Deployment", "version": "v1"}
                    }
                },
                "x-path-note": "ignored by kubectl"
            },
            "definitions": {
                "io.k8s.api.apps.v1.Deployment": {
                    "description": "Deployment enables declarative updates for Pods and ReplicaSets.",
                    "type": "object",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                                     "default": {}},
                        "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
                    },
                    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]
                },
                "io.k8s.api.apps.v1.DeploymentSpec": {
                    "type": "object",
                    "required": ["selector", "template"],
                    "properties": {
                        "replicas": {"type": "integer", "format": "int32", "minimum": 0, "maxLength": 4.0},
                        "containers": {
                            "type": "array",
                            "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Container"},
                            "x-kubernetes-patch-merge-key": "name",
                            "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-list-type": "map"
                        },
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "raw": {"type": "object", "additionalProperties": true},
                        "weird": {"type": 5, "unknownKeyword": {"a": 1}}
                    }
                }
            },
            "parameters": {
                "namespace-vgWSWtn3": {"name": "namespace", "in": "path", "required": true, "type": "string"}
            },
            "security": [{"BearerToken": []}],
            "securityDefinitions": {
                "BearerToken": {"type": "apiKey", "name": "authorization", "in": "header"}
            }
        })
    }

    #[test]
    fn definitions_keep_types_refs_required_and_descriptions() {
        let document = decode(&encode_v2_document(&sample_document()).unwrap());
        assert_eq!(text(&document, "swagger"), "2.0");
        assert_eq!(text(&child(&document, "info"), "version"), "v1.33.0");

        let definitions = child(&document, "definitions");
        assert_eq!(
            names(&definitions, "additional_properties"),
            [
                "io.k8s.api.apps.v1.Deployment",
                "io.k8s.api.apps.v1.DeploymentSpec"
            ]
        );
        let deployment = named(
            &definitions,
            "additional_properties",
            "io.k8s.api.apps.v1.Deployment",
        );
        assert!(text(&deployment, "description").starts_with("Deployment enables"));
        assert_eq!(strings(&child(&deployment, "type"), "value"), ["object"]);
        let properties = child(&deployment, "properties");
        assert_eq!(
            names(&properties, "additional_properties"),
            ["apiVersion", "metadata", "spec"]
        );
        let spec = named(&properties, "additional_properties", "spec");
        assert_eq!(
            text(&spec, "_ref"),
            "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
        );
        let metadata = named(&properties, "additional_properties", "metadata");
        assert_eq!(text(&child(&metadata, "default"), "yaml"), "{}\n");

        let deployment_spec = named(
            &definitions,
            "additional_properties",
            "io.k8s.api.apps.v1.DeploymentSpec",
        );
        assert_eq!(
            strings(&deployment_spec, "required"),
            ["selector", "template"]
        );
        let spec_properties = child(&deployment_spec, "properties");
        let replicas = named(&spec_properties, "additional_properties", "replicas");
        assert_eq!(text(&replicas, "format"), "int32");
        assert_eq!(field(&replicas, "max_length").as_i64(), Some(4));
        assert!(
            !replicas.has_field_by_name("minimum"),
            "zero is the proto3 default"
        );
    }

    #[test]
    fn items_additional_properties_and_patch_extensions() {
        let document = decode(&encode_v2_document(&sample_document()).unwrap());
        let definitions = child(&document, "definitions");
        let spec = named(
            &definitions,
            "additional_properties",
            "io.k8s.api.apps.v1.DeploymentSpec",
        );
        let properties = child(&spec, "properties");

        let containers = named(&properties, "additional_properties", "containers");
        let items = list(&child(&containers, "items"), "schema");
        assert_eq!(items.len(), 1);
        assert_eq!(
            text(items[0].as_message().unwrap(), "_ref"),
            "#/definitions/io.k8s.api.core.v1.Container"
        );
        assert_eq!(
            names(&containers, "vendor_extension"),
            [
                "x-kubernetes-list-type",
                "x-kubernetes-patch-merge-key",
                "x-kubernetes-patch-strategy"
            ]
        );
        let merge_key = named(
            &containers,
            "vendor_extension",
            "x-kubernetes-patch-merge-key",
        );
        assert_eq!(text(&merge_key, "yaml"), "name\n");
        let strategy = named(
            &containers,
            "vendor_extension",
            "x-kubernetes-patch-strategy",
        );
        assert_eq!(text(&strategy, "yaml"), "merge\n");

        let labels = named(&properties, "additional_properties", "labels");
        let value_schema = child(&child(&labels, "additional_properties"), "schema");
        assert_eq!(strings(&child(&value_schema, "type"), "value"), ["string"]);
        let raw = named(&properties, "additional_properties", "raw");
        assert_eq!(
            field(&child(&raw, "additional_properties"), "boolean").as_bool(),
            Some(true)
        );

        let weird = named(&properties, "additional_properties", "weird");
        assert!(
            !weird.has_field_by_name("type"),
            "a non-string type is skipped"
        );
    }

    #[test]
    fn group_version_kind_extension_is_yaml_text() {
        let document = decode(&encode_v2_document(&sample_document()).unwrap());
        let definitions = child(&document, "definitions");
        let deployment = named(
            &definitions,
            "additional_properties",
            "io.k8s.api.apps.v1.Deployment",
        );
        let gvk = named(
            &deployment,
            "vendor_extension",
            "x-kubernetes-group-version-kind",
        );
        assert_eq!(
            text(&gvk, "yaml"),
            "- group: apps\n  kind: Deployment\n  version: v1\n"
        );
    }

    #[test]
    fn paths_operations_and_parameters() {
        let document = decode(&encode_v2_document(&sample_document()).unwrap());
        let paths = child(&document, "paths");
        assert_eq!(
            names(&paths, "path"),
            ["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
        );
        assert_eq!(names(&paths, "vendor_extension"), ["x-path-note"]);
        let item = named(
            &paths,
            "path",
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        );
        assert!(!item.has_field_by_name("get"));

        let shared = list(&item, "parameters");
        let reference = child(shared[0].as_message().unwrap(), "json_reference");
        assert_eq!(text(&reference, "_ref"), "#/parameters/namespace-vgWSWtn3");
        let path_parameter = child(
            &child(
                &child(shared[1].as_message().unwrap(), "parameter"),
                "non_body_parameter",
            ),
            "path_parameter_sub_schema",
        );
        assert_eq!(text(&path_parameter, "name"), "name");
        assert_eq!(field(&path_parameter, "required").as_bool(), Some(true));

        let patch = child(&item, "patch");
        assert_eq!(
            text(&patch, "operation_id"),
            "patchAppsV1NamespacedDeployment"
        );
        assert_eq!(
            strings(&patch, "consumes"),
            [
                "application/json-patch+json",
                "application/merge-patch+json"
            ]
        );
        let parameters: Vec<DynamicMessage> = list(&patch, "parameters")
            .iter()
            .map(|item| child(item.as_message().unwrap(), "parameter"))
            .collect();
        assert_eq!(parameters.len(), 3);
        let body = child(&parameters[0], "body_parameter");
        assert_eq!(text(&body, "in"), "body");
        assert_eq!(
            strings(&child(&child(&body, "schema"), "type"), "value"),
            ["object"]
        );
        let dry_run = child(
            &child(&parameters[1], "non_body_parameter"),
            "query_parameter_sub_schema",
        );
        assert_eq!(text(&dry_run, "name"), "dryRun");
        assert_eq!(text(&dry_run, "type"), "string");
        assert_eq!(field(&dry_run, "unique_items").as_bool(), Some(true));
        let header = child(&parameters[2], "non_body_parameter");
        assert!(header.has_field_by_name("header_parameter_sub_schema"));

        let responses = child(&patch, "responses");
        assert_eq!(names(&responses, "response_code"), ["200", "401"]);
        let ok = child(&named(&responses, "response_code", "200"), "response");
        assert_eq!(text(&ok, "description"), "OK");
        let ok_schema = child(&child(&ok, "schema"), "schema");
        assert_eq!(
            text(&ok_schema, "_ref"),
            "#/definitions/io.k8s.api.apps.v1.Deployment"
        );

        let action = named(&patch, "vendor_extension", "x-kubernetes-action");
        assert_eq!(text(&action, "yaml"), "patch\n");
        let gvk = named(
            &patch,
            "vendor_extension",
            "x-kubernetes-group-version-kind",
        );
        assert_eq!(
            text(&gvk, "yaml"),
            "group: apps\nkind: Deployment\nversion: v1\n"
        );
    }

    #[test]
    fn top_level_parameters_and_security() {
        let document = decode(&encode_v2_document(&sample_document()).unwrap());
        let parameters = child(&document, "parameters");
        let namespace = named(&parameters, "additional_properties", "namespace-vgWSWtn3");
        let path = child(
            &child(&namespace, "non_body_parameter"),
            "path_parameter_sub_schema",
        );
        assert_eq!(text(&path, "name"), "namespace");

        let security = list(&document, "security");
        let requirement = named(
            security[0].as_message().unwrap(),
            "additional_properties",
            "BearerToken",
        );
        let scopes = requirement.get_field_by_name("value").unwrap().into_owned();
        assert_eq!(scopes.as_list().map(<[Value]>::len), Some(0));
        let definitions = child(&document, "security_definitions");
        let bearer = named(&definitions, "additional_properties", "BearerToken");
        assert_eq!(text(&child(&bearer, "api_key_security"), "in"), "header");
    }

    #[test]
    fn yaml_quotes_what_would_read_as_something_else() {
        let value = json!({
            "plain": "apps",
            "empty": "",
            "boolean-word": "true",
            "numeric": "1.5",
            "spaced": "a b: c",
            "nested": {"list": [1, [2, 3], {"k": null}], "none": []},
        });
        assert_eq!(
            to_yaml(&value),
            "boolean-word: \"true\"\nempty: \"\"\nnested:\n  list:\n    - 1\n    - - 2\n      - 3\n    - k: null\n  none: []\nnumeric: \"1.5\"\nplain: apps\nspaced: \"a b: c\"\n"
        );
        assert_eq!(to_yaml(&json!(false)), "false\n");
    }

    #[test]
    fn rejects_non_objects_and_absurd_nesting() {
        assert!(matches!(
            encode_v2_document(&json!([])),
            Err(OpenApiV2Error::NotAnObject)
        ));
        let mut schema = json!({"type": "string"});
        for _ in 0..MAX_DEPTH {
            schema = json!({"type": "array", "items": schema});
        }
        let document = json!({"definitions": {"deep": schema}});
        assert!(matches!(
            encode_v2_document(&document),
            Err(OpenApiV2Error::TooDeep)
        ));
    }

    #[test]
    fn empty_document_encodes_to_nothing() {
        assert_eq!(encode_v2_document(&json!({})).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn snake_cases_json_keys() {
        assert_eq!(snake_case("operationId"), "operation_id");
        assert_eq!(snake_case("basePath"), "base_path");
        assert_eq!(snake_case("swagger"), "swagger");
    }
}
