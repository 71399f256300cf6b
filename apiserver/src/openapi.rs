//! Serving the OpenAPI documents: built once, on first request, then served from memory.
//!
//! `/openapi/v3` lists one document per group version with a content hash in its URL, as
//! upstream does, so clients (kubectl caches them) can tell when a document changed.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{json, Map, Value};

/// The cached documents.
#[derive(Default)]
pub struct OpenApi {
    built: OnceLock<Built>,
    v2_protobuf: OnceLock<Bytes>,
}

struct Built {
    v2: Bytes,
    v3_index: Bytes,
    v3: Vec<(String, Bytes)>,
}

impl OpenApi {
    fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            let v2 = Bytes::from(serde_json::to_vec(&corten_apis::openapi::v2_document()).unwrap_or_default());
            let mut paths = Map::new();
            let mut v3 = Vec::new();
            for (path, doc) in corten_apis::openapi::v3_documents() {
                let bytes = serde_json::to_vec(&doc).unwrap_or_default();
                let hash = content_hash(&bytes);
                paths.insert(path.clone(), json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }));
                v3.push((path, Bytes::from(bytes)));
            }
            let v3_index = Bytes::from(serde_json::to_vec(&json!({ "paths": Value::Object(paths) })).unwrap_or_default());
            Built { v2, v3_index, v3 }
        })
    }

    /// `/openapi/v2`.
    pub fn v2(&self) -> Bytes {
        self.built().v2.clone()
    }

    /// `/openapi/v2` as the gnostic protobuf document kubectl asks for (client-side validation of
    /// `kind: List` files and other v2-only paths). Encoded once, on first request.
    pub fn v2_protobuf(&self) -> Bytes {
        self.v2_protobuf
            .get_or_init(|| match corten_apimachinery::openapi_v2::encode_v2_document(&corten_apis::openapi::v2_document()) {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    tracing::error!(error = %e, "encoding the OpenAPI v2 document as protobuf failed");
                    Bytes::new()
                }
            })
            .clone()
    }

    /// `/openapi/v3`.
    pub fn v3_index(&self) -> Bytes {
        self.built().v3_index.clone()
    }

    /// `/openapi/v3/<path>` (e.g. `api/v1`, `apis/apps/v1`).
    pub fn v3(&self, path: &str) -> Option<Bytes> {
        self.built().v3.iter().find(|(p, _)| p == path).map(|(_, b)| b.clone())
    }
}

/// A stable hex digest of a document (FNV-1a, 64 bits: change detection, not security).
fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}
