//! What exists from the first start: the system namespaces and the `default/kubernetes` Service
//! with Endpoints and an EndpointSlice pointing at this API server.
//!
//! Each object goes through the normal registry path (defaults, validation, allocation). Existing
//! namespaces and the Service are left as they are; the Endpoints and EndpointSlice are rewritten
//! on every start, so they follow the server's current address and port (as upstream reconciles
//! them).

use std::net::IpAddr;

use corten_apimachinery::ApiError;
use corten_apis::resources;
use serde_json::{json, Value};

use crate::registry::{FieldValidation, Registry, WriteOptions};

/// The namespaces upstream creates at start.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The `kubernetes` Service's ClusterIP (the first address of the service CIDR).
pub const KUBERNETES_SERVICE_IP: &str = "10.43.0.1";

/// Creates whatever is missing.
pub async fn ensure(registry: &Registry, advertise: IpAddr, port: u16) -> Result<(), ApiError> {
    for ns in SYSTEM_NAMESPACES {
        create_if_missing(registry, "", "namespaces", None, json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns },
        }))
        .await?;
    }
    create_if_missing(registry, "", "services", Some("default"), json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "kubernetes", "labels": { "component": "apiserver", "provider": "kubernetes" } },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": KUBERNETES_SERVICE_IP,
            "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }],
            "sessionAffinity": "None",
        },
    }))
    .await?;
    create_or_replace(registry, "", "endpoints", Some("default"), json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": { "name": "kubernetes", "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
        "subsets": [{ "addresses": [{ "ip": advertise.to_string() }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }],
    }))
    .await?;
    create_or_replace(registry, "discovery.k8s.io", "endpointslices", Some("default"), json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": { "name": "kubernetes", "labels": { "kubernetes.io/service-name": "kubernetes" } },
        "addressType": if advertise.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{ "addresses": [advertise.to_string()], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    }))
    .await?;
    Ok(())
}

fn lookup(group: &str, plural: &str) -> Result<&'static resources::ResourceInfo, ApiError> {
    resources::RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))
}

fn options() -> WriteOptions {
    WriteOptions { dry_run: false, field_validation: FieldValidation::Strict, field_manager: "kube-apiserver".into(), duplicate_fields: Vec::new(), requester: None }
}

fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string()
}

async fn create_if_missing(registry: &Registry, group: &str, plural: &str, ns: Option<&str>, obj: Value) -> Result<(), ApiError> {
    let info = lookup(group, plural)?;
    match registry.get(info, ns, &name_of(&obj)).await {
        Ok(_) => return Ok(()),
        Err(e) if e.code() == 404 => {}
        Err(e) => return Err(e),
    }
    match registry.create(info, ns, obj, &options()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn create_or_replace(registry: &Registry, group: &str, plural: &str, ns: Option<&str>, obj: Value) -> Result<(), ApiError> {
    let info = lookup(group, plural)?;
    let name = name_of(&obj);
    match registry.get(info, ns, &name).await {
        Ok(current) => {
            let mut desired = obj;
            desired["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
            registry.update(info, ns, &name, None, desired, &options()).await.map(|_| ())
        }
        Err(e) if e.code() == 404 => registry.create(info, ns, obj, &options()).await.map(|_| ()),
        Err(e) => Err(e),
    }
}
