//! Roles: create, read, list, update, delete, trust policy.

use chrono::Utc;
use updraft_policy::PolicyKind;

use super::{
    account, check_no_policies, element, list_by_path, parse_doc, path_param, render_role,
    revoke_sessions, tags_param, write,
};
use crate::ids::{self, check_name, role_arn};
use crate::model::{Role, SessionOf};
use crate::state::Account;
use crate::store::{key, Change};
use crate::wire::{ApiError, Ctx, OpResult};

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreateRole" => create_role(ctx),
        "GetRole" => get_role(ctx),
        "ListRoles" => list_roles(ctx),
        "UpdateRole" => update_role(ctx),
        "UpdateRoleDescription" => update_role(ctx),
        "DeleteRole" => delete_role(ctx),
        "UpdateAssumeRolePolicy" => update_trust(ctx),
        _ => return None,
    })
}

pub(crate) fn no_such_role(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The role with name {name} cannot be found."))
}

pub(crate) fn role_name<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("RoleName", "roleName")?;
    check_name(name, "roleName", 64)?;
    Ok(name)
}

pub(crate) fn role_resource(ctx: &Ctx<'_>, name: &str) -> String {
    let state = ctx.iam.read();
    match state.account(ctx.account()).and_then(|a| a.role(name)) {
        Some(r) => r.arn.clone(),
        None => role_arn(ctx.account(), "/", name),
    }
}

pub(crate) fn role_of(acct: &Account, name: &str) -> Result<Role, ApiError> {
    acct.role(name).cloned().ok_or_else(|| no_such_role(name))
}

fn max_session(ctx: &Ctx<'_>) -> Result<Option<u32>, ApiError> {
    let Some(v) = ctx.params.get("MaxSessionDuration") else {
        return Ok(None);
    };
    match v.parse::<u32>() {
        Ok(n) if (3600..=43_200).contains(&n) => Ok(Some(n)),
        Ok(n) if n < 3600 => Err(ids::validation(
            Some(v),
            "maxSessionDuration",
            "Member must have value greater than or equal to 3600",
        )),
        _ => Err(ids::validation(
            Some(v),
            "maxSessionDuration",
            "Member must have value less than or equal to 43200",
        )),
    }
}

fn description(ctx: &Ctx<'_>) -> Result<Option<String>, ApiError> {
    match ctx.params.get("Description") {
        Some(d) if d.chars().count() > 1000 => Err(ids::validation(
            Some(d),
            "description",
            "Member must have length less than or equal to 1000",
        )),
        d => Ok(d.map(str::to_string)),
    }
}

fn create_role(ctx: &Ctx<'_>) -> OpResult {
    let name = role_name(ctx)?;
    let path = path_param(ctx)?;
    let arn = role_arn(ctx.account(), path, name);
    ctx.authorize("iam:CreateRole", &arn)?;
    let trust_text = ctx
        .params
        .required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?;
    super::check_quota(trust_text, "ACLSizePerRole", super::TRUST_POLICY_SIZE)?;
    let trust = parse_doc(trust_text, PolicyKind::Trust)?;
    let max = max_session(ctx)?.unwrap_or(3600);
    let description = description(ctx)?;
    let tags = tags_param(ctx)?;
    let boundary = ctx.params.get("PermissionsBoundary").map(str::to_string);
    let role = write(ctx, |_, acct| {
        if acct.role(name).is_some() {
            return Err(ApiError::exists(format!(
                "Role with name {name} already exists."
            )));
        }
        if let Some(b) = &boundary {
            super::users::check_boundary(acct, b)?;
        }
        let role = Role {
            path: path.to_string(),
            name: name.to_string(),
            id: ids::unique_id("AROA"),
            arn: arn.clone(),
            created: Utc::now(),
            trust,
            max_session: max,
            description,
            tags,
            boundary,
            inline: Default::default(),
            attached: Vec::new(),
        };
        Ok((
            vec![Change::Role(ctx.account().to_string(), role.clone())],
            role,
        ))
    })?;
    element("Role", |x| render_role(x, &role, false))
}

fn get_role(ctx: &Ctx<'_>) -> OpResult {
    let name = role_name(ctx)?;
    ctx.authorize("iam:GetRole", &role_resource(ctx, name))?;
    let state = ctx.iam.read();
    let role = account(&state, ctx)?
        .role(name)
        .ok_or_else(|| no_such_role(name))?;
    element("Role", |x| render_role(x, role, true))
}

fn list_roles(ctx: &Ctx<'_>) -> OpResult {
    list_by_path(
        ctx,
        "iam:ListRoles",
        "role",
        "Roles",
        |a| &a.roles,
        |r| &r.path,
        |x, r| render_role(x, r, false),
    )
}

fn update_role(ctx: &Ctx<'_>) -> OpResult {
    let name = role_name(ctx)?;
    let action = ctx.params.get("Action").unwrap_or("UpdateRole");
    ctx.authorize(&format!("iam:{action}"), &role_resource(ctx, name))?;
    let max = max_session(ctx)?;
    let description = description(ctx)?;
    let role = write(ctx, |_, acct| {
        let mut role = role_of(acct, name)?;
        if let Some(m) = max {
            role.max_session = m;
        }
        if description.is_some() {
            role.description = description;
        }
        Ok((
            vec![Change::Role(ctx.account().to_string(), role.clone())],
            role,
        ))
    })?;
    if action == "UpdateRoleDescription" {
        return element("Role", |x| render_role(x, &role, true));
    }
    Ok(Some(String::new()))
}

fn delete_role(ctx: &Ctx<'_>) -> OpResult {
    let name = role_name(ctx)?;
    ctx.authorize("iam:DeleteRole", &role_resource(ctx, name))?;
    write(ctx, |state, acct| {
        let role = acct.role(name).ok_or_else(|| no_such_role(name))?;
        check_no_policies(&role.inline, &role.attached)?;
        let account_id = ctx.account();
        let mut changes = vec![Change::DeleteRole(account_id.to_string(), key(name))];
        changes.extend(revoke_sessions(
            state,
            account_id,
            |of| matches!(of, SessionOf::Role { role_id, .. } if *role_id == role.id),
        ));
        Ok((changes, ()))
    })?;
    Ok(None)
}

fn update_trust(ctx: &Ctx<'_>) -> OpResult {
    let name = role_name(ctx)?;
    ctx.authorize("iam:UpdateAssumeRolePolicy", &role_resource(ctx, name))?;
    let text = ctx.params.required("PolicyDocument", "policyDocument")?;
    super::check_quota(text, "ACLSizePerRole", super::TRUST_POLICY_SIZE)?;
    let trust = parse_doc(text, PolicyKind::Trust)?;
    write(ctx, |_, acct| {
        let mut role = role_of(acct, name)?;
        role.trust = trust;
        Ok((vec![Change::Role(ctx.account().to_string(), role)], ()))
    })?;
    Ok(None)
}
