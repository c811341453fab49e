//! Provisioned concurrency configs:
//! `/2019-09-30/functions/{name}/provisioned-concurrency`
//! (`?Qualifier=` for one config, `?List=ALL` for all of a function's).

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_api::{parse_json, LambdaError};
use updraft_invoker::ProvisionedStatus;
use updraft_types::FunctionRef;

use crate::{ApiError, InAccount, Tenant};

type Answer = Result<Response, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct PutRequest {
    provisioned_concurrent_executions: Option<i64>,
}

fn render(s: &ProvisionedStatus) -> Value {
    let mut out = json!({
        "RequestedProvisionedConcurrentExecutions": s.requested,
        "AvailableProvisionedConcurrentExecutions": s.allocated,
        "AllocatedProvisionedConcurrentExecutions": s.allocated,
        "Status": s.status,
        "LastModified": s.last_modified,
    });
    if let Some(reason) = &s.status_reason {
        out["StatusReason"] = json!(reason);
    }
    out
}

fn not_found(state: &Tenant, name: &str, qualifier: &str) -> Result<ApiError, ApiError> {
    // A missing function is a ResourceNotFoundException; a missing config
    // of an existing one is Lambda's own type.
    state.registry.get_function(name, None)?;
    Ok(ApiError(LambdaError::ProvisionedConcurrencyConfigNotFound(
        format!(
            "No Provisioned Concurrency Config found for this function: {}:{qualifier}",
            name
        ),
    )))
}

fn qualifier(params: &HashMap<String, String>) -> Result<&str, ApiError> {
    params.get("Qualifier").map(String::as_str).ok_or_else(|| {
        ApiError(LambdaError::InvalidParameterValue(
            "Qualifier is required: a published version or an alias".into(),
        ))
    })
}

pub async fn put(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let name = FunctionRef::parse(&name)?.name;
    let req: PutRequest = parse_json(&body)?;
    let n = match req.provisioned_concurrent_executions {
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
        other => {
            return Err(ApiError(LambdaError::Validation(format!(
                "1 validation error detected: Value '{}' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1",
                other.map(|n| n.to_string()).unwrap_or_else(|| "null".into())
            ))))
        }
    };
    let account = s.registry.limits().account_limit();
    if n as usize > account {
        return Err(ApiError(LambdaError::InvalidParameterValue(format!(
            "Requested Provisioned Concurrency ({n}) is more than the account's concurrency limit ({account})."
        ))));
    }
    let status = s
        .invoker
        .put_provisioned(name.as_str(), Some(qualifier(&params)?), n)?;
    Ok((StatusCode::ACCEPTED, Json(render(&status))).into_response())
}

pub async fn get(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let name = FunctionRef::parse(&name)?.name;
    if params.contains_key("List") {
        s.registry.get_function(name.as_str(), None)?;
        let configs: Vec<Value> = s
            .invoker
            .list_provisioned(name.as_str())
            .iter()
            .map(|st| {
                let mut v = render(st);
                v["FunctionArn"] = json!(s.registry.account().qualified_arn(&name, &st.qualifier));
                v
            })
            .collect();
        return Ok(Json(json!({ "ProvisionedConcurrencyConfigs": configs })).into_response());
    }
    let q = qualifier(&params)?;
    match s.invoker.get_provisioned(name.as_str(), q) {
        Some(status) => Ok(Json(render(&status)).into_response()),
        None => Err(not_found(&s, name.as_str(), q)?),
    }
}

pub async fn delete(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let name = FunctionRef::parse(&name)?.name;
    let q = qualifier(&params)?;
    if s.invoker.get_provisioned(name.as_str(), q).is_none() {
        return Err(not_found(&s, name.as_str(), q)?);
    }
    s.invoker.delete_provisioned(name.as_str(), q)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
