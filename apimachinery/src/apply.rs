//! Placeholder being replaced by the server-side apply work.
#![allow(missing_docs)]
use serde_json::Value;
#[derive(Debug)]
pub struct Conflict { pub manager: String, pub api_version: Option<String>, pub field: String }
#[derive(Debug, thiserror::Error)]
pub enum ApplyError { #[error("apply conflicts")] Conflicts(Vec<Conflict>), #[error("{0}")] Invalid(String) }
#[allow(clippy::too_many_arguments)]
pub fn server_side_apply(_group: &str, _kind: &str, _api_version: &str, current: Option<&Value>, patch: &Value, _manager: &str, _force: bool, _now: &str) -> Result<Value, ApplyError> {
    Ok(match current { Some(c) => crate::patch::merge_patch(c, patch).map_err(|e| ApplyError::Invalid(e.to_string()))?, None => patch.clone() })
}
pub fn record_update(_group: &str, _kind: &str, _api_version: &str, _old: Option<&Value>, _new: &mut Value, _manager: &str, _now: &str) {}
