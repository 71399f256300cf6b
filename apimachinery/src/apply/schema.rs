//! The little schema knowledge server-side apply needs, for built-in kinds.
//!
//! Upstream reads list and map semantics (`x-kubernetes-list-type`, `-list-map-keys`,
//! `-map-type`) from the OpenAPI schema. We have no schema at hand in this pure crate, so
//! this module holds a small table for the shapes that matter in practice: keyed lists
//! (containers by `name`, ports by port+protocol, …), sets (finalizers), granular maps
//! (labels, data, …) and atomic structs (label selectors). Anything unknown is atomic,
//! which is the conservative choice: the whole value is replaced and owned as one leaf.

use serde_json::{Map, Value};

/// How a JSON array is merged and how its ownership is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListType {
    /// Items are objects identified by these key fields (`k:{...}` path elements).
    Keyed(&'static [&'static str]),
    /// Items are scalars, each owned on its own (`v:<value>` path elements).
    Set,
    /// The whole list is one value, replaced as a unit and owned as one leaf.
    Atomic,
}

/// The list type of the array found at `fields` (the field names from the root,
/// list items skipped) in an object of `kind`.
pub(super) fn list_type(kind: &str, fields: &[String]) -> ListType {
    let Some(last) = fields.last() else { return ListType::Atomic };
    let parent = fields.len().checked_sub(2).and_then(|i| fields.get(i)).map(String::as_str);
    let in_container = matches!(parent, Some("containers" | "initContainers" | "ephemeralContainers"));
    match last.as_str() {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates"
        | "webhooks" => ListType::Keyed(&["name"]),
        "env" if in_container => ListType::Keyed(&["name"]),
        "volumeMounts" if in_container => ListType::Keyed(&["mountPath"]),
        "volumeDevices" if in_container => ListType::Keyed(&["devicePath"]),
        "ports" if in_container => ListType::Keyed(&["containerPort", "protocol"]),
        "ports" if matches!(kind, "Service") && fields.len() == 2 => ListType::Keyed(&["port", "protocol"]),
        "hostAliases" => ListType::Keyed(&["ip"]),
        "topologySpreadConstraints" => ListType::Keyed(&["topologyKey", "whenUnsatisfiable"]),
        "conditions" => ListType::Keyed(&["type"]),
        "ownerReferences" if parent == Some("metadata") => ListType::Keyed(&["uid"]),
        "finalizers" if parent == Some("metadata") => ListType::Set,
        _ => ListType::Atomic,
    }
}

/// The value a key field takes when an item omits it (upstream fills schema defaults
/// before computing keys: a port's protocol is `TCP`).
pub(super) fn key_default(field: &str) -> Option<Value> {
    (field == "protocol").then(|| Value::String("TCP".into()))
}

/// Whether the object at `fields` is a map of arbitrary keys whose node is itself owned
/// (upstream writes a `.` marker for it), as opposed to a struct with fixed fields.
pub(super) fn is_granular_map(kind: &str, fields: &[String]) -> bool {
    let Some(last) = fields.last() else { return false };
    match last.as_str() {
        "labels" | "annotations" | "data" | "binaryData" | "stringData" | "nodeSelector" | "matchLabels" | "limits" | "requests"
        | "capacity" | "allocatable" | "hard" | "parameters" | "overhead" => true,
        "selector" => matches!(kind, "Service" | "ReplicationController") && fields.len() == 2,
        _ => false,
    }
}

/// Whether the object at `fields` is an atomic struct: replaced whole and owned as one
/// leaf. Label selectors are (`+structType=atomic` upstream).
pub(super) fn is_atomic_object(kind: &str, fields: &[String], value: &Map<String, Value>) -> bool {
    let Some(last) = fields.last() else { return false };
    if is_granular_map(kind, fields) {
        return false;
    }
    last.ends_with("elector") && (value.contains_key("matchLabels") || value.contains_key("matchExpressions") || fields.len() == 2)
}

/// Fields that are never owned by anyone and never merged from an applied config: type
/// identity, server-set metadata, and `status` (which applies to the main resource never
/// change).
pub(super) fn is_stripped(fields: &[String]) -> bool {
    match fields {
        [only] => matches!(only.as_str(), "apiVersion" | "kind" | "status"),
        [metadata, field] if metadata == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "creationTimestamp"
                | "selfLink"
                | "uid"
                | "clusterName"
                | "generation"
                | "managedFields"
                | "resourceVersion"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
        ),
        _ => false,
    }
}

/// Fields an applied configuration does not write into the existing object: the stripped
/// ones, except `status`. An apply through the `status` subresource must change status, and
/// on the main resource the server puts the stored status back anyway; either way status is
/// never owned.
pub(super) fn is_kept_from_current(fields: &[String]) -> bool {
    is_stripped(fields) && !matches!(fields, [only] if only == "status")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn container_ports_and_service_ports_have_different_keys() {
        assert_eq!(list_type("Pod", &path(&["spec", "containers", "ports"])), ListType::Keyed(&["containerPort", "protocol"]));
        assert_eq!(list_type("Service", &path(&["spec", "ports"])), ListType::Keyed(&["port", "protocol"]));
        assert_eq!(list_type("Pod", &path(&["spec", "containers", "args"])), ListType::Atomic);
        assert_eq!(list_type("Pod", &path(&["metadata", "finalizers"])), ListType::Set);
    }

    #[test]
    fn selectors_are_atomic_except_service_selector_map() {
        let sel = serde_json::json!({"matchLabels": {"a": "b"}});
        let sel = sel.as_object().cloned().unwrap_or_default();
        assert!(is_atomic_object("Deployment", &path(&["spec", "selector"]), &sel));
        assert!(!is_atomic_object("Service", &path(&["spec", "selector"]), &Map::new()));
        assert!(is_granular_map("Service", &path(&["spec", "selector"])));
    }
}
