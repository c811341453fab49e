//! Inline policies of users, groups and roles, and what they share with
//! attachments: [`Holder`], the three kinds of entity that hold policies.

use std::collections::BTreeMap;

use updraft_policy::PolicyKind;

use super::{account, encode_doc, parse_doc};
use crate::ids::check_name;
use crate::model::{Doc, Group, Role, User};
use crate::state::Account;
use crate::store::Change;
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// Which kind of entity an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    User,
    Group,
    Role,
}

impl Holder {
    /// The name parameter and its validation field.
    pub fn param(self) -> (&'static str, &'static str) {
        match self {
            Holder::User => ("UserName", "userName"),
            Holder::Group => ("GroupName", "groupName"),
            Holder::Role => ("RoleName", "roleName"),
        }
    }

    /// The quota on the sum of an entity's inline policies' sizes.
    pub fn inline_quota(self) -> usize {
        match self {
            Holder::User => 2048,
            Holder::Group => 5120,
            Holder::Role => 10_240,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Group => "Group",
            Holder::Role => "Role",
        }
    }

    /// The holder's name, validated.
    pub fn name<'a>(self, ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
        match self {
            Holder::User => super::users::user_name(ctx),
            Holder::Group => super::groups::group_name(ctx),
            Holder::Role => super::roles::role_name(ctx),
        }
    }

    /// The ARN an operation on the holder is authorized on.
    pub fn resource(self, ctx: &Ctx<'_>, name: &str) -> String {
        match self {
            Holder::User => super::users::user_resource(ctx, name),
            Holder::Group => super::groups::group_resource(ctx, name),
            Holder::Role => super::roles::role_resource(ctx, name),
        }
    }

    pub fn load(self, acct: &Account, name: &str) -> Result<Entity, ApiError> {
        Ok(match self {
            Holder::User => Entity::User(super::users::user_of(acct, name)?),
            Holder::Group => Entity::Group(super::groups::group_of(acct, name)?),
            Holder::Role => Entity::Role(super::roles::role_of(acct, name)?),
        })
    }
}

/// A copy of a user, group or role being changed.
pub(crate) enum Entity {
    User(User),
    Group(Group),
    Role(Role),
}

impl Entity {
    pub fn inline(&self) -> &BTreeMap<String, Doc> {
        match self {
            Entity::User(u) => &u.inline,
            Entity::Group(g) => &g.inline,
            Entity::Role(r) => &r.inline,
        }
    }

    pub fn inline_mut(&mut self) -> &mut BTreeMap<String, Doc> {
        match self {
            Entity::User(u) => &mut u.inline,
            Entity::Group(g) => &mut g.inline,
            Entity::Role(r) => &mut r.inline,
        }
    }

    pub fn attached(&self) -> &Vec<String> {
        match self {
            Entity::User(u) => &u.attached,
            Entity::Group(g) => &g.attached,
            Entity::Role(r) => &r.attached,
        }
    }

    pub fn attached_mut(&mut self) -> &mut Vec<String> {
        match self {
            Entity::User(u) => &mut u.attached,
            Entity::Group(g) => &mut g.attached,
            Entity::Role(r) => &mut r.attached,
        }
    }

    /// The permission boundary, for a user or a role (a group has none).
    pub fn boundary_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            Entity::User(u) => Some(&mut u.boundary),
            Entity::Group(_) => None,
            Entity::Role(r) => Some(&mut r.boundary),
        }
    }

    /// The entity's name as stored.
    pub fn name(&self) -> &str {
        match self {
            Entity::User(u) => &u.name,
            Entity::Group(g) => &g.name,
            Entity::Role(r) => &r.name,
        }
    }

    pub fn into_change(self, account: &str) -> Change {
        match self {
            Entity::User(u) => Change::User(account.to_string(), u),
            Entity::Group(g) => Change::Group(account.to_string(), g),
            Entity::Role(r) => Change::Role(account.to_string(), r),
        }
    }
}

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    let (op, holder) = match action {
        "PutUserPolicy" => ("Put", Holder::User),
        "PutGroupPolicy" => ("Put", Holder::Group),
        "PutRolePolicy" => ("Put", Holder::Role),
        "GetUserPolicy" => ("Get", Holder::User),
        "GetGroupPolicy" => ("Get", Holder::Group),
        "GetRolePolicy" => ("Get", Holder::Role),
        "DeleteUserPolicy" => ("Delete", Holder::User),
        "DeleteGroupPolicy" => ("Delete", Holder::Group),
        "DeleteRolePolicy" => ("Delete", Holder::Role),
        "ListUserPolicies" => ("List", Holder::User),
        "ListGroupPolicies" => ("List", Holder::Group),
        "ListRolePolicies" => ("List", Holder::Role),
        _ => return None,
    };
    Some(match op {
        "Put" => put(ctx, holder, action),
        "Get" => get(ctx, holder, action),
        "Delete" => delete(ctx, holder, action),
        _ => list(ctx, holder, action),
    })
}

fn policy_name<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("PolicyName", "policyName")?;
    check_name(name, "policyName", 128)?;
    Ok(name)
}

fn no_such_inline(holder: Holder, name: &str) -> ApiError {
    ApiError::no_such_entity(format!(
        "The {} policy with name {name} cannot be found.",
        holder.noun().to_ascii_lowercase()
    ))
}

fn put(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    let policy = policy_name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    let text = ctx.params.required("PolicyDocument", "policyDocument")?;
    let doc = parse_doc(text, PolicyKind::Identity)?;
    super::write(ctx, |_, acct| {
        let mut entity = holder.load(acct, name)?;
        entity.inline_mut().insert(policy.to_string(), doc);
        let total: usize = entity
            .inline()
            .values()
            .map(|d| super::policy_size(&d.text))
            .sum();
        let quota = holder.inline_quota();
        if total > quota {
            return Err(ApiError::limit(format!(
                "Maximum policy size of {quota} bytes exceeded for {} {name}",
                holder.noun().to_ascii_lowercase()
            )));
        }
        Ok((vec![entity.into_change(ctx.account())], ()))
    })?;
    Ok(None)
}

fn get(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    let policy = policy_name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    let state = ctx.iam.read();
    let entity = holder.load(account(&state, ctx)?, name)?;
    let doc = entity
        .inline()
        .get(policy)
        .ok_or_else(|| no_such_inline(holder, policy))?;
    let (param, _) = holder.param();
    let mut x = Xml::new();
    x.text(param, entity.name())
        .text("PolicyName", policy)
        .text("PolicyDocument", &encode_doc(&doc.text));
    Ok(Some(x.finish()))
}

fn delete(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    let policy = policy_name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    super::write(ctx, |_, acct| {
        let mut entity = holder.load(acct, name)?;
        if entity.inline_mut().remove(policy).is_none() {
            return Err(no_such_inline(holder, policy));
        }
        Ok((vec![entity.into_change(ctx.account())], ()))
    })?;
    Ok(None)
}

fn list(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let entity = holder.load(account(&state, ctx)?, name)?;
    let names: Vec<&String> = entity.inline().keys().collect();
    let mut x = Xml::new();
    page(
        &mut x,
        "PolicyNames",
        &names,
        |n| n.to_string(),
        paging,
        |x, n| {
            x.raw(&crate::xml::escape(n));
        },
    );
    Ok(Some(x.finish()))
}
