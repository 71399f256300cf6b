//! The review APIs: questions clients ask the server, answered at once and never stored.
//!
//! authentication.k8s.io (`TokenReview`, `SelfSubjectReview`) and authorization.k8s.io
//! (`SubjectAccessReview`, `LocalSubjectAccessReview`, `SelfSubjectAccessReview`,
//! `SelfSubjectRulesReview`) only serve `create`: the response echoes the request with `status`
//! filled in. `kubectl auth can-i` and `kubectl auth whoami` use them.
//!
//! Corten has no authorizer yet (RBAC arrives with issue 6), so every authenticated user may do
//! everything, and the answers say so honestly. No bearer tokens exist yet either, so every
//! `TokenReview` is unauthenticated.

use corten_apimachinery::{ApiError, FieldError, FieldErrors, FieldPath};
use corten_apis::ResourceInfo;
use serde_json::{json, Value};

use crate::authn::Identity;
use crate::registry::{self, WriteOptions};

/// Why every access review is allowed.
const ALLOWED_REASON: &str = "no authorizer is configured: every authenticated user is allowed (RBAC arrives with issue 6)";

/// Why every token review fails.
const NO_TOKEN_AUTHENTICATION: &str = "token authentication is not configured";

const AUTHENTICATION_GROUP: &str = "authentication.k8s.io";
const AUTHORIZATION_GROUP: &str = "authorization.k8s.io";

/// Whether the resource is a review kind, answered by [`answer`] instead of the registry.
pub fn is_review(info: &ResourceInfo) -> bool {
    matches!(info.group, AUTHENTICATION_GROUP | AUTHORIZATION_GROUP)
}

/// Decodes a review request and returns it with its `status`, plus field-validation warnings.
pub fn answer(
    info: &ResourceInfo,
    namespace: Option<&str>,
    body: Value,
    opts: &WriteOptions,
    identity: Option<&Identity>,
) -> Result<(Value, Vec<String>), ApiError> {
    let (mut review, warnings) = registry::decode_typed_reporting(info, body, opts.field_validation, &opts.duplicate_fields)?;
    let status = match (info.group, info.kind) {
        (AUTHENTICATION_GROUP, "SelfSubjectReview") => self_subject_review(identity),
        (AUTHENTICATION_GROUP, "TokenReview") => token_review(&review)?,
        (AUTHORIZATION_GROUP, "SelfSubjectRulesReview") => rules_review(),
        (AUTHORIZATION_GROUP, kind) => {
            check_access_review(info, kind, &review, namespace)?;
            json!({ "allowed": true, "reason": ALLOWED_REASON })
        }
        _ => return Err(ApiError::internal(format!("{} is not a review kind", info.kind))),
    };
    if let Some(ns) = namespace.filter(|_| info.namespaced) {
        review["metadata"]["namespace"] = json!(ns);
    }
    review["status"] = status;
    Ok((review, warnings))
}

fn self_subject_review(identity: Option<&Identity>) -> Value {
    match identity {
        Some(id) => json!({ "userInfo": { "username": id.user, "groups": id.groups } }),
        None => json!({ "userInfo": {} }),
    }
}

fn token_review(review: &Value) -> Result<Value, ApiError> {
    if review.pointer("/spec/token").and_then(Value::as_str).unwrap_or("").is_empty() {
        return Err(ApiError::bad_request("token is required for TokenReview in authentication"));
    }
    Ok(json!({ "authenticated": false, "user": {}, "error": NO_TOKEN_AUTHENTICATION }))
}

fn rules_review() -> Value {
    json!({
        "resourceRules": [{ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] }],
        "nonResourceRules": [{ "verbs": ["*"], "nonResourceURLs": ["*"] }],
        "incomplete": false,
    })
}

/// Upstream's checks of an access review's spec: exactly one kind of attributes; a subject for
/// the non-self kinds; a local review stays within the namespace of its URL.
fn check_access_review(info: &ResourceInfo, kind: &str, review: &Value, namespace: Option<&str>) -> Result<(), ApiError> {
    let spec = FieldPath::root("spec");
    let present = |field: &str| review.pointer(&format!("/spec/{field}")).is_some_and(|v| !v.is_null());
    let (resource, non_resource) = (present("resourceAttributes"), present("nonResourceAttributes"));
    let mut errs: FieldErrors = Vec::new();
    match (resource, non_resource) {
        (false, false) => errs.push(FieldError::required(
            spec.child("resourceAttributes"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        (true, true) => errs.push(FieldError::forbidden(
            spec.child("nonResourceAttributes"),
            "cannot be specified in combination with resourceAttributes",
        )),
        _ => {}
    }
    if kind == "LocalSubjectAccessReview" && non_resource {
        errs.push(FieldError::forbidden(spec.child("nonResourceAttributes"), "disallowed on this kind of request"));
    }
    if kind != "SelfSubjectAccessReview" {
        let user = review.pointer("/spec/user").and_then(Value::as_str).unwrap_or("");
        let groups = review.pointer("/spec/groups").and_then(Value::as_array).is_some_and(|g| !g.is_empty());
        if user.is_empty() && !groups {
            errs.push(FieldError::invalid(spec.child("user"), user, "at least one of user or group must be specified"));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(info.group, info.kind, "", &errs));
    }
    if kind == "LocalSubjectAccessReview" {
        let ns = namespace.unwrap_or("");
        let asked = review.pointer("/spec/resourceAttributes/namespace").and_then(Value::as_str).unwrap_or("");
        if asked != ns {
            return Err(ApiError::bad_request(format!("spec.resourceAttributes.namespace must match namespace: {ns}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corten_apis::resources::lookup;

    use crate::registry::FieldValidation;

    fn strict() -> WriteOptions {
        WriteOptions { dry_run: false, field_validation: FieldValidation::Strict, field_manager: String::new(), duplicate_fields: Vec::new(), requester: None }
    }

    fn admin() -> Identity {
        Identity { user: "admin".into(), groups: vec!["system:masters".into(), "system:authenticated".into()] }
    }

    #[test]
    fn access_reviews_are_allowed_with_the_reason() {
        let info = lookup(AUTHORIZATION_GROUP, "v1", "selfsubjectaccessreviews").expect("served");
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "default"}}});
        let (review, _) = answer(info, None, body, &strict(), Some(&admin())).expect("answered");
        assert_eq!(review["status"]["allowed"], true);
        assert_eq!(review["status"]["reason"], ALLOWED_REASON);
        assert_eq!(review["spec"]["resourceAttributes"]["resource"], "pods");
    }

    #[test]
    fn access_reviews_need_exactly_one_kind_of_attributes_and_a_subject() {
        let info = lookup(AUTHORIZATION_GROUP, "v1", "subjectaccessreviews").expect("served");
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {}});
        let err = answer(info, None, body, &strict(), None).expect_err("invalid");
        assert_eq!(err.code(), 422);
        assert!(err.message().contains("exactly one of nonResourceAttributes or resourceAttributes"), "{}", err.message());
        assert!(err.message().contains("at least one of user or group"), "{}", err.message());
    }

    #[test]
    fn local_reviews_stay_in_their_namespace() {
        let info = lookup(AUTHORIZATION_GROUP, "v1", "localsubjectaccessreviews").expect("served");
        let body = |ns: &str| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
            "spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": ns}}});
        let err = answer(info, Some("a"), body("b"), &strict(), None).expect_err("mismatch");
        assert_eq!(err.code(), 400);
        let (review, _) = answer(info, Some("a"), body("a"), &strict(), None).expect("same namespace");
        assert_eq!(review["metadata"]["namespace"], "a");
        assert_eq!(review["status"]["allowed"], true);
    }

    #[test]
    fn self_subject_review_reports_the_caller() {
        let info = lookup(AUTHENTICATION_GROUP, "v1", "selfsubjectreviews").expect("served");
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
        let (review, _) = answer(info, None, body, &strict(), Some(&admin())).expect("answered");
        assert_eq!(review["status"]["userInfo"]["username"], "admin");
        assert_eq!(review["status"]["userInfo"]["groups"][0], "system:masters");
    }

    #[test]
    fn token_reviews_fail_without_token_authentication() {
        let info = lookup(AUTHENTICATION_GROUP, "v1", "tokenreviews").expect("served");
        let body = |token: &str| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
        assert_eq!(answer(info, None, body(""), &strict(), None).expect_err("no token").code(), 400);
        let (review, _) = answer(info, None, body("abc"), &strict(), None).expect("answered");
        assert_eq!(review["status"]["authenticated"], false);
        assert_eq!(review["status"]["error"], NO_TOKEN_AUTHENTICATION);
    }

    #[test]
    fn rules_review_allows_everything() {
        let info = lookup(AUTHORIZATION_GROUP, "v1", "selfsubjectrulesreviews").expect("served");
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}});
        let (review, _) = answer(info, None, body, &strict(), None).expect("answered");
        assert_eq!(review["status"]["resourceRules"][0]["verbs"][0], "*");
        assert_eq!(review["status"]["incomplete"], false);
    }
}
