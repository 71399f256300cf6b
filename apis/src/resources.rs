//! The resource table: every built-in resource Corten serves, one row each.
//!
//! Discovery, the router, OpenAPI and (later) RBAC all read this table, so a resource exists
//! everywhere or nowhere. Group, version, kind and plural come from the `k8s-openapi` type's
//! `Resource` constants; short names, categories and verbs are upstream's published values.

use k8s_openapi::api;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
use k8s_openapi::{ListableResource, Resource};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::kinds;
use crate::Strategy;

/// A subresource served under `<resource>/<name>/<subresource>`.
#[derive(Debug, Clone, Copy)]
pub struct Subresource {
    /// Path segment, e.g. `status`, `scale`, `binding`.
    pub name: &'static str,
    /// The kind exchanged, when it differs from the parent (`Scale`, `Binding`).
    pub kind: Option<(&'static str, &'static str, &'static str)>,
    /// Verbs served on it.
    pub verbs: &'static [&'static str],
}

/// One row of the resource table.
#[derive(Clone, Copy)]
pub struct ResourceInfo {
    /// API group, "" for core.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// List kind, e.g. `DeploymentList`.
    pub list_kind: &'static str,
    /// Plural resource name (the URL segment).
    pub plural: &'static str,
    /// Short names (`deploy`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs on the collection and items.
    pub verbs: &'static [&'static str],
    /// Subresources served.
    pub subresources: &'static [Subresource],
    /// Decodes a JSON object into the typed `k8s-openapi` value and encodes it back. Fails on
    /// wrongly-typed fields; drops fields the schema does not declare (strict field validation
    /// compares input and output to find them).
    pub normalize: fn(&Value) -> Result<Value, serde_json::Error>,
    /// The kind's JSON schema, registered in the generator's definitions.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
    /// Converts a normalized object of this row's version into the storage version (the row's
    /// own version for almost every kind). Several versions of one kind share one storage, like
    /// upstream's autoscaling/v1 and v2 HorizontalPodAutoscalers.
    pub convert_to_storage: fn(Value) -> Value,
    /// Converts a stored object into this row's version (inverse of `convert_to_storage`).
    pub convert_from_storage: fn(Value) -> Value,
    /// The rules of a version that is not the storage version, when they need converting;
    /// `None` takes the kind's strategy.
    pub version_strategy: Option<&'static dyn Strategy>,
}

impl std::fmt::Debug for ResourceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {}", self.group, self.version, self.plural)
    }
}

impl ResourceInfo {
    /// `apps/v1`, or `v1` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The singular name: the lower-cased kind, as upstream derives it.
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// The group and resource, for error messages.
    pub fn group_resource(&self) -> corten_apimachinery::GroupResource<'static> {
        corten_apimachinery::GroupResource { group: self.group, resource: self.plural }
    }

    /// The strategy holding this kind's rules.
    pub fn strategy(&self) -> &'static dyn Strategy {
        self.version_strategy.unwrap_or_else(|| kinds::strategy_for(self.group, self.kind))
    }

    /// The subresource with this name, if served.
    pub fn subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether the verb is served on the resource itself.
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

fn normalize<K: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, serde_json::Error> {
    serde_json::from_value::<K>(v.clone()).and_then(serde_json::to_value)
}

/// The conversion of a row whose version is the storage version.
fn unconverted(v: Value) -> Value {
    v
}

fn schema<K: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<K>()
}

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_COLLECTION_DELETE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const READ_ONLY: &[&str] = &["get", "list"];
const CREATE_ONLY: &[&str] = &["create"];
const STATUS: Subresource = Subresource { name: "status", kind: None, verbs: &["get", "patch", "update"] };
const SCALE: Subresource =
    Subresource { name: "scale", kind: Some(("autoscaling", "v1", "Scale")), verbs: &["get", "patch", "update"] };
const FINALIZE: Subresource = Subresource { name: "finalize", kind: None, verbs: &["update"] };
const APPROVAL: Subresource = Subresource { name: "approval", kind: None, verbs: &["get", "patch", "update"] };
const BINDING: Subresource = Subresource { name: "binding", kind: Some(("", "v1", "Binding")), verbs: &["create"] };

macro_rules! row {
    ($ty:ty, namespaced: $ns:expr, short: [$($short:expr),*], categories: [$($cat:expr),*], verbs: $verbs:expr, sub: [$($sub:expr),*]) => {
        ResourceInfo {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            list_kind: <$ty as ListableResource>::LIST_KIND,
            plural: <$ty as Resource>::URL_PATH_SEGMENT,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            namespaced: $ns,
            verbs: $verbs,
            subresources: &[$($sub),*],
            normalize: normalize::<$ty>,
            schema: schema::<$ty>,
            convert_to_storage: unconverted,
            convert_from_storage: unconverted,
            version_strategy: None,
        }
    };
}

/// A create-only review kind (authentication and authorization questions): never stored, never
/// listed. The `<Kind>List` name only labels the (unused) list schema in OpenAPI.
macro_rules! review_row {
    ($ty:ty, list: $list:expr, namespaced: $ns:expr) => {
        ResourceInfo {
            group: <$ty as Resource>::GROUP,
            version: <$ty as Resource>::VERSION,
            kind: <$ty as Resource>::KIND,
            list_kind: $list,
            plural: <$ty as Resource>::URL_PATH_SEGMENT,
            short_names: &[],
            categories: &[],
            namespaced: $ns,
            verbs: CREATE_ONLY,
            subresources: &[],
            normalize: normalize::<$ty>,
            schema: schema::<$ty>,
            convert_to_storage: unconverted,
            convert_from_storage: unconverted,
            version_strategy: None,
        }
    };
}

/// Every served resource, grouped by API group in upstream's discovery order.
pub static RESOURCES: &[ResourceInfo] = &[
    // core/v1
    row!(api::core::v1::ComponentStatus, namespaced: false, short: ["cs"], categories: [], verbs: READ_ONLY, sub: []),
    row!(api::core::v1::ConfigMap, namespaced: true, short: ["cm"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::Endpoints, namespaced: true, short: ["ep"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::Event, namespaced: true, short: ["ev"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::LimitRange, namespaced: true, short: ["limits"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::Namespace, namespaced: false, short: ["ns"], categories: [], verbs: NO_COLLECTION_DELETE, sub: [STATUS, FINALIZE]),
    row!(api::core::v1::Node, namespaced: false, short: ["no"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::core::v1::PersistentVolumeClaim, namespaced: true, short: ["pvc"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::core::v1::PersistentVolume, namespaced: false, short: ["pv"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::core::v1::Pod, namespaced: true, short: ["po"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS, BINDING]),
    row!(api::core::v1::PodTemplate, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::ReplicationController, namespaced: true, short: ["rc"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS, SCALE]),
    row!(api::core::v1::ResourceQuota, namespaced: true, short: ["quota"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::core::v1::Secret, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::ServiceAccount, namespaced: true, short: ["sa"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::core::v1::Service, namespaced: true, short: ["svc"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS]),
    // admissionregistration.k8s.io/v1
    row!(api::admissionregistration::v1::MutatingWebhookConfiguration, namespaced: false, short: [], categories: ["api-extensions"], verbs: ALL_VERBS, sub: []),
    row!(api::admissionregistration::v1::ValidatingAdmissionPolicy, namespaced: false, short: [], categories: ["api-extensions"], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::admissionregistration::v1::ValidatingAdmissionPolicyBinding, namespaced: false, short: [], categories: ["api-extensions"], verbs: ALL_VERBS, sub: []),
    row!(api::admissionregistration::v1::ValidatingWebhookConfiguration, namespaced: false, short: [], categories: ["api-extensions"], verbs: ALL_VERBS, sub: []),
    // apiextensions.k8s.io/v1
    row!(apiextensions::CustomResourceDefinition, namespaced: false, short: ["crd", "crds"], categories: ["api-extensions"], verbs: ALL_VERBS, sub: [STATUS]),
    // apiregistration.k8s.io/v1
    row!(apiregistration::APIService, namespaced: false, short: [], categories: ["api-extensions"], verbs: ALL_VERBS, sub: [STATUS]),
    // apps/v1
    row!(api::apps::v1::ControllerRevision, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::apps::v1::DaemonSet, namespaced: true, short: ["ds"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::apps::v1::Deployment, namespaced: true, short: ["deploy"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS, SCALE]),
    row!(api::apps::v1::ReplicaSet, namespaced: true, short: ["rs"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS, SCALE]),
    row!(api::apps::v1::StatefulSet, namespaced: true, short: ["sts"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS, SCALE]),
    // authentication.k8s.io/v1
    review_row!(api::authentication::v1::SelfSubjectReview, list: "SelfSubjectReviewList", namespaced: false),
    review_row!(api::authentication::v1::TokenReview, list: "TokenReviewList", namespaced: false),
    // authorization.k8s.io/v1
    review_row!(api::authorization::v1::LocalSubjectAccessReview, list: "LocalSubjectAccessReviewList", namespaced: true),
    review_row!(api::authorization::v1::SelfSubjectAccessReview, list: "SelfSubjectAccessReviewList", namespaced: false),
    review_row!(api::authorization::v1::SelfSubjectRulesReview, list: "SelfSubjectRulesReviewList", namespaced: false),
    review_row!(api::authorization::v1::SubjectAccessReview, list: "SubjectAccessReviewList", namespaced: false),
    // autoscaling: v2 first, so it is the preferred version; v1 objects are stored as v2.
    row!(api::autoscaling::v2::HorizontalPodAutoscaler, namespaced: true, short: ["hpa"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS]),
    ResourceInfo {
        convert_to_storage: kinds::hpa_v1::to_v2,
        convert_from_storage: kinds::hpa_v1::from_v2,
        version_strategy: Some(&kinds::hpa_v1::HorizontalPodAutoscalerV1Strategy),
        ..row!(api::autoscaling::v1::HorizontalPodAutoscaler, namespaced: true, short: ["hpa"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS])
    },
    // batch/v1
    row!(api::batch::v1::CronJob, namespaced: true, short: ["cj"], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::batch::v1::Job, namespaced: true, short: [], categories: ["all"], verbs: ALL_VERBS, sub: [STATUS]),
    // certificates.k8s.io/v1
    row!(api::certificates::v1::CertificateSigningRequest, namespaced: false, short: ["csr"], categories: [], verbs: ALL_VERBS, sub: [STATUS, APPROVAL]),
    // coordination.k8s.io/v1
    row!(api::coordination::v1::Lease, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    // discovery.k8s.io/v1
    row!(api::discovery::v1::EndpointSlice, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    // events.k8s.io/v1
    row!(api::events::v1::Event, namespaced: true, short: ["ev"], categories: [], verbs: ALL_VERBS, sub: []),
    // flowcontrol.apiserver.k8s.io/v1
    row!(api::flowcontrol::v1::FlowSchema, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::flowcontrol::v1::PriorityLevelConfiguration, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    // networking.k8s.io/v1
    row!(api::networking::v1::IngressClass, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::networking::v1::Ingress, namespaced: true, short: ["ing"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    row!(api::networking::v1::IPAddress, namespaced: false, short: ["ip"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::networking::v1::NetworkPolicy, namespaced: true, short: ["netpol"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::networking::v1::ServiceCIDR, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    // node.k8s.io/v1
    row!(api::node::v1::RuntimeClass, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    // policy/v1
    row!(api::policy::v1::PodDisruptionBudget, namespaced: true, short: ["pdb"], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
    // rbac.authorization.k8s.io/v1
    row!(api::rbac::v1::ClusterRoleBinding, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::rbac::v1::ClusterRole, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::rbac::v1::RoleBinding, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::rbac::v1::Role, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    // scheduling.k8s.io/v1
    row!(api::scheduling::v1::PriorityClass, namespaced: false, short: ["pc"], categories: [], verbs: ALL_VERBS, sub: []),
    // storage.k8s.io/v1
    row!(api::storage::v1::CSIDriver, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::storage::v1::CSINode, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::storage::v1::CSIStorageCapacity, namespaced: true, short: [], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::storage::v1::StorageClass, namespaced: false, short: ["sc"], categories: [], verbs: ALL_VERBS, sub: []),
    row!(api::storage::v1::VolumeAttachment, namespaced: false, short: [], categories: [], verbs: ALL_VERBS, sub: [STATUS]),
];

/// The resource served at `group/version` with this plural name.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for a group and kind (any served version).
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.group == group && r.kind == kind)
}

/// The served groups in discovery order, each with its versions (preferred first).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_come_from_the_typed_resources() {
        let deploy = lookup("apps", "v1", "deployments").expect("deployments served");
        assert_eq!(deploy.kind, "Deployment");
        assert_eq!(deploy.list_kind, "DeploymentList");
        assert!(deploy.namespaced);
        assert_eq!(deploy.singular(), "deployment");
        assert!(lookup("", "v1", "pods").is_some());
        assert!(lookup("", "v1", "nosuch").is_none());
    }

    #[test]
    fn plurals_are_unique_within_a_group_version() {
        for (i, a) in RESOURCES.iter().enumerate() {
            for b in &RESOURCES[i + 1..] {
                assert!(!(a.group == b.group && a.version == b.version && a.plural == b.plural), "{a:?} twice");
            }
        }
    }

    #[test]
    fn normalize_drops_unknown_fields_and_rejects_wrong_types() {
        let cm = lookup("", "v1", "configmaps").expect("configmaps");
        let v = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}, "bogus": 1});
        let out = (cm.normalize)(&v).expect("decodes");
        assert!(out.get("bogus").is_none());
        assert_eq!(out["data"]["k"], "v");
        let bad = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": 5}});
        assert!((cm.normalize)(&bad).is_err());
    }
}
