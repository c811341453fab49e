//! What a target receives: the event envelope, or what `Input`,
//! `InputPath` or `InputTransformer` make of it.
//!
//! Paths are the JSONPath subset EventBridge documents for targets:
//! `$`, `$.a.b`, `$.detail.list[0]`, `$['key with.dots']`.
//! `InputTransformer` templates substitute `<name>` placeholders: inside a
//! JSON string a string value goes in without its quotes (escaped), a
//! missing one as nothing; outside, every value goes in as JSON, a missing
//! one as `null`. Predefined names: `aws.events.rule-arn`,
//! `aws.events.rule-name`, `aws.events.event.ingestion-time`,
//! `aws.events.event` and `aws.events.event.json` (the whole event).

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed target path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// Parses `$`, `$.a.b`, `$.a[0]`, `$['a']`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("{text:?} is not a valid JSON path: {why}");
        let mut rest = text
            .strip_prefix('$')
            .ok_or_else(|| bad("it must start with $"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(bad("empty field name"));
                }
                steps.push(Step::Key(after[..end].to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix("['") {
                let end = after.find("']").ok_or_else(|| bad("unclosed ['"))?;
                steps.push(Step::Key(after[..end].to_string()));
                rest = &after[end + 2..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| bad("unclosed ["))?;
                let index = after[..end]
                    .parse()
                    .map_err(|_| bad("an index must be a non-negative integer"))?;
                steps.push(Step::Index(index));
                rest = &after[end + 1..];
            } else {
                return Err(bad("expected . or ["));
            }
        }
        Ok(JsonPath(steps))
    }

    /// The value at this path, if there is one.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(value, |v, step| match step {
            Step::Key(k) => v.get(k),
            Step::Index(i) => v.get(i),
        })
    }
}

/// Placeholder names EventBridge defines itself.
const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";

/// A parsed `InputTransformer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformer {
    paths: BTreeMap<String, JsonPath>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Placeholder { name: String, quoted: bool },
}

/// What a placeholder may refer to besides `InputPathsMap`.
pub struct Context<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    pub ingestion_time: &'a str,
}

/// The most entries `InputPathsMap` may have.
pub const MAX_INPUT_PATHS: usize = 100;

impl Transformer {
    /// Validates and parses `InputPathsMap` and `InputTemplate`.
    pub fn parse(paths: &BTreeMap<String, String>, template: &str) -> Result<Transformer, String> {
        if paths.len() > MAX_INPUT_PATHS {
            return Err(format!(
                "InputPathsMap has {} entries; the limit is {MAX_INPUT_PATHS}",
                paths.len()
            ));
        }
        let mut parsed = BTreeMap::new();
        for (name, path) in paths {
            if name.starts_with("aws.") {
                return Err(format!(
                    "InputPathsMap key {name:?} is reserved: keys may not start with \"aws.\""
                ));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "InputPathsMap key {name:?} is not valid: use letters, digits, _ and -"
                ));
            }
            parsed.insert(name.clone(), JsonPath::parse(path)?);
        }
        let known = |name: &str| {
            parsed.contains_key(name)
                || [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON].contains(&name)
        };
        Ok(Transformer {
            segments: segments(template, known),
            paths: parsed,
        })
    }

    /// The template with every placeholder substituted.
    pub fn render(&self, event: &Value, context: &Context) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Placeholder { name, quoted } => {
                    let value = match name.as_str() {
                        RULE_ARN => Some(Value::from(context.rule_arn)),
                        RULE_NAME => Some(Value::from(context.rule_name)),
                        INGESTION_TIME => Some(Value::from(context.ingestion_time)),
                        EVENT | EVENT_JSON => Some(event.clone()),
                        _ => self.paths[name].get(event).cloned(),
                    };
                    insert(&mut out, value.as_ref(), *quoted);
                }
            }
        }
        out
    }
}

/// Splits a template into text and the placeholders `known` accepts,
/// noting whether each stands inside a JSON string.
fn segments(template: &str, known: impl Fn(&str) -> bool) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest[1..].find('>') {
                let name = &rest[1..1 + end];
                if known(name) {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                    segments.push(Segment::Placeholder {
                        name: name.to_string(),
                        quoted: in_string,
                    });
                    rest = &rest[end + 2..];
                    continue;
                }
            }
        }
        if !in_string {
            in_string = c == '"';
        } else if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = false;
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    segments.push(Segment::Text(text));
    segments.retain(|s| !matches!(s, Segment::Text(t) if t.is_empty()));
    segments
}

fn insert(out: &mut String, value: Option<&Value>, quoted: bool) {
    match (value, quoted) {
        (None, true) => {}
        (None, false) => out.push_str("null"),
        (Some(Value::String(s)), true) => out.push_str(json_string_body(s).as_str()),
        (Some(v), true) => out.push_str(json_string_body(&v.to_string()).as_str()),
        (Some(v), false) => out.push_str(&v.to_string()),
    }
}

/// `s` escaped as inside a JSON string, without the quotes.
fn json_string_body(s: &str) -> String {
    let quoted = Value::from(s).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({"source": "shop", "detail": {"id": 7, "name": "a \"b\"", "list": ["x", "y"], "o": {"k": 1}}})
    }

    fn context() -> Context<'static> {
        Context {
            rule_arn: "arn:aws:events:us-east-1:000000000000:rule/r",
            rule_name: "r",
            ingestion_time: "2026-01-01T00:00:00Z",
        }
    }

    fn render(paths: &[(&str, &str)], template: &str) -> String {
        let paths = paths
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Transformer::parse(&paths, template)
            .expect("valid transformer")
            .render(&event(), &context())
    }

    #[test]
    fn paths() {
        let e = event();
        let get = |p: &str| JsonPath::parse(p).unwrap().get(&e).cloned();
        assert_eq!(get("$"), Some(e.clone()));
        assert_eq!(get("$.detail.id"), Some(json!(7)));
        assert_eq!(get("$.detail.list[1]"), Some(json!("y")));
        assert_eq!(get("$['detail']['o'].k"), Some(json!(1)));
        assert_eq!(get("$.detail.missing"), None);
        assert_eq!(get("$.detail.list[5]"), None);
        for bad in ["", "detail", "$.", "$..a", "$[x]", "$[0", "$['a'", "$a"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn values_outside_quotes_are_json() {
        assert_eq!(
            render(
                &[("id", "$.detail.id"), ("s", "$.source")],
                r#"{"id": <id>, "s": <s>}"#
            ),
            r#"{"id": 7, "s": "shop"}"#
        );
        assert_eq!(render(&[("o", "$.detail.o")], "<o>"), r#"{"k":1}"#);
        assert_eq!(
            render(&[("m", "$.nope")], r#"{"m": <m>}"#),
            r#"{"m": null}"#
        );
    }

    #[test]
    fn strings_inside_quotes_lose_their_quotes_and_are_escaped() {
        assert_eq!(
            render(
                &[("s", "$.source"), ("n", "$.detail.name")],
                r#""<s> sold <n>""#
            ),
            r#""shop sold a \"b\"""#
        );
        assert_eq!(
            render(
                &[("id", "$.detail.id"), ("m", "$.none")],
                r#"{"msg": "id <id>, m=<m>"}"#
            ),
            r#"{"msg": "id 7, m="}"#
        );
        // Escaped quotes do not end the string.
        assert_eq!(
            render(&[("s", "$.source")], r#"{"a": "\"<s>\""}"#),
            r#"{"a": "\"shop\""}"#
        );
    }

    #[test]
    fn predefined_placeholders() {
        let out = render(
            &[],
            r#"{"arn": <aws.events.rule-arn>, "n": "<aws.events.rule-name>", "t": <aws.events.event.ingestion-time>, "e": <aws.events.event>}"#,
        );
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["arn"], context().rule_arn);
        assert_eq!(v["n"], "r");
        assert_eq!(v["t"], "2026-01-01T00:00:00Z");
        assert_eq!(v["e"], event());
        let out = render(&[], "<aws.events.event.json>");
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), event());
    }

    #[test]
    fn unknown_angle_brackets_stay_text() {
        assert_eq!(render(&[], "<b>bold</b> <x"), "<b>bold</b> <x");
    }

    #[test]
    fn invalid_transformers_are_rejected() {
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(Transformer::parse(&map("aws.x", "$.a"), "<aws.x>")
            .unwrap_err()
            .contains("reserved"));
        assert!(Transformer::parse(&map("a b", "$.a"), "x")
            .unwrap_err()
            .contains("not valid"));
        assert!(Transformer::parse(&map("a", "detail"), "x")
            .unwrap_err()
            .contains("JSON path"));
        let many = (0..=MAX_INPUT_PATHS)
            .map(|i| (format!("k{i}"), "$".to_string()))
            .collect();
        assert!(Transformer::parse(&many, "x")
            .unwrap_err()
            .contains("limit"));
    }
}
