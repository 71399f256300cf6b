//! The built-in resources as kube-rs dynamic API handles, from Corten's one resource table.

use corten_apis::ResourceInfo;
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};

/// The kube-rs description of a resource-table row.
pub fn api_resource(info: &ResourceInfo) -> ApiResource {
    ApiResource {
        group: info.group.to_string(),
        version: info.version.to_string(),
        api_version: info.api_version(),
        kind: info.kind.to_string(),
        plural: info.plural.to_string(),
    }
}

/// A dynamic API handle for a resource, namespaced when `namespace` is given and the resource is.
pub fn api(client: &Client, info: &ResourceInfo, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = api_resource(info);
    match namespace {
        Some(ns) if info.namespaced => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

/// Resources whose objects can be listed and watched (the ones controllers can track).
pub fn watchable() -> impl Iterator<Item = &'static ResourceInfo> {
    corten_apis::resources::RESOURCES.iter().filter(|r| r.supports("list") && r.supports("watch"))
}
