//! Strategic merge patch: JSON merge patch that understands Kubernetes lists.
//!
//! A merge patch can only replace a list, so changing one container's image would have to resend
//! every container. A strategic merge patch instead merges lists the type table
//! ([`super::schema`]) marks as mergeable: lists of objects item by item (matching items by a
//! merge key such as a container's `name`), lists of scalars as set unions. Directives embedded in
//! the patch override the defaults:
//! - `$patch: replace` (in an object: use the patch object as is; in a list item: the patch list
//!   replaces the whole list) and `$patch: delete` (in an object: empty it; in a list item:
//!   remove the item with that merge key);
//! - `$retainKeys: [...]` drops every field of the live object not listed;
//! - `$deleteFromPrimitiveList/<field>: [...]` removes values from a scalar list;
//! - `$setElementOrder/<field>: [...]` gives the order of the merged list.
//!
//! Custom resources have no type table, so they get plain JSON merge patch semantics.

use serde_json::{Map, Value};

use super::schema::{field, root_type, ListStrategy, TypeRef};
use super::{json_kind, merge_patch, PatchError};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to an object of the given built-in kind (custom resources:
/// JSON merge patch). The patch must be a JSON object.
pub fn strategic_merge(group: &str, kind: &str, current: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Some(root) = root_type(group, kind) else {
        return merge_patch(current, patch);
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(patch)
        )));
    };
    let original = match current {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch, Some(root)).map(Value::Object)
}

/// Merges a patch object into a live object of type `ty`.
fn merge_map(mut original: Map<String, Value>, patch: &Map<String, Value>, ty: Option<TypeRef>) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(strip_directives(patch)),
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, patch)),
        };
    }
    if let Some(retained) = patch.get(RETAIN_KEYS) {
        apply_retain_keys(&mut original, retained, patch)?;
    }
    // `$setElementOrder` interleaves by the live list's order before this patch changed it.
    let live_orders: Vec<(&str, &Value, Vec<Value>)> = patch
        .iter()
        .filter_map(|(key, order)| {
            let list_field = key.strip_prefix(SET_ELEMENT_ORDER)?;
            let live = match original.get(list_field) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            Some((list_field, order, live))
        })
        .collect();
    for (key, values) in patch {
        if let Some(list_field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(&mut original, list_field, values)?;
        }
    }
    for (key, patch_value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if patch_value.is_null() {
            original.remove(key);
            continue;
        }
        let info = field(ty, key);
        let merged = match (original.remove(key), patch_value) {
            (Some(Value::Object(live)), Value::Object(p)) => Value::Object(merge_map(live, p, info.field_type)?),
            (Some(Value::Array(live)), Value::Array(p)) => Value::Array(merge_list(live, p, info.list, info.field_type)?),
            (_, Value::Object(p)) => Value::Object(merge_map(Map::new(), p, info.field_type)?),
            (_, Value::Array(p)) => Value::Array(merge_list(Vec::new(), p, info.list, info.field_type)?),
            (_, scalar) => scalar.clone(),
        };
        original.insert(key.clone(), merged);
    }
    for (list_field, order, live) in live_orders {
        apply_element_order(&mut original, list_field, order, &live, field(ty, list_field).list)?;
    }
    Ok(original)
}

/// The patch object without its top-level directive keys and nulls: what `$patch: replace` stores.
fn strip_directives(patch: &Map<String, Value>) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn bad_patch_type(directive: &Value, patch: &Map<String, Value>) -> PatchError {
    let shown = directive.as_str().map_or_else(|| directive.to_string(), str::to_string);
    PatchError::Malformed(format!("unknown patch type: {shown} in map: {}", go_format(&Value::Object(patch.clone()))))
}

/// A value the way Go's `%v` prints decoded JSON (`map[a:1 b:[x y]]`), which upstream's patch
/// errors embed.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_format).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries.into_iter().map(|(k, v)| format!("{k}:{}", go_format(v))).collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Drops the live fields the `$retainKeys` list does not name; every field the patch sets must be
/// named in it.
fn apply_retain_keys(original: &mut Map<String, Value>, retained: &Value, patch: &Map<String, Value>) -> Result<(), PatchError> {
    let malformed = || PatchError::Malformed("invalid patch format of retainKeys".to_string());
    let Value::Array(retained) = retained else {
        return Err(malformed());
    };
    let keeps = |k: &str| retained.iter().any(|r| r.as_str() == Some(k));
    let patch_sets_unlisted = patch
        .iter()
        .any(|(k, v)| !v.is_null() && !k.starts_with('$') && !keeps(k));
    if patch_sets_unlisted {
        return Err(malformed());
    }
    original.retain(|k, _| keeps(k));
    Ok(())
}

fn delete_from_primitive_list(original: &mut Map<String, Value>, list_field: &str, values: &Value) -> Result<(), PatchError> {
    let Value::Array(doomed) = values else {
        return Err(PatchError::Malformed("invalid patch format of primitive list".to_string()));
    };
    if let Some(Value::Array(live)) = original.get_mut(list_field) {
        live.retain(|v| !doomed.contains(v));
    }
    Ok(())
}

/// Merges a patch list into a live list according to the field's strategy.
fn merge_list(original: Vec<Value>, patch: &[Value], strategy: ListStrategy, item_type: Option<TypeRef>) -> Result<Vec<Value>, PatchError> {
    match strategy {
        ListStrategy::Atomic => Ok(patch.to_vec()),
        ListStrategy::Set => {
            let mut merged = Vec::with_capacity(original.len() + patch.len());
            for value in original.into_iter().chain(patch.iter().cloned()) {
                if !merged.contains(&value) {
                    merged.push(value);
                }
            }
            Ok(merged)
        }
        ListStrategy::MergeByKey(key) => merge_keyed_list(original, patch, key, item_type),
    }
}

fn merge_keyed_list(mut original: Vec<Value>, patch: &[Value], key: &str, item_type: Option<TypeRef>) -> Result<Vec<Value>, PatchError> {
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(item) = item else {
            return Err(PatchError::Failed(format!(
                "list items merged by {key:?} must be objects, found {}",
                json_kind(item)
            )));
        };
        match item.get(DIRECTIVE) {
            None => items.push(item),
            Some(directive) => match directive.as_str() {
                Some("delete") => {
                    let Some(doomed) = item.get(key) else {
                        return Err(PatchError::Malformed("delete patch type with no merge key defined".to_string()));
                    };
                    original.retain(|live| live.get(key) != Some(doomed));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Malformed("merging lists cannot yet be specified in the patch".to_string()))
                }
                _ => return Err(bad_patch_type(directive, item)),
            },
        }
    }
    if replace {
        return Ok(items.into_iter().map(|item| Value::Object(strip_directives(item))).collect());
    }
    for item in items {
        let Some(wanted) = item.get(key) else {
            return Err(PatchError::Failed(format!(
                "map: {} does not contain declared merge key: {key}",
                go_format(&Value::Object(item.clone()))
            )));
        };
        match original.iter().position(|live| live.get(key) == Some(wanted)) {
            Some(index) => {
                let live = match original[index].take() {
                    Value::Object(live) => live,
                    _ => Map::new(),
                };
                original[index] = Value::Object(merge_map(live, item, item_type)?);
            }
            None => original.push(Value::Object(merge_map(Map::new(), item, item_type)?)),
        }
    }
    Ok(original)
}

/// Reorders a merged list by `$setElementOrder/<field>`: items the order names come in that
/// order; items only the server knew keep their place relative to their former neighbours.
fn apply_element_order(
    original: &mut Map<String, Value>,
    list_field: &str,
    order: &Value,
    live_before: &[Value],
    strategy: ListStrategy,
) -> Result<(), PatchError> {
    let Value::Array(order) = order else {
        return Err(PatchError::Malformed("invalid patch format of setElementOrder list".to_string()));
    };
    let identity = |item: &Value| -> Value {
        match strategy {
            ListStrategy::MergeByKey(key) => item.get(key).cloned().unwrap_or(Value::Null),
            ListStrategy::Atomic | ListStrategy::Set => item.clone(),
        }
    };
    let order_ids: Vec<Value> = order.iter().map(identity).collect();
    let Some(Value::Array(merged)) = original.remove(list_field) else {
        return Ok(());
    };
    let merged_ids: Vec<Value> = merged.iter().map(identity).collect();
    let live_ids: Vec<Value> = live_before.iter().map(identity).collect();
    let position_in = |ids: &[Value], id: &Value| ids.iter().position(|x| x == id);

    let mut listed: Vec<(usize, Value)> = Vec::new();
    let mut server_only: Vec<Value> = Vec::new();
    for (item, id) in merged.into_iter().zip(&merged_ids) {
        match position_in(&order_ids, id) {
            Some(rank) => listed.push((rank, item)),
            None => server_only.push(item),
        }
    }
    listed.sort_by_key(|(rank, _)| *rank);

    // Interleave: take a server-only item first only when both items have known positions in the
    // server's list and the server-only one came first there.
    let mut result = Vec::with_capacity(listed.len() + server_only.len());
    let mut listed = listed.into_iter().map(|(_, item)| item).peekable();
    let mut server_only = server_only.into_iter().peekable();
    loop {
        let take_server = match (server_only.peek(), listed.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(s), Some(l)) => match (position_in(&live_ids, &identity(s)), position_in(&live_ids, &identity(l))) {
                (Some(si), Some(li)) => si < li,
                _ => false,
            },
        };
        let next = if take_server { server_only.next() } else { listed.next() };
        result.extend(next);
    }
    if !result.is_empty() {
        original.insert(list_field.to_string(), Value::Array(result));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "finalizers": ["a", "b"], "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "template": {"spec": {
                    "containers": [
                        {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "sidecar:1"}
                    ],
                    "tolerations": [{"key": "x", "operator": "Exists"}]
                }}
            }
        })
    }

    fn smp(patch: Value) -> Value {
        strategic_merge("apps", "Deployment", &deployment(), &patch).unwrap()
    }

    fn containers(obj: &Value) -> &Vec<Value> {
        obj["spec"]["template"]["spec"]["containers"].as_array().unwrap()
    }

    #[test]
    fn changing_one_image_keeps_other_containers() {
        let out = smp(json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "sidecar:2"}]}}}}));
        let c = containers(&out);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0]["image"], "app:1");
        assert_eq!(c[0]["env"].as_array().unwrap().len(), 2);
        assert_eq!(c[1], json!({"name": "sidecar", "image": "sidecar:2"}));
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn adding_a_port_and_a_container_appends() {
        let out = smp(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 443, "name": "https"}]},
            {"name": "new", "image": "new:1"}
        ]}}}}));
        let c = containers(&out);
        assert_eq!(c[0]["ports"], json!([{"containerPort": 80}, {"containerPort": 443, "name": "https"}]));
        assert_eq!(c.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(), ["app", "sidecar", "new"]);
    }

    #[test]
    fn patch_delete_removes_a_list_item() {
        let out = smp(json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}));
        let c = containers(&out);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["name"], "app");
        let err = strategic_merge(
            "apps",
            "Deployment",
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}}),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "delete patch type with no merge key defined");
    }

    #[test]
    fn env_merges_by_name() {
        let out = smp(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}]}
        ]}}}}));
        assert_eq!(containers(&out)[0]["env"], json!([{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]));
    }

    #[test]
    fn finalizers_are_a_set_union_and_can_lose_members() {
        let out = smp(json!({"metadata": {"finalizers": ["b", "c"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let out = smp(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["d"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "d"]));
    }

    #[test]
    fn atomic_lists_are_replaced_and_nulls_delete() {
        let out = smp(json!({"metadata": {"labels": {"app": null, "tier": "fe"}},
            "spec": {"template": {"spec": {"tolerations": [{"key": "y", "operator": "Exists"}]}}}}));
        assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
        assert_eq!(out["spec"]["template"]["spec"]["tolerations"], json!([{"key": "y", "operator": "Exists"}]));
    }

    #[test]
    fn set_element_order_reorders_and_interleaves_server_only_items() {
        let pod = json!({"spec": {"containers": [{"name": "c", "env": [
            {"name": "ENV2", "value": "bar"}, {"name": "ENV5", "value": "s2"}, {"name": "ENV1", "value": "foo"},
            {"name": "ENV3", "value": "baz"}, {"name": "ENV4", "value": "s1"}
        ]}]}});
        let patch = json!({"spec": {"containers": [{"name": "c",
            "$setElementOrder/env": [{"name": "ENV1"}, {"name": "ENV2"}, {"name": "ENV6"}],
            "env": [{"name": "ENV3", "$patch": "delete"}, {"name": "ENV6", "value": "new"}]}]}});
        let out = strategic_merge("", "Pod", &pod, &patch).unwrap();
        let names: Vec<&str> = out["spec"]["containers"][0]["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ENV5", "ENV1", "ENV2", "ENV6", "ENV4"]);
        assert!(out["spec"]["containers"][0].get("$setElementOrder/env").is_none());

        let simple = json!({"metadata": {"finalizers": ["b", "a"]}});
        let out = strategic_merge("", "Pod", &simple, &json!({"metadata": {"$setElementOrder/finalizers": ["a", "b"]}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let out = smp(json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let err = strategic_merge(
            "apps",
            "Deployment",
            &deployment(),
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}}),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid patch format of retainKeys");
    }

    #[test]
    fn patch_replace_directives() {
        let out = smp(json!({"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let out = smp(json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}}}}));
        assert_eq!(containers(&out), &vec![json!({"name": "only", "image": "o:1"})]);
        let out = smp(json!({"spec": {"strategy": {"$patch": "delete"}}}));
        assert_eq!(out["spec"]["strategy"], json!({}));
        let err = strategic_merge("apps", "Deployment", &deployment(), &json!({"spec": {"$patch": "bogus"}})).unwrap_err();
        assert_eq!(err.to_string(), "unknown patch type: bogus in map: map[$patch:bogus]");
    }

    #[test]
    fn new_lists_drop_directives_and_items_need_merge_keys() {
        let pod = json!({"spec": {}});
        let out = strategic_merge("", "Pod", &pod, &json!({"spec": {"containers": [{"name": "a", "image": "i", "env": [{"name": "X", "$patch": "delete"}]}]}})).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "a", "image": "i", "env": []}]));
        let err = strategic_merge("", "Pod", &pod, &json!({"spec": {"containers": [{"image": "i"}]}})).unwrap_err();
        assert_eq!(err.status_code(), 422);
        assert_eq!(err.to_string(), "map: map[image:i] does not contain declared merge key: name");
    }

    #[test]
    fn custom_resources_get_merge_patch_semantics() {
        let cr = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b"}]}});
        let out = strategic_merge("example.com", "Widget", &cr, &json!({"spec": {"items": [{"name": "a", "v": 2}]}})).unwrap();
        assert_eq!(out["spec"]["items"], json!([{"name": "a", "v": 2}]));
        assert_eq!(strategic_merge("", "Pod", &cr, &json!([])).unwrap_err().status_code(), 400);
    }
}
