//! Server-side Table columns and cells: what `kubectl get` shows for each kind.
//!
//! kubectl asks for `application/json;as=Table;g=meta.k8s.io;v=v1` and prints whatever columns
//! the server sends, so the columns and the text of each cell are decided here, the way
//! upstream's `pkg/printers/internalversion` decides them (same column names, types, priorities
//! and cell formats; the descriptions are our own words). The server always renders every
//! column, including the `-o wide` ones (priority 1); kubectl hides those unless asked.
//!
//! Kinds without a printer get upstream's default: `NAME` and `CREATED AT` (a date).
//!
//! Objects arrive as JSON (the registry's currency), so every accessor tolerates missing or
//! wrongly-typed fields by treating them as absent: a table must render whatever is stored.

mod cluster;
mod core;
mod workloads;

use jiff::Timestamp;
use serde_json::{json, Value};

/// One Table column definition (`meta.k8s.io/v1` `TableColumnDefinition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name`, `Ready` (kubectl upper-cases it).
    pub name: &'static str,
    /// OpenAPI type of the cells: `string`, `integer`, `boolean`, `date`, ...
    pub type_: &'static str,
    /// `name` for the column holding the object name, otherwise empty.
    pub format: &'static str,
    /// Human description of the column.
    pub description: &'static str,
    /// 0: always shown; 1: shown only with `-o wide`.
    pub priority: i32,
}

/// A kind's printer: its columns and how to fill them for one object.
pub(crate) struct Printer {
    pub(crate) columns: &'static [Column],
    pub(crate) cells: fn(&Value, Timestamp) -> Vec<Value>,
}

/// The columns of a normal, always-shown column.
pub(crate) const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 0 }
}

/// A column shown only with `-o wide`.
pub(crate) const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column { name, type_, format: "", description, priority: 1 }
}

/// The `Name` column every printer starts with.
pub(crate) const NAME: Column =
    Column { name: "Name", type_: "string", format: "name", description: "Name of the object, unique within its namespace.", priority: 0 };

/// The `Age` column (time since creation).
pub(crate) const AGE: Column = col("Age", "string", "Time since the object was created.");

/// Upstream's default for kinds without a printer.
const DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    Column { name: "Created At", type_: "date", format: "", description: "When the object was created (RFC 3339).", priority: 0 },
];

fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    core::printer(group, kind).or_else(|| workloads::printer(group, kind)).or_else(|| cluster::printer(group, kind))
}

/// The Table columns for a kind; kinds without a printer get `Name` and `Created At`.
pub fn columns(group: &str, kind: &str) -> &'static [Column] {
    printer(group, kind).map_or(DEFAULT_COLUMNS, |p| p.columns)
}

/// The cells of one object's row, one per entry of [`columns`], rendered as of `now`.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    match printer(group, kind) {
        Some(p) => (p.cells)(obj, now),
        None => {
            let created = obj.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or("0001-01-01T00:00:00Z");
            vec![json!(name(obj)), json!(created)]
        }
    }
}

// ---- shared helpers -------------------------------------------------------------------------

/// `metadata.name`.
pub(crate) fn name(obj: &Value) -> &str {
    text(obj, "/metadata/name")
}

/// The string at a JSON pointer, or "" when absent.
pub(crate) fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The string at a JSON pointer, or `fallback` when absent or empty.
pub(crate) fn text_or<'a>(obj: &'a Value, pointer: &str, fallback: &'a str) -> &'a str {
    match text(obj, pointer) {
        "" => fallback,
        s => s,
    }
}

/// The integer at a JSON pointer, or 0 when absent.
pub(crate) fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at a JSON pointer, or false when absent.
pub(crate) fn flag(obj: &Value, pointer: &str) -> bool {
    obj.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at a JSON pointer, or an empty slice when absent.
pub(crate) fn items<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The number of entries of the object (map) at a JSON pointer.
pub(crate) fn entries(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_object).map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX))
}

/// A count as a JSON integer.
pub(crate) fn count(n: usize) -> Value {
    json!(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null())
}

/// Parses an RFC 3339 timestamp field; None when absent or malformed.
pub(crate) fn timestamp(obj: &Value, pointer: &str) -> Option<Timestamp> {
    obj.pointer(pointer).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// The age of the object: time since `metadata.creationTimestamp`, `<unknown>` without one.
pub(crate) fn age(obj: &Value, now: Timestamp) -> Value {
    json!(since(timestamp(obj, "/metadata/creationTimestamp"), now))
}

/// Human time elapsed from `t` to `now`, `<unknown>` when `t` is absent.
pub(crate) fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    t.map_or_else(|| "<unknown>".to_string(), |t| human_duration(now.duration_since(t)))
}

/// A duration in the compact form kubectl shows (2-3 significant figures): `45s`, `5m30s`,
/// `3h`, `2d5h`, `3y`. Up to one second in the future counts as now; further is `<invalid>`.
pub fn human_duration(d: jiff::SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            dy => format!("{years}y{dy}d"),
        };
    }
    format!("{years}y")
}

/// A string map as `k=v,k2=v2` sorted by key, `<none>` when empty (upstream `FormatLabels`).
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs.sort();
    pairs.join(",")
}

/// A `LabelSelector` in selector syntax (`app=web,tier in (a,b),!legacy`), requirements sorted
/// by key; "" for an empty or absent selector.
pub(crate) fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return String::new();
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            requirements.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in items(selector, "/matchExpressions") {
        let key = text(expr, "/key");
        let mut values: Vec<&str> = items(expr, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let rendered = match text(expr, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        requirements.push((key.to_string(), rendered));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join(",")
}

/// A `LabelSelector` for display: [`selector_string`], or `<none>` when it selects by nothing
/// (upstream `FormatLabelSelector`).
pub(crate) fn format_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        s if s.is_empty() => "<none>".to_string(),
        s => s,
    }
}

/// The names and images of a container list, each comma-joined.
pub(crate) fn containers_and_images(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// Up to `max` entries joined by `,`, then `+ N more...`; `<unset>` for none.
pub(crate) fn list_with_more(list: &[String], max: usize) -> String {
    if list.is_empty() {
        return "<unset>".to_string();
    }
    let shown = list.iter().take(max).cloned().collect::<Vec<_>>().join(",");
    if list.len() > max {
        format!("{shown} + {} more...", list.len() - max)
    } else {
        shown
    }
}

/// `True` / `False`, or `<unset>` when absent.
pub(crate) fn bool_text(v: Option<&Value>) -> &'static str {
    match v.and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn secs(s: i64) -> String {
        human_duration(SignedDuration::from_secs(s))
    }

    #[test]
    fn human_durations_follow_upstream_rounding() {
        assert_eq!(secs(-5), "<invalid>");
        assert_eq!(secs(-1), "0s");
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(45), "45s");
        assert_eq!(secs(119), "119s");
        assert_eq!(secs(120), "2m");
        assert_eq!(secs(5 * 60 + 30), "5m30s");
        assert_eq!(secs(10 * 60 + 30), "10m");
        assert_eq!(secs(179 * 60), "179m");
        assert_eq!(secs(3 * 3600), "3h");
        assert_eq!(secs(3 * 3600 + 25 * 60), "3h25m");
        assert_eq!(secs(8 * 3600 + 25 * 60), "8h");
        assert_eq!(secs(47 * 3600), "47h");
        assert_eq!(secs(2 * 86400), "2d");
        assert_eq!(secs(2 * 86400 + 5 * 3600), "2d5h");
        assert_eq!(secs(30 * 86400 + 5 * 3600), "30d");
        assert_eq!(secs(729 * 86400), "729d");
        assert_eq!(secs(3 * 365 * 86400), "3y");
        assert_eq!(secs(3 * 365 * 86400 + 10 * 86400), "3y10d");
        assert_eq!(secs(9 * 365 * 86400 + 10 * 86400), "9y");
    }

    #[test]
    fn unknown_kinds_get_name_and_creation_date() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": "2024-05-01T10:00:00Z"}});
        let cols = columns("example.com", "Widget");
        assert_eq!(cols.iter().map(|c| c.name).collect::<Vec<_>>(), ["Name", "Created At"]);
        assert_eq!(cols[1].type_, "date");
        assert_eq!(cells("example.com", "Widget", &obj, Timestamp::UNIX_EPOCH), vec![json!("x"), json!("2024-05-01T10:00:00Z")]);
        assert_eq!(columns("rbac.authorization.k8s.io", "Role"), DEFAULT_COLUMNS);
    }

    #[test]
    fn every_printer_fills_every_column() {
        let empty = json!({});
        for r in crate::resources::RESOURCES {
            let n = cells(r.group, r.kind, &empty, Timestamp::UNIX_EPOCH).len();
            assert_eq!(n, columns(r.group, r.kind).len(), "{}/{}", r.group, r.kind);
        }
    }

    #[test]
    fn selectors_render_like_upstream() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "legacy", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(Some(&sel)), "a=1,b=2,!legacy,tier in (api,web)");
        assert_eq!(format_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"z": "1", "a": "2"}))), "a=2,z=1");
    }
}
