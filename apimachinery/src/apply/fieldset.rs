//! Sets of field paths in upstream's `FieldsV1` vocabulary.
//!
//! A path is a list of elements spelled exactly as they appear as keys in a
//! `metadata.managedFields[].fieldsV1` document: `f:<field>` for an object field,
//! `k:{"name":"c"}` for a keyed list item, `v:<json>` for a set item, `i:<n>` for a list
//! index. Spelling elements canonically (key fields sorted, compact JSON) lets plain string
//! comparison decide path equality, so a set of paths is a `BTreeSet`, in which every path's
//! descendants sort directly after it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::schema::key_default;

/// One path from the object root, as canonical `FieldsV1` elements.
pub(super) type Path = Vec<String>;
/// A set of owned paths.
pub(super) type FieldSet = BTreeSet<Path>;

/// The element for object field `name`.
pub(super) fn field_element(name: &str) -> String {
    format!("f:{name}")
}

/// The element for the keyed list item whose key fields have these values.
pub(super) fn key_element(key: &BTreeMap<String, Value>) -> String {
    let pairs: Vec<String> = key.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v)).collect();
    format!("k:{{{}}}", pairs.join(","))
}

/// The element for the set item `value`.
pub(super) fn value_element(value: &Value) -> String {
    format!("v:{value}")
}

/// Spells a `FieldsV1` key canonically, or `None` if it is not a path element.
fn canonical_element(raw: &str) -> Option<String> {
    if let Some(key) = raw.strip_prefix("k:") {
        let key: BTreeMap<String, Value> = serde_json::from_str(key).ok()?;
        Some(key_element(&key))
    } else if let Some(value) = raw.strip_prefix("v:") {
        let value: Value = serde_json::from_str(value).ok()?;
        Some(value_element(&value))
    } else if raw.starts_with("f:") || raw.strip_prefix("i:").is_some_and(|i| i.parse::<usize>().is_ok()) {
        Some(raw.to_string())
    } else {
        None
    }
}

/// A path tree node used to write `FieldsV1`: a member node with children carries `.`.
#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        if self.member && !self.children.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            out.insert(element.clone(), child.to_json());
        }
        Value::Object(out)
    }
}

/// Writes a set as a `FieldsV1` document.
pub(super) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Node::default();
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }
    root.to_json()
}

/// Reads a `FieldsV1` document; elements that are not understood are skipped.
pub(super) fn from_fields_v1(doc: &Value) -> FieldSet {
    fn walk(node: &Map<String, Value>, prefix: &mut Path, out: &mut FieldSet) {
        if node.is_empty() && !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        for (raw, child) in node {
            if raw == "." {
                if !prefix.is_empty() {
                    out.insert(prefix.clone());
                }
                continue;
            }
            let (Some(element), Value::Object(child)) = (canonical_element(raw), child) else { continue };
            prefix.push(element);
            walk(child, prefix, out);
            prefix.pop();
        }
    }
    let mut out = FieldSet::new();
    if let Value::Object(root) = doc {
        walk(root, &mut Vec::new(), &mut out);
    }
    out
}

/// Whether list `item` has the key field values in `key` (defaults filling omitted fields).
pub(super) fn item_has_key(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(field, want)| match item.get(field) {
        Some(have) => have == want,
        None => key_default(field).as_ref() == Some(want),
    })
}

/// Where one element leads inside `value`: an object field or an array position.
enum Step {
    Field(String),
    Index(usize),
}

fn resolve(value: &Value, element: &str) -> Option<Step> {
    if let Some(name) = element.strip_prefix("f:") {
        return value.as_object()?.contains_key(name).then(|| Step::Field(name.to_string()));
    }
    let items = value.as_array()?;
    let index = if let Some(key) = element.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        items.iter().position(|item| item_has_key(item, &key))?
    } else if let Some(wanted) = element.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(wanted).ok()?;
        items.iter().position(|item| *item == wanted)?
    } else {
        let index: usize = element.strip_prefix("i:")?.parse().ok()?;
        (index < items.len()).then_some(index)?
    };
    Some(Step::Index(index))
}

fn descend<'a>(value: &'a Value, step: &Step) -> Option<&'a Value> {
    match step {
        Step::Field(name) => value.get(name),
        Step::Index(i) => value.get(i),
    }
}

fn descend_mut<'a>(value: &'a mut Value, step: &Step) -> Option<&'a mut Value> {
    match step {
        Step::Field(name) => value.get_mut(name),
        Step::Index(i) => value.get_mut(i),
    }
}

/// The value at `path` inside `value`, if present.
pub(super) fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, element| descend(node, &resolve(node, element)?))
}

/// Removes the value at `path` from `value`; returns whether something was removed.
pub(super) fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut node = value;
    for element in parents {
        let Some(step) = resolve(node, element) else { return false };
        let Some(next) = descend_mut(node, &step) else { return false };
        node = next;
    }
    match (resolve(node, last), node) {
        (Some(Step::Field(name)), Value::Object(map)) => map.shift_remove(&name).is_some(),
        (Some(Step::Index(i)), Value::Array(items)) => {
            items.remove(i);
            true
        }
        _ => false,
    }
}

/// Renders a path the way upstream prints it in conflict messages:
/// `.spec.template.spec.containers[name="nginx"].image`.
pub(super) fn render(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            let pairs: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", pairs.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

/// Whether `path` ends in a key field of the list item it is in (`…k:{"name":"c"}, f:name`).
/// Such a field lives as long as its item does.
pub(super) fn is_key_field_of_item(path: &[String]) -> bool {
    let [.., item, field] = path else { return false };
    let (Some(key), Some(field)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else { return false };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|key| key.contains_key(field))
}

/// Whether `set` holds `prefix` itself or any path below it.
pub(super) fn owns_within(set: &FieldSet, prefix: &[String]) -> bool {
    set.range(prefix.to_vec()..).next().is_some_and(|p| p.starts_with(prefix))
}

/// Whether `path` (a member of `set`) has no descendants in `set`.
pub(super) fn is_leaf(set: &FieldSet, path: &Path) -> bool {
    use std::ops::Bound::{Excluded, Unbounded};
    set.range((Excluded(path.clone()), Unbounded)).next().is_none_or(|next| !next.starts_with(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(parts: &[&str]) -> Path {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_markers() {
        let doc = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}});
        let set = from_fields_v1(&doc);
        assert!(set.contains(&p(&["f:metadata", "f:labels"])));
        assert!(set.contains(&p(&["f:spec", "f:containers", "k:{\"name\":\"c\"}", "f:image"])));
        assert!(!set.contains(&p(&["f:spec"])));
        assert_eq!(to_fields_v1(&set), doc);
    }

    #[test]
    fn key_elements_are_canonical() {
        let doc = json!({"f:ports": {"k:{\"protocol\": \"TCP\", \"containerPort\": 80}": {}}});
        let set = from_fields_v1(&doc);
        assert!(set.contains(&p(&["f:ports", "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"])));
    }

    #[test]
    fn lookup_and_remove_follow_keys_with_defaults() {
        let mut obj = json!({"ports": [{"containerPort": 80}, {"containerPort": 81, "protocol": "UDP"}]});
        let key = p(&["f:ports", "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]);
        assert_eq!(lookup(&obj, &key), Some(&json!({"containerPort": 80})));
        assert!(remove(&mut obj, &key));
        assert_eq!(obj, json!({"ports": [{"containerPort": 81, "protocol": "UDP"}]}));
        assert!(!remove(&mut obj, &key));
    }

    #[test]
    fn render_matches_upstream_spelling() {
        let path = p(&["f:spec", "f:containers", "k:{\"name\":\"nginx\"}", "f:image"]);
        assert_eq!(render(&path), ".spec.containers[name=\"nginx\"].image");
        assert_eq!(render(&p(&["f:metadata", "f:finalizers", "v:\"x\""])), ".metadata.finalizers[=\"x\"]");
    }
}
