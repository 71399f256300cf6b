//! CustomResourceDefinitions: the name must be `<plural>.<group>`, and the names the server
//! derives for discovery (singular, list kind) are filled in.

use corten_apimachinery::validation::{validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::{default_field, default_string, meta_of, object_at, str_at};
use crate::Strategy;

/// CustomResourceDefinitions.
pub struct CustomResourceDefinitionStrategy;

fn validate_crd(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let name = str_at(obj, &["metadata", "name"]).unwrap_or("");
    let plural = str_at(obj, &["spec", "names", "plural"]).unwrap_or("");
    let group = str_at(obj, &["spec", "group"]).unwrap_or("");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(FieldPath::root("metadata").child("name"), name, "must be spec.names.plural+\".\"+spec.group"));
    }
    let spec_path = FieldPath::root("spec");
    if group.is_empty() {
        errs.push(FieldError::required(spec_path.child("group"), ""));
    }
    if plural.is_empty() {
        errs.push(FieldError::required(spec_path.child("names").child("plural"), ""));
    }
    if str_at(obj, &["spec", "names", "kind"]).unwrap_or("").is_empty() {
        errs.push(FieldError::required(spec_path.child("names").child("kind"), ""));
    }
    match str_at(obj, &["spec", "scope"]).unwrap_or("") {
        "Namespaced" | "Cluster" => {}
        "" => errs.push(FieldError::required(spec_path.child("scope"), "")),
        other => errs.push(FieldError::not_supported(spec_path.child("scope"), other, &["Cluster", "Namespaced"])),
    }
    let versions = obj.pointer("/spec/versions").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if versions.is_empty() {
        errs.push(FieldError::required(spec_path.child("versions"), "must have exactly one version marked as storage version"));
    } else {
        let storage = versions.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).count();
        if storage != 1 {
            errs.push(FieldError::invalid(
                spec_path.child("versions"),
                storage as i64,
                "must have exactly one version marked as storage version",
            ));
        }
    }
    errs
}

impl Strategy for CustomResourceDefinitionStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = object_at(obj, &["spec"]) else { return };
        default_field(spec, "conversion", json!({"strategy": "None"}));
        if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
            let kind = names.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
            if !kind.is_empty() {
                default_string(names, "singular", &kind.to_ascii_lowercase());
                default_string(names, "listKind", &format!("{kind}List"));
            }
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), false, NameRule::Dns1123Subdomain);
        errs.extend(validate_crd(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), false, NameRule::Dns1123Subdomain);
        errs.extend(validate_crd(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}})
    }

    #[test]
    fn defaults_names_and_conversion() {
        let mut c = crd();
        CustomResourceDefinitionStrategy.default(&mut c);
        assert_eq!(c["spec"]["names"]["singular"], "widget");
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(c["spec"]["conversion"]["strategy"], "None");
        assert!(CustomResourceDefinitionStrategy.validate(&c).is_empty());
    }

    #[test]
    fn name_must_be_plural_dot_group() {
        let mut c = crd();
        c["metadata"]["name"] = json!("widget.example.com");
        assert_eq!(
            CustomResourceDefinitionStrategy.validate(&c)[0].to_string(),
            "metadata.name: Invalid value: \"widget.example.com\": must be spec.names.plural+\".\"+spec.group"
        );
    }
}
