//! EventBridge event patterns (`updraft_bus::pattern::Pattern`): parsed,
//! then matched against event envelopes; and `TestEventPattern`
//! (`updraft_bus::test_event_pattern`), which parses both.
//!
//! Corpus files are `<name>.pattern.json` (AWS's documented patterns) and
//! `<name>.event.json`; a `valid-*` pattern parses and matches the event of
//! the same name.
//!
//! Properties: parsing and matching never panic or hang, deep nesting and
//! huge numbers included; a refusal has a message; a pattern made of an
//! event's own values matches it, and each operator agrees with the value
//! it was made from (`prefix` of the value matches, `anything-but` the
//! value does not, `numeric =` matches, `>` does not); a pattern written
//! out again parses to the same pattern.

use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use updraft_bus::pattern::{Pattern, MAX_PATTERN_LEN};
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, hostile_string, json as any_json,
    json_number, mutated, watched, Expect,
};

const TARGET: &str = "event_pattern";

static EVENTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    corpus(TARGET)
        .into_iter()
        .filter(|s| s.name.ends_with(".event.json"))
        .map(|s| serde_json::from_slice(&s.bytes).unwrap_or_else(|e| panic!("{}: {e}", s.name)))
        .collect()
});

/// Parses `text`; when it parses, matches it against `events` and checks
/// that it parses the same once written out again.
fn check(text: &[u8], events: &[Value]) -> Option<Pattern> {
    let text = String::from_utf8_lossy(text);
    watched(TARGET, text.as_bytes(), || {
        let pattern = match Pattern::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                assert_message(TARGET, text.as_bytes(), &e.to_string());
                return None;
            }
        };
        for event in events {
            pattern.matches(event);
            let _ = updraft_bus::test_event_pattern(&text, &event.to_string())
                .map_err(|e| assert_message(TARGET, text.as_bytes(), &e.to_string()));
        }
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            let again = value.to_string();
            if again.len() <= MAX_PATTERN_LEN {
                let reparsed = Pattern::parse(&again)
                    .unwrap_or_else(|e| panic!("{text} written out as {again}: {e}"));
                // serde_json (without `float_roundtrip`) may read a
                // float's shortest text one unit in the last place off, so
                // equality is expected only where the text reads back the
                // same.
                if serde_json::from_str::<Value>(&again).ok().as_ref() == Some(&value) {
                    assert_eq!(reparsed, pattern, "{text} written out as {again}");
                }
            }
        }
        Some(pattern)
    })
}

#[test]
fn corpus_replays() {
    let events = &*EVENTS;
    for seed in corpus(TARGET) {
        let Some(stem) = seed.name.strip_suffix(".pattern.json") else {
            continue;
        };
        let parsed = check(&seed.bytes, events);
        match seed.expect() {
            Expect::Valid => {
                let pattern = parsed.unwrap_or_else(|| panic!("{}: refused", seed.name));
                let event = corpus(TARGET)
                    .into_iter()
                    .find(|s| s.name == format!("{stem}.event.json"))
                    .unwrap_or_else(|| panic!("{}: no {stem}.event.json", seed.name));
                let event: Value = serde_json::from_slice(&event.bytes).unwrap_or_default();
                assert!(
                    pattern.matches(&event),
                    "{}: does not match its event",
                    seed.name
                );
                assert_eq!(
                    updraft_bus::test_event_pattern(&seed.text(), &event.to_string()),
                    Ok(true),
                    "{}",
                    seed.name
                );
            }
            Expect::Invalid => assert!(parsed.is_none(), "{}: accepted", seed.name),
            Expect::Any => {}
        }
    }
}

/// An event envelope with a `detail` of hostile values.
fn event() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec((hostile_string(), any_json()), 0..6),
        hostile_string(),
    )
        .prop_map(|(detail, source)| {
            json!({
                "version": "0", "id": "1", "detail-type": "t", "source": source,
                "account": "123456789012", "time": "2026-12-03T00:00:00Z",
                "region": "us-east-1", "resources": [],
                "detail": Value::Object(detail.into_iter().collect::<Map<_, _>>()),
            })
        })
}

/// The leaves of `value` with their paths (arrays are looked into: a
/// pattern field matches any element).
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, path, out)),
        leaf => {
            if !path.is_empty() {
                out.push((path.clone(), leaf.clone()));
            }
        }
    }
}

/// `{"a": {"b": [matcher]}}` for the path `a.b`.
fn pattern_at(path: &[String], matcher: Value) -> Value {
    path.iter()
        .rev()
        .fold(json!([matcher]), |inner, key| json!({ key.clone(): inner }))
}

/// Every leaf value at `path` in `event`, arrays (nested too) looked
/// into, as matching sees them: an operator's negation may match another.
fn values_at<'a>(event: &'a Value, path: &[String]) -> Vec<&'a Value> {
    fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
            other => out.push(other),
        }
    }
    let mut current = vec![event];
    for key in path {
        let mut next = Vec::new();
        for v in current {
            if let Some(child) = v.get(key.as_str()) {
                flatten(child, &mut next);
            }
        }
        current = next;
    }
    current.retain(|v| !v.is_object());
    current
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_are_refused_cleanly(text in bytes(256)) {
        check(&text, &EVENTS);
    }

    #[test]
    fn mutated_patterns_parse_and_match_or_are_refused(
        text in mutated(corpus_bytes(TARGET, ".pattern.json")),
    ) {
        check(&text, &EVENTS);
    }

    #[test]
    fn hostile_json_patterns_parse_and_match_or_are_refused(
        pattern in any_json(),
        event in event(),
    ) {
        check(pattern.to_string().as_bytes(), &[event]);
    }

    #[test]
    fn deep_or_long_patterns_are_refused_cleanly(
        depth in 1usize..3000,
        or in any::<bool>(),
    ) {
        let text = if or {
            format!("{}{}", r#"{"$or":[{"a":["b"]},"#.repeat(depth), "}]}".repeat(depth))
        } else {
            format!("{}[1]{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
        };
        check(text.as_bytes(), &EVENTS);
    }

    #[test]
    fn a_pattern_of_an_events_own_values_matches_it(
        event in event(),
        pick in any::<prop::sample::Index>(),
        number in json_number(),
    ) {
        let mut found = Vec::new();
        let mut event = event;
        event["detail"]["n"] = number;
        leaves(&event, &mut Vec::new(), &mut found);
        let (path, value) = pick.get(&found).clone();
        // serde_json (without its `float_roundtrip` feature) may read a
        // float's shortest text back one unit in the last place off: only
        // numbers that survive being written and read again can be
        // expected to equal themselves in a pattern.
        let stable = serde_json::from_str::<Value>(&value.to_string()).ok().as_ref() == Some(&value);
        let others: Vec<Value> = values_at(&event, &path).into_iter().cloned().collect();
        let only_this = others.iter().all(|v| v == &value);
        // (pattern, whether it matches if known, whether it may be refused)
        let mut cases = vec![
            (pattern_at(&path, value.clone()), stable.then_some(true), false),
            (pattern_at(&path, json!({"exists": true})), Some(true), false),
        ];
        if let Value::String(s) = &value {
            let prefix: String = s.chars().take(3).collect();
            let suffix: String = s.chars().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
            let wildcard = format!("{prefix}*");
            cases.extend([
                (pattern_at(&path, json!({"prefix": prefix})), Some(true), false),
                (pattern_at(&path, json!({"suffix": suffix})), Some(true), false),
                (pattern_at(&path, json!({"equals-ignore-case": s.to_uppercase()})), None, false),
                (pattern_at(&path, json!({"anything-but": s})), only_this.then_some(false), false),
                (pattern_at(&path, json!({"wildcard": wildcard})), Some(true), wildcard.contains("**")),
            ]);
        }
        if let Some(n) = value.as_f64().filter(|n| n.is_finite()) {
            let reads_back = |x: f64| serde_json::from_str::<f64>(&json!(x).to_string()).ok() == Some(x);
            let stable = stable && reads_back(n);
            cases.extend([
                (pattern_at(&path, json!({"numeric": ["=", n]})), stable.then_some(true), false),
                (pattern_at(&path, json!({"numeric": [">", n]})), (stable && only_this).then_some(false), false),
                (
                    pattern_at(&path, json!({"numeric": [">=", n, "<=", n + 1.0]})),
                    None,
                    n + 1.0 <= n || !stable || !reads_back(n + 1.0),
                ),
            ]);
        }
        for (pattern, expected, may_refuse) in cases {
            let text = pattern.to_string();
            if text.len() > MAX_PATTERN_LEN {
                continue;
            }
            let parsed = check(text.as_bytes(), std::slice::from_ref(&event));
            let Some(parsed) = parsed else {
                // `$or` as a field name is an operator, not a field.
                prop_assert!(may_refuse || path.iter().any(|k| k == "$or"), "{} refused", text);
                continue;
            };
            if let Some(expected) = expected {
                prop_assert_eq!(parsed.matches(&event), expected, "{} on {}", text, event);
            }
        }
    }
}
