//! Event source mappings (REST-JSON, Lambda's 2015-03-31 API):
//! `/2015-03-31/event-source-mappings[/]` (create, list) and
//! `/2015-03-31/event-source-mappings/{UUID}` (get, update, delete).
//!
//! Handlers check the wire shape's modelled constraints
//! (`ValidationException`) and turn it into the typed requests of
//! [`updraft_mappings`], which applies Lambda's rules for SQS queues and
//! DynamoDB streams. The function's execution role must be allowed to
//! read the source (and to send to a stream mapping's `OnFailure` queue).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_api::validate::Violations;
use updraft_api::{paginate, parse_json, parse_max_items, LambdaError};
use updraft_mappings::{MappingError, MappingStatus, MappingUpdate, NewMapping, StreamRequest};
use updraft_types::{Account, FunctionRef};

use crate::{ApiError, AppState, InAccount, Tenant};

type Answer = Result<Response, ApiError>;

/// The only `FunctionResponseTypes` value.
const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

/// Request members of other event source types (Kinesis, Kafka,
/// DocumentDB) and optional features this server does not offer; a
/// request with one is refused rather than half applied.
const UNSUPPORTED: &[&str] = &[
    "FilterCriteria",
    "ParallelizationFactor",
    "StartingPositionTimestamp",
    "Tags",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "ProvisionedPollerConfig",
];

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/2015-03-31/event-source-mappings", post(create).get(list))
        .route("/2015-03-31/event-source-mappings/", post(create).get(list))
        .route(
            "/2015-03-31/event-source-mappings/{uuid}",
            get(get_one).put(update).delete(delete),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ScalingConfig {
    maximum_concurrency: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct Destination {
    destination: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DestinationConfig {
    on_success: Option<Destination>,
    on_failure: Option<Destination>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct CreateRequest {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingConfig>,
    starting_position: Option<String>,
    maximum_retry_attempts: Option<i64>,
    maximum_record_age_in_seconds: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    destination_config: Option<DestinationConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct UpdateRequest {
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingConfig>,
    maximum_retry_attempts: Option<i64>,
    maximum_record_age_in_seconds: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    destination_config: Option<DestinationConfig>,
}

/// The stream members of a request, checked against the model:
/// `MaximumRetryAttempts` -1 to 10,000, `MaximumRecordAgeInSeconds` -1
/// or 60 to 604,800, `OnFailure` only.
fn stream_request(
    v: &mut Violations,
    starting_position: Option<String>,
    retries: Option<i64>,
    age: Option<i64>,
    bisect: Option<bool>,
    destination: Option<DestinationConfig>,
) -> Result<StreamRequest, ApiError> {
    if let Some(p) = &starting_position {
        if !matches!(p.as_str(), "TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP") {
            v.add(
                p,
                "startingPosition",
                "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
            );
        }
    }
    if let Some(n) = retries {
        if !(-1..=10_000).contains(&n) {
            v.add(
                n,
                "maximumRetryAttempts",
                "Member must have value between -1 and 10000",
            );
        }
    }
    if let Some(n) = age {
        if !(-1..=604_800).contains(&n) {
            v.add(
                n,
                "maximumRecordAgeInSeconds",
                "Member must have value between -1 and 604800",
            );
        } else if (0..60).contains(&n) {
            return Err(ApiError(LambdaError::InvalidParameterValue(
                "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800".into(),
            )));
        }
    }
    let on_failure = match destination {
        None => None,
        Some(config) => {
            if config.on_success.is_some_and(|d| d.destination.is_some()) {
                return Err(ApiError(LambdaError::InvalidParameterValue(
                    "Unsupported OnSuccess destination for DynamoDB Streams event source mappings."
                        .into(),
                )));
            }
            Some(config.on_failure.and_then(|d| d.destination))
        }
    };
    Ok(StreamRequest {
        starting_position,
        maximum_retry_attempts: retries,
        maximum_record_age: age,
        bisect_batch_on_function_error: bisect,
        on_failure,
    })
}

/// The settings both requests share, checked against the model.
struct Settings {
    batch_size: Option<u32>,
    batching_window: Option<u32>,
    report_batch_item_failures: Option<bool>,
    /// `Some(None)`: an empty `ScalingConfig` (removes it).
    maximum_concurrency: Option<Option<u32>>,
}

fn settings(
    v: &mut Violations,
    batch_size: Option<i64>,
    window: Option<i64>,
    response_types: Option<Vec<String>>,
    scaling: Option<ScalingConfig>,
) -> Settings {
    let batch_size = batch_size.and_then(|n| v.range(n, "batchSize", 1, 10_000));
    let batching_window = window.and_then(|n| v.range(n, "maximumBatchingWindowInSeconds", 0, 300));
    let report_batch_item_failures = response_types.map(|types| {
        if types.len() > 1 {
            v.add(
                format!("[{}]", types.join(", ")),
                "functionResponseTypes",
                "Member must have length less than or equal to 1",
            );
        }
        if let Some(bad) = types.iter().find(|t| *t != REPORT_BATCH_ITEM_FAILURES) {
            v.add(
                format!("[{bad}]"),
                "functionResponseTypes",
                "Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]",
            );
        }
        !types.is_empty()
    });
    let maximum_concurrency = scaling.map(|s| {
        s.maximum_concurrency
            .and_then(|n| v.range(n, "scalingConfig.maximumConcurrency", 2, 1000))
    });
    Settings {
        batch_size,
        batching_window,
        report_batch_item_failures,
        maximum_concurrency,
    }
}

/// Refuses members this server does not implement, before the shape is
/// parsed (which would call them unknown).
fn refuse_unsupported(body: &[u8]) -> Result<(), ApiError> {
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    match UNSUPPORTED.iter().find(|m| members.contains_key(**m)) {
        Some(m) => Err(ApiError(LambdaError::InvalidParameterValue(format!(
            "Unsupported {m} parameter for event source mappings."
        )))),
        None => Ok(()),
    }
}

/// What the function's execution role must be allowed on the queue for
/// Lambda to poll it on the function's behalf.
const POLLING_ACTIONS: [&str; 3] = ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes"];

/// What it must be allowed on a DynamoDB stream.
const STREAM_ACTIONS: [&str; 4] = [
    "GetRecords",
    "GetShardIterator",
    "DescribeStream",
    "ListStreams",
];

/// Lambda polls a queue or a stream with the function's execution role:
/// the role must be allowed to read (and delete) from it, and to send to
/// the `OnFailure` queue, or the mapping is refused with Lambda's words.
/// A function that does not exist or a source that is neither is left to
/// the mapping's own checks.
fn check_role_reads(
    s: &InAccount,
    function: &FunctionRef,
    source_arn: &str,
    on_failure: Option<&str>,
) -> Result<(), ApiError> {
    let (service, label, actions): (&str, &str, &[&str]) =
        match updraft_types::Arn::parse(source_arn).map(|a| a.service) {
            Some("sqs") => ("sqs", "SQS", &POLLING_ACTIONS[..]),
            Some("dynamodb") => ("dynamodb", "DynamoDB", &STREAM_ACTIONS[..]),
            _ => return Ok(()),
        };
    let Ok(target) = s
        .registry
        .resolve(&function.name, function.qualifier.as_ref())
    else {
        return Ok(());
    };
    let role = &target.config.role;
    let may = |action: &str, arn: &str| {
        s.node
            .iam
            .role_may(
                role,
                "lambda.amazonaws.com",
                function.name.as_str(),
                action,
                arn,
            )
            .map_err(|why| {
                tracing::debug!(role, arn, reason = why, "mapping refused for its role");
            })
    };
    for action in actions {
        if may(&format!("{service}:{action}"), source_arn).is_err() {
            return Err(ApiError(LambdaError::InvalidParameterValue(format!(
                "The function execution role does not have permissions to call {action} on {label}"
            ))));
        }
    }
    if let Some(destination) = on_failure {
        if may("sqs:SendMessage", destination).is_err() {
            return Err(ApiError(LambdaError::InvalidParameterValue(
                "The function execution role does not have permissions to call SendMessage on SQS"
                    .into(),
            )));
        }
    }
    Ok(())
}

fn function_ref(name: &str) -> Result<FunctionRef, ApiError> {
    let mut v = Violations::new();
    v.max_len(name, "functionName", 256);
    v.finish()?;
    Ok(FunctionRef::parse(name)?)
}

/// Lambda's `EventSourceMappingConfiguration`.
fn render(status: &MappingStatus, account: &Account) -> Value {
    let m = &status.mapping;
    let mut out = json!({
        "UUID": m.uuid,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.batching_window,
        "EventSourceArn": m.event_source_arn,
        "FunctionArn": m.function_arn(account),
        "LastModified": m.last_modified_ms as f64 / 1000.0,
        "State": status.state.as_str(),
        "StateTransitionReason": m.state_transition_reason,
        "FunctionResponseTypes": if m.report_batch_item_failures { vec![REPORT_BATCH_ITEM_FAILURES] } else { vec![] },
        "EventSourceMappingArn": format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{}",
            account.region, account.account_id, m.uuid
        ),
    });
    if let Some(n) = m.maximum_concurrency {
        out["ScalingConfig"] = json!({ "MaximumConcurrency": n });
    }
    if let Some(stream) = &m.stream {
        out["StartingPosition"] = json!(stream.starting_position);
        out["MaximumRetryAttempts"] = json!(stream.maximum_retry_attempts);
        out["MaximumRecordAgeInSeconds"] = json!(stream.maximum_record_age);
        out["BisectBatchOnFunctionError"] = json!(stream.bisect_batch_on_function_error);
        out["ParallelizationFactor"] = json!(1);
        out["TumblingWindowInSeconds"] = json!(0);
        out["DestinationConfig"] = match &stream.on_failure {
            Some(d) => json!({ "OnFailure": { "Destination": d } }),
            None => json!({ "OnFailure": {} }),
        };
    }
    out
}

fn api_error(e: MappingError) -> ApiError {
    ApiError(match e {
        MappingError::NotFound(m) => LambdaError::ResourceNotFound(m),
        MappingError::InvalidParameter(m) => LambdaError::InvalidParameterValue(m),
        MappingError::Validation(m) => LambdaError::Validation(m),
        MappingError::Conflict(m) => LambdaError::ResourceConflict(m),
        MappingError::Internal(m) => {
            tracing::error!(error = %m, "event source mapping change failed");
            LambdaError::Service("An internal error occurred; see the server log.".into())
        }
    })
}

fn answer(status: StatusCode, mapping: &MappingStatus, state: &Tenant) -> Response {
    (status, Json(render(mapping, state.registry.account()))).into_response()
}

async fn create(s: InAccount, body: Bytes) -> Answer {
    refuse_unsupported(&body)?;
    let req: CreateRequest = parse_json(&body)?;
    let mut v = Violations::new();
    if req.function_name.is_none() {
        v.null("functionName");
    }
    let settings = settings(
        &mut v,
        req.batch_size,
        req.maximum_batching_window_in_seconds,
        req.function_response_types,
        req.scaling_config,
    );
    let stream = stream_request(
        &mut v,
        req.starting_position,
        req.maximum_retry_attempts,
        req.maximum_record_age_in_seconds,
        req.bisect_batch_on_function_error,
        req.destination_config,
    )?;
    v.finish()?;
    let function = function_ref(req.function_name.as_deref().unwrap_or_default())?;
    let Some(event_source_arn) = req.event_source_arn else {
        return Err(ApiError(LambdaError::InvalidParameterValue(
            "EventSourceArn is required: the ARN of an SQS queue or a DynamoDB stream.".into(),
        )));
    };
    let on_failure = stream.on_failure.clone().flatten();
    check_role_reads(&s, &function, &event_source_arn, on_failure.as_deref())?;
    let created = s
        .mappings
        .create(NewMapping {
            event_source_arn,
            function,
            enabled: req.enabled,
            batch_size: settings.batch_size,
            batching_window: settings.batching_window,
            report_batch_item_failures: settings.report_batch_item_failures.unwrap_or(false),
            maximum_concurrency: settings.maximum_concurrency.flatten(),
            stream,
        })
        .await
        .map_err(api_error)?;
    Ok(answer(StatusCode::ACCEPTED, &created, &s))
}

async fn list(s: InAccount, Query(params): Query<HashMap<String, String>>) -> Answer {
    let function = params
        .get("FunctionName")
        .map(|f| function_ref(f))
        .transpose()?;
    let max_items = parse_max_items(params.get("MaxItems").map(String::as_str))?;
    let all = s.mappings.list(
        function.as_ref(),
        params.get("EventSourceArn").map(String::as_str),
    );
    let (page, next) = paginate(
        all,
        |m| m.mapping.uuid.clone(),
        params.get("Marker").map(String::as_str),
        max_items,
    )?;
    let account = s.registry.account();
    let mut out = json!({
        "EventSourceMappings": page.iter().map(|m| render(m, account)).collect::<Vec<_>>(),
    });
    if let Some(marker) = next {
        out["NextMarker"] = json!(marker);
    }
    Ok(Json(out).into_response())
}

async fn get_one(s: InAccount, Path(uuid): Path<String>) -> Answer {
    let mapping = s.mappings.get(&uuid).map_err(api_error)?;
    Ok(answer(StatusCode::OK, &mapping, &s))
}

async fn update(s: InAccount, Path(uuid): Path<String>, body: Bytes) -> Answer {
    refuse_unsupported(&body)?;
    let req: UpdateRequest = parse_json(&body)?;
    let mut v = Violations::new();
    let settings = settings(
        &mut v,
        req.batch_size,
        req.maximum_batching_window_in_seconds,
        req.function_response_types,
        req.scaling_config,
    );
    let stream = stream_request(
        &mut v,
        None,
        req.maximum_retry_attempts,
        req.maximum_record_age_in_seconds,
        req.bisect_batch_on_function_error,
        req.destination_config,
    )?;
    v.finish()?;
    let function = req.function_name.as_deref().map(function_ref).transpose()?;
    let new_destination = stream.on_failure.clone().flatten();
    if function.is_some() || new_destination.is_some() {
        let current = s.mappings.get(&uuid).map_err(api_error)?;
        let function = function.clone().unwrap_or_else(|| FunctionRef {
            name: current.mapping.function.clone(),
            qualifier: current
                .mapping
                .qualifier
                .as_deref()
                .and_then(|q| updraft_types::Qualifier::parse(q).ok()),
        });
        let destination = new_destination.or_else(|| {
            current
                .mapping
                .stream
                .as_ref()
                .and_then(|st| st.on_failure.clone())
        });
        check_role_reads(
            &s,
            &function,
            &current.mapping.event_source_arn,
            destination.as_deref(),
        )?;
    }
    let updated = s
        .mappings
        .update(
            &uuid,
            MappingUpdate {
                function,
                enabled: req.enabled,
                batch_size: settings.batch_size,
                batching_window: settings.batching_window,
                report_batch_item_failures: settings.report_batch_item_failures,
                maximum_concurrency: settings.maximum_concurrency,
                stream,
            },
        )
        .await
        .map_err(api_error)?;
    Ok(answer(StatusCode::ACCEPTED, &updated, &s))
}

async fn delete(s: InAccount, Path(uuid): Path<String>) -> Answer {
    let deleted = s.mappings.delete(&uuid).await.map_err(api_error)?;
    Ok(answer(StatusCode::ACCEPTED, &deleted, &s))
}
