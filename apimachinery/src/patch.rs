//! Placeholder being replaced by the patch work (JSON patch, merge patch, strategic merge patch).
#![allow(missing_docs)]
use serde_json::Value;
pub use crate::apply::{record_update, server_side_apply, ApplyError, Conflict};
#[derive(Debug, thiserror::Error)]
#[error("patch: {0}")]
pub struct PatchError(pub String);
fn merge(t: &mut Value, p: &Value) { if let (Some(tm), Some(pm)) = (t.as_object_mut(), p.as_object()) { for (k, v) in pm { if v.is_null() { tm.remove(k); } else if v.is_object() && tm.get(k).is_some_and(|x| x.is_object()) { if let Some(t) = tm.get_mut(k) { merge(t, v) } } else { tm.insert(k.clone(), v.clone()); } } } else { *t = p.clone(); } }
pub fn json_patch(_: &Value, _: &Value) -> Result<Value, PatchError> { Err(PatchError("JSON patch is not implemented yet".into())) }
pub fn merge_patch(c: &Value, p: &Value) -> Result<Value, PatchError> { let mut c = c.clone(); merge(&mut c, p); Ok(c) }
pub fn strategic_merge(_: &str, _: &str, c: &Value, p: &Value) -> Result<Value, PatchError> { merge_patch(c, p) }
