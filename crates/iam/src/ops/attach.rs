//! Attaching managed policies to users, groups and roles (at most ten per
//! entity, as AWS's default quota).

use super::account;
use super::inline::Holder;
use super::policies::policy_arn_param;
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// AWS's default quota of managed policies per user, group or role.
const MAX_ATTACHED: usize = 10;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    let (op, holder) = match action {
        "AttachUserPolicy" => ("Attach", Holder::User),
        "AttachGroupPolicy" => ("Attach", Holder::Group),
        "AttachRolePolicy" => ("Attach", Holder::Role),
        "DetachUserPolicy" => ("Detach", Holder::User),
        "DetachGroupPolicy" => ("Detach", Holder::Group),
        "DetachRolePolicy" => ("Detach", Holder::Role),
        "ListAttachedUserPolicies" => ("List", Holder::User),
        "ListAttachedGroupPolicies" => ("List", Holder::Group),
        "ListAttachedRolePolicies" => ("List", Holder::Role),
        _ => return None,
    };
    Some(match op {
        "Attach" => attach(ctx, holder, action),
        "Detach" => detach(ctx, holder, action),
        _ => list(ctx, holder, action),
    })
}

fn attach(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    super::write(ctx, |_, acct| {
        let mut entity = holder.load(acct, name)?;
        if acct.managed(arn).is_none() {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        if entity.attached().iter().any(|a| a == arn) {
            return Ok((Vec::new(), ()));
        }
        if entity.attached().len() >= MAX_ATTACHED {
            return Err(ApiError::limit(format!(
                "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                holder.noun()
            )));
        }
        entity.attached_mut().push(arn.to_string());
        Ok((vec![entity.into_change(ctx.account())], ()))
    })?;
    Ok(None)
}

fn detach(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    let arn = policy_arn_param(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    super::write(ctx, |_, acct| {
        let mut entity = holder.load(acct, name)?;
        let before = entity.attached().len();
        entity.attached_mut().retain(|a| a != arn);
        if entity.attached().len() == before {
            return Err(ApiError::no_such_entity(format!(
                "Policy {arn} was not found."
            )));
        }
        Ok((vec![entity.into_change(ctx.account())], ()))
    })?;
    Ok(None)
}

fn list(ctx: &Ctx<'_>, holder: Holder, action: &str) -> OpResult {
    let name = holder.name(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &holder.resource(ctx, name))?;
    let prefix = super::path_prefix(ctx);
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let entity = holder.load(acct, name)?;
    let attached: Vec<(String, String)> = entity
        .attached()
        .iter()
        .filter_map(|arn| {
            let p = acct.managed(arn)?;
            p.path
                .starts_with(prefix)
                .then(|| (p.name.clone(), arn.clone()))
        })
        .collect();
    let mut x = Xml::new();
    page(
        &mut x,
        "AttachedPolicies",
        &attached,
        |(_, a)| a.clone(),
        paging,
        |x, (n, a)| {
            x.text("PolicyName", n).text("PolicyArn", a);
        },
    );
    Ok(Some(x.finish()))
}
