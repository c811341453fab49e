//! Lifecycle expiration ([`crate::S3::expire_now`]): for each bucket with a
//! lifecycle configuration, current versions past their rule's
//! `Expiration` (Days or Date) are deleted (a delete marker when the bucket
//! is versioned), noncurrent versions past `NoncurrentVersionExpiration`
//! are removed, lone expired delete markers go with
//! `ExpiredObjectDeleteMarker`, and uploads older than
//! `AbortIncompleteMultipartUpload` are aborted. Rules filter by prefix and
//! tags.

use std::time::SystemTime;

use crate::backend::{Backend, ObjectMeta, ObjectRecord, VersionCursor, WriteCondition};
use crate::error::{ApiError, S3Error};
use crate::service::ctx::BucketInfo;
use crate::service::notify::{Actor, EventKind};
use crate::service::objects::new_version_id;
use crate::service::wire;
use crate::xml::Element;
use crate::S3;

const DAY_MS: i64 = 86_400_000;

/// One enabled rule, parsed.
#[derive(Debug, Default)]
struct Rule {
    prefix: String,
    tags: Vec<(String, String)>,
    expire_days: Option<i64>,
    expire_date_ms: Option<i64>,
    expired_marker: bool,
    noncurrent_days: Option<i64>,
    abort_days: Option<i64>,
}

impl Rule {
    fn matches(&self, key: &str, meta: &ObjectMeta) -> bool {
        key.starts_with(&self.prefix) && self.tags.iter().all(|t| meta.tags.contains(t))
    }
}

fn days(el: Option<&Element>, name: &str) -> Option<i64> {
    el.and_then(|e| e.text_of(name))
        .and_then(|d| d.parse().ok())
}

fn parse_rules(doc: &Element) -> Vec<Rule> {
    let mut rules = Vec::new();
    for r in doc.children("Rule") {
        if r.text_of("Status") != Some("Enabled") {
            continue;
        }
        let mut rule = Rule::default();
        let tag = |t: &Element| {
            (
                t.text_of("Key").unwrap_or("").to_string(),
                t.text_of("Value").unwrap_or("").to_string(),
            )
        };
        if let Some(f) = r.child("Filter") {
            let scope = f.child("And").unwrap_or(f);
            rule.prefix = scope.text_of("Prefix").unwrap_or("").to_string();
            rule.tags = scope.children("Tag").map(tag).collect();
        } else {
            rule.prefix = r.text_of("Prefix").unwrap_or("").to_string();
        }
        let exp = r.child("Expiration");
        rule.expire_days = days(exp, "Days");
        rule.expire_date_ms = exp
            .and_then(|e| e.text_of("Date"))
            .and_then(|d| {
                time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX));
        rule.expired_marker =
            exp.and_then(|e| e.text_of("ExpiredObjectDeleteMarker")) == Some("true");
        rule.noncurrent_days = days(r.child("NoncurrentVersionExpiration"), "NoncurrentDays");
        rule.abort_days = days(
            r.child("AbortIncompleteMultipartUpload"),
            "DaysAfterInitiation",
        );
        rules.push(rule);
    }
    rules
}

/// What one bucket's pass did: removals counted, events to send.
#[derive(Default)]
struct Pass {
    removed: usize,
    events: Vec<(EventKind, ObjectRecord)>,
}

fn expire_key(
    b: &dyn Backend,
    bucket: &BucketInfo,
    rules: &[Rule],
    versions: &[ObjectRecord],
    now: i64,
    pass: &mut Pass,
) -> Result<(), ApiError> {
    let name = &bucket.record.name;
    let Some(current) = versions.first() else {
        return Ok(());
    };
    let rule_for = |o: &ObjectRecord, f: &dyn Fn(&Rule) -> bool| {
        rules.iter().any(|r| f(r) && r.matches(&o.key, &o.meta))
    };
    // Noncurrent versions: each became noncurrent when its successor was written.
    for pair in versions.windows(2) {
        let (newer, older) = (&pair[0], &pair[1]);
        let expired = rule_for(older, &|r| {
            r.noncurrent_days
                .is_some_and(|d| now - newer.last_modified_ms >= d * DAY_MS)
        });
        if expired {
            if let Some(rec) = b.delete_version(name, &older.key, &older.version_id)? {
                pass.removed += 1;
                pass.events.push((EventKind::LifecycleDelete, rec));
            }
        }
    }
    if current.delete_marker {
        let lone = versions.len() == 1;
        if lone && rule_for(current, &|r| r.expired_marker || r.expire_days.is_some()) {
            if let Some(rec) = b.delete_version(name, &current.key, &current.version_id)? {
                pass.removed += 1;
                pass.events.push((EventKind::LifecycleDelete, rec));
            }
        }
        return Ok(());
    }
    let expired = rule_for(current, &|r| {
        r.expire_days
            .is_some_and(|d| now - current.last_modified_ms >= d * DAY_MS)
            || r.expire_date_ms.is_some_and(|t| now >= t)
    });
    if !expired {
        return Ok(());
    }
    match bucket.versioning.as_deref() {
        None => {
            if let Some(rec) = b.delete_version(name, &current.key, &current.version_id)? {
                pass.removed += 1;
                pass.events.push((EventKind::LifecycleDelete, rec));
            }
        }
        Some(status) => {
            let marker = ObjectRecord {
                key: current.key.clone(),
                version_id: if status == "Enabled" {
                    new_version_id()
                } else {
                    "null".to_string()
                },
                seq: 0,
                delete_marker: true,
                size: 0,
                etag: String::new(),
                last_modified_ms: now,
                meta: ObjectMeta {
                    owner: bucket.record.owner.clone(),
                    ..ObjectMeta::default()
                },
                blobs: Vec::new(),
            };
            let rec = b.put_object(name, marker, WriteCondition::Always)?;
            pass.removed += 1;
            pass.events
                .push((EventKind::LifecycleDeleteMarkerCreated, rec));
        }
    }
    Ok(())
}

fn expire_bucket(
    b: &dyn Backend,
    bucket: &BucketInfo,
    rules: &[Rule],
    now: i64,
) -> Result<Pass, ApiError> {
    let name = &bucket.record.name;
    let mut pass = Pass::default();
    let mut cursor: Option<VersionCursor> = None;
    let mut group: Vec<ObjectRecord> = Vec::new();
    loop {
        let page = b.list_versions(name, "", cursor.as_ref(), 1000)?;
        let done = page.len() < 1000;
        for o in page {
            cursor = Some(VersionCursor {
                key: o.key.clone(),
                seq: Some(o.seq),
            });
            if group.first().is_some_and(|g| g.key != o.key) {
                expire_key(b, bucket, rules, &group, now, &mut pass)?;
                group.clear();
            }
            group.push(o);
        }
        if done {
            break;
        }
    }
    if !group.is_empty() {
        expire_key(b, bucket, rules, &group, now, &mut pass)?;
    }
    for upload in b.list_uploads(name, "", None, usize::MAX)? {
        let old = rules.iter().any(|r| {
            upload.key.starts_with(&r.prefix)
                && r.abort_days
                    .is_some_and(|d| now - upload.initiated_ms >= d * DAY_MS)
        });
        if old {
            b.abort_upload(name, &upload.upload_id)?;
            pass.removed += 1;
        }
    }
    Ok(pass)
}

pub(crate) async fn run(s3: &S3, now: SystemTime) -> Result<usize, S3Error> {
    let now = wire::ms_of(now);
    let buckets = s3.run(|b| Ok(b.list_buckets()?)).await.map_err(api_to_s3)?;
    let mut total = 0;
    for record in buckets {
        let info = match s3.bucket_info(&record.name).await {
            Ok(i) => i,
            Err(_) => continue, // deleted meanwhile
        };
        let name = record.name.clone();
        let Some(doc) = s3
            .run(move |b| Ok(b.bucket_config(&name, "lifecycle")?))
            .await
            .map_err(api_to_s3)?
        else {
            continue;
        };
        let Ok(doc) = crate::xml::parse(doc.as_bytes()) else {
            continue;
        };
        let rules = parse_rules(&doc);
        if rules.is_empty() {
            continue;
        }
        let bucket = BucketInfo {
            record: info.record.clone(),
            policy: None,
            versioning: info.versioning.clone(),
        };
        let pass = s3
            .run(move |b| expire_bucket(b, &bucket, &rules, now))
            .await
            .map_err(api_to_s3)?;
        total += pass.removed;
        let actor = Actor::lifecycle();
        for (kind, rec) in pass.events {
            s3.emit(&info, kind, &rec, &actor).await;
        }
    }
    Ok(total)
}

fn api_to_s3(e: ApiError) -> S3Error {
    S3Error::Expiration(format!("{}: {}", e.code, e.message))
}
