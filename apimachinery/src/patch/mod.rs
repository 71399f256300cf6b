//! The patch algorithms behind `PATCH` requests.
//!
//! Clients choose the algorithm with the request's content type: RFC 6902 JSON patch
//! ([`json_patch`]), RFC 7386 JSON merge patch ([`merge_patch`]), Kubernetes strategic merge patch
//! ([`strategic_merge`], which needs to know how each built-in list is merged: see
//! [`list_merge_key`]), and server-side apply (implemented in [`crate::apply`], re-exported here so
//! the server finds every algorithm in one place). Everything works on plain JSON values so the
//! server can patch any kind, including custom resources.

mod schema;
mod strategic;

pub use crate::apply::{record_update, server_side_apply, ApplyError, Conflict};
pub use schema::{list_merge_key, list_strategy, ListStrategy};
pub use strategic::strategic_merge;

use serde_json::{Map, Value};

/// Why a patch could not be applied. The text is the message clients see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (wrong JSON shape, unknown operation, bad
    /// directive): upstream answers `400 BadRequest`.
    #[error("{0}")]
    Malformed(String),
    /// The patch is well formed but cannot be applied to this object (a failed `test`, a missing
    /// path, a list item without its merge key): upstream answers `422 Unprocessable Entity`.
    #[error("{0}")]
    Failed(String),
}

impl PatchError {
    /// The HTTP status code upstream uses for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Malformed(_) => 400,
            PatchError::Failed(_) => 422,
        }
    }
}

/// Applies an RFC 6902 JSON patch (an array of operations) to `current`.
pub fn json_patch(current: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(operations) = patch else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_kind(patch)
        )));
    };
    let parsed: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Malformed(format!("invalid JSON patch: {e}")))?;
    let mut doc = current.clone();
    json_patch::patch(&mut doc, &parsed).map_err(|e| describe_json_patch_failure(&e, operations))?;
    Ok(doc)
}

/// A message for a failed operation, in the style of upstream's JSON patch library.
fn describe_json_patch_failure(error: &json_patch::PatchError, operations: &[Value]) -> PatchError {
    let operation = operations.get(error.operation);
    let op = operation.and_then(|o| o.get("op")).and_then(Value::as_str).unwrap_or("");
    let path = error.path.as_str();
    let from = operation.and_then(|o| o.get("from")).and_then(Value::as_str).unwrap_or("");
    let message = match (&error.kind, op) {
        (json_patch::PatchErrorKind::TestFailed, _) => format!("testing value {path} failed: test failed"),
        (json_patch::PatchErrorKind::InvalidFromPointer, _) => {
            format!("{op} operation does not apply: doc is missing from path: {from}: missing value")
        }
        (json_patch::PatchErrorKind::CannotMoveInsideItself, _) => {
            format!("move operation does not apply: cannot move {from} inside itself ({path})")
        }
        (json_patch::PatchErrorKind::InvalidPointer, "remove") => {
            format!("error in remove for path: '{path}': Unable to remove nonexistent key: {}: missing value", last_token(path))
        }
        (json_patch::PatchErrorKind::InvalidPointer, "replace") => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (json_patch::PatchErrorKind::InvalidPointer, _) => {
            format!("{op} operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (other, _) => format!("{op} operation failed at {path}: {other}"),
    };
    PatchError::Failed(message)
}

fn last_token(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or(pointer)
}

/// How Go's JSON decoder names a JSON value's type in its errors.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes a key,
/// anything else (lists included) replaces. The patch must be an object.
pub fn merge_patch(current: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(patch)
        )));
    };
    let mut result = current.clone();
    if !result.is_object() {
        result = Value::Object(Map::new());
    }
    merge_object(&mut result, patch);
    Ok(result)
}

fn merge_object(target: &mut Value, patch: &Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else { return };
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(nested) => merge_object(target.entry(key.clone()).or_insert(Value::Null), nested),
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_operations_in_order() {
        let current = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 1, "list": [1, 2]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/name", "value": "a"},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels/y", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/x"},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
            {"op": "move", "from": "/spec/copied", "path": "/spec/moved"}
        ]);
        let patched = json_patch(&current, &patch).unwrap();
        assert_eq!(
            patched,
            json!({"metadata": {"name": "a", "labels": {"y": "2"}}, "spec": {"replicas": 3, "list": [1, 2, 3], "moved": 3}})
        );
    }

    #[test]
    fn json_patch_failed_test_is_rejected() {
        let current = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1}});
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "test", "path": "/metadata/name", "value": "b"}
        ]);
        let err = json_patch(&current, &patch).unwrap_err();
        assert_eq!(err.status_code(), 422);
        assert_eq!(err.to_string(), "testing value /metadata/name failed: test failed");
    }

    #[test]
    fn json_patch_rejects_missing_paths_and_bad_documents() {
        let current = json!({"spec": {}});
        let err = json_patch(&current, &json!([{"op": "replace", "path": "/spec/x", "value": 1}])).unwrap_err();
        assert_eq!(err.to_string(), "replace operation does not apply: doc is missing key: /spec/x: missing value");
        let err = json_patch(&current, &json!([{"op": "remove", "path": "/spec/x"}])).unwrap_err();
        assert!(err.to_string().starts_with("error in remove for path: '/spec/x'"), "{err}");
        let err = json_patch(&current, &json!({"op": "add"})).unwrap_err();
        assert_eq!(err.status_code(), 400);
        assert_eq!(err.to_string(), "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
        let err = json_patch(&current, &json!([{"op": "frobnicate", "path": "/a"}])).unwrap_err();
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn merge_patch_merges_objects_and_deletes_nulls() {
        let current = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"list": [1, 2], "keep": true}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"list": [3]}, "status": {"phase": "X", "gone": null}});
        assert_eq!(
            merge_patch(&current, &patch).unwrap(),
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"list": [3], "keep": true}, "status": {"phase": "X"}})
        );
    }

    #[test]
    fn merge_patch_requires_an_object() {
        let err = merge_patch(&json!({}), &json!([1])).unwrap_err();
        assert_eq!(err.status_code(), 400);
        assert_eq!(err.to_string(), "json: cannot unmarshal array into Go value of type map[string]interface {}");
    }
}
