//! The Lambda control plane: functions, versions, aliases, URL configs.
//!
//! Each handler: parse the wire shape (`updraft_api`), validate it, call the
//! registry, render the answer. Status codes are Lambda's: 201 for creates,
//! 204 for deletes, 200 otherwise.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use http::StatusCode;
use updraft_api::{parse_json, render, LambdaError};
use updraft_iam::Caller;
use updraft_types::{FunctionName, FunctionRef, Qualifier};

use crate::{ApiError, InAccount};

type Params = Query<HashMap<String, String>>;

/// How long GetFunction's `Code.Location` download URL stays valid (as on
/// Lambda: 10 minutes).
const CODE_LOCATION_VALIDITY: std::time::Duration = std::time::Duration::from_secs(600);
type Answer = Result<Response, ApiError>;

fn ok(status: StatusCode, body: serde_json::Value) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// The function a path names (a name, `name:qualifier`, or an ARN), with
/// the qualifier from the path or from `?Qualifier=`.
fn function_ref(raw: &str, params: &HashMap<String, String>) -> Result<FunctionRef, ApiError> {
    crate::invoke::target_ref(raw, params)
}

fn name_only(raw: &str) -> Result<FunctionName, ApiError> {
    Ok(FunctionRef::parse(raw)?.name)
}

fn qualifier_string(q: &Option<Qualifier>) -> Option<String> {
    q.as_ref().map(|q| q.to_string())
}

fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    params: &HashMap<String, String>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = updraft_api::parse_max_items(params.get("MaxItems").map(String::as_str))?;
    Ok(updraft_api::paginate(
        items,
        key,
        params.get("Marker").map(String::as_str),
        max,
    )?)
}

pub async fn list_functions(s: InAccount, Query(params): Params) -> Answer {
    let mut all = s.registry.list_functions()?;
    match params.get("FunctionVersion").map(String::as_str) {
        None => {}
        // Every version of every function, `$LATEST` first for each.
        Some("ALL") => {
            let mut versions = Vec::new();
            for f in &all {
                versions.extend(s.registry.list_versions(f.name.as_str())?);
            }
            all = versions;
        }
        Some(other) => {
            return Err(ApiError(LambdaError::Validation(format!(
                "1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            ))))
        }
    }
    let (items, next) = page(all, |f| format!("{}:{}", f.name, f.version), &params)?;
    ok(
        StatusCode::OK,
        render::list_functions(&items, s.registry.account(), next),
    )
}

/// Puts a platform event on the `default` bus when a function is created
/// or deleted (source `updraft.lambda`, detail-type `Function State
/// Change`), so rules can react to it. The API call has succeeded either
/// way: a failure here is logged.
async fn publish_state(s: &crate::Tenant, name: &FunctionName, state: &str) {
    let arn = s.registry.account().function_arn(name);
    let event = updraft_bus::NewEvent {
        bus: updraft_bus::DEFAULT_BUS.to_string(),
        source: "updraft.lambda".to_string(),
        detail_type: "Function State Change".to_string(),
        detail: serde_json::json!({
            "functionName": name.as_str(),
            "functionArn": arn,
            "state": state,
        }),
        resources: vec![arn.clone()],
    };
    if let Err(e) = s.bus.put_event(event).await {
        tracing::warn!(error = %e, function = name.as_str(), "could not publish the function's state change");
    }
}

pub async fn create_function(
    s: InAccount,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Answer {
    let req: updraft_api::CreateFunctionRequest = parse_json(&body)?;
    let mut create = req.validate()?;
    check_role(&s, &create.role)?;
    if let Some(location) = create.s3.take() {
        create.zip = crate::s3::read_package(&s.node, &caller, &location).await?;
    }
    let config = s.registry.create_function(create)?;
    publish_state(&s, &config.name, "Active").await;
    ok(
        StatusCode::CREATED,
        render::function_configuration(&config, s.registry.account()),
    )
}

/// A function's execution role must exist and trust Lambda, as Lambda
/// checks at CreateFunction and UpdateFunctionConfiguration.
/// The role must be the function's account's own, as on Lambda.
fn check_role(s: &InAccount, role: &str) -> Result<(), ApiError> {
    let own = updraft_types::Arn::parse(role).is_some_and(|a| a.account == s.account.account_id);
    own.then_some(())
        .ok_or_else(|| "the role belongs to another account".to_string())
        .and_then(|()| {
            s.node
                .iam
                .check_trusts(role, "lambda.amazonaws.com")
                .map_err(|e| e.to_string())
        })
        .map_err(|e| {
            tracing::debug!(role, error = %e, "execution role refused");
            ApiError(LambdaError::InvalidParameterValue(
                "The role defined for the function cannot be assumed by Lambda.".into(),
            ))
        })
}

pub async fn get_function(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let r = function_ref(&name, &params)?;
    let q = qualifier_string(&r.qualifier);
    let config = s.registry.get_function(r.name.as_str(), q.as_deref())?;
    let location = updraft_auth::presign_get(
        &format!(
            "{}/updraft/v1/code/{}",
            s.registry.base_url(),
            config.code_sha256
        ),
        &s.node.credentials,
        &s.registry.account().region,
        "lambda",
        std::time::SystemTime::now(),
        CODE_LOCATION_VALIDITY,
    )
    .map_err(|e| {
        ApiError(LambdaError::Service(format!(
            "signing the code location: {e}"
        )))
    })?;
    ok(
        StatusCode::OK,
        render::get_function(
            &config,
            s.registry.account(),
            &location,
            None,
            s.registry.reserved_concurrency(r.name.as_str())?,
        ),
    )
}

pub async fn get_configuration(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let r = function_ref(&name, &params)?;
    let q = qualifier_string(&r.qualifier);
    let config = s.registry.get_function(r.name.as_str(), q.as_deref())?;
    ok(
        StatusCode::OK,
        render::function_configuration(&config, s.registry.account()),
    )
}

pub async fn update_configuration(s: InAccount, Path(name): Path<String>, body: Bytes) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::UpdateFunctionConfigurationRequest = parse_json(&body)?;
    if let Some(role) = &req.role {
        check_role(&s, role)?;
    }
    let config = s
        .registry
        .update_configuration(name.as_str(), req.validate(&name)?)?;
    ok(
        StatusCode::OK,
        render::function_configuration(&config, s.registry.account()),
    )
}

pub async fn update_code(
    s: InAccount,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::UpdateFunctionCodeRequest = parse_json(&body)?;
    let mut update = req.validate()?;
    if let Some(location) = update.s3.take() {
        update.zip = crate::s3::read_package(&s.node, &caller, &location).await?;
    }
    let config = s.registry.update_code(name.as_str(), update)?;
    ok(
        StatusCode::OK,
        render::function_configuration(&config, s.registry.account()),
    )
}

pub async fn delete_function(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let r = function_ref(&name, &params)?;
    let q = qualifier_string(&r.qualifier);
    s.registry.delete_function(r.name.as_str(), q.as_deref())?;
    s.events.function_deleted(&r.name, q.as_deref()).await?;
    if q.is_none() {
        publish_state(&s, &r.name, "Deleted").await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_versions(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let name = name_only(&name)?;
    let all = s.registry.list_versions(name.as_str())?;
    let (items, next) = page(all, |v| v.version.clone(), &params)?;
    ok(
        StatusCode::OK,
        render::list_versions(&items, s.registry.account(), next),
    )
}

pub async fn publish_version(s: InAccount, Path(name): Path<String>, body: Bytes) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::PublishVersionRequest = parse_json(&body)?;
    let config = s.registry.publish_version(name.as_str(), req.validate()?)?;
    ok(
        StatusCode::CREATED,
        render::function_configuration(&config, s.registry.account()),
    )
}

pub async fn create_alias(s: InAccount, Path(name): Path<String>, body: Bytes) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::CreateAliasRequest = parse_json(&body)?;
    let alias = s.registry.create_alias(name.as_str(), req.validate()?)?;
    ok(
        StatusCode::CREATED,
        render::alias(&alias, s.registry.account()),
    )
}

pub async fn get_alias(s: InAccount, Path((name, alias)): Path<(String, String)>) -> Answer {
    let name = name_only(&name)?;
    let alias = s.registry.get_alias(name.as_str(), &alias)?;
    ok(StatusCode::OK, render::alias(&alias, s.registry.account()))
}

pub async fn update_alias(
    s: InAccount,
    Path((name, alias)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::UpdateAliasRequest = parse_json(&body)?;
    let alias = s
        .registry
        .update_alias(name.as_str(), &alias, req.validate()?)?;
    ok(StatusCode::OK, render::alias(&alias, s.registry.account()))
}

pub async fn delete_alias(s: InAccount, Path((name, alias)): Path<(String, String)>) -> Answer {
    let name = name_only(&name)?;
    s.registry.delete_alias(name.as_str(), &alias)?;
    s.events.function_deleted(&name, Some(&alias)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_aliases(s: InAccount, Path(name): Path<String>, Query(params): Params) -> Answer {
    let name = name_only(&name)?;
    let all = s.registry.list_aliases(
        name.as_str(),
        params.get("FunctionVersion").map(String::as_str),
    )?;
    let (items, next) = page(all, |a| a.name.clone(), &params)?;
    ok(
        StatusCode::OK,
        render::list_aliases(&items, s.registry.account(), next),
    )
}

fn url_qualifier(params: &HashMap<String, String>) -> Option<&str> {
    params.get("Qualifier").map(String::as_str)
}

fn render_url(s: &crate::Tenant, u: &updraft_types::UrlConfig) -> serde_json::Value {
    let url = s.registry.function_url(&u.function, u.qualifier.as_deref());
    render::url_config(u, s.registry.account(), &url)
}

pub async fn put_concurrency(s: InAccount, Path(name): Path<String>, body: Bytes) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::PutFunctionConcurrencyRequest = parse_json(&body)?;
    let n = req.validate()?;
    s.registry
        .set_reserved_concurrency(name.as_str(), Some(n))?;
    ok(StatusCode::OK, render::concurrency(Some(n)))
}

pub async fn get_concurrency(s: InAccount, Path(name): Path<String>) -> Answer {
    let name = name_only(&name)?;
    let n = s.registry.reserved_concurrency(name.as_str())?;
    ok(StatusCode::OK, render::concurrency(n))
}

pub async fn delete_concurrency(s: InAccount, Path(name): Path<String>) -> Answer {
    let name = name_only(&name)?;
    s.registry.set_reserved_concurrency(name.as_str(), None)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_url_configs(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let name = name_only(&name)?;
    let all = s.registry.list_url_configs(name.as_str())?;
    let (items, next) = page(all, |u| u.qualifier.clone().unwrap_or_default(), &params)?;
    let with_urls: Vec<_> = items
        .into_iter()
        .map(|u| {
            let url = s.registry.function_url(&u.function, u.qualifier.as_deref());
            (u, url)
        })
        .collect();
    ok(
        StatusCode::OK,
        render::list_url_configs(&with_urls, s.registry.account(), next),
    )
}

pub async fn create_url_config(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::CreateFunctionUrlConfigRequest = parse_json(&body)?;
    let u = s
        .registry
        .create_url_config(name.as_str(), url_qualifier(&params), req.validate()?)?;
    ok(StatusCode::CREATED, render_url(&s, &u))
}

pub async fn get_url_config(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let name = name_only(&name)?;
    let u = s
        .registry
        .get_url_config(name.as_str(), url_qualifier(&params))?;
    ok(StatusCode::OK, render_url(&s, &u))
}

pub async fn update_url_config(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Answer {
    let name = name_only(&name)?;
    let req: updraft_api::UpdateFunctionUrlConfigRequest = parse_json(&body)?;
    let u = s
        .registry
        .update_url_config(name.as_str(), url_qualifier(&params), req.validate()?)?;
    ok(StatusCode::OK, render_url(&s, &u))
}

pub async fn delete_url_config(
    s: InAccount,
    Path(name): Path<String>,
    Query(params): Params,
) -> Answer {
    let name = name_only(&name)?;
    s.registry
        .delete_url_config(name.as_str(), url_qualifier(&params))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /updraft/v1/code/{sha256}`: the deployment package GetFunction's
/// `Code.Location` points at.
pub async fn download_code(s: InAccount, Path(sha): Path<String>) -> Answer {
    match s.registry.code_package(&sha)? {
        Some(zip) => Ok(([(http::header::CONTENT_TYPE, "application/zip")], zip).into_response()),
        None => Err(ApiError(LambdaError::ResourceNotFound(format!(
            "Code package {sha} does not exist"
        )))),
    }
}
