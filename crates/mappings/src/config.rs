//! What a mapping is: the stored record, the requests that create and
//! change it, and the rules Lambda applies to them for SQS queues and
//! DynamoDB streams.

use serde::{Deserialize, Serialize};
use updraft_types::{Account, Arn, FunctionName, FunctionRef};

use crate::MappingError;

/// The event store's resource kind of mappings (keyed by UUID).
pub const KIND: &str = "event-source-mapping";
/// `BatchSize` when the request gives none.
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// `BatchSize` of a stream mapping when the request gives none.
pub const DEFAULT_STREAM_BATCH_SIZE: u32 = 100;
/// The largest batch from a DynamoDB stream.
pub const MAX_STREAM_BATCH: u32 = 10_000;
/// The largest batch Lambda takes without a batching window.
pub const MAX_BATCH_WITHOUT_WINDOW: u32 = 10;
/// The largest batch from a FIFO queue.
pub const MAX_FIFO_BATCH: u32 = 10;

/// One mapping, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: String,
    /// `arn:aws:sqs:REGION:ACCOUNT:QUEUE`, or a DynamoDB stream's ARN.
    pub event_source_arn: String,
    /// The queue's name (the ARN's last part); empty for a stream.
    pub queue: String,
    pub function: FunctionName,
    /// A version or alias, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`.
    pub batching_window: u32,
    pub enabled: bool,
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`: the most pollers (and so
    /// concurrent invocations) the mapping runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
    /// ms since the Unix epoch.
    pub last_modified_ms: i64,
    /// Why the state last changed (`USER_INITIATED`).
    pub state_transition_reason: String,
    /// The settings of a DynamoDB stream source; `None` for a queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSettings>,
}

/// What a stream mapping adds to a queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// The table whose stream is read.
    pub table: String,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// `MaximumRetryAttempts`: -1 retries until the records expire.
    pub maximum_retry_attempts: i64,
    /// `MaximumRecordAgeInSeconds`: -1 for no limit.
    pub maximum_record_age: i64,
    /// `BisectBatchOnFunctionError`.
    pub bisect_batch_on_function_error: bool,
    /// `DestinationConfig.OnFailure.Destination`: an SQS queue's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
}

/// The stream settings of a request, as far as it gives them.
#[derive(Debug, Clone, Default)]
pub struct StreamRequest {
    pub starting_position: Option<String>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age: Option<i64>,
    pub bisect_batch_on_function_error: Option<bool>,
    /// `Some(None)`: an empty `OnFailure` (removes it).
    pub on_failure: Option<Option<String>>,
}

impl StreamRequest {
    /// Whether the request gives any stream setting.
    pub fn is_empty(&self) -> bool {
        self.starting_position.is_none()
            && self.maximum_retry_attempts.is_none()
            && self.maximum_record_age.is_none()
            && self.bisect_batch_on_function_error.is_none()
            && self.on_failure.is_none()
    }
}

impl Mapping {
    /// The function's ARN as Lambda reports it: qualified when the
    /// mapping names a version or alias.
    pub fn function_arn(&self, account: &Account) -> String {
        match &self.qualifier {
            Some(q) => account.qualified_arn(&self.function, q),
            None => account.function_arn(&self.function),
        }
    }
}

/// Where a mapping is in its life, as Lambda names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Updating,
    Deleting,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "Creating",
            State::Enabling => "Enabling",
            State::Enabled => "Enabled",
            State::Disabling => "Disabling",
            State::Disabled => "Disabled",
            State::Updating => "Updating",
            State::Deleting => "Deleting",
        }
    }

    /// The settled state of a mapping.
    pub fn of(mapping: &Mapping) -> State {
        if mapping.enabled {
            State::Enabled
        } else {
            State::Disabled
        }
    }
}

/// A mapping and its state, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingStatus {
    pub mapping: Mapping,
    pub state: State,
}

/// `CreateEventSourceMapping`, after the wire shape's own constraints
/// (ranges, enums) were checked.
#[derive(Debug, Clone)]
pub struct NewMapping {
    pub event_source_arn: String,
    pub function: FunctionRef,
    pub enabled: Option<bool>,
    pub batch_size: Option<u32>,
    pub batching_window: Option<u32>,
    pub report_batch_item_failures: bool,
    pub maximum_concurrency: Option<u32>,
    /// Stream settings (refused for a queue).
    pub stream: StreamRequest,
}

/// `UpdateEventSourceMapping`: `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct MappingUpdate {
    pub function: Option<FunctionRef>,
    pub enabled: Option<bool>,
    pub batch_size: Option<u32>,
    pub batching_window: Option<u32>,
    pub report_batch_item_failures: Option<bool>,
    /// `Some(None)` removes the scaling configuration.
    pub maximum_concurrency: Option<Option<u32>>,
    /// Stream settings (refused for a queue; `StartingPosition` cannot
    /// change).
    pub stream: StreamRequest,
}

/// A queue ARN's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueArn {
    pub region: String,
    pub account_id: String,
    pub queue: String,
}

/// Parses an `EventSourceArn`: the model's ARN pattern first
/// (`ValidationException`), then that it names an SQS queue
/// (`InvalidParameterValueException`).
pub fn parse_queue_arn(arn: &str) -> Result<QueueArn, MappingError> {
    let Some(parts) =
        Arn::parse(arn).filter(|a| a.partition.starts_with("aws") && !a.service.is_empty())
    else {
        return Err(MappingError::Validation(format!(
            "1 validation error detected: Value '{arn}' at 'eventSourceArn' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: \
             arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)"
        )));
    };
    if parts.service != "sqs" {
        return Err(MappingError::InvalidParameter(format!(
            "Unsupported event source type: {}. Event source mappings read SQS queues and DynamoDB streams.",
            parts.service
        )));
    }
    Ok(QueueArn {
        region: parts.region.to_string(),
        account_id: parts.account.to_string(),
        queue: parts.resource.to_string(),
    })
}

/// A DynamoDB stream ARN's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamArn {
    pub region: String,
    pub account_id: String,
    pub table: String,
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL`, or `None`
/// for any other ARN.
pub fn parse_stream_arn(arn: &str) -> Option<StreamArn> {
    let parts = Arn::parse(arn).filter(|a| a.service == "dynamodb")?;
    let (table, label) = parts
        .resource
        .strip_prefix("table/")?
        .split_once("/stream/")?;
    if table.is_empty() || label.is_empty() {
        return None;
    }
    Some(StreamArn {
        region: parts.region.to_string(),
        account_id: parts.account.to_string(),
        table: table.to_string(),
    })
}

/// Lambda's answer when the queue cannot be read.
pub fn no_such_queue() -> MappingError {
    MappingError::InvalidParameter(
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. \
         SQS Error Message: The specified queue does not exist."
            .into(),
    )
}

/// The rules between settings: a batch larger than 10 needs a batching
/// window, and FIFO queues deliver at most 10 messages a batch.
pub fn check_batching(mapping: &Mapping, fifo: bool) -> Result<(), MappingError> {
    if fifo && mapping.batch_size > MAX_FIFO_BATCH {
        return Err(MappingError::InvalidParameter(format!(
            "BatchSize must be less than or equal to {MAX_FIFO_BATCH} for FIFO queues."
        )));
    }
    if mapping.batch_size > MAX_BATCH_WITHOUT_WINDOW && mapping.batching_window == 0 {
        return Err(MappingError::InvalidParameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_parse_and_other_sources_are_refused() {
        let arn = parse_queue_arn("arn:aws:sqs:us-east-1:000000000000:orders").unwrap();
        assert_eq!(arn.queue, "orders");
        assert_eq!(arn.region, "us-east-1");
        assert_eq!(arn.account_id, "000000000000");
        assert!(matches!(
            parse_queue_arn("orders"),
            Err(MappingError::Validation(_))
        ));
        assert!(matches!(
            parse_queue_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s"),
            Err(MappingError::InvalidParameter(_))
        ));
    }

    #[test]
    fn stream_arns_name_their_table() {
        let arn = parse_stream_arn(
            "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000",
        )
        .unwrap();
        assert_eq!(arn.table, "t");
        assert_eq!(arn.account_id, "000000000000");
        assert_eq!(
            parse_stream_arn("arn:aws:dynamodb:us-east-1:000000000000:table/t"),
            None
        );
        assert_eq!(
            parse_stream_arn("arn:aws:sqs:us-east-1:000000000000:q"),
            None
        );
    }

    #[test]
    fn large_batches_need_a_window() {
        let mut m = Mapping {
            uuid: "u".into(),
            event_source_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            queue: "q".into(),
            function: FunctionName::new("f").unwrap(),
            qualifier: None,
            batch_size: 100,
            batching_window: 0,
            enabled: true,
            report_batch_item_failures: false,
            maximum_concurrency: None,
            last_modified_ms: 0,
            state_transition_reason: "USER_INITIATED".into(),
            stream: None,
        };
        assert!(check_batching(&m, false).is_err());
        m.batching_window = 1;
        assert!(check_batching(&m, false).is_ok());
        assert!(check_batching(&m, true).is_err());
        m.batch_size = 10;
        m.batching_window = 0;
        assert!(check_batching(&m, true).is_ok());
    }
}
