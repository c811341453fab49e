//! CloudWatch Logs' dispatch, errors and the pieces every operation shares.
//!
//! Requests are JSON objects with CloudWatch's camelCase fields; fields
//! this server does not know are ignored, as newer clients send some.
//! Errors are `{"__type", "message"}` with status 400 (500 for the
//! store's own failures), CloudWatch's wording.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use updraft_store::StoreError;

use super::{events, groups, json_error, streams};
use crate::{InAccount, Tenant};

/// A CloudWatch Logs error.
#[derive(Debug)]
pub(super) struct LogsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl LogsError {
    pub fn invalid(message: impl Into<String>) -> Self {
        LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterException",
            message: message.into(),
        }
    }

    pub fn group_not_found() -> Self {
        LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "ResourceNotFoundException",
            message: "The specified log group does not exist.".into(),
        }
    }

    pub fn stream_not_found() -> Self {
        LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "ResourceNotFoundException",
            message: "The specified log stream does not exist.".into(),
        }
    }

    pub fn group_exists() -> Self {
        LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "ResourceAlreadyExistsException",
            message: "The specified log group already exists".into(),
        }
    }

    pub fn stream_exists() -> Self {
        LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "ResourceAlreadyExistsException",
            message: "The specified log stream already exists".into(),
        }
    }

    /// A store failure: `NotFound` and `Conflict` as the operation's own
    /// errors (`missing`, `exists`), anything else a 500.
    pub fn store(e: StoreError, missing: fn() -> Self, exists: fn() -> Self) -> Self {
        match e {
            StoreError::NotFound(what) if what.starts_with("log stream") => {
                LogsError::stream_not_found()
            }
            StoreError::NotFound(_) => missing(),
            StoreError::Conflict(_) => exists(),
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "CloudWatch Logs store call failed");
                LogsError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "ServiceUnavailableException",
                    message: "The service cannot complete the request.".into(),
                }
            }
        }
    }
}

impl From<StoreError> for LogsError {
    fn from(e: StoreError) -> Self {
        LogsError::store(e, LogsError::group_not_found, LogsError::group_exists)
    }
}

impl IntoResponse for LogsError {
    fn into_response(self) -> Response {
        json_error(self.status, self.code, &self.message)
    }
}

pub(super) type Answer = Result<Value, LogsError>;

/// Runs one operation (`Logs_20140328.` stripped) on the blocking pool.
pub(super) async fn handle(state: &InAccount, operation: &str, body: &[u8]) -> Response {
    let tenant = state.tenant.clone();
    let operation = operation.to_string();
    let body = body.to_vec();
    let answer = tokio::task::spawn_blocking(move || dispatch(&tenant, &operation, &body)).await;
    match answer {
        Ok(Ok(value)) => (
            [(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            value.to_string(),
        )
            .into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "CloudWatch Logs call panicked");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceUnavailableException",
                "The service cannot complete the request.",
            )
        }
    }
}

fn dispatch(t: &Arc<Tenant>, operation: &str, body: &[u8]) -> Result<Value, LogsError> {
    let t: &Tenant = t;
    match operation {
        "CreateLogGroup" => groups::create(t, parse(body)?),
        "DeleteLogGroup" => groups::delete(t, parse(body)?),
        "DescribeLogGroups" => groups::describe(t, parse(body)?),
        "PutRetentionPolicy" => groups::put_retention(t, parse(body)?),
        "DeleteRetentionPolicy" => groups::delete_retention(t, parse(body)?),
        "TagLogGroup" => groups::tag_log_group(t, parse(body)?),
        "UntagLogGroup" => groups::untag_log_group(t, parse(body)?),
        "ListTagsLogGroup" => groups::list_tags_log_group(t, parse(body)?),
        "TagResource" => groups::tag_resource(t, parse(body)?),
        "UntagResource" => groups::untag_resource(t, parse(body)?),
        "ListTagsForResource" => groups::list_tags_for_resource(t, parse(body)?),
        "CreateLogStream" => streams::create(t, parse(body)?),
        "DeleteLogStream" => streams::delete(t, parse(body)?),
        "DescribeLogStreams" => streams::describe(t, parse(body)?),
        "PutLogEvents" => streams::put_events(t, parse(body)?),
        "GetLogEvents" => events::get(t, parse(body)?),
        "FilterLogEvents" => events::filter(t, parse(body)?),
        other => Err(LogsError {
            status: StatusCode::BAD_REQUEST,
            code: "UnknownOperationException",
            message: format!("Operation Logs_20140328.{other} is not supported"),
        }),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, LogsError> {
    let body = if body.is_empty() {
        b"{}" as &[u8]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| LogsError {
        status: StatusCode::BAD_REQUEST,
        code: "SerializationException",
        message: format!("could not parse the request: {e}"),
    })
}

/// Milliseconds since the epoch.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A group's ARN as `DescribeLogGroups`' `arn` writes it (with `:*`).
pub(super) fn group_arn(t: &Tenant, group: &str) -> String {
    format!(
        "arn:aws:logs:{}:{}:log-group:{group}:*",
        t.account.region, t.account.account_id
    )
}

/// The group a request names: `logGroupName`, or `logGroupIdentifier` (a
/// name or a group ARN, with or without `:*`).
pub(super) fn group_of(
    name: Option<String>,
    identifier: Option<String>,
) -> Result<String, LogsError> {
    if name.is_some() && identifier.is_some() {
        return Err(LogsError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        ));
    }
    match (name, identifier) {
        (Some(name), _) => valid_group_name(name),
        // The `arn` DescribeLogGroups shows ends in `:*`, which is no
        // identifier (its `logGroupArn` is).
        (None, Some(id)) if id.contains('*') => Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{id}' at 'logGroupIdentifier' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: \
             [\\w#+=/:,.@-]*"
        ))),
        (None, Some(id)) => match id.strip_prefix("arn:") {
            Some(_) => group_of_arn(&id).ok_or_else(LogsError::group_not_found),
            None => valid_group_name(id),
        },
        (None, None) => Err(LogsError::invalid(
            "Should provide either name or identifier for the log group.",
        )),
    }
}

/// The group name in `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`.
pub(super) fn group_of_arn(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("logs"), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = resource.strip_prefix("log-group:")?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    (!name.is_empty()).then(|| name.to_string())
}

/// A group name as CloudWatch allows them: 1 to 512 of `[.\-_/#A-Za-z0-9]`.
pub(super) fn valid_group_name(name: String) -> Result<String, LogsError> {
    if name.len() > 512 {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy \
             constraint: Member must have length less than or equal to 512"
        )));
    }
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'));
    if ok {
        Ok(name)
    } else {
        Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )))
    }
}

/// A stream name as CloudWatch allows them: 1 to 512 characters, no `:`
/// or `*`.
pub(super) fn valid_stream_name(name: String) -> Result<String, LogsError> {
    let ok = (1..=512).contains(&name.len()) && !name.contains([':', '*']);
    if ok {
        Ok(name)
    } else {
        Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [^:*]*"
        )))
    }
}

/// `limit` within `1..=max`, `default` when absent.
pub(super) fn limit(given: Option<i64>, default: usize, max: usize) -> Result<usize, LogsError> {
    match given {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) if n < 1 => Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1"
        ))),
        Some(n) => Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: \
             Member must have value less than or equal to {max}"
        ))),
    }
}

/// An offset paging token (`DescribeLogGroups`, `DescribeLogStreams`);
/// a token this server did not hand out is past the end (an empty page
/// without a token, as CloudWatch answers it).
pub(super) fn offset_token(token: Option<&str>) -> usize {
    match token {
        None => 0,
        Some(t) => t
            .strip_prefix("o/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX),
    }
}

/// One page of `items` from `offset`, and the token of the next page.
pub(super) fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let end = offset.saturating_add(page.len());
    let next = (end < total).then(|| format!("o/{end}"));
    (page, next)
}
