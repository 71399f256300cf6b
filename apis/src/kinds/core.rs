//! Core kinds with small rules: Namespace, Secret, ConfigMap, Event, Node.

use corten_apimachinery::validation::{
    is_config_map_key, is_qualified_name, validate_immutable, validate_object_meta, validate_object_meta_update, NameRule,
};
use corten_apimachinery::{FieldError, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::{default_string, meta_of, object_at, selectable, str_at};
use crate::Strategy;

/// The label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Largest total size of a Secret's or ConfigMap's data, in bytes.
const MAX_DATA_SIZE: usize = 1024 * 1024;

/// Namespaces: the `kubernetes` finalizer, the name label, the Active/Terminating phase.
pub struct NamespaceStrategy;

fn spec_finalizers(obj: &Value) -> &[Value] {
    obj.pointer("/spec/finalizers").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn validate_namespace_spec(obj: &Value) -> FieldErrors {
    let path = &FieldPath::root("spec").child("finalizers");
    spec_finalizers(obj)
        .iter()
        .filter_map(Value::as_str)
        .flat_map(|f| is_qualified_name(f).into_iter().map(move |m| FieldError::invalid(path.clone(), f, m)))
        .collect()
}

impl Strategy for NamespaceStrategy {
    fn default(&self, obj: &mut Value) {
        let name = str_at(obj, &["metadata", "name"]).unwrap_or("").to_string();
        if !name.is_empty() {
            if let Some(labels) = object_at(obj, &["metadata", "labels"]) {
                labels.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(spec) = object_at(obj, &["spec"]) {
            if spec.get("finalizers").is_none_or(|f| f.as_array().is_none_or(Vec::is_empty)) {
                spec.insert("finalizers".into(), json!(["kubernetes"]));
            }
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Active"}));
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // spec.finalizers only change through the finalize subresource.
        if let Some(spec) = object_at(new, &["spec"]) {
            match old.pointer("/spec/finalizers") {
                Some(f) => {
                    spec.insert("finalizers".into(), f.clone());
                }
                None => {
                    spec.remove("finalizers");
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), false, NameRule::Dns1123Label);
        errs.extend(validate_namespace_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), false, NameRule::Dns1123Label);
        errs.extend(validate_namespace_spec(new));
        errs
    }

    fn blocks_deletion(&self, obj: &Value) -> bool {
        !spec_finalizers(obj).is_empty()
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        if let Some(status) = object_at(obj, &["status"]) {
            status.insert("phase".into(), json!("Terminating"));
        }
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.phase", selectable(obj, &["status", "phase"]))]
    }
}

/// Validates the keys of `data` (and `binaryData`, `stringData`) maps and their total size.
fn validate_data_keys(obj: &Value, maps: &[&str], errs: &mut FieldErrors) {
    let mut total = 0usize;
    for map_name in maps {
        let Some(map) = obj.get(*map_name).and_then(Value::as_object) else { continue };
        let path = FieldPath::root(map_name);
        for (key, value) in map {
            errs.extend(is_config_map_key(key).into_iter().map(|m| FieldError::invalid(path.key(key), key.as_str(), m)));
            total += value.as_str().map_or(0, str::len);
        }
    }
    if total > MAX_DATA_SIZE {
        errs.push(FieldError::too_long(FieldPath::root(maps.first().copied().unwrap_or("data")), MAX_DATA_SIZE));
    }
}

/// With `immutable: true` on the old object, data may not change and the flag stays.
fn validate_immutable_data(new: &Value, old: &Value, maps: &[&str], errs: &mut FieldErrors) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(FieldPath::root("immutable"), "field is immutable when `immutable` is set"));
    }
    for map in maps {
        if new.get(*map) != old.get(*map) {
            errs.push(FieldError::forbidden(FieldPath::root(map), "field is immutable when `immutable` is set"));
        }
    }
}

/// Secrets: type defaults to Opaque, valid data keys, required keys per type, immutable type.
pub struct SecretStrategy;

/// The Secret rules beyond generic metadata.
fn validate_secret_content(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    validate_data_keys(obj, &["data"], &mut errs);
    let has_key = |key: &str| obj.pointer(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1"))).is_some();
    let required_keys: &[&str] = match str_at(obj, &["type"]).unwrap_or("") {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/tls" => &["tls.key", "tls.crt"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for key in required_keys {
        if !has_key(key) {
            errs.push(FieldError::required(FieldPath::root("data").key(key), ""));
        }
    }
    if str_at(obj, &["type"]) == Some("kubernetes.io/service-account-token")
        && str_at(obj, &["metadata", "annotations", "kubernetes.io/service-account.name"]).unwrap_or("").is_empty()
    {
        errs.push(FieldError::required(
            FieldPath::root("metadata").child("annotations").key("kubernetes.io/service-account.name"),
            "",
        ));
    }
    errs
}

/// Standard base64 with padding, the encoding of Secret `data` values on the wire.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk.first().copied().unwrap_or(0), chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else { return };
        default_string(o, "type", "Opaque");
        // `stringData` is write-only: upstream merges it into `data` (winning over equal keys).
        if let Some(Value::Object(string_data)) = o.remove("stringData") {
            let data = o.entry("data").or_insert_with(|| json!({}));
            if !data.is_object() {
                *data = json!({});
            }
            if let Some(data) = data.as_object_mut() {
                for (key, value) in string_data {
                    let text = value.as_str().unwrap_or("");
                    data.insert(key, Value::String(base64_encode(text.as_bytes())));
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_secret_content(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_secret_content(new));
        let null = Value::Null;
        errs.extend(validate_immutable(new.get("type").unwrap_or(&null), old.get("type").unwrap_or(&null), FieldPath::root("type")));
        validate_immutable_data(new, old, &["data"], &mut errs);
        errs
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("type", selectable(obj, &["type"]))]
    }
}

/// ConfigMaps: valid keys, no key in both `data` and `binaryData`, size limit, immutability.
pub struct ConfigMapStrategy;

/// The ConfigMap rules beyond generic metadata.
fn validate_config_map_content(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    validate_data_keys(obj, &["data", "binaryData"], &mut errs);
    if let (Some(data), Some(binary)) =
        (obj.get("data").and_then(Value::as_object), obj.get("binaryData").and_then(Value::as_object))
    {
        for key in binary.keys().filter(|k| data.contains_key(*k)) {
            errs.push(FieldError::invalid(FieldPath::root("binaryData"), key.as_str(), "duplicate of key present in data"));
        }
    }
    errs
}

impl Strategy for ConfigMapStrategy {
    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_config_map_content(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_config_map_content(new));
        validate_immutable_data(new, old, &["data", "binaryData"], &mut errs);
        errs
    }
}

/// Core Events: field selectors over the involved object, reason, source and type.
pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn validate(&self, obj: &Value) -> FieldErrors {
        validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain)
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![
            ("involvedObject.kind", selectable(obj, &["involvedObject", "kind"])),
            ("involvedObject.namespace", selectable(obj, &["involvedObject", "namespace"])),
            ("involvedObject.name", selectable(obj, &["involvedObject", "name"])),
            ("involvedObject.uid", selectable(obj, &["involvedObject", "uid"])),
            ("involvedObject.apiVersion", selectable(obj, &["involvedObject", "apiVersion"])),
            ("involvedObject.resourceVersion", selectable(obj, &["involvedObject", "resourceVersion"])),
            ("involvedObject.fieldPath", selectable(obj, &["involvedObject", "fieldPath"])),
            ("reason", selectable(obj, &["reason"])),
            ("reportingComponent", selectable(obj, &["reportingComponent"])),
            ("source", selectable(obj, &["source", "component"])),
            ("type", selectable(obj, &["type"])),
        ]
    }
}

/// Nodes: cluster-scoped, selectable by `spec.unschedulable`.
pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn keeps_status_on_create(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        // Allocatable defaults to the full capacity.
        let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) else { return };
        if status.get("allocatable").is_none_or(Value::is_null) {
            if let Some(capacity) = status.get("capacity").filter(|c| !c.is_null()).cloned() {
                status.insert("allocatable".into(), capacity);
            }
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        validate_object_meta(meta_of(obj), false, NameRule::Dns1123Subdomain)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_object_meta_update(meta_of(new), meta_of(old), false, NameRule::Dns1123Subdomain)
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let unschedulable = obj.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
        vec![("spec.unschedulable", unschedulable.to_string())]
    }
}

/// PersistentVolumeClaims: filesystem volume mode, Pending phase, access modes and size required.
pub struct PersistentVolumeClaimStrategy;

fn validate_claim_spec(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let spec_path = FieldPath::root("spec");
    if obj.pointer("/spec/accessModes").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        errs.push(FieldError::required(spec_path.child("accessModes"), "at least 1 access mode is required"));
    }
    const MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
    for (i, mode) in obj.pointer("/spec/accessModes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let mode = mode.as_str().unwrap_or("");
        if !MODES.contains(&mode) {
            errs.push(FieldError::not_supported(spec_path.child("accessModes").index(i), mode, MODES));
        }
    }
    let has_data_source = obj.pointer("/spec/dataSource").is_some_and(|d| !d.is_null());
    if !has_data_source && obj.pointer("/spec/resources/requests/storage").is_none() {
        errs.push(FieldError::required(spec_path.child("resources").child("requests").key("storage"), ""));
    }
    errs
}

impl Strategy for PersistentVolumeClaimStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = object_at(obj, &["spec"]) {
            default_string(spec, "volumeMode", "Filesystem");
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_claim_spec(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_claim_spec(new));
        // Once bound, only the requested size (expansion) may change in the spec.
        let frozen = |v: &Value| {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(s) = spec.as_object_mut() {
                s.remove("resources");
                s.remove("volumeAttributesClassName");
            }
            spec
        };
        let old_volume = str_at(old, &["spec", "volumeName"]).unwrap_or("");
        let mut new_frozen = frozen(new);
        if old_volume.is_empty() {
            // Binding fills volumeName on an unbound claim.
            if let Some(s) = new_frozen.as_object_mut() {
                s.remove("volumeName");
            }
        }
        let mut old_frozen = frozen(old);
        if old_volume.is_empty() {
            if let Some(s) = old_frozen.as_object_mut() {
                s.remove("volumeName");
            }
        }
        if new_frozen != old_frozen {
            errs.push(FieldError::forbidden(
                FieldPath::root("spec"),
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        errs
    }
}

fn validate_volume_capacity(obj: &Value) -> FieldErrors {
    if obj.pointer("/spec/capacity/storage").is_none() {
        vec![FieldError::required(FieldPath::root("spec").child("capacity").key("storage"), "")]
    } else {
        Vec::new()
    }
}

/// PersistentVolumes: Retain reclaim policy, filesystem mode, Pending phase.
pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = object_at(obj, &["spec"]) {
            default_string(spec, "persistentVolumeReclaimPolicy", "Retain");
            default_string(spec, "volumeMode", "Filesystem");
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), false, NameRule::Dns1123Subdomain);
        errs.extend(validate_volume_capacity(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), false, NameRule::Dns1123Subdomain);
        errs.extend(validate_volume_capacity(new));
        errs
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        vec![("status.phase", selectable(obj, &["status", "phase"]))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_lifecycle() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        NamespaceStrategy.default(&mut ns);
        NamespaceStrategy.prepare_for_create(&mut ns);
        assert_eq!(ns["metadata"]["labels"][NAMESPACE_NAME_LABEL], "team-a");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert!(NamespaceStrategy.validate(&ns).is_empty());
        assert!(NamespaceStrategy.blocks_deletion(&ns));
        NamespaceStrategy.prepare_for_delete(&mut ns);
        assert_eq!(ns["status"]["phase"], "Terminating");
        ns["spec"]["finalizers"] = json!([]);
        assert!(!NamespaceStrategy.blocks_deletion(&ns));
    }

    #[test]
    fn namespace_updates_keep_spec_finalizers() {
        let old = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut new = json!({"metadata": {"name": "a"}, "spec": {}});
        NamespaceStrategy.default(&mut new);
        NamespaceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(new["metadata"]["labels"][NAMESPACE_NAME_LABEL], "a");
    }

    #[test]
    fn namespace_names_are_dns_labels() {
        let errs = NamespaceStrategy.validate(&json!({"metadata": {"name": "a.b"}}));
        assert_eq!(errs[0].to_string(), "metadata.name: Invalid value: \"a.b\": must not contain dots");
    }

    #[test]
    fn secrets_default_type_and_check_keys() {
        let mut s = json!({"metadata": {"name": "s", "namespace": "d"}, "data": {"bad key": "eA=="}});
        SecretStrategy.default(&mut s);
        assert_eq!(s["type"], "Opaque");
        let errs = SecretStrategy.validate(&s);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path.as_str(), "data[bad key]");
        let tls = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(SecretStrategy.validate(&tls)[0].to_string(), "data[tls.key]: Required value");
        let mut changed = s.clone();
        changed["type"] = json!("Other");
        assert!(SecretStrategy.validate_update(&changed, &s).iter().any(|e| e.to_string() == "type: Invalid value: \"Other\": field is immutable"));
        assert_eq!(SecretStrategy.selectable_fields(&s), vec![("type", "Opaque".to_string())]);
    }

    #[test]
    fn string_data_merges_into_data() {
        let mut s = json!({"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "hello", "c": "hi!"}});
        SecretStrategy.default(&mut s);
        assert!(s.get("stringData").is_none());
        assert_eq!(s["data"], json!({"a": "eA==", "b": "aGVsbG8=", "c": "aGkh"}));
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b""), "");
    }

    #[test]
    fn config_maps_reject_duplicate_and_bad_keys() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1", "..x": "2"}, "binaryData": {"a": "eA=="}});
        let rendered: Vec<String> = ConfigMapStrategy.validate(&cm).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec![
            "data[..x]: Invalid value: \"..x\": must not start with '..'",
            "binaryData: Invalid value: \"a\": duplicate of key present in data",
        ]);
        let old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let mut new = old.clone();
        new["data"]["a"] = json!("2");
        assert_eq!(ConfigMapStrategy.validate_update(&new, &old)[0].path.as_str(), "data");
    }

    #[test]
    fn claims_default_and_require_size() {
        let mut pvc = json!({"metadata": {"name": "data", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        PersistentVolumeClaimStrategy.default(&mut pvc);
        PersistentVolumeClaimStrategy.prepare_for_create(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let rendered: Vec<String> = PersistentVolumeClaimStrategy.validate(&pvc).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["spec.resources.requests[storage]: Required value"]);
        pvc["spec"]["resources"] = json!({"requests": {"storage": "1Gi"}});
        assert!(PersistentVolumeClaimStrategy.validate(&pvc).is_empty());
        let mut grown = pvc.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(PersistentVolumeClaimStrategy.validate_update(&grown, &pvc).is_empty());
        grown["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(PersistentVolumeClaimStrategy.validate_update(&grown, &pvc)[0].path.as_str(), "spec");
    }

    #[test]
    fn volumes_default_reclaim_policy() {
        let mut pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"}}});
        PersistentVolumeStrategy.default(&mut pv);
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert!(PersistentVolumeStrategy.validate(&pv).is_empty());
    }

    #[test]
    fn event_and_node_selectable_fields() {
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "source": {"component": "kubelet"}});
        let fields = EventStrategy.selectable_fields(&ev);
        assert!(fields.contains(&("involvedObject.kind", "Pod".to_string())));
        assert!(fields.contains(&("source", "kubelet".to_string())));
        assert!(fields.contains(&("type", String::new())));
        let mut reported = json!({"status": {"capacity": {"cpu": "4"}}});
        NodeStrategy.default(&mut reported);
        assert_eq!(reported["status"]["allocatable"], json!({"cpu": "4"}));
        let node = json!({"spec": {"unschedulable": true}});
        assert_eq!(NodeStrategy.selectable_fields(&node), vec![("spec.unschedulable", "true".to_string())]);
    }
}
