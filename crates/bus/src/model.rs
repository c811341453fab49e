//! The bus's resources as stored (JSON documents in the event store) and
//! their compiled forms: a rule's pattern parsed, a target's ARN resolved
//! to where it delivers and its input rules parsed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use updraft_types::{Account, Arn};

use crate::pattern::Pattern;
use crate::transform::{JsonPath, Transformer};
use crate::BusError;

/// Resource kinds in the event store.
pub const BUS_KIND: &str = "eventbridge.bus";
pub const RULE_KIND: &str = "eventbridge.rule";

/// The bus every account has; it cannot be created or deleted.
pub const DEFAULT_BUS: &str = "default";

/// A custom event bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBus {
    pub name: String,
    pub description: Option<String>,
    /// ms since the Unix epoch; `None` for the default bus.
    pub created_ms: Option<i64>,
    pub modified_ms: Option<i64>,
    /// The resource policy (`PutPermission`), JSON text; a valid resource
    /// policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// Whether a rule matches events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleState {
    #[serde(rename = "ENABLED")]
    Enabled,
    #[serde(rename = "DISABLED")]
    Disabled,
}

impl RuleState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleState::Enabled => "ENABLED",
            RuleState::Disabled => "DISABLED",
        }
    }
}

/// A rule with its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub bus: String,
    pub event_pattern: String,
    pub state: RuleState,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub targets: Vec<Target>,
}

/// A target, as `PutTargets` takes it and `ListTargetsByRule` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InputTransformer {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_paths_map: BTreeMap<String, String>,
    pub input_template: String,
}

/// Where a target delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// An async invocation of a function (a version or alias when
    /// qualified).
    Function {
        name: String,
        qualifier: Option<String>,
    },
    /// A message on an SQS queue.
    Queue(String),
}

/// What a target receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Event,
    Constant(String),
    Path(JsonPath),
    Transformer(Transformer),
}

/// A target ready to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledTarget {
    pub destination: Destination,
    pub input: Input,
}

/// A rule ready to match.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub rule: Rule,
    pub arn: String,
    pub pattern: Pattern,
    pub targets: Vec<CompiledTarget>,
}

/// The most targets a rule may have, as EventBridge.
pub const MAX_TARGETS_PER_RULE: usize = 5;

/// Checks a name against EventBridge's `[\.\-_A-Za-z0-9]+` (and `/` where
/// `slash` allows it) and a maximum length.
pub fn valid_name(name: &str, max: usize, slash: bool) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || (slash && c == '/')
        })
}

impl Target {
    /// Validates the target and resolves where it delivers; the error is
    /// the message of its `FailedEntries` entry.
    pub fn compile(&self, account: &Account) -> Result<CompiledTarget, String> {
        if !valid_name(&self.id, 64, false) {
            return Err(format!(
                "Target Id {:?} is not valid: 1 to 64 characters of letters, digits, '.', '-' and '_'.",
                self.id
            ));
        }
        let destination = destination(&self.arn, account)?;
        let set = [
            self.input.is_some(),
            self.input_path.is_some(),
            self.input_transformer.is_some(),
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            return Err(
                "Only one of Input, InputPath, or InputTransformer may be given for a target."
                    .into(),
            );
        }
        let input = if let Some(text) = &self.input {
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| format!("Input is not valid JSON: {e}"))?;
            Input::Constant(text.clone())
        } else if let Some(path) = &self.input_path {
            Input::Path(JsonPath::parse(path).map_err(|e| format!("InputPath {e}"))?)
        } else if let Some(t) = &self.input_transformer {
            Input::Transformer(
                Transformer::parse(&t.input_paths_map, &t.input_template)
                    .map_err(|e| format!("InputTransformer: {e}"))?,
            )
        } else {
            Input::Event
        };
        Ok(CompiledTarget { destination, input })
    }
}

/// Resolves a target ARN: `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
/// or `arn:aws:sqs:REGION:ACCOUNT:NAME`, in this node's region and account.
fn destination(arn: &str, account: &Account) -> Result<Destination, String> {
    let unsupported = || {
        format!(
            "Target Arn {arn:?} is not supported: targets are Lambda functions (arn:aws:lambda:{r}:{a}:function:NAME) and SQS queues (arn:aws:sqs:{r}:{a}:NAME).",
            r = account.region,
            a = account.account_id
        )
    };
    let Some(parts) = Arn::parse(arn).filter(|a| a.partition.starts_with("aws")) else {
        return Err(unsupported());
    };
    if parts.region != account.region || parts.account != account.account_id {
        return Err(format!(
            "Target Arn {arn:?} is in another region or account; this endpoint serves {} in account {}.",
            account.region, account.account_id
        ));
    }
    let resource: Vec<&str> = parts.resource.split(':').collect();
    match (parts.service, resource.as_slice()) {
        ("lambda", ["function", name]) if !name.is_empty() => Ok(Destination::Function {
            name: name.to_string(),
            qualifier: None,
        }),
        ("lambda", ["function", name, qualifier]) if !name.is_empty() && !qualifier.is_empty() => {
            Ok(Destination::Function {
                name: name.to_string(),
                qualifier: Some(qualifier.to_string()),
            })
        }
        ("sqs", [name]) if !name.is_empty() => Ok(Destination::Queue(name.to_string())),
        _ => Err(unsupported()),
    }
}

impl Rule {
    /// Parses the pattern and the targets (stored rules were valid when
    /// written).
    pub fn compile(self, account: &Account, arn: String) -> Result<CompiledRule, BusError> {
        let pattern = Pattern::parse(&self.event_pattern)
            .map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
        let targets = self
            .targets
            .iter()
            .map(|t| t.compile(account))
            .collect::<Result<_, _>>()
            .map_err(BusError::Validation)?;
        Ok(CompiledRule {
            rule: self,
            arn,
            pattern,
            targets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(arn: &str) -> Target {
        Target {
            id: "t1".into(),
            arn: arn.into(),
            role_arn: None,
            input: None,
            input_path: None,
            input_transformer: None,
        }
    }

    #[test]
    fn target_arns_resolve_to_functions_and_queues() {
        let a = Account::default();
        let d = |arn: &str| target(arn).compile(&a).map(|c| c.destination);
        assert_eq!(
            d("arn:aws:lambda:us-east-1:000000000000:function:f"),
            Ok(Destination::Function {
                name: "f".into(),
                qualifier: None
            })
        );
        assert_eq!(
            d("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            Ok(Destination::Function {
                name: "f".into(),
                qualifier: Some("live".into())
            })
        );
        assert_eq!(
            d("arn:aws:sqs:us-east-1:000000000000:q"),
            Ok(Destination::Queue("q".into()))
        );
        assert!(d("arn:aws:sns:us-east-1:000000000000:topic")
            .unwrap_err()
            .contains("not supported"));
        assert!(d("arn:aws:sqs:eu-west-1:000000000000:q")
            .unwrap_err()
            .contains("another region"));
        assert!(d("nonsense").unwrap_err().contains("not supported"));
    }

    #[test]
    fn target_inputs_are_validated() {
        let a = Account::default();
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        let mut t = target(arn);
        t.input = Some("{not json".into());
        assert!(t.compile(&a).unwrap_err().contains("not valid JSON"));
        t.input = Some("{}".into());
        t.input_path = Some("$.detail".into());
        assert!(t.compile(&a).unwrap_err().contains("Only one"));
        t.input = None;
        t.input_path = Some("detail".into());
        assert!(t.compile(&a).unwrap_err().contains("InputPath"));
        let mut t = target(arn);
        t.id = "bad id".into();
        assert!(t.compile(&a).unwrap_err().contains("Target Id"));
    }
}
