//! autoscaling/v2 HorizontalPodAutoscalers: `kubectl autoscale` sends only the target and the
//! replica bounds, so the defaults (min 1 replica, 80% average CPU) carry the meaning.

use corten_apimachinery::validation::{validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::{default_field, meta_of, object_at, str_at};
use crate::Strategy;

/// The CPU utilization target when no metric is given.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// HorizontalPodAutoscalers.
pub struct HorizontalPodAutoscalerStrategy;

/// Fills the unset parts of one scaling direction's rules.
fn default_rules(rules: &mut Value, stabilization_seconds: i64, policies: Value) {
    let Some(r) = rules.as_object_mut() else { return };
    default_field(r, "stabilizationWindowSeconds", json!(stabilization_seconds));
    default_field(r, "selectPolicy", json!("Max"));
    default_field(r, "policies", policies);
}

fn validate_hpa(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    let target_path = spec_path.child("scaleTargetRef");
    for field in ["kind", "name"] {
        if str_at(obj, &["spec", "scaleTargetRef", field]).unwrap_or("").is_empty() {
            errs.push(FieldError::required(target_path.child(field), ""));
        }
    }
    let max = obj.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(spec_path.child("maxReplicas"), max, "must be greater than 0"));
    }
    if let Some(min) = obj.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        if min < 1 {
            errs.push(FieldError::invalid(spec_path.child("minReplicas"), min, "must be greater than or equal to 1"));
        } else if min > max {
            errs.push(FieldError::invalid(spec_path.child("maxReplicas"), max, "must be greater than or equal to `minReplicas`"));
        }
    }
    errs
}

impl Strategy for HorizontalPodAutoscalerStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = object_at(obj, &["spec"]) else { return };
        default_field(spec, "minReplicas", json!(1));
        if spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]),
            );
        }
        // Behavior is only completed when the client gave one.
        if let Some(behavior) = spec.get_mut("behavior").and_then(Value::as_object_mut) {
            let scale_up = behavior.entry("scaleUp").or_insert_with(|| json!({}));
            default_rules(
                scale_up,
                0,
                json!([{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]),
            );
            let scale_down = behavior.entry("scaleDown").or_insert_with(|| json!({}));
            default_rules(scale_down, 300, json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_hpa(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_hpa(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(spec: Value) -> Value {
        let mut h = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": spec});
        HorizontalPodAutoscalerStrategy.default(&mut h);
        h
    }

    #[test]
    fn defaults_cpu_target_and_min_replicas() {
        let h = hpa(json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 5}));
        assert_eq!(h["spec"]["minReplicas"], 1);
        assert_eq!(h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        assert!(h["spec"].get("behavior").is_none());
        assert!(HorizontalPodAutoscalerStrategy.validate(&h).is_empty());
    }

    #[test]
    fn completes_given_behavior() {
        let h = hpa(json!({"maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}));
        assert_eq!(h["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 60);
        assert_eq!(h["spec"]["behavior"]["scaleDown"]["selectPolicy"], "Max");
        assert_eq!(h["spec"]["behavior"]["scaleUp"]["policies"][0]["value"], 4);
    }

    #[test]
    fn bounds_are_checked() {
        let h = hpa(json!({"scaleTargetRef": {"kind": "Deployment"}, "minReplicas": 3, "maxReplicas": 2}));
        let rendered: Vec<String> = HorizontalPodAutoscalerStrategy.validate(&h).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec![
            "spec.scaleTargetRef.name: Required value",
            "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
        ]);
    }
}
