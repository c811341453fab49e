//! The EventBridge Scheduler API (REST-JSON, signed for `scheduler`):
//! schedules under `/schedules`, groups under `/schedule-groups`.
//!
//! Handlers parse the wire shape, call [`updraft_schedules::Schedules`]
//! and render its answer; errors are Scheduler's: the status, an
//! `x-amzn-errortype` header and `{"Message": ...}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use updraft_schedules::{ListRequest, ScheduleError, State as ScheduleState};

use crate::{AppState, InAccount};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/schedules", get(list_schedules))
        .route(
            "/schedules/{name}",
            get(get_schedule)
                .post(create_schedule)
                .put(update_schedule)
                .delete(delete_schedule),
        )
        .route("/schedule-groups", get(list_groups))
        .route(
            "/schedule-groups/{name}",
            get(get_group).post(create_group).delete(delete_group),
        )
}

/// A Scheduler error response.
struct SchedulerError(ScheduleError);

impl From<ScheduleError> for SchedulerError {
    fn from(e: ScheduleError) -> Self {
        SchedulerError(e)
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(json!({ "Message": self.0.to_string() }))).into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.0.error_type()),
        );
        response
    }
}

type Result<T> = std::result::Result<T, SchedulerError>;
type Params = Query<HashMap<String, String>>;

fn validation(message: impl Into<String>) -> SchedulerError {
    SchedulerError(ScheduleError::Validation(message.into()))
}

/// Parses a JSON body (an empty body is `{}`); malformed JSON, unknown
/// members and wrong types are `ValidationException`s.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| validation(format!("Invalid request body: {e}")))
}

fn json_ok(value: Value) -> Response {
    Json(value).into_response()
}

/// The filters and paging every list takes.
fn list_request(params: &HashMap<String, String>) -> Result<ListRequest> {
    let max_results = params
        .get("MaxResults")
        .map(|m| {
            m.parse::<usize>()
                .map_err(|_| validation(format!("Invalid MaxResults: {m}")))
        })
        .transpose()?;
    let state = params
        .get("State")
        .map(|s| {
            ScheduleState::parse(s).ok_or_else(|| {
                validation(format!(
                    "1 validation error detected: Value '{s}' at 'state' failed to satisfy \
                     constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
                ))
            })
        })
        .transpose()?;
    Ok(ListRequest {
        name_prefix: params.get("NamePrefix").cloned(),
        group: None,
        state,
        max_results,
        next_token: params.get("NextToken").cloned(),
    })
}

async fn create_schedule(
    state: InAccount,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let input = parse_body(&body)?;
    let arn = state.schedules.create_schedule(&name, input).await?;
    Ok(json_ok(json!({ "ScheduleArn": arn })))
}

async fn update_schedule(
    state: InAccount,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let input = parse_body(&body)?;
    let arn = state.schedules.update_schedule(&name, input).await?;
    Ok(json_ok(json!({ "ScheduleArn": arn })))
}

async fn get_schedule(
    state: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response> {
    let group = params.get("groupName").map(String::as_str);
    let schedule = state.schedules.get_schedule(&name, group).await?;
    Ok(json_ok(json!(schedule)))
}

async fn delete_schedule(
    state: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Result<Response> {
    let group = params.get("groupName").map(String::as_str);
    state.schedules.delete_schedule(&name, group).await?;
    Ok(json_ok(json!({})))
}

async fn list_schedules(state: InAccount, Query(params): Params) -> Result<Response> {
    let request = ListRequest {
        group: params.get("ScheduleGroup").cloned(),
        ..list_request(&params)?
    };
    let page = state.schedules.list_schedules(&request).await?;
    let mut body = json!({
        "Schedules": page.items.iter().map(|s| s.summary()).collect::<Vec<_>>(),
    });
    if let Some(token) = page.next_token {
        body["NextToken"] = token.into();
    }
    Ok(json_ok(body))
}

async fn create_group(state: InAccount, Path(name): Path<String>, body: Bytes) -> Result<Response> {
    let input = parse_body(&body)?;
    let arn = state.schedules.create_group(&name, input).await?;
    Ok(json_ok(json!({ "ScheduleGroupArn": arn })))
}

async fn get_group(state: InAccount, Path(name): Path<String>) -> Result<Response> {
    let group = state.schedules.get_group(&name).await?;
    Ok(json_ok(json!(group)))
}

async fn delete_group(state: InAccount, Path(name): Path<String>) -> Result<Response> {
    state.schedules.delete_group(&name).await?;
    Ok(json_ok(json!({})))
}

async fn list_groups(state: InAccount, Query(params): Params) -> Result<Response> {
    let page = state.schedules.list_groups(&list_request(&params)?).await?;
    let mut body = json!({ "ScheduleGroups": page.items });
    if let Some(token) = page.next_token {
        body["NextToken"] = token.into();
    }
    Ok(json_ok(body))
}
