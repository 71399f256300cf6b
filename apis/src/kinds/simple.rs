//! Defaults of kinds that have no other rules here: applied through
//! [`DefaultStrategy`](super::DefaultStrategy), which still does their metadata validation.

use serde_json::{json, Value};

use super::{default_field, default_string, object_at};

/// The defaulting function upstream has for a kind without its own strategy here, if any.
pub(super) fn defaults_for(group: &str, kind: &str) -> Option<fn(&mut Value)> {
    match (group, kind) {
        ("storage.k8s.io", "StorageClass") => Some(default_storage_class),
        ("storage.k8s.io", "CSIDriver") => Some(default_csi_driver),
        ("scheduling.k8s.io", "PriorityClass") => Some(default_priority_class),
        ("", "Endpoints") => Some(default_endpoints),
        ("discovery.k8s.io", "EndpointSlice") => Some(default_endpoint_slice),
        _ => None,
    }
}

fn default_storage_class(obj: &mut Value) {
    if let Some(o) = obj.as_object_mut() {
        default_string(o, "reclaimPolicy", "Delete");
        default_string(o, "volumeBindingMode", "Immediate");
    }
}

fn default_csi_driver(obj: &mut Value) {
    let Some(spec) = object_at(obj, &["spec"]) else { return };
    default_field(spec, "attachRequired", json!(true));
    default_field(spec, "podInfoOnMount", json!(false));
    default_field(spec, "storageCapacity", json!(false));
    default_field(spec, "requiresRepublish", json!(false));
    default_field(spec, "seLinuxMount", json!(false));
    default_string(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
    default_field(spec, "volumeLifecycleModes", json!(["Persistent"]));
}

fn default_priority_class(obj: &mut Value) {
    if let Some(o) = obj.as_object_mut() {
        default_string(o, "preemptionPolicy", "PreemptLowerPriority");
    }
}

fn default_endpoints(obj: &mut Value) {
    for subset in obj.get_mut("subsets").and_then(Value::as_array_mut).into_iter().flatten() {
        for port in subset.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(p) = port.as_object_mut() {
                default_string(p, "protocol", "TCP");
            }
        }
    }
}

fn default_endpoint_slice(obj: &mut Value) {
    for port in obj.get_mut("ports").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(p) = port.as_object_mut() {
            default_string(p, "protocol", "TCP");
            default_field(p, "name", json!(""));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::kinds::strategy_for;
    use serde_json::json;

    #[test]
    fn storage_class_defaults_apply_through_the_default_strategy() {
        let mut sc = json!({"metadata": {"name": "fast"}, "provisioner": "x"});
        let strategy = strategy_for("storage.k8s.io", "StorageClass");
        strategy.default(&mut sc);
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        assert!(strategy.validate(&sc).is_empty());
    }

    #[test]
    fn endpoint_ports_default_to_tcp() {
        let mut ep = json!({"subsets": [{"ports": [{"port": 80}]}]});
        strategy_for("", "Endpoints").default(&mut ep);
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
        let mut pc = json!({"value": 10});
        strategy_for("scheduling.k8s.io", "PriorityClass").default(&mut pc);
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
    }
}
