//! The enabled rules of one bus, indexed so an event is matched against
//! the few rules that can match it rather than all of them.
//!
//! A rule whose pattern lists exact strings for `source` is filed under
//! each of them; one without that but with exact `detail-type` strings
//! under those; every other rule in a fallback list. An event's
//! candidates are the rules filed under its `source`, under its
//! `detail-type`, and the fallback list; each is then matched in full.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::model::{CompiledRule, RuleState};

#[derive(Default)]
pub struct RuleIndex {
    by_source: HashMap<String, Vec<Arc<CompiledRule>>>,
    by_detail_type: HashMap<String, Vec<Arc<CompiledRule>>>,
    fallback: Vec<Arc<CompiledRule>>,
}

impl RuleIndex {
    /// Indexes the enabled rules among `rules`.
    pub fn build<'a>(rules: impl Iterator<Item = &'a Arc<CompiledRule>>) -> RuleIndex {
        let mut index = RuleIndex::default();
        for rule in rules.filter(|r| r.rule.state == RuleState::Enabled) {
            let (map, keys) = match (
                rule.pattern.exact_strings("source"),
                rule.pattern.exact_strings("detail-type"),
            ) {
                (Some(keys), _) => (&mut index.by_source, keys),
                (None, Some(keys)) => (&mut index.by_detail_type, keys),
                (None, None) => {
                    index.fallback.push(rule.clone());
                    continue;
                }
            };
            let mut keys = keys;
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                map.entry(key.to_string()).or_default().push(rule.clone());
            }
        }
        index
    }

    /// The rules `event` matches.
    pub fn matching(&self, event: &Value) -> Vec<Arc<CompiledRule>> {
        fn lookup<'a>(
            map: &'a HashMap<String, Vec<Arc<CompiledRule>>>,
            event: &Value,
            field: &str,
        ) -> &'a [Arc<CompiledRule>] {
            event
                .get(field)
                .and_then(Value::as_str)
                .and_then(|key| map.get(key))
                .map_or(&[], Vec::as_slice)
        }
        lookup(&self.by_source, event, "source")
            .iter()
            .chain(lookup(&self.by_detail_type, event, "detail-type"))
            .chain(&self.fallback)
            .filter(|rule| rule.pattern.matches(event))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use updraft_types::Account;

    use super::*;
    use crate::model::Rule;

    fn rule(name: &str, pattern: &str, state: RuleState) -> Arc<CompiledRule> {
        Arc::new(
            Rule {
                name: name.into(),
                bus: "default".into(),
                event_pattern: pattern.into(),
                state,
                description: None,
                role_arn: None,
                targets: vec![],
            }
            .compile(&Account::default(), format!("arn:{name}"))
            .expect("valid rule"),
        )
    }

    fn names(rules: Vec<Arc<CompiledRule>>) -> Vec<String> {
        let mut n: Vec<String> = rules.iter().map(|r| r.rule.name.clone()).collect();
        n.sort();
        n
    }

    #[test]
    fn candidates_come_from_every_list_and_are_matched_in_full() {
        let rules = [
            rule(
                "by-source",
                r#"{"source":["shop","shop"]}"#,
                RuleState::Enabled,
            ),
            rule(
                "by-source-and-detail",
                r#"{"source":["shop"],"detail":{"n":[1]}}"#,
                RuleState::Enabled,
            ),
            rule("other-source", r#"{"source":["bank"]}"#, RuleState::Enabled),
            rule(
                "by-type",
                r#"{"detail-type":["order"]}"#,
                RuleState::Enabled,
            ),
            rule(
                "prefix",
                r#"{"source":[{"prefix":"sh"}]}"#,
                RuleState::Enabled,
            ),
            rule("disabled", r#"{"source":["shop"]}"#, RuleState::Disabled),
        ];
        let index = RuleIndex::build(rules.iter());
        let event = json!({"source": "shop", "detail-type": "order", "detail": {"n": 2}});
        assert_eq!(
            names(index.matching(&event)),
            ["by-source", "by-type", "prefix"]
        );
        let event = json!({"source": "shop", "detail-type": "x", "detail": {"n": 1}});
        assert_eq!(
            names(index.matching(&event)),
            ["by-source", "by-source-and-detail", "prefix"]
        );
        assert!(index.matching(&json!({"source": "none"})).is_empty());
    }
}
