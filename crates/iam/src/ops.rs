//! IAM operations: one function per action, grouped by entity. Each one
//! authorizes itself (`iam:<Action>` on the entity's ARN), validates its
//! parameters with AWS's wording, commits its change and renders its
//! result element.

mod attach;
mod groups;
mod inline;
mod keys;
mod policies;
mod roles;
mod simulate;
mod tags;
mod users;

use std::collections::HashMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use updraft_policy::PolicyKind;

use std::collections::BTreeMap;

use inline::Holder;

use crate::model::{Doc, Group, ManagedPolicy, Role, SessionOf, Tag, User};
use crate::state::{Account, State};
use crate::store::{key, Change};
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

pub(crate) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    users::dispatch(ctx, action)
        .or_else(|| groups::dispatch(ctx, action))
        .or_else(|| roles::dispatch(ctx, action))
        .or_else(|| policies::dispatch(ctx, action))
        .or_else(|| inline::dispatch(ctx, action))
        .or_else(|| attach::dispatch(ctx, action))
        .or_else(|| keys::dispatch(ctx, action))
        .or_else(|| simulate::dispatch(ctx, action))
        .or_else(|| tags::dispatch(ctx, action))
}

/// What AWS leaves unescaped when it URL-encodes a policy document.
const DOC_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A policy document as IAM returns it: URL-encoded.
pub(crate) fn encode_doc(text: &str) -> String {
    utf8_percent_encode(text, DOC_ENCODE).to_string()
}

/// A policy's size as IAM counts it against its quotas: characters
/// other than white space.
pub(crate) fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// A managed policy document's quota.
pub(crate) const MANAGED_POLICY_SIZE: usize = 6144;
/// A role's trust policy quota.
pub(crate) const TRUST_POLICY_SIZE: usize = 2048;

/// Refuses a document over `quota` with IAM's LimitExceeded wording.
pub(crate) fn check_quota(text: &str, quota_name: &str, quota: usize) -> Result<(), ApiError> {
    if policy_size(text) > quota {
        return Err(ApiError::limit(format!(
            "Cannot exceed quota for {quota_name}: {quota}"
        )));
    }
    Ok(())
}

pub(crate) fn parse_doc(text: &str, kind: PolicyKind) -> Result<Doc, ApiError> {
    Doc::parse(text, kind).map_err(|e| ApiError::malformed(e.0))
}

/// The caller's account (present: `handle` creates it on first use).
pub(crate) fn account<'s>(state: &'s State, ctx: &Ctx<'_>) -> Result<&'s Account, ApiError> {
    state.account(ctx.account()).ok_or_else(|| {
        ApiError::no_such_entity(format!("The account {} cannot be found.", ctx.account()))
    })
}

pub(crate) fn path_param<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let path = ctx.params.get("Path").unwrap_or("/");
    crate::ids::check_path(path)?;
    Ok(path)
}

pub(crate) fn path_prefix<'a>(ctx: &Ctx<'a>) -> &'a str {
    ctx.params.get("PathPrefix").unwrap_or("/")
}

/// `Tags.member.N.Key` / `.Value`.
pub(crate) fn tags_param(ctx: &Ctx<'_>) -> Result<Vec<Tag>, ApiError> {
    let mut tags: Vec<Tag> = Vec::new();
    for n in ctx.params.indexes("Tags.member") {
        let key = ctx
            .params
            .get(&format!("Tags.member.{n}.Key"))
            .ok_or_else(|| {
                crate::ids::validation(None, "tags.member.key", "Member must not be null")
            })?;
        let value = ctx
            .params
            .get(&format!("Tags.member.{n}.Value"))
            .unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(crate::ids::validation(
                Some(key),
                "tags.member.key",
                "Member must have length less than or equal to 128",
            ));
        }
        if value.chars().count() > 256 {
            return Err(crate::ids::validation(
                Some(value),
                "tags.member.value",
                "Member must have length less than or equal to 256",
            ));
        }
        tags.retain(|t| t.key != key);
        tags.push(Tag {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(tags)
}

/// Merges `new` into `tags` (a key's value is replaced), at most 50.
pub(crate) fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), ApiError> {
    for t in new {
        match tags.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value,
            None => tags.push(t),
        }
    }
    if tags.len() > 50 {
        return Err(ApiError::limit(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(())
}

/// `<Tags>` unless there are none.
pub(crate) fn render_tags(x: &mut Xml, tags: &[Tag]) {
    if !tags.is_empty() {
        render_tag_list(x, tags);
    }
}

/// `<Tags>` with its members, even when empty.
pub(crate) fn render_tag_list(x: &mut Xml, tags: &[Tag]) {
    x.open("Tags");
    for t in tags {
        x.open("member")
            .text("Key", &t.key)
            .text("Value", &t.value)
            .close("member");
    }
    x.close("Tags");
}

fn render_boundary(x: &mut Xml, boundary: Option<&str>) {
    if let Some(arn) = boundary {
        x.open("PermissionsBoundary")
            .text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .text("PermissionsBoundaryArn", arn)
            .close("PermissionsBoundary");
    }
}

/// A user's fields (inside `<User>` or `<member>`).
pub(crate) fn render_user(x: &mut Xml, u: &User, with_tags: bool) {
    x.text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.id)
        .text("Arn", &u.arn)
        .date("CreateDate", &u.created);
    render_boundary(x, u.boundary.as_deref());
    if with_tags {
        render_tags(x, &u.tags);
    }
}

pub(crate) fn render_group(x: &mut Xml, g: &Group) {
    x.text("Path", &g.path)
        .text("GroupName", &g.name)
        .text("GroupId", &g.id)
        .text("Arn", &g.arn)
        .date("CreateDate", &g.created);
}

pub(crate) fn render_role(x: &mut Xml, r: &Role, full: bool) {
    x.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", &r.arn)
        .date("CreateDate", &r.created)
        .text("AssumeRolePolicyDocument", &encode_doc(&r.trust.text))
        .opt("Description", r.description.as_deref())
        .num("MaxSessionDuration", r.max_session);
    render_boundary(x, r.boundary.as_deref());
    render_tags(x, &r.tags);
    if full {
        x.raw("<RoleLastUsed/>");
    }
}

/// How many users, groups and roles have `arn` attached.
pub(crate) fn attachment_count(account: &Account, arn: &str) -> usize {
    account
        .users
        .values()
        .filter(|u| u.attached.iter().any(|a| a == arn))
        .count()
        + account
            .groups
            .values()
            .filter(|g| g.attached.iter().any(|a| a == arn))
            .count()
        + account
            .roles
            .values()
            .filter(|r| r.attached.iter().any(|a| a == arn))
            .count()
}

/// How many users and roles have `arn` as their permission boundary.
pub(crate) fn boundary_count(account: &Account, arn: &str) -> usize {
    account
        .users
        .values()
        .filter(|u| u.boundary.as_deref() == Some(arn))
        .count()
        + account
            .roles
            .values()
            .filter(|r| r.boundary.as_deref() == Some(arn))
            .count()
}

/// How many entities use each managed policy: (attached to, boundary of),
/// counted in one pass over the account.
pub(crate) fn policy_usage(account: &Account) -> HashMap<&str, (usize, usize)> {
    let mut usage: HashMap<&str, (usize, usize)> = HashMap::new();
    let attached = account
        .users
        .values()
        .flat_map(|u| u.attached.iter())
        .chain(account.groups.values().flat_map(|g| g.attached.iter()))
        .chain(account.roles.values().flat_map(|r| r.attached.iter()));
    for arn in attached {
        usage.entry(arn.as_str()).or_default().0 += 1;
    }
    let boundaries = account
        .users
        .values()
        .filter_map(|u| u.boundary.as_deref())
        .chain(account.roles.values().filter_map(|r| r.boundary.as_deref()));
    for arn in boundaries {
        usage.entry(arn).or_default().1 += 1;
    }
    usage
}

/// A policy's fields, with its `usage` (attachments, boundary uses).
pub(crate) fn render_policy(x: &mut Xml, p: &ManagedPolicy, usage: (usize, usize)) {
    x.text("PolicyName", &p.name)
        .text("PolicyId", &p.id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", &p.default_version)
        .num("AttachmentCount", usage.0)
        .num("PermissionsBoundaryUsageCount", usage.1)
        .bool("IsAttachable", true)
        .opt("Description", p.description.as_deref())
        .date("CreateDate", &p.created)
        .date("UpdateDate", &p.updated);
    render_tags(x, &p.tags);
}

/// Commits `changes` built from the state (a closure that may refuse).
pub(crate) fn write<R>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&State, &Account) -> Result<(Vec<Change>, R), ApiError>,
) -> Result<R, ApiError> {
    ctx.iam.commit(|state| {
        let acct = account(state, ctx)?;
        f(state, acct)
    })
}

/// The list resource ARN AWS uses for `List*` actions (`arn:aws:iam::ACCT:user/`).
pub(crate) fn list_arn(ctx: &Ctx<'_>, kind: &str) -> String {
    format!("arn:aws:iam::{}:{kind}/", ctx.account())
}

/// A reply of one element: `<tag>`, what `render` writes, `</tag>`.
pub(crate) fn element(tag: &str, render: impl FnOnce(&mut Xml)) -> OpResult {
    let mut x = Xml::new();
    x.open(tag);
    render(&mut x);
    x.close(tag);
    Ok(Some(x.finish()))
}

/// A reply of one page of `items` (see [`page`]), with the request's
/// `MaxItems` and `Marker`.
pub(crate) fn paged<T>(
    paging: (usize, Option<&str>),
    list_tag: &str,
    items: &[T],
    key: impl Fn(&T) -> String,
    render: impl Fn(&mut Xml, &T),
) -> OpResult {
    let mut x = Xml::new();
    page(&mut x, list_tag, items, key, paging, render);
    Ok(Some(x.finish()))
}

/// `List{Users,Groups,Roles}`: authorizes `action` on the kind's list ARN,
/// then replies with one page of the account's entities of that kind
/// (`entities`, keyed by lowercased name) whose path starts with
/// `PathPrefix`.
pub(crate) fn list_by_path<T>(
    ctx: &Ctx<'_>,
    action: &str,
    kind: &str,
    list_tag: &str,
    entities: impl Fn(&Account) -> &BTreeMap<String, T>,
    path: impl Fn(&T) -> &str,
    render: impl Fn(&mut Xml, &T),
) -> OpResult {
    ctx.authorize(action, &list_arn(ctx, kind))?;
    let prefix = path_prefix(ctx);
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let items: Vec<(&String, &T)> = entities(account(&state, ctx)?)
        .iter()
        .filter(|(_, e)| path(e).starts_with(prefix))
        .collect();
    paged(
        paging,
        list_tag,
        &items,
        |(k, _)| k.to_string(),
        |x, (_, e)| render(x, e),
    )
}

/// Refuses to delete an entity that still has inline or attached policies.
pub(crate) fn check_no_policies(
    inline: &BTreeMap<String, Doc>,
    attached: &[String],
) -> Result<(), ApiError> {
    if !inline.is_empty() {
        return Err(ApiError::conflict(
            "Cannot delete entity, must delete policies first.",
        ));
    }
    if !attached.is_empty() {
        return Err(ApiError::conflict(
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    Ok(())
}

/// Deletes the sessions in `account` that `of` picks (those of a user
/// being renamed or deleted, of a role being deleted).
pub(crate) fn revoke_sessions<'s>(
    state: &'s State,
    account: &'s str,
    of: impl Fn(&SessionOf) -> bool + 's,
) -> impl Iterator<Item = Change> + 's {
    state
        .sessions
        .values()
        .filter(move |s| s.account == account && of(&s.of))
        .map(|s| Change::DeleteSession(s.key_id.clone()))
}

/// Whether a session is one of user `name`'s (by name, ignoring case).
pub(crate) fn of_user(name: &str) -> impl Fn(&SessionOf) -> bool + '_ {
    move |of| matches!(of, SessionOf::User { user_name, .. } if key(user_name) == key(name))
}
