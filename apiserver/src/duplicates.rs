//! Duplicate keys in request bodies, for field validation.
//!
//! Parsing into `serde_json::Value` keeps the last of repeated keys silently, but upstream
//! reports them (`duplicate field "spec.replicas"`) next to unknown fields, as an error under
//! `fieldValidation=Strict` and as a warning under `Warn`. This module walks the raw JSON or YAML
//! once with a serde visitor and records the dotted path of every repeated key.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::http::BodyType;

/// The paths of keys repeated within one object of the body, in document order, each once.
/// Bodies that are not JSON or YAML, or do not parse, have none (decoding reports those).
pub fn duplicate_fields(body: &[u8], body_type: BodyType) -> Vec<String> {
    let mut found = Vec::new();
    let walk = Walk { path: String::new(), found: &mut found };
    let parsed = match body_type {
        BodyType::Json => walk.deserialize(&mut serde_json::Deserializer::from_slice(body)).is_ok(),
        BodyType::Yaml => walk.deserialize(serde_yaml_ng::Deserializer::from_slice(body)).is_ok(),
        _ => false,
    };
    if parsed { found } else { Vec::new() }
}

/// Visits one value at `path`, recording repeated keys of the objects inside it.
struct Walk<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Walk { path, found } = self;
        let mut index = 0usize;
        while seq.next_element_seed(Walk { path: format!("{path}[{index}]"), found: &mut *found })?.is_some() {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Walk { path, found } = self;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            if !seen.insert(key) && !found.contains(&child) {
                found.push(child.clone());
            }
            map.next_value_seed(Walk { path: child, found: &mut *found })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeated_keys_with_their_paths() {
        let body = br#"{"spec":{"unknownField":"foo","replicas":1,"replicas":2,"template":{"spec":{"containers":[{"name":"a","name":"b"}]}}},"kind":"x","kind":"y"}"#;
        assert_eq!(duplicate_fields(body, BodyType::Json), vec!["spec.replicas", "spec.template.spec.containers[0].name", "kind"]);
    }

    #[test]
    fn reports_a_key_repeated_many_times_once() {
        assert_eq!(duplicate_fields(br#"{"a":1,"a":2,"a":3}"#, BodyType::Json), vec!["a"]);
        assert!(duplicate_fields(br#"{"a":{"b":1},"c":{"b":2}}"#, BodyType::Json).is_empty());
    }

    #[test]
    fn finds_repeated_keys_in_yaml() {
        let body = b"spec:\n  replicas: 1\n  replicas: 2\nmetadata:\n  name: a\n";
        assert_eq!(duplicate_fields(body, BodyType::Yaml), vec!["spec.replicas"]);
    }

    #[test]
    fn malformed_bodies_have_none() {
        assert!(duplicate_fields(br#"{"a":1,"a":"#, BodyType::Json).is_empty());
    }
}
