//! Per-resource storage side effects that a pure strategy cannot do: today, Service ClusterIP and
//! NodePort allocation.
//!
//! Allocation must be unique even when two API servers (etcd mode) create Services at the same
//! time, so each allocated address or port is a key in the store, created with create-if-absent
//! (`/registry/corten/serviceips/<ip>`, `/registry/corten/nodeports/<port>`). The store's
//! compare-and-swap is the lock; no in-memory bitmap can disagree with it. This is the same idea as
//! upstream's IPAddress objects (v1.33's default allocator) without exposing the keys as objects.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use corten_apimachinery::{ApiError, FieldError, FieldPath};
use corten_apis::ResourceInfo;
use corten_storage::{Backend, Error as StorageError};
use rand::Rng;
use serde_json::{json, Value};

/// Side effects around writes of one resource.
#[async_trait::async_trait]
pub trait ResourceHooks: Send + Sync {
    /// Called after validation, before a create is stored. May fill allocated fields.
    async fn before_create(&self, obj: &mut Value, dry_run: bool) -> Result<(), ApiError>;
    /// Called before an update is stored.
    async fn before_update(&self, old: &Value, new: &mut Value, dry_run: bool) -> Result<(), ApiError>;
    /// Called once the object is gone (or its create failed): frees what it held.
    async fn release(&self, obj: &Value);
}

/// The hooks of every resource that has some.
pub struct Hooks {
    services: ServiceAllocator,
}

impl Hooks {
    /// Hooks over `store`.
    pub fn new(store: Arc<dyn Backend>) -> Self {
        Hooks { services: ServiceAllocator::new(store, ServiceRanges::default()) }
    }

    /// The hooks for a resource, if it has any.
    pub fn for_resource(&self, info: &ResourceInfo) -> Option<&dyn ResourceHooks> {
        match (info.group, info.plural) {
            ("", "services") => Some(&self.services),
            _ => None,
        }
    }
}

/// The Service address and port ranges.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRanges {
    /// Service CIDR base address.
    pub cidr_base: Ipv4Addr,
    /// Service CIDR prefix length.
    pub cidr_prefix: u8,
    /// First NodePort.
    pub node_port_min: u16,
    /// Last NodePort.
    pub node_port_max: u16,
}

impl Default for ServiceRanges {
    fn default() -> Self {
        ServiceRanges { cidr_base: Ipv4Addr::new(10, 43, 0, 0), cidr_prefix: 16, node_port_min: 30000, node_port_max: 32767 }
    }
}

impl ServiceRanges {
    fn size(&self) -> u32 {
        1u32 << (32 - u32::from(self.cidr_prefix))
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let offset = u32::from(ip).wrapping_sub(u32::from(self.cidr_base));
        offset > 0 && offset < self.size() - 1
    }

    /// Upstream reserves the lower band of the range for statically chosen IPs (like the DNS
    /// service's) and allocates dynamically from above it first.
    fn static_band(&self) -> u32 {
        (self.size() / 16).clamp(16, 256)
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.cidr_base, self.cidr_prefix)
    }
}

/// Allocates ClusterIPs and NodePorts for Services.
pub struct ServiceAllocator {
    store: Arc<dyn Backend>,
    ranges: ServiceRanges,
}

const IP_PREFIX: &str = "/registry/corten/serviceips/";
const PORT_PREFIX: &str = "/registry/corten/nodeports/";

impl ServiceAllocator {
    /// An allocator over `store`.
    pub fn new(store: Arc<dyn Backend>, ranges: ServiceRanges) -> Self {
        ServiceAllocator { store, ranges }
    }

    async fn reserve(&self, key: String, owner: &str) -> Result<bool, ApiError> {
        match self.store.create(&key, Bytes::from(owner.to_string())).await {
            Ok(_) => Ok(true),
            Err(StorageError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(ApiError::unavailable(format!("allocating {key}: {e}"))),
        }
    }

    async fn free(&self, key: &str) {
        if let Err(e) = self.store.delete(key, None).await {
            if !matches!(e, StorageError::NotFound { .. }) {
                tracing::warn!(key, %e, "could not release a service allocation");
            }
        }
    }

    async fn allocate_ip(&self, owner: &str, dry_run: bool) -> Result<Ipv4Addr, ApiError> {
        let (band, size) = (self.ranges.static_band(), self.ranges.size());
        for attempt in 0..64 {
            // Dynamic band first; the whole range once the dynamic band looks full.
            let low = if attempt < 48 { band } else { 1 };
            let offset = rand::rng().random_range(low..size - 1);
            let ip = Ipv4Addr::from(u32::from(self.ranges.cidr_base) + offset);
            if dry_run || self.reserve(format!("{IP_PREFIX}{ip}"), owner).await? {
                return Ok(ip);
            }
        }
        Err(ApiError::internal("failed to allocate a service IP: range is full"))
    }

    async fn allocate_port(&self, owner: &str, dry_run: bool) -> Result<u16, ApiError> {
        let (min, max) = (self.ranges.node_port_min, self.ranges.node_port_max);
        for _ in 0..64 {
            let port = rand::rng().random_range(min..=max);
            if dry_run || self.reserve(format!("{PORT_PREFIX}{port}"), owner).await? {
                return Ok(port);
            }
        }
        Err(ApiError::internal("failed to allocate a node port: range is full"))
    }

    /// Fills `spec.clusterIP(s)` and node ports, reserving what the user chose or picking free ones.
    async fn allocate(&self, obj: &mut Value, old: Option<&Value>, dry_run: bool) -> Result<(), ApiError> {
        let owner = format!(
            "{}/{}",
            obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(""),
            obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
        );
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let invalid = |path: FieldPath, value: &dyn std::fmt::Debug, detail: String| {
            ApiError::invalid("", "Service", &name, &vec![FieldError::invalid(path, value, detail)])
        };
        let svc_type = obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        let spec = obj.get_mut("spec").and_then(Value::as_object_mut).ok_or_else(|| ApiError::bad_request("spec is required"))?;

        // ClusterIP: kept from the old object on update (it is immutable).
        let old_ip = old.and_then(|o| o.pointer("/spec/clusterIP")).and_then(Value::as_str).map(str::to_string);
        if svc_type == "ExternalName" {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        } else if let Some(ip) = old_ip.filter(|ip| !ip.is_empty()) {
            let requested = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("");
            if requested.is_empty() {
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
        } else {
            let requested = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("").to_string();
            let ip = if requested == "None" {
                "None".to_string()
            } else if requested.is_empty() {
                self.allocate_ip(&owner, dry_run).await?.to_string()
            } else {
                let path = FieldPath::root("spec").child("clusterIPs").index(0);
                let parsed: Ipv4Addr = requested
                    .parse()
                    .map_err(|_| invalid(path.clone(), &requested, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()))?;
                if !self.ranges.contains(parsed) {
                    return Err(invalid(path, &requested, format!(
                        "failed to allocate IP {requested}: provided IP is not in the valid range. The range of valid IPs is {}",
                        self.ranges.describe()
                    )));
                }
                if !dry_run && !self.reserve(format!("{IP_PREFIX}{parsed}"), &owner).await? {
                    return Err(invalid(path, &requested, format!("failed to allocate IP {requested}: provided IP is already allocated")));
                }
                requested
            };
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
            if ip != "None" || spec.get("ipFamilies").is_none() {
                spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
                spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
            }
        }

        // NodePorts for NodePort and LoadBalancer services.
        let wants_node_ports = matches!(svc_type.as_str(), "NodePort" | "LoadBalancer");
        let old_ports: Vec<(i64, i64)> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| Some((p.get("port")?.as_i64()?, p.get("nodePort")?.as_i64()?)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for (i, port) in ports.iter_mut().enumerate() {
                let Some(p) = port.as_object_mut() else { continue };
                if !wants_node_ports {
                    p.remove("nodePort");
                    continue;
                }
                let number = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let requested = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
                let kept = old_ports.iter().find(|(port, _)| *port == number).map(|(_, np)| *np);
                if requested == 0 {
                    let np = match kept {
                        Some(np) => np,
                        None => i64::from(self.allocate_port(&owner, dry_run).await?),
                    };
                    p.insert("nodePort".into(), json!(np));
                } else if kept != Some(requested) {
                    let path = FieldPath::root("spec").child("ports").index(i).child("nodePort");
                    let (min, max) = (i64::from(self.ranges.node_port_min), i64::from(self.ranges.node_port_max));
                    if !(min..=max).contains(&requested) {
                        return Err(invalid(path, &requested, format!(
                            "provided port is not in the valid range. The range of valid ports is {min}-{max}"
                        )));
                    }
                    if !dry_run && !self.reserve(format!("{PORT_PREFIX}{requested}"), &owner).await? {
                        return Err(invalid(path, &requested, "provided port is already allocated".into()));
                    }
                }
            }
        }
        Ok(())
    }
}

fn held_keys(obj: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(ip) = obj.pointer("/spec/clusterIP").and_then(Value::as_str).filter(|ip| ip.parse::<Ipv4Addr>().is_ok()) {
        keys.push(format!("{IP_PREFIX}{ip}"));
    }
    for p in obj.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
        if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
            keys.push(format!("{PORT_PREFIX}{np}"));
        }
    }
    keys
}

#[async_trait::async_trait]
impl ResourceHooks for ServiceAllocator {
    async fn before_create(&self, obj: &mut Value, dry_run: bool) -> Result<(), ApiError> {
        self.allocate(obj, None, dry_run).await
    }

    async fn before_update(&self, old: &Value, new: &mut Value, dry_run: bool) -> Result<(), ApiError> {
        self.allocate(new, Some(old), dry_run).await?;
        if !dry_run {
            let still_held = held_keys(new);
            for key in held_keys(old).into_iter().filter(|k| !still_held.contains(k)) {
                self.free(&key).await;
            }
        }
        Ok(())
    }

    async fn release(&self, obj: &Value) {
        for key in held_keys(obj) {
            self.free(&key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_exclude_network_and_broadcast() {
        let r = ServiceRanges::default();
        assert!(!r.contains(Ipv4Addr::new(10, 43, 0, 0)));
        assert!(r.contains(Ipv4Addr::new(10, 43, 0, 1)));
        assert!(r.contains(Ipv4Addr::new(10, 43, 255, 254)));
        assert!(!r.contains(Ipv4Addr::new(10, 43, 255, 255)));
        assert!(!r.contains(Ipv4Addr::new(10, 44, 0, 1)));
        assert_eq!(r.static_band(), 256);
    }

    #[test]
    fn held_keys_lists_ip_and_node_ports() {
        let svc = json!({"spec": {"clusterIP": "10.43.3.4", "ports": [{"port": 80, "nodePort": 30080}, {"port": 81}]}});
        assert_eq!(held_keys(&svc), vec!["/registry/corten/serviceips/10.43.3.4", "/registry/corten/nodeports/30080"]);
        assert!(held_keys(&json!({"spec": {"clusterIP": "None"}})).is_empty());
    }
}
