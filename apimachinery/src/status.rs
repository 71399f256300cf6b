//! API errors as `metav1.Status` objects with upstream's reasons, codes and messages.
//!
//! Every failure a client can see is built here, through constructors that take the resource
//! (plural and group) and the object name, so the text matches what kube-apiserver prints and
//! tools that parse `reason`/`details` keep working. Nothing inspects message text afterwards.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status, StatusCause, StatusDetails};

use crate::field::FieldErrors;

/// A group and resource, e.g. `("apps", "deployments")`, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupResource<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
}

impl GroupResource<'_> {
    /// `deployments.apps`, or `pods` for the core group, as upstream prints it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.resource.to_string() } else { format!("{}.{}", self.resource, self.group) }
    }
}

/// An API failure: a `Status` plus the HTTP code it travels with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} ({})", .0.message.as_deref().unwrap_or(""), .0.code.unwrap_or(500))]
pub struct ApiError(pub Box<Status>);

impl ApiError {
    /// A Status with the given code, reason and message, and optional details.
    pub fn new(code: u16, reason: &str, message: impl Into<String>, details: Option<StatusDetails>) -> Self {
        ApiError(Box::new(Status {
            code: Some(code as i32),
            details,
            message: Some(message.into()),
            metadata: ListMeta::default(),
            reason: if reason.is_empty() { None } else { Some(reason.to_string()) },
            status: Some("Failure".to_string()),
        }))
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.0.code.unwrap_or(500) as u16
    }

    /// The machine-readable reason (`NotFound`, `Conflict`, ...).
    pub fn reason(&self) -> &str {
        self.0.reason.as_deref().unwrap_or("")
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        self.0.message.as_deref().unwrap_or("")
    }

    fn details(gr: GroupResource<'_>, name: &str) -> Option<StatusDetails> {
        Some(StatusDetails {
            group: Some(gr.group.to_string()),
            kind: Some(gr.resource.to_string()),
            name: if name.is_empty() { None } else { Some(name.to_string()) },
            ..Default::default()
        })
    }

    /// 404 `pods "x" not found`.
    pub fn not_found(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{} \"{}\" not found", gr.qualified(), name), Self::details(gr, name))
    }

    /// 404 for a path the server does not serve.
    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource", Some(StatusDetails::default()))
    }

    /// 409 `pods "x" already exists`.
    pub fn already_exists(gr: GroupResource<'_>, name: &str) -> Self {
        Self::new(409, "AlreadyExists", format!("{} \"{}\" already exists", gr.qualified(), name), Self::details(gr, name))
    }

    /// 409 Conflict with upstream's optimistic-concurrency message.
    pub fn conflict(gr: GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{}\": {}", gr.qualified(), name, why),
            Self::details(gr, name),
        )
    }

    /// The conflict message for a stale resourceVersion.
    pub const MODIFIED: &'static str =
        "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 `Pod "x" is invalid: <field errors>`, with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &FieldErrors) -> Self {
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                field: Some(e.path.to_string()),
                message: Some(e.message_body()),
                reason: Some(e.cause_type().to_string()),
            })
            .collect();
        let list = if errors.len() == 1 {
            errors[0].to_string()
        } else {
            format!("[{}]", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "))
        };
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {list}"),
            Some(StatusDetails {
                causes: Some(causes),
                group: Some(group.to_string()),
                kind: Some(kind.to_string()),
                name: Some(name.to_string()),
                ..Default::default()
            }),
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message, None)
    }

    /// 410 Expired for a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message, None)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_supported(gr: GroupResource<'_>, verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{verb} is not supported on resources of kind \"{}\"", gr.qualified()),
            Self::details(gr, ""),
        )
    }

    /// 403 Forbidden for `verb` on a resource.
    pub fn forbidden(gr: GroupResource<'_>, name: &str, why: &str) -> Self {
        let what = if name.is_empty() { gr.qualified() } else { format!("{} \"{}\"", gr.qualified(), name) };
        Self::new(403, "Forbidden", format!("{what} is forbidden: {why}"), Self::details(gr, name))
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized", None)
    }

    /// 413 for request bodies over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {limit}"), None)
    }

    /// 415 for a body in a content type the server does not decode.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml; got {content_type:?}"), None)
    }

    /// 406 when no acceptable response format exists.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(406, "NotAcceptable", format!("only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io; got {accept:?}"), None)
    }

    /// 500 InternalError.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(500, "InternalError", format!("Internal error occurred: {message}"), None)
    }

    /// 503 ServiceUnavailable (storage down).
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        Self::new(503, "ServiceUnavailable", format!("{message}"), None)
    }

    /// 504 Timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message, None)
    }

    /// The Status as the JSON object sent on the wire (with `kind` and `apiVersion`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&*self.0).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("kind".into(), "Status".into());
            obj.insert("apiVersion".into(), "v1".into());
        }
        v
    }
}

/// The `Success` Status returned by some deletes.
pub fn success(gr: GroupResource<'_>, name: &str, uid: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": { "name": name, "group": gr.group, "kind": gr.resource, "uid": uid },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldError, FieldPath};

    const DEPLOY: GroupResource<'static> = GroupResource { group: "apps", resource: "deployments" };

    #[test]
    fn not_found_names_the_qualified_resource() {
        let e = ApiError::not_found(DEPLOY, "web");
        assert_eq!(e.code(), 404);
        assert_eq!(e.message(), "deployments.apps \"web\" not found");
        let e = ApiError::not_found(GroupResource { group: "", resource: "pods" }, "p");
        assert_eq!(e.message(), "pods \"p\" not found");
    }

    #[test]
    fn invalid_lists_every_cause() {
        let errs = vec![
            FieldError::required(FieldPath::root("spec").child("containers"), ""),
            FieldError::invalid(FieldPath::root("metadata").child("name"), "A", "bad"),
        ];
        let e = ApiError::invalid("", "Pod", "A", &errs);
        assert_eq!(e.code(), 422);
        assert_eq!(
            e.message(),
            "Pod \"A\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"A\": bad]"
        );
        let v = e.to_json();
        assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueRequired");
        assert_eq!(v["details"]["causes"][1]["field"], "metadata.name");
        assert_eq!(v["kind"], "Status");
    }
}
