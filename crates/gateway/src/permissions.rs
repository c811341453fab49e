//! Function policies (REST-JSON, Lambda shapes):
//! `POST /2015-03-31/functions/{name}/policy` (`AddPermission`, 201
//! `{"Statement": "<JSON>"}`), `GET …/policy` (`GetPolicy`,
//! `{"Policy": "<JSON>", "RevisionId"}`) and
//! `DELETE …/policy/{sid}` (`RemovePermission`, 204), each with
//! `?Qualifier=` (or `name:qualifier`); `RemovePermission` also takes
//! `?RevisionId=`.
//!
//! The registry decides ([`updraft_registry::Registry::add_permission`]
//! and its siblings); these handlers parse and render.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;
use updraft_api::{parse_json, AddPermissionRequest, LambdaError};
use updraft_registry::PermissionError;

use crate::{ApiError, AppState, InAccount};

type Answer = Result<Response, ApiError>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/2015-03-31/functions/{name}/policy",
            get(get_policy).post(add_permission),
        )
        .route(
            "/2015-03-31/functions/{name}/policy/{sid}",
            delete(remove_permission),
        )
}

impl From<PermissionError> for ApiError {
    fn from(e: PermissionError) -> Self {
        match e {
            PermissionError::Registry(e) => e.into(),
            PermissionError::Refused(e) => ApiError(e),
        }
    }
}

async fn add_permission(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let target = crate::invoke::target_ref(&name, &params)?;
    let permission = parse_json::<AddPermissionRequest>(&body)?.validate()?;
    let statement =
        s.registry
            .add_permission(&target.name, target.qualifier.as_ref(), permission)?;
    Ok((StatusCode::CREATED, Json(json!({ "Statement": statement }))).into_response())
}

async fn get_policy(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let target = crate::invoke::target_ref(&name, &params)?;
    let view = s
        .registry
        .get_policy(&target.name, target.qualifier.as_ref())?;
    Ok(Json(json!({ "Policy": view.policy, "RevisionId": view.revision_id })).into_response())
}

async fn remove_permission(
    s: InAccount,
    Path((name, sid)): Path<(String, String)>,
    Query(params): Params,
) -> Answer {
    if !updraft_api::permissions::valid_statement_id(&sid) {
        return Err(ApiError(LambdaError::Validation(format!(
            "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)"
        ))));
    }
    let target = crate::invoke::target_ref(&name, &params)?;
    s.registry.remove_permission(
        &target.name,
        target.qualifier.as_ref(),
        &sid,
        params.get("RevisionId").map(String::as_str),
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
