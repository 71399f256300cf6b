//! Which built-in lists a strategic merge patch merges, and by which key.
//!
//! Upstream reads this from `patchStrategy` / `patchMergeKey` struct tags on the Go API types.
//! We keep the same facts as a table keyed by *type* (`PodSpec.containers`), not by object path,
//! so one entry covers every place a type is embedded: a `PodSpec` is reached from `Pod.spec`,
//! `PodTemplate.template.spec`, every workload's `.spec.template.spec` and a CronJob's
//! `.spec.jobTemplate.spec.template.spec`. Lists not in the table are atomic (replaced whole).

/// How a strategic merge patch combines a list field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the whole list (the default).
    Atomic,
    /// A list of scalars merged as a set union (`finalizers`).
    Set,
    /// A list of objects merged item by item, matching items by this field.
    MergeByKey(&'static str),
}

/// One field of a built-in type that needs more than the default handling: the type it holds
/// (the element type for lists), and its list strategy.
struct FieldSpec {
    owner: &'static str,
    field: &'static str,
    field_type: &'static str,
    list: ListStrategy,
}

const fn nested(owner: &'static str, field: &'static str, field_type: &'static str) -> FieldSpec {
    FieldSpec { owner, field, field_type, list: ListStrategy::Atomic }
}

const fn keyed(owner: &'static str, field: &'static str, field_type: &'static str, key: &'static str) -> FieldSpec {
    FieldSpec { owner, field, field_type, list: ListStrategy::MergeByKey(key) }
}

const fn set(owner: &'static str, field: &'static str) -> FieldSpec {
    FieldSpec { owner, field, field_type: "", list: ListStrategy::Set }
}

/// Status types whose only merged list is `conditions`, keyed by `type`.
const CONDITIONS_STATUS: &str = "ConditionsStatus";

/// The type table. Kind names are root types; `metadata` of any type is `ObjectMeta`.
const FIELDS: &[FieldSpec] = &[
    // meta/v1
    set("ObjectMeta", "finalizers"),
    keyed("ObjectMeta", "ownerReferences", "OwnerReference", "uid"),
    // core/v1 pods and pod templates
    nested("Pod", "spec", "PodSpec"),
    nested("Pod", "status", "PodStatus"),
    nested("PodTemplate", "template", "PodTemplateSpec"),
    nested("PodTemplateSpec", "spec", "PodSpec"),
    keyed("PodSpec", "volumes", "Volume", "name"),
    keyed("PodSpec", "initContainers", "Container", "name"),
    keyed("PodSpec", "containers", "Container", "name"),
    keyed("PodSpec", "ephemeralContainers", "Container", "name"),
    keyed("PodSpec", "imagePullSecrets", "LocalObjectReference", "name"),
    keyed("PodSpec", "hostAliases", "HostAlias", "ip"),
    keyed("PodSpec", "topologySpreadConstraints", "TopologySpreadConstraint", "topologyKey"),
    keyed("PodSpec", "schedulingGates", "PodSchedulingGate", "name"),
    keyed("PodSpec", "resourceClaims", "PodResourceClaim", "name"),
    keyed("Container", "ports", "ContainerPort", "containerPort"),
    keyed("Container", "env", "EnvVar", "name"),
    keyed("Container", "volumeMounts", "VolumeMount", "mountPath"),
    keyed("Container", "volumeDevices", "VolumeDevice", "devicePath"),
    keyed("PodStatus", "conditions", "PodCondition", "type"),
    keyed("PodStatus", "podIPs", "PodIP", "ip"),
    keyed("PodStatus", "hostIPs", "HostIP", "ip"),
    keyed("PodStatus", "resourceClaimStatuses", "PodResourceClaimStatus", "name"),
    // core/v1 others
    nested("ReplicationController", "spec", "ReplicationControllerSpec"),
    nested("ReplicationController", "status", CONDITIONS_STATUS),
    nested("ReplicationControllerSpec", "template", "PodTemplateSpec"),
    nested("Service", "spec", "ServiceSpec"),
    nested("Service", "status", CONDITIONS_STATUS),
    keyed("ServiceSpec", "ports", "ServicePort", "port"),
    nested("Node", "spec", "NodeSpec"),
    nested("Node", "status", "NodeStatus"),
    set("NodeSpec", "podCIDRs"),
    keyed("NodeStatus", "conditions", "NodeCondition", "type"),
    keyed("NodeStatus", "addresses", "NodeAddress", "type"),
    nested("Namespace", "status", CONDITIONS_STATUS),
    keyed("ServiceAccount", "secrets", "ObjectReference", "name"),
    nested("PersistentVolumeClaim", "status", CONDITIONS_STATUS),
    // apps/v1
    nested("Deployment", "spec", "WorkloadSpec"),
    nested("Deployment", "status", CONDITIONS_STATUS),
    nested("ReplicaSet", "spec", "WorkloadSpec"),
    nested("ReplicaSet", "status", CONDITIONS_STATUS),
    nested("StatefulSet", "spec", "WorkloadSpec"),
    nested("StatefulSet", "status", CONDITIONS_STATUS),
    nested("DaemonSet", "spec", "WorkloadSpec"),
    nested("DaemonSet", "status", CONDITIONS_STATUS),
    nested("WorkloadSpec", "template", "PodTemplateSpec"),
    // batch/v1
    nested("Job", "spec", "WorkloadSpec"),
    nested("Job", "status", CONDITIONS_STATUS),
    nested("CronJob", "spec", "CronJobSpec"),
    nested("CronJobSpec", "jobTemplate", "JobTemplateSpec"),
    nested("JobTemplateSpec", "spec", "WorkloadSpec"),
    // autoscaling/v2, policy/v1
    nested("HorizontalPodAutoscaler", "status", CONDITIONS_STATUS),
    nested("PodDisruptionBudget", "status", CONDITIONS_STATUS),
    // apiregistration.k8s.io/v1, resource.k8s.io
    nested("APIService", "status", CONDITIONS_STATUS),
    nested("ResourceClaim", "status", "ResourceClaimStatus"),
    keyed("ResourceClaimStatus", "reservedFor", "ResourceClaimConsumerReference", "uid"),
    keyed(CONDITIONS_STATUS, "conditions", "Condition", "type"),
];

/// API groups served by the API server itself (everything else is a custom resource).
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

/// A position in the type table: the type of the value being merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeRef(&'static str);

/// What a field of a type holds: its type (element type for lists) and list strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldInfo {
    pub(crate) field_type: Option<TypeRef>,
    pub(crate) list: ListStrategy,
}

/// The root type of a built-in kind, or `None` for a custom resource.
pub(crate) fn root_type(group: &str, kind: &str) -> Option<TypeRef> {
    BUILT_IN_GROUPS.contains(&group).then(|| {
        FIELDS
            .iter()
            .find(|f| f.owner == kind)
            .map_or(TypeRef("Object"), |f| TypeRef(f.owner))
    })
}

/// Looks up a field of a type; unknown fields hold untyped values with atomic lists.
pub(crate) fn field(owner: Option<TypeRef>, name: &str) -> FieldInfo {
    let Some(TypeRef(owner)) = owner else {
        return FieldInfo { field_type: None, list: ListStrategy::Atomic };
    };
    if let Some(spec) = FIELDS.iter().find(|f| f.owner == owner && f.field == name) {
        let field_type = (!spec.field_type.is_empty()).then_some(TypeRef(spec.field_type));
        return FieldInfo { field_type, list: spec.list };
    }
    let field_type = (name == "metadata").then_some(TypeRef("ObjectMeta"));
    FieldInfo { field_type, list: ListStrategy::Atomic }
}

/// How the list at `path` (field names from the object root, no list indices) of a built-in kind
/// is merged. Custom resources and unknown paths are [`ListStrategy::Atomic`].
pub fn list_strategy(group: &str, kind: &str, path: &[&str]) -> ListStrategy {
    let Some((last, parents)) = path.split_last() else {
        return ListStrategy::Atomic;
    };
    let mut owner = root_type(group, kind);
    for name in parents {
        owner = field(owner, name).field_type;
    }
    field(owner, last).list
}

/// The merge key of the list at `path` (field names from the object root, no list indices), e.g.
/// `["spec", "template", "spec", "containers"]` of an apps `Deployment` is merged by `name`.
/// `None` for atomic lists, scalar sets, custom resources and unknown paths.
pub fn list_merge_key(group: &str, kind: &str, path: &[&str]) -> Option<&'static str> {
    match list_strategy(group, kind, path) {
        ListStrategy::MergeByKey(key) => Some(key),
        ListStrategy::Atomic | ListStrategy::Set => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_spec_lists_are_found_wherever_pod_spec_is_embedded() {
        assert_eq!(list_merge_key("", "Pod", &["spec", "containers"]), Some("name"));
        assert_eq!(list_merge_key("apps", "Deployment", &["spec", "template", "spec", "containers", "ports"]), Some("containerPort"));
        assert_eq!(list_merge_key("", "PodTemplate", &["template", "spec", "volumes"]), Some("name"));
        assert_eq!(
            list_merge_key("batch", "CronJob", &["spec", "jobTemplate", "spec", "template", "spec", "initContainers", "env"]),
            Some("name")
        );
        assert_eq!(list_merge_key("apps", "StatefulSet", &["spec", "template", "spec", "containers", "volumeMounts"]), Some("mountPath"));
    }

    #[test]
    fn metadata_and_status_lists() {
        assert_eq!(list_merge_key("apps", "DaemonSet", &["metadata", "ownerReferences"]), Some("uid"));
        assert_eq!(list_strategy("", "ConfigMap", &["metadata", "finalizers"]), ListStrategy::Set);
        assert_eq!(list_strategy("apps", "Deployment", &["spec", "template", "metadata", "finalizers"]), ListStrategy::Set);
        assert_eq!(list_merge_key("", "Node", &["status", "addresses"]), Some("type"));
        assert_eq!(list_merge_key("batch", "Job", &["status", "conditions"]), Some("type"));
        assert_eq!(list_merge_key("", "Service", &["spec", "ports"]), Some("port"));
        assert_eq!(list_merge_key("", "ServiceAccount", &["secrets"]), Some("name"));
        assert_eq!(list_merge_key("apiregistration.k8s.io", "APIService", &["status", "conditions"]), Some("type"));
    }

    #[test]
    fn atomic_lists_and_custom_resources_have_no_key() {
        assert_eq!(list_strategy("", "Pod", &["spec", "tolerations"]), ListStrategy::Atomic);
        assert_eq!(list_strategy("", "Pod", &["spec", "containers", "args"]), ListStrategy::Atomic);
        assert_eq!(list_merge_key("example.com", "Pod", &["spec", "containers"]), None);
        assert_eq!(list_strategy("example.com", "Widget", &["metadata", "finalizers"]), ListStrategy::Atomic);
        assert_eq!(list_merge_key("", "Pod", &[]), None);
    }
}
