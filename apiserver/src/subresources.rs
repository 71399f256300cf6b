//! Subresources that exchange a different kind than their parent: `scale` (autoscaling/v1 Scale)
//! and `pods/binding` (v1 Binding). `status` is handled by the generic registry.

use corten_apimachinery::{patch, ApiError};
use http::HeaderMap;
use serde_json::{json, Value};

use crate::http::{self as wire, BodyType};
use crate::registry::{patch_error, PatchKind, Registry, WriteOptions};
use crate::request::ResourceRequest;

type Params = std::collections::HashMap<String, String>;

/// Serves a non-status subresource request.
pub async fn handle(
    registry: &Registry,
    req: &ResourceRequest,
    sub: &str,
    headers: &HeaderMap,
    _params: &Params,
    body: &[u8],
    opts: WriteOptions,
) -> Result<Value, ApiError> {
    let info = req.info;
    let ns = req.namespace.as_deref();
    let name = req.name.as_deref().unwrap_or("");
    match (sub, req.verb) {
        ("scale", "get") => Ok(scale_of(&registry.get(info, ns, name).await?)),
        ("scale", "update" | "patch") => {
            let current = scale_of(&registry.get(info, ns, name).await?);
            let body_type = wire::body_type(headers)?;
            let input = wire::decode(body, body_type)?;
            let desired = match body_type {
                BodyType::Json | BodyType::Yaml | BodyType::Protobuf => input,
                BodyType::JsonPatch => patch::json_patch(&current, &input).map_err(patch_error)?,
                BodyType::MergePatch | BodyType::StrategicMergePatch => {
                    patch::merge_patch(&current, &input).map_err(patch_error)?
                }
                BodyType::ApplyPatch => return Err(ApiError::unsupported_media_type("application/apply-patch+yaml")),
            };
            let replicas = desired.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"),
                    None,
                ));
            }
            let mut parent_patch = json!({ "spec": { "replicas": replicas } });
            if let Some(rv) = desired.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|rv| !rv.is_empty()) {
                parent_patch["metadata"] = json!({ "resourceVersion": rv });
            }
            let written = registry.patch(info, ns, name, None, PatchKind::Merge, parent_patch, &opts).await?;
            Ok(scale_of(&written.object))
        }
        ("binding", "create") => {
            let binding = wire::decode(body, wire::body_type(headers)?)?;
            let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or("").to_string();
            if node.is_empty() {
                return Err(ApiError::new(422, "Invalid", format!("Binding \"{name}\" is invalid: target.name: Required value"), None));
            }
            registry.bind(info, ns, name, &node, &opts).await?;
            Ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
        }
        _ => Err(ApiError::method_not_supported(info.group_resource(), req.verb)),
    }
}

/// The `Scale` view of a scalable object.
fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        .or_else(|| {
            obj.pointer("/spec/selector")
                .and_then(Value::as_object)
                .filter(|m| !m.contains_key("matchLabels") && !m.contains_key("matchExpressions"))
                .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0)) },
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}
