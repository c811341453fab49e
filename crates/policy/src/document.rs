//! The compiled form of a policy document: what evaluation walks.
//!
//! Compiling happens once, after [`crate::validate`] accepted the text:
//! actions are lowercased and split into wildcard patterns, resources
//! become patterns with their policy variables (documents of version
//! 2012-10-17 only; in older ones `${...}` is plain text), principals are
//! classified, and condition values are read for their operator.

use crate::condition::{split_operator, Condition, OPERATORS};
use crate::pattern::{Pattern, Syntax};
use crate::principal::Principals;
use crate::validate::{statement_list, strings, PRINCIPAL_TYPES};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction` (and the same shape for resources).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Patterns {
    pub negated: bool,
    pub patterns: Vec<Pattern>,
    /// For actions: the services (lowercase) the patterns can match, when
    /// every pattern names its service without a wildcard; a request for
    /// another service is turned away with one comparison per service.
    pub services: Option<Box<[Box<str>]>>,
}

impl Patterns {
    /// Whether the request's service (`s3` of `s3:GetObject`) may match.
    pub(crate) fn may_match_service(&self, service: &str) -> bool {
        match &self.services {
            None => true,
            Some(services) => services
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(service.as_bytes())),
        }
    }
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Patterns,
    /// `None` when the statement has neither `Resource` nor `NotResource`
    /// (trust policies): it applies to any resource.
    pub resources: Option<Patterns>,
    /// `None` when the statement names no principal (identity policies).
    pub principals: Option<Principals>,
    pub conditions: Vec<Condition>,
}

/// Compiles a validated document.
pub(crate) fn compile(root: &Value) -> (Option<String>, Vec<Statement>) {
    let version = root.get("Version").and_then(Value::as_str);
    let variables = version == Some("2012-10-17");
    let id = root.get("Id").and_then(Value::as_str).map(str::to_string);
    let statements = statement_list(root)
        .into_iter()
        .map(|s| {
            let sid = s.get("Sid").and_then(Value::as_str).map(str::to_string);
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") => Effect::Deny,
                _ => Effect::Allow,
            };
            let action_syntax = Syntax {
                wildcards: true,
                variables: false,
                ignore_case: true,
            };
            let resource_syntax = Syntax {
                wildcards: true,
                variables,
                ignore_case: false,
            };
            let actions = patterns(s.get("Action"), s.get("NotAction"), action_syntax)
                .map(with_services)
                .unwrap_or(Patterns {
                    negated: false,
                    patterns: Vec::new(),
                    services: None,
                });
            let resources = patterns(s.get("Resource"), s.get("NotResource"), resource_syntax);
            let principals = principals(s.get("Principal"), s.get("NotPrincipal"));
            let conditions = conditions(s.get("Condition"), variables);
            Statement {
                sid,
                effect,
                actions,
                resources,
                principals,
                conditions,
            }
        })
        .collect();
    (id, statements)
}

fn patterns(plain: Option<&Value>, not: Option<&Value>, syntax: Syntax) -> Option<Patterns> {
    let (negated, v) = match (plain, not) {
        (Some(v), _) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => return None,
    };
    Some(Patterns {
        negated,
        patterns: strings(Some(v))
            .map(|p| Pattern::compile(p, syntax))
            .collect(),
        services: None,
    })
}

/// Notes the services of an `Action` element whose every pattern names
/// its service literally.
fn with_services(mut actions: Patterns) -> Patterns {
    if actions.negated {
        return actions;
    }
    let mut services: Vec<Box<str>> = Vec::new();
    for p in &actions.patterns {
        match p.literal_head() {
            Some(head) => {
                if !services.iter().any(|s| s.as_ref() == head) {
                    services.push(head.into());
                }
            }
            None => return actions,
        }
    }
    actions.services = Some(services.into_boxed_slice());
    actions
}

fn principals(plain: Option<&Value>, not: Option<&Value>) -> Option<Principals> {
    let (negated, v) = match (plain, not) {
        (Some(v), _) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => return None,
    };
    let mut out = Principals::new(negated);
    match v {
        Value::Object(types) => {
            for t in PRINCIPAL_TYPES {
                for value in strings(types.get(*t)) {
                    out.push(t, value);
                }
            }
        }
        _ => out.push("*", "*"),
    }
    Some(out)
}

fn conditions(block: Option<&Value>, variables: bool) -> Vec<Condition> {
    let Some(Value::Object(operators)) = block else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (op, body) in operators {
        if !OPERATORS.contains(&split_operator(op).base) {
            // Only an empty block can name an unknown operator.
            continue;
        }
        let Some(keys) = body.as_object() else {
            continue;
        };
        for (key, value) in keys {
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            };
            out.push(Condition::compile(op, key, &values, variables));
        }
    }
    out
}

/// A condition value as text: strings as they are, booleans and numbers
/// as JSON writes them.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
