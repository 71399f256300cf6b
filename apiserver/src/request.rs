//! Turning a URL and method into "which resource, which verb", like upstream's RequestInfo.
//!
//! Resource URLs have the shapes
//! `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` and
//! `/apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]`,
//! plus the deprecated `/watch/` prefix. `namespaces/{name}/{x}` is a subresource of the namespace
//! unless `{x}` is a namespaced resource of the group version.

use corten_apimachinery::ApiError;
use corten_apis::resources;
use corten_apis::ResourceInfo;
use http::Method;

/// A resource request, resolved against the resource table.
#[derive(Debug, Clone)]
pub struct ResourceRequest {
    /// The resource.
    pub info: &'static ResourceInfo,
    /// Namespace from the path (`None` for cluster-scoped, or all namespaces).
    pub namespace: Option<String>,
    /// Object name, for item requests.
    pub name: Option<String>,
    /// Subresource, for subresource requests.
    pub subresource: Option<String>,
    /// The verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
}

/// Parses the path of a resource request. `Ok(None)` means the path is not a resource path
/// (discovery and friends are routed elsewhere); errors are 404/405 Statuses.
pub fn parse(method: &Method, path: &str, watch_param: bool) -> Result<Option<ResourceRequest>, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Ok(None),
    };
    let (mut watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, rest),
    };
    watch |= watch_param;

    let lookup = |plural: &str| resources::lookup(group, version, plural);
    let (info, namespace, name, subresource) = match rest {
        ["namespaces", ns, plural, tail @ ..] if lookup(plural).is_some_and(|i| i.namespaced) => {
            let info = lookup(plural).ok_or_else(ApiError::path_not_found)?;
            match tail {
                [] => (info, Some(*ns), None, None),
                [name] => (info, Some(*ns), Some(*name), None),
                [name, sub] => (info, Some(*ns), Some(*name), Some(*sub)),
                _ => return Err(ApiError::path_not_found()),
            }
        }
        [plural, tail @ ..] => {
            let info = lookup(plural).ok_or_else(ApiError::path_not_found)?;
            match tail {
                [] => (info, None, None, None),
                [name] if !info.namespaced => (info, None, Some(*name), None),
                [name, sub] if !info.namespaced => (info, None, Some(*name), Some(*sub)),
                _ => return Err(ApiError::path_not_found()),
            }
        }
        [] => return Ok(None),
    };

    if let Some(sub) = subresource {
        if info.subresource(sub).is_none() {
            return Err(ApiError::path_not_found());
        }
    }

    let verb = match (method.as_str(), name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) if watch => "watch",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("POST", true) if subresource.is_some() => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return Err(ApiError::method_not_supported(info.group_resource(), method.as_str())),
    };
    Ok(Some(ResourceRequest {
        info,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
        verb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, path: &str) -> ResourceRequest {
        parse(&method, path, false).expect("parses").expect("is a resource path")
    }

    #[test]
    fn namespaced_item_and_collection() {
        let r = p(Method::GET, "/api/v1/namespaces/default/pods/web");
        assert_eq!((r.info.plural, r.namespace.as_deref(), r.name.as_deref(), r.verb), ("pods", Some("default"), Some("web"), "get"));
        let r = p(Method::GET, "/apis/apps/v1/namespaces/ns/deployments");
        assert_eq!((r.info.kind, r.verb), ("Deployment", "list"));
        let r = p(Method::GET, "/api/v1/pods");
        assert_eq!((r.namespace, r.verb), (None, "list"));
    }

    #[test]
    fn namespace_itself_and_its_subresources() {
        let r = p(Method::GET, "/api/v1/namespaces/kube-system");
        assert_eq!((r.info.plural, r.name.as_deref()), ("namespaces", Some("kube-system")));
        let r = p(Method::PUT, "/api/v1/namespaces/x/status");
        assert_eq!((r.info.plural, r.subresource.as_deref(), r.verb), ("namespaces", Some("status"), "update"));
    }

    #[test]
    fn watch_forms() {
        assert_eq!(p(Method::GET, "/api/v1/watch/namespaces/a/configmaps").verb, "watch");
        assert_eq!(parse(&Method::GET, "/api/v1/configmaps", true).expect("ok").expect("some").verb, "watch");
    }

    #[test]
    fn unknown_resources_and_subresources_are_not_found() {
        assert_eq!(parse(&Method::GET, "/api/v1/nosuch", false).expect_err("404").code(), 404);
        assert_eq!(parse(&Method::GET, "/api/v1/namespaces/a/pods/p/nosuch", false).expect_err("404").code(), 404);
        assert!(parse(&Method::GET, "/apis", false).expect("ok").is_none());
    }
}
