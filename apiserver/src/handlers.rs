//! Request dispatch: from an HTTP request to a registry call and back.
//!
//! The chain for a resource request, outermost first:
//! 1. `authn::require_identity` (middleware): no identity, no access (401), except public paths;
//! 2. authorization: every authenticated user may do everything for now (RBAC comes later);
//! 3. [`request::parse`]: which resource and verb, or 404/405;
//! 4. decode the body ([`crate::http`]) and the query options;
//! 5. the [`Registry`] verb (strategy: defaults, validation; storage);
//! 6. encode the response in the negotiated view (object, Table, metadata).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use corten_apimachinery::selectors::{FieldSelector, LabelSelector};
use corten_apimachinery::{status, ApiError};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::authn::Identity;
use crate::discovery;
use crate::duplicates;
use crate::http::{self as wire, BodyType, Format, Negotiated, View};
use crate::openapi::OpenApi;
use crate::registry::{self, DeleteOptions, FieldValidation, ListOptions, PatchKind, Registry, WriteOptions, Written};
use crate::request::{self, ResourceRequest};
use crate::reviews;
use crate::subresources;
use crate::table::{self, IncludeObject};
use crate::watch::{self, WatchRequest};

/// Shared state of every handler.
pub struct AppState {
    /// The generic registry.
    pub registry: Arc<Registry>,
    /// The OpenAPI documents.
    pub openapi: OpenApi,
    /// `host:port` clients reach the server at, for `/api`.
    pub server_address: String,
    /// Fires on shutdown; ends watches.
    pub shutdown: CancellationToken,
}

type Params = HashMap<String, String>;

/// The single entry point for every request that is not a health check.
pub async fn dispatch(State(state): State<Arc<AppState>>, Query(params): Query<Params>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let started = tokio::time::Instant::now();
    let identity = parts.extensions.get::<Identity>();
    let resp = match route(&state, &parts.method, parts.uri.path(), &parts.headers, &params, identity, body).await {
        Ok(resp) => resp,
        Err(err) => wire::error_response(&err),
    };
    tracing::debug!(method = %parts.method, path = %parts.uri.path(), code = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

async fn route(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: &Params,
    identity: Option<&Identity>,
    body: Body,
) -> Result<Response, ApiError> {
    let watch_param = matches!(params.get("watch").map(String::as_str), Some("true" | "1"));
    if let Some(req) = request::parse(method, path, watch_param)? {
        return resource(state, req, headers, params, identity, body).await;
    }
    if method != Method::GET {
        return Err(ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", None));
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["openapi", "v2"] => {
            // client-go asks for the gnostic protobuf form; other clients for JSON.
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
            if accept.contains("com.github.proto-openapi.spec.v2") {
                let bytes = state.openapi.v2_protobuf();
                if bytes.is_empty() {
                    return Err(ApiError::internal("the OpenAPI v2 document could not be encoded"));
                }
                let mut resp = Response::new(Body::from(bytes));
                // Upstream answers with the dotted spelling; kubectl rejects the `@` form it sends.
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"));
                resp.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept"));
                return Ok(resp);
            }
            if !(accept.is_empty() || accept.contains("json") || accept.contains("*/*")) {
                return Err(ApiError::not_acceptable(accept));
            }
            return Ok(json_bytes(state.openapi.v2()));
        }
        ["openapi", "v3"] => return Ok(json_bytes(state.openapi.v3_index())),
        ["openapi", "v3", rest @ ..] => return state.openapi.v3(&rest.join("/")).map(json_bytes).ok_or_else(ApiError::path_not_found),
        _ => {}
    }
    let negotiated = wire::negotiate(headers)?;
    let doc = match segs.as_slice() {
        ["version"] => version(),
        ["api"] if negotiated.view == View::Discovery => return Ok(aggregated(discovery::aggregated(true))),
        ["apis"] if negotiated.view == View::Discovery => return Ok(aggregated(discovery::aggregated(false))),
        ["api"] => discovery::core_versions(&state.server_address),
        ["apis"] => discovery::group_list(),
        ["api", version] => discovery::resource_list("", version).ok_or_else(ApiError::path_not_found)?,
        ["apis", group] => discovery::group(group).ok_or_else(ApiError::path_not_found)?,
        ["apis", group, version] => discovery::resource_list(group, version).ok_or_else(ApiError::path_not_found)?,
        _ => return Err(ApiError::path_not_found()),
    };
    Ok(wire::respond(StatusCode::OK, &doc, negotiated.format))
}

fn aggregated(doc: Value) -> Response {
    let mut resp = wire::respond(StatusCode::OK, &doc, Format::Json);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE));
    resp
}

fn json_bytes(bytes: bytes::Bytes) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `/version`: the Kubernetes version Corten serves.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": concat!("v1.33.0+corten-", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("linux/{}", std::env::consts::ARCH),
    })
}

/// Liveness and readiness: plain `ok`, like upstream.
pub async fn health() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, wire::MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::too_large(wire::MAX_BODY_BYTES)),
        Err(e) => Err(ApiError::bad_request(format!("reading the request body: {e}"))),
    }
}

fn write_options(params: &Params, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let dry_run = match params.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => return Err(ApiError::bad_request(format!("Invalid dry run value: {other:?}. Allowed values: All"))),
    };
    let field_manager = match params.get("fieldManager") {
        Some(m) if m.len() > 128 => return Err(ApiError::bad_request("fieldManager: Too long: must have at most 128 bytes")),
        Some(m) => m.clone(),
        None => headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.split('/').next().unwrap_or("").chars().take(128).collect())
            .unwrap_or_default(),
    };
    Ok(WriteOptions {
        dry_run,
        field_validation: FieldValidation::parse(params.get("fieldValidation").map(String::as_str))?,
        field_manager,
        duplicate_fields: Vec::new(),
        requester: None,
    })
}

/// [`write_options`] for a request whose body is a whole object: with the keys it repeats,
/// unless field validation ignores them anyway.
fn body_write_options(params: &Params, headers: &HeaderMap, body: &[u8], body_type: BodyType) -> Result<WriteOptions, ApiError> {
    let mut opts = write_options(params, headers)?;
    if opts.field_validation != FieldValidation::Ignore {
        opts.duplicate_fields = duplicates::duplicate_fields(body, body_type);
    }
    Ok(opts)
}

fn list_options(req: &ResourceRequest, params: &Params) -> Result<ListOptions, ApiError> {
    let label_selector = params
        .get("labelSelector")
        .filter(|s| !s.trim().is_empty())
        .map(|s| LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    let mut field_selector = params
        .get("fieldSelector")
        .filter(|s| !s.trim().is_empty())
        .map(|s| FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()?;
    if let Some(sel) = &field_selector {
        registry::check_field_selector(req.info, sel)?;
    }
    // A watch on one named object is a watch with a metadata.name selector.
    if let (Some(name), "watch") = (&req.name, req.verb) {
        let by_name = FieldSelector::parse(&format!("metadata.name={name}")).map_err(|e| ApiError::bad_request(e.to_string()))?;
        field_selector = Some(match field_selector {
            Some(existing) => existing.and(by_name),
            None => by_name,
        });
    }
    let limit = match params.get("limit").filter(|s| !s.is_empty()) {
        Some(l) => l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit: {l:?}")))?,
        None => 0,
    };
    Ok(ListOptions {
        label_selector,
        field_selector,
        limit: usize::try_from(limit).ok().and_then(NonZeroUsize::new),
        continue_token: params.get("continue").cloned(),
        resource_version: params.get("resourceVersion").cloned(),
        resource_version_match: params.get("resourceVersionMatch").cloned(),
    })
}

fn delete_options(params: &Params, headers: &HeaderMap, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v = wire::decode(body, wire::body_type(headers)?)?;
        opts.dry_run = v["dryRun"].as_array().is_some_and(|a| a.iter().any(|x| x == "All"));
        opts.grace_period_seconds = v["gracePeriodSeconds"].as_i64();
        opts.propagation_policy = v["propagationPolicy"].as_str().map(str::to_string);
        opts.orphan_dependents = v["orphanDependents"].as_bool();
        opts.precondition_uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        opts.precondition_resource_version = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
    }
    if params.get("dryRun").is_some_and(|d| d == "All") {
        opts.dry_run = true;
    }
    if let Some(g) = params.get("gracePeriodSeconds") {
        opts.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds: {g:?}")))?);
    }
    if let Some(p) = params.get("propagationPolicy") {
        opts.propagation_policy = Some(p.clone());
    }
    if let Some(p) = &opts.propagation_policy {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::bad_request(format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    }
    Ok(opts)
}

async fn resource(
    state: &AppState,
    req: ResourceRequest,
    headers: &HeaderMap,
    params: &Params,
    identity: Option<&Identity>,
    body: Body,
) -> Result<Response, ApiError> {
    let negotiated = wire::negotiate(headers)?;
    let info = req.info;
    if !info.supports(req.verb) && req.subresource.is_none() {
        return Err(ApiError::method_not_supported(info.group_resource(), req.verb));
    }
    let registry = &state.registry;
    let ns = req.namespace.as_deref();
    if info.namespaced && ns.is_none() && !matches!(req.verb, "list" | "watch") {
        return Err(ApiError::path_not_found());
    }
    let name = req.name.clone().unwrap_or_default();

    if let Some(sub) = req.subresource.as_deref() {
        if !matches!(sub, "status" | "finalize" | "approval") {
            let body = read_body(body).await?;
            return subresources::handle(registry, &req, sub, headers, params, &body, write_options(params, headers)?).await.map(|v| ok(&v, 200, &negotiated));
        }
    }

    if reviews::is_review(info) && req.verb == "create" {
        // Reviews carry no object metadata, so they have no Table or metadata-only view.
        if matches!(negotiated.view, View::Table | View::Metadata) {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
            return Err(ApiError::not_acceptable(accept));
        }
        let body_type = wire::body_type(headers)?;
        let body = read_body(body).await?;
        let obj = wire::decode(&body, body_type)?;
        let opts = body_write_options(params, headers, &body, body_type)?;
        let (review, warnings) = reviews::answer(info, ns, obj, &opts, identity)?;
        let mut resp = wire::respond(StatusCode::CREATED, &review, negotiated.format);
        wire::add_warnings(&mut resp, &warnings);
        return Ok(resp);
    }

    match req.verb {
        "get" => {
            let obj = registry.get(info, ns, &name).await?;
            Ok(render_one(info, &obj, StatusCode::OK, &negotiated, params))
        }
        "list" => {
            let opts = list_options(&req, params)?;
            let list = registry.list(info, ns, &opts).await?;
            Ok(render_list(info, list, &negotiated, params))
        }
        "watch" => {
            let opts = list_options(&req, params)?;
            let timeout = match params.get("timeoutSeconds").filter(|s| !s.is_empty()) {
                Some(t) => Duration::from_secs(t.parse().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}")))?),
                None => Duration::from_secs(1800),
            };
            let watch_req = WatchRequest {
                list: opts,
                timeout,
                bookmarks: params.get("allowWatchBookmarks").is_some_and(|v| v == "true"),
                send_initial_events: params.get("sendInitialEvents").is_some_and(|v| v == "true"),
                view: negotiated.view,
                include: IncludeObject::parse(params.get("includeObject").map(String::as_str)),
                meta_version: negotiated.meta_version,
            };
            watch::watch(registry.clone(), info, req.namespace.clone(), watch_req, state.shutdown.clone()).await
        }
        "create" => {
            let body_type = wire::body_type(headers)?;
            let body = read_body(body).await?;
            let obj = wire::decode(&body, body_type)?;
            let mut opts = body_write_options(params, headers, &body, body_type)?;
            opts.requester = identity.map(|i| (i.user.clone(), i.groups.clone()));
            let written = registry.create(info, ns, obj, &opts).await?;
            Ok(written_response(info, written, &negotiated, params))
        }
        "update" => {
            let body_type = wire::body_type(headers)?;
            let body = read_body(body).await?;
            let obj = wire::decode(&body, body_type)?;
            let opts = body_write_options(params, headers, &body, body_type)?;
            let written = registry.update(info, ns, &name, req.subresource.as_deref(), obj, &opts).await?;
            Ok(written_response(info, written, &negotiated, params))
        }
        "patch" => {
            let body_type = wire::body_type(headers)?;
            let body = read_body(body).await?;
            let opts = write_options(params, headers)?;
            let kind = match body_type {
                BodyType::JsonPatch => PatchKind::Json,
                BodyType::MergePatch => PatchKind::Merge,
                BodyType::StrategicMergePatch => PatchKind::Strategic,
                BodyType::ApplyPatch => {
                    if !params.contains_key("fieldManager") {
                        return Err(ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch", None));
                    }
                    PatchKind::Apply { force: params.get("force").is_some_and(|f| f == "true") }
                }
                BodyType::Json | BodyType::Yaml | BodyType::Protobuf => return Err(ApiError::unsupported_media_type("application/json")),
            };
            let patch = wire::decode(&body, body_type)?;
            let written = registry.patch(info, ns, &name, req.subresource.as_deref(), kind, patch, &opts).await?;
            Ok(written_response(info, written, &negotiated, params))
        }
        "delete" => {
            let body = read_body(body).await?;
            let opts = delete_options(params, headers, &body)?;
            let (obj, gone) = registry.delete(info, ns, &name, &opts).await?;
            if gone {
                let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
                Ok(wire::respond(StatusCode::OK, &status::success(info.group_resource(), &name, uid), negotiated.format))
            } else {
                Ok(render_one(info, &obj, StatusCode::OK, &negotiated, params))
            }
        }
        "deletecollection" => {
            let body = read_body(body).await?;
            let opts = delete_options(params, headers, &body)?;
            let list = list_options(&req, params)?;
            let deleted = registry.delete_collection(info, ns, &list, &opts).await?;
            Ok(render_list(info, deleted, &negotiated, params))
        }
        other => Err(ApiError::method_not_supported(info.group_resource(), other)),
    }
}

fn ok(v: &Value, code: u16, negotiated: &Negotiated) -> Response {
    wire::respond(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), v, negotiated.format)
}

fn written_response(info: &corten_apis::ResourceInfo, written: Written, negotiated: &Negotiated, params: &Params) -> Response {
    let code = if written.created { StatusCode::CREATED } else { StatusCode::OK };
    let object = registry::as_read_back(info, written.object);
    let mut resp = render_one(info, &object, code, negotiated, params);
    wire::add_warnings(&mut resp, &written.warnings);
    resp
}

fn render_one(info: &corten_apis::ResourceInfo, obj: &Value, code: StatusCode, negotiated: &Negotiated, params: &Params) -> Response {
    let body = match negotiated.view {
        View::Table => {
            let meta = json!({ "resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null) });
            table::table(info, std::slice::from_ref(obj), meta, IncludeObject::parse(params.get("includeObject").map(String::as_str)), negotiated.meta_version)
        }
        View::Metadata => table::partial_metadata(obj, negotiated.meta_version),
        View::Object | View::Discovery => obj.clone(),
    };
    wire::respond(code, &body, negotiated.format)
}

fn render_list(info: &corten_apis::ResourceInfo, list: Value, negotiated: &Negotiated, params: &Params) -> Response {
    let body = match negotiated.view {
        View::Table => {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            table::table(info, &items, list["metadata"].clone(), IncludeObject::parse(params.get("includeObject").map(String::as_str)), negotiated.meta_version)
        }
        View::Metadata => table::partial_metadata_list(&list, negotiated.meta_version),
        View::Object | View::Discovery => list,
    };
    wire::respond(StatusCode::OK, &body, negotiated.format)
}
