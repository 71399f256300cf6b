//! Label and field selectors: the `labelSelector` / `fieldSelector` query languages of list and
//! watch requests, and the structured `LabelSelector` that controllers carry in their specs.
//!
//! Both follow upstream's grammar and error texts, because clients show the server's message
//! verbatim: a label selector is a comma-separated conjunction of requirements (`a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`) whose keys and values must be
//! valid label keys and values; a field selector is a comma-separated conjunction of `f=v`,
//! `f==v`, `f!=v` terms whose values may escape `\`, `,` and `=` with a backslash.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::{Map, Value};

use crate::field::{FieldError, FieldPath};
use crate::validation::{is_qualified_name, is_valid_label_value};

/// Why a selector string (or structured selector) could not be turned into a selector.
/// The text is upstream's message, suitable for a `400 BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A requirement in selector syntax is malformed (`unable to parse requirement: ...`).
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A requirement is invalid (bad key, bad value, wrong number of values for its operator).
    #[error("{0}")]
    Invalid(String),
    /// The label selector has a token where another one was expected.
    #[error("{0}")]
    Syntax(String),
    /// A field selector term has no operator.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm {
        /// The whole selector text.
        selector: String,
        /// The term without an operator.
        term: String,
    },
    /// A field selector value has a backslash that escapes nothing escapable.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value has a bare `,` or `=` (printed as its code point, like upstream).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedRune(char),
    /// A structured `LabelSelector` uses an operator that does not exist.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
}

/// How a label requirement compares a label against its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value`.
    Equals,
    /// `key==value`.
    DoubleEquals,
    /// `key!=value`: also true when the label is absent.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`: also true when the label is absent.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the label is an integer less than `n`.
    LessThan,
}

impl Operator {
    /// Upstream's name for the operator (its `selection.Operator` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One condition on one label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// A validated requirement: the key must be a qualified name, each value a label value, and
    /// the number of values must suit the operator.
    pub fn new(key: &str, operator: Operator, values: BTreeSet<String>) -> Result<Self, SelectorError> {
        let mut errors: Vec<String> = Vec::new();
        if let Some(e) = label_key_error(key, "key") {
            errors.push(e);
        }
        let values_path = FieldPath::root("values");
        let list = || values.iter().cloned().collect::<Vec<_>>();
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errors.push(
                FieldError::invalid(values_path.clone(), list(), "for 'in', 'notin' operators, values set can't be empty").to_string(),
            ),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => errors.push(
                FieldError::invalid(values_path.clone(), list(), "exact-match compatibility requires one single value").to_string(),
            ),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errors.push(
                FieldError::invalid(values_path.clone(), list(), "values set must be empty for exists and does not exist")
                    .to_string(),
            ),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errors.push(
                        FieldError::invalid(values_path.clone(), list(), "for 'Gt', 'Lt' operators, exactly one value is required")
                            .to_string(),
                    );
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errors.push(
                            FieldError::invalid(values_path.index(i), v, "for 'Gt', 'Lt' operators, the value must be an integer")
                                .to_string(),
                        );
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let problems = is_valid_label_value(v);
            if !problems.is_empty() {
                errors.push(FieldError::invalid(values_path.index(i).key(key), v, problems.join("; ")).to_string());
            }
        }
        match errors.len() {
            0 => Ok(Requirement { key: key.to_string(), operator, values }),
            1 => Err(SelectorError::Invalid(errors.remove(0))),
            _ => Err(SelectorError::Invalid(format!("[{}]", errors.join(", ")))),
        }
    }

    /// The label key this requirement looks at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The comparison.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values compared against (sorted, without duplicates).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(String::as_str)
    }

    /// Whether a label set satisfies this requirement. Non-string label values count as absent.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let label = labels.get(&self.key).and_then(Value::as_str);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => label.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => label.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(actual), Some(bound)) = (
                    label.and_then(|v| v.parse::<i64>().ok()),
                    self.values.iter().next().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan { actual > bound } else { actual < bound }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = || self.values.iter().cloned().collect::<Vec<_>>().join(",");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, joined()),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, joined()),
            Operator::GreaterThan => write!(f, "{}>{}", self.key, joined()),
            Operator::LessThan => write!(f, "{}<{}", self.key, joined()),
            op => write!(f, "{}{}{}", self.key, op.as_str(), joined()),
        }
    }
}

/// The key's validation error, reported at `path` (the parser reports keys with no path, which
/// upstream prints as `<nil>`).
fn label_key_error(key: &str, path: &str) -> Option<String> {
    let problems = is_qualified_name(key);
    (!problems.is_empty()).then(|| FieldError::invalid(FieldPath::root(path), key, problems.join("; ")).to_string())
}

/// A parsed label selector: every requirement must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses selector syntax (`app=web,tier in (a,b),!legacy`).
    pub fn parse(selector: &str) -> Result<LabelSelector, SelectorError> {
        let tokens = lex(selector);
        let mut parser = Parser { tokens: &tokens, pos: 0 };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// Converts the structured form (`matchLabels` + `matchExpressions`) that workload specs carry.
    /// An empty structured selector matches everything.
    pub fn from_label_selector(selector: &metav1::LabelSelector) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(key, Operator::Equals, BTreeSet::from([value.clone()]))?);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::UnknownOperator(other.to_string())),
            };
            let values = expr.values.iter().flatten().cloned().collect();
            requirements.push(Requirement::new(&expr.key, operator, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// Whether a `metadata.labels` map satisfies every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector has no requirements (selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(Requirement::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// A lexical token of label selector syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    /// `!` (does-not-exist).
    Bang,
    Comma,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    /// The keyword `in` (an identifier inside value lists).
    In,
    /// The keyword `notin` (an identifier inside value lists).
    NotIn,
    End,
}

impl Token {
    /// The text the token came from, as quoted in error messages.
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) => s,
            Token::Bang => "!",
            Token::Comma => ",",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::In => "in",
            Token::NotIn => "notin",
            Token::End => "",
        }
    }

    /// The token as read inside a value list, where keywords are plain identifiers.
    fn as_value(&self) -> Token {
        match self {
            Token::In | Token::NotIn => Token::Identifier(self.literal().to_string()),
            other => other.clone(),
        }
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_symbol(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_blank(c) {
            i += 1;
            continue;
        }
        if is_symbol(c) {
            let next = chars.get(i + 1).copied();
            let (token, width) = match (c, next) {
                ('=', Some('=')) => (Token::DoubleEquals, 2),
                ('!', Some('=')) => (Token::NotEquals, 2),
                ('=', _) => (Token::Equals, 1),
                ('!', _) => (Token::Bang, 1),
                ('(', _) => (Token::OpenParen, 1),
                (')', _) => (Token::CloseParen, 1),
                (',', _) => (Token::Comma, 1),
                ('>', _) => (Token::GreaterThan, 1),
                _ => (Token::LessThan, 1),
            };
            tokens.push(token);
            i += width;
            continue;
        }
        let start = i;
        while i < chars.len() && !is_blank(chars[i]) && !is_symbol(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        tokens.push(match word.as_str() {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier(word),
        });
    }
    tokens.push(Token::End);
    tokens
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        self.pos += 1;
        token
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            match self.peek().as_value() {
                Token::Identifier(_) | Token::Bang => {
                    let requirement = self.requirement().map_err(|e| SelectorError::Requirement(e.to_string()))?;
                    requirements.push(requirement);
                    match self.next() {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let after = self.peek().as_value();
                            if !matches!(after, Token::Identifier(_) | Token::Bang) {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{}', expected: identifier after ','",
                                    after.literal()
                                )));
                            }
                        }
                        other => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            )))
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    )))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let mut token = self.next().as_value();
        let negated = token == Token::Bang;
        if negated {
            token = self.next().as_value();
        }
        let Token::Identifier(key) = token else {
            return Err(SelectorError::Invalid(format!("found '{}', expected: identifier", token.literal())));
        };
        if let Some(e) = label_key_error(&key, "<nil>") {
            return Err(SelectorError::Invalid(e));
        }
        if negated {
            return Requirement::new(&key, Operator::DoesNotExist, BTreeSet::new());
        }
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Requirement::new(&key, Operator::Exists, BTreeSet::new());
        }
        let operator = match self.next() {
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            other => {
                return Err(SelectorError::Invalid(format!(
                    "found '{}', expected: '=', '!=', '==', 'in', notin'",
                    other.literal()
                )))
            }
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_list()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, operator, values)
    }

    fn value_list(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let open = self.next();
        if open != Token::OpenParen {
            return Err(SelectorError::Invalid(format!("found '{}' expected: '('", open.literal())));
        }
        match self.peek().as_value() {
            Token::Identifier(_) | Token::Comma => {
                let values = self.identifiers()?;
                let close = self.next();
                if close != Token::CloseParen {
                    return Err(SelectorError::Invalid(format!("found '{}', expected: ')'", close.literal())));
                }
                Ok(values)
            }
            Token::CloseParen => {
                self.next();
                Ok(BTreeSet::from([String::new()]))
            }
            other => Err(SelectorError::Invalid(format!(
                "found '{}', expected: ',', ')' or identifier",
                other.literal()
            ))),
        }
    }

    /// The inside of `( ... )`; empty items (`(,a)`, `(a,)`, `(a,,b)`) stand for the empty value.
    fn identifiers(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        let mut values = BTreeSet::new();
        loop {
            match self.next().as_value() {
                Token::Identifier(v) => {
                    values.insert(v);
                    match self.peek() {
                        Token::Comma => {}
                        Token::CloseParen => return Ok(values),
                        other => {
                            return Err(SelectorError::Invalid(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            )))
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.peek() {
                        Token::CloseParen => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.next();
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(SelectorError::Invalid(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    )))
                }
            }
        }
    }

    fn exact_value(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.next().as_value() {
            Token::Identifier(v) => Ok(BTreeSet::from([v])),
            other => Err(SelectorError::Invalid(format!("found '{}', expected: identifier", other.literal()))),
        }
    }
}

/// Whether a field term requires equality or inequality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` / `field!=value` term (value already unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    operator: FieldOperator,
    value: String,
}

/// A parsed field selector: every term must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses `f=v,f2!=v2` (also `==`); empty terms are ignored. Terms are kept in sorted
    /// order, as upstream prints them.
    pub fn parse(selector: &str) -> Result<FieldSelector, SelectorError> {
        let mut parts = split_unescaped(selector, ',');
        parts.sort_unstable();
        let mut terms = Vec::new();
        for term in parts {
            if term.is_empty() {
                continue;
            }
            let Some((field, operator, raw_value)) = split_field_term(term) else {
                return Err(SelectorError::FieldTerm { selector: selector.to_string(), term: term.to_string() });
            };
            terms.push(FieldTerm { field: field.to_string(), operator, value: unescape_field_value(raw_value)? });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether an object satisfies every term; `field_value` returns a field's value, and a field
    /// it does not know (`None`) compares as the empty string.
    pub fn matches(&self, field_value: &dyn Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let actual = field_value(&t.field).unwrap_or_default();
            (actual == t.value) == (t.operator == FieldOperator::Equals)
        })
    }

    /// The field names the selector uses, in order (so the server can reject unsupported ones).
    pub fn fields(&self) -> Vec<&str> {
        self.terms.iter().map(|t| t.field.as_str()).collect()
    }

    /// The value a field must equal, if some term requires exact equality on it
    /// (lets storage narrow a list to `metadata.name=x` without scanning).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }

    /// The conjunction of two selectors.
    pub fn and(mut self, other: FieldSelector) -> FieldSelector {
        self.terms.extend(other.terms);
        self
    }

    /// True when the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let op = if t.operator == FieldOperator::Equals { "=" } else { "!=" };
                let escaped = t.value.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=");
                format!("{}{op}{escaped}", t.field)
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on `sep` except where it follows an escaping backslash.
fn split_unescaped(input: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&input[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&input[start..]);
    parts
}

/// Splits at the first operator (`!=`, `==`, `=`, preferring the longer at a position); field
/// names have no escaping, as upstream.
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [("!=", FieldOperator::NotEquals), ("==", FieldOperator::Equals), ("=", FieldOperator::Equals)] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

fn unescape_field_value(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => return Err(SelectorError::InvalidEscape(format!("\\{other}"))),
                None => return Err(SelectorError::InvalidEscape("\\".to_string())),
            },
            ',' | '=' => return Err(SelectorError::UnescapedRune(c)),
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn matches(selector: &str, l: Value) -> bool {
        LabelSelector::parse(selector).unwrap().matches(&labels(l))
    }

    #[test]
    fn empty_label_selector_matches_everything() {
        assert!(matches("", json!({})));
        assert!(matches("  ", json!({"a": "b"})));
    }

    #[test]
    fn equality_operators() {
        assert!(matches("a=b", json!({"a": "b"})));
        assert!(!matches("a=b", json!({"a": "c"})));
        assert!(!matches("a=b", json!({})));
        assert!(matches("a==b", json!({"a": "b", "x": "y"})));
        assert!(matches("a!=b", json!({"a": "c"})));
        assert!(matches("a!=b", json!({})));
        assert!(!matches("a!=b", json!({"a": "b"})));
        assert!(matches("a=", json!({"a": ""})));
    }

    #[test]
    fn set_operators() {
        assert!(matches("env in (prod, qa)", json!({"env": "qa"})));
        assert!(!matches("env in (prod,qa)", json!({"env": "dev"})));
        assert!(!matches("env in (prod,qa)", json!({})));
        assert!(matches("env notin (prod)", json!({"env": "dev"})));
        assert!(matches("env notin (prod)", json!({})));
        assert!(!matches("env notin (prod)", json!({"env": "prod"})));
        assert!(matches("env in (in,notin)", json!({"env": "notin"})));
        assert!(matches("env in (,a)", json!({"env": ""})));
        assert!(matches("in=notin, notin in (in)", json!({"in": "notin", "notin": "in"})));
    }

    #[test]
    fn existence_operators_and_conjunction() {
        assert!(matches("a", json!({"a": "x"})));
        assert!(!matches("a", json!({})));
        assert!(matches("!a", json!({"b": "x"})));
        assert!(!matches("! a", json!({"a": "x"})));
        assert!(matches(" a = b , !c , d in (e) ", json!({"a": "b", "d": "e"})));
        assert!(!matches("a=b,!c", json!({"a": "b", "c": "1"})));
    }

    #[test]
    fn numeric_operators() {
        assert!(matches("n>3", json!({"n": "4"})));
        assert!(!matches("n>3", json!({"n": "3"})));
        assert!(matches("n<3", json!({"n": "-1"})));
        assert!(!matches("n<3", json!({"n": "x"})));
        let err = LabelSelector::parse("n>x").unwrap_err().to_string();
        assert!(err.contains("the value must be an integer"), "{err}");
    }

    #[test]
    fn label_selector_errors_match_upstream() {
        assert_eq!(LabelSelector::parse("a in").unwrap_err().to_string(), "unable to parse requirement: found '' expected: '('");
        assert_eq!(
            LabelSelector::parse("a in (b").unwrap_err().to_string(),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(LabelSelector::parse("a=b,").unwrap_err().to_string(), "found '', expected: identifier after ','");
        assert_eq!(LabelSelector::parse(",a").unwrap_err().to_string(), "found ',', expected: !, identifier, or 'end of string'");
        assert_eq!(LabelSelector::parse("a=b c").unwrap_err().to_string(), "found 'c', expected: ',' or 'end of string'");
        assert_eq!(
            LabelSelector::parse("a (b)").unwrap_err().to_string(),
            "unable to parse requirement: found '(', expected: '=', '!=', '==', 'in', notin'"
        );
        let key_err = LabelSelector::parse("-bad=x").unwrap_err().to_string();
        assert!(key_err.starts_with("unable to parse requirement: <nil>: Invalid value: \"-bad\": name part must consist of"), "{key_err}");
        let value_err = LabelSelector::parse("a=b@d").unwrap_err().to_string();
        assert!(value_err.starts_with("unable to parse requirement: values[0][a]: Invalid value: \"b@d\": a valid label"), "{value_err}");
    }

    #[test]
    fn empty_value_list_means_the_empty_value() {
        assert!(matches("a in ()", json!({"a": ""})));
        assert!(!matches("a in ()", json!({"a": "x"})));
    }

    #[test]
    fn structured_selector_reports_invalid_keys_at_key() {
        let structured: metav1::LabelSelector = serde_json::from_value(json!({"matchLabels": {"-x": "y"}})).unwrap();
        let err = LabelSelector::from_label_selector(&structured).unwrap_err().to_string();
        assert!(err.starts_with("key: Invalid value: \"-x\""), "{err}");
    }

    #[test]
    fn structured_selector_converts() {
        let structured: metav1::LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["z1"]},
                {"key": "team", "operator": "Exists"}
            ]
        }))
        .unwrap();
        let selector = LabelSelector::from_label_selector(&structured).unwrap();
        assert!(selector.matches(&labels(json!({"app": "web", "tier": "fe", "team": "x"}))));
        assert!(!selector.matches(&labels(json!({"app": "web", "tier": "fe", "team": "x", "legacy": "1"}))));
        assert!(!selector.matches(&labels(json!({"app": "web", "tier": "fe", "team": "x", "zone": "z1"}))));
        assert!(!selector.matches(&labels(json!({"app": "web", "tier": "fe"}))));
        assert_eq!(selector.to_string(), "app=web,!legacy,team,tier in (be,fe),zone notin (z1)");
        assert!(LabelSelector::from_label_selector(&metav1::LabelSelector::default()).unwrap().is_empty());

        let bad: metav1::LabelSelector =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "Like"}]})).unwrap();
        assert_eq!(LabelSelector::from_label_selector(&bad).unwrap_err().to_string(), "\"Like\" is not a valid label selector operator");
        let empty_in: metav1::LabelSelector =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})).unwrap();
        let err = LabelSelector::from_label_selector(&empty_in).unwrap_err().to_string();
        assert!(err.contains("values set can't be empty"), "{err}");
    }

    fn object_fields(field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some("web-1".into()),
            "status.phase" => Some("Running".into()),
            "spec.nodeName" => Some("a,b=c".into()),
            _ => None,
        }
    }

    #[test]
    fn field_selector_operators() {
        let f = |s: &str| FieldSelector::parse(s).unwrap().matches(&object_fields);
        assert!(f(""));
        assert!(f("metadata.name=web-1"));
        assert!(f("metadata.name==web-1,status.phase!=Pending"));
        assert!(!f("metadata.name=web-2"));
        assert!(!f("status.phase!=Running"));
        assert!(f("spec.nodeName=a\\,b\\=c"));
        assert!(f("spec.unknown="));
        assert!(!f("spec.unknown=x"));
        assert!(f("spec.unknown!=x"));
    }

    #[test]
    fn field_selector_fields_and_conjunction() {
        let s = FieldSelector::parse("status.phase!=b,metadata.name=a").unwrap();
        assert_eq!(s.fields(), vec!["metadata.name", "status.phase"]);
        assert_eq!(s.requires_exact_match("metadata.name"), Some("a"));
        assert_eq!(s.requires_exact_match("status.phase"), None);
        let both = FieldSelector::parse("metadata.name=web-1").unwrap().and(FieldSelector::parse("status.phase=Pending").unwrap());
        assert_eq!(both.fields(), vec!["metadata.name", "status.phase"]);
        assert!(!both.matches(&object_fields));
        assert_eq!(FieldSelector::parse("a=x\\,y").unwrap().to_string(), "a=x\\,y");
    }

    #[test]
    fn field_selector_errors() {
        assert_eq!(FieldSelector::parse("abc").unwrap_err().to_string(), "invalid selector: 'abc'; can't understand 'abc'");
        assert_eq!(
            FieldSelector::parse("a=b\\x").unwrap_err().to_string(),
            "invalid field selector: invalid escape sequence: \\x"
        );
        assert_eq!(FieldSelector::parse("a=b=c").unwrap_err().to_string(), "invalid field selector: unescaped character in value: 61");
    }
}
