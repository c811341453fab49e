//! Managed policies and their versions (at most five, one default).

use chrono::Utc;
use updraft_policy::PolicyKind;

use super::{
    account, attachment_count, boundary_count, element, encode_doc, list_arn, paged, parse_doc,
    path_param, path_prefix, policy_usage, render_policy, tags_param, write,
};
use crate::ids::{self, check_name, policy_arn};
use crate::model::{ManagedPolicy, PolicyVersion};
use crate::state::Account;
use crate::store::{key, Change};
use crate::wire::{ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// AWS's limit on versions per managed policy.
pub(crate) const MAX_VERSIONS: usize = 5;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreatePolicy" => create_policy(ctx),
        "GetPolicy" => get_policy(ctx),
        "ListPolicies" => list_policies(ctx),
        "DeletePolicy" => delete_policy(ctx),
        "CreatePolicyVersion" => create_version(ctx),
        "GetPolicyVersion" => get_version(ctx),
        "ListPolicyVersions" => list_versions(ctx),
        "DeletePolicyVersion" => delete_version(ctx),
        "SetDefaultPolicyVersion" => set_default(ctx),
        "ListEntitiesForPolicy" => entities_for_policy(ctx),
        _ => return None,
    })
}

pub(crate) fn policy_arn_param<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let arn = ctx.params.required("PolicyArn", "policyArn")?;
    if arn.len() < 20 || !arn.starts_with("arn:") {
        return Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")));
    }
    Ok(arn)
}

pub(crate) fn no_such_policy(arn: &str) -> ApiError {
    ApiError::no_such_entity(format!("Policy {arn} was not found."))
}

/// One policy's (attachments, boundary uses).
fn usage(acct: &Account, arn: &str) -> (usize, usize) {
    (attachment_count(acct, arn), boundary_count(acct, arn))
}

/// A policy to read: the account's or an AWS-managed one.
fn policy_of(acct: &Account, arn: &str) -> Result<ManagedPolicy, ApiError> {
    acct.managed(arn)
        .cloned()
        .ok_or_else(|| no_such_policy(arn))
}

/// A policy to change: only the account's own.
pub(super) fn own_policy_of(acct: &Account, arn: &str) -> Result<ManagedPolicy, ApiError> {
    acct.policy_by_arn(arn)
        .cloned()
        .ok_or_else(|| no_such_policy(arn))
}

fn version_id<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let v = ctx.params.required("VersionId", "versionId")?;
    let ok = v
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(ids::validation(
            Some(v),
            "versionId",
            "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
        ));
    }
    Ok(v)
}

fn render_version(x: &mut Xml, v: &PolicyVersion, default: bool, with_doc: bool) {
    if with_doc {
        x.text("Document", &encode_doc(&v.doc.text));
    }
    x.text("VersionId", &v.id)
        .bool("IsDefaultVersion", default)
        .date("CreateDate", &v.created);
}

fn create_policy(ctx: &Ctx<'_>) -> OpResult {
    let name = ctx.params.required("PolicyName", "policyName")?;
    check_name(name, "policyName", 128)?;
    let path = path_param(ctx)?;
    let arn = policy_arn(ctx.account(), path, name);
    ctx.authorize("iam:CreatePolicy", &arn)?;
    let text = ctx.params.required("PolicyDocument", "policyDocument")?;
    super::check_quota(text, "PolicySize", super::MANAGED_POLICY_SIZE)?;
    let doc = parse_doc(text, PolicyKind::Identity)?;
    let description = ctx.params.get("Description").map(str::to_string);
    let tags = tags_param(ctx)?;
    let now = Utc::now();
    let policy = write(ctx, |_, acct| {
        if acct.policies.contains_key(&key(name)) {
            return Err(ApiError::exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let policy = ManagedPolicy {
            path: path.to_string(),
            name: name.to_string(),
            id: ids::unique_id("ANPA"),
            arn: arn.clone(),
            created: now,
            updated: now,
            description,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc,
                created: now,
            }],
            default_version: "v1".into(),
            next_version: 2,
            tags,
        };
        Ok((
            vec![Change::Policy(ctx.account().to_string(), policy.clone())],
            policy,
        ))
    })?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    element("Policy", |x| {
        render_policy(x, &policy, usage(acct, &policy.arn))
    })
}

fn get_policy(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize("iam:GetPolicy", arn)?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let p = acct.managed(arn).ok_or_else(|| no_such_policy(arn))?;
    element("Policy", |x| render_policy(x, p, usage(acct, &p.arn)))
}

fn list_policies(ctx: &Ctx<'_>) -> OpResult {
    ctx.authorize("iam:ListPolicies", &list_arn(ctx, "policy"))?;
    let prefix = path_prefix(ctx);
    let scope = ctx.params.get("Scope").unwrap_or("All");
    let only_attached = ctx.params.get("OnlyAttached") == Some("true");
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let aws = crate::aws_managed::all().iter();
    let policies: Vec<&ManagedPolicy> = match scope {
        "AWS" => aws.collect(),
        "Local" => acct.policies.values().collect(),
        _ => acct.policies.values().chain(aws).collect(),
    };
    let counts = policy_usage(acct);
    let usage_of = |p: &ManagedPolicy| counts.get(p.arn.as_str()).copied().unwrap_or_default();
    let mut policies: Vec<&ManagedPolicy> = policies
        .into_iter()
        .filter(|p| p.path.starts_with(prefix))
        .filter(|p| !only_attached || usage_of(p).0 > 0)
        .collect();
    policies.sort_by_key(|p| key(&p.name));
    paged(
        paging,
        "Policies",
        &policies,
        |p| key(&p.name),
        |x, p| render_policy(x, p, usage_of(p)),
    )
}

fn delete_policy(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize("iam:DeletePolicy", arn)?;
    write(ctx, |_, acct| {
        let p = own_policy_of(acct, arn)?;
        if attachment_count(acct, arn) > 0 {
            return Err(ApiError::conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        let used_as_boundary = acct
            .users
            .values()
            .any(|u| u.boundary.as_deref() == Some(arn))
            || acct
                .roles
                .values()
                .any(|r| r.boundary.as_deref() == Some(arn));
        if used_as_boundary {
            return Err(ApiError::conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        if p.versions.len() > 1 {
            return Err(ApiError::conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        Ok((
            vec![Change::DeletePolicy(
                ctx.account().to_string(),
                key(&p.name),
            )],
            (),
        ))
    })?;
    Ok(None)
}

fn create_version(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize("iam:CreatePolicyVersion", arn)?;
    let text = ctx.params.required("PolicyDocument", "policyDocument")?;
    super::check_quota(text, "PolicySize", super::MANAGED_POLICY_SIZE)?;
    let doc = parse_doc(text, PolicyKind::Identity)?;
    let set_default = ctx.params.get("SetAsDefault") == Some("true");
    let now = Utc::now();
    let version = write(ctx, |_, acct| {
        let mut p = own_policy_of(acct, arn)?;
        if p.versions.len() >= MAX_VERSIONS {
            return Err(ApiError::limit(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        let version = PolicyVersion {
            id: format!("v{}", p.next_version),
            doc,
            created: now,
        };
        p.next_version += 1;
        p.versions.push(version.clone());
        if set_default {
            p.default_version = version.id.clone();
        }
        p.updated = now;
        Ok((vec![Change::Policy(ctx.account().to_string(), p)], version))
    })?;
    element("PolicyVersion", |x| {
        render_version(x, &version, set_default, true)
    })
}

fn get_version(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    let vid = version_id(ctx)?;
    ctx.authorize("iam:GetPolicyVersion", arn)?;
    let state = ctx.iam.read();
    let p = policy_of(account(&state, ctx)?, arn)?;
    let v = p.versions.iter().find(|v| v.id == vid).ok_or_else(|| {
        ApiError::no_such_entity(format!(
            "Policy {arn} version {vid} does not exist or is not attachable."
        ))
    })?;
    element("PolicyVersion", |x| {
        render_version(x, v, v.id == p.default_version, true)
    })
}

fn list_versions(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize("iam:ListPolicyVersions", arn)?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let p = policy_of(account(&state, ctx)?, arn)?;
    let mut versions: Vec<&PolicyVersion> = p.versions.iter().collect();
    versions.reverse();
    paged(
        paging,
        "Versions",
        &versions,
        |v| v.id.clone(),
        |x, v| render_version(x, v, v.id == p.default_version, false),
    )
}

fn delete_version(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    let vid = version_id(ctx)?;
    ctx.authorize("iam:DeletePolicyVersion", arn)?;
    write(ctx, |_, acct| {
        let mut p = own_policy_of(acct, arn)?;
        if !p.versions.iter().any(|v| v.id == vid) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} version {vid} does not exist or is not deletable."
            )));
        }
        if p.default_version == vid {
            return Err(ApiError::conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        p.versions.retain(|v| v.id != vid);
        Ok((vec![Change::Policy(ctx.account().to_string(), p)], ()))
    })?;
    Ok(None)
}

fn set_default(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    let vid = version_id(ctx)?;
    ctx.authorize("iam:SetDefaultPolicyVersion", arn)?;
    write(ctx, |_, acct| {
        let mut p = own_policy_of(acct, arn)?;
        if !p.versions.iter().any(|v| v.id == vid) {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} version {vid} does not exist or is not attachable."
            )));
        }
        p.default_version = vid.to_string();
        p.updated = Utc::now();
        Ok((vec![Change::Policy(ctx.account().to_string(), p)], ()))
    })?;
    Ok(None)
}

fn entities_for_policy(ctx: &Ctx<'_>) -> OpResult {
    let arn = policy_arn_param(ctx)?;
    ctx.authorize("iam:ListEntitiesForPolicy", arn)?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    if acct.managed(arn).is_none() {
        return Err(no_such_policy(arn));
    }
    let filter = ctx.params.get("EntityFilter");
    let attached = |list: &[String]| list.iter().any(|a| a == arn);
    let mut x = Xml::new();
    // Each kind's members, as (name, id), unless the filter leaves it out.
    let mut members = |tag: &str, kind: &str, names: [&str; 2], found: Vec<(&str, &str)>| {
        x.open(tag);
        if filter.is_none_or(|f| f == kind) {
            for (name, id) in found {
                x.open("member")
                    .text(names[0], name)
                    .text(names[1], id)
                    .close("member");
            }
        }
        x.close(tag);
    };
    members(
        "PolicyGroups",
        "Group",
        ["GroupName", "GroupId"],
        acct.groups
            .values()
            .filter(|g| attached(&g.attached))
            .map(|g| (g.name.as_str(), g.id.as_str()))
            .collect(),
    );
    members(
        "PolicyUsers",
        "User",
        ["UserName", "UserId"],
        acct.users
            .values()
            .filter(|u| attached(&u.attached))
            .map(|u| (u.name.as_str(), u.id.as_str()))
            .collect(),
    );
    members(
        "PolicyRoles",
        "Role",
        ["RoleName", "RoleId"],
        acct.roles
            .values()
            .filter(|r| attached(&r.attached))
            .map(|r| (r.name.as_str(), r.id.as_str()))
            .collect(),
    );
    x.bool("IsTruncated", false);
    Ok(Some(x.finish()))
}
