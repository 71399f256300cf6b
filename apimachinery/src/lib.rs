//! Pure Kubernetes API machinery shared by the API server and every component.
//!
//! No I/O lives here: `Status` errors ([`status`]), field paths and field errors ([`field`]),
//! name and label rules ([`validation`]), label and field selectors ([`selectors`]), and the
//! patch algorithms ([`patch`]: JSON patch, merge patch, strategic merge patch, server-side apply).
#![warn(missing_docs)]

pub mod apply;
pub mod events;
pub mod field;
pub mod openapi_v2;
pub mod patch;
pub mod protobuf;
pub mod selectors;
pub mod status;
pub mod time;
pub mod validation;

pub use field::{FieldError, FieldErrorKind, FieldErrors, FieldPath};
pub use status::{ApiError, GroupResource};
