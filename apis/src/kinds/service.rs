//! Services: port and traffic-policy defaults, port validation, and the cluster IP (and node
//! ports) carried over from the stored object on update.
//!
//! Allocation of cluster IPs and node ports is the server's job; this module only keeps what
//! was allocated from being lost or changed by an update.

use std::net::IpAddr;

use corten_apimachinery::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_valid_port_name, is_valid_port_num, validate_labels, validate_object_meta,
    validate_object_meta_update, NameRule,
};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::pod::validate_protocol;
use super::{default_field, default_string, invalid_rendered, meta_of, str_at};
use crate::Strategy;

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn service_type(obj: &Value) -> &str {
    str_at(obj, &["spec", "type"]).unwrap_or("ClusterIP")
}

/// Services.
pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
        default_string(spec, "type", "ClusterIP");
        default_string(spec, "sessionAffinity", "None");
        let kind = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
            default_field(spec, "sessionAffinityConfig", json!({"clientIP": {"timeoutSeconds": 10800}}));
        }
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                default_string(port, "protocol", "TCP");
                let unset = port.get("targetPort").is_none_or(|t| t.is_null() || t == &json!(0) || t == &json!(""));
                if unset {
                    if let Some(number) = port.get("port").cloned() {
                        port.insert("targetPort".into(), number);
                    }
                }
            }
        }
        if kind != "ExternalName" {
            default_string(spec, "internalTrafficPolicy", "Cluster");
            // Headless services without a selector may front endpoints of any family.
            let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
            let selectorless = spec.get("selector").and_then(Value::as_object).is_none_or(|m| m.is_empty());
            let policy = if headless && selectorless { "RequireDualStack" } else { "SingleStack" };
            default_string(spec, "ipFamilyPolicy", policy);
            default_field(spec, "ipFamilies", json!(["IPv4"]));
        }
        if kind == "NodePort" || kind == "LoadBalancer" {
            default_string(spec, "externalTrafficPolicy", "Cluster");
        }
        if kind == "LoadBalancer" {
            default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if let Some(ip) = spec.get("clusterIP").and_then(Value::as_str).filter(|ip| !ip.is_empty()).map(str::to_string) {
            if spec.get("clusterIPs").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                spec.insert("clusterIPs".into(), json!([ip]));
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // Allocated values the client left out (e.g. `kubectl replace` of a hand-written
        // manifest) are kept, as upstream does, unless the type changes to/from ExternalName.
        if service_type(new) == "ExternalName" || service_type(old) == "ExternalName" {
            return;
        }
        let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else { return };
        if spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").is_empty() {
            for field in ["clusterIP", "clusterIPs"] {
                if let Some(v) = old.pointer(&format!("/spec/{field}")) {
                    spec.insert(field.into(), v.clone());
                }
            }
        }
        let old_ports = old.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
        let wants_node_ports = matches!(spec.get("type").and_then(Value::as_str), Some("NodePort" | "LoadBalancer"));
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                let same = old_ports.iter().find(|o| o.get("port") == port.get("port") && o.get("protocol") == port.get("protocol"));
                let old_node_port = same.and_then(|o| o.get("nodePort")).filter(|n| !n.is_null()).cloned();
                let node_port = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
                match old_node_port {
                    // Keep the allocated port when the client left it out.
                    Some(allocated) if wants_node_ports && node_port == 0 => {
                        port.insert("nodePort".into(), allocated);
                    }
                    // Leaving NodePort/LoadBalancer releases the allocated port.
                    Some(allocated) if !wants_node_ports && port.get("nodePort") == Some(&allocated) => {
                        port.remove("nodePort");
                    }
                    _ => {}
                }
            }
        }
        if wants_node_ports && spec.get("healthCheckNodePort").is_none() {
            if let Some(v) = old.pointer("/spec/healthCheckNodePort") {
                spec.insert("healthCheckNodePort".into(), v.clone());
            }
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1035Label);
        errs.extend(validate_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1035Label);
        errs.extend(validate_spec(new));
        if service_type(new) != "ExternalName" && service_type(old) != "ExternalName" {
            let old_ip = str_at(old, &["spec", "clusterIP"]).unwrap_or("");
            let new_ip = str_at(new, &["spec", "clusterIP"]).unwrap_or("");
            if !old_ip.is_empty() && new_ip != old_ip {
                let rendered = new.pointer("/spec/clusterIPs").map_or_else(|| format!("[{new_ip:?}]"), Value::to_string);
                errs.push(invalid_rendered(
                    FieldPath::root("spec").child("clusterIPs").index(0),
                    rendered,
                    "may not change once set",
                ));
            }
        }
        errs
    }
}

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    let kind = service_type(obj);
    if !TYPES.contains(&kind) {
        errs.push(FieldError::not_supported(spec_path.child("type"), kind, TYPES));
    }
    let cluster_ip = str_at(obj, &["spec", "clusterIP"]).unwrap_or("");
    let headless = cluster_ip == "None";
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if kind == "ExternalName" {
        match str_at(obj, &["spec", "externalName"]).unwrap_or("") {
            "" => errs.push(FieldError::required(spec_path.child("externalName"), "")),
            name => {
                let name = name.strip_suffix('.').unwrap_or(name);
                errs.extend(
                    is_dns1123_subdomain(name).into_iter().map(|m| FieldError::invalid(spec_path.child("externalName"), name, m)),
                );
            }
        }
    } else if ports.is_empty() && !headless {
        errs.push(FieldError::required(spec_path.child("ports"), ""));
    }
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<IpAddr>().is_err() {
        errs.push(FieldError::invalid(
            spec_path.child("clusterIPs").index(0),
            cluster_ip,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ));
    }
    if headless && (kind == "NodePort" || kind == "LoadBalancer") {
        errs.push(FieldError::invalid(
            spec_path.child("clusterIPs").index(0),
            cluster_ip,
            format!("may not be set to 'None' for {kind} services"),
        ));
    }
    if let Some(selector) = obj.pointer("/spec/selector") {
        errs.extend(validate_labels(selector, &spec_path.child("selector")));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let p = spec_path.child("ports").index(i);
        let name = port.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else if !name.is_empty() {
            errs.extend(is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(p.child("name"), name, m)));
            if names.contains(&name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
            names.push(name);
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        errs.extend(is_valid_port_num(number).into_iter().map(|m| FieldError::invalid(p.child("port"), number, m)));
        validate_protocol(port, &p, &mut errs);
        match port.get("targetPort") {
            Some(Value::Number(n)) => {
                let n = n.as_i64().unwrap_or(0);
                errs.extend(is_valid_port_num(n).into_iter().map(|m| FieldError::invalid(p.child("targetPort"), n, m)));
            }
            Some(Value::String(s)) => {
                errs.extend(is_valid_port_name(s).into_iter().map(|m| FieldError::invalid(p.child("targetPort"), s.as_str(), m)));
            }
            _ => {}
        }
        let node_port = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if node_port != 0 {
            if kind != "NodePort" && kind != "LoadBalancer" {
                errs.push(FieldError::forbidden(p.child("nodePort"), format!("may not be used when `type` is '{kind}'")));
            } else {
                errs.extend(is_valid_port_num(node_port).into_iter().map(|m| FieldError::invalid(p.child("nodePort"), node_port, m)));
            }
        }
    }
    match str_at(obj, &["spec", "sessionAffinity"]).unwrap_or("None") {
        "None" | "ClientIP" => {}
        other => errs.push(FieldError::not_supported(spec_path.child("sessionAffinity"), other, &["ClientIP", "None"])),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(spec: Value) -> Value {
        let mut s = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        ServiceStrategy.default(&mut s);
        s
    }

    #[test]
    fn defaults_and_valid_service() {
        let s = service(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}));
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["sessionAffinity"], "None");
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert!(s["spec"].get("externalTrafficPolicy").is_none());
        assert!(ServiceStrategy.validate(&s).is_empty());
        let headless = service(json!({"clusterIP": "None"}));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        let np = service(json!({"type": "NodePort", "ports": [{"port": 80}]}));
        assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
    }

    #[test]
    fn invalid_services() {
        let s = service(json!({"ports": []}));
        assert_eq!(ServiceStrategy.validate(&s)[0].to_string(), "spec.ports: Required value");
        let s = service(json!({"ports": [{"port": 80}, {"port": 81, "name": "b"}]}));
        assert_eq!(ServiceStrategy.validate(&s)[0].to_string(), "spec.ports[0].name: Required value");
        let s = service(json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}));
        assert_eq!(ServiceStrategy.validate(&s)[0].to_string(), "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services");
        let s = service(json!({"type": "ExternalName"}));
        assert_eq!(ServiceStrategy.validate(&s)[0].to_string(), "spec.externalName: Required value");
        let s = json!({"metadata": {"name": "1web", "namespace": "d"}, "spec": {"clusterIP": "None"}});
        assert!(ServiceStrategy.validate(&s)[0].to_string().starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label"));
    }

    #[test]
    fn cluster_ip_is_kept_and_immutable() {
        let old = service(json!({"clusterIP": "10.0.0.5", "ports": [{"port": 80, "nodePort": 30001}], "type": "NodePort"}));
        let mut new = service(json!({"ports": [{"port": 80}], "type": "NodePort"}));
        ServiceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.0.0.5");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30001);
        assert!(ServiceStrategy.validate_update(&new, &old).is_empty());
        let mut changed = service(json!({"clusterIP": "10.0.0.6", "ports": [{"port": 80}]}));
        ServiceStrategy.prepare_for_update(&mut changed, &old);
        let errs = ServiceStrategy.validate_update(&changed, &old);
        assert_eq!(errs[0].to_string(), "spec.clusterIPs[0]: Invalid value: [\"10.0.0.6\"]: may not change once set");
    }
}
