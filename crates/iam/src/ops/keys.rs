//! Access keys: a user's (at most two), or the caller's own when no user
//! is named. The secret is shown once, in CreateAccessKey's reply.

use chrono::Utc;
use updraft_policy::PrincipalKind;

use super::users::{no_such_user, user_of};
use super::{account, write};
use crate::ids::{self, check_name, user_arn};
use crate::model::{AccessKey, KeyStatus};
use crate::store::Change;
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// AWS's quota of access keys per user.
const MAX_KEYS: usize = 2;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreateAccessKey" => create_key(ctx),
        "ListAccessKeys" => list_keys(ctx),
        "UpdateAccessKey" => update_key(ctx),
        "DeleteAccessKey" => delete_key(ctx),
        "GetAccessKeyLastUsed" => last_used(ctx),
        _ => return None,
    })
}

/// The user an access-key operation addresses: `UserName`, or the calling
/// user. `None` is the account's root (root keys are not managed here).
fn target_user(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    if let Some(n) = ctx.params.get("UserName") {
        check_name(n, "userName", 128)?;
        return Ok(n.to_string());
    }
    match &ctx.caller.principal.kind {
        PrincipalKind::User { name, .. } => Ok(name.clone()),
        _ => Err(ids::validation(
            None,
            "userName",
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

fn resource(ctx: &Ctx<'_>, user: &str) -> String {
    let state = ctx.iam.read();
    match state.account(ctx.account()).and_then(|a| a.user(user)) {
        Some(u) => u.arn.clone(),
        None => user_arn(ctx.account(), "/", user),
    }
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::no_such_entity(format!("The Access Key with id {id} cannot be found"))
}

fn create_key(ctx: &Ctx<'_>) -> OpResult {
    let user = target_user(ctx)?;
    ctx.authorize("iam:CreateAccessKey", &resource(ctx, &user))?;
    let (key, name) = write(ctx, |_, acct| {
        let mut u = user_of(acct, &user)?;
        if u.keys.len() >= MAX_KEYS {
            return Err(ApiError::limit(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}"
            )));
        }
        let key = AccessKey {
            id: ids::access_key_id(),
            secret: ids::secret(),
            status: KeyStatus::Active,
            created: Utc::now(),
        };
        u.keys.push(key.clone());
        let name = u.name.clone();
        Ok((
            vec![Change::User(ctx.account().to_string(), u)],
            (key, name),
        ))
    })?;
    let mut x = Xml::new();
    x.open("AccessKey")
        .text("UserName", &name)
        .text("AccessKeyId", &key.id)
        .text("Status", key.status.as_str())
        .text("SecretAccessKey", &key.secret)
        .date("CreateDate", &key.created)
        .close("AccessKey");
    Ok(Some(x.finish()))
}

fn list_keys(ctx: &Ctx<'_>) -> OpResult {
    let user = target_user(ctx)?;
    ctx.authorize("iam:ListAccessKeys", &resource(ctx, &user))?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let u = user_of(account(&state, ctx)?, &user)?;
    let mut x = Xml::new();
    page(
        &mut x,
        "AccessKeyMetadata",
        &u.keys,
        |k| k.id.clone(),
        paging,
        |x, k| {
            x.text("UserName", &u.name)
                .text("AccessKeyId", &k.id)
                .text("Status", k.status.as_str())
                .date("CreateDate", &k.created);
        },
    );
    Ok(Some(x.finish()))
}

fn key_id<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let id = ctx.params.required("AccessKeyId", "accessKeyId")?;
    if id.len() < 16 || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ids::validation(
            Some(id),
            "accessKeyId",
            "Member must satisfy regular expression pattern: [\\w]+",
        ));
    }
    Ok(id)
}

fn update_key(ctx: &Ctx<'_>) -> OpResult {
    let user = target_user(ctx)?;
    let id = key_id(ctx)?;
    let status = match ctx.params.required("Status", "status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(ids::validation(
                Some(other),
                "status",
                "Member must satisfy enum value set: [Active, Inactive]",
            ))
        }
    };
    ctx.authorize("iam:UpdateAccessKey", &resource(ctx, &user))?;
    write(ctx, |_, acct| {
        let mut u = user_of(acct, &user)?;
        let k = u
            .keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or_else(|| no_such_key(id))?;
        k.status = status;
        Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
    })?;
    Ok(None)
}

fn delete_key(ctx: &Ctx<'_>) -> OpResult {
    let user = target_user(ctx)?;
    let id = key_id(ctx)?;
    ctx.authorize("iam:DeleteAccessKey", &resource(ctx, &user))?;
    write(ctx, |_, acct| {
        let mut u = user_of(acct, &user)?;
        let before = u.keys.len();
        u.keys.retain(|k| k.id != id);
        if u.keys.len() == before {
            return Err(no_such_key(id));
        }
        Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
    })?;
    Ok(None)
}

fn last_used(ctx: &Ctx<'_>) -> OpResult {
    let id = key_id(ctx)?;
    let user = {
        let state = ctx.iam.read();
        let owner = state.keys.get(id).ok_or_else(|| no_such_key(id))?;
        if owner.account != ctx.account() {
            return Err(no_such_key(id));
        }
        let user = match &owner.user {
            Some(k) => account(&state, ctx)?
                .users
                .get(k)
                .map(|u| u.name.clone())
                .ok_or_else(|| no_such_user(k))?,
            None => return Err(no_such_key(id)),
        };
        user
    };
    ctx.authorize("iam:GetAccessKeyLastUsed", &resource(ctx, &user))?;
    let mut x = Xml::new();
    x.text("UserName", &user)
        .open("AccessKeyLastUsed")
        .text("ServiceName", "N/A")
        .text("Region", "N/A")
        .close("AccessKeyLastUsed");
    Ok(Some(x.finish()))
}
