//! policy/v1 PodDisruptionBudgets: one of minAvailable/maxUnavailable, a valid selector.

use corten_apimachinery::validation::{validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::Value;

use super::apps::{validate_int_or_percent, validate_label_selector};
use super::{invalid_rendered, meta_of};
use crate::Strategy;

/// PodDisruptionBudgets.
pub struct PodDisruptionBudgetStrategy;

fn validate_pdb(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let min_available = spec.get("minAvailable").filter(|v| !v.is_null());
    let max_unavailable = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min_available.is_some() && max_unavailable.is_some() {
        errs.push(invalid_rendered(spec_path.clone(), spec.to_string(), "minAvailable and maxUnavailable cannot be both set"));
    }
    if let Some(v) = min_available {
        validate_int_or_percent(v, &spec_path.child("minAvailable"), &mut errs);
    }
    if let Some(v) = max_unavailable {
        validate_int_or_percent(v, &spec_path.child("maxUnavailable"), &mut errs);
    }
    if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
        validate_label_selector(selector, &spec_path.child("selector"), &mut errs);
    }
    if let Some(policy) = spec.get("unhealthyPodEvictionPolicy").and_then(Value::as_str) {
        if policy != "IfHealthyBudget" && policy != "AlwaysAllow" {
            errs.push(FieldError::not_supported(
                spec_path.child("unhealthyPodEvictionPolicy"),
                policy,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
    errs
}

impl Strategy for PodDisruptionBudgetStrategy {
    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pdb(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pdb(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn budgets_take_one_bound() {
        let ok = json!({"metadata": {"name": "b", "namespace": "d"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}});
        assert!(PodDisruptionBudgetStrategy.validate(&ok).is_empty());
        let both = json!({"metadata": {"name": "b", "namespace": "d"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}});
        let errs = PodDisruptionBudgetStrategy.validate(&both);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path.as_str(), "spec");
        let over = json!({"metadata": {"name": "b", "namespace": "d"}, "spec": {"maxUnavailable": "150%"}});
        assert_eq!(PodDisruptionBudgetStrategy.validate(&over)[0].to_string(), "spec.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%");
    }
}
