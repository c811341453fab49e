//! Queue settings as SQS spells them: parsing the attribute map of
//! `CreateQueue`/`SetQueueAttributes` into a [`QueueConfig`] and rendering
//! `GetQueueAttributes`.
//!
//! A config is stored as a JSON resource of kind [`RESOURCE_KIND`], keyed
//! by the queue's name.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::json;

use crate::{QueueConfig, QueueError, QueueStats, RedriveAllowPolicy, RedrivePolicy};

/// The event-store resource kind of queue configs.
pub const RESOURCE_KIND: &str = "queue";

/// SQS queue names are at most this long (with `.fifo`).
const MAX_NAME_LEN: usize = 80;

/// The attributes `GetQueueAttributes` can name (besides `All`).
pub const ATTRIBUTE_NAMES: &[&str] = &[
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "Policy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "RedriveAllowPolicy",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

impl QueueConfig {
    /// A standard queue with SQS's defaults, created now.
    pub fn new(name: &str) -> QueueConfig {
        let now = crate::now_ms();
        QueueConfig {
            name: name.to_owned(),
            fifo: false,
            content_based_deduplication: false,
            visibility_timeout: 30,
            delay_seconds: 0,
            message_retention_period: 345_600,
            maximum_message_size: 262_144,
            receive_message_wait_time: 0,
            redrive_policy: None,
            policy: None,
            tags: BTreeMap::new(),
            encryption: Default::default(),
            redrive_allow_policy: None,
            deduplicate_per_group: false,
            fifo_throughput_limit: None,
            created_ms: now,
            modified_ms: now,
        }
    }

    /// Applies SQS attributes (`CreateQueue`, `SetQueueAttributes`): each
    /// is checked against SQS's range; an unknown name is
    /// `InvalidAttributeName`, a bad value `InvalidAttributeValue`. On
    /// error `self` may be partly changed: apply to a copy.
    pub fn apply_attributes(
        &mut self,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        for (name, value) in attributes {
            match name.as_str() {
                "VisibilityTimeout" => self.visibility_timeout = seconds(name, value, 0..=43_200)?,
                "DelaySeconds" => self.delay_seconds = seconds(name, value, 0..=900)?,
                "MessageRetentionPeriod" => {
                    self.message_retention_period = seconds(name, value, 60..=1_209_600)?
                }
                "MaximumMessageSize" => {
                    self.maximum_message_size = seconds(name, value, 1024..=262_144)?
                }
                "ReceiveMessageWaitTimeSeconds" => {
                    self.receive_message_wait_time = seconds(name, value, 0..=20)?
                }
                "RedrivePolicy" => self.redrive_policy = parse_redrive_policy(value)?,
                "Policy" => self.policy = crate::permissions::check_policy(value)?,
                "FifoQueue" => self.fifo = boolean(name, value)?,
                "ContentBasedDeduplication" => {
                    self.content_based_deduplication = boolean(name, value)?
                }
                "KmsMasterKeyId" => {
                    self.encryption.kms_master_key_id = Some(value.trim())
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                }
                "KmsDataKeyReusePeriodSeconds" => {
                    self.encryption.kms_data_key_reuse_period =
                        Some(seconds(name, value, 60..=86_400)?)
                }
                "SqsManagedSseEnabled" => self.encryption.sqs_managed_sse = boolean(name, value)?,
                "RedriveAllowPolicy" => {
                    self.redrive_allow_policy = parse_redrive_allow_policy(value)?
                }
                "DeduplicationScope" => {
                    self.deduplicate_per_group = match value.as_str() {
                        "messageGroup" => true,
                        "queue" => false,
                        _ => return Err(QueueError::InvalidAttributeValue(name.clone())),
                    }
                }
                "FifoThroughputLimit" => {
                    self.fifo_throughput_limit = match value.as_str() {
                        "perQueue" | "perMessageGroupId" => Some(value.clone()),
                        _ => return Err(QueueError::InvalidAttributeValue(name.clone())),
                    }
                }
                other => return Err(QueueError::InvalidAttributeName(other.to_owned())),
            }
        }
        Ok(())
    }

    /// Checks what holds across attributes: the name (SQS's characters
    /// and length; `.fifo` exactly for FIFO queues) and FIFO-only
    /// settings.
    pub fn validate(&self) -> Result<(), QueueError> {
        validate_name(&self.name, self.fifo)?;
        // One kind of server-side encryption at a time, as SQS allows.
        if self.encryption.sqs_managed_sse && self.encryption.kms_master_key_id.is_some() {
            return Err(QueueError::InvalidAttributeValue(
                "SqsManagedSseEnabled".into(),
            ));
        }
        if !self.fifo {
            let fifo_only = [
                (
                    "ContentBasedDeduplication",
                    self.content_based_deduplication,
                ),
                ("DeduplicationScope", self.deduplicate_per_group),
                ("FifoThroughputLimit", self.fifo_throughput_limit.is_some()),
            ];
            if let Some((name, _)) = fifo_only.into_iter().find(|(_, set)| *set) {
                return Err(QueueError::InvalidAttributeName(name.into()));
            }
        }
        // As SQS: a per-group throughput limit needs per-group
        // deduplication.
        if self.fifo_throughput_limit.as_deref() == Some("perMessageGroupId")
            && !self.deduplicate_per_group
        {
            return Err(QueueError::InvalidAttributeValue(
                "FifoThroughputLimit".into(),
            ));
        }
        Ok(())
    }

    /// What a FIFO queue deduplicates by: the deduplication id, within the
    /// message group when `DeduplicationScope` is `messageGroup`.
    pub(crate) fn deduplication_key(&self, group: Option<&str>, id: &str) -> String {
        match group.filter(|_| self.deduplicate_per_group) {
            Some(group) => format!("{group}\u{0}{id}"),
            None => id.to_owned(),
        }
    }

    /// Every attribute `GetQueueAttributes` answers for `All`, rendered
    /// as SQS does (numbers as decimal strings, timestamps in seconds,
    /// the redrive policy as JSON; FIFO attributes only on FIFO queues).
    pub fn attributes(&self, arn: &str, stats: &QueueStats) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            out.insert(k.to_owned(), v);
        };
        put("QueueArn", arn.to_owned());
        put("ApproximateNumberOfMessages", stats.visible.to_string());
        put(
            "ApproximateNumberOfMessagesNotVisible",
            stats.in_flight.to_string(),
        );
        put(
            "ApproximateNumberOfMessagesDelayed",
            stats.delayed.to_string(),
        );
        put("CreatedTimestamp", (self.created_ms / 1000).to_string());
        put(
            "LastModifiedTimestamp",
            (self.modified_ms / 1000).to_string(),
        );
        put("VisibilityTimeout", self.visibility_timeout.to_string());
        put("MaximumMessageSize", self.maximum_message_size.to_string());
        put(
            "MessageRetentionPeriod",
            self.message_retention_period.to_string(),
        );
        put("DelaySeconds", self.delay_seconds.to_string());
        put(
            "ReceiveMessageWaitTimeSeconds",
            self.receive_message_wait_time.to_string(),
        );
        let sse = &self.encryption;
        put("SqsManagedSseEnabled", sse.sqs_managed_sse.to_string());
        if let Some(key) = &sse.kms_master_key_id {
            put("KmsMasterKeyId", key.clone());
            let reuse = sse.kms_data_key_reuse_period.unwrap_or(300);
            put("KmsDataKeyReusePeriodSeconds", reuse.to_string());
        }
        if let Some(p) = &self.redrive_policy {
            put("RedrivePolicy", p.to_json());
        }
        if let Some(p) = &self.policy {
            put("Policy", p.clone());
        }
        if let Some(p) = &self.redrive_allow_policy {
            put("RedriveAllowPolicy", p.to_json());
        }
        if self.fifo {
            put("FifoQueue", "true".to_owned());
            put(
                "ContentBasedDeduplication",
                self.content_based_deduplication.to_string(),
            );
            let scope = if self.deduplicate_per_group {
                "messageGroup"
            } else {
                "queue"
            };
            put("DeduplicationScope", scope.to_owned());
            let limit = self.fifo_throughput_limit.as_deref().unwrap_or("perQueue");
            put("FifoThroughputLimit", limit.to_owned());
        }
        out
    }

    /// The settings SQS compares when a queue is created again: the name
    /// of the first attribute that differs from `other`'s.
    pub fn first_difference(&self, other: &QueueConfig) -> Option<&'static str> {
        let checks: [(&'static str, bool); 9] = [
            ("FifoQueue", self.fifo == other.fifo),
            (
                "ContentBasedDeduplication",
                self.content_based_deduplication == other.content_based_deduplication,
            ),
            (
                "VisibilityTimeout",
                self.visibility_timeout == other.visibility_timeout,
            ),
            ("DelaySeconds", self.delay_seconds == other.delay_seconds),
            (
                "MessageRetentionPeriod",
                self.message_retention_period == other.message_retention_period,
            ),
            (
                "MaximumMessageSize",
                self.maximum_message_size == other.maximum_message_size,
            ),
            (
                "ReceiveMessageWaitTimeSeconds",
                self.receive_message_wait_time == other.receive_message_wait_time,
            ),
            ("RedrivePolicy", self.redrive_policy == other.redrive_policy),
            ("Policy", self.policy == other.policy),
        ];
        checks.into_iter().find(|(_, same)| !same).map(|(n, _)| n)
    }
}

impl RedrivePolicy {
    /// The policy as SQS renders it:
    /// `{"deadLetterTargetArn":"...","maxReceiveCount":N}`.
    pub fn to_json(&self) -> String {
        json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }

    /// The dead-letter queue's name (the ARN's last part).
    pub fn target_name(&self) -> &str {
        self.dead_letter_target_arn
            .rsplit(':')
            .next()
            .unwrap_or_default()
    }
}

/// Checks a queue name: 1–80 of `A-Za-z0-9_-`, and for FIFO queues the
/// `.fifo` suffix (counted in the 80).
pub fn validate_name(name: &str, fifo: bool) -> Result<(), QueueError> {
    let stem = if fifo {
        name.strip_suffix(".fifo").ok_or_else(|| {
            QueueError::InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
                    .into(),
            )
        })?
    } else {
        name
    };
    let ok = !stem.is_empty()
        && name.len() <= MAX_NAME_LEN
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else if fifo {
        Err(QueueError::InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
                .into(),
        ))
    } else {
        Err(QueueError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        ))
    }
}

fn seconds(name: &str, value: &str, range: RangeInclusive<u32>) -> Result<u32, QueueError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| QueueError::InvalidAttributeValue(name.to_owned()))
}

fn boolean(name: &str, value: &str) -> Result<bool, QueueError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(QueueError::InvalidAttributeValue(name.to_owned())),
    }
}

/// Parses `RedrivePolicy`: a JSON object with `deadLetterTargetArn` (an
/// SQS ARN) and `maxReceiveCount` (1–1000, a number or a numeric string);
/// the empty string removes the policy.
impl RedriveAllowPolicy {
    /// As SQS renders it: `{"redrivePermission":"byQueue","sourceQueueArns":[...]}`.
    pub fn to_json(&self) -> String {
        match self {
            RedriveAllowPolicy::AllowAll => json!({"redrivePermission": "allowAll"}),
            RedriveAllowPolicy::DenyAll => json!({"redrivePermission": "denyAll"}),
            RedriveAllowPolicy::ByQueue(arns) => {
                json!({"redrivePermission": "byQueue", "sourceQueueArns": arns})
            }
        }
        .to_string()
    }

    /// Whether the queue `source` (an ARN) may send its dead letters here.
    pub fn allows(&self, source: &str) -> bool {
        match self {
            RedriveAllowPolicy::AllowAll => true,
            RedriveAllowPolicy::DenyAll => false,
            RedriveAllowPolicy::ByQueue(arns) => arns.iter().any(|a| a == source),
        }
    }
}

/// `RedriveAllowPolicy`: `redrivePermission` is `allowAll`, `denyAll`, or
/// `byQueue` with 1 to 10 `sourceQueueArns` (which only `byQueue` takes).
fn parse_redrive_allow_policy(value: &str) -> Result<Option<RedriveAllowPolicy>, QueueError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let invalid = || QueueError::InvalidAttributeValue("RedriveAllowPolicy".into());
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| invalid())?;
    let sources = v.get("sourceQueueArns");
    let policy = match v.get("redrivePermission").and_then(|p| p.as_str()) {
        Some("allowAll") if sources.is_none() => RedriveAllowPolicy::AllowAll,
        Some("denyAll") if sources.is_none() => RedriveAllowPolicy::DenyAll,
        Some("byQueue") => {
            let arns: Vec<String> = sources
                .and_then(|s| s.as_array())
                .ok_or_else(invalid)?
                .iter()
                .map(|a| a.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect::<Result<_, _>>()?;
            let well_formed = arns.iter().all(|a| {
                let parts: Vec<&str> = a.split(':').collect();
                parts.len() == 6 && parts[0] == "arn" && parts[2] == "sqs"
            });
            if !(1..=10).contains(&arns.len()) || !well_formed {
                return Err(invalid());
            }
            RedriveAllowPolicy::ByQueue(arns)
        }
        _ => return Err(invalid()),
    };
    Ok(Some(policy))
}

fn parse_redrive_policy(value: &str) -> Result<Option<RedrivePolicy>, QueueError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let invalid = || QueueError::InvalidAttributeValue("RedrivePolicy".into());
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| invalid())?;
    let arn = v
        .get("deadLetterTargetArn")
        .and_then(|a| a.as_str())
        .ok_or_else(invalid)?;
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5].is_empty() {
        return Err(invalid());
    }
    let count = match v.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|c| (1..=1000).contains(c))
    .ok_or_else(invalid)?;
    Ok(Some(RedrivePolicy {
        dead_letter_target_arn: arn.to_owned(),
        max_receive_count: count as u32,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_rendering() {
        let config = QueueConfig::new("jobs");
        let stats = QueueStats {
            visible: 3,
            in_flight: 2,
            delayed: 1,
            oldest_age_ms: 0,
        };
        let out = config.attributes("arn:aws:sqs:us-east-1:1:jobs", &stats);
        assert_eq!(out["QueueArn"], "arn:aws:sqs:us-east-1:1:jobs");
        assert_eq!(out["ApproximateNumberOfMessages"], "3");
        assert_eq!(out["ApproximateNumberOfMessagesNotVisible"], "2");
        assert_eq!(out["ApproximateNumberOfMessagesDelayed"], "1");
        assert_eq!(out["VisibilityTimeout"], "30");
        assert_eq!(out["MaximumMessageSize"], "262144");
        assert_eq!(out["MessageRetentionPeriod"], "345600");
        assert_eq!(out["DelaySeconds"], "0");
        assert_eq!(out["ReceiveMessageWaitTimeSeconds"], "0");
        assert_eq!(
            out["CreatedTimestamp"],
            (config.created_ms / 1000).to_string()
        );
        assert!(!out.contains_key("FifoQueue"));
        assert!(!out.contains_key("RedrivePolicy"));
        for name in out.keys() {
            assert!(ATTRIBUTE_NAMES.contains(&name.as_str()), "{name}");
        }
    }

    #[test]
    fn apply_parses_and_checks_ranges() {
        let mut config = QueueConfig::new("jobs.fifo");
        config
            .apply_attributes(&attrs(&[
                ("VisibilityTimeout", "43200"),
                ("DelaySeconds", "900"),
                ("MessageRetentionPeriod", "60"),
                ("MaximumMessageSize", "1024"),
                ("ReceiveMessageWaitTimeSeconds", "20"),
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "true"),
                (
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq.fifo","maxReceiveCount":"3"}"#,
                ),
            ]))
            .unwrap();
        assert!(config.validate().is_ok());
        assert_eq!(config.visibility_timeout, 43_200);
        let policy = config.redrive_policy.clone().unwrap();
        assert_eq!(
            (policy.target_name(), policy.max_receive_count),
            ("dlq.fifo", 3)
        );
        let out = config.attributes("arn", &QueueStats::default());
        assert_eq!(out["FifoQueue"], "true");
        assert_eq!(out["ContentBasedDeduplication"], "true");
        assert_eq!(
            out["RedrivePolicy"],
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq.fifo","maxReceiveCount":3}"#
        );

        for (name, value) in [
            ("VisibilityTimeout", "43201"),
            ("DelaySeconds", "-1"),
            ("MessageRetentionPeriod", "59"),
            ("MaximumMessageSize", "262145"),
            ("ReceiveMessageWaitTimeSeconds", "21"),
            ("VisibilityTimeout", "ten"),
            ("FifoQueue", "yes"),
            ("RedrivePolicy", r#"{"maxReceiveCount":3}"#),
            (
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:d","maxReceiveCount":0}"#,
            ),
        ] {
            let mut c = QueueConfig::new("q");
            assert_eq!(
                c.apply_attributes(&attrs(&[(name, value)])),
                Err(QueueError::InvalidAttributeValue(name.to_owned())),
                "{name}={value}"
            );
        }
        let mut c = QueueConfig::new("q");
        assert_eq!(
            c.apply_attributes(&attrs(&[("Colour", "blue")])),
            Err(QueueError::InvalidAttributeName("Colour".into()))
        );
    }

    #[test]
    fn names() {
        assert!(validate_name("a-b_C9", false).is_ok());
        assert!(validate_name(&"x".repeat(80), false).is_ok());
        assert!(validate_name(&"x".repeat(81), false).is_err());
        assert!(validate_name("", false).is_err());
        assert!(validate_name("has.dot", false).is_err());
        assert!(validate_name("jobs.fifo", false).is_err());
        assert!(validate_name("jobs.fifo", true).is_ok());
        assert!(validate_name("jobs", true).is_err());
        assert!(validate_name(".fifo", true).is_err());
        let mut c = QueueConfig::new("std");
        c.content_based_deduplication = true;
        assert_eq!(
            c.validate(),
            Err(QueueError::InvalidAttributeName(
                "ContentBasedDeduplication".into()
            ))
        );
    }
}
