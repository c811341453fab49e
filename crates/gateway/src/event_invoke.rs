//! Event-invoke configs (REST-JSON, Lambda shapes):
//! `/2019-09-25/functions/{name}/event-invoke-config` — `PUT` (Put,
//! replaces), `POST` (Update, merges), `GET`, `DELETE` — with
//! `?Qualifier=` (or `name:qualifier`), and `…/event-invoke-config/list`.
//!
//! The function and qualifier must exist (`ResourceNotFoundException`);
//! ranges are `ValidationException`s, destinations that cannot be used
//! `InvalidParameterValueException`s.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_api::validate::Violations;
use updraft_api::{parse_json, LambdaError};
use updraft_events::{ConfigChange, EventInvokeConfig, EventsError};
use updraft_types::{FunctionName, FunctionRef, LATEST};

use crate::{ApiError, AppState, InAccount, Tenant};

type Answer = Result<Response, ApiError>;
type Params = Query<HashMap<String, String>>;

/// Most configs one List page holds (Lambda's `MaxItems` bound).
const MAX_LIST_ITEMS: u32 = 50;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(get_config).put(put).post(update).delete(delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(list),
        )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct OnDestination {
    destination: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct DestinationConfig {
    on_success: Option<OnDestination>,
    on_failure: Option<OnDestination>,
}

/// The body of Put and Update.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ConfigRequest {
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfig>,
}

impl ConfigRequest {
    fn validate(self) -> Result<ConfigChange, LambdaError> {
        let mut v = Violations::new();
        let retries = self
            .maximum_retry_attempts
            .and_then(|n| v.range(n, "maximumRetryAttempts", 0, 2));
        let age = self
            .maximum_event_age_in_seconds
            .and_then(|n| v.range(n, "maximumEventAgeInSeconds", 60, 21_600));
        v.finish()?;
        let destinations = self.destination_config.unwrap_or_default();
        let arn = |d: Option<OnDestination>| d.map(|d| d.destination.unwrap_or_default());
        Ok(ConfigChange {
            maximum_retry_attempts: retries,
            maximum_event_age_in_seconds: age,
            on_success: arn(destinations.on_success),
            on_failure: arn(destinations.on_failure),
        })
    }
}

impl From<EventsError> for ApiError {
    fn from(e: EventsError) -> Self {
        ApiError(match e {
            EventsError::InvalidParameterValue(m) => LambdaError::InvalidParameterValue(m),
            EventsError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                LambdaError::Service("An internal error occurred; see the server log.".into())
            }
        })
    }
}

/// The function and qualifier (`$LATEST` when none) a request names;
/// both must exist.
fn target(
    state: &Tenant,
    raw: &str,
    params: &HashMap<String, String>,
) -> Result<(FunctionName, String), ApiError> {
    let r = crate::invoke::target_ref(raw, params)?;
    state.registry.resolve(&r.name, r.qualifier.as_ref())?;
    let qualifier = r
        .qualifier
        .map(|q| q.to_string())
        .unwrap_or_else(|| LATEST.to_string());
    Ok((r.name, qualifier))
}

fn no_config(state: &Tenant, function: &FunctionName, qualifier: &str) -> ApiError {
    let arn = state.registry.account().qualified_arn(function, qualifier);
    ApiError(LambdaError::ResourceNotFound(format!(
        "The function {arn} doesn't have an EventInvokeConfig"
    )))
}

fn render(state: &Tenant, c: &EventInvokeConfig) -> Value {
    let function = FunctionName::new(c.function.as_str()).expect("stored names are valid");
    let destination = |arn: &Option<String>| match arn {
        Some(a) => json!({"Destination": a}),
        None => json!({}),
    };
    let mut out = json!({
        "LastModified": c.last_modified_ms as f64 / 1000.0,
        "FunctionArn": state.registry.account().qualified_arn(&function, &c.qualifier),
        "DestinationConfig": {
            "OnSuccess": destination(&c.on_success),
            "OnFailure": destination(&c.on_failure),
        },
    });
    if let Some(n) = c.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = c.maximum_event_age_in_seconds {
        out["MaximumEventAgeInSeconds"] = json!(n);
    }
    out
}

async fn put(s: InAccount, Path(name): Path<String>, Query(params): Params, body: Bytes) -> Answer {
    let (function, qualifier) = target(&s, &name, &params)?;
    let change = parse_json::<ConfigRequest>(&body)?.validate()?;
    let config = s.events.put_config(&function, &qualifier, change).await?;
    Ok(Json(render(&s, &config)).into_response())
}

async fn update(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let (function, qualifier) = target(&s, &name, &params)?;
    let change = parse_json::<ConfigRequest>(&body)?.validate()?;
    match s
        .events
        .update_config(&function, &qualifier, change)
        .await?
    {
        Some(config) => Ok(Json(render(&s, &config)).into_response()),
        None => Err(no_config(&s, &function, &qualifier)),
    }
}

async fn get_config(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let (function, qualifier) = target(&s, &name, &params)?;
    match s.events.get_config(&function, &qualifier) {
        Some(config) => Ok(Json(render(&s, &config)).into_response()),
        None => Err(no_config(&s, &function, &qualifier)),
    }
}

async fn delete(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let (function, qualifier) = target(&s, &name, &params)?;
    if s.events.delete_config(&function, &qualifier).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(no_config(&s, &function, &qualifier))
    }
}

async fn list(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let function = FunctionRef::parse(&name)?.name;
    s.registry.resolve(&function, None)?;
    let max = match params.get("MaxItems") {
        None => None,
        Some(raw) => {
            let n: i64 = raw.parse().map_err(|_| {
                LambdaError::InvalidParameterValue(format!(
                    "MaxItems must be a number, not '{raw}'."
                ))
            })?;
            let mut v = Violations::new();
            let n = v.range(n, "maxItems", 1, MAX_LIST_ITEMS);
            v.finish()?;
            n.map(|n| n as usize)
        }
    };
    let all = s.events.list_configs(&function);
    let (items, next) = updraft_api::paginate(
        all,
        |c| c.qualifier.clone(),
        params.get("Marker").map(String::as_str),
        max,
    )?;
    let mut out = json!({
        "FunctionEventInvokeConfigs": items.iter().map(|c| render(&s, c)).collect::<Vec<_>>(),
    });
    if let Some(marker) = next {
        out["NextMarker"] = json!(marker);
    }
    Ok(Json(out).into_response())
}
