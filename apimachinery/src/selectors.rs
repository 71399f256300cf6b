//! Placeholder being replaced by the selectors work.
#![allow(missing_docs)]
#[derive(Debug)] pub struct LabelSelector(Vec<(String, String)>);
#[derive(Debug)] pub struct FieldSelector(Vec<(String, String)>);
fn p(s: &str) -> Vec<(String, String)> { s.split(',').filter_map(|t| t.split_once('=')).map(|(a, b)| (a.trim_end_matches('=').to_string(), b.trim_start_matches('=').to_string())).collect() }
impl LabelSelector { pub fn parse(s: &str) -> Result<Self, String> { Ok(Self(p(s))) } pub fn matches(&self, l: &serde_json::Map<String, serde_json::Value>) -> bool { self.0.iter().all(|(k, v)| l.get(k).and_then(|x| x.as_str()) == Some(v)) } }
impl FieldSelector { pub fn parse(s: &str) -> Result<Self, String> { Ok(Self(p(s))) } pub fn matches(&self, f: &dyn Fn(&str) -> Option<String>) -> bool { self.0.iter().all(|(k, v)| f(k).as_deref() == Some(v)) } pub fn fields(&self) -> Vec<&str> { self.0.iter().map(|(k, _)| k.as_str()).collect() } pub fn and(mut self, o: Self) -> Self { self.0.extend(o.0); self } }
