//! autoscaling/v1 HorizontalPodAutoscalers, served from the autoscaling/v2 storage.
//!
//! Like upstream, one set of objects is visible in both versions and stored as v2. v1 knows a
//! single metric, the CPU utilization target (`spec.targetCPUUtilizationPercentage`, observed in
//! `status.currentCPUUtilizationPercentage`). What v1 cannot express is kept in annotations so a
//! v2 → v1 → v2 round trip loses nothing, following upstream's annotation names:
//! `autoscaling.alpha.kubernetes.io/metrics` (other metric targets),
//! `autoscaling.alpha.kubernetes.io/current-metrics` (other observed metrics),
//! `autoscaling.alpha.kubernetes.io/conditions` and `autoscaling.alpha.kubernetes.io/behavior`.
//! Simplification: the annotation values hold the v2 JSON of those fields.

use corten_apimachinery::FieldErrors;
use serde_json::{json, Map, Value};

use crate::Strategy;

const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// Whether a v2 metric target is the one v1 expresses: average CPU utilization.
fn is_cpu_utilization_target(metric: &Value) -> bool {
    metric["type"] == "Resource" && metric.pointer("/resource/name") == Some(&json!("cpu")) && metric.pointer("/resource/target/type") == Some(&json!("Utilization"))
}

/// Whether an observed v2 metric is the CPU utilization v1 reports.
fn is_cpu_utilization_current(metric: &Value) -> bool {
    metric["type"] == "Resource" && metric.pointer("/resource/name") == Some(&json!("cpu")) && metric.pointer("/resource/current/averageUtilization").is_some()
}

fn annotations_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = obj.as_object_mut()?.entry("metadata").or_insert_with(|| json!({})).as_object_mut()?;
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations.as_object_mut()
}

/// Removes an annotation and parses its JSON value (ignoring values that are not JSON).
fn take_annotation(obj: &mut Value, key: &str) -> Option<Value> {
    let annotations = annotations_mut(obj)?;
    let raw = annotations.remove(key)?;
    raw.as_str().and_then(|s| serde_json::from_str(s).ok())
}

/// Drops an empty `metadata.annotations` left behind by the conversion.
fn drop_empty_annotations(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if meta.get("annotations").and_then(Value::as_object).is_some_and(Map::is_empty) {
            meta.remove("annotations");
        }
    }
}

fn put_annotation(obj: &mut Value, key: &str, value: &Value) {
    if let Some(annotations) = annotations_mut(obj) {
        annotations.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Converts a v1 object (already decoded through the v1 type) into the v2 storage form.
pub fn to_v2(mut obj: Value) -> Value {
    let extra_metrics = take_annotation(&mut obj, METRICS_ANNOTATION);
    let extra_current = take_annotation(&mut obj, CURRENT_METRICS_ANNOTATION);
    let conditions = take_annotation(&mut obj, CONDITIONS_ANNOTATION);
    let behavior = take_annotation(&mut obj, BEHAVIOR_ANNOTATION);
    drop_empty_annotations(&mut obj);
    let Some(o) = obj.as_object_mut() else { return obj };
    o.insert("apiVersion".into(), json!("autoscaling/v2"));
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
        let mut metrics = Vec::new();
        if let Some(target) = spec.remove("targetCPUUtilizationPercentage").filter(|v| !v.is_null()) {
            metrics.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}));
        }
        if let Some(Value::Array(extra)) = extra_metrics {
            metrics.extend(extra.into_iter().filter(|m| !is_cpu_utilization_target(m)));
        }
        if !metrics.is_empty() {
            spec.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(behavior) = behavior {
            spec.insert("behavior".into(), behavior);
        }
    }
    if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
        let mut current = Vec::new();
        if let Some(cpu) = status.remove("currentCPUUtilizationPercentage").filter(|v| !v.is_null()) {
            current.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}));
        }
        if let Some(Value::Array(extra)) = extra_current {
            current.extend(extra.into_iter().filter(|m| !is_cpu_utilization_current(m)));
        }
        if !current.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(conditions) = conditions {
            status.insert("conditions".into(), conditions);
        }
    }
    obj
}

/// Converts a stored v2 object into its v1 form.
pub fn from_v2(mut obj: Value) -> Value {
    let spec = obj.get_mut("spec").and_then(Value::as_object_mut).map(std::mem::take);
    let status = obj.get_mut("status").and_then(Value::as_object_mut).map(std::mem::take);
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!("autoscaling/v1"));
    }
    if let Some(mut spec) = spec {
        let metrics = match spec.remove("metrics") {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        let (cpu, others): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization_target);
        if let Some(target) = cpu.first().and_then(|m| m.pointer("/resource/target/averageUtilization")) {
            spec.insert("targetCPUUtilizationPercentage".into(), target.clone());
        }
        if !others.is_empty() {
            put_annotation(&mut obj, METRICS_ANNOTATION, &Value::Array(others));
        }
        if let Some(behavior) = spec.remove("behavior").filter(|b| !b.is_null()) {
            put_annotation(&mut obj, BEHAVIOR_ANNOTATION, &behavior);
        }
        obj["spec"] = Value::Object(spec);
    }
    if let Some(mut status) = status {
        let current = match status.remove("currentMetrics") {
            Some(Value::Array(m)) => m,
            _ => Vec::new(),
        };
        let (cpu, others): (Vec<Value>, Vec<Value>) = current.into_iter().partition(is_cpu_utilization_current);
        if let Some(value) = cpu.first().and_then(|m| m.pointer("/resource/current/averageUtilization")) {
            status.insert("currentCPUUtilizationPercentage".into(), value.clone());
        }
        if !others.is_empty() {
            put_annotation(&mut obj, CURRENT_METRICS_ANNOTATION, &Value::Array(others));
        }
        if let Some(conditions) = status.remove("conditions").filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) {
            put_annotation(&mut obj, CONDITIONS_ANNOTATION, &conditions);
        }
        obj["status"] = Value::Object(status);
    }
    obj
}

/// The v1 rules: upstream's HorizontalPodAutoscaler rules are written once, against the storage
/// version, so each call converts the v1 object to v2, applies the v2 strategy and converts back.
pub struct HorizontalPodAutoscalerV1Strategy;

fn storage_strategy() -> &'static dyn Strategy {
    super::strategy_for("autoscaling", "HorizontalPodAutoscaler")
}

/// Runs a mutation of the v2 rules on a v1 object.
fn mutate_as_v2(obj: &mut Value, mutation: impl FnOnce(&mut Value)) {
    let mut v2 = to_v2(obj.take());
    mutation(&mut v2);
    *obj = from_v2(v2);
}

impl Strategy for HorizontalPodAutoscalerV1Strategy {
    fn default(&self, obj: &mut Value) {
        mutate_as_v2(obj, |v2| storage_strategy().default(v2));
    }

    fn keeps_status_on_create(&self) -> bool {
        storage_strategy().keeps_status_on_create()
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        mutate_as_v2(obj, |v2| storage_strategy().prepare_for_create(v2));
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let old = to_v2(old.clone());
        mutate_as_v2(new, |v2| storage_strategy().prepare_for_update(v2, &old));
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        storage_strategy().validate(&to_v2(obj.clone()))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        storage_strategy().validate_update(&to_v2(new.clone()), &to_v2(old.clone()))
    }

    fn blocks_deletion(&self, obj: &Value) -> bool {
        storage_strategy().blocks_deletion(&to_v2(obj.clone()))
    }

    fn deletion_grace_seconds(&self, obj: &Value) -> Option<i64> {
        storage_strategy().deletion_grace_seconds(&to_v2(obj.clone()))
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        mutate_as_v2(obj, |v2| storage_strategy().prepare_for_delete(v2));
    }

    fn tracks_generation(&self) -> bool {
        storage_strategy().tracks_generation()
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        storage_strategy().selectable_fields(&to_v2(obj.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_object() -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "d"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
                ],
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}]},
        })
    }

    #[test]
    fn v2_to_v1_keeps_cpu_in_fields_and_the_rest_in_annotations() {
        let v1 = from_v2(v2_object());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 42);
        let kept: Value = serde_json::from_str(v1["metadata"]["annotations"][METRICS_ANNOTATION].as_str().expect("annotation")).expect("json");
        assert_eq!(kept[0]["resource"]["name"], "memory");
    }

    #[test]
    fn round_trip_through_v1_is_lossless() {
        let original = v2_object();
        assert_eq!(to_v2(from_v2(original.clone())), original);
    }

    #[test]
    fn v1_objects_get_the_v2_defaults_in_v1_terms() {
        let mut v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "a", "namespace": "d"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}});
        HorizontalPodAutoscalerV1Strategy.default(&mut v1);
        assert_eq!(v1["spec"]["minReplicas"], 1);
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 80);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(HorizontalPodAutoscalerV1Strategy.validate(&v1).is_empty());
        v1["spec"]["maxReplicas"] = json!(0);
        assert_eq!(HorizontalPodAutoscalerV1Strategy.validate(&v1)[0].to_string(), "spec.maxReplicas: Invalid value: 0: must be greater than 0");
    }

    #[test]
    fn v1_target_becomes_a_v2_cpu_metric() {
        let v2 = to_v2(json!({"apiVersion": "autoscaling/v1", "metadata": {"name": "a"}, "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 70}}));
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
        assert!(v2["spec"].get("targetCPUUtilizationPercentage").is_none());
        assert!(v2["metadata"].get("annotations").is_none());
    }
}
