//! Name, label and metadata rules, with upstream's exact messages.
//!
//! Clients (and tests written against kube-apiserver) match on the text of validation errors, so
//! every check here returns the same sentences upstream returns. The `is_*` functions return a
//! list of reasons (empty when valid) that callers wrap into [`FieldError`]s at the right path;
//! [`validate_object_meta`] and [`validate_object_meta_update`] apply them to `metadata`.

use serde_json::Value;

use crate::field::{FieldError, FieldErrors, FieldPath};

/// Longest DNS-1123 label (and DNS-1035 label, label value, label key name part).
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
/// Largest total size of an object's annotations (keys plus values), in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const C_IDENTIFIER_FMT: &str = "[A-Za-z_][A-Za-z0-9_]*";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const QUALIFIED_NAME_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `must be no more than N characters`.
pub fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// A regex-mismatch explanation in upstream's wording, with optional examples.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// `must be between LO and HI, inclusive`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Whether `s` matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            is_lower_alnum(first) && is_lower_alnum(last) && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// Whether `s` matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A lowercase RFC 1123 label (at most 63 characters): namespace names, container names.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// A lowercase RFC 1123 subdomain (at most 253 characters): most object names.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// An RFC 1035 label (starts with a letter, at most 63 characters): service names.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    let starts_with_letter = value.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase());
    if !(starts_with_letter && matches_dns1123_label(value)) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// A qualified name (`[prefix/]name`): label keys, annotation keys, finalizers.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(is_dns1123_subdomain(prefix).into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(format!("name part {}", max_len_error(DNS1123_LABEL_MAX_LENGTH)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// A label value: empty, or a qualified name part of at most 63 characters.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// A C identifier (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_c_identifier(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let valid = b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if valid {
        Vec::new()
    } else {
        vec![regex_error(
            "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'",
            C_IDENTIFIER_FMT,
            &["my_name", "MY_NAME", "MyName"],
        )]
    }
}

/// An environment variable name under upstream's relaxed rule (the default since 1.32): any
/// printable ASCII except `=`.
pub fn is_env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='".to_string());
    }
    errs
}

/// A ConfigMap or Secret data key.
pub fn is_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    let charset_ok =
        !value.is_empty() && value.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !charset_ok {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if value == "." {
        errs.push("must not be '.'".to_string());
    } else if value == ".." {
        errs.push("must not be '..'".to_string());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// A port number in 1..=65535.
pub fn is_valid_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) { Vec::new() } else { vec![inclusive_range_error(1, 65535)] }
}

/// A port name (IANA_SVC_NAME): at most 15 characters of `[-a-z0-9]`, at least one letter, no
/// leading, trailing or doubled hyphen.
pub fn is_valid_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty() || !port.bytes().all(|c| is_lower_alnum(c) || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// A name usable as one URL path segment (RBAC object names).
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"].iter().filter(|illegal| name.contains(*illegal)).map(|illegal| format!("may not contain '{illegal}'")).collect()
}

/// Which rule an object's `metadata.name` must follow; upstream picks one per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain (most kinds).
    Dns1123Subdomain,
    /// A DNS-1123 label (namespaces).
    Dns1123Label,
    /// A DNS-1035 label (services).
    Dns1035Label,
    /// One URL path segment (RBAC roles and bindings).
    PathSegment,
}

impl NameRule {
    /// The reasons `name` breaks this rule. With `prefix`, `name` is a `generateName` and may
    /// end in `-` (a random suffix follows).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked = if prefix { mask_trailing_dash(name) } else { name.to_string() };
        match self {
            NameRule::Dns1123Subdomain => is_dns1123_subdomain(&masked),
            NameRule::Dns1123Label => is_dns1123_label(&masked),
            NameRule::Dns1035Label => is_dns1035_label(&masked),
            NameRule::PathSegment => is_valid_path_segment_name(name),
        }
    }
}

/// A generateName prefix is checked as if a random suffix followed it: a trailing `-` (after at
/// least one other character) counts as a letter.
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(rest) if !rest.is_empty() => format!("{rest}a"),
        _ => name.to_string(),
    }
}

fn str_field<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Validates label keys and values found at `path` (a `metadata.labels`-like map).
pub fn validate_labels(labels: &Value, path: &FieldPath) -> FieldErrors {
    let mut errs = Vec::new();
    let Some(map) = labels.as_object() else { return errs };
    for (key, value) in map {
        errs.extend(is_qualified_name(key).into_iter().map(|m| FieldError::invalid(path.clone(), key.as_str(), m)));
        let value = value.as_str().unwrap_or("");
        errs.extend(is_valid_label_value(value).into_iter().map(|m| FieldError::invalid(path.clone(), value, m)));
    }
    errs
}

/// Validates annotation keys and their total size.
pub fn validate_annotations(annotations: &Value, path: &FieldPath) -> FieldErrors {
    let mut errs = Vec::new();
    let Some(map) = annotations.as_object() else { return errs };
    let mut total = 0usize;
    for (key, value) in map {
        let lowered = key.to_ascii_lowercase();
        errs.extend(is_qualified_name(&lowered).into_iter().map(|m| FieldError::invalid(path.clone(), key.as_str(), m)));
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path.clone(), TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn validate_owner_references(refs: &Value, path: &FieldPath) -> FieldErrors {
    let mut errs = Vec::new();
    let Some(list) = refs.as_array() else { return errs };
    let mut controllers = Vec::new();
    for (i, reference) in list.iter().enumerate() {
        let p = path.index(i);
        let api_version = str_field(reference, "apiVersion");
        if api_version.is_empty() {
            errs.push(FieldError::required(p.child("apiVersion"), "version must not be empty"));
        } else if api_version.split('/').count() > 2 || api_version.ends_with('/') {
            errs.push(FieldError::invalid(p.child("apiVersion"), api_version, "unexpected GroupVersion string"));
        }
        if str_field(reference, "kind").is_empty() {
            errs.push(FieldError::required(p.child("kind"), "kind must not be empty"));
        }
        if str_field(reference, "name").is_empty() {
            errs.push(FieldError::required(p.child("name"), "name must not be empty"));
        }
        if str_field(reference, "uid").is_empty() {
            errs.push(FieldError::required(p.child("uid"), "uid must not be empty"));
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers.push(format!("{}/{}", str_field(reference, "kind"), str_field(reference, "name")));
        }
    }
    if controllers.len() > 1 {
        errs.push(FieldError::invalid(
            path.clone(),
            refs.to_string().as_str(),
            format!("Only one reference can have Controller set to true. Found \"true\" in references for {}", controllers.join(" and ")),
        ));
    }
    errs
}

/// Validates an object's `metadata` on create: name (or generateName) under `name_rule`,
/// namespace presence matching the scope, labels, annotations, finalizers, owner references.
pub fn validate_object_meta(meta: &Value, namespaced: bool, name_rule: NameRule) -> FieldErrors {
    let path = FieldPath::root("metadata");
    let mut errs = Vec::new();
    let name = str_field(meta, "name");
    let generate_name = str_field(meta, "generateName");
    if !generate_name.is_empty() {
        errs.extend(
            name_rule
                .check(generate_name, true)
                .into_iter()
                .map(|m| FieldError::invalid(path.child("generateName"), generate_name, m)),
        );
    }
    if name.is_empty() {
        errs.push(FieldError::required(path.child("name"), "name or generateName is required"));
    } else {
        errs.extend(name_rule.check(name, false).into_iter().map(|m| FieldError::invalid(path.child("name"), name, m)));
    }
    let namespace = str_field(meta, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(path.child("namespace"), ""));
        } else {
            errs.extend(
                is_dns1123_label(namespace).into_iter().map(|m| FieldError::invalid(path.child("namespace"), namespace, m)),
            );
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(path.child("namespace"), "not allowed on this type"));
    }
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64) {
        if generation < 0 {
            errs.push(FieldError::invalid(path.child("generation"), generation, "must be greater than or equal to 0"));
        }
    }
    if let Some(labels) = meta.get("labels") {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = meta.get("annotations") {
        errs.extend(validate_annotations(annotations, &path.child("annotations")));
    }
    if let Some(refs) = meta.get("ownerReferences") {
        errs.extend(validate_owner_references(refs, &path.child("ownerReferences")));
    }
    if let Some(finalizers) = meta.get("finalizers").and_then(Value::as_array) {
        let p = path.child("finalizers");
        for finalizer in finalizers.iter().filter_map(Value::as_str) {
            errs.extend(is_qualified_name(finalizer).into_iter().map(|m| FieldError::invalid(p.clone(), finalizer, m)));
        }
        let orphan = finalizers.iter().any(|f| f == "orphan");
        let foreground = finalizers.iter().any(|f| f == "foregroundDeletion");
        if orphan && foreground {
            errs.push(FieldError::invalid(
                p,
                "orphan, foregroundDeletion",
                "finalizer orphan and foregroundDeletion cannot be both set",
            ));
        }
    }
    errs
}

/// `Invalid value: <new>: field is immutable` when `new` differs from `old` at `path`.
pub fn validate_immutable(new: &Value, old: &Value, path: FieldPath) -> Option<FieldError> {
    if new == old {
        return None;
    }
    let rendered = match new {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    };
    Some(FieldError {
        path,
        value: Some(rendered),
        kind: crate::field::FieldErrorKind::Invalid("field is immutable".to_string()),
        detail: "field is immutable".to_string(),
    })
}

/// Validates `metadata` on update: the create rules, plus name, namespace, uid and
/// creationTimestamp may not change.
pub fn validate_object_meta_update(new: &Value, old: &Value, namespaced: bool, name_rule: NameRule) -> FieldErrors {
    let mut errs = validate_object_meta(new, namespaced, name_rule);
    let path = FieldPath::root("metadata");
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let new_value = new.get(field).unwrap_or(&Value::Null);
        let old_value = old.get(field).unwrap_or(&Value::Null);
        errs.extend(validate_immutable(new_value, old_value, path.child(field)));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subdomain_accepts_dotted_lowercase_and_rejects_uppercase() {
        assert!(is_dns1123_subdomain("my.app-1").is_empty());
        let errs = is_dns1123_subdomain("Foo");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("a lowercase RFC 1123 subdomain must consist of"));
        assert!(errs[0].ends_with("(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
        assert_eq!(is_dns1123_subdomain(&"a".repeat(254)), vec![max_len_error(253)]);
        assert!(!is_dns1123_subdomain("a..b").is_empty());
        assert!(!is_dns1123_subdomain("").is_empty());
    }

    #[test]
    fn label_reports_dots_separately() {
        assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots".to_string()]);
        assert!(is_dns1123_label("-a")[0].contains("(e.g. 'my-name',  or '123-abc', regex"));
        assert!(is_dns1123_label("123-abc").is_empty());
    }

    #[test]
    fn dns1035_requires_leading_letter() {
        assert!(is_dns1035_label("web").is_empty());
        assert!(is_dns1035_label("1web")[0].starts_with("a DNS-1035 label"));
    }

    #[test]
    fn qualified_names_check_prefix_and_name() {
        assert!(is_qualified_name("example.com/My_name.1").is_empty());
        assert_eq!(is_qualified_name("/x"), vec!["prefix part must be non-empty".to_string()]);
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert!(is_qualified_name("Bad_Prefix/x")[0].starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert!(is_qualified_name("-x")[0].starts_with("name part must consist"));
    }

    #[test]
    fn label_values_may_be_empty() {
        assert!(is_valid_label_value("").is_empty());
        assert!(!is_valid_label_value("-bad").is_empty());
        assert_eq!(is_valid_label_value(&"a".repeat(64)), vec![max_len_error(63)]);
    }

    #[test]
    fn ports_and_env_names() {
        assert!(is_valid_port_num(80).is_empty());
        assert_eq!(is_valid_port_num(70000), vec!["must be between 1 and 65535, inclusive".to_string()]);
        assert!(is_valid_port_name("http").is_empty());
        assert_eq!(is_valid_port_name("8080"), vec!["must contain at least one letter (a-z)".to_string()]);
        assert!(is_env_var_name("1-weird.NAME").is_empty());
        assert_eq!(is_env_var_name("A=B").len(), 1);
        assert!(is_c_identifier("MY_VAR").is_empty());
        assert!(!is_c_identifier("1X").is_empty());
        assert!(is_config_map_key("app.properties").is_empty());
        assert_eq!(is_config_map_key("..x"), vec!["must not start with '..'".to_string()]);
    }

    #[test]
    fn object_meta_reports_upstream_causes() {
        let errs = validate_object_meta(&json!({"name": "Foo"}), true, NameRule::Dns1123Subdomain);
        let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert!(rendered[0].starts_with("metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain"));
        assert_eq!(rendered[1], "metadata.namespace: Required value");

        let errs = validate_object_meta(&json!({"generateName": "web-"}), false, NameRule::Dns1123Label);
        assert_eq!(errs.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["metadata.name: Required value: name or generateName is required"]);

        let errs = validate_object_meta(&json!({"name": "n", "namespace": "x"}), false, NameRule::Dns1123Label);
        assert_eq!(errs[0].to_string(), "metadata.namespace: Forbidden: not allowed on this type");

        let meta = json!({"name": "n", "namespace": "d", "labels": {"-k": "v"}, "finalizers": ["a/b/c"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p"}]});
        let paths: Vec<String> = validate_object_meta(&meta, true, NameRule::Dns1123Subdomain).iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, vec!["metadata.labels", "metadata.ownerReferences[0].uid", "metadata.finalizers"]);
    }

    #[test]
    fn annotations_are_limited_in_total_size() {
        let big = json!({"a": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)});
        let errs = validate_annotations(&big, &FieldPath::root("metadata").child("annotations"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].cause_type(), "FieldValueTooLong");
    }

    #[test]
    fn update_keeps_identity_fields() {
        let old = json!({"name": "a", "namespace": "d", "uid": "1"});
        let new = json!({"name": "a", "namespace": "d", "uid": "2"});
        let errs = validate_object_meta_update(&new, &old, true, NameRule::Dns1123Subdomain);
        assert_eq!(errs.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["metadata.uid: Invalid value: \"2\": field is immutable"]);
    }

    #[test]
    fn generate_name_may_end_with_dash() {
        assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
        assert_eq!(NameRule::PathSegment.check("a/b", false), vec!["may not contain '/'".to_string()]);
    }
}
