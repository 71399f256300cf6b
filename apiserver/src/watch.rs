//! Watch: a chunked stream of `{"type": ..., "object": ...}` lines, upstream's JSON watch framing.
//!
//! Semantics reproduced from kube-apiserver:
//! * `resourceVersion` unset or `"0"`: first one synthetic `ADDED` per existing object, then changes;
//!   `sendInitialEvents=true` does the same and ends the initial part with a `BOOKMARK` annotated
//!   `k8s.io/initial-events-end: "true"`;
//! * `resourceVersion=N`: every change after N, or one `ERROR` event carrying `410 Expired` when N
//!   has been compacted away;
//! * with selectors, an object that starts matching arrives as `ADDED` and one that stops matching
//!   as `DELETED` (carrying its previous state at the new revision);
//! * `allowWatchBookmarks`: periodic `BOOKMARK`s with the last revision delivered;
//! * `timeoutSeconds`: the stream ends cleanly after that long.
//!
//! Each watch is one task feeding a bounded channel; when the client goes away the channel closes
//! and the task ends.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use corten_apimachinery::ApiError;
use corten_apis::ResourceInfo;
use corten_storage::{Error as StorageError, ReadAt, Revision, WatchEvent};
use futures::StreamExt;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::http::View;
use crate::registry::{self, ListOptions, Registry};
use crate::table::{self, IncludeObject};

/// How often bookmarks are sent when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// Watch parameters.
pub struct WatchRequest {
    /// Selectors (limit/continue are ignored for watches).
    pub list: ListOptions,
    /// Stream length.
    pub timeout: Duration,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
    /// Response shape.
    pub view: View,
    /// `includeObject` for Table views.
    pub include: IncludeObject,
    /// `meta.k8s.io` version for Table/metadata views.
    pub meta_version: &'static str,
}

/// Starts a watch and returns the streaming response.
pub async fn watch(
    registry: Arc<Registry>,
    info: &'static ResourceInfo,
    ns: Option<String>,
    req: WatchRequest,
    shutdown: CancellationToken,
) -> Result<Response, ApiError> {
    let prefix = registry::prefix(info, ns.as_deref());
    let rv = req.list.resource_version.clone().filter(|rv| !rv.is_empty());
    let initial = req.send_initial_events || rv.is_none() || rv.as_deref() == Some("0");
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let enc = Encoder { info, view: req.view, include: req.include, meta_version: req.meta_version };

    // Initial state, read at one revision.
    let mut start = match rv.as_deref() {
        Some(rv) if rv != "0" && !req.send_initial_events => registry::parse_resource_version(rv)?,
        _ => Revision(0),
    };
    let mut initial_events = Vec::new();
    if initial {
        let page = registry
            .store()
            .list(&prefix, None, None, ReadAt::Latest)
            .await
            .map_err(|e| registry::storage_error(e, info, ""))?;
        start = page.revision;
        for kv in &page.items {
            let obj = registry::decode_stored(info, kv)?;
            if selected(info, &obj, &req.list) {
                initial_events.push(enc.line("ADDED", &obj));
            }
        }
        if req.send_initial_events {
            initial_events.push(enc.bookmark(start, true));
        }
    }

    let mut events = match registry.store().watch(&prefix, start).await {
        Ok(s) => Some(s),
        Err(StorageError::Compacted { requested, oldest }) => {
            let status = ApiError::expired(format!("too old resource version: {} ({})", requested.0, oldest.0));
            initial_events.push(line("ERROR", &status.to_json()));
            None
        }
        Err(e) => return Err(registry::storage_error(e, info, "")),
    };

    let task = async move {
        for l in initial_events {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let Some(events) = events.as_mut() else { return };
        let deadline = tokio::time::sleep(req.timeout);
        tokio::pin!(deadline);
        let mut bookmarks = tokio::time::interval(BOOKMARK_INTERVAL);
        bookmarks.tick().await;
        let mut last = start;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.cancelled() => return,
                _ = bookmarks.tick(), if req.bookmarks => {
                    if tx.send(enc.bookmark(last, false)).await.is_err() { return; }
                }
                ev = events.next() => {
                    let Some(ev) = ev else { return };
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(StorageError::Compacted { requested, oldest }) => {
                            let status = ApiError::expired(format!("too old resource version: {} ({})", requested.0, oldest.0));
                            let _ = tx.send(line("ERROR", &status.to_json())).await;
                            return;
                        }
                        Err(e) => {
                            tracing::debug!(%e, "watch stream ended");
                            return;
                        }
                    };
                    last = ev.revision();
                    match to_watch_event(info, &req.list, ev) {
                        Ok(Some((kind, obj))) => {
                            if tx.send(enc.line(kind, &obj)).await.is_err() { return; }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = tx.send(line("ERROR", &e.to_json())).await;
                            return;
                        }
                    }
                }
            }
        }
    };
    tokio::spawn(task);

    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

fn selected(info: &ResourceInfo, obj: &Value, opts: &ListOptions) -> bool {
    registry::matches_selectors(info, obj, opts)
}

/// Maps a storage event to the API event the client sees, applying selector transitions.
fn to_watch_event(info: &ResourceInfo, opts: &ListOptions, ev: WatchEvent) -> Result<Option<(&'static str, Value)>, ApiError> {
    match ev {
        WatchEvent::Put { kv, prev } => {
            let new = registry::decode_stored(info, &kv)?;
            let new_match = selected(info, &new, opts);
            let old = prev.map(|p| registry::decode_stored(info, &p)).transpose()?;
            let old_match = old.as_ref().is_some_and(|o| selected(info, o, opts));
            Ok(match (old.is_some(), old_match, new_match) {
                (_, true, true) => Some(("MODIFIED", new)),
                (_, false, true) => Some(("ADDED", new)),
                (true, true, false) => {
                    let mut gone = old.unwrap_or_default();
                    gone["metadata"]["resourceVersion"] = json!(kv.mod_revision.0.to_string());
                    Some(("DELETED", gone))
                }
                _ => None,
            })
        }
        WatchEvent::Delete { prev, revision } => {
            let mut gone = registry::decode_stored(info, &prev)?;
            if !selected(info, &gone, opts) {
                return Ok(None);
            }
            gone["metadata"]["resourceVersion"] = json!(revision.0.to_string());
            Ok(Some(("DELETED", gone)))
        }
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// Renders events in the view the client asked for.
struct Encoder {
    info: &'static ResourceInfo,
    view: View,
    include: IncludeObject,
    meta_version: &'static str,
}

impl Encoder {
    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        match self.view {
            View::Table => line(kind, &table::table(self.info, std::slice::from_ref(obj), json!({}), self.include, self.meta_version)),
            View::Metadata => line(kind, &table::partial_metadata(obj, self.meta_version)),
            View::Object | View::Discovery => line(kind, obj),
        }
    }

    fn bookmark(&self, rev: Revision, initial_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": rev.0.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let (api_version, kind) = match self.view {
            View::Table | View::Metadata => (format!("meta.k8s.io/{}", self.meta_version), "PartialObjectMetadata".to_string()),
            _ => (self.info.api_version(), self.info.kind.to_string()),
        };
        line("BOOKMARK", &json!({ "kind": kind, "apiVersion": api_version, "metadata": metadata }))
    }
}
