//! The `meta.k8s.io` views of objects: `Table` (for `kubectl get`) and `PartialObjectMetadata`.
//!
//! Columns and cells are kind-specific and live in `corten_apis::printers`; this module wraps them
//! in the wire shape, with each row carrying the object as the client asked (`includeObject`).

use corten_apis::{printers, ResourceInfo};
use serde_json::{json, Map, Value};

/// `includeObject`: what each Table row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (upstream's default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter (unknown values get the default, as upstream does).
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The object reduced to its metadata, as `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value, meta_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list response reduced to `PartialObjectMetadataList`.
pub fn partial_metadata_list(list: &Value, meta_version: &str) -> Value {
    let items: Vec<Value> = list["items"].as_array().into_iter().flatten().map(|o| partial_metadata(o, meta_version)).collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": list.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}

/// A Table of `objects` with the list metadata `list_meta`.
pub fn table(info: &ResourceInfo, objects: &[Value], list_meta: Value, include: IncludeObject, meta_version: &str) -> Value {
    let columns: Vec<Value> = printers::columns(info.group, info.kind)
        .iter()
        .map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = Map::new();
            // Printers read the storage version (one printer per kind, like upstream's internal
            // types); a no-op for kinds served in one version only.
            let printed = (info.convert_to_storage)(obj.clone());
            row.insert("cells".into(), Value::Array(printers::cells(info.group, info.kind, &printed, now)));
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row.insert("object".into(), partial_metadata(obj, meta_version));
                }
                IncludeObject::Object => {
                    let mut full = obj.clone();
                    if let Some(o) = full.as_object_mut() {
                        o.insert("apiVersion".into(), info.api_version().into());
                        o.insert("kind".into(), info.kind.into());
                    }
                    row.insert("object".into(), full);
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}
