//! Where object storage's event notifications go.
//!
//! ```text
//!  S3 (an object created, removed, tagged, expired) ─> S3Notifier::deliver
//!     ├─ Lambda function ─> the function's resource policy must allow s3.amazonaws.com
//!     │                     (aws:SourceArn = the bucket) ─> Queues::enqueue_invocations (durable, retried as any Event invoke)
//!     ├─ SQS queue       ─> the queue's policy must allow s3.amazonaws.com ─> Queues::send
//!     └─ EventBridge     ─> the bucket owner's default bus (source aws.s3)
//! ```
//!
//! Targets are checked as AWS checks them when it delivers: a function or
//! queue whose policy does not let S3 in gets nothing (logged). The request
//! that caused an event answers once the event is durable in its queue (or
//! on the bus), so an acknowledged write never loses its notification.

use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use updraft_policy::{Decision, PrincipalKind};
use updraft_s3::NotificationTarget;
use updraft_types::Arn;

use crate::AppState;

/// S3's service principal.
const S3_PRINCIPAL: &str = "s3.amazonaws.com";

/// The [`updraft_s3::Notifier`] of a node: delivers into the accounts'
/// queues and buses once [`S3Notifier::attach`] has given it the node.
#[derive(Default)]
pub struct S3Notifier {
    node: OnceLock<Weak<AppState>>,
}

impl S3Notifier {
    pub fn new() -> Arc<S3Notifier> {
        Arc::new(S3Notifier::default())
    }

    /// Connects the notifier to the node whose accounts receive the events
    /// (the node holds the object store, so this is done after both exist).
    pub fn attach(&self, node: &Arc<AppState>) {
        let _ = self.node.set(Arc::downgrade(node));
    }
}

impl updraft_s3::Notifier for S3Notifier {
    fn deliver(
        &self,
        target: NotificationTarget,
        event: serde_json::Value,
    ) -> futures::future::BoxFuture<'static, ()> {
        let node = self.node.get().and_then(Weak::upgrade);
        Box::pin(async move {
            let Some(node) = node else {
                tracing::warn!(
                    ?target,
                    "an S3 event arrived before the node was ready; dropped"
                );
                return;
            };
            if let Err(why) = deliver(&node, &target, event).await {
                tracing::warn!(?target, why, "an S3 event notification was not delivered");
            }
        })
    }
}

async fn deliver(
    node: &AppState,
    target: &NotificationTarget,
    event: serde_json::Value,
) -> Result<(), String> {
    match target {
        NotificationTarget::Lambda { function_arn } => {
            let arn = Arn::parse(function_arn).ok_or("not a function ARN")?;
            let tenant = node.tenant(arn.account).ok_or("no such account")?;
            let mut parts = arn.resource.split(':');
            let (Some("function"), Some(name)) = (parts.next(), parts.next()) else {
                return Err("not a function ARN".into());
            };
            let qualifier = parts.next().map(str::to_string);
            allowed_by_policy(node, "lambda:InvokeFunction", function_arn, &event)?;
            let payload = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
            tenant
                .queues
                .enqueue_invocations(vec![updraft_queues::invocation::AsyncInvocation {
                    function: name.to_string(),
                    qualifier,
                    payload: Bytes::from(payload),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    trigger: updraft_store::usage::trigger::S3.into(),
                    traceparent: None,
                }])
                .await
                .map_err(|e| e.to_string())
        }
        NotificationTarget::Sqs { queue_arn } => {
            let arn = Arn::parse(queue_arn).ok_or("not a queue ARN")?;
            let tenant = node.tenant(arn.account).ok_or("no such account")?;
            allowed_by_policy(node, "sqs:SendMessage", queue_arn, &event)?;
            let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
            tenant
                .queues
                .send(
                    arn.resource,
                    vec![updraft_queues::NewMessage {
                        body: Bytes::from(body),
                        ..Default::default()
                    }],
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
        NotificationTarget::EventBridge { bucket } => {
            let account = event
                .get("account")
                .and_then(|a| a.as_str())
                .unwrap_or(&node.account.account_id);
            let tenant = node.tenant(account).ok_or("no such account")?;
            let field = |name: &str| {
                event
                    .get(name)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let resources = match event.get("resources").and_then(|r| r.as_array()) {
                Some(list) => list
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect(),
                None => vec![format!("arn:aws:s3:::{bucket}")],
            };
            tenant
                .bus
                .put_event(updraft_bus::NewEvent {
                    bus: "default".into(),
                    source: "aws.s3".into(),
                    detail_type: field("detail-type"),
                    detail: event.get("detail").cloned().unwrap_or_default(),
                    resources,
                })
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}

/// Whether the target's resource policy lets S3 do `action` for the
/// bucket the event is about (`aws:SourceArn`, `aws:SourceAccount`).
fn allowed_by_policy(
    node: &AppState,
    action: &str,
    target_arn: &str,
    event: &serde_json::Value,
) -> Result<(), String> {
    let Some(policy) = crate::resource_policy::resource_policy(node, target_arn) else {
        return Err(format!(
            "{target_arn} has no resource policy allowing {S3_PRINCIPAL}"
        ));
    };
    let record = event.get("Records").and_then(|r| r.get(0)).unwrap_or(event);
    let bucket = record
        .pointer("/s3/bucket/name")
        .or_else(|| record.get("Bucket"))
        .and_then(|b| b.as_str())
        .unwrap_or_default();
    let owner = record
        .pointer("/s3/bucket/ownerIdentity/principalId")
        .and_then(|o| o.as_str());
    let mut context = updraft_policy::Context::new();
    context.set("aws:SourceArn", format!("arn:aws:s3:::{bucket}"));
    if let Some(owner) = owner.filter(|o| o.len() == 12 && o.bytes().all(|b| b.is_ascii_digit())) {
        context.set("aws:SourceAccount", owner);
    }
    let principal = updraft_policy::Principal {
        account: String::new(),
        kind: PrincipalKind::Service(S3_PRINCIPAL.into()),
    };
    let decision = updraft_policy::evaluate(
        &updraft_policy::Request {
            principal: &principal,
            action,
            resource: target_arn,
            context: &context,
        },
        &updraft_policy::PolicySet {
            resource: Some(&policy),
            ..Default::default()
        },
    );
    match decision {
        Decision::Allow => Ok(()),
        _ => Err(format!(
            "the resource policy of {target_arn} does not allow {S3_PRINCIPAL} {action} for bucket {bucket}"
        )),
    }
}
