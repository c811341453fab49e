//! The SQS API on the wire, over [`updraft_queues::Queues`].
//!
//! Two protocols run the same operations:
//!
//! ```text
//!  JSON   POST /  X-Amz-Target: AmazonSQS.Op ──┐                 ┌─> JSON (x-amzn-query-error)
//!  query  POST /  Action=Op&...              ──┼─> execute(Op) ──┤
//!         POST /{account}/{queue}  (a form)  ──┘                 └─> XML <OpResponse>
//! ```
//!
//! boto3 and the aws CLI v1 speak JSON; the aws CLI v2 2.9 (and older
//! SDKs) speak query. A query request is first rewritten into the JSON
//! protocol's input ([`mod@query`]), so the operations ([`queue_ops`],
//! [`message_ops`]) parse one shape and answer one shape.
//!
//! Queue URLs are `{endpoint}/{account}/{name}`, the endpoint being the
//! `Host` the client called: a queue answers to whatever address reaches
//! the server. Any `QueueUrl` whose path is `/{account}/{name}` names the
//! queue; internal queues (async invocations) are never reachable.

mod error;
pub use error::SqsError;
mod message_ops;
pub(crate) mod query;
mod queue_ops;

use std::collections::BTreeMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::Arc;

use axum::extract::{Path, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use updraft_queues::QueueConfig;
use updraft_types::Arn;

use crate::{AppState, InAccount, Tenant};

/// Routes of the SQS query protocol beyond `POST /`: a form POSTed to a
/// queue URL acts on that queue (its `QueueUrl` may be left out).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/{account}/{queue}", any(queue_url_request))
}

/// A JSON-protocol SQS call (`X-Amz-Target: AmazonSQS.{operation}`).
pub async fn json(state: &Tenant, operation: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let call = Call::new(state, headers);
    let input = if body.is_empty() {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(SqsError::serialization)
            .and_then(|v| {
                if v.is_object() {
                    Ok(v)
                } else {
                    Err(SqsError::serialization("the body is not a JSON object"))
                }
            })
    };
    let result = match input {
        Ok(input) => execute(&call, operation, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(output) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    "application/x-amz-json-1.0".to_string(),
                ),
                (
                    http::HeaderName::from_static("x-amzn-requestid"),
                    call.request_id.clone(),
                ),
            ],
            output.to_string(),
        )
            .into_response(),
        Err(e) => e.json_response(&call.request_id),
    }
}

/// Whether a request's body is a form (`application/x-www-form-urlencoded`),
/// as query-protocol requests are.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// A query-protocol SQS call: a form-encoded `Action=...` body.
pub async fn query(state: &Tenant, headers: &HeaderMap, body: &Bytes) -> Response {
    run_query(&Call::new(state, headers), query::decode_form(body)).await
}

async fn run_query(call: &Call<'_>, params: BTreeMap<String, String>) -> Response {
    let Some(action) = params.get("Action").cloned() else {
        return SqsError::missing_action().xml_response(&call.request_id);
    };
    let result = match query::to_json_input(&action, &params) {
        Ok(input) => execute(call, &action, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(output) => (
            [
                (http::header::CONTENT_TYPE, "text/xml".to_string()),
                (
                    http::HeaderName::from_static("x-amzn-requestid"),
                    call.request_id.clone(),
                ),
            ],
            query::xml_response(&action, &output, &call.request_id),
        )
            .into_response(),
        Err(e) => e.xml_response(&call.request_id),
    }
}

/// `POST /{account}/{queue}` with a form: the query protocol on a queue
/// URL. Anything else on such a path is an unknown operation, as on any
/// path no API serves.
async fn queue_url_request(
    state: InAccount,
    Path((account, queue)): Path<(String, String)>,
    req: Request,
) -> Response {
    if req.method() != http::Method::POST
        || !is_form(req.headers())
        || account != account_id(&state)
    {
        return crate::error::unknown_operation(req).await.into_response();
    }
    let (parts, body) = req.into_parts();
    // The signature check has buffered the body: reading it cannot fail.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let call = Call::new(&state, &parts.headers);
    let mut params = query::decode_form(&body);
    params
        .entry("QueueUrl".into())
        .or_insert_with(|| call.queue_url(&queue));
    run_query(&call, params).await
}

/// The account queue URLs and ARNs carry (from a queue ARN, which the
/// queues build from the server's account).
fn account_id(state: &Tenant) -> String {
    let arn = state.queues.arn("q");
    Arn::parse(&arn)
        .map(|a| a.account.to_string())
        .unwrap_or_default()
}

/// One SQS call: where the client reached us and the queues.
pub(crate) struct Call<'a> {
    pub state: &'a Tenant,
    /// `http://{Host}`: what queue URLs start with.
    endpoint: String,
    account: String,
    pub request_id: String,
}

impl<'a> Call<'a> {
    fn new(state: &'a Tenant, headers: &HeaderMap) -> Call<'a> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        Call {
            state,
            endpoint: format!("http://{host}"),
            account: account_id(state),
            request_id: request_id(),
        }
    }

    /// The account in queue URLs and ARNs.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The URL of queue `name`.
    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.endpoint, self.account)
    }

    /// An SQS queue by name (never an internal one).
    pub fn queue_named(&self, name: &str) -> Result<QueueConfig, SqsError> {
        self.state
            .queues
            .get_queue(name)
            .ok_or_else(SqsError::queue_does_not_exist)
    }

    /// The queue a `QueueUrl` names: any scheme and host, path
    /// `/{account}/{name}`.
    pub fn queue(&self, url: &str) -> Result<QueueConfig, SqsError> {
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => url,
        };
        let mut segments = path.trim_start_matches('/').split('/');
        match (segments.next(), segments.next(), segments.next()) {
            (Some(account), Some(name), None) if account == self.account => self.queue_named(name),
            _ => Err(SqsError::queue_does_not_exist()),
        }
    }
}

/// A request id in the UUID format AWS uses.
fn request_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let a = hasher.finish();
    hasher.write_u64(a);
    let b = hasher.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// Parses an operation's input from its JSON shape.
fn input<T: DeserializeOwned>(input: Value) -> Result<T, SqsError> {
    serde_json::from_value(input).map_err(SqsError::serialization)
}

/// A required parameter.
fn required<T>(value: Option<T>, name: &str) -> Result<T, SqsError> {
    value.ok_or_else(|| SqsError::missing_parameter(name))
}

/// Runs one operation on its JSON-shaped input.
async fn execute(call: &Call<'_>, operation: &str, body: Value) -> Result<Value, SqsError> {
    match operation {
        "CreateQueue" => queue_ops::create_queue(call, input(body)?).await,
        "GetQueueUrl" => queue_ops::get_queue_url(call, input(body)?),
        "ListQueues" => queue_ops::list_queues(call, input(body)?),
        "DeleteQueue" => queue_ops::delete_queue(call, input(body)?).await,
        "GetQueueAttributes" => queue_ops::get_queue_attributes(call, input(body)?),
        "SetQueueAttributes" => queue_ops::set_queue_attributes(call, input(body)?).await,
        "PurgeQueue" => queue_ops::purge_queue(call, input(body)?).await,
        "TagQueue" => queue_ops::tag_queue(call, input(body)?).await,
        "UntagQueue" => queue_ops::untag_queue(call, input(body)?).await,
        "ListQueueTags" => queue_ops::list_queue_tags(call, input(body)?),
        "AddPermission" => queue_ops::add_permission(call, input(body)?).await,
        "RemovePermission" => queue_ops::remove_permission(call, input(body)?).await,
        "SendMessage" => message_ops::send_message(call, input(body)?).await,
        "SendMessageBatch" => message_ops::send_message_batch(call, input(body)?).await,
        "ReceiveMessage" => message_ops::receive_message(call, input(body)?).await,
        "DeleteMessage" => message_ops::delete_message(call, input(body)?).await,
        "DeleteMessageBatch" => message_ops::delete_message_batch(call, input(body)?).await,
        "ChangeMessageVisibility" => {
            message_ops::change_message_visibility(call, input(body)?).await
        }
        "ChangeMessageVisibilityBatch" => {
            message_ops::change_message_visibility_batch(call, input(body)?).await
        }
        other => Err(SqsError::invalid_action(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids_and_differ() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        let lens: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{a}");
    }
}
