//! Tags of users, roles and managed policies: tag, untag and list, one
//! implementation for the three kinds.

use super::policies::{no_such_policy, own_policy_of, policy_arn_param};
use super::roles::{no_such_role, role_name, role_of, role_resource};
use super::users::{no_such_user, user_name, user_of, user_resource};
use super::{account, merge_tags, render_tag_list, tags_param, write};
use crate::model::Tag;
use crate::state::Account;
use crate::store::Change;
use crate::wire::{ApiError, Ctx, OpResult};
use crate::xml::Xml;

/// Which kind of entity carries the tags.
#[derive(Debug, Clone, Copy)]
enum Tagged {
    User,
    Role,
    Policy,
}

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    let (op, kind) = match action {
        "TagUser" => (Op::Tag, Tagged::User),
        "TagRole" => (Op::Tag, Tagged::Role),
        "TagPolicy" => (Op::Tag, Tagged::Policy),
        "UntagUser" => (Op::Untag, Tagged::User),
        "UntagRole" => (Op::Untag, Tagged::Role),
        "UntagPolicy" => (Op::Untag, Tagged::Policy),
        "ListUserTags" => (Op::List, Tagged::User),
        "ListRoleTags" => (Op::List, Tagged::Role),
        "ListPolicyTags" => (Op::List, Tagged::Policy),
        _ => return None,
    };
    Some(run(ctx, op, kind, action))
}

enum Op {
    Tag,
    Untag,
    List,
}

impl Tagged {
    /// The entity's name (a policy's ARN), validated, and the ARN the
    /// operation is authorized on.
    fn target<'a>(self, ctx: &Ctx<'a>) -> Result<(&'a str, String), ApiError> {
        Ok(match self {
            Tagged::User => {
                let name = user_name(ctx)?;
                (name, user_resource(ctx, name))
            }
            Tagged::Role => {
                let name = role_name(ctx)?;
                (name, role_resource(ctx, name))
            }
            Tagged::Policy => {
                let arn = policy_arn_param(ctx)?;
                (arn, arn.to_string())
            }
        })
    }

    /// The entity's tags to read (an AWS-managed policy's included).
    fn tags<'s>(self, acct: &'s Account, id: &str) -> Result<&'s [Tag], ApiError> {
        Ok(match self {
            Tagged::User => &acct.user(id).ok_or_else(|| no_such_user(id))?.tags,
            Tagged::Role => &acct.role(id).ok_or_else(|| no_such_role(id))?.tags,
            Tagged::Policy => &acct.managed(id).ok_or_else(|| no_such_policy(id))?.tags,
        })
    }

    /// Changes the entity's tags with `f` (only the account's own policies).
    fn update(
        self,
        ctx: &Ctx<'_>,
        id: &str,
        f: impl FnOnce(&mut Vec<Tag>) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let account = ctx.account().to_string();
        write(ctx, |_, acct| {
            let change = match self {
                Tagged::User => {
                    let mut u = user_of(acct, id)?;
                    f(&mut u.tags)?;
                    Change::User(account, u)
                }
                Tagged::Role => {
                    let mut r = role_of(acct, id)?;
                    f(&mut r.tags)?;
                    Change::Role(account, r)
                }
                Tagged::Policy => {
                    let mut p = own_policy_of(acct, id)?;
                    f(&mut p.tags)?;
                    Change::Policy(account, p)
                }
            };
            Ok((vec![change], ()))
        })
    }
}

fn run(ctx: &Ctx<'_>, op: Op, kind: Tagged, action: &str) -> OpResult {
    let (id, resource) = kind.target(ctx)?;
    ctx.authorize(&format!("iam:{action}"), &resource)?;
    match op {
        Op::Tag => {
            let tags = tags_param(ctx)?;
            kind.update(ctx, id, |t| merge_tags(t, tags))?;
            Ok(None)
        }
        Op::Untag => {
            let keys = ctx.params.list("TagKeys.member");
            kind.update(ctx, id, |t| {
                t.retain(|t| !keys.contains(&t.key.as_str()));
                Ok(())
            })?;
            Ok(None)
        }
        Op::List => {
            let state = ctx.iam.read();
            let tags = kind.tags(account(&state, ctx)?, id)?;
            let mut x = Xml::new();
            render_tag_list(&mut x, tags);
            x.bool("IsTruncated", false);
            Ok(Some(x.finish()))
        }
    }
}
