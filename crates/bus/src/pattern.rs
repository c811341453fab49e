//! Event patterns: parsed once (at `PutRule`, `TestEventPattern`), then
//! matched against event envelopes.
//!
//! A pattern is a JSON object whose shape follows the event's: an object
//! value descends into the field of that name, an array value lists the
//! alternatives a leaf may take. Alternatives are literals (string,
//! number, boolean, `null`) or one-key objects naming an operator:
//! `prefix`, `suffix`, `equals-ignore-case`, `anything-but`, `numeric`,
//! `exists`, `wildcard`, `cidr`. `"$or": [{...}, {...}]` at any level
//! matches when one of its sub-patterns does. Every field of a pattern
//! must match (and), any alternative of a field may (or).
//!
//! An event field that is an array matches when any of its elements
//! does; objects reached through arrays are searched the same way (the
//! fields of one pattern level may match in different elements).
//! `exists` looks at leaves only: a field holding an object does not
//! "exist" for it.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// A parsed event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Node,
}

/// Why a pattern was rejected (the message of
/// `InvalidEventPatternException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {0}")]
pub struct PatternError(String);

/// One level of a pattern: its fields (all must match) and its `$or`
/// groups (each needs one matching alternative).
#[derive(Debug, Clone, PartialEq)]
struct Node {
    fields: Vec<(String, Field)>,
    ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Node),
    Leaf(Vec<Matcher>),
}

/// One alternative for a leaf.
#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Exact(Value),
    Prefix(String),
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(String),
    Numeric(Range),
    Exists(bool),
    Cidr(Cidr),
    AnythingBut(AnythingBut),
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Vec<String>),
}

/// A numeric condition: optional bounds, each inclusive or not.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Cidr {
    network: IpAddr,
    bits: u8,
}

/// The largest pattern `PutRule` accepts, as EventBridge.
pub const MAX_PATTERN_LEN: usize = 4096;

fn invalid(message: impl Into<String>) -> PatternError {
    PatternError(message.into())
}

impl Pattern {
    /// Parses the JSON text of a pattern.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(invalid(format!(
                "the pattern is {} characters long; the limit is {MAX_PATTERN_LEN}",
                text.len()
            )));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("the pattern is not valid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(invalid("the pattern must be a JSON object"));
        };
        let root = parse_node(&object, "")?;
        if root.fields.is_empty() && root.ors.is_empty() {
            return Err(invalid("the pattern is empty"));
        }
        Ok(Pattern { root })
    }

    /// Whether `event` (an event envelope) matches.
    pub fn matches(&self, event: &Value) -> bool {
        node_matches(&self.root, &[event])
    }

    /// The values a top-level field must equal exactly (strings only), if
    /// the pattern constrains it that way: what the rule index keys on.
    pub fn exact_strings(&self, field: &str) -> Option<Vec<&str>> {
        let (_, Field::Leaf(matchers)) = self.root.fields.iter().find(|(name, _)| name == field)?
        else {
            return None;
        };
        matchers
            .iter()
            .map(|m| match m {
                Matcher::Exact(Value::String(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn parse_node(object: &Map<String, Value>, path: &str) -> Result<Node, PatternError> {
    let mut node = Node {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (key, value) in object {
        let here = child_path(path, key);
        if key == "$or" {
            node.ors.push(parse_or(value, &here)?);
            continue;
        }
        let field = match value {
            Value::Object(inner) => {
                let nested = parse_node(inner, &here)?;
                if nested.fields.is_empty() && nested.ors.is_empty() {
                    return Err(invalid(format!("\"{here}\" is an empty object")));
                }
                Field::Nested(nested)
            }
            Value::Array(items) => Field::Leaf(parse_leaf(items, &here)?),
            _ => return Err(invalid(format!("\"{here}\" must be an object or an array"))),
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn parse_or(value: &Value, path: &str) -> Result<Vec<Node>, PatternError> {
    let Value::Array(items) = value else {
        return Err(invalid(format!(
            "\"{path}\" must be an array of at least two objects"
        )));
    };
    if items.len() < 2 {
        return Err(invalid(format!(
            "\"{path}\" must be an array of at least two objects"
        )));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(o) if !o.is_empty() => parse_node(o, path),
            _ => Err(invalid(format!(
                "every alternative of \"{path}\" must be a non-empty object"
            ))),
        })
        .collect()
}

fn parse_leaf(items: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if items.is_empty() {
        return Err(invalid(format!("\"{path}\" is an empty array")));
    }
    items.iter().map(|item| parse_matcher(item, path)).collect()
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, PatternError> {
    let object = match item {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err(invalid(format!(
                "\"{path}\" holds an array inside an array; match values must be strings, numbers, booleans, null or operator objects"
            )))
        }
        literal => return Ok(Matcher::Exact(literal.clone())),
    };
    let mut entries = object.iter();
    let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
        return Err(invalid(format!(
            "an operator object in \"{path}\" must have exactly one key"
        )));
    };
    let operand = |what: &str| invalid(format!("\"{op}\" in \"{path}\" {what}"));
    Ok(match op.as_str() {
        "prefix" => match arg {
            Value::String(s) => Matcher::Prefix(s.clone()),
            Value::Object(_) => Matcher::PrefixIgnoreCase(ignore_case_operand(arg, op, path)?),
            _ => return Err(operand("must be a string")),
        },
        "suffix" => match arg {
            Value::String(s) => Matcher::Suffix(s.clone()),
            Value::Object(_) => Matcher::SuffixIgnoreCase(ignore_case_operand(arg, op, path)?),
            _ => return Err(operand("must be a string")),
        },
        "equals-ignore-case" => match arg {
            Value::String(s) => Matcher::EqualsIgnoreCase(s.to_lowercase()),
            _ => return Err(operand("must be a string")),
        },
        "wildcard" => match arg {
            Value::String(s) => Matcher::Wildcard(wildcard_operand(s, path)?),
            _ => return Err(operand("must be a string")),
        },
        "exists" => match arg {
            Value::Bool(b) => Matcher::Exists(*b),
            _ => return Err(operand("must be true or false")),
        },
        "numeric" => Matcher::Numeric(parse_range(arg, path)?),
        "cidr" => match arg {
            Value::String(s) => Matcher::Cidr(
                parse_cidr(s)
                    .ok_or_else(|| operand(&format!("is not a valid CIDR block: {s:?}")))?,
            ),
            _ => return Err(operand("must be a string")),
        },
        "anything-but" => Matcher::AnythingBut(parse_anything_but(arg, path)?),
        other => {
            return Err(invalid(format!(
                "unrecognized match type \"{other}\" in \"{path}\""
            )))
        }
    })
}

/// `{"equals-ignore-case": "text"}` inside `prefix` or `suffix`.
fn ignore_case_operand(arg: &Value, op: &str, path: &str) -> Result<String, PatternError> {
    match arg.as_object().and_then(|o| {
        (o.len() == 1)
            .then(|| o.get("equals-ignore-case"))
            .flatten()
    }) {
        Some(Value::String(s)) => Ok(s.to_lowercase()),
        _ => Err(invalid(format!(
            "\"{op}\" in \"{path}\" must be a string or {{\"equals-ignore-case\": \"...\"}}"
        ))),
    }
}

fn wildcard_operand(s: &str, path: &str) -> Result<String, PatternError> {
    if s.contains("**") {
        return Err(invalid(format!(
            "\"wildcard\" in \"{path}\" has consecutive wildcard characters"
        )));
    }
    Ok(s.to_string())
}

fn parse_range(arg: &Value, path: &str) -> Result<Range, PatternError> {
    let bad = |why: &str| invalid(format!("\"numeric\" in \"{path}\" {why}"));
    let Value::Array(items) = arg else {
        return Err(bad("must be an array of operators and numbers"));
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(bad(
            "must hold one or two pairs of an operator and a number, e.g. [\">\", 0, \"<=\", 5]",
        ));
    }
    let mut range = Range {
        lower: None,
        upper: None,
    };
    for pair in items.chunks(2) {
        let (Some(op), Some(n)) = (pair[0].as_str(), pair[1].as_f64()) else {
            return Err(bad("must alternate operators (strings) and numbers"));
        };
        let slot = match op {
            "=" if items.len() == 2 => {
                return Ok(Range {
                    lower: Some((n, true)),
                    upper: Some((n, true)),
                });
            }
            "=" => return Err(bad("cannot combine \"=\" with another operator")),
            ">" | ">=" => &mut range.lower,
            "<" | "<=" => &mut range.upper,
            other => return Err(bad(&format!("has an unknown operator \"{other}\""))),
        };
        if slot.is_some() {
            return Err(bad("has two lower or two upper bounds"));
        }
        *slot = Some((n, op.ends_with('=')));
    }
    if let (Some((lo, _)), Some((hi, _))) = (range.lower, range.upper) {
        if lo >= hi {
            return Err(bad("has a lower bound that is not below its upper bound"));
        }
    }
    Ok(range)
}

fn parse_cidr(s: &str) -> Option<Cidr> {
    let (ip, bits) = s.split_once('/')?;
    let network: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(Cidr { network, bits })
}

fn parse_anything_but(arg: &Value, path: &str) -> Result<AnythingBut, PatternError> {
    let bad = |why: &str| invalid(format!("\"anything-but\" in \"{path}\" {why}"));
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
    Ok(match arg {
        v if scalar(v) => AnythingBut::Values(vec![v.clone()]),
        Value::Array(items) if !items.is_empty() && items.iter().all(scalar) => {
            AnythingBut::Values(items.clone())
        }
        Value::Array(_) => {
            return Err(bad("must list strings or numbers (at least one)"));
        }
        Value::Object(o) if o.len() == 1 => {
            let (op, operand) = o.iter().next().expect("one entry");
            let strings = |v: &Value| -> Option<Vec<String>> {
                match v {
                    Value::String(s) => Some(vec![s.clone()]),
                    Value::Array(a) if !a.is_empty() => {
                        a.iter().map(|x| x.as_str().map(str::to_string)).collect()
                    }
                    _ => None,
                }
            };
            match (op.as_str(), operand) {
                ("prefix", Value::String(s)) => AnythingBut::Prefix(s.clone()),
                ("suffix", Value::String(s)) => AnythingBut::Suffix(s.clone()),
                ("equals-ignore-case", v) => AnythingBut::EqualsIgnoreCase(
                    strings(v)
                        .ok_or_else(|| bad("\"equals-ignore-case\" needs a string or strings"))?
                        .into_iter()
                        .map(|s| s.to_lowercase())
                        .collect(),
                ),
                ("wildcard", v) => AnythingBut::Wildcard(
                    strings(v)
                        .ok_or_else(|| bad("\"wildcard\" needs a string or strings"))?
                        .iter()
                        .map(|s| wildcard_operand(s, path))
                        .collect::<Result<_, _>>()?,
                ),
                (op, _) => {
                    return Err(bad(&format!(
                        "supports a value, a list, prefix, suffix, equals-ignore-case or wildcard, not \"{op}\" with that operand"
                    )))
                }
            }
        }
        _ => {
            return Err(bad(
                "must be a string, a number, a list or an operator object",
            ))
        }
    })
}

// ---------------------------------------------------------------------------
// Matching

/// Values of `key` in `objects`, arrays flattened.
fn values_of<'a>(objects: &[&'a Value], key: &str, out: &mut Vec<&'a Value>) {
    fn push<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| push(i, out)),
            other => out.push(other),
        }
    }
    for object in objects {
        if let Some(v) = object.get(key) {
            push(v, out);
        }
    }
}

fn node_matches(node: &Node, objects: &[&Value]) -> bool {
    let mut values = Vec::new();
    for (key, field) in &node.fields {
        values.clear();
        values_of(objects, key, &mut values);
        let ok = match field {
            Field::Nested(inner) => {
                values.retain(|v| v.is_object());
                node_matches(inner, &values)
            }
            Field::Leaf(matchers) => {
                values.retain(|v| !v.is_object());
                matchers.iter().any(|m| m.matches(&values))
            }
        };
        if !ok {
            return false;
        }
    }
    node.ors
        .iter()
        .all(|alternatives| alternatives.iter().any(|alt| node_matches(alt, objects)))
}

impl Matcher {
    /// Whether this alternative matches a field whose leaf values are
    /// `values` (empty: the field is missing).
    fn matches(&self, values: &[&Value]) -> bool {
        match self {
            Matcher::Exists(wanted) => values.is_empty() != *wanted,
            other => values.iter().any(|v| other.matches_value(v)),
        }
    }

    fn matches_value(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Matcher::Exact(want) => literal_eq(want, value),
            Matcher::Prefix(p) => text.is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => {
                text.is_some_and(|s| s.to_lowercase().starts_with(p.as_str()))
            }
            Matcher::Suffix(p) => text.is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::SuffixIgnoreCase(p) => {
                text.is_some_and(|s| s.to_lowercase().ends_with(p.as_str()))
            }
            Matcher::EqualsIgnoreCase(p) => text.is_some_and(|s| s.to_lowercase() == *p),
            Matcher::Wildcard(p) => text.is_some_and(|s| wildcard_matches(p, s)),
            Matcher::Numeric(range) => value.as_f64().is_some_and(|n| range.contains(n)),
            Matcher::Cidr(cidr) => text
                .and_then(|s| s.parse::<IpAddr>().ok())
                .is_some_and(|ip| cidr.contains(ip)),
            Matcher::Exists(_) => unreachable!("handled per field"),
            Matcher::AnythingBut(but) => but.matches_value(value),
        }
    }
}

impl AnythingBut {
    fn matches_value(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            AnythingBut::Values(excluded) => {
                !value.is_null() && !excluded.iter().any(|e| literal_eq(e, value))
            }
            AnythingBut::Prefix(p) => text.is_some_and(|s| !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => text.is_some_and(|s| !s.ends_with(p.as_str())),
            AnythingBut::EqualsIgnoreCase(excluded) => {
                text.is_some_and(|s| !excluded.contains(&s.to_lowercase()))
            }
            AnythingBut::Wildcard(excluded) => {
                text.is_some_and(|s| !excluded.iter().any(|p| wildcard_matches(p, s)))
            }
        }
    }
}

/// Literal equality: numbers compare by value (`5` equals `5.0`), other
/// types exactly; a string never equals a number.
fn literal_eq(want: &Value, value: &Value) -> bool {
    match (want, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        let above = match self.lower {
            None => true,
            Some((lo, inclusive)) => n > lo || (inclusive && n == lo),
        };
        let below = match self.upper {
            None => true,
            Some((hi, inclusive)) => n < hi || (inclusive && n == hi),
        };
        above && below
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
            let full = usize::from(bits / 8);
            let rest = bits % 8;
            if a[..full] != b[..full] {
                return false;
            }
            rest == 0 || {
                let mask = 0xffu8 << (8 - rest);
                a[full] & mask == b[full] & mask
            }
        }
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            _ => false,
        }
    }
}

/// `*` matches any run of characters (including none); everything else
/// literally.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;
