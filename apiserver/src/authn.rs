//! Authentication: who is calling.
//!
//! Today the only authenticator is the x509 client certificate verified by the TLS layer
//! ([`crate::tls`]); its subject is turned into an [`Identity`] exactly as upstream does (CN is
//! the user name, each O is a group, plus `system:authenticated`). Requests without an identity
//! get `401 Unauthorized`, except the paths upstream serves to anonymous callers by default.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use corten_apimachinery::ApiError;
use rustls::pki_types::CertificateDer;

use crate::http::error_response;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name (`admin`, `system:kube-scheduler`, ...).
    pub user: String,
    /// Groups, including `system:authenticated`.
    pub groups: Vec<String>,
}

impl Identity {
    /// Reads the identity from a verified client certificate.
    pub fn from_certificate(cert: &CertificateDer<'_>) -> Option<Identity> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
        let subject = parsed.subject();
        let user = subject.iter_common_name().next()?.as_str().ok()?.to_string();
        let mut groups: Vec<String> =
            subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
        groups.push("system:authenticated".to_string());
        Some(Identity { user, groups })
    }
}

/// Paths upstream serves to unauthenticated callers (the `system:public-info-viewer` role).
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version" | "/version/")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// Middleware: rejects requests without an identity unless the path is public.
pub async fn require_identity(req: Request, next: Next) -> Response {
    if req.extensions().get::<Identity>().is_none() && !is_public(req.uri().path()) {
        return error_response(&ApiError::unauthorized()).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_version_are_public_everything_else_is_not() {
        assert!(is_public("/healthz"));
        assert!(is_public("/readyz/ping"));
        assert!(is_public("/version"));
        assert!(!is_public("/api/v1/pods"));
        assert!(!is_public("/apis"));
        assert!(!is_public("/openapi/v2"));
    }
}
