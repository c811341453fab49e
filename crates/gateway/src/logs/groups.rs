//! Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, the
//! retention policy and tags (the group operations and the ARN-based
//! TagResource family).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{
    group_arn, group_of, group_of_arn, limit, now_ms, offset_token, page, valid_group_name, Answer,
    LogsError,
};
use crate::Tenant;

/// The values CloudWatch accepts for `retentionInDays`.
pub(super) const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Create {
    log_group_name: String,
    tags: Option<BTreeMap<String, String>>,
    kms_key_id: Option<String>,
    log_group_class: Option<String>,
}

pub(super) fn create(t: &Tenant, req: Create) -> Answer {
    let name = valid_group_name(req.log_group_name)?;
    let tags = req.tags.unwrap_or_default();
    check_tags(&tags)?;
    if req.kms_key_id.is_some() {
        return Err(LogsError::invalid(
            "KMS encryption of log groups is not supported by this server.",
        ));
    }
    match req.log_group_class.as_deref() {
        None | Some("STANDARD") => {}
        Some(other) => {
            return Err(LogsError::invalid(format!(
                "Log group class {other} is not supported by this server; use STANDARD."
            )))
        }
    }
    t.store.create_log_group(&name, now_ms(), &tags)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Named {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
}

pub(super) fn delete(t: &Tenant, req: Named) -> Answer {
    let name = group_of(req.log_group_name, req.log_group_identifier)?;
    t.store.delete_log_group(&name)?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Describe {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
    next_token: Option<String>,
    limit: Option<i64>,
    log_group_class: Option<String>,
}

pub(super) fn describe(t: &Tenant, req: Describe) -> Answer {
    if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
        return Err(LogsError::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let limit = limit(req.limit, 50, 50)?;
    let offset = offset_token(req.next_token.as_deref());
    let prefix = req.log_group_name_prefix.unwrap_or_default();
    let pattern = req.log_group_name_pattern.map(|p| p.to_lowercase());
    let wanted: Option<Vec<String>> = req.log_group_identifiers.map(|ids| {
        ids.into_iter()
            .map(|id| group_of_arn(&id).unwrap_or(id))
            .collect()
    });
    let class_ok = req
        .log_group_class
        .as_deref()
        .is_none_or(|c| c == "STANDARD");
    let groups: Vec<_> = t
        .store
        .list_log_groups(&prefix)?
        .into_iter()
        .filter(|_| class_ok)
        .filter(|g| {
            pattern
                .as_ref()
                .is_none_or(|p| g.name.to_lowercase().contains(p.as_str()))
        })
        .filter(|g| wanted.as_ref().is_none_or(|w| w.contains(&g.name)))
        .collect();
    let (groups, next) = page(groups, offset, limit);
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let arn = group_arn(t, &g.name);
            let mut out = json!({
                "logGroupName": g.name,
                "creationTime": g.created_ms,
                "metricFilterCount": 0,
                "arn": arn,
                "logGroupArn": arn.strip_suffix(":*").unwrap_or(&arn),
                "storedBytes": g.stored_bytes,
                "logGroupClass": "STANDARD",
            });
            if let Some(days) = g.retention_days {
                out["retentionInDays"] = json!(days);
            }
            out
        })
        .collect();
    let mut out = json!({ "logGroups": groups });
    if let Some(next) = next {
        out["nextToken"] = json!(next);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Retention {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    retention_in_days: Option<i64>,
}

pub(super) fn put_retention(t: &Tenant, req: Retention) -> Answer {
    let name = group_of(req.log_group_name, req.log_group_identifier)?;
    let Some(days) = req.retention_in_days else {
        return Err(LogsError::invalid("retentionInDays is required"));
    };
    let Some(days) = u32::try_from(days)
        .ok()
        .filter(|d| RETENTION_DAYS.contains(d))
    else {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy \
             constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}"
        )));
    };
    t.store.put_log_retention(&name, Some(days))?;
    Ok(json!({}))
}

pub(super) fn delete_retention(t: &Tenant, req: Named) -> Answer {
    let name = group_of(req.log_group_name, req.log_group_identifier)?;
    t.store.put_log_retention(&name, None)?;
    Ok(json!({}))
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.len() > 50 {
        return Err(LogsError::invalid("A log group can have at most 50 tags."));
    }
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
            return Err(LogsError::invalid(format!(
                "1 validation error detected: Value '{k}' at 'tags' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 ^(?!aws:)[\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]+$"
            )));
        }
        if v.len() > 256 {
            return Err(LogsError::invalid(format!(
                "The value of tag {k} is longer than 256 characters."
            )));
        }
    }
    Ok(())
}

fn tag(t: &Tenant, name: &str, add: &BTreeMap<String, String>, remove: &[String]) -> Answer {
    check_tags(add)?;
    if let Some(group) = t.store.get_log_group(name)? {
        let mut merged = group.tags;
        merged.extend(add.clone());
        for k in remove {
            merged.remove(k);
        }
        check_tags(&merged)?;
    }
    t.store.tag_log_group(name, add, remove)?;
    Ok(json!({}))
}

fn tags_of(t: &Tenant, name: &str) -> Answer {
    let group = t
        .store
        .get_log_group(name)?
        .ok_or_else(LogsError::group_not_found)?;
    Ok(json!({ "tags": group.tags }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagGroup {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

pub(super) fn tag_log_group(t: &Tenant, req: TagGroup) -> Answer {
    tag(t, &req.log_group_name, &req.tags, &[])
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UntagGroup {
    log_group_name: String,
    tags: Vec<String>,
}

pub(super) fn untag_log_group(t: &Tenant, req: UntagGroup) -> Answer {
    tag(t, &req.log_group_name, &BTreeMap::new(), &req.tags)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupName {
    log_group_name: String,
}

pub(super) fn list_tags_log_group(t: &Tenant, req: GroupName) -> Answer {
    tags_of(t, &req.log_group_name)
}

/// The group an ARN-based tag operation names.
fn resource_group(arn: &str) -> Result<String, LogsError> {
    group_of_arn(arn).ok_or_else(|| {
        LogsError::invalid(format!(
            "The specified resource ARN {arn} is not a log group ARN."
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagResource {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

pub(super) fn tag_resource(t: &Tenant, req: TagResource) -> Answer {
    tag(t, &resource_group(&req.resource_arn)?, &req.tags, &[])
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

pub(super) fn untag_resource(t: &Tenant, req: UntagResource) -> Answer {
    tag(
        t,
        &resource_group(&req.resource_arn)?,
        &BTreeMap::new(),
        &req.tag_keys,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Resource {
    resource_arn: String,
}

pub(super) fn list_tags_for_resource(t: &Tenant, req: Resource) -> Answer {
    tags_of(t, &resource_group(&req.resource_arn)?)
}
