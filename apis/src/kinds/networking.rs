//! networking.k8s.io/v1: Ingresses (path rules) and NetworkPolicies (policy type defaults).

use corten_apimachinery::validation::{
    is_dns1035_label, is_dns1123_subdomain, is_valid_port_name, is_valid_port_num, validate_object_meta, validate_object_meta_update, NameRule,
};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::{default_string, meta_of, object_at};
use crate::Strategy;

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

/// Ingresses.
pub struct IngressStrategy;

fn validate_backend(backend: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    let has_service = backend.get("service").is_some_and(|s| !s.is_null());
    let has_resource = backend.get("resource").is_some_and(|r| !r.is_null());
    match (has_service, has_resource) {
        (true, true) => errs.push(FieldError::invalid(path.clone(), "", "cannot set both resource and service backends")),
        (false, false) => errs.push(FieldError::invalid(path.clone(), "", "resource or service backend is required")),
        (false, true) => {}
        (true, false) => {
            let service = &backend["service"];
            let service_path = path.child("service");
            match service.get("name").and_then(Value::as_str).unwrap_or("") {
                "" => errs.push(FieldError::required(service_path.child("name"), "")),
                name => errs.extend(
                    is_dns1035_label(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(service_path.child("name"), name, m)),
                ),
            }
            let port_path = service_path.child("port");
            let port = service.get("port").unwrap_or(&Value::Null);
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            let number = port.get("number").and_then(Value::as_i64).unwrap_or(0);
            match (name.is_empty(), number == 0) {
                (true, true) => errs.push(FieldError::required(port_path, "port name or number is required")),
                (false, false) => errs.push(FieldError::invalid(port_path, "", "cannot set both port name & port number")),
                (false, true) => {
                    errs.extend(is_valid_port_name(name).into_iter().map(|m| FieldError::invalid(port_path.child("name"), name, m)))
                }
                (true, false) => errs
                    .extend(is_valid_port_num(number).into_iter().map(|m| FieldError::invalid(port_path.child("number"), number, m))),
            }
        }
    }
}

fn validate_ingress(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    let rules = obj.pointer("/spec/rules").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let default_backend = obj.pointer("/spec/defaultBackend").filter(|b| !b.is_null());
    match default_backend {
        Some(backend) => validate_backend(backend, &spec_path.child("defaultBackend"), &mut errs),
        None if rules.is_empty() => {
            errs.push(FieldError::invalid(spec_path.clone(), "", "either `defaultBackend` or `rules` must be specified"))
        }
        None => {}
    }
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = spec_path.child("rules").index(i);
        if let Some(host) = rule.get("host").and_then(Value::as_str).filter(|h| !h.is_empty()) {
            let checked = host.strip_prefix("*.").unwrap_or(host);
            errs.extend(is_dns1123_subdomain(checked).into_iter().map(|m| FieldError::invalid(rule_path.child("host"), host, m)));
        }
        let paths = rule.pointer("/http/paths").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        if rule.get("http").is_some_and(|h| !h.is_null()) && paths.is_empty() {
            errs.push(FieldError::required(rule_path.child("http").child("paths"), ""));
        }
        for (j, http_path) in paths.iter().enumerate() {
            let p = rule_path.child("http").child("paths").index(j);
            let path_value = http_path.get("path").and_then(Value::as_str).unwrap_or("");
            match http_path.get("pathType").and_then(Value::as_str).unwrap_or("") {
                "" => errs.push(FieldError::required(p.child("pathType"), "pathType must be specified")),
                "Exact" | "Prefix" => {
                    if !path_value.starts_with('/') {
                        errs.push(FieldError::invalid(p.child("path"), path_value, "must be an absolute path"));
                    }
                }
                "ImplementationSpecific" => {
                    if !path_value.is_empty() && !path_value.starts_with('/') {
                        errs.push(FieldError::invalid(p.child("path"), path_value, "must be an absolute path"));
                    }
                }
                other => errs.push(FieldError::not_supported(p.child("pathType"), other, PATH_TYPES)),
            }
            validate_backend(http_path.get("backend").unwrap_or(&Value::Null), &p.child("backend"), &mut errs);
        }
    }
    errs
}

impl Strategy for IngressStrategy {
    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_ingress(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_ingress(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

/// NetworkPolicies.
pub struct NetworkPolicyStrategy;

impl Strategy for NetworkPolicyStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = object_at(obj, &["spec"]) else { return };
        for direction in ["ingress", "egress"] {
            for rule in spec.get_mut(direction).and_then(Value::as_array_mut).into_iter().flatten() {
                for port in rule.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(p) = port.as_object_mut() {
                        default_string(p, "protocol", "TCP");
                    }
                }
            }
        }
        if spec.get("policyTypes").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            let has_egress = spec.get("egress").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
            let types = if has_egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) };
            spec.insert("policyTypes".into(), types);
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_policy_types(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_policy_types(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

fn validate_policy_types(obj: &Value) -> FieldErrors {
    let path = FieldPath::root("spec").child("policyTypes");
    obj.pointer("/spec/policyTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, t)| {
            let t = t.as_str().unwrap_or("");
            (t != "Ingress" && t != "Egress").then(|| FieldError::not_supported(path.index(i), t, &["Egress", "Ingress"]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(paths: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"rules": [{"host": "example.com", "http": {"paths": paths}}]}})
    }

    #[test]
    fn valid_ingress_passes() {
        let ing = ingress(json!([{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]));
        assert!(IngressStrategy.validate(&ing).is_empty());
    }

    #[test]
    fn path_rules() {
        let ing = ingress(json!([
            {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "api", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {}}}}]));
        let rendered: Vec<String> = IngressStrategy.validate(&ing).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec![
            "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[1].path: Invalid value: \"api\": must be an absolute path",
            "spec.rules[0].http.paths[1].backend.service.port: Required value: port name or number is required",
        ]);
    }

    #[test]
    fn network_policy_types_default_from_rules() {
        let mut np = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        NetworkPolicyStrategy.default(&mut np);
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        assert!(NetworkPolicyStrategy.validate(&np).is_empty());
    }
}
