//! Field paths and field errors, the way upstream validation reports them.
//!
//! Validation accumulates every problem it finds (it never stops at the first), each naming the
//! field by its path (`spec.containers[0].image`) and a reason that maps onto the `Status` cause
//! types clients see (`FieldValueRequired`, `FieldValueInvalid`, ...).

use std::fmt;

/// A path to a field inside an object, e.g. `spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// A path starting at a top-level field.
    pub fn root(name: &str) -> Self {
        FieldPath(name.to_string())
    }

    /// The path to a named child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{}", self.0, name))
        }
    }

    /// The path to a list element.
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, i))
    }

    /// The path to a map entry.
    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{}]", self.0, k))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a field is wrong. Mirrors upstream's `field.ErrorType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// A required field is missing.
    Required,
    /// The value is malformed; the detail says why.
    Invalid(String),
    /// The value is not one of the allowed values.
    NotSupported(Vec<String>),
    /// The value duplicates another one that must be unique.
    Duplicate,
    /// The field may not be set or changed in this context.
    Forbidden,
    /// The value is too long; the maximum length.
    TooLong(usize),
    /// The list has too many items; the maximum.
    TooMany(usize),
    /// The field is not known to the schema (strict field validation).
    NotFound,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Which field.
    pub path: FieldPath,
    /// The offending value rendered as upstream renders it (strings quoted), if any.
    pub value: Option<String>,
    /// What is wrong.
    pub kind: FieldErrorKind,
    /// Extra human-readable detail.
    pub detail: String,
}

impl FieldError {
    /// `Required value`.
    pub fn required(path: FieldPath, detail: impl Into<String>) -> Self {
        FieldError { path, value: None, kind: FieldErrorKind::Required, detail: detail.into() }
    }

    /// `Invalid value: "x": detail`.
    pub fn invalid(path: FieldPath, value: impl fmt::Debug, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        FieldError { path, value: Some(format!("{value:?}")), kind: FieldErrorKind::Invalid(detail.clone()), detail }
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(path: FieldPath, value: impl fmt::Debug, allowed: &[&str]) -> Self {
        FieldError {
            path,
            value: Some(format!("{value:?}")),
            kind: FieldErrorKind::NotSupported(allowed.iter().map(|s| s.to_string()).collect()),
            detail: String::new(),
        }
    }

    /// `Duplicate value: "x"`.
    pub fn duplicate(path: FieldPath, value: impl fmt::Debug) -> Self {
        FieldError { path, value: Some(format!("{value:?}")), kind: FieldErrorKind::Duplicate, detail: String::new() }
    }

    /// `Forbidden: detail`.
    pub fn forbidden(path: FieldPath, detail: impl Into<String>) -> Self {
        FieldError { path, value: None, kind: FieldErrorKind::Forbidden, detail: detail.into() }
    }

    /// `Too long: may not be more than N bytes`.
    pub fn too_long(path: FieldPath, max: usize) -> Self {
        FieldError { path, value: None, kind: FieldErrorKind::TooLong(max), detail: String::new() }
    }

    /// `Too many: N: must have at most M items`.
    pub fn too_many(path: FieldPath, max: usize) -> Self {
        FieldError { path, value: None, kind: FieldErrorKind::TooMany(max), detail: String::new() }
    }

    /// `field not declared in schema` (strict field validation).
    pub fn unknown(path: FieldPath) -> Self {
        FieldError { path, value: None, kind: FieldErrorKind::NotFound, detail: "field not declared in schema".into() }
    }

    /// The `Status` cause `reason` for this error (upstream's `CauseType`).
    pub fn cause_type(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::NotSupported(_) => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong(_) => "FieldValueTooLong",
            FieldErrorKind::TooMany(_) => "FieldValueTooMany",
            FieldErrorKind::NotFound => "FieldValueNotFound",
        }
    }

    /// The message without the path, as it appears in a cause's `message`.
    pub fn message_body(&self) -> String {
        let value = self.value.as_deref().unwrap_or("");
        match &self.kind {
            FieldErrorKind::Required => with_detail("Required value", &self.detail),
            FieldErrorKind::Invalid(d) => format!("Invalid value: {value}{}", if d.is_empty() { String::new() } else { format!(": {d}") }),
            FieldErrorKind::NotSupported(allowed) => {
                let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
                format!("Unsupported value: {value}: supported values: {list}")
            }
            FieldErrorKind::Duplicate => format!("Duplicate value: {value}"),
            FieldErrorKind::Forbidden => with_detail("Forbidden", &self.detail),
            FieldErrorKind::TooLong(max) => format!("Too long: may not be more than {max} bytes"),
            FieldErrorKind::TooMany(max) => format!("Too many: must have at most {max} items"),
            FieldErrorKind::NotFound => format!("Not found: {}", self.detail),
        }
    }
}

fn with_detail(head: &str, detail: &str) -> String {
    if detail.is_empty() { head.to_string() } else { format!("{head}: {detail}") }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message_body())
    }
}

/// Every problem validation found, in the order found.
pub type FieldErrors = Vec<FieldError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_upstream() {
        let p = FieldPath::root("spec").child("containers").index(0).child("image");
        assert_eq!(p.as_str(), "spec.containers[0].image");
        assert_eq!(FieldPath::root("metadata").child("labels").key("a/b").as_str(), "metadata.labels[a/b]");
    }

    #[test]
    fn messages_render_like_upstream() {
        let e = FieldError::invalid(FieldPath::root("metadata").child("name"), "Bad", "a lowercase RFC 1123 subdomain");
        assert_eq!(e.to_string(), "metadata.name: Invalid value: \"Bad\": a lowercase RFC 1123 subdomain");
        let e = FieldError::not_supported(FieldPath::root("spec").child("restartPolicy"), "Sometimes", &["Always", "Never"]);
        assert_eq!(e.to_string(), "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\"");
        assert_eq!(FieldError::required(FieldPath::root("spec").child("containers"), "").to_string(), "spec.containers: Required value");
    }
}
