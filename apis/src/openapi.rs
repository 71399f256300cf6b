//! scratch stub
#![allow(missing_docs)]
pub fn v2_document() -> serde_json::Value { serde_json::json!({"swagger": "2.0", "info": {"title": "x", "version": "v1"}, "paths": {}, "definitions": {}}) }
pub fn v3_documents() -> Vec<(String, serde_json::Value)> { vec![] }
