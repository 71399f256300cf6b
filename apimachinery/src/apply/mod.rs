//! Server-side apply and `metadata.managedFields` bookkeeping.
//!
//! Upstream tracks, for every object, which manager (a client name plus the operation it
//! used) owns which fields, in `metadata.managedFields`. That ownership is what makes
//! `kubectl apply --server-side` safe: an apply removes the fields its manager stopped
//! declaring, and refuses (409) to change a field another manager set to a different value
//! unless forced. Ordinary writes (create, update, patch) take ownership of what they change.
//!
//! The entry points are [`server_side_apply`] (an apply patch) and [`record_update`] (any
//! other write). Ownership is computed per path in upstream's `FieldsV1` vocabulary (the
//! `fieldset` submodule); list and map semantics come from a small built-in table (the
//! `schema` submodule), since this crate has no OpenAPI schema to read them from.

mod fieldset;
mod schema;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use fieldset::{FieldSet, Path};
use schema::ListType;

/// A field the applied configuration would change although another manager owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// The API version that manager wrote with; set for `Update` managers, as upstream
    /// names it in the message (`conflict with "kubectl-edit" using apps/v1`).
    pub api_version: Option<String>,
    /// The field, spelled like upstream: `.spec.template.spec.containers[name="nginx"].image`.
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (HTTP 409).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration is malformed (HTTP 400/422).
    #[error("{0}")]
    Invalid(String),
}

/// Upstream's message for apply conflicts: one line for a single conflict, otherwise the
/// fields grouped under each manager (managers sorted by name).
fn conflicts_message(conflicts: &[Conflict]) -> String {
    fn who(c: &Conflict) -> String {
        match &c.api_version {
            Some(v) => format!("\"{}\" using {v}", c.manager),
            None => format!("\"{}\"", c.manager),
        }
    }
    if let [one] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {}: {}", who(one), one.field);
    }
    let mut by_manager: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for conflict in conflicts {
        by_manager.entry(who(conflict)).or_default().push(&conflict.field);
    }
    let mut lines = Vec::new();
    for (manager, fields) in by_manager {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(fields.into_iter().map(|field| format!("- {field}")));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

/// One `metadata.managedFields` entry, with its field set decoded.
#[derive(Debug, Clone)]
struct ManagedEntry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl ManagedEntry {
    fn new(manager: &str, operation: &str, api_version: &str, now: &str, fields: FieldSet) -> Self {
        ManagedEntry {
            manager: manager.to_string(),
            operation: operation.to_string(),
            api_version: api_version.to_string(),
            time: Some(now.to_string()),
            subresource: None,
            fields,
        }
    }

    fn is_apply_of(&self, manager: &str) -> bool {
        self.manager == manager && self.operation == APPLY && self.subresource.is_none()
    }

    fn is_update_of(&self, manager: &str, api_version: &str) -> bool {
        self.manager == manager && self.operation == UPDATE && self.api_version == api_version && self.subresource.is_none()
    }

    fn from_json(value: &Value) -> Option<Self> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        if value.get("fieldsType").and_then(Value::as_str).is_some_and(|t| t != "FieldsV1") {
            return None;
        }
        Some(ManagedEntry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            fields: value.get("fieldsV1").map(fieldset::from_fields_v1).unwrap_or_default(),
        })
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), json!(self.manager));
        out.insert("operation".into(), json!(self.operation));
        out.insert("apiVersion".into(), json!(self.api_version));
        if let Some(time) = &self.time {
            out.insert("time".into(), json!(time));
        }
        out.insert("fieldsType".into(), json!("FieldsV1"));
        out.insert("fieldsV1".into(), fieldset::to_fields_v1(&self.fields));
        if let Some(sub) = &self.subresource {
            out.insert("subresource".into(), json!(sub));
        }
        Value::Object(out)
    }
}

fn read_entries(object: &Value) -> Vec<ManagedEntry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(ManagedEntry::from_json).collect())
        .unwrap_or_default()
}

/// Writes `entries` into `object.metadata.managedFields`, dropping those left without
/// fields (upstream drops a manager, even an applier, once it owns nothing).
fn write_entries(object: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    // Upstream's order: Apply entries before Update ones, then oldest first.
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(root) = object.as_object_mut() else { return };
    let metadata = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else { return };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(entries.iter().map(ManagedEntry::to_json).collect()));
    }
}

/// What a field set is computed for; upstream spells the two slightly differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOf {
    /// An applied configuration: keyed list items must carry unique keys (else the apply
    /// is invalid), and a map node is not owned by itself, only its keys are.
    Applied,
    /// An object written by create/update/patch: a malformed keyed list is owned as one
    /// atomic value, and a map node is owned too (`.`), as upstream does for nodes a write
    /// added.
    Written,
}

/// Walks objects of one kind with that kind's list/map semantics.
struct Shape<'a> {
    kind: &'a str,
}

impl Shape<'_> {
    /// The owned paths of `object`, as an applied configuration or as a written object
    /// (see [`SetOf`]).
    fn field_set(&self, object: &Value, of: SetOf) -> Result<FieldSet, String> {
        let mut out = FieldSet::new();
        if let Value::Object(map) = object {
            self.collect_fields(&mut Vec::new(), &mut Vec::new(), map, of, &mut out)?;
        }
        Ok(out)
    }

    fn collect_fields(
        &self,
        fields: &mut Vec<String>,
        path: &mut Path,
        map: &Map<String, Value>,
        of: SetOf,
        out: &mut FieldSet,
    ) -> Result<(), String> {
        for (name, child) in map {
            if child.is_null() {
                continue;
            }
            fields.push(name.clone());
            if !schema::is_stripped(fields) {
                path.push(fieldset::field_element(name));
                self.collect_value(fields, path, child, of, out)?;
                path.pop();
            }
            fields.pop();
        }
        Ok(())
    }

    fn collect_value(&self, fields: &mut Vec<String>, path: &mut Path, value: &Value, of: SetOf, out: &mut FieldSet) -> Result<(), String> {
        match value {
            Value::Object(map) if !map.is_empty() && !schema::is_atomic_object(self.kind, fields, map) => {
                if of == SetOf::Written && schema::is_granular_map(self.kind, fields) {
                    out.insert(path.clone());
                }
                self.collect_fields(fields, path, map, of, out)
            }
            Value::Array(items) if !items.is_empty() => match schema::list_type(self.kind, fields) {
                ListType::Set => {
                    for item in items {
                        path.push(fieldset::value_element(item));
                        out.insert(path.clone());
                        path.pop();
                    }
                    Ok(())
                }
                ListType::Keyed(keys) => match item_elements(path, keys, items) {
                    Ok(elements) => {
                        for (item, element) in items.iter().zip(elements) {
                            path.push(element);
                            out.insert(path.clone());
                            if let Value::Object(map) = item {
                                self.collect_fields(fields, path, map, of, out)?;
                            }
                            path.pop();
                        }
                        Ok(())
                    }
                    Err(message) if of == SetOf::Applied => Err(message),
                    Err(_) => {
                        out.insert(path.clone());
                        Ok(())
                    }
                },
                ListType::Atomic => {
                    out.insert(path.clone());
                    Ok(())
                }
            },
            _ => {
                out.insert(path.clone());
                Ok(())
            }
        }
    }

    /// After removing `path`, removes the list or map that removal left empty (as upstream's
    /// typed objects drop empty lists and maps), and so on upwards.
    fn prune_emptied_parents(&self, object: &mut Value, path: &[String]) {
        for depth in (1..path.len()).rev() {
            let parent = &path[..depth];
            let fields: Vec<String> = parent.iter().filter_map(|e| e.strip_prefix("f:")).map(str::to_string).collect();
            let emptied = match fieldset::lookup(object, parent) {
                Some(Value::Array(items)) => items.is_empty(),
                Some(Value::Object(map)) => map.is_empty() && schema::is_granular_map(self.kind, &fields),
                _ => false,
            };
            if !emptied || !fieldset::remove(object, parent) {
                return;
            }
        }
    }

    /// Merges `applied` into `current`: objects field by field, keyed lists item by item,
    /// sets by union, everything else replaced.
    fn merge(&self, fields: &mut Vec<String>, current: &mut Value, applied: &Value) {
        match (current, applied) {
            (Value::Object(cur), Value::Object(app)) if !schema::is_atomic_object(self.kind, fields, app) => {
                for (name, value) in app {
                    fields.push(name.clone());
                    if !schema::is_kept_from_current(fields) {
                        match cur.get_mut(name) {
                            Some(existing) => self.merge(fields, existing, value),
                            None => {
                                cur.insert(name.clone(), value.clone());
                            }
                        }
                    }
                    fields.pop();
                }
            }
            (Value::Array(cur), Value::Array(app)) => match schema::list_type(self.kind, fields) {
                ListType::Set => {
                    for item in app {
                        if !cur.contains(item) {
                            cur.push(item.clone());
                        }
                    }
                }
                ListType::Keyed(keys) => {
                    for item in app {
                        let matching =
                            item_key(keys, item).and_then(|key| cur.iter_mut().find(|existing| fieldset::item_has_key(existing, &key)));
                        match matching {
                            Some(existing) => self.merge(fields, existing, item),
                            None => cur.push(item.clone()),
                        }
                    }
                }
                ListType::Atomic => *cur = app.clone(),
            },
            (current, applied) => *current = applied.clone(),
        }
    }
}

/// The key of a keyed list item, defaults filled in; `None` if a key field is missing.
fn item_key(keys: &[&str], item: &Value) -> Option<Map<String, Value>> {
    keys.iter()
        .map(|field| {
            let value = item.get(*field).filter(|v| !v.is_null()).cloned().or_else(|| schema::key_default(field))?;
            Some((field.to_string(), value))
        })
        .collect()
}

/// The `k:` elements of every item of a keyed list, or upstream's complaint about it.
fn item_elements(path: &Path, keys: &[&str], items: &[Value]) -> Result<Vec<String>, String> {
    let list = fieldset::render(path);
    let mut seen = std::collections::BTreeSet::new();
    let mut elements = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(key) = item_key(keys, item) else {
            let missing = keys.iter().find(|k| item.get(**k).is_none_or(Value::is_null)).copied().unwrap_or_default();
            return Err(format!("{list}: element {index}: associative list with keys has an element that omits key field {missing:?} (and doesn't have default value)"));
        };
        let element = fieldset::key_element(&key.into_iter().collect::<BTreeMap<_, _>>());
        if !seen.insert(element.clone()) {
            let shown = fieldset::render(std::slice::from_ref(&element));
            return Err(format!("{list}: duplicate entries for key {shown}"));
        }
        elements.push(element);
    }
    Ok(elements)
}

/// `value` with every `null` object field removed (an applied `null` declares nothing).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `applied` as a new object: server-set metadata and status dropped.
fn new_object_from(applied: &Value) -> Value {
    let mut object = applied.clone();
    if let Some(root) = object.as_object_mut() {
        root.shift_remove("status");
        if let Some(metadata) = root.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "managedFields",
                "resourceVersion",
                "uid",
                "creationTimestamp",
                "generation",
                "selfLink",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                metadata.shift_remove(field);
            }
        }
    }
    object
}

/// Applies `applied` (a server-side apply patch body) for `manager` to `current` (`None`:
/// the object does not exist yet) and returns the whole new object, `managedFields` included.
///
/// Fields the manager applied before but omits now are removed unless another manager
/// owns them; fields another manager owns and the config sets to a different value are
/// conflicts, unless `force` moves their ownership to `manager`.
#[allow(clippy::too_many_arguments)]
pub fn server_side_apply(
    _group: &str,
    kind: &str,
    api_version: &str,
    current: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid("the applied configuration must be a JSON object".into()));
    }
    if applied.pointer("/metadata/managedFields").is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::Invalid("metadata.managedFields must be nil".into()));
    }
    if let Some(sent) = applied.get("apiVersion").and_then(Value::as_str).filter(|v| *v != api_version) {
        return Err(ApplyError::Invalid(format!(
            "Incorrect version specified in apply patch. Specified patch version: {sent}, expected: {api_version}"
        )));
    }
    let shape = Shape { kind };
    let applied = without_nulls(applied);
    let applied_set = shape.field_set(&applied, SetOf::Applied).map_err(|problem| {
        let meta = |field: &str| applied.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default().to_string();
        let group_version = if api_version.contains('/') { api_version.to_string() } else { format!("/{api_version}") };
        ApplyError::Invalid(format!(
            "failed to create typed patch object ({}/{}; {group_version}, Kind={kind}): {problem}",
            meta("namespace"),
            meta("name")
        ))
    })?;
    let Some(current) = current else {
        let mut object = new_object_from(&applied);
        write_entries(&mut object, vec![ManagedEntry::new(manager, APPLY, api_version, now, applied_set)]);
        return Ok(object);
    };
    if !current.is_object() {
        return Err(ApplyError::Invalid("the current object is not a JSON object".into()));
    }

    let mut entries = read_entries(current);
    if current.pointer("/metadata/managedFields").is_none() {
        // Upstream credits everything already present to a placeholder manager, so a first
        // apply over an untracked object conflicts instead of silently taking it over.
        let existing = shape.field_set(current, SetOf::Written).unwrap_or_default();
        entries.push(ManagedEntry::new("before-first-apply", UPDATE, api_version, now, existing));
    }

    let conflicts = find_conflicts(&applied_set, &applied, current, &entries, manager);
    if !conflicts.is_empty() {
        if !force {
            return Err(ApplyError::Conflicts(conflicts.into_iter().map(|(conflict, _)| conflict).collect()));
        }
        for entry in entries.iter_mut().filter(|e| !e.is_apply_of(manager)) {
            for (_, path) in &conflicts {
                entry.fields.remove(path);
            }
        }
    }

    let mut merged = current.clone();
    shape.merge(&mut Vec::new(), &mut merged, &applied);

    let previously_applied = entries.iter().find(|e| e.is_apply_of(manager)).map(|e| e.fields.clone()).unwrap_or_default();
    let mut kept = applied_set.clone();
    for entry in entries.iter().filter(|e| !e.is_apply_of(manager)) {
        kept.extend(entry.fields.iter().cloned());
    }
    // Shallowest first: a list item goes as a whole, before its key fields would be taken
    // out from under it (which would make it impossible to find).
    for path in previously_applied.difference(&applied_set) {
        if !fieldset::owns_within(&kept, path) && !fieldset::is_key_field_of_item(path) && fieldset::remove(&mut merged, path) {
            shape.prune_emptied_parents(&mut merged, path);
        }
    }

    match entries.iter_mut().find(|e| e.is_apply_of(manager)) {
        Some(entry) => {
            entry.fields = applied_set;
            entry.api_version = api_version.to_string();
            entry.time = Some(now.to_string());
        }
        None => entries.push(ManagedEntry::new(manager, APPLY, api_version, now, applied_set)),
    }
    write_entries(&mut merged, entries);
    if is_no_op(current, &merged) {
        // Upstream keeps the old timestamps when an apply changes nothing else, so a
        // repeated apply is not a write.
        return Ok(current.clone());
    }
    Ok(merged)
}

/// Whether `after` differs from `before` in nothing but managedFields timestamps.
fn is_no_op(before: &Value, after: &Value) -> bool {
    let without_managed = |object: &Value| {
        let mut object = object.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.shift_remove("managedFields");
        }
        object
    };
    let ownership = |object: &Value| -> std::collections::BTreeSet<(String, String, String, Option<String>, FieldSet)> {
        read_entries(object).into_iter().map(|e| (e.manager, e.operation, e.api_version, e.subresource, e.fields)).collect()
    };
    without_managed(before) == without_managed(after) && ownership(before) == ownership(after)
}

/// Leaves the applied config sets to a value differing from `current`, paired with each
/// other manager owning them.
fn find_conflicts(
    applied_set: &FieldSet,
    applied: &Value,
    current: &Value,
    entries: &[ManagedEntry],
    manager: &str,
) -> Vec<(Conflict, Path)> {
    let mut conflicts = Vec::new();
    for path in applied_set.iter().filter(|p| fieldset::is_leaf(applied_set, p)) {
        let Some(existing) = fieldset::lookup(current, path) else { continue };
        if fieldset::lookup(applied, path) == Some(existing) {
            continue;
        }
        for entry in entries.iter().filter(|e| !e.is_apply_of(manager) && e.fields.contains(path)) {
            conflicts.push((
                Conflict {
                    manager: entry.manager.clone(),
                    api_version: (entry.operation != APPLY).then(|| entry.api_version.clone()),
                    field: fieldset::render(path),
                },
                path.clone(),
            ));
        }
    }
    conflicts
}

/// Records a non-apply write (create when `old` is `None`, update, patch) by `manager`:
/// the fields it added or changed become its `Update` entry's, and are taken from every
/// other manager; fields no longer present are dropped from every entry. The result is
/// written to `new.metadata.managedFields`.
///
/// A client that sends `managedFields` different from the stored ones set them on purpose:
/// they are kept as sent (this is also how the result of [`server_side_apply`], which
/// carries its own bookkeeping, passes through the server's update path); sending an empty
/// list clears them.
pub fn record_update(_group: &str, kind: &str, api_version: &str, old: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    if !new.is_object() {
        return;
    }
    let sent = new.pointer("/metadata/managedFields").filter(|v| !v.is_null());
    let stored = old.and_then(|o| o.pointer("/metadata/managedFields")).filter(|v| !v.is_null());
    match sent {
        Some(sent) if sent.as_array().is_some_and(Vec::is_empty) && old.is_some() => {
            write_entries(new, Vec::new());
            return;
        }
        Some(sent) if !sent.as_array().is_some_and(Vec::is_empty) && Some(sent) != stored => return,
        _ => {}
    }
    let mut entries = old.map(read_entries).unwrap_or_default();

    let shape = Shape { kind };
    let new_set = shape.field_set(new, SetOf::Written).unwrap_or_default();
    let owner = (!manager.is_empty()).then_some(manager);
    // Fields the same manager already owns through its Apply entry stay there. The server
    // passes the result of every apply through here too, and when that apply kept the same
    // field set within the same second its bookkeeping is indistinguishable from the
    // stored one; moving its own fields to an Update entry would then make its next apply
    // conflict with itself.
    let applied_by_manager: FieldSet =
        entries.iter().filter(|e| owner.is_some_and(|m| e.is_apply_of(m))).flat_map(|e| e.fields.iter().cloned()).collect();
    let changed: FieldSet = new_set
        .iter()
        .filter(|path| !applied_by_manager.contains(*path))
        .filter(|path| {
            let Some(old) = old else { return true };
            match fieldset::lookup(old, path) {
                None => true,
                Some(before) => fieldset::is_leaf(&new_set, path) && fieldset::lookup(new, path) != Some(before),
            }
        })
        .cloned()
        .collect();

    for entry in entries.iter_mut() {
        if owner.is_some_and(|m| entry.is_update_of(m, api_version)) {
            continue;
        }
        // A write by nobody in particular (internal, unnamed) takes nothing from anybody.
        entry.fields.retain(|path| (owner.is_none() || !changed.contains(path)) && fieldset::lookup(new, path).is_some());
    }
    if let Some(manager) = owner {
        match entries.iter_mut().find(|e| e.is_update_of(manager, api_version)) {
            Some(entry) => {
                entry.fields.retain(|path| fieldset::lookup(new, path).is_some());
                if !changed.is_empty() {
                    entry.fields.extend(changed);
                    entry.time = Some(now.to_string());
                }
            }
            None if !changed.is_empty() => entries.push(ManagedEntry::new(manager, UPDATE, api_version, now, changed)),
            None => {}
        }
    }
    write_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T00:00:00Z";
    const LATER: &str = "2026-11-23T01:00:00Z";

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    fn apply(current: Option<&Value>, applied: &Value, manager: &str, force: bool) -> Result<Value, ApplyError> {
        server_side_apply("apps", "Deployment", "apps/v1", current, applied, manager, force, NOW)
    }

    fn entries(object: &Value) -> Vec<Value> {
        object.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    fn entry_of<'a>(entries: &'a [Value], manager: &str, operation: &str) -> Option<&'a Value> {
        entries.iter().find(|e| e["manager"] == manager && e["operation"] == operation)
    }

    fn conflicts(result: Result<Value, ApplyError>) -> Vec<Conflict> {
        match result {
            Err(ApplyError::Conflicts(c)) => c,
            other => panic!("expected conflicts, got {other:?}"),
        }
    }

    #[test]
    fn create_via_apply_records_one_apply_entry_with_upstream_fields_v1() {
        let created = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("apply");
        let managed = entries(&created);
        assert_eq!(managed.len(), 1);
        let entry = &managed[0];
        assert_eq!(entry["manager"], "kubectl");
        assert_eq!(entry["operation"], "Apply");
        assert_eq!(entry["apiVersion"], "apps/v1");
        assert_eq!(entry["time"], NOW);
        assert_eq!(entry["fieldsType"], "FieldsV1");
        let expected = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        });
        assert_eq!(entry["fieldsV1"], expected);
        assert_eq!(created["spec"]["replicas"], 2);
        assert_eq!(created["metadata"]["name"], "web");
    }

    #[test]
    fn create_via_apply_drops_server_set_metadata_and_status() {
        let mut applied = deployment(1, "nginx:1");
        applied["metadata"]["resourceVersion"] = json!("5");
        applied["metadata"]["uid"] = json!("u");
        applied["status"] = json!({"replicas": 9});
        let created = apply(None, &applied, "kubectl", false).expect("apply");
        assert!(created["metadata"].get("resourceVersion").is_none());
        assert!(created["metadata"].get("uid").is_none());
        assert!(created.get("status").is_none());
        assert!(entries(&created)[0]["fieldsV1"].get("f:status").is_none());
    }

    #[test]
    fn identical_reapply_changes_nothing_not_even_the_time() {
        let created = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("create");
        let again = server_side_apply("apps", "Deployment", "apps/v1", Some(&created), &deployment(2, "nginx:1"), "kubectl", false, LATER)
            .expect("apply");
        assert_eq!(again, created);
        let changed =
            server_side_apply("apps", "Deployment", "apps/v1", Some(&created), &deployment(3, "nginx:1"), "kubectl", false, LATER)
                .expect("apply");
        assert_eq!(entries(&changed)[0]["time"], LATER);
    }

    #[test]
    fn entries_are_ordered_apply_first_then_by_time() {
        let created = apply(None, &deployment(2, "nginx:1"), "zed", false).expect("create");
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update("apps", "Deployment", "apps/v1", Some(&created), &mut scaled, "a-scaler", LATER);
        let later = server_side_apply("apps", "Deployment", "apps/v1", Some(&scaled), &deployment(5, "nginx:1"), "bob", false, LATER)
            .expect("apply");
        let order: Vec<(String, String)> = entries(&later)
            .iter()
            .map(|e| (e["manager"].as_str().unwrap_or("").to_string(), e["operation"].as_str().unwrap_or("").to_string()))
            .collect();
        let expected = [("zed", "Apply"), ("bob", "Apply"), ("a-scaler", "Update")];
        assert_eq!(order, expected.map(|(m, o)| (m.to_string(), o.to_string())));
    }

    #[test]
    fn applied_status_is_merged_but_never_owned() {
        let created = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("create");
        let status =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "other"}, "status": {"replicas": 2}});
        let after = apply(Some(&created), &status, "status-writer", false).expect("apply");
        assert_eq!(after["status"]["replicas"], 2);
        assert!(after["metadata"].get("uid").is_none(), "server-set metadata is not taken from the config");
        let managed = entries(&after);
        assert!(entry_of(&managed, "status-writer", "Apply").is_none(), "an applier owning nothing has no entry");
        assert!(entry_of(&managed, "kubectl", "Apply").is_some());
    }

    #[test]
    fn reapply_omitting_a_field_removes_it() {
        let cm =
            |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "1"}}, "data": data});
        let first = server_side_apply("", "ConfigMap", "v1", None, &cm(json!({"a": "1", "b": "2"})), "mgr", false, NOW).expect("create");
        let mut second_config = cm(json!({"a": "1"}));
        second_config["metadata"].as_object_mut().map(|m| m.shift_remove("labels"));
        let second = server_side_apply("", "ConfigMap", "v1", Some(&first), &second_config, "mgr", false, LATER).expect("apply");
        assert_eq!(second["data"], json!({"a": "1"}));
        assert!(second["metadata"].get("labels").is_none(), "{second}");
        let managed = entries(&second);
        assert_eq!(managed[0]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
        assert_eq!(managed[0]["time"], LATER);
    }

    #[test]
    fn omitted_field_owned_by_another_manager_stays() {
        let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
        let first = server_side_apply("", "ConfigMap", "v1", None, &cm(json!({"a": "1", "b": "2"})), "one", false, NOW).expect("create");
        let shared = server_side_apply("", "ConfigMap", "v1", Some(&first), &cm(json!({"b": "2"})), "two", false, NOW).expect("share");
        let dropped = server_side_apply("", "ConfigMap", "v1", Some(&shared), &cm(json!({"a": "1"})), "one", false, NOW).expect("drop");
        assert_eq!(dropped["data"], json!({"a": "1", "b": "2"}));
    }

    #[test]
    fn differing_value_owned_by_another_applier_conflicts() {
        let created = apply(None, &deployment(2, "nginx:1"), "alice", false).expect("create");
        let found = conflicts(apply(Some(&created), &deployment(3, "nginx:2"), "bob", false));
        let mut fields: Vec<&str> = found.iter().map(|c| c.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, [".spec.replicas", ".spec.template.spec.containers[name=\"nginx\"].image"]);
        assert!(found.iter().all(|c| c.manager == "alice" && c.api_version.is_none()));
        assert_eq!(
            ApplyError::Conflicts(found).to_string(),
            "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
        );
    }

    #[test]
    fn force_takes_ownership() {
        let created = apply(None, &deployment(2, "nginx:1"), "alice", false).expect("create");
        let forced = apply(Some(&created), &deployment(3, "nginx:1"), "bob", true).expect("force");
        assert_eq!(forced["spec"]["replicas"], 3);
        let managed = entries(&forced);
        let alice = entry_of(&managed, "alice", "Apply").expect("alice keeps other fields");
        assert!(alice["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        let bob = entry_of(&managed, "bob", "Apply").expect("bob");
        assert!(bob["fieldsV1"]["f:spec"].get("f:replicas").is_some());
        // Now alice is the one who conflicts.
        let back = conflicts(apply(Some(&forced), &deployment(2, "nginx:1"), "alice", false));
        assert_eq!(back, vec![Conflict { manager: "bob".into(), api_version: None, field: ".spec.replicas".into() }]);
    }

    #[test]
    fn same_value_is_shared_without_conflict() {
        let created = apply(None, &deployment(2, "nginx:1"), "alice", false).expect("create");
        let shared = apply(Some(&created), &deployment(2, "nginx:1"), "bob", false).expect("same values share");
        let managed = entries(&shared);
        for manager in ["alice", "bob"] {
            let entry = entry_of(&managed, manager, "Apply").expect("entry");
            assert_eq!(entry["fieldsV1"]["f:spec"]["f:replicas"], json!({}), "{manager}");
        }
        // Alice dropping replicas keeps it, since bob still owns it.
        let mut without = deployment(2, "nginx:1");
        without["spec"].as_object_mut().map(|s| s.shift_remove("replicas"));
        let after = apply(Some(&shared), &without, "alice", false).expect("apply");
        assert_eq!(after["spec"]["replicas"], 2);
    }

    #[test]
    fn scale_after_apply_moves_replicas_then_apply_conflicts() {
        let created = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("create");
        let mut scaled = created.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update("apps", "Deployment", "apps/v1", Some(&created), &mut scaled, "kubectl-scale", LATER);
        let managed = entries(&scaled);
        let scaler = entry_of(&managed, "kubectl-scale", "Update").expect("scaler entry");
        assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(scaler["time"], LATER);
        let applier = entry_of(&managed, "kubectl", "Apply").expect("applier entry");
        assert!(applier["fieldsV1"]["f:spec"].get("f:replicas").is_none());
        assert!(applier["fieldsV1"]["f:spec"].get("f:template").is_some());

        let found = conflicts(apply(Some(&scaled), &deployment(2, "nginx:1"), "kubectl", false));
        assert_eq!(
            found,
            vec![Conflict { manager: "kubectl-scale".into(), api_version: Some("apps/v1".into()), field: ".spec.replicas".into() }]
        );
        assert_eq!(
            ApplyError::Conflicts(found).to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
        );
        // Re-applying the scaled value is fine and shares ownership.
        assert!(apply(Some(&scaled), &deployment(5, "nginx:1"), "kubectl", false).is_ok());
    }

    #[test]
    fn apply_passing_through_the_update_path_within_the_same_second_keeps_its_fields() {
        let first = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("create");
        let mut second = apply(Some(&first), &deployment(3, "nginx:1"), "kubectl", false).expect("apply");
        assert_eq!(second["metadata"]["managedFields"], first["metadata"]["managedFields"], "same fields, same second");
        record_update("apps", "Deployment", "apps/v1", Some(&first), &mut second, "kubectl", NOW);
        let managed = entries(&second);
        assert_eq!(managed.len(), 1, "{managed:?}");
        assert!(apply(Some(&second), &deployment(4, "nginx:1"), "kubectl", false).is_ok());
    }

    #[test]
    fn keyed_list_merges_containers_from_two_managers() {
        let created = apply(None, &deployment(1, "nginx:1"), "alice", false).expect("create");
        let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}});
        let merged = apply(Some(&created), &sidecar, "bob", false).expect("merge");
        let containers = merged.pointer("/spec/template/spec/containers").and_then(Value::as_array).cloned().unwrap_or_default();
        let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["nginx", "sidecar"]);
        assert_eq!(containers[0]["image"], "nginx:1");
        assert_eq!(merged["spec"]["replicas"], 1);
        // Bob dropping his container removes it and leaves alice's alone.
        let mut nothing = sidecar.clone();
        nothing["spec"]["template"]["spec"]["containers"] = json!([]);
        let dropped = apply(Some(&merged), &nothing, "bob", false).expect("drop");
        let names: Vec<String> = dropped
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        assert_eq!(names, ["nginx"]);
    }

    #[test]
    fn dropping_a_keyed_item_removes_it_whole_and_the_emptied_list() {
        let created = apply(None, &deployment(1, "nginx:1"), "kubectl", false).expect("create");
        let mut stored = created.clone();
        // The server defaults the protocol; the item must still be found by its key.
        stored["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        let mut without_ports = deployment(1, "nginx:1");
        without_ports["spec"]["template"]["spec"]["containers"][0].as_object_mut().map(|c| c.shift_remove("ports"));
        let after = apply(Some(&stored), &without_ports, "kubectl", false).expect("apply");
        let container = &after["spec"]["template"]["spec"]["containers"][0];
        assert!(container.get("ports").is_none(), "{container}");
        assert_eq!(container["name"], "nginx");
    }

    #[test]
    fn dropped_item_co_owned_by_another_manager_keeps_its_key() {
        let created = apply(None, &deployment(1, "nginx:1"), "alice", false).expect("create");
        let image_only = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}}});
        let shared = apply(Some(&created), &image_only, "bob", false).expect("share");
        let mut no_containers = deployment(1, "nginx:1");
        no_containers["spec"]["template"]["spec"]["containers"] = json!([]);
        // Alice keeps nothing of the container; bob co-owns name and image, so both stay.
        let after = apply(Some(&shared), &no_containers, "alice", false).expect("apply");
        let container = &after["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["name"], "nginx");
        assert_eq!(container["image"], "nginx:1");
        assert!(container.get("ports").is_none(), "{container}");
    }

    #[test]
    fn keyed_list_item_without_key_is_invalid() {
        let mut bad = deployment(1, "nginx:1");
        bad["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
        match apply(None, &bad, "kubectl", false) {
            Err(ApplyError::Invalid(message)) => assert_eq!(
                message,
                "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: \
                 element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
            ),
            other => panic!("expected invalid, got {other:?}"),
        }
        let mut twice = deployment(1, "nginx:1");
        twice["spec"]["template"]["spec"]["containers"] = json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]);
        let error = apply(None, &twice, "kubectl", false).map(|_| ()).expect_err("duplicate keys");
        assert!(error.to_string().ends_with(".spec.template.spec.containers: duplicate entries for key [name=\"a\"]"), "{error}");
        assert!(matches!(apply(None, &json!([1]), "kubectl", false), Err(ApplyError::Invalid(_))));
        let mut with_managed = deployment(1, "nginx:1");
        with_managed["metadata"]["managedFields"] = json!([]);
        let error = apply(None, &with_managed, "kubectl", false).map(|_| ()).expect_err("managedFields in an apply");
        assert_eq!(error.to_string(), "metadata.managedFields must be nil");
        let mut old_version = deployment(1, "nginx:1");
        old_version["apiVersion"] = json!("apps/v1beta2");
        let error = apply(None, &old_version, "kubectl", false).map(|_| ()).expect_err("wrong version");
        assert_eq!(
            error.to_string(),
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta2, expected: apps/v1"
        );
    }

    #[test]
    fn first_apply_over_untracked_object_conflicts_with_before_first_apply() {
        let mut untracked = deployment(2, "nginx:1");
        untracked["metadata"].as_object_mut().map(|m| m.shift_remove("managedFields"));
        let found = conflicts(apply(Some(&untracked), &deployment(4, "nginx:1"), "kubectl", false));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].manager, "before-first-apply");
    }

    #[test]
    fn create_records_every_field_for_the_creator() {
        let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u", "resourceVersion": "1"}, "data": {"a": "1"}});
        record_update("", "ConfigMap", "v1", None, &mut obj, "kubectl-create", NOW);
        let managed = entries(&obj);
        assert_eq!(managed.len(), 1);
        assert_eq!(managed[0]["operation"], "Update");
        assert_eq!(managed[0]["fieldsV1"], json!({"f:data": {".": {}, "f:a": {}}}));
    }

    #[test]
    fn update_merges_into_the_same_entry_and_drops_removed_fields() {
        let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        record_update("", "ConfigMap", "v1", None, &mut created, "editor", NOW);
        let mut updated = created.clone();
        updated["data"] = json!({"b": "2"});
        record_update("", "ConfigMap", "v1", Some(&created), &mut updated, "editor", LATER);
        let managed = entries(&updated);
        assert_eq!(managed.len(), 1);
        assert_eq!(managed[0]["fieldsV1"], json!({"f:data": {".": {}, "f:b": {}}}));
        assert_eq!(managed[0]["time"], LATER);
    }

    #[test]
    fn manager_losing_every_field_is_dropped() {
        let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        record_update("", "ConfigMap", "v1", None, &mut created, "first", NOW);
        let mut updated = created.clone();
        updated["data"] = json!({"a": "2"});
        record_update("", "ConfigMap", "v1", Some(&created), &mut updated, "second", LATER);
        let managed = entries(&updated);
        // `first` still owns the map node `data`, `second` the changed key.
        assert_eq!(entry_of(&managed, "first", "Update").map(|e| e["fieldsV1"].clone()), Some(json!({"f:data": {}})));
        let mut emptied = updated.clone();
        emptied.as_object_mut().map(|o| o.shift_remove("data"));
        record_update("", "ConfigMap", "v1", Some(&updated), &mut emptied, "second", LATER);
        assert!(emptied["metadata"].get("managedFields").is_none(), "{emptied}");
    }

    #[test]
    fn user_sent_managed_fields_are_kept_and_empty_list_resets() {
        let created = apply(None, &deployment(2, "nginx:1"), "kubectl", false).expect("create");
        let mut reset = created.clone();
        reset["metadata"]["managedFields"] = json!([]);
        record_update("apps", "Deployment", "apps/v1", Some(&created), &mut reset, "editor", LATER);
        assert!(reset["metadata"].get("managedFields").is_none());

        let mut unchanged = created.clone();
        unchanged["spec"]["replicas"] = json!(7);
        record_update("apps", "Deployment", "apps/v1", Some(&created), &mut unchanged, "editor", LATER);
        assert!(entry_of(&entries(&unchanged), "editor", "Update").is_some(), "same list as stored means: record the write");

        let mut replaced = created.clone();
        let custom = json!([{"manager": "someone", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        replaced["metadata"]["managedFields"] = custom.clone();
        record_update("apps", "Deployment", "apps/v1", Some(&created), &mut replaced, "editor", LATER);
        assert_eq!(replaced["metadata"]["managedFields"], custom);
    }

    #[test]
    fn service_ports_are_keyed_by_port_and_protocol() {
        let svc = |ports: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": ports}});
        let two = svc(json!([{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]));
        let created = server_side_apply("", "Service", "v1", None, &two, "one", false, NOW).expect("create");
        let fields = &entries(&created)[0]["fieldsV1"]["f:spec"]["f:ports"];
        assert!(fields.get("k:{\"port\":80,\"protocol\":\"TCP\"}").is_some(), "{fields}");
        assert!(fields.get("k:{\"port\":53,\"protocol\":\"UDP\"}").is_some(), "{fields}");
        let changed = svc(json!([{"port": 80, "targetPort": 9090}]));
        let found = conflicts(server_side_apply("", "Service", "v1", Some(&created), &changed, "two", false, NOW));
        assert_eq!(found[0].field, ".spec.ports[port=80,protocol=\"TCP\"].targetPort");
        let one =
            server_side_apply("", "Service", "v1", Some(&created), &svc(json!([{"port": 80, "targetPort": 8080}])), "one", false, NOW)
                .expect("apply");
        assert_eq!(one["spec"]["ports"], json!([{"port": 80, "targetPort": 8080}]));
    }

    #[test]
    fn finalizers_are_a_set() {
        let cm = |fins: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": fins}});
        let first = server_side_apply("", "ConfigMap", "v1", None, &cm(json!(["a/x"])), "one", false, NOW).expect("create");
        let second = server_side_apply("", "ConfigMap", "v1", Some(&first), &cm(json!(["b/y"])), "two", false, NOW).expect("apply");
        assert_eq!(second["metadata"]["finalizers"], json!(["a/x", "b/y"]));
        let two = entries(&second);
        let entry = entry_of(&two, "two", "Apply").expect("two");
        assert_eq!(entry["fieldsV1"], json!({"f:metadata": {"f:finalizers": {"v:\"b/y\"": {}}}}));
    }
}
