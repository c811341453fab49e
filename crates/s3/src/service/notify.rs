//! Event notifications: Put/GetBucketNotificationConfiguration (Lambda,
//! SQS and EventBridge targets; SNS topics refused), event-name and S3Key
//! prefix/suffix filter matching, the event record JSON as AWS sends it
//! (eventVersion 2.1), `s3:TestEvent` on configuration, and the EventBridge
//! `Object Created`/`Object Deleted` events. Events go to the
//! [`crate::Notifier`]; delivering them is the binary's job.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::backend::ObjectRecord;
use crate::error::ApiError;
use crate::service::buckets::{get_config, set_config};
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::wire::{self, iso8601, url_encode_key};
use crate::xml::{Element, XmlWriter};
use crate::{NotificationTarget, S3};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Put,
    Post,
    Copy,
    CompleteMultipartUpload,
    Delete,
    DeleteMarkerCreated,
    TaggingPut,
    TaggingDelete,
    LifecycleDelete,
    LifecycleDeleteMarkerCreated,
}

impl EventKind {
    /// The event name without `s3:`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Put => "ObjectCreated:Put",
            EventKind::Post => "ObjectCreated:Post",
            EventKind::Copy => "ObjectCreated:Copy",
            EventKind::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            EventKind::Delete => "ObjectRemoved:Delete",
            EventKind::DeleteMarkerCreated => "ObjectRemoved:DeleteMarkerCreated",
            EventKind::TaggingPut => "ObjectTagging:Put",
            EventKind::TaggingDelete => "ObjectTagging:Delete",
            EventKind::LifecycleDelete => "LifecycleExpiration:Delete",
            EventKind::LifecycleDeleteMarkerCreated => "LifecycleExpiration:DeleteMarkerCreated",
        }
    }

    fn created(self) -> bool {
        self.name().starts_with("ObjectCreated")
    }
}

/// Whether a configured event pattern (`s3:ObjectCreated:*`) covers `kind`.
pub(crate) fn event_matches(pattern: &str, kind: EventKind) -> bool {
    let Some(p) = pattern.strip_prefix("s3:") else {
        return false;
    };
    match p.strip_suffix('*') {
        Some(head) => kind.name().starts_with(head),
        None => p == kind.name(),
    }
}

const KNOWN_EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

/// One configured destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rule {
    pub id: String,
    /// `Lambda` or `Queue`.
    pub kind: String,
    pub arn: String,
    pub events: Vec<String>,
    /// (`prefix`|`suffix`, value)
    pub filters: Vec<(String, String)>,
}

/// A bucket's notification configuration, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NotificationConfig {
    pub rules: Vec<Rule>,
    pub eventbridge: bool,
}

impl Rule {
    fn applies(&self, kind: EventKind, key: &str) -> bool {
        self.events.iter().any(|e| event_matches(e, kind))
            && self
                .filters
                .iter()
                .all(|(name, value)| match name.as_str() {
                    "prefix" => key.starts_with(value.as_str()),
                    _ => key.ends_with(value.as_str()),
                })
    }

    fn target(&self) -> NotificationTarget {
        match self.kind.as_str() {
            "Lambda" => NotificationTarget::Lambda {
                function_arn: self.arn.clone(),
            },
            _ => NotificationTarget::Sqs {
                queue_arn: self.arn.clone(),
            },
        }
    }
}

fn parse_config(doc: &Element) -> Result<NotificationConfig, ApiError> {
    if doc.name != "NotificationConfiguration" {
        return Err(ApiError::malformed_xml());
    }
    let mut config = NotificationConfig::default();
    for el in &doc.children {
        let (kind, arn_tag) = match el.name.as_str() {
            "CloudFunctionConfiguration" => ("Lambda", "CloudFunction"),
            "LambdaFunctionConfiguration" => ("Lambda", "CloudFunction"),
            "QueueConfiguration" => ("Queue", "Queue"),
            "TopicConfiguration" => {
                return Err(ApiError::invalid_argument(
                    "SNS topic destinations are not supported",
                ))
            }
            "EventBridgeConfiguration" => {
                config.eventbridge = true;
                continue;
            }
            _ => return Err(ApiError::malformed_xml()),
        };
        let arn = el
            .text_of(arn_tag)
            .or_else(|| el.text_of("LambdaFunctionArn"))
            .or_else(|| el.text_of("Function"))
            .filter(|a| a.starts_with("arn:"))
            .ok_or_else(|| ApiError::invalid_argument("The ARN is not well formed"))?;
        let events: Vec<String> = el
            .children("Event")
            .map(|e| e.text.trim().to_string())
            .collect();
        if events.is_empty() {
            return Err(ApiError::malformed_xml());
        }
        if let Some(bad) = events.iter().find(|e| !KNOWN_EVENTS.contains(&e.as_str())) {
            return Err(ApiError::invalid_argument(format!(
                "The event is not supported for notifications: {bad}"
            )));
        }
        let mut filters = Vec::new();
        if let Some(key) = el.child("Filter").and_then(|f| f.child("S3Key")) {
            for rule in key.children("FilterRule") {
                let name = rule.text_of("Name").unwrap_or("").to_ascii_lowercase();
                if name != "prefix" && name != "suffix" {
                    return Err(ApiError::invalid_argument(
                        "filter rule name must be either prefix or suffix",
                    ));
                }
                filters.push((name, rule.text_of("Value").unwrap_or("").to_string()));
            }
        }
        let id = el
            .text_of("Id")
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        config.rules.push(Rule {
            id,
            kind: kind.to_string(),
            arn: arn.to_string(),
            events,
            filters,
        });
    }
    Ok(config)
}

fn render_config(config: &NotificationConfig) -> String {
    let mut w = XmlWriter::new("NotificationConfiguration");
    for (kind, tag, arn_tag) in [
        ("Queue", "QueueConfiguration", "Queue"),
        ("Lambda", "CloudFunctionConfiguration", "CloudFunction"),
    ] {
        for r in config.rules.iter().filter(|r| r.kind == kind) {
            w.open(tag).elem("Id", &r.id).elem(arn_tag, &r.arn);
            for e in &r.events {
                w.elem("Event", e);
            }
            if !r.filters.is_empty() {
                w.open("Filter").open("S3Key");
                for (n, v) in &r.filters {
                    let name = if n == "prefix" { "Prefix" } else { "Suffix" };
                    w.open("FilterRule")
                        .elem("Name", name)
                        .elem("Value", v)
                        .close("FilterRule");
                }
                w.close("S3Key").close("Filter");
            }
            w.close(tag);
        }
    }
    if config.eventbridge {
        w.raw("<EventBridgeConfiguration></EventBridgeConfiguration>");
    }
    w.finish("NotificationConfiguration")
}

/// Event sequencers: hex, increasing across the node (and so per key).
static SEQUENCER: AtomicU64 = AtomicU64::new(0);

fn next_sequencer() -> String {
    let now = u64::try_from(wire::now_ms())
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    let mut prev = SEQUENCER.load(Ordering::Relaxed);
    loop {
        let next = prev.saturating_add(1).max(now);
        match SEQUENCER.compare_exchange(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("{next:016X}"),
            Err(p) => prev = p,
        }
    }
}

/// Who caused an event.
pub(crate) struct Actor {
    pub principal: String,
    pub source_ip: String,
    pub request_id: String,
}

impl Actor {
    pub fn of(ctx: &Ctx) -> Actor {
        let source_ip = ctx
            .header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "127.0.0.1".to_string());
        Actor {
            principal: ctx.principal(),
            source_ip,
            request_id: ctx.request_id.clone(),
        }
    }

    pub fn lifecycle() -> Actor {
        Actor {
            principal: "s3.amazonaws.com".to_string(),
            source_ip: "s3.amazonaws.com".to_string(),
            request_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        }
    }
}

/// The S3 event record AWS sends for `object`.
pub(crate) fn record(
    region: &str,
    bucket: &BucketInfo,
    config_id: &str,
    kind: EventKind,
    object: &ObjectRecord,
    actor: &Actor,
    sequencer: &str,
) -> serde_json::Value {
    let mut obj =
        json!({ "key": url_encode_key(&object.key).replace("%20", "+"), "sequencer": sequencer });
    if kind.created() || matches!(kind, EventKind::TaggingPut | EventKind::TaggingDelete) {
        obj["size"] = json!(object.size);
        obj["eTag"] = json!(object.etag);
    }
    if object.version_id != "null" {
        obj["versionId"] = json!(object.version_id);
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso8601(wire::now_ms()),
        "eventName": kind.name(),
        "userIdentity": { "principalId": actor.principal },
        "requestParameters": { "sourceIPAddress": actor.source_ip },
        "responseElements": { "x-amz-request-id": actor.request_id, "x-amz-id-2": actor.request_id },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": config_id,
            "bucket": {
                "name": bucket.record.name,
                "ownerIdentity": { "principalId": bucket.record.owner },
                "arn": format!("arn:aws:s3:::{}", bucket.record.name),
            },
            "object": obj,
        }
    })
}

/// The EventBridge event (PutEvents entry) for `object`.
fn eventbridge_event(
    region: &str,
    bucket: &BucketInfo,
    kind: EventKind,
    object: &ObjectRecord,
    actor: &Actor,
    sequencer: &str,
) -> Option<serde_json::Value> {
    let (detail_type, reason, deletion) = match kind {
        EventKind::Put => ("Object Created", "PutObject", None),
        EventKind::Post => ("Object Created", "POST Object", None),
        EventKind::Copy => ("Object Created", "CopyObject", None),
        EventKind::CompleteMultipartUpload => ("Object Created", "CompleteMultipartUpload", None),
        EventKind::Delete => (
            "Object Deleted",
            "DeleteObject",
            Some("Permanently Deleted"),
        ),
        EventKind::DeleteMarkerCreated => (
            "Object Deleted",
            "DeleteObject",
            Some("Delete Marker Created"),
        ),
        EventKind::LifecycleDelete => (
            "Object Deleted",
            "Lifecycle Expiration",
            Some("Permanently Deleted"),
        ),
        EventKind::LifecycleDeleteMarkerCreated => (
            "Object Deleted",
            "Lifecycle Expiration",
            Some("Delete Marker Created"),
        ),
        EventKind::TaggingPut | EventKind::TaggingDelete => return None,
    };
    let mut obj = json!({ "key": object.key, "sequencer": sequencer });
    if kind.created() {
        obj["size"] = json!(object.size);
        obj["etag"] = json!(object.etag);
    }
    if object.version_id != "null" {
        obj["version-id"] = json!(object.version_id);
    }
    let mut detail = json!({
        "version": "0",
        "bucket": { "name": bucket.record.name },
        "object": obj,
        "request-id": actor.request_id,
        "requester": bucket.record.owner,
        "source-ip-address": actor.source_ip,
        "reason": reason,
    });
    if let Some(d) = deletion {
        detail["deletion-type"] = json!(d);
    }
    Some(json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": bucket.record.owner,
        "time": iso8601(wire::now_ms()).replace(".000Z", "Z"),
        "region": region,
        "resources": [format!("arn:aws:s3:::{}", bucket.record.name)],
        "detail": detail,
    }))
}

impl S3 {
    /// Sends the events `kind` on `object` produces to the bucket's
    /// targets; returns once they are durable there.
    pub(crate) async fn notify(
        &self,
        ctx: &Ctx,
        bucket: &BucketInfo,
        kind: EventKind,
        object: &ObjectRecord,
    ) {
        self.count_write(&bucket.record.name);
        self.emit(bucket, kind, object, &Actor::of(ctx)).await;
    }

    pub(crate) async fn emit(
        &self,
        bucket: &BucketInfo,
        kind: EventKind,
        object: &ObjectRecord,
        actor: &Actor,
    ) {
        let Some(config) = self.notification_config(&bucket.record.name) else {
            return;
        };
        let sequencer = next_sequencer();
        let mut deliveries = Vec::new();
        for rule in config.rules.iter().filter(|r| r.applies(kind, &object.key)) {
            let event = json!({ "Records": [record(&self.config.region, bucket, &rule.id, kind, object, actor, &sequencer)] });
            deliveries.push(self.notifier.deliver(rule.target(), event));
        }
        if config.eventbridge {
            if let Some(event) =
                eventbridge_event(&self.config.region, bucket, kind, object, actor, &sequencer)
            {
                deliveries.push(self.notifier.deliver(
                    NotificationTarget::EventBridge {
                        bucket: bucket.record.name.clone(),
                    },
                    event,
                ));
            }
        }
        futures::future::join_all(deliveries).await;
    }

    pub(crate) async fn notification_document(
        &self,
        ctx: &mut Ctx,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        if ctx.method == http::Method::GET {
            self.authorize(ctx, "s3:GetBucketNotification", &bucket, None, &[])?;
            let config = match get_config(self, &bucket, "notification").await? {
                Some(json) => serde_json::from_str(&json).map_err(|_| ApiError::internal())?,
                None => NotificationConfig::default(),
            };
            return Ok(wire::xml(StatusCode::OK, render_config(&config)));
        }
        self.authorize(ctx, "s3:PutBucketNotification", &bucket, None, &[])?;
        let body = ctx.body_bytes().await?;
        let config = parse_config(&crate::xml::parse(&body)?)?;
        let json = serde_json::to_string(&config).map_err(|_| ApiError::internal())?;
        set_config(self, &bucket, "notification", Some(json)).await?;
        self.cache_notification(&bucket.record.name, Some(config.clone()));
        let mut sent = std::collections::HashSet::new();
        for rule in &config.rules {
            if sent.insert(rule.arn.clone()) {
                let event = json!({
                    "Service": "Amazon S3",
                    "Event": "s3:TestEvent",
                    "Time": iso8601(wire::now_ms()),
                    "Bucket": bucket.record.name,
                    "RequestId": ctx.request_id,
                    "HostId": ctx.request_id,
                });
                self.notifier.deliver(rule.target(), event).await;
            }
        }
        Ok(wire::empty(StatusCode::OK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_patterns() {
        assert!(event_matches("s3:ObjectCreated:*", EventKind::Put));
        assert!(event_matches(
            "s3:ObjectCreated:*",
            EventKind::CompleteMultipartUpload
        ));
        assert!(event_matches(
            "s3:ObjectRemoved:DeleteMarkerCreated",
            EventKind::DeleteMarkerCreated
        ));
        assert!(!event_matches(
            "s3:ObjectRemoved:Delete",
            EventKind::DeleteMarkerCreated
        ));
        assert!(!event_matches("s3:ObjectCreated:Put", EventKind::Copy));
        assert!(event_matches(
            "s3:LifecycleExpiration:*",
            EventKind::LifecycleDelete
        ));
    }

    #[test]
    fn sequencers_increase() {
        let a = next_sequencer();
        let b = next_sequencer();
        assert!(b > a, "{a} {b}");
    }
}
