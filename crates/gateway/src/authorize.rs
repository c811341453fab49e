//! The authorization step of every request, and the refusals each
//! service words its own way.
//!
//! One call decides: [`authorize`] asks the identity directory
//! ([`updraft_iam::Iam::authorize`]) about the operation the request was
//! classified as, with the request's condition context and the resource's
//! own policy. The root user of the node's account acting on the node's
//! resources skips the context entirely (nothing can deny it without a
//! resource policy), which keeps the hot path cheap.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use updraft_api::LambdaError;
use updraft_iam::Caller;
use updraft_policy::{Decision, PrincipalKind};

use crate::operation::Operation;
use crate::{ApiError, AppState};

/// Whether the connection a request came on is TLS (set by the listener).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecureTransport(pub bool);

/// Decides `op` for `caller`; `Err` is the refusal to send, in the
/// format of `service`.
pub(crate) fn authorize(
    state: &AppState,
    caller: &Caller,
    op: &Operation,
    parts: &Parts,
    service: &str,
) -> Result<(), Box<Response>> {
    if !state.authorization {
        return Ok(());
    }
    let mut context = None;
    for resource in op.resources() {
        decide(state, caller, &op.action, resource, parts, &mut context)
            .map_err(|message| Box::new(access_denied(service, parts, message)))?;
    }
    for passed in &op.passed_roles {
        // `iam:PassRole` sees which service the role is handed to.
        let mut with_service = context
            .clone()
            .unwrap_or_else(|| request_context(state, caller, parts));
        with_service.set("iam:PassedToService", passed.service);
        let mut with_service = Some(with_service);
        decide(
            state,
            caller,
            "iam:PassRole",
            &passed.role,
            parts,
            &mut with_service,
        )
        .map_err(|message| access_denied(service, parts, message))?;
    }
    Ok(())
}

/// Decides `action` on one `resource`; `Err` is AWS's AccessDenied message.
/// The condition context (a handful of the request's facts) is built the
/// first time a decision needs it.
fn decide(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    parts: &Parts,
    context: &mut Option<updraft_policy::Context>,
) -> Result<(), String> {
    let root = matches!(caller.principal.kind, PrincipalKind::Root);
    let policy = crate::resource_policy::resource_policy(state, resource);
    let own = updraft_types::Arn::parse(resource)
        .is_none_or(|a| a.account.is_empty() || a.account == caller.account());
    // Iam::authorize allows this too; deciding it here spares the root
    // user's requests (the common case) building a context at all.
    if policy.is_none() && own && root {
        return Ok(());
    }
    // A decision kept from an earlier request needs no context.
    let kept = match policy {
        None => state.iam.cached_decision(caller, action, resource),
        Some(_) => None,
    };
    if kept == Some(Decision::Allow) {
        return Ok(());
    }
    let shared = context.get_or_insert_with(|| request_context(state, caller, parts));
    // `aws:ResourceTag/KEY`: this resource's tags, in a context of its own
    // (an operation may decide on several resources).
    let tags = crate::resource_policy::resource_tags(state, resource);
    let tagged;
    let context = if tags.is_empty() {
        &*shared
    } else {
        let mut with_tags = shared.clone();
        for (key, value) in tags {
            with_tags.set(&format!("aws:ResourceTag/{key}"), value);
        }
        tagged = with_tags;
        &tagged
    };
    let decision = kept.unwrap_or_else(|| {
        state
            .iam
            .authorize(caller, action, resource, context, policy.as_deref())
    });
    match decision {
        Decision::Allow => Ok(()),
        denied => {
            let why = if !own && denied != Decision::ExplicitDeny {
                format!("because no resource-based policy allows the {action} action")
            } else {
                state
                    .iam
                    .denial_source(caller, action, resource, context, denied)
                    .clause(action, denied)
            };
            tracing::debug!(caller = %caller.arn(), action, resource, "access denied");
            Err(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
                caller.arn()
            ))
        }
    }
}

/// The condition context of a request: the facts its global keys derive
/// from (the principal's keys derive from the caller itself).
pub(crate) fn request_context(
    state: &AppState,
    caller: &Caller,
    parts: &Parts,
) -> updraft_policy::Context {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let secure = parts
        .extensions
        .get::<SecureTransport>()
        .is_some_and(|s| s.0);
    // `aws:RequestedRegion`: the region the client signed for.
    let region = parts
        .extensions
        .get::<updraft_auth::VerifiedIdentity>()
        .map_or(state.account.region.as_str(), |i| i.region.as_str());
    let user_id = match caller.principal.kind {
        PrincipalKind::Service(_) => None,
        _ => Some(caller.user_id.as_str()),
    };
    crate::operation::request_context(parts, peer, secure, region, user_id)
}

/// `AccessDenied` as `service` words it.
pub(crate) fn access_denied(service: &str, parts: &Parts, message: String) -> Response {
    match service {
        "dynamodb" => {
            crate::tables::error(StatusCode::BAD_REQUEST, "AccessDeniedException", &message)
        }
        "events" | "logs" => {
            crate::logs::json_error(StatusCode::BAD_REQUEST, "AccessDeniedException", &message)
        }
        "sqs" => {
            let error = crate::sqs::SqsError {
                shape: "AccessDeniedException",
                code: "AccessDenied",
                status: StatusCode::FORBIDDEN,
                sender: true,
                message,
            };
            let request_id = uuid::Uuid::new_v4().to_string();
            if crate::sqs::is_form(&parts.headers) {
                error.xml_response(&request_id)
            } else {
                error.json_response(&request_id)
            }
        }
        _ => ApiError(LambdaError::Auth {
            status: StatusCode::FORBIDDEN,
            error_type: "AccessDeniedException",
            message,
        })
        .into_response(),
    }
}

/// An authentication failure in the format of `service`: IAM and STS
/// clients read the query protocol's XML error, the others the error
/// they have always been sent.
pub(crate) fn auth_failure(service: &str, _parts: &Parts, error: ApiError) -> Response {
    if service == "dynamodb" {
        // DynamoDB's clients read the code from `__type`, and DynamoDB
        // answers every authentication failure with 400.
        if let LambdaError::Auth {
            error_type,
            message,
            ..
        } = &error.0
        {
            return crate::tables::error(StatusCode::BAD_REQUEST, error_type, message);
        }
        return error.into_response();
    }
    if service != "iam" && service != "sts" {
        return error.into_response();
    }
    let LambdaError::Auth {
        status,
        error_type,
        message,
    } = &error.0
    else {
        return error.into_response();
    };
    let code = match *error_type {
        "UnrecognizedClientException" => "InvalidClientTokenId",
        "ExpiredTokenException" => "ExpiredToken",
        "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
        "IncompleteSignatureException" => "IncompleteSignature",
        _ => "SignatureDoesNotMatch",
    };
    crate::iam_api::xml_error(service, *status, code, message)
}
