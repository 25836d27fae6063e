//! Matching rules and the matcher that applies them.
//!
//! Consumers write examples with matchers in them ([`like`], [`each_like`], [`regex`],
//! [`iso_datetime`], [`integer`], [`number`], [`each_value`]); [`extract`] splits such a
//! template into the example value and the [`Rules`] keyed by JSON path, which is how a
//! pact file stores them. [`compare`] checks an actual value against an example and its
//! rules the way Pact does: a response may carry fields nobody asked for (Postel), a
//! field the consumer named must be there and fit its rule, a rule on a path also governs
//! what lies below it unless a more specific rule says otherwise.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

/// The key marking a matcher inside a template (the Pact FFI's integration format).
const MARKER: &str = "pact:matcher:type";

/// An ISO-8601 date-time: `2025-03-13T22:45:03`, with optional fraction and offset.
pub const ISO_DATETIME: &str =
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$";
/// A UUID.
pub const UUID: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// One matcher.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// Same JSON type as the example; arrays need at least `min` elements, each like the
    /// example's first.
    Type {
        /// Minimum array length.
        min: Option<u64>,
    },
    /// A string matching the regular expression.
    Regex(String),
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// An object whose every value is like the example's first value, whatever the keys.
    Values,
}

impl Matcher {
    fn to_json(&self) -> Value {
        match self {
            Self::Type { min: None } => json!({"match": "type"}),
            Self::Type { min: Some(min) } => json!({"match": "type", "min": min}),
            Self::Regex(regex) => json!({"match": "regex", "regex": regex}),
            Self::Integer => json!({"match": "integer"}),
            Self::Number => json!({"match": "number"}),
            Self::Values => json!({"match": "values"}),
        }
    }

    fn from_json(raw: &Value) -> anyhow::Result<Self> {
        let kind = raw["match"]
            .as_str()
            .context("a matcher without \"match\"")?;
        Ok(match kind {
            "type" => Self::Type {
                min: raw["min"].as_u64(),
            },
            "regex" => Self::Regex(
                raw["regex"]
                    .as_str()
                    .context("a regex matcher without \"regex\"")?
                    .to_owned(),
            ),
            "integer" => Self::Integer,
            "number" | "decimal" => Self::Number,
            "values" => Self::Values,
            other => bail!("matcher {other:?} is not supported"),
        })
    }
}

/// Matchers by path (`$.id`, `$[*].status`, `$.payload.productQuantities.*`, or a header
/// name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules(BTreeMap<String, Matcher>);

impl Rules {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a rule.
    pub fn insert(&mut self, path: impl Into<String>, matcher: Matcher) {
        self.0.insert(path.into(), matcher);
    }

    /// The rule at exactly `path`.
    pub fn get(&self, path: &str) -> Option<&Matcher> {
        self.0.get(path)
    }

    /// Every path and rule.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Matcher)> {
        self.0.iter()
    }

    /// The same rules with their paths rewritten.
    pub fn map_paths(self, f: impl Fn(&str) -> String) -> Self {
        Self(self.0.into_iter().map(|(k, v)| (f(&k), v)).collect())
    }

    /// `{"$.id": {"combine": "AND", "matchers": [...]}}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(path, matcher)| {
                    (
                        path.clone(),
                        json!({"combine": "AND", "matchers": [matcher.to_json()]}),
                    )
                })
                .collect(),
        )
    }

    /// Reads a matching-rules category (a missing one is empty).
    pub fn from_json(raw: &Value) -> anyhow::Result<Self> {
        let mut rules = Self::default();
        let Some(map) = raw.as_object() else {
            return Ok(rules);
        };
        for (path, rule) in map {
            let matchers = rule["matchers"]
                .as_array()
                .with_context(|| format!("the rule at {path} has no matchers"))?;
            // We write one matcher per path; several are combined by taking the first,
            // which is what every rule our consumers write looks like.
            if let Some(first) = matchers.first() {
                rules.insert(path.clone(), Matcher::from_json(first)?);
            }
        }
        Ok(rules)
    }

    /// The rule governing `path`: the most specific rule whose path is `path` or one of
    /// its ancestors, `*` matching any key or index.
    pub fn governing(&self, path: &[Segment]) -> Option<&Matcher> {
        self.0
            .iter()
            .filter_map(|(rule_path, matcher)| {
                let segments = parse_path(rule_path)?;
                let applies = segments.len() <= path.len()
                    && segments
                        .iter()
                        .zip(path)
                        .all(|(rule, actual)| rule.matches(actual));
                let wildcards = segments.iter().filter(|s| **s == Segment::Any).count();
                // Deeper beats shallower; at equal depth, fewer wildcards is more specific.
                applies.then_some(((segments.len(), usize::MAX - wildcards), matcher))
            })
            .max_by_key(|(weight, _)| *weight)
            .map(|(_, matcher)| matcher)
    }
}

/// A step in a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// The root `$`.
    Root,
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
    /// `*` or `[*]`.
    Any,
}

impl Segment {
    fn matches(&self, actual: &Segment) -> bool {
        match self {
            Self::Any => !matches!(actual, Self::Root),
            other => other == actual,
        }
    }
}

/// `$.a[0].b` → segments; `None` for a path we cannot read.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('$')?;
    let mut segments = vec![Segment::Root];
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&next) = chars.peek() {
                    if next == '.' || next == '[' {
                        break;
                    }
                    key.push(next);
                    chars.next();
                }
                segments.push(if key == "*" {
                    Segment::Any
                } else {
                    Segment::Key(key)
                });
            }
            '[' => {
                let mut inner = String::new();
                for next in chars.by_ref() {
                    if next == ']' {
                        break;
                    }
                    inner.push(next);
                }
                let inner = inner.trim();
                segments.push(if inner == "*" {
                    Segment::Any
                } else if let Ok(index) = inner.parse() {
                    Segment::Index(index)
                } else {
                    Segment::Key(inner.trim_matches('\'').to_owned())
                });
            }
            _ => return None,
        }
    }
    Some(segments)
}

/// Segments → `$.a[0].b` (keys that are not plain identifiers in brackets).
pub fn format_path(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Root => text.push('$'),
            Segment::Key(key)
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                text.push('.');
                text.push_str(key);
            }
            Segment::Key(key) => text.push_str(&format!("['{key}']")),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
            Segment::Any => text.push_str("[*]"),
        }
    }
    text
}

// ---- Templates -------------------------------------------------------------------

/// Like `example` by type: any value of the same JSON type (recursively for objects).
pub fn like(example: Value) -> Value {
    json!({MARKER: "type", "value": example})
}

/// An array of at least `min` elements, each like `example`.
pub fn each_like(example: Value, min: u64) -> Value {
    json!({MARKER: "type", "min": min, "value": [example]})
}

/// A string matching `regex`, e.g. `"^(PREPARING|ON_THE_WAY)$"`.
pub fn regex(regex: &str, example: &str) -> Value {
    json!({MARKER: "regex", "regex": regex, "value": example})
}

/// An ISO-8601 date-time string.
pub fn iso_datetime(example: &str) -> Value {
    regex(ISO_DATETIME, example)
}

/// A UUID string.
pub fn uuid(example: &str) -> Value {
    regex(UUID, example)
}

/// Any integer.
pub fn integer(example: i64) -> Value {
    json!({MARKER: "integer", "value": example})
}

/// Any number.
pub fn number(example: Value) -> Value {
    json!({MARKER: "number", "value": example})
}

/// An object with any keys whose values are each like `example`'s values.
pub fn each_value(example: Value) -> Value {
    json!({MARKER: "values", "value": example})
}

/// Splits a template into its example and its rules.
pub fn extract(template: &Value) -> (Value, Rules) {
    let mut rules = Rules::default();
    let example = walk(template, &mut vec![Segment::Root], &mut rules);
    (example, rules)
}

fn walk(template: &Value, path: &mut Vec<Segment>, rules: &mut Rules) -> Value {
    match template {
        Value::Object(map) if map.contains_key(MARKER) => {
            let kind = map[MARKER].as_str().unwrap_or_default();
            let matcher = match kind {
                "type" => Matcher::Type {
                    min: map.get("min").and_then(Value::as_u64),
                },
                "regex" => Matcher::Regex(map["regex"].as_str().unwrap_or_default().to_owned()),
                "integer" => Matcher::Integer,
                "number" => Matcher::Number,
                _ => Matcher::Values,
            };
            rules.insert(format_path(path), matcher.clone());
            let value = map.get("value").cloned().unwrap_or(Value::Null);
            match (&matcher, &value) {
                // Rules inside an array's element template apply to every element.
                (Matcher::Type { min: Some(_) }, Value::Array(items)) => {
                    path.push(Segment::Any);
                    let items = items.iter().map(|item| walk(item, path, rules)).collect();
                    path.pop();
                    Value::Array(items)
                }
                (Matcher::Values, Value::Object(entries)) => {
                    path.push(Segment::Any);
                    let entries = entries
                        .iter()
                        .map(|(k, v)| (k.clone(), walk(v, path, rules)))
                        .collect();
                    path.pop();
                    Value::Object(entries)
                }
                _ => walk(&value, path, rules),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    path.push(Segment::Key(k.clone()));
                    let value = walk(v, path, rules);
                    path.pop();
                    (k.clone(), value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(Segment::Index(i));
                    let value = walk(item, path, rules);
                    path.pop();
                    value
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

// ---- Comparing -------------------------------------------------------------------

/// A difference between what the contract says and what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where: `$.totalPrice`, `status`, `header content-type`, `metadata routingKey`.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// Compares `actual` with `expected` under `rules`; every mismatch found.
pub fn compare(expected: &Value, actual: &Value, rules: &Rules) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    compare_at(
        expected,
        actual,
        rules,
        &mut vec![Segment::Root],
        &mut mismatches,
    );
    mismatches
}

fn compare_at(
    expected: &Value,
    actual: &Value,
    rules: &Rules,
    path: &mut Vec<Segment>,
    out: &mut Vec<Mismatch>,
) {
    let mut push = |path: &[Segment], message: String| {
        out.push(Mismatch {
            path: format_path(path),
            message,
        });
    };
    let rule = rules.governing(path).cloned();
    match rule {
        Some(Matcher::Regex(pattern)) => {
            let text = match actual {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let matched = match (regex::Regex::new(&pattern), text) {
                (Ok(re), Some(text)) => re.is_match(&text),
                _ => false,
            };
            if !matched {
                push(
                    path,
                    format!(
                        "expected a value matching /{pattern}/, got {}",
                        short(actual)
                    ),
                );
            }
        }
        Some(Matcher::Integer) => {
            if !(actual.is_i64() || actual.is_u64()) {
                push(path, format!("expected an integer, got {}", short(actual)));
            }
        }
        Some(Matcher::Number) => {
            if !actual.is_number() {
                push(path, format!("expected a number, got {}", short(actual)));
            }
        }
        Some(Matcher::Values) => match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                if let Some(template) = e.values().next() {
                    for (key, value) in a {
                        path.push(Segment::Key(key.clone()));
                        compare_at(template, value, rules, path, out);
                        path.pop();
                    }
                }
            }
            _ => push(
                path,
                format!("expected an object, got {}", type_name(actual)),
            ),
        },
        Some(Matcher::Type { min }) => match (expected, actual) {
            (Value::Array(e), Value::Array(a)) => {
                if let Some(min) = min
                    && (a.len() as u64) < min
                {
                    push(
                        path,
                        format!("expected at least {min} element(s), got {}", a.len()),
                    );
                }
                if let Some(template) = e.first() {
                    for (i, item) in a.iter().enumerate() {
                        path.push(Segment::Index(i));
                        compare_at(template, item, rules, path, out);
                        path.pop();
                    }
                }
            }
            (Value::Object(_), Value::Object(_)) => {
                compare_object(expected, actual, rules, path, out)
            }
            (e, a) if std::mem::discriminant(e) == std::mem::discriminant(a) => {}
            (e, a) => push(
                path,
                format!(
                    "expected {} (like {}), got {}",
                    type_name(e),
                    short(e),
                    if a.is_null() {
                        "null".to_owned()
                    } else {
                        format!("{} {}", type_name(a), short(a))
                    }
                ),
            ),
        },
        None => match (expected, actual) {
            (Value::Object(_), Value::Object(_)) => {
                compare_object(expected, actual, rules, path, out)
            }
            (Value::Array(e), Value::Array(a)) => {
                if e.len() != a.len() {
                    push(
                        path,
                        format!("expected {} element(s), got {}", e.len(), a.len()),
                    );
                }
                for (i, (ei, ai)) in e.iter().zip(a).enumerate() {
                    path.push(Segment::Index(i));
                    compare_at(ei, ai, rules, path, out);
                    path.pop();
                }
            }
            (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
            (e, a) if e == a => {}
            (e, a) => push(path, format!("expected {}, got {}", short(e), short(a))),
        },
    }
}

fn compare_object(
    expected: &Value,
    actual: &Value,
    rules: &Rules,
    path: &mut Vec<Segment>,
    out: &mut Vec<Mismatch>,
) {
    let (Value::Object(e), Value::Object(a)) = (expected, actual) else {
        return;
    };
    for (key, value) in e {
        path.push(Segment::Key(key.clone()));
        match a.get(key) {
            Some(actual_value) => compare_at(value, actual_value, rules, path, out),
            None => {
                let present: Vec<&str> = a.keys().map(String::as_str).collect();
                out.push(Mismatch {
                    path: format_path(path),
                    message: format!(
                        "expected field {key:?} ({}), but it is missing; the object has [{}]",
                        type_name(value),
                        present.join(", ")
                    ),
                });
            }
        }
        path.pop();
    }
}

/// Compares a single string (a header or metadata value) under an optional rule.
pub fn compare_text(
    what: &str,
    expected: &str,
    actual: Option<&str>,
    rule: Option<&Matcher>,
) -> Option<Mismatch> {
    let Some(actual) = actual else {
        return Some(Mismatch {
            path: what.to_owned(),
            message: format!("expected {expected:?}, but it is missing"),
        });
    };
    let ok = match rule {
        Some(Matcher::Regex(pattern)) => {
            regex::Regex::new(pattern).is_ok_and(|re| re.is_match(actual))
        }
        Some(Matcher::Type { .. }) => true,
        // Content types compare without their parameters (`; charset=utf-8`).
        _ if what.ends_with("content-type") || what.ends_with("contentType") => {
            media_type(expected) == media_type(actual)
        }
        _ => expected == actual,
    };
    (!ok).then(|| Mismatch {
        path: what.to_owned(),
        message: match rule {
            Some(Matcher::Regex(pattern)) => {
                format!("expected a value matching /{pattern}/, got {actual:?}")
            }
            _ => format!("expected {expected:?}, got {actual:?}"),
        },
    })
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        each_like(
            json!({
                "id": integer(1),
                "status": regex("^(PREPARING|DELIVERED)$", "DELIVERED"),
                "createdDate": iso_datetime("2025-03-13T22:45:03.000004"),
                "address": like(json!("26593 Birmingham, UK")),
            }),
            1,
        )
    }

    #[test]
    fn a_template_becomes_an_example_and_rules_by_path() {
        let (example, rules) = extract(&template());
        assert_eq!(example[0]["id"], 1);
        assert_eq!(rules.get("$"), Some(&Matcher::Type { min: Some(1) }));
        assert_eq!(rules.get("$[*].id"), Some(&Matcher::Integer));
        assert!(matches!(
            rules.get("$[*].createdDate"),
            Some(Matcher::Regex(_))
        ));
    }

    #[test]
    fn extra_fields_pass_and_missing_or_mistyped_ones_are_named() {
        let (example, rules) = extract(&template());
        let good = json!([
            {"id": 7, "status": "PREPARING", "createdDate": "2026-01-02T03:04:05Z", "address": "x", "extra": true},
            {"id": 8, "status": "DELIVERED", "createdDate": "2026-01-02T03:04:05.123+01:00", "address": "y"}
        ]);
        assert_eq!(compare(&example, &good, &rules), vec![]);
        let bad = json!([
            {"id": "7", "status": "LOST", "createdDate": "yesterday", "adress": "x"}
        ]);
        let paths: Vec<String> = compare(&example, &bad, &rules)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(
            paths,
            ["$[0].address", "$[0].createdDate", "$[0].id", "$[0].status"]
        );
        let empty = compare(&example, &json!([]), &rules);
        assert_eq!(empty[0].path, "$");
    }

    #[test]
    fn without_rules_values_must_be_equal_and_types_cascade_from_a_parent() {
        let expected = json!({"a": {"b": 1, "c": "x"}});
        assert_eq!(
            compare(
                &expected,
                &json!({"a": {"b": 1, "c": "x"}}),
                &Rules::default()
            ),
            vec![]
        );
        assert_eq!(
            compare(
                &expected,
                &json!({"a": {"b": 2, "c": "x"}}),
                &Rules::default()
            )
            .len(),
            1
        );
        let (example, rules) = extract(&like(expected));
        assert_eq!(
            compare(&example, &json!({"a": {"b": 2, "c": "y"}}), &rules),
            vec![]
        );
        assert_eq!(
            compare(&example, &json!({"a": {"b": "2", "c": "y"}}), &rules)[0].path,
            "$.a.b"
        );
    }

    #[test]
    fn each_value_matches_maps_with_any_keys() {
        let (example, rules) = extract(&json!({"q": each_value(json!({"4": integer(1)}))}));
        assert_eq!(
            compare(&example, &json!({"q": {"17": 3, "9": 1}}), &rules),
            vec![]
        );
        assert_eq!(
            compare(&example, &json!({"q": {"17": "3"}}), &rules)[0].path,
            "$.q.17"
        );
    }

    #[test]
    fn rules_survive_the_json_round_trip() {
        let (_, rules) = extract(&template());
        assert_eq!(Rules::from_json(&rules.to_json()).unwrap(), rules);
    }
}
