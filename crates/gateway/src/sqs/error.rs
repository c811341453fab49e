//! SQS errors, rendered for either protocol.
//!
//! One error has two names: the shape name of the JSON protocol
//! (`__type: com.amazonaws.sqs#QueueDoesNotExist`) and the query code
//! (`AWS.SimpleQueueService.NonExistentQueue`). JSON answers carry the
//! query code in `x-amzn-query-error: CODE;Sender`, from which botocore
//! (the service is `awsQueryCompatible`) raises the modeled exception and
//! reports the query code; query answers put it in an XML `ErrorResponse`.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use updraft_queues::QueueError;

use super::query::escape;

/// A failed SQS call: what both protocols render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    /// The JSON protocol's error shape (`__type` after `#`).
    pub shape: &'static str,
    /// The query protocol's error code (also `x-amzn-query-error`).
    pub code: &'static str,
    pub status: StatusCode,
    /// `Sender` (the caller's fault) or `Receiver`.
    pub sender: bool,
    pub message: String,
}

impl SqsError {
    fn sender(shape: &'static str, code: &'static str, message: impl Into<String>) -> SqsError {
        SqsError {
            shape,
            code,
            status: StatusCode::BAD_REQUEST,
            sender: true,
            message: message.into(),
        }
    }

    pub fn queue_does_not_exist() -> SqsError {
        SqsError::sender(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            "The specified queue does not exist.",
        )
    }

    pub fn queue_name_exists(message: impl Into<String>) -> SqsError {
        SqsError::sender("QueueNameExists", "QueueAlreadyExists", message)
    }

    pub fn invalid_attribute_name(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidAttributeName", "InvalidAttributeName", message)
    }

    pub fn invalid_attribute_value(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidAttributeValue", "InvalidAttributeValue", message)
    }

    pub fn invalid_parameter_value(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidParameterValue", "InvalidParameterValue", message)
    }

    /// `Value {value} for parameter {name} is invalid. Reason: {reason}`.
    pub fn invalid_value(name: &str, value: impl std::fmt::Display, reason: &str) -> SqsError {
        SqsError::invalid_parameter_value(format!(
            "Value {value} for parameter {name} is invalid. Reason: {reason}"
        ))
    }

    pub fn missing_parameter(name: &str) -> SqsError {
        SqsError::sender(
            "MissingParameter",
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    }

    pub fn invalid_message_contents(message: impl Into<String>) -> SqsError {
        SqsError::sender("InvalidMessageContents", "InvalidMessageContents", message)
    }

    pub fn receipt_handle_is_invalid(message: impl Into<String>) -> SqsError {
        SqsError::sender("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", message)
    }

    pub fn message_not_inflight(message: impl Into<String>) -> SqsError {
        SqsError::sender(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            message,
        )
    }

    pub fn empty_batch(entry: &str) -> SqsError {
        SqsError::sender(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            format!("There should be at least one {entry} in the request."),
        )
    }

    pub fn too_many_entries(count: usize) -> SqsError {
        SqsError::sender(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {count}."),
        )
    }

    pub fn ids_not_distinct(id: &str) -> SqsError {
        SqsError::sender(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            format!("Id {id} repeated."),
        )
    }

    pub fn invalid_batch_entry_id() -> SqsError {
        SqsError::sender(
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and \
             underscores. It can be at most 80 letters long.",
        )
    }

    pub fn batch_too_long(limit: usize, sent: usize) -> SqsError {
        SqsError::sender(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes."
            ),
        )
    }

    /// An `Action` (query) or `X-Amz-Target` operation SQS does not have.
    pub fn invalid_action(operation: &str) -> SqsError {
        SqsError::sender(
            "UnknownOperationException",
            "InvalidAction",
            format!("The action {operation} is not valid for this endpoint."),
        )
    }

    /// A query request without `Action`.
    pub fn missing_action() -> SqsError {
        SqsError::sender(
            "MissingAction",
            "MissingAction",
            "The request must contain the parameter Action.",
        )
    }

    /// A JSON body that does not parse into the operation's input.
    pub fn serialization(detail: impl std::fmt::Display) -> SqsError {
        SqsError::sender(
            "SerializationException",
            "SerializationException",
            format!("Could not parse the request: {detail}"),
        )
    }

    /// The store failed: logged here, reported without detail.
    pub fn internal(detail: &str) -> SqsError {
        tracing::error!(error = %detail, "sqs: internal error");
        SqsError {
            shape: "InternalError",
            code: "InternalError",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            sender: false,
            message: "We encountered an internal error. Please try again.".into(),
        }
    }

    fn fault(&self) -> &'static str {
        if self.sender {
            "Sender"
        } else {
            "Receiver"
        }
    }

    /// The JSON protocol's answer: `__type`, `message` and
    /// `x-amzn-query-error`.
    pub fn json_response(&self, request_id: &str) -> Response {
        let shape_prefix = if matches!(
            self.shape,
            "SerializationException" | "UnknownOperationException"
        ) {
            "com.amazon.coral.service#"
        } else {
            "com.amazonaws.sqs#"
        };
        (
            self.status,
            [
                (
                    http::header::CONTENT_TYPE,
                    "application/x-amz-json-1.0".to_string(),
                ),
                (
                    http::HeaderName::from_static("x-amzn-query-error"),
                    format!("{};{}", self.code, self.fault()),
                ),
                (
                    http::HeaderName::from_static("x-amzn-requestid"),
                    request_id.to_string(),
                ),
            ],
            json!({ "__type": format!("{shape_prefix}{}", self.shape), "message": self.message })
                .to_string(),
        )
            .into_response()
    }

    /// The query protocol's answer: an XML `ErrorResponse`.
    pub fn xml_response(&self, request_id: &str) -> Response {
        let body = format!(
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{ns}\"><Error><Type>{fault}</Type>\
             <Code>{code}</Code><Message>{message}</Message><Detail/></Error>\
             <RequestId>{request_id}</RequestId></ErrorResponse>",
            ns = super::query::XMLNS,
            fault = self.fault(),
            code = self.code,
            message = escape(&self.message),
        );
        (
            self.status,
            [
                (http::header::CONTENT_TYPE, "text/xml".to_string()),
                (
                    http::HeaderName::from_static("x-amzn-requestid"),
                    request_id.to_string(),
                ),
            ],
            body,
        )
            .into_response()
    }
}

impl From<QueueError> for SqsError {
    fn from(e: QueueError) -> Self {
        let message = e.to_string();
        match e {
            QueueError::NonExistentQueue => SqsError::queue_does_not_exist(),
            QueueError::QueueAlreadyExists(_) => SqsError::queue_name_exists(message),
            QueueError::InvalidAttributeName(_) => SqsError::invalid_attribute_name(message),
            QueueError::InvalidAttributeValue(_) => SqsError::invalid_attribute_value(message),
            QueueError::InvalidParameterValue(_) => SqsError::invalid_parameter_value(message),
            QueueError::MissingParameter(_) => SqsError {
                shape: "MissingParameter",
                code: "MissingParameter",
                status: StatusCode::BAD_REQUEST,
                sender: true,
                message,
            },
            QueueError::OverLimit(_) => SqsError {
                shape: "OverLimit",
                code: "OverLimit",
                status: StatusCode::FORBIDDEN,
                sender: true,
                message,
            },
            QueueError::InvalidMessageContents(_) => SqsError::invalid_message_contents(message),
            QueueError::ReceiptHandleIsInvalid(_) => SqsError::receipt_handle_is_invalid(message),
            QueueError::MessageNotInflight(_) => SqsError::message_not_inflight(message),
            QueueError::Internal(detail) => SqsError::internal(&detail),
        }
    }
}
