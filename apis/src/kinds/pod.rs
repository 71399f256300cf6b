//! Pods and pod templates: the pod spec defaults and validation that every workload reuses.
//!
//! Upstream applies the same pod spec defaults to a bare Pod and to the pod template inside a
//! Deployment, Job, ... (`SetDefaults_PodSpec`, `SetDefaults_Container`); only a bare Pod also gets
//! requests copied from limits (`SetDefaults_Pod`) and an initial status with its QoS class.

use corten_apimachinery::validation::{
    is_dns1123_label, is_env_var_name, is_valid_port_name, is_valid_port_num, validate_annotations, validate_labels,
    validate_object_meta, validate_object_meta_update, NameRule,
};
use corten_apimachinery::{FieldError, FieldErrorKind, FieldErrors, FieldPath};
use serde_json::{json, Value};

use super::{default_field, default_string, meta_of, object_at, selectable};
use crate::Strategy;

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// The image pull policy upstream picks: `Always` for `:latest` or an untagged image (no
/// digest either), `IfNotPresent` otherwise.
fn default_pull_policy(image: &str) -> &'static str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let has_digest = without_digest.len() != image.len();
    let last_segment = without_digest.rsplit('/').next().unwrap_or(without_digest);
    match last_segment.split_once(':') {
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
        None if has_digest => "IfNotPresent",
        None => "Always",
    }
}

fn default_probe(probe: &mut Value) {
    let Some(p) = probe.as_object_mut() else { return };
    default_field(p, "timeoutSeconds", json!(1));
    default_field(p, "periodSeconds", json!(10));
    default_field(p, "successThreshold", json!(1));
    default_field(p, "failureThreshold", json!(3));
    if let Some(http) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_string(http, "scheme", "HTTP");
    }
}

fn default_container(container: &mut Value, host_network: bool) {
    let Some(c) = container.as_object_mut() else { return };
    default_string(c, "terminationMessagePath", "/dev/termination-log");
    default_string(c, "terminationMessagePolicy", "File");
    let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
    default_string(c, "imagePullPolicy", default_pull_policy(&image));
    default_field(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default_string(port, "protocol", "TCP");
            if host_network {
                if let Some(container_port) = port.get("containerPort").cloned() {
                    default_field(port, "hostPort", container_port);
                }
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for var in env.iter_mut() {
            if let Some(field_ref) = var.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
                default_string(field_ref, "apiVersion", "v1");
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe) {
            default_probe(p);
        }
    }
}

fn default_volume(volume: &mut Value) {
    let Some(v) = volume.as_object_mut() else { return };
    for source in ["secret", "configMap", "projected", "downwardAPI"] {
        if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
            default_field(s, "defaultMode", json!(420));
        }
    }
    if let Some(host_path) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(host_path, "type", json!(""));
    }
}

/// Fills a pod spec's defaults (`SetDefaults_PodSpec` and the container/volume defaults).
pub(super) fn default_pod_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else { return };
    default_string(s, "restartPolicy", "Always");
    default_string(s, "dnsPolicy", "ClusterFirst");
    default_string(s, "schedulerName", "default-scheduler");
    default_field(s, "terminationGracePeriodSeconds", json!(30));
    default_field(s, "securityContext", json!({}));
    default_field(s, "enableServiceLinks", json!(true));
    // The deprecated `serviceAccount` mirrors `serviceAccountName` in both directions.
    match (s.get("serviceAccountName").cloned(), s.get("serviceAccount").cloned()) {
        (Some(name), None) => {
            s.insert("serviceAccount".into(), name);
        }
        (None, Some(name)) => {
            s.insert("serviceAccountName".into(), name);
        }
        _ => {}
    }
    let host_network = s.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false);
    for list in CONTAINER_LISTS {
        if let Some(containers) = s.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(|c| default_container(c, host_network));
        }
    }
    if let Some(volumes) = s.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.iter_mut().for_each(default_volume);
    }
}

/// Copies each container's limits into missing requests (a bare Pod only, `SetDefaults_Pod`).
fn default_requests_from_limits(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for container in containers.iter_mut() {
            let Some(limits) = container.pointer("/resources/limits").and_then(Value::as_object).cloned() else { continue };
            let Some(requests) = object_at(container, &["resources", "requests"]) else { continue };
            for (resource, quantity) in limits {
                requests.entry(resource).or_insert(quantity);
            }
        }
    }
}

/// A resource quantity's value (`500m`, `1Gi`, `2e3`), precise enough to compare requests with
/// limits; `None` when malformed.
fn parse_quantity(text: &str) -> Option<f64> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let text = text.trim();
    let (number, scale) = SUFFIXES
        .iter()
        .find_map(|(suffix, scale)| text.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((text, 1.0));
    number.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| v * scale)
}

fn quantity_at(c: &Value, kind: &str, resource: &str) -> Option<f64> {
    c.get("resources")?.get(kind)?.get(resource)?.as_str().and_then(parse_quantity)
}

/// Requests may not exceed limits.
fn validate_resources(c: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    let Some(requests) = c.pointer("/resources/requests").and_then(Value::as_object) else { return };
    for (resource, request) in requests {
        let (Some(request_value), Some(limit_value)) =
            (quantity_at(c, "requests", resource), quantity_at(c, "limits", resource))
        else {
            continue;
        };
        if request_value > limit_value {
            let limit = c.pointer("/resources/limits").and_then(|l| l.get(resource)).and_then(Value::as_str).unwrap_or("");
            errs.push(FieldError::invalid(
                path.child("resources").child("requests").key(resource),
                request.as_str().unwrap_or(""),
                format!("must be less than or equal to {resource} limit of {limit}"),
            ));
        }
    }
}

/// The QoS class of a pod spec, from its containers' cpu and memory requests and limits.
pub(super) fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any_set = false;
    let mut all_guaranteed = true;
    for c in &containers {
        for resource in ["cpu", "memory"] {
            let request = quantity_at(c, "requests", resource);
            let limit = quantity_at(c, "limits", resource);
            any_set |= request.is_some() || limit.is_some();
            if limit.is_none() || (request.is_some() && request != limit) {
                all_guaranteed = false;
            }
        }
    }
    match (any_set, all_guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

fn validate_ports(ports: &[Value], path: &FieldPath, errs: &mut FieldErrors) {
    let mut names = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            errs.extend(is_valid_port_name(name).into_iter().map(|m| FieldError::invalid(p.child("name"), name, m)));
            if names.contains(&name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
            names.push(name);
        }
        match port.get("containerPort").and_then(Value::as_i64).unwrap_or(0) {
            0 => errs.push(FieldError::required(p.child("containerPort"), "")),
            n => errs.extend(is_valid_port_num(n).into_iter().map(|m| FieldError::invalid(p.child("containerPort"), n, m))),
        }
        if let Some(host_port) = port.get("hostPort").and_then(Value::as_i64).filter(|n| *n != 0) {
            errs.extend(is_valid_port_num(host_port).into_iter().map(|m| FieldError::invalid(p.child("hostPort"), host_port, m)));
        }
        validate_protocol(port, &p, errs);
    }
}

/// Checks a port's `protocol` (required after defaulting, one of TCP/UDP/SCTP).
pub(super) fn validate_protocol(port: &Value, path: &FieldPath, errs: &mut FieldErrors) {
    match port.get("protocol").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("protocol"), "")),
        "TCP" | "UDP" | "SCTP" => {}
        other => errs.push(FieldError::not_supported(path.child("protocol"), other, &["SCTP", "TCP", "UDP"])),
    }
}

/// Each volume mount names a volume of the pod and has a mount path.
fn validate_volume_mounts(c: &Value, path: &FieldPath, volumes: &[&str], errs: &mut FieldErrors) {
    for (i, mount) in c.get("volumeMounts").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let p = path.child("volumeMounts").index(i);
        match mount.get("name").and_then(Value::as_str).unwrap_or("") {
            "" => errs.push(FieldError::required(p.child("name"), "")),
            name if !volumes.contains(&name) => errs.push(FieldError {
                path: p.child("name"),
                value: Some(format!("{name:?}")),
                kind: FieldErrorKind::NotFound,
                detail: format!("{name:?}"),
            }),
            _ => {}
        }
        if mount.get("mountPath").and_then(Value::as_str).unwrap_or("").is_empty() {
            errs.push(FieldError::required(p.child("mountPath"), ""));
        }
    }
}

fn validate_container(c: &Value, path: &FieldPath, names: &mut Vec<String>, errs: &mut FieldErrors) {
    match c.get("name").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("name"), "")),
        name => {
            errs.extend(is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(path.child("name"), name, m)));
            if names.iter().any(|n| n == name) {
                errs.push(FieldError::duplicate(path.child("name"), name));
            }
            names.push(name.to_string());
        }
    }
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    if image.is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    } else if image.trim() != image {
        errs.push(FieldError::invalid(path.child("image"), image, "must not have leading or trailing whitespace"));
    }
    if let Some(ports) = c.get("ports").and_then(Value::as_array) {
        validate_ports(ports, &path.child("ports"), errs);
    }
    validate_resources(c, path, errs);
    if let Some(env) = c.get("env").and_then(Value::as_array) {
        for (i, var) in env.iter().enumerate() {
            let name = var.get("name").and_then(Value::as_str).unwrap_or("");
            let p = path.child("env").index(i).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(p, ""));
            } else {
                errs.extend(is_env_var_name(name).into_iter().map(|m| FieldError::invalid(p.clone(), name, m)));
            }
        }
    }
    match c.get("imagePullPolicy").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("imagePullPolicy"), "")),
        "Always" | "IfNotPresent" | "Never" => {}
        other => errs.push(FieldError::not_supported(path.child("imagePullPolicy"), other, &["Always", "IfNotPresent", "Never"])),
    }
    match c.get("terminationMessagePolicy").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("terminationMessagePolicy"), "")),
        "File" | "FallbackToLogsOnError" => {}
        other => errs.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
}

/// Validates a (defaulted) pod spec found at `path`.
pub(super) fn validate_pod_spec(spec: &Value, path: &FieldPath) -> FieldErrors {
    let mut errs = Vec::new();
    let mut volume_names: Vec<&str> = Vec::new();
    for (i, volume) in spec.get("volumes").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let p = path.child("volumes").index(i).child("name");
        match volume.get("name").and_then(Value::as_str).unwrap_or("") {
            "" => errs.push(FieldError::required(p, "")),
            name => {
                errs.extend(is_dns1123_label(name).into_iter().map(|m| FieldError::invalid(p.clone(), name, m)));
                if volume_names.contains(&name) {
                    errs.push(FieldError::duplicate(p, name));
                }
                volume_names.push(name);
            }
        }
    }
    let mut names = Vec::new();
    let mut check = |c: &Value, p: FieldPath, errs: &mut FieldErrors| {
        validate_container(c, &p, &mut names, errs);
        validate_volume_mounts(c, &p, &volume_names, errs);
    };
    match spec.get("containers").and_then(Value::as_array) {
        Some(containers) if !containers.is_empty() => {
            for (i, c) in containers.iter().enumerate() {
                check(c, path.child("containers").index(i), &mut errs);
            }
        }
        _ => errs.push(FieldError::required(path.child("containers"), "")),
    }
    for list in ["initContainers", "ephemeralContainers"] {
        for (i, c) in spec.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
            check(c, path.child(list).index(i), &mut errs);
        }
    }
    match spec.get("restartPolicy").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("restartPolicy"), "")),
        "Always" | "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(path.child("restartPolicy"), other, &["Always", "OnFailure", "Never"])),
    }
    match spec.get("dnsPolicy").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(path.child("dnsPolicy"), "")),
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        other => errs.push(FieldError::not_supported(
            path.child("dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    if let Some(selector) = spec.get("nodeSelector") {
        errs.extend(validate_labels(selector, &path.child("nodeSelector")));
    }
    for field in ["hostname", "subdomain"] {
        if let Some(value) = spec.get(field).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            errs.extend(is_dns1123_label(value).into_iter().map(|m| FieldError::invalid(path.child(field), value, m)));
        }
    }
    if let Some(seconds) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if seconds < 1 {
            errs.push(FieldError::invalid(path.child("activeDeadlineSeconds"), seconds, "must be between 1 and 2147483647, inclusive"));
        }
    }
    errs
}

/// Validates the labels and annotations of a pod template's metadata.
pub(super) fn validate_template_metadata(template: &Value, path: &FieldPath) -> FieldErrors {
    let mut errs = Vec::new();
    let meta_path = path.child("metadata");
    if let Some(labels) = template.pointer("/metadata/labels") {
        errs.extend(validate_labels(labels, &meta_path.child("labels")));
    }
    if let Some(annotations) = template.pointer("/metadata/annotations") {
        errs.extend(validate_annotations(annotations, &meta_path.child("annotations")));
    }
    errs
}

/// Defaults the pod spec inside a template object (`{metadata, spec}`), if present.
pub(super) fn default_template(template: Option<&mut Value>) {
    if let Some(spec) = template.and_then(|t| t.get_mut("spec")) {
        default_pod_spec(spec);
    }
}

/// The message upstream gives for a pod update touching anything but the mutable fields.
const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// A copy of a pod spec with the fields a pod update may change blanked out, so two specs can
/// be compared for forbidden changes.
fn immutable_view(spec: &Value) -> Value {
    let mut view = spec.clone();
    if let Some(s) = view.as_object_mut() {
        for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
            s.remove(field);
        }
        for list in ["initContainers", "containers"] {
            if let Some(containers) = s.get_mut(list).and_then(Value::as_array_mut) {
                for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("image");
                }
            }
        }
        // Binding (nodeName) and ephemeral containers go through their own subresources.
        s.remove("ephemeralContainers");
    }
    view
}

fn validate_pod_update(new: &Value, old: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let new_spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let count = |s: &Value, list: &str| s.get(list).and_then(Value::as_array).map_or(0, Vec::len);
    if count(new_spec, "containers") != count(old_spec, "containers") {
        errs.push(FieldError::forbidden(FieldPath::root("spec").child("containers"), "pod updates may not add or remove containers"));
        return errs;
    }
    let mut new_view = immutable_view(new_spec);
    // A negative grace period (set by old clients) may be replaced by 1.
    let old_grace = old_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    let new_grace = new_spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        if let Some(view) = new_view.as_object_mut() {
            view.insert("terminationGracePeriodSeconds".into(), json!(old_grace));
        }
    }
    if new_view != immutable_view(old_spec) {
        errs.push(FieldError::forbidden(FieldPath::root("spec"), POD_UPDATE_FORBIDDEN));
    }
    if let Some(old_tolerations) = old_spec.get("tolerations").and_then(Value::as_array) {
        let new_tolerations = new_spec.get("tolerations").and_then(Value::as_array);
        if old_tolerations.iter().any(|t| !new_tolerations.is_some_and(|n| n.contains(t))) {
            errs.push(FieldError::forbidden(
                FieldPath::root("spec").child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
    let old_deadline = old_spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let new_deadline = new_spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    if let Some(old_deadline) = old_deadline {
        match new_deadline {
            None => errs.push(FieldError::invalid(
                FieldPath::root("spec").child("activeDeadlineSeconds"),
                "nil",
                "must not update from a positive integer to nil value",
            )),
            Some(n) if n > old_deadline => errs.push(FieldError::invalid(
                FieldPath::root("spec").child("activeDeadlineSeconds"),
                n,
                "must be less than or equal to previous value",
            )),
            Some(_) => {}
        }
    }
    errs
}

/// Pods: spec defaults, requests from limits, initial status, the narrow update rules.
pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn deletion_grace_seconds(&self, obj: &Value) -> Option<i64> {
        // Like upstream: pods not on a node, or already finished, go at once; others wait for
        // their kubelet to stop them (terminationGracePeriodSeconds, default 30).
        let scheduled = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let finished = matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        if !scheduled || finished {
            return Some(0);
        }
        Some(obj.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30))
    }

    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec") {
            default_pod_spec(spec);
            default_requests_from_limits(spec);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        // What upstream's priority admission fills when no priority class is named (resolving
        // a named class is admission's job, not this strategy's).
        if let Some(spec) = object_at(obj, &["spec"]) {
            if spec.get("priorityClassName").and_then(Value::as_str).unwrap_or("").is_empty() {
                default_field(spec, "priority", json!(0));
                default_string(spec, "preemptionPolicy", "PreemptLowerPriority");
            }
        }
        let qos = qos_class(obj.get("spec").unwrap_or(&Value::Null));
        if let Some(o) = obj.as_object_mut() {
            o.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pod_spec(obj.get("spec").unwrap_or(&Value::Null), &FieldPath::root("spec")));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pod_spec(new.get("spec").unwrap_or(&Value::Null), &FieldPath::root("spec")));
        errs.extend(validate_pod_update(new, old));
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        let host_network = obj.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false);
        // Upstream reads the primary address from `podIPs`.
        let pod_ip = obj
            .pointer("/status/podIPs/0/ip")
            .and_then(Value::as_str)
            .map_or_else(|| selectable(obj, &["status", "podIP"]), str::to_string);
        vec![
            ("spec.nodeName", selectable(obj, &["spec", "nodeName"])),
            ("spec.restartPolicy", selectable(obj, &["spec", "restartPolicy"])),
            ("spec.schedulerName", selectable(obj, &["spec", "schedulerName"])),
            ("spec.serviceAccountName", selectable(obj, &["spec", "serviceAccountName"])),
            ("spec.hostNetwork", host_network.to_string()),
            ("status.phase", selectable(obj, &["status", "phase"])),
            ("status.podIP", pod_ip),
            ("status.nominatedNodeName", selectable(obj, &["status", "nominatedNodeName"])),
        ]
    }
}

/// Validates a PodTemplate object's `template`.
fn validate_pod_template_object(obj: &Value) -> FieldErrors {
    let path = FieldPath::root("template");
    let template = obj.get("template").unwrap_or(&Value::Null);
    let mut errs = validate_template_metadata(template, &path);
    errs.extend(validate_pod_spec(template.get("spec").unwrap_or(&Value::Null), &path.child("spec")));
    errs
}

/// PodTemplates: the template's pod spec defaults and validation.
pub struct PodTemplateStrategy;

impl Strategy for PodTemplateStrategy {
    fn default(&self, obj: &mut Value) {
        default_template(obj.get_mut("template"));
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        let mut errs = validate_object_meta(meta_of(obj), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pod_template_object(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        let mut errs = validate_object_meta_update(meta_of(new), meta_of(old), true, NameRule::Dns1123Subdomain);
        errs.extend(validate_pod_template_object(new));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn created(spec: Value) -> Value {
        let mut p = pod(spec);
        PodStrategy.default(&mut p);
        PodStrategy.prepare_for_create(&mut p);
        p
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(default_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn defaults_fill_spec_and_containers() {
        let p = created(json!({"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}));
        assert_eq!(p["spec"]["restartPolicy"], "Always");
        assert_eq!(p["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(p["spec"]["schedulerName"], "default-scheduler");
        assert_eq!(p["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(p["spec"]["enableServiceLinks"], true);
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"]["requests"]["memory"], "1Gi");
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["status"]["qosClass"], "Guaranteed");
        assert!(PodStrategy.validate(&p).is_empty());
    }

    #[test]
    fn quantities_compare_by_value() {
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1Gi"), Some(1_073_741_824.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("x"), None);
        let spec = json!({"containers": [{"resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}}}]});
        assert_eq!(qos_class(&spec), "Guaranteed");
    }

    #[test]
    fn requests_may_not_exceed_limits() {
        let p = created(json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}));
        let rendered: Vec<String> = PodStrategy.validate(&p).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1"]);
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&json!({"containers": [{"name": "c"}]})), "BestEffort");
        assert_eq!(qos_class(&json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]})), "Burstable");
    }

    #[test]
    fn invalid_pods_name_the_field() {
        let p = created(json!({}));
        assert_eq!(PodStrategy.validate(&p)[0].to_string(), "spec.containers: Required value");

        let p = created(json!({"restartPolicy": "Sometimes", "containers": [
            {"name": "c", "image": "", "ports": [{"containerPort": 70000}]},
            {"name": "c", "image": "x"}]}));
        let rendered: Vec<String> = PodStrategy.validate(&p).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec![
            "spec.containers[0].image: Required value",
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[1].name: Duplicate value: \"c\"",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ]);
    }

    #[test]
    fn volume_mounts_must_name_a_volume() {
        let p = created(json!({"volumes": [{"name": "data", "emptyDir": {}}], "containers": [{"name": "c", "image": "x",
            "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cache", "mountPath": "/c"}]}]}));
        let rendered: Vec<String> = PodStrategy.validate(&p).iter().map(ToString::to_string).collect();
        assert_eq!(rendered, vec!["spec.containers[0].volumeMounts[1].name: Not found: \"cache\""]);
    }

    #[test]
    fn updates_may_change_only_images() {
        let old = created(json!({"containers": [{"name": "c", "image": "a"}]}));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("b");
        assert!(PodStrategy.validate_update(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        let errs = PodStrategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path.as_str(), "spec");
        assert!(errs[0].to_string().starts_with("spec: Forbidden: pod updates may not change fields other than"));
    }

    #[test]
    fn selectable_fields_cover_every_key_even_when_empty() {
        let fields = PodStrategy.selectable_fields(&json!({}));
        assert_eq!(fields.len(), 8);
        let p = created(json!({"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}));
        let fields = PodStrategy.selectable_fields(&p);
        assert!(fields.contains(&("spec.nodeName", "n1".to_string())));
        assert!(fields.contains(&("status.phase", "Pending".to_string())));
        assert!(fields.contains(&("spec.hostNetwork", "false".to_string())));
    }
}
