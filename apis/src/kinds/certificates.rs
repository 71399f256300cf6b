//! CertificateSigningRequests: the requester's identity is recorded in `spec.username` and
//! `spec.groups` on create, as upstream does (clients cannot claim to be someone else); the rest
//! follows the generic rules for the kind.

use serde_json::{json, Value};

use corten_apimachinery::FieldErrors;

use crate::Strategy;

/// The CSR strategy.
pub struct CertificateSigningRequestStrategy;

fn base() -> &'static dyn Strategy {
    super::default_strategy("certificates.k8s.io", "CertificateSigningRequest")
}

impl Strategy for CertificateSigningRequestStrategy {
    fn default(&self, obj: &mut Value) {
        base().default(obj);
    }

    fn record_requesting_user(&self, obj: &mut Value, user: &str, groups: &[String]) {
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("username".into(), json!(user));
            spec.insert("groups".into(), json!(groups));
            spec.remove("uid");
            spec.remove("extra");
        }
    }

    fn validate(&self, obj: &Value) -> FieldErrors {
        base().validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        base().validate_update(new, old)
    }

    fn tracks_generation(&self) -> bool {
        base().tracks_generation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requester_replaces_what_the_client_claimed() {
        let mut csr = json!({ "spec": { "username": "someone-else", "groups": ["system:masters"], "request": "" } });
        CertificateSigningRequestStrategy.record_requesting_user(&mut csr, "alice", &["devs".to_string(), "system:authenticated".to_string()]);
        assert_eq!(csr["spec"]["username"], "alice");
        assert_eq!(csr["spec"]["groups"], json!(["devs", "system:authenticated"]));
    }
}
