//! Schedules and schedule groups as the Scheduler API shapes them
//! (botocore's `scheduler` 2021-06-30 model: PascalCase members,
//! timestamps as epoch seconds), their validation, and the records kept in
//! the event store.
//!
//! Request shapes reject unknown members, so a target type updraft does
//! not deliver to (ECS, Kinesis, SageMaker, EventBridge) is a
//! `ValidationException` rather than a schedule that silently never works.

use serde::{Deserialize, Serialize};
use updraft_types::{Arn, FunctionRef, Qualifier};

/// Why a Scheduler operation failed, in Scheduler's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The store failed; nothing changed.
    #[error("{0}")]
    Internal(String),
}

impl ScheduleError {
    /// The `x-amzn-errortype` Scheduler answers with.
    pub fn error_type(&self) -> &'static str {
        match self {
            ScheduleError::Validation(_) => "ValidationException",
            ScheduleError::NotFound(_) => "ResourceNotFoundException",
            ScheduleError::Conflict(_) => "ConflictException",
            ScheduleError::Internal(_) => "InternalServerException",
        }
    }

    /// The HTTP status Scheduler answers with.
    pub fn status(&self) -> u16 {
        match self {
            ScheduleError::Validation(_) => 400,
            ScheduleError::NotFound(_) => 404,
            ScheduleError::Conflict(_) => 409,
            ScheduleError::Internal(_) => 500,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    #[default]
    Enabled,
    Disabled,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "ENABLED" => Some(State::Enabled),
            "DISABLED" => Some(State::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ActionAfterCompletion {
    #[default]
    None,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FlexibleMode {
    Off,
    Flexible,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FlexibleTimeWindow {
    pub mode: FlexibleMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_window_in_minutes: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_event_age_in_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeadLetterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SqsParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

/// What a schedule invokes: a Lambda function or an SQS queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Target {
    pub arn: String,
    pub role_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_parameters: Option<SqsParameters>,
}

/// Where a target's ARN points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`
    Function {
        name: String,
        qualifier: Option<String>,
    },
    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`
    Queue { name: String },
}

impl Target {
    /// Where the target delivers. A function that does not exist is
    /// accepted (as Scheduler does): the invocation fails at delivery.
    pub fn destination(&self) -> Result<Destination, String> {
        let arn = &self.arn;
        if arn.starts_with("arn:aws:lambda:") {
            let f = FunctionRef::parse(arn).map_err(|e| e.0)?;
            return Ok(Destination::Function {
                name: f.name.to_string(),
                qualifier: f.qualifier.as_ref().map(Qualifier::to_string),
            });
        }
        if let Some(name) = sqs_queue(arn) {
            return Ok(Destination::Queue {
                name: name.to_string(),
            });
        }
        Err(format!(
            "Invalid target ARN {arn}: updraft delivers to Lambda functions \
             (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]) and SQS queues \
             (arn:aws:sqs:REGION:ACCOUNT:NAME)"
        ))
    }

    fn validate(&mut self) -> Result<(), String> {
        self.destination()?;
        if !is_role_arn(&self.role_arn) {
            return Err(format!(
                "Value '{}' at 'target.roleArn' failed to satisfy constraint: Member must satisfy \
                 regular expression pattern: ^arn:aws(-[a-z]+)?:iam::\\d{{12}}:role\\/[\\w+=,.@\\/-]+$",
                self.role_arn
            ));
        }
        if self.input.as_deref() == Some("") {
            return Err("Value '' at 'target.input' failed to satisfy constraint: Member must have length greater than or equal to 1".into());
        }
        let retry = self.retry_policy.get_or_insert(RetryPolicy {
            maximum_event_age_in_seconds: None,
            maximum_retry_attempts: None,
        });
        let age = *retry.maximum_event_age_in_seconds.get_or_insert(86_400);
        let attempts = *retry.maximum_retry_attempts.get_or_insert(185);
        in_range(
            "target.retryPolicy.maximumEventAgeInSeconds",
            age,
            60,
            86_400,
        )?;
        in_range("target.retryPolicy.maximumRetryAttempts", attempts, 0, 185)?;
        if let Some(dlq) = self
            .dead_letter_config
            .as_ref()
            .and_then(|d| d.arn.as_ref())
        {
            if sqs_queue(dlq).is_none() {
                return Err(format!(
                    "Value '{dlq}' at 'target.deadLetterConfig.arn' failed to satisfy constraint: \
                     Member must be an SQS queue ARN"
                ));
            }
        }
        Ok(())
    }
}

/// The body of CreateSchedule and UpdateSchedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ScheduleInput {
    #[serde(default)]
    pub action_after_completion: Option<ActionAfterCompletion>,
    /// Accepted for compatibility (the clients fill it in); requests are
    /// not deduplicated by it.
    #[serde(default)]
    pub client_token: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub end_date: Option<f64>,
    pub flexible_time_window: FlexibleTimeWindow,
    #[serde(default)]
    pub group_name: Option<String>,
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    pub schedule_expression: String,
    #[serde(default)]
    pub schedule_expression_timezone: Option<String>,
    #[serde(default)]
    pub start_date: Option<f64>,
    #[serde(default)]
    pub state: Option<State>,
    pub target: Target,
}

/// A schedule, as GetSchedule renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    pub action_after_completion: ActionAfterCompletion,
    pub arn: String,
    /// Epoch seconds.
    pub creation_date: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<f64>,
    pub flexible_time_window: FlexibleTimeWindow,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub last_modification_date: f64,
    pub name: String,
    pub schedule_expression: String,
    pub schedule_expression_timezone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<f64>,
    pub state: State,
    pub target: Target,
}

impl Schedule {
    /// The `ScheduleSummary` ListSchedules renders.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "Arn": self.arn,
            "CreationDate": self.creation_date,
            "GroupName": self.group_name,
            "LastModificationDate": self.last_modification_date,
            "Name": self.name,
            "State": self.state,
            "Target": { "Arn": self.target.arn },
        })
    }
}

/// A schedule as stored: the API's view and the firing state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSchedule {
    #[serde(flatten)]
    pub schedule: Schedule,
    /// The last slot fired, ms since the Unix epoch: a slot at or before it
    /// never fires again.
    #[serde(default, rename = "updraftLastFiredMs")]
    pub last_fired_ms: Option<i64>,
}

/// A validated CreateSchedule/UpdateSchedule body, ready to store.
pub struct ValidSchedule {
    pub group: String,
    pub input: ScheduleInput,
    pub time_zone: String,
}

/// Checks a CreateSchedule/UpdateSchedule body against Scheduler's rules.
pub fn validate(name: &str, mut input: ScheduleInput) -> Result<ValidSchedule, String> {
    check_name("name", name)?;
    let group = input
        .group_name
        .clone()
        .unwrap_or_else(|| DEFAULT_GROUP.to_string());
    check_name("groupName", &group)?;
    if let Some(d) = &input.description {
        if d.chars().count() > 512 {
            return Err("Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512".into());
        }
    }
    let expression =
        crate::expression::Expression::parse(&input.schedule_expression).map_err(|e| {
            format!(
                "Invalid Schedule Expression {}: {e}",
                input.schedule_expression
            )
        })?;
    let time_zone = input
        .schedule_expression_timezone
        .clone()
        .unwrap_or_else(|| "UTC".to_string());
    crate::expression::parse_time_zone(&time_zone)?;
    let window = &mut input.flexible_time_window;
    match window.mode {
        FlexibleMode::Off => window.maximum_window_in_minutes = None,
        FlexibleMode::Flexible => {
            let minutes = window.maximum_window_in_minutes.ok_or(
                "MaximumWindowInMinutes is required when FlexibleTimeWindow Mode is FLEXIBLE",
            )?;
            in_range(
                "flexibleTimeWindow.maximumWindowInMinutes",
                minutes,
                1,
                1440,
            )?;
        }
    }
    if let (Some(start), Some(end)) = (input.start_date, input.end_date) {
        if start >= end {
            return Err("The StartDate must come before the EndDate.".into());
        }
    }
    if input.action_after_completion == Some(ActionAfterCompletion::Delete)
        && !expression.is_one_time()
        && input.end_date.is_none()
    {
        return Err(
            "ActionAfterCompletion DELETE needs a schedule that completes: an at() expression or an EndDate."
                .into(),
        );
    }
    input.target.validate()?;
    Ok(ValidSchedule {
        group,
        input,
        time_zone,
    })
}

/// The group every account has, which cannot be deleted.
pub const DEFAULT_GROUP: &str = "default";

/// A schedule group, as GetScheduleGroup renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleGroup {
    pub arn: String,
    pub creation_date: f64,
    pub last_modification_date: f64,
    pub name: String,
    /// Always `ACTIVE`: a deleted group is gone when DeleteScheduleGroup
    /// returns.
    pub state: String,
}

/// A group as stored, with its tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredGroup {
    #[serde(flatten)]
    pub group: ScheduleGroup,
    #[serde(default, rename = "updraftTags")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The body of CreateScheduleGroup.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GroupInput {
    /// Accepted for compatibility; requests are not deduplicated by it.
    #[serde(default)]
    pub client_token: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// Schedule and group names: 1-64 of `[0-9a-zA-Z-_.]`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$ and have length between 1 and 64"
        ))
    }
}

/// An SQS queue name: 1-80 of `[A-Za-z0-9_-]`, `.fifo` included.
/// The queue an `arn:aws:sqs:REGION:ACCOUNT:NAME` names.
fn sqs_queue(arn: &str) -> Option<&str> {
    Arn::parse(arn)
        .filter(|a| a.partition == "aws" && a.service == "sqs" && is_queue_name(a.resource))
        .map(|a| a.resource)
}

fn is_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    name.len() <= 80
        && !base.is_empty()
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((account, role)) = rest.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && !role.is_empty()
        && role
            .chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@/-".contains(c))
}

fn in_range(what: &str, value: i64, min: i64, max: i64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "1 validation error detected: Value '{value}' at '{what}' failed to satisfy constraint: \
             Member must have value between {min} and {max}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: serde_json::Value) -> ScheduleInput {
        serde_json::from_value(body).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ScheduleExpression": "rate(5 minutes)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": "arn:aws:lambda:us-east-1:000000000000:function:f:live",
                "RoleArn": "arn:aws:iam::000000000000:role/x"
            }
        })
    }

    #[test]
    fn fills_in_defaults() {
        let v = validate("s", input(base())).unwrap();
        assert_eq!(v.group, "default");
        assert_eq!(v.time_zone, "UTC");
        let retry = v.input.target.retry_policy.unwrap();
        assert_eq!(retry.maximum_event_age_in_seconds, Some(86_400));
        assert_eq!(retry.maximum_retry_attempts, Some(185));
    }

    #[test]
    fn targets_functions_and_queues() {
        let mut t = input(base()).target;
        assert_eq!(
            t.destination().unwrap(),
            Destination::Function {
                name: "f".into(),
                qualifier: Some("live".into())
            }
        );
        t.arn = "arn:aws:sqs:us-east-1:000000000000:jobs".into();
        assert_eq!(
            t.destination().unwrap(),
            Destination::Queue {
                name: "jobs".into()
            }
        );
        t.arn = "arn:aws:sqs:us-east-1:000000000000:jobs.fifo".into();
        assert!(t.destination().is_ok());
        t.arn = "arn:aws:ecs:us-east-1:000000000000:cluster/c".into();
        assert!(t.destination().is_err());
    }

    #[test]
    fn rejects_what_scheduler_rejects() {
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("bad name!", base()),
            ("s", {
                let mut b = base();
                b["ScheduleExpression"] = "cron(0 12 * * * *)".into();
                b
            }),
            ("s", {
                let mut b = base();
                b["ScheduleExpressionTimezone"] = "Nowhere/Land".into();
                b
            }),
            ("s", {
                let mut b = base();
                b["FlexibleTimeWindow"] = serde_json::json!({"Mode": "FLEXIBLE"});
                b
            }),
            ("s", {
                let mut b = base();
                b["FlexibleTimeWindow"] =
                    serde_json::json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441});
                b
            }),
            ("s", {
                let mut b = base();
                b["Target"]["RoleArn"] = "role".into();
                b
            }),
            ("s", {
                let mut b = base();
                b["StartDate"] = 2000.into();
                b["EndDate"] = 1000.into();
                b
            }),
            ("s", {
                let mut b = base();
                b["ActionAfterCompletion"] = "DELETE".into();
                b
            }),
            ("s", {
                let mut b = base();
                b["Target"]["RetryPolicy"] = serde_json::json!({"MaximumRetryAttempts": 186});
                b
            }),
        ];
        for (name, body) in cases {
            assert!(
                validate(name, input(body.clone())).is_err(),
                "{name} {body} should be rejected"
            );
        }
        let mut unknown = base();
        unknown["Target"]["EcsParameters"] = serde_json::json!({"TaskDefinitionArn": "x"});
        assert!(serde_json::from_value::<ScheduleInput>(unknown).is_err());
    }
}
