//! Per-kind strategies (defaulting, validation, selectable fields), looked up by group and kind.
//!
//! Each submodule holds the rules of one group (or of one large kind), mirroring upstream's
//! `pkg/apis/<group>/v1/defaults.go`, `pkg/apis/<group>/validation` and
//! `pkg/registry/<group>/<kind>/strategy.go`. Kinds without their own rules still get metadata
//! validation through [`DefaultStrategy`], configured with the kind's scope and name rule.

mod apiextensions;
mod apps;
mod autoscaling;
pub mod hpa_v1;
mod batch;
mod certificates;
mod core;
mod networking;
mod pod;
mod policy;
mod service;
mod simple;

use std::sync::OnceLock;

use corten_apimachinery::validation::{validate_object_meta, validate_object_meta_update, NameRule};
use corten_apimachinery::{FieldError, FieldErrorKind, FieldErrors, FieldPath};
use serde_json::{Map, Value};

use crate::resources;
use crate::Strategy;

/// The strategy of a kind with no special rules: metadata validation under the kind's scope and
/// name rule, and generation tracking where upstream's strategy bumps it.
pub struct DefaultStrategy {
    /// Whether objects live in a namespace; `None` for kinds outside the resource table (custom
    /// resources), whose scope the registry enforces.
    namespaced: Option<bool>,
    name_rule: NameRule,
    tracks_generation: bool,
    /// The kind's upstream defaulting, if it has any.
    defaults: Option<fn(&mut Value)>,
}

impl DefaultStrategy {
    const fn new(namespaced: Option<bool>, name_rule: NameRule, tracks_generation: bool) -> Self {
        DefaultStrategy { namespaced, name_rule, tracks_generation, defaults: None }
    }

    fn scope_of(&self, obj: &Value) -> bool {
        self.namespaced.unwrap_or_else(|| str_at(obj, &["metadata", "namespace"]).is_some_and(|ns| !ns.is_empty()))
    }
}

impl Strategy for DefaultStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(defaults) = self.defaults {
            defaults(obj);
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        validate_object_meta(meta_of(obj), self.scope_of(obj), self.name_rule)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_object_meta_update(meta_of(new), meta_of(old), self.scope_of(new), self.name_rule)
    }

    fn tracks_generation(&self) -> bool {
        self.tracks_generation
    }
}

/// Kinds served without own rules whose upstream strategy bumps `metadata.generation` on spec
/// changes.
const GENERATION_TRACKING_KINDS: &[(&str, &str)] = &[
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
];

/// The name rule upstream applies to a kind without its own strategy here.
fn default_name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("rbac.authorization.k8s.io", _) | ("flowcontrol.apiserver.k8s.io", _) | ("certificates.k8s.io", _) => {
            NameRule::PathSegment
        }
        _ => NameRule::Dns1123Subdomain,
    }
}

/// The strategy of a kind outside the resource table: a custom resource, whose generation
/// upstream bumps like any spec-carrying kind.
static UNLISTED_KIND: DefaultStrategy = DefaultStrategy::new(None, NameRule::Dns1123Subdomain, true);

/// One [`DefaultStrategy`] per row of [`resources::RESOURCES`], in the same order.
fn default_strategies() -> &'static [DefaultStrategy] {
    static TABLE: OnceLock<Vec<DefaultStrategy>> = OnceLock::new();
    TABLE.get_or_init(|| {
        resources::RESOURCES
            .iter()
            .map(|r| {
                let tracks = GENERATION_TRACKING_KINDS.contains(&(r.group, r.kind));
                DefaultStrategy {
                    defaults: simple::defaults_for(r.group, r.kind),
                    ..DefaultStrategy::new(Some(r.namespaced), default_name_rule(r.group, r.kind), tracks)
                }
            })
            .collect()
    })
}

fn default_strategy(group: &str, kind: &str) -> &'static DefaultStrategy {
    resources::RESOURCES
        .iter()
        .position(|r| r.group == group && r.kind == kind)
        .and_then(|i| default_strategies().get(i))
        .unwrap_or(&UNLISTED_KIND)
}

/// The strategy for a group and kind; kinds without rules get a [`DefaultStrategy`].
pub fn strategy_for(group: &str, kind: &str) -> &'static dyn Strategy {
    match (group, kind) {
        ("", "Namespace") => &core::NamespaceStrategy,
        ("", "Pod") => &pod::PodStrategy,
        ("", "Service") => &service::ServiceStrategy,
        ("", "Secret") => &core::SecretStrategy,
        ("", "ConfigMap") => &core::ConfigMapStrategy,
        ("", "Event") => &core::EventStrategy,
        ("", "Node") => &core::NodeStrategy,
        ("", "PodTemplate") => &pod::PodTemplateStrategy,
        ("", "PersistentVolumeClaim") => &core::PersistentVolumeClaimStrategy,
        ("", "PersistentVolume") => &core::PersistentVolumeStrategy,
        ("", "ReplicationController") => &apps::ReplicationControllerStrategy,
        ("apps", "Deployment") => &apps::DEPLOYMENT,
        ("apps", "ReplicaSet") => &apps::REPLICA_SET,
        ("apps", "StatefulSet") => &apps::STATEFUL_SET,
        ("apps", "DaemonSet") => &apps::DAEMON_SET,
        ("batch", "Job") => &batch::JobStrategy,
        ("policy", "PodDisruptionBudget") => &policy::PodDisruptionBudgetStrategy,
        ("networking.k8s.io", "Ingress") => &networking::IngressStrategy,
        ("networking.k8s.io", "NetworkPolicy") => &networking::NetworkPolicyStrategy,
        ("autoscaling", "HorizontalPodAutoscaler") => &autoscaling::HorizontalPodAutoscalerStrategy,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => &apiextensions::CustomResourceDefinitionStrategy,
        ("batch", "CronJob") => &batch::CronJobStrategy,
        ("certificates.k8s.io", "CertificateSigningRequest") => &certificates::CertificateSigningRequestStrategy,
        _ => default_strategy(group, kind),
    }
}

// ---- helpers shared by the kind modules ----

static NULL: Value = Value::Null;

/// The object's `metadata`, or null.
fn meta_of(obj: &Value) -> &Value {
    obj.get("metadata").unwrap_or(&NULL)
}

/// The value at a path of object keys.
fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// The string at a path of object keys.
fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(obj, path).and_then(Value::as_str)
}

/// The object at a path of keys, created (replacing nulls and non-objects) as needed.
fn object_at<'a>(obj: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = obj;
    for key in path {
        let map = current.as_object_mut()?;
        let entry = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        current = entry;
    }
    current.as_object_mut()
}

/// Sets `key` in `map` when it is absent or null, like upstream's nil-pointer defaulting.
fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// Sets `key` when absent, null or an empty string (upstream defaults empty enum strings).
fn default_string(map: &mut Map<String, Value>, key: &str, value: &str) {
    if map.get(key).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// An `Invalid value` error whose value is already rendered (maps, selectors).
fn invalid_rendered(path: FieldPath, rendered: String, detail: &str) -> FieldError {
    FieldError { path, value: Some(rendered), kind: FieldErrorKind::Invalid(detail.to_string()), detail: detail.to_string() }
}

/// Checks that an integer field, when present, is not negative.
fn validate_non_negative(obj: &Value, path: &[&str], field_path: FieldPath, errs: &mut FieldErrors) {
    if let Some(n) = at(obj, path).and_then(Value::as_i64) {
        if n < 0 {
            errs.push(FieldError::invalid(field_path, n, "must be greater than or equal to 0"));
        }
    }
}

/// A field selector value of a possibly missing string.
fn selectable(obj: &Value, path: &[&str]) -> String {
    str_at(obj, path).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_strategy_checks_scope_and_name_rule() {
        let cm = strategy_for("rbac.authorization.k8s.io", "ClusterRole");
        assert!(cm.validate(&json!({"metadata": {"name": "system:admin"}})).is_empty());
        let errs = cm.validate(&json!({"metadata": {"name": "a/b", "namespace": "x"}}));
        let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'", "metadata.namespace: Forbidden: not allowed on this type"]);

        let lease = strategy_for("coordination.k8s.io", "Lease");
        assert_eq!(lease.validate(&json!({"metadata": {"name": "x"}}))[0].to_string(), "metadata.namespace: Required value");
        assert!(!lease.tracks_generation());
        assert!(strategy_for("networking.k8s.io", "NetworkPolicy").tracks_generation());
    }

    #[test]
    fn default_strategy_keeps_name_immutable() {
        let s = strategy_for("coordination.k8s.io", "Lease");
        let old = json!({"metadata": {"name": "a", "namespace": "d"}});
        let new = json!({"metadata": {"name": "b", "namespace": "d"}});
        assert_eq!(s.validate_update(&new, &old)[0].to_string(), "metadata.name: Invalid value: \"b\": field is immutable");
    }

    #[test]
    fn custom_resources_take_scope_from_the_object() {
        let s = strategy_for("example.com", "Widget");
        assert!(s.validate(&json!({"metadata": {"name": "w", "namespace": "d"}})).is_empty());
        assert!(s.validate(&json!({"metadata": {"name": "w"}})).is_empty());
        assert!(!s.validate(&json!({"metadata": {"name": "W"}})).is_empty());
        assert!(s.tracks_generation());
    }
}
