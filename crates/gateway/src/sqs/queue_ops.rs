//! Queue operations: create, find, list, delete, attributes, tags, purge,
//! permissions (`AddPermission` / `RemovePermission`, statements in the
//! queue's `Policy`).
//!
//! Settings are parsed and checked by [`QueueConfig::apply_attributes`]
//! and [`QueueConfig::validate`]; these handlers read the wire shape,
//! resolve the queue and render the answer.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_queues::QueueConfig;

use super::error::SqsError;
use super::{required, Call};

/// `ListQueues` answers at most this many URLs.
const MAX_LIST: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueue {
    queue_name: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "tags")]
    tags: Option<BTreeMap<String, String>>,
}

pub async fn create_queue(call: &Call<'_>, req: CreateQueue) -> Result<Value, SqsError> {
    let name = required(req.queue_name, "QueueName")?;
    let mut config = QueueConfig::new(&name);
    config.apply_attributes(&req.attributes.unwrap_or_default())?;
    config.tags = req.tags.unwrap_or_default();
    let created = call.state.queues.create_queue(config).await?;
    Ok(json!({ "QueueUrl": call.queue_url(&created.name) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrl {
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    owner: Option<String>,
}

pub fn get_queue_url(call: &Call<'_>, req: GetQueueUrl) -> Result<Value, SqsError> {
    let name = required(req.queue_name, "QueueName")?;
    if req.owner.is_some_and(|o| o != call.account()) {
        return Err(SqsError::queue_does_not_exist());
    }
    let queue = call.queue_named(&name)?;
    Ok(json!({ "QueueUrl": call.queue_url(&queue.name) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueues {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// Pages are cut after a queue name; the token is that name, encoded.
pub fn list_queues(call: &Call<'_>, req: ListQueues) -> Result<Value, SqsError> {
    let limit = match req.max_results {
        None => None,
        Some(n) if (1..=MAX_LIST as i64).contains(&n) => Some(n as usize),
        Some(n) => {
            return Err(SqsError::invalid_value(
                "MaxResults",
                n,
                "MaxResults must be an integer between 1 and 1000.",
            ))
        }
    };
    let after = match req.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SqsError::invalid_parameter_value("Invalid NextToken value."))?,
        ),
    };
    let queues = call
        .state
        .queues
        .list_queues(req.queue_name_prefix.as_deref().unwrap_or(""));
    let mut names = queues
        .iter()
        .map(|q| q.name.as_str())
        .filter(|n| after.as_deref().is_none_or(|a| *n > a));
    let page: Vec<&str> = names.by_ref().take(limit.unwrap_or(MAX_LIST)).collect();
    let mut out = json!({});
    if !page.is_empty() {
        out["QueueUrls"] = json!(page.iter().map(|n| call.queue_url(n)).collect::<Vec<_>>());
    }
    if let (Some(_), Some(last), Some(_)) = (limit, page.last(), names.next()) {
        out["NextToken"] = json!(URL_SAFE_NO_PAD.encode(last));
    }
    Ok(out)
}

/// Input of the operations that take only a queue.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueOnly {
    queue_url: Option<String>,
}

impl QueueOnly {
    fn queue(self, call: &Call<'_>) -> Result<QueueConfig, SqsError> {
        call.queue(&required(self.queue_url, "QueueUrl")?)
    }
}

pub async fn delete_queue(call: &Call<'_>, req: QueueOnly) -> Result<Value, SqsError> {
    let queue = req.queue(call)?;
    call.state.queues.delete_queue(&queue.name).await?;
    Ok(json!({}))
}

pub async fn purge_queue(call: &Call<'_>, req: QueueOnly) -> Result<Value, SqsError> {
    let queue = req.queue(call)?;
    call.state.queues.purge(&queue.name).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributes {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
}

/// `All` or named attributes; a name SQS does not have is
/// `InvalidAttributeName`, one the queue does not set is left out.
pub fn get_queue_attributes(call: &Call<'_>, req: GetQueueAttributes) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let names = req.attribute_names.unwrap_or_default();
    if let Some(unknown) = names
        .iter()
        .find(|n| *n != "All" && !updraft_queues::ATTRIBUTE_NAMES.contains(&n.as_str()))
    {
        return Err(SqsError::invalid_attribute_name(format!(
            "Unknown Attribute {unknown}."
        )));
    }
    let all = call.state.queues.attributes(&queue.name)?;
    let wanted: BTreeMap<String, String> = if names.iter().any(|n| n == "All") {
        all
    } else {
        all.into_iter().filter(|(k, _)| names.contains(k)).collect()
    };
    if wanted.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": wanted }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetQueueAttributes {
    queue_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

pub async fn set_queue_attributes(
    call: &Call<'_>,
    req: SetQueueAttributes,
) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let attributes = required(req.attributes, "Attributes")?;
    let mut config = queue.clone();
    config.apply_attributes(&attributes)?;
    call.state.queues.set_queue_config(config).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueue {
    queue_url: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

pub async fn tag_queue(call: &Call<'_>, req: TagQueue) -> Result<Value, SqsError> {
    let mut queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    queue.tags.extend(required(req.tags, "Tags")?);
    call.state.queues.set_queue_config(queue).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueue {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn untag_queue(call: &Call<'_>, req: UntagQueue) -> Result<Value, SqsError> {
    let mut queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    for key in required(req.tag_keys, "TagKeys")? {
        queue.tags.remove(&key);
    }
    call.state.queues.set_queue_config(queue).await?;
    Ok(json!({}))
}

pub fn list_queue_tags(call: &Call<'_>, req: QueueOnly) -> Result<Value, SqsError> {
    let queue = req.queue(call)?;
    if queue.tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Tags": queue.tags }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermission {
    queue_url: Option<String>,
    label: Option<String>,
    #[serde(rename = "AWSAccountIds")]
    account_ids: Option<Vec<String>>,
    actions: Option<Vec<String>>,
}

/// Grants accounts actions on the queue: a statement in its `Policy`.
pub async fn add_permission(call: &Call<'_>, req: AddPermission) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let label = required(req.label, "Label")?;
    call.state
        .queues
        .add_permission(
            &queue.name,
            &label,
            &req.account_ids.unwrap_or_default(),
            &req.actions.unwrap_or_default(),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovePermission {
    queue_url: Option<String>,
    label: Option<String>,
}

/// Removes the statement `AddPermission` added under a label.
pub async fn remove_permission(call: &Call<'_>, req: RemovePermission) -> Result<Value, SqsError> {
    let queue = call.queue(&required(req.queue_url, "QueueUrl")?)?;
    let label = required(req.label, "Label")?;
    call.state
        .queues
        .remove_permission(&queue.name, &label)
        .await?;
    Ok(json!({}))
}
