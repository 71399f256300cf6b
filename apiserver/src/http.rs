//! Wire codecs and content negotiation.
//!
//! Handlers work on decoded `serde_json::Value` objects; this module is the only place that knows
//! about bytes on the wire: request bodies in JSON or YAML (the patch media types are JSON or YAML
//! too), responses in JSON or YAML, and the `as=Table` / `as=PartialObjectMetadata` views that
//! kubectl and controllers ask for in `Accept`. Protobuf is not decoded yet: such bodies get a
//! clear `415`, and `Accept` lists that offer JSON as a fallback (as client-go's do) get JSON.

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use corten_apimachinery::ApiError;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

/// Largest request body accepted (upstream's limit for most requests is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The response serialization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
}

/// What shape the client wants the object(s) in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io` Table (`kubectl get`).
    Table,
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` (metadata only).
    Metadata,
    /// Aggregated discovery (`APIGroupDiscoveryList`), only on `/api` and `/apis`.
    Discovery,
}

/// The outcome of reading `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Serialization.
    pub format: Format,
    /// Shape.
    pub view: View,
    /// The `g=...;v=...` the client named for Table/metadata views (v1 or v1beta1).
    pub meta_version: &'static str,
}

impl Negotiated {
    /// Plain JSON objects.
    pub const JSON: Negotiated = Negotiated { format: Format::Json, view: View::Object, meta_version: "v1" };
}

/// Parses `Accept`, choosing the first acceptable media type in the client's order.
pub fn negotiate(headers: &HeaderMap) -> Result<Negotiated, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Negotiated::JSON);
    };
    if accept.trim().is_empty() {
        return Ok(Negotiated::JSON);
    }
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("").to_ascii_lowercase();
        let format = match essence.as_str() {
            "application/json" | "*/*" | "application/*" | "application/json-seq" => Format::Json,
            "application/yaml" => Format::Yaml,
            _ => continue,
        };
        let (mut as_, mut group, mut version) = (None, None, None);
        for p in parts {
            let Some((k, v)) = p.split_once('=') else { continue };
            match k.trim() {
                "as" => as_ = Some(v.trim().to_string()),
                "g" => group = Some(v.trim().to_string()),
                "v" => version = Some(v.trim().to_string()),
                _ => {}
            }
        }
        let meta_version = match version.as_deref() {
            Some("v1beta1") => "v1beta1",
            _ => "v1",
        };
        let view = match (as_.as_deref(), group.as_deref()) {
            (None, _) => View::Object,
            (Some("Table"), Some("meta.k8s.io")) => View::Table,
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => View::Metadata,
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io")) if version.as_deref() == Some("v2") => View::Discovery,
            _ => continue,
        };
        return Ok(Negotiated { format, view, meta_version });
    }
    Err(ApiError::not_acceptable(accept))
}

/// The media type a request body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// JSON (or no content type).
    Json,
    /// YAML.
    Yaml,
    /// RFC 6902 JSON patch.
    JsonPatch,
    /// RFC 7386 merge patch.
    MergePatch,
    /// Strategic merge patch.
    StrategicMergePatch,
    /// Server-side apply (YAML or JSON).
    ApplyPatch,
    /// Kubernetes protobuf (`application/vnd.kubernetes.protobuf`), as client-go's typed clients send.
    Protobuf,
}

/// Classifies `Content-Type`.
pub fn body_type(headers: &HeaderMap) -> Result<BodyType, ApiError> {
    let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Ok(match essence.as_str() {
        "" | "application/json" | "*/*" => BodyType::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyType::Yaml,
        "application/json-patch+json" => BodyType::JsonPatch,
        "application/merge-patch+json" => BodyType::MergePatch,
        "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
        "application/apply-patch+yaml" | "application/apply-patch+json" => BodyType::ApplyPatch,
        "application/vnd.kubernetes.protobuf" => BodyType::Protobuf,
        _ => return Err(ApiError::unsupported_media_type(raw)),
    })
}

/// Decodes a body of the given type into a value: YAML for YAML and apply patches, protobuf
/// bodies through their schema, JSON otherwise.
pub fn decode(body: &[u8], body_type: BodyType) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    match body_type {
        BodyType::Yaml | BodyType::ApplyPatch => serde_yaml_ng::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e}"))),
        BodyType::Protobuf => corten_apimachinery::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("the body of the request was in an unknown format: {e}"))),
        BodyType::Json | BodyType::JsonPatch | BodyType::MergePatch | BodyType::StrategicMergePatch => serde_json::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
    }
}

/// Serializes a value in the negotiated format.
pub fn encode(value: &Value, format: Format) -> (Bytes, &'static str) {
    match format {
        Format::Json => (Bytes::from(serde_json::to_vec(value).unwrap_or_default()), "application/json"),
        Format::Yaml => (Bytes::from(serde_yaml_ng::to_string(value).unwrap_or_default()), "application/yaml"),
    }
}

/// A response with a body in the given format.
pub fn respond(status: StatusCode, value: &Value, format: Format) -> Response {
    let (bytes, content_type) = encode(value, format);
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The JSON `Status` response for an error.
pub fn error_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, &err.to_json(), Format::Json)
}

/// Adds `Warning: 299 - "..."` headers, as upstream does for field-validation warnings.
pub fn add_warnings(resp: &mut Response, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let n = negotiate(&accept("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")).expect("ok");
        assert_eq!(n.view, View::Table);
        assert_eq!(n.format, Format::Json);
    }

    #[test]
    fn protobuf_first_falls_back_to_json() {
        let n = negotiate(&accept("application/vnd.kubernetes.protobuf, application/json")).expect("ok");
        assert_eq!(n, Negotiated::JSON);
        assert!(negotiate(&accept("application/vnd.kubernetes.protobuf")).is_err());
    }

    #[test]
    fn aggregated_discovery_is_recognised() {
        let n = negotiate(&accept("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;q=0.9")).expect("ok");
        assert_eq!(n.view, View::Discovery);
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        let e = decode(b"{not json", BodyType::Json).expect_err("must fail");
        assert_eq!(e.code(), 400);
        let e = decode(b"a: [", BodyType::Yaml).expect_err("must fail");
        assert_eq!(e.code(), 400);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(decode(&big, BodyType::Json).expect_err("too big").code(), 413);
    }
}
