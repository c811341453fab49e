//! Access keys: a user's, or the caller's own when no user is named (the
//! calling user's, or the account's root keys when root calls); at most
//! two each. The secret is shown once, in CreateAccessKey's reply.

use chrono::Utc;
use updraft_policy::PrincipalKind;

use super::users::{no_such_user, user_of};
use super::{account, write};
use crate::ids::{self, check_name, user_arn};
use crate::model::{AccessKey, KeyStatus};
use crate::state::Account;
use crate::store::Change;
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// AWS's quota of access keys per user (and for root).
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

/// Whose keys an operation addresses.
enum Target {
    User(String),
    Root,
}

/// `UserName`, or the caller itself (a user, or root).
fn target(ctx: &Ctx<'_>) -> Result<Target, ApiError> {
    if let Some(n) = ctx.params.get("UserName") {
        check_name(n, "userName", 128)?;
        return Ok(Target::User(n.to_string()));
    }
    match &ctx.caller.principal.kind {
        PrincipalKind::User { name, .. } => Ok(Target::User(name.clone())),
        PrincipalKind::Root => Ok(Target::Root),
        _ => Err(ids::validation(
            None,
            "userName",
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

impl Target {
    /// The ARN the operation is authorized on.
    fn resource(&self, ctx: &Ctx<'_>) -> String {
        match self {
            Target::Root => format!("arn:aws:iam::{}:root", ctx.account()),
            Target::User(user) => {
                let state = ctx.iam.read();
                match state.account(ctx.account()).and_then(|a| a.user(user)) {
                    Some(u) => u.arn.clone(),
                    None => user_arn(ctx.account(), "/", user),
                }
            }
        }
    }

    /// The keys and the user name to show (none for root).
    fn keys(&self, acct: &Account) -> Result<(Vec<AccessKey>, Option<String>), ApiError> {
        match self {
            Target::Root => Ok((acct.rec.root_keys.clone(), None)),
            Target::User(user) => {
                let u = user_of(acct, user)?;
                Ok((u.keys, Some(u.name)))
            }
        }
    }

    /// The change that stores `keys` as the target's.
    fn store(
        &self,
        ctx: &Ctx<'_>,
        acct: &Account,
        keys: Vec<AccessKey>,
    ) -> Result<Change, ApiError> {
        Ok(match self {
            Target::Root => {
                let mut rec = acct.rec.clone();
                rec.root_keys = keys;
                Change::Account(rec)
            }
            Target::User(user) => {
                let mut u = user_of(acct, user)?;
                u.keys = keys;
                Change::User(ctx.account().to_string(), u)
            }
        })
    }
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::no_such_entity(format!("The Access Key with id {id} cannot be found"))
}

fn create_key(ctx: &Ctx<'_>) -> OpResult {
    let target = target(ctx)?;
    ctx.authorize("iam:CreateAccessKey", &target.resource(ctx))?;
    let (key, name) = write(ctx, |_, acct| {
        let (mut keys, name) = target.keys(acct)?;
        if keys.len() >= MAX_KEYS {
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
        keys.push(key.clone());
        Ok((vec![target.store(ctx, acct, keys)?], (key, name)))
    })?;
    let mut x = Xml::new();
    x.open("AccessKey")
        .opt("UserName", name.as_deref())
        .text("AccessKeyId", &key.id)
        .text("Status", key.status.as_str())
        .text("SecretAccessKey", &key.secret)
        .date("CreateDate", &key.created)
        .close("AccessKey");
    Ok(Some(x.finish()))
}

fn list_keys(ctx: &Ctx<'_>) -> OpResult {
    let target = target(ctx)?;
    ctx.authorize("iam:ListAccessKeys", &target.resource(ctx))?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let (keys, name) = target.keys(account(&state, ctx)?)?;
    let mut x = Xml::new();
    page(
        &mut x,
        "AccessKeyMetadata",
        &keys,
        |k| k.id.clone(),
        paging,
        |x, k| {
            x.opt("UserName", name.as_deref())
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
    let target = target(ctx)?;
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
    ctx.authorize("iam:UpdateAccessKey", &target.resource(ctx))?;
    write(ctx, |_, acct| {
        let (mut keys, _) = target.keys(acct)?;
        let k = keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or_else(|| no_such_key(id))?;
        k.status = status;
        Ok((vec![target.store(ctx, acct, keys)?], ()))
    })?;
    Ok(None)
}

fn delete_key(ctx: &Ctx<'_>) -> OpResult {
    let target = target(ctx)?;
    let id = key_id(ctx)?;
    ctx.authorize("iam:DeleteAccessKey", &target.resource(ctx))?;
    write(ctx, |_, acct| {
        let (mut keys, _) = target.keys(acct)?;
        let before = keys.len();
        keys.retain(|k| k.id != id);
        if keys.len() == before {
            return Err(no_such_key(id));
        }
        Ok((vec![target.store(ctx, acct, keys)?], ()))
    })?;
    Ok(None)
}

fn last_used(ctx: &Ctx<'_>) -> OpResult {
    let id = key_id(ctx)?;
    let target = {
        let state = ctx.iam.read();
        let owner = state.keys.get(id).ok_or_else(|| no_such_key(id))?;
        if owner.account != ctx.account() {
            return Err(no_such_key(id));
        }
        match &owner.user {
            Some(k) => Target::User(
                account(&state, ctx)?
                    .users
                    .get(k)
                    .map(|u| u.name.clone())
                    .ok_or_else(|| no_such_user(k))?,
            ),
            None => Target::Root,
        }
    };
    ctx.authorize("iam:GetAccessKeyLastUsed", &target.resource(ctx))?;
    let mut x = Xml::new();
    if let Target::User(name) = &target {
        x.text("UserName", name);
    }
    x.open("AccessKeyLastUsed")
        .text("ServiceName", "N/A")
        .text("Region", "N/A")
        .close("AccessKeyLastUsed");
    Ok(Some(x.finish()))
}
