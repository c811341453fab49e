//! Users: create, read, list, rename, delete; tags; permission boundaries
//! (users' and roles').

use chrono::Utc;
use updraft_policy::PrincipalKind;

use super::{
    account, list_arn, merge_tags, path_param, path_prefix, render_tag_list, render_user,
    tags_param, write,
};
use crate::ids::{self, check_name, user_arn};
use crate::model::User;
use crate::store::{key, Change};
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreateUser" => create_user(ctx),
        "GetUser" => get_user(ctx),
        "ListUsers" => list_users(ctx),
        "UpdateUser" => update_user(ctx),
        "DeleteUser" => delete_user(ctx),
        "TagUser" => tag_user(ctx),
        "UntagUser" => untag_user(ctx),
        "ListUserTags" => list_user_tags(ctx),
        "PutUserPermissionsBoundary" => put_boundary(ctx, true),
        "DeleteUserPermissionsBoundary" => delete_boundary(ctx, true),
        "PutRolePermissionsBoundary" => put_boundary(ctx, false),
        "DeleteRolePermissionsBoundary" => delete_boundary(ctx, false),
        _ => return None,
    })
}

pub(crate) fn no_such_user(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The user with name {name} cannot be found."))
}

/// The `UserName` parameter, validated.
pub(crate) fn user_name<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("UserName", "userName")?;
    check_name(name, "userName", 64)?;
    Ok(name)
}

/// The ARN a user operation is authorized on: the user's, or with the
/// default path when it does not exist.
pub(crate) fn user_resource(ctx: &Ctx<'_>, name: &str) -> String {
    let state = ctx.iam.read();
    match state.account(ctx.account()).and_then(|a| a.user(name)) {
        Some(u) => u.arn.clone(),
        None => user_arn(ctx.account(), "/", name),
    }
}

/// Loads a user for a change.
pub(crate) fn user_of(acct: &crate::state::Account, name: &str) -> Result<User, ApiError> {
    acct.user(name).cloned().ok_or_else(|| no_such_user(name))
}

fn create_user(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    let path = path_param(ctx)?;
    let arn = user_arn(ctx.account(), path, name);
    ctx.authorize("iam:CreateUser", &arn)?;
    let tags = tags_param(ctx)?;
    let boundary = ctx.params.get("PermissionsBoundary").map(str::to_string);
    let user = write(ctx, |_, acct| {
        if acct.user(name).is_some() {
            return Err(ApiError::exists(format!(
                "User with name {name} already exists."
            )));
        }
        if let Some(b) = &boundary {
            check_boundary(acct, b)?;
        }
        let user = User {
            path: path.to_string(),
            name: name.to_string(),
            id: ids::unique_id("AIDA"),
            arn: arn.clone(),
            created: Utc::now(),
            tags,
            boundary,
            inline: Default::default(),
            attached: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
        };
        Ok((
            vec![Change::User(ctx.account().to_string(), user.clone())],
            user,
        ))
    })?;
    let mut x = Xml::new();
    x.open("User");
    render_user(&mut x, &user, true);
    x.close("User");
    Ok(Some(x.finish()))
}

/// A boundary must be an existing managed policy.
pub(crate) fn check_boundary(acct: &crate::state::Account, arn: &str) -> Result<(), ApiError> {
    if acct.managed(arn).is_some() {
        Ok(())
    } else {
        Err(ApiError::no_such_entity(format!(
            "Scope ARN: {arn} does not exist or is not attachable."
        )))
    }
}

fn get_user(ctx: &Ctx<'_>) -> OpResult {
    let name = match ctx.params.get("UserName") {
        Some(n) => {
            check_name(n, "userName", 64)?;
            n.to_string()
        }
        None => match &ctx.caller.principal.kind {
            PrincipalKind::User { name, .. } => name.clone(),
            PrincipalKind::Root => {
                // GetUser without a name as root describes the root user.
                let account = ctx.account();
                let mut x = Xml::new();
                x.open("User")
                    .text("UserId", account)
                    .text("Arn", &format!("arn:aws:iam::{account}:root"))
                    .date("CreateDate", &{
                        let state = ctx.iam.read();
                        account_created(&state, account)
                    })
                    .close("User");
                return Ok(Some(x.finish()));
            }
            _ => {
                return Err(ids::validation(
                    None,
                    "userName",
                    "Must specify userName when calling with non-User credentials",
                ))
            }
        },
    };
    ctx.authorize("iam:GetUser", &user_resource(ctx, &name))?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let user = acct.user(&name).ok_or_else(|| no_such_user(&name))?;
    let mut x = Xml::new();
    x.open("User");
    render_user(&mut x, user, true);
    x.close("User");
    Ok(Some(x.finish()))
}

fn account_created(state: &crate::state::State, account: &str) -> chrono::DateTime<Utc> {
    state
        .account(account)
        .map(|a| a.rec.created)
        .unwrap_or_else(Utc::now)
}

fn list_users(ctx: &Ctx<'_>) -> OpResult {
    ctx.authorize("iam:ListUsers", &list_arn(ctx, "user"))?;
    let prefix = path_prefix(ctx);
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let users: Vec<_> = acct
        .users
        .iter()
        .filter(|(_, u)| u.path.starts_with(prefix))
        .collect();
    let mut x = Xml::new();
    page(
        &mut x,
        "Users",
        &users,
        |(k, _)| k.to_string(),
        paging,
        |x, (_, u)| render_user(x, u, false),
    );
    Ok(Some(x.finish()))
}

fn update_user(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    ctx.authorize("iam:UpdateUser", &user_resource(ctx, name))?;
    let new_name = ctx.params.get("NewUserName");
    if let Some(n) = new_name {
        check_name(n, "newUserName", 64)?;
    }
    let new_path = ctx.params.get("NewPath");
    if let Some(p) = new_path {
        ids::check_path(p)?;
    }
    write(ctx, |state, acct| {
        let mut user = user_of(acct, name)?;
        let account_id = ctx.account().to_string();
        let mut changes = Vec::new();
        if let Some(n) = new_name {
            if key(n) != key(name) && acct.user(n).is_some() {
                return Err(ApiError::exists(format!(
                    "User with name {n} already exists."
                )));
            }
            changes.push(Change::DeleteUser(account_id.clone(), key(name)));
            // Sessions of the user follow the rename only by name: revoke them.
            changes.extend(
                state
                    .sessions
                    .values()
                    .filter(|s| s.account == account_id)
                    .filter(|s| matches!(&s.of, crate::model::SessionOf::User { user_name, .. } if key(user_name) == key(name)))
                    .map(|s| Change::DeleteSession(s.key_id.clone())),
            );
            user.name = n.to_string();
        }
        if let Some(p) = new_path {
            user.path = p.to_string();
        }
        user.arn = user_arn(&account_id, &user.path, &user.name);
        changes.push(Change::User(account_id, user));
        Ok((changes, ()))
    })?;
    Ok(None)
}

fn delete_user(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    ctx.authorize("iam:DeleteUser", &user_resource(ctx, name))?;
    write(ctx, |state, acct| {
        let user = user_of(acct, name)?;
        if !user.keys.is_empty() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must delete access keys first.",
            ));
        }
        if !user.inline.is_empty() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !user.attached.is_empty() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if !user.groups.is_empty() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        let account_id = ctx.account().to_string();
        let mut changes = vec![Change::DeleteUser(account_id.clone(), key(name))];
        changes.extend(
            state
                .sessions
                .values()
                .filter(|s| s.account == account_id)
                .filter(|s| matches!(&s.of, crate::model::SessionOf::User { user_name, .. } if key(user_name) == key(name)))
                .map(|s| Change::DeleteSession(s.key_id.clone())),
        );
        Ok((changes, ()))
    })?;
    Ok(None)
}

fn tag_user(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    ctx.authorize("iam:TagUser", &user_resource(ctx, name))?;
    let tags = tags_param(ctx)?;
    write(ctx, |_, acct| {
        let mut user = user_of(acct, name)?;
        merge_tags(&mut user.tags, tags)?;
        Ok((vec![Change::User(ctx.account().to_string(), user)], ()))
    })?;
    Ok(None)
}

fn untag_user(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    ctx.authorize("iam:UntagUser", &user_resource(ctx, name))?;
    let keys = ctx.params.list("TagKeys.member");
    write(ctx, |_, acct| {
        let mut user = user_of(acct, name)?;
        user.tags.retain(|t| !keys.contains(&t.key.as_str()));
        Ok((vec![Change::User(ctx.account().to_string(), user)], ()))
    })?;
    Ok(None)
}

fn list_user_tags(ctx: &Ctx<'_>) -> OpResult {
    let name = user_name(ctx)?;
    ctx.authorize("iam:ListUserTags", &user_resource(ctx, name))?;
    let state = ctx.iam.read();
    let user = user_of(account(&state, ctx)?, name)?;
    let mut x = Xml::new();
    render_tag_list(&mut x, &user.tags);
    x.bool("IsTruncated", false);
    Ok(Some(x.finish()))
}

fn put_boundary(ctx: &Ctx<'_>, user: bool) -> OpResult {
    let boundary = ctx
        .params
        .required("PermissionsBoundary", "permissionsBoundary")?
        .to_string();
    if user {
        let name = user_name(ctx)?;
        ctx.authorize("iam:PutUserPermissionsBoundary", &user_resource(ctx, name))?;
        write(ctx, |_, acct| {
            check_boundary(acct, &boundary)?;
            let mut u = user_of(acct, name)?;
            u.boundary = Some(boundary.clone());
            Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
        })?;
    } else {
        let name = super::roles::role_name(ctx)?;
        ctx.authorize(
            "iam:PutRolePermissionsBoundary",
            &super::roles::role_resource(ctx, name),
        )?;
        write(ctx, |_, acct| {
            check_boundary(acct, &boundary)?;
            let mut r = super::roles::role_of(acct, name)?;
            r.boundary = Some(boundary.clone());
            Ok((vec![Change::Role(ctx.account().to_string(), r)], ()))
        })?;
    }
    Ok(None)
}

fn delete_boundary(ctx: &Ctx<'_>, user: bool) -> OpResult {
    if user {
        let name = user_name(ctx)?;
        ctx.authorize(
            "iam:DeleteUserPermissionsBoundary",
            &user_resource(ctx, name),
        )?;
        write(ctx, |_, acct| {
            let mut u = user_of(acct, name)?;
            u.boundary = None;
            Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
        })?;
    } else {
        let name = super::roles::role_name(ctx)?;
        ctx.authorize(
            "iam:DeleteRolePermissionsBoundary",
            &super::roles::role_resource(ctx, name),
        )?;
        write(ctx, |_, acct| {
            let mut r = super::roles::role_of(acct, name)?;
            r.boundary = None;
            Ok((vec![Change::Role(ctx.account().to_string(), r)], ()))
        })?;
    }
    Ok(None)
}
