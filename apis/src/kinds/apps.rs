//! apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet.
//!
//! All four share the same shape (a selector, a pod template, generation tracking); they differ
//! in their spec defaults, which [`AppsKind`] selects.

use corten_apimachinery::validation::{self, validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::pod::{default_template, validate_pod_spec, validate_template_metadata};
use super::{at, default_field, default_string, invalid_rendered, meta_of, object_at, validate_non_negative};
use crate::Strategy;

/// Which apps kind a [`WorkloadStrategy`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppsKind {
    /// Deployment.
    Deployment,
    /// ReplicaSet.
    ReplicaSet,
    /// StatefulSet.
    StatefulSet,
    /// DaemonSet.
    DaemonSet,
}

/// The strategy of an apps/v1 workload kind.
pub struct WorkloadStrategy {
    kind: AppsKind,
}

/// Deployments.
pub static DEPLOYMENT: WorkloadStrategy = WorkloadStrategy { kind: AppsKind::Deployment };
/// ReplicaSets.
pub static REPLICA_SET: WorkloadStrategy = WorkloadStrategy { kind: AppsKind::ReplicaSet };
/// StatefulSets.
pub static STATEFUL_SET: WorkloadStrategy = WorkloadStrategy { kind: AppsKind::StatefulSet };
/// DaemonSets.
pub static DAEMON_SET: WorkloadStrategy = WorkloadStrategy { kind: AppsKind::DaemonSet };

/// Whether a label selector (`matchLabels` and `matchExpressions`) selects these labels.
pub(super) fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_ok = match_labels.into_iter().flatten().all(|(k, v)| label(k) == v.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    let expressions_ok = expressions.into_iter().flatten().all(|expr| {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

/// Whether a selector has neither `matchLabels` nor `matchExpressions` entries.
fn selector_is_empty(selector: &Value) -> bool {
    let empty = |key: &str| selector.get(key).is_none_or(|v| v.as_object().is_some_and(|m| m.is_empty()) || v.as_array().is_some_and(Vec::is_empty));
    empty("matchLabels") && empty("matchExpressions")
}

/// Validates a label selector's keys, values and expression operators.
pub(super) fn validate_label_selector(selector: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    if let Some(match_labels) = selector.get("matchLabels") {
        errs.extend(validation::validate_labels(match_labels, &path.child("matchLabels")));
    }
    for (i, expr) in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        errs.extend(validation::is_qualified_name(key).into_iter().map(|m| FieldError::invalid(p.child("key"), key, m)));
        let has_values = expr.get("values").and_then(Value::as_array).is_some_and(|v| !v.is_empty());
        match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" | "NotIn" if !has_values => errs.push(FieldError::required(
                p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => errs.push(FieldError::forbidden(
                p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::not_supported(p.child("operator"), other, &["In", "NotIn", "Exists", "DoesNotExist"])),
        }
    }
}

/// Validates `spec.selector` against `spec.template.metadata.labels` (spec at `spec_path`).
pub(super) fn validate_selector_and_template(spec: &Value, spec_path: &FieldPath, kind_word: &str, errs: &mut FieldErrors) {
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required(spec_path.child("selector"), "")),
        Some(selector) if selector_is_empty(selector) => errs.push(invalid_rendered(
            spec_path.child("selector"),
            selector.to_string(),
            &format!("empty selector is invalid for {kind_word}"),
        )),
        Some(selector) => {
            validate_label_selector(selector, &spec_path.child("selector"), errs);
            let labels = spec.pointer("/template/metadata/labels").cloned().unwrap_or_else(|| json!({}));
            if !selector_matches(selector, &labels) {
                errs.push(invalid_rendered(
                    spec_path.child("template").child("metadata").child("labels"),
                    labels.to_string(),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
}

/// An int-or-percent value: a non-negative integer, or `N%` with N at most 100. Returns the
/// value as a number (percent or count) when valid.
pub(super) fn validate_int_or_percent(value: &Value, path: &FieldPath, errs: &mut FieldErrors) -> Option<i64> {
    match value {
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(-1);
            if n < 0 {
                errs.push(FieldError::invalid(path.clone(), n, "must be greater than or equal to 0"));
            }
            Some(n)
        }
        Value::String(s) => {
            let percent = s.strip_suffix('%').and_then(|digits| digits.parse::<i64>().ok());
            match percent {
                None => {
                    errs.push(FieldError::invalid(
                        path.clone(),
                        s.as_str(),
                        validation::regex_error(
                            "a valid percent string must be a numeric string followed by an ending '%'",
                            "[0-9]+%",
                            &["1%", "93%"],
                        ),
                    ));
                    None
                }
                Some(p) if p > 100 => {
                    errs.push(FieldError::invalid(path.clone(), s.as_str(), "must not be greater than 100%"));
                    Some(p)
                }
                Some(p) => Some(p),
            }
        }
        _ => None,
    }
}

/// A Deployment's rolling update: valid maxUnavailable/maxSurge, not both zero.
fn validate_rolling_update(obj: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    let Some(rolling) = at(obj, &["spec", "strategy", "rollingUpdate"]).filter(|r| !r.is_null()) else { return };
    let unavailable = rolling.get("maxUnavailable").and_then(|v| validate_int_or_percent(v, &path.child("maxUnavailable"), errs));
    let surge = rolling.get("maxSurge").and_then(|v| validate_int_or_percent(v, &path.child("maxSurge"), errs));
    if unavailable == Some(0) && surge == Some(0) {
        errs.push(FieldError::invalid(path.child("maxUnavailable"), 0, "may not be 0 when `maxSurge` is 0"));
    }
}

/// What upstream says when a StatefulSet update touches a field fixed at creation.
const STATEFUL_SET_UPDATE_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// A StatefulSet's spec without the fields an update may change (the selector has its own
/// error).
fn stateful_set_frozen_spec(obj: &Value) -> Value {
    let mut spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    if let Some(s) = spec.as_object_mut() {
        for field in [
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
            "selector",
        ] {
            s.remove(field);
        }
    }
    spec
}

impl WorkloadStrategy {
    fn kind_word(&self) -> &'static str {
        match self.kind {
            AppsKind::Deployment => "deployment",
            AppsKind::ReplicaSet => "replicaset",
            AppsKind::StatefulSet => "statefulset",
            AppsKind::DaemonSet => "daemonset",
        }
    }

    fn validate_spec(&self, obj: &Value) -> FieldErrors {
        let mut errs = Vec::new();
        let spec_path = FieldPath::root("spec");
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        validate_selector_and_template(spec, &spec_path, self.kind_word(), &mut errs);
        validate_non_negative(obj, &["spec", "replicas"], spec_path.child("replicas"), &mut errs);
        validate_non_negative(obj, &["spec", "minReadySeconds"], spec_path.child("minReadySeconds"), &mut errs);
        validate_non_negative(obj, &["spec", "revisionHistoryLimit"], spec_path.child("revisionHistoryLimit"), &mut errs);
        let template_path = spec_path.child("template");
        let template = spec.get("template").unwrap_or(&Value::Null);
        errs.extend(validate_template_metadata(template, &template_path));
        let pod_spec = template.get("spec").unwrap_or(&Value::Null);
        errs.extend(validate_pod_spec(pod_spec, &template_path.child("spec")));
        if let Some(policy) = pod_spec.get("restartPolicy").and_then(Value::as_str).filter(|p| *p != "Always") {
            errs.push(FieldError::not_supported(template_path.child("spec").child("restartPolicy"), policy, &["Always"]));
        }
        if self.kind == AppsKind::StatefulSet {
            match at(obj, &["spec", "podManagementPolicy"]).and_then(Value::as_str).unwrap_or("") {
                "OrderedReady" | "Parallel" => {}
                other => errs.push(FieldError::not_supported(spec_path.child("podManagementPolicy"), other, &["OrderedReady", "Parallel"])),
            }
        }
        if matches!(self.kind, AppsKind::StatefulSet | AppsKind::DaemonSet) {
            match at(obj, &["spec", "updateStrategy", "type"]).and_then(Value::as_str).unwrap_or("") {
                "RollingUpdate" | "OnDelete" => {}
                other => errs.push(FieldError::not_supported(
                    spec_path.child("updateStrategy").child("type"),
                    other,
                    &["OnDelete", "RollingUpdate"],
                )),
            }
        }
        if self.kind == AppsKind::Deployment {
            let strategy_type = at(obj, &["spec", "strategy", "type"]).and_then(Value::as_str).unwrap_or("");
            match strategy_type {
                "RollingUpdate" => validate_rolling_update(obj, &spec_path.child("strategy").child("rollingUpdate"), &mut errs),
                "Recreate" => {
                    if at(obj, &["spec", "strategy", "rollingUpdate"]).is_some_and(|r| !r.is_null()) {
                        errs.push(FieldError::forbidden(
                            spec_path.child("strategy").child("rollingUpdate"),
                            "may not be specified when strategy `type` is 'Recreate'",
                        ));
                    }
                }
                other => errs.push(FieldError::not_supported(spec_path.child("strategy").child("type"), other, &["Recreate", "RollingUpdate"])),
            }
        }
        errs
    }
}

impl Strategy for WorkloadStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = object_at(obj, &["spec"]) else { return };
        match self.kind {
            AppsKind::Deployment => {
                default_field(spec, "replicas", json!(1));
                default_field(spec, "revisionHistoryLimit", json!(10));
                default_field(spec, "progressDeadlineSeconds", json!(600));
                let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
                if let Some(s) = strategy.as_object_mut() {
                    default_string(s, "type", "RollingUpdate");
                    if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let rolling = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(r) = rolling.as_object_mut() {
                            default_field(r, "maxUnavailable", json!("25%"));
                            default_field(r, "maxSurge", json!("25%"));
                        }
                    }
                }
            }
            AppsKind::ReplicaSet => default_field(spec, "replicas", json!(1)),
            AppsKind::StatefulSet => {
                default_field(spec, "replicas", json!(1));
                default_string(spec, "podManagementPolicy", "OrderedReady");
                default_field(spec, "revisionHistoryLimit", json!(10));
                default_field(spec, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
                let update = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(u) = update.as_object_mut() {
                    default_string(u, "type", "RollingUpdate");
                    if u.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let rolling = u.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(r) = rolling.as_object_mut() {
                            default_field(r, "partition", json!(0));
                        }
                    }
                }
                if let Some(claims) = spec.get_mut("volumeClaimTemplates").and_then(Value::as_array_mut) {
                    for claim in claims.iter_mut() {
                        if let Some(claim_spec) = object_at(claim, &["spec"]) {
                            default_string(claim_spec, "volumeMode", "Filesystem");
                        }
                        if let Some(status) = object_at(claim, &["status"]) {
                            default_string(status, "phase", "Pending");
                        }
                    }
                }
            }
            AppsKind::DaemonSet => {
                default_field(spec, "revisionHistoryLimit", json!(10));
                let update = spec.entry("updateStrategy").or_insert_with(|| json!({}));
                if let Some(u) = update.as_object_mut() {
                    default_string(u, "type", "RollingUpdate");
                    if u.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let rolling = u.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(r) = rolling.as_object_mut() {
                            default_field(r, "maxUnavailable", json!(1));
                            default_field(r, "maxSurge", json!(0));
                        }
                    }
                }
            }
        }
        default_template(spec.get_mut("template"));
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(self.validate_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(self.validate_spec(new));
        let new_selector = new.pointer("/spec/selector").unwrap_or(&Value::Null);
        if new_selector != old.pointer("/spec/selector").unwrap_or(&Value::Null) {
            errs.push(invalid_rendered(FieldPath::root("spec").child("selector"), new_selector.to_string(), "field is immutable"));
        }
        if self.kind == AppsKind::StatefulSet && stateful_set_frozen_spec(new) != stateful_set_frozen_spec(old) {
            errs.push(FieldError::forbidden(FieldPath::root("spec"), STATEFUL_SET_UPDATE_FORBIDDEN));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        match self.kind {
            AppsKind::ReplicaSet => {
                let replicas = obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0);
                vec![("status.replicas", replicas.to_string())]
            }
            _ => Vec::new(),
        }
    }
}

/// ReplicationControllers (core/v1): the apps rules with a plain map selector that defaults to
/// the template's labels.
pub struct ReplicationControllerStrategy;

fn validate_replication_controller(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    let selector = obj.pointer("/spec/selector").and_then(Value::as_object);
    match selector {
        Some(selector) if !selector.is_empty() => {
            let labels = obj.pointer("/spec/template/metadata/labels").cloned().unwrap_or_else(|| json!({}));
            if !selector_matches(&json!({"matchLabels": selector}), &labels) {
                errs.push(invalid_rendered(
                    spec_path.child("template").child("metadata").child("labels"),
                    labels.to_string(),
                    "`selector` does not match template `labels`",
                ));
            }
        }
        _ => errs.push(FieldError::required(spec_path.child("selector"), "")),
    }
    validate_non_negative(obj, &["spec", "replicas"], spec_path.child("replicas"), &mut errs);
    let template_path = spec_path.child("template");
    match obj.pointer("/spec/template").filter(|t| !t.is_null()) {
        None => errs.push(FieldError::required(template_path, "")),
        Some(template) => {
            errs.extend(validate_template_metadata(template, &template_path));
            let pod_spec = template.get("spec").unwrap_or(&Value::Null);
            errs.extend(validate_pod_spec(pod_spec, &template_path.child("spec")));
            if let Some(policy) = pod_spec.get("restartPolicy").and_then(Value::as_str).filter(|p| *p != "Always") {
                errs.push(FieldError::not_supported(template_path.child("spec").child("restartPolicy"), policy, &["Always"]));
            }
        }
    }
    errs
}

impl Strategy for ReplicationControllerStrategy {
    fn default(&self, obj: &mut Value) {
        let template_labels = obj.pointer("/spec/template/metadata/labels").cloned().filter(|l| l.as_object().is_some_and(|m| !m.is_empty()));
        if let Some(labels) = template_labels {
            if let Some(spec) = object_at(obj, &["spec"]) {
                if spec.get("selector").is_none_or(|s| s.as_object().is_none_or(|m| m.is_empty())) {
                    spec.insert("selector".into(), labels.clone());
                }
            }
            if let Some(meta) = object_at(obj, &["metadata"]) {
                if meta.get("labels").is_none_or(|l| l.as_object().is_none_or(|m| m.is_empty())) {
                    meta.insert("labels".into(), labels);
                }
            }
        }
        if let Some(spec) = object_at(obj, &["spec"]) {
            default_field(spec, "replicas", json!(1));
            default_template(spec.get_mut("template"));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_replication_controller(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_replication_controller(new));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let replicas = obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0);
        vec![("status.replicas", replicas.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_defaults_and_validates() {
        let mut d = deployment();
        DEPLOYMENT.default(&mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
        assert!(DEPLOYMENT.validate(&d).is_empty());
        assert!(DEPLOYMENT.tracks_generation());
    }

    #[test]
    fn selector_must_match_template() {
        let mut d = deployment();
        d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
        DEPLOYMENT.default(&mut d);
        let errs = DEPLOYMENT.validate(&d);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`");
        let mut d = deployment();
        d["spec"].as_object_mut().map(|s| s.remove("selector"));
        DEPLOYMENT.default(&mut d);
        assert_eq!(DEPLOYMENT.validate(&d)[0].to_string(), "spec.selector: Required value");
    }

    #[test]
    fn selector_is_immutable() {
        let mut old = deployment();
        DEPLOYMENT.default(&mut old);
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["tier"] = json!("x");
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        let errs = DEPLOYMENT.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path.as_str(), "spec.selector");
    }

    #[test]
    fn statefulset_and_daemonset_defaults() {
        let mut s = deployment();
        STATEFUL_SET.default(&mut s);
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(s["spec"]["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(s["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"], "Retain");
        let mut ds = deployment();
        DAEMON_SET.default(&mut ds);
        assert_eq!(ds["spec"]["updateStrategy"]["rollingUpdate"], json!({"maxUnavailable": 1, "maxSurge": 0}));
        assert!(ds["spec"].get("replicas").is_none());
    }

    #[test]
    fn template_restart_policy_must_be_always() {
        let mut d = deployment();
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        REPLICA_SET.default(&mut d);
        let errs = REPLICA_SET.validate(&d);
        assert_eq!(errs[0].to_string(), "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"");
    }

    #[test]
    fn replication_controller_selector_defaults_to_template_labels() {
        let mut rc = json!({"metadata": {"name": "rc", "namespace": "d"}, "spec": {"template": {
            "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        ReplicationControllerStrategy.default(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        assert!(ReplicationControllerStrategy.validate(&rc).is_empty());
        rc["spec"]["selector"] = json!({"app": "db"});
        assert_eq!(ReplicationControllerStrategy.validate(&rc)[0].path.as_str(), "spec.template.metadata.labels");
    }

    #[test]
    fn rolling_update_may_not_stop_progress() {
        let mut d = deployment();
        d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}});
        DEPLOYMENT.default(&mut d);
        let rendered: Vec<String> = DEPLOYMENT.validate(&d).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]);
        d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!("x");
        assert!(DEPLOYMENT.validate(&d)[0].to_string().starts_with("spec.strategy.rollingUpdate.maxSurge: Invalid value: \"x\": a valid percent string"));
    }

    #[test]
    fn statefulset_updates_are_limited() {
        let mut old = deployment();
        old["spec"]["serviceName"] = json!("web");
        STATEFUL_SET.default(&mut old);
        assert!(STATEFUL_SET.validate(&old).is_empty());
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(3);
        assert!(STATEFUL_SET.validate_update(&new, &old).is_empty());
        new["spec"]["serviceName"] = json!("other");
        let errs = STATEFUL_SET.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), format!("spec: Forbidden: {STATEFUL_SET_UPDATE_FORBIDDEN}"));
    }

    #[test]
    fn selector_expressions_are_checked() {
        let mut d = deployment();
        d["spec"]["selector"]["matchExpressions"] = json!([{"key": "app", "operator": "In"}]);
        DEPLOYMENT.default(&mut d);
        let rendered: Vec<String> = DEPLOYMENT.validate(&d).iter().map(ToString::to_string).collect();
        assert_eq!(rendered[0], "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
    }

    #[test]
    fn match_expressions() {
        let labels = json!({"app": "web", "tier": "fe"});
        assert!(selector_matches(&json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}]}), &labels));
        assert!(!selector_matches(&json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]}), &labels));
    }
}
