//! Users: create, read, list, rename, delete; permission boundaries
//! (users' and roles').

use chrono::Utc;
use updraft_policy::PrincipalKind;

use super::{
    account, check_no_policies, element, list_by_path, of_user, path_param, render_user,
    revoke_sessions, tags_param, write, Holder,
};
use crate::ids::{self, check_name, user_arn};
use crate::model::User;
use crate::store::{key, Change};
use crate::wire::{ApiError, Ctx, OpResult};

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreateUser" => create_user(ctx),
        "GetUser" => get_user(ctx),
        "ListUsers" => list_users(ctx),
        "UpdateUser" => update_user(ctx),
        "DeleteUser" => delete_user(ctx),
        "PutUserPermissionsBoundary" => set_boundary(ctx, Holder::User, action, true),
        "DeleteUserPermissionsBoundary" => set_boundary(ctx, Holder::User, action, false),
        "PutRolePermissionsBoundary" => set_boundary(ctx, Holder::Role, action, true),
        "DeleteRolePermissionsBoundary" => set_boundary(ctx, Holder::Role, action, false),
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
    element("User", |x| render_user(x, &user, true))
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
                let created = account_created(&ctx.iam.read(), account);
                return element("User", |x| {
                    x.text("UserId", account)
                        .text("Arn", &format!("arn:aws:iam::{account}:root"))
                        .date("CreateDate", &created);
                });
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
    element("User", |x| render_user(x, user, true))
}

fn account_created(state: &crate::state::State, account: &str) -> chrono::DateTime<Utc> {
    state
        .account(account)
        .map(|a| a.rec.created)
        .unwrap_or_else(Utc::now)
}

fn list_users(ctx: &Ctx<'_>) -> OpResult {
    list_by_path(
        ctx,
        "iam:ListUsers",
        "user",
        "Users",
        |a| &a.users,
        |u| &u.path,
        |x, u| render_user(x, u, false),
    )
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
            changes.extend(revoke_sessions(state, &account_id, of_user(name)));
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
        check_no_policies(&user.inline, &user.attached)?;
        if !user.groups.is_empty() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        let account_id = ctx.account().to_string();
        let mut changes = vec![Change::DeleteUser(account_id.clone(), key(name))];
        changes.extend(revoke_sessions(state, &account_id, of_user(name)));
        Ok((changes, ()))
    })?;
    Ok(None)
}

/// `Put`/`Delete{User,Role}PermissionsBoundary`: sets or clears a user's
/// or a role's boundary (a set one must be an existing managed policy).
fn set_boundary(ctx: &Ctx<'_>, holder: Holder, action: &str, put: bool) -> OpResult {
    let boundary = if put {
        Some(
            ctx.params
                .required("PermissionsBoundary", "permissionsBoundary")?
                .to_string(),
        )
    } else {
        None
    };
    let name = holder.name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    write(ctx, |_, acct| {
        if let Some(b) = &boundary {
            check_boundary(acct, b)?;
        }
        let mut entity = holder.load(acct, name)?;
        if let Some(b) = entity.boundary_mut() {
            *b = boundary;
        }
        Ok((vec![entity.into_change(ctx.account())], ()))
    })?;
    Ok(None)
}
