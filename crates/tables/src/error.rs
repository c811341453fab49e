//! The errors of the tables API, in DynamoDB's JSON 1.0 error shape.
//!
//! Every error a client can see maps to one `__type` and status here; the
//! internal ones keep their cause for the log and show the client only
//! "Internal server error".

use serde_json::{json, Value};

/// An error of a tables operation.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// The input is invalid (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// The request body is not the JSON the operation expects.
    #[error("{0}")]
    Serialization(String),
    /// The operation name is not one of the API's.
    #[error("unknown operation {0}")]
    UnknownOperation(String),
    /// The table (or index, or stream) does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The table exists already or is busy.
    #[error("{0}")]
    ResourceInUse(String),
    /// A `ConditionExpression` was false; `item` is the old item when the
    /// request asked for it with `ReturnValuesOnConditionCheckFailure`.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<Value> },
    /// A PartiQL INSERT found an item with the same key.
    #[error("Duplicate primary key exists in table")]
    DuplicateItem,
    /// A transaction did not run; one reason per action, in order.
    #[error("{message}")]
    TransactionCanceled {
        message: String,
        reasons: Vec<Value>,
    },
    /// A `ClientRequestToken` was used again with different parameters.
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    /// A limit of the account or table was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// The database failed.
    #[error("{context}")]
    Database {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be used.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A batch of operations could not be committed (nothing of it was kept).
    #[error("commit failed: {0}")]
    Commit(String),
    /// Stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl TablesError {
    /// A `ValidationException` with this message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// The HTTP status the error is returned with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Database { .. } | Self::Io { .. } | Self::Corrupt(_) | Self::Commit(_) => 500,
            _ => 400,
        }
    }

    /// The error's `__type`, e.g. `com.amazonaws.dynamodb.v20120810#ValidationException`.
    pub fn type_name(&self) -> &str {
        match self {
            Self::Validation(_) => "com.amazonaws.dynamodb.v20120810#ValidationException",
            Self::Serialization(_) => "com.amazon.coral.service#SerializationException",
            Self::UnknownOperation(_) => "com.amazon.coral.service#UnknownOperationException",
            Self::ResourceNotFound(_) => {
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
            }
            Self::ResourceInUse(_) => "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
            Self::ConditionalCheckFailed { .. } => {
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
            }
            Self::DuplicateItem => "com.amazonaws.dynamodb.v20120810#DuplicateItemException",
            Self::TransactionCanceled { .. } => {
                "com.amazonaws.dynamodb.v20120810#TransactionCanceledException"
            }
            Self::IdempotentParameterMismatch(_) => {
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"
            }
            Self::LimitExceeded(_) => "com.amazonaws.dynamodb.v20120810#LimitExceededException",
            Self::Database { .. } | Self::Io { .. } | Self::Corrupt(_) | Self::Commit(_) => {
                "com.amazonaws.dynamodb.v20120810#InternalServerError"
            }
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            Self::Database { .. } | Self::Io { .. } | Self::Corrupt(_) | Self::Commit(_) => {
                "Internal server error".to_string()
            }
            Self::UnknownOperation(_) => String::new(),
            other => other.to_string(),
        }
    }

    /// The JSON body of the error response.
    pub fn body(&self) -> Value {
        let mut body = json!({ "__type": self.type_name(), "message": self.message() });
        match self {
            // With the old item, DynamoDB names the message field `Message`.
            Self::ConditionalCheckFailed { item: Some(item) } => {
                body =
                    json!({ "__type": self.type_name(), "Message": self.message(), "Item": item });
            }
            Self::TransactionCanceled { reasons, .. } => {
                body["CancellationReasons"] = Value::Array(reasons.clone());
            }
            _ => {}
        }
        body
    }

    pub(crate) fn db(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Database { context, source }
    }
}
