//! Groups and their members.

use chrono::Utc;

use super::users::{no_such_user, user_name, user_of, user_resource};
use super::{
    account, check_no_policies, element, list_by_path, paged, path_param, render_group,
    render_user, write,
};
use crate::ids::{self, check_name, group_arn};
use crate::model::Group;
use crate::state::Account;
use crate::store::{key, Change};
use crate::wire::{page, ApiError, Ctx, OpResult};
use crate::xml::Xml;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "CreateGroup" => create_group(ctx),
        "GetGroup" => get_group(ctx),
        "ListGroups" => list_groups(ctx),
        "DeleteGroup" => delete_group(ctx),
        "UpdateGroup" => update_group(ctx),
        "AddUserToGroup" => add_user(ctx),
        "RemoveUserFromGroup" => remove_user(ctx),
        "ListGroupsForUser" => groups_for_user(ctx),
        _ => return None,
    })
}

pub(crate) fn no_such_group(name: &str) -> ApiError {
    ApiError::no_such_entity(format!("The group with name {name} cannot be found."))
}

pub(crate) fn group_name<'a>(ctx: &Ctx<'a>) -> Result<&'a str, ApiError> {
    let name = ctx.params.required("GroupName", "groupName")?;
    check_name(name, "groupName", 128)?;
    Ok(name)
}

pub(crate) fn group_resource(ctx: &Ctx<'_>, name: &str) -> String {
    let state = ctx.iam.read();
    match state.account(ctx.account()).and_then(|a| a.group(name)) {
        Some(g) => g.arn.clone(),
        None => group_arn(ctx.account(), "/", name),
    }
}

pub(crate) fn group_of(acct: &Account, name: &str) -> Result<Group, ApiError> {
    acct.group(name).cloned().ok_or_else(|| no_such_group(name))
}

fn members<'a>(acct: &'a Account, group: &str) -> impl Iterator<Item = &'a crate::model::User> {
    let g = key(group);
    acct.users
        .values()
        .filter(move |u| u.groups.iter().any(|n| key(n) == g))
}

fn create_group(ctx: &Ctx<'_>) -> OpResult {
    let name = group_name(ctx)?;
    let path = path_param(ctx)?;
    let arn = group_arn(ctx.account(), path, name);
    ctx.authorize("iam:CreateGroup", &arn)?;
    let group = write(ctx, |_, acct| {
        if acct.group(name).is_some() {
            return Err(ApiError::exists(format!(
                "Group with name {name} already exists."
            )));
        }
        let group = Group {
            path: path.to_string(),
            name: name.to_string(),
            id: ids::unique_id("AGPA"),
            arn: arn.clone(),
            created: Utc::now(),
            inline: Default::default(),
            attached: Vec::new(),
        };
        Ok((
            vec![Change::Group(ctx.account().to_string(), group.clone())],
            group,
        ))
    })?;
    element("Group", |x| render_group(x, &group))
}

fn get_group(ctx: &Ctx<'_>) -> OpResult {
    let name = group_name(ctx)?;
    ctx.authorize("iam:GetGroup", &group_resource(ctx, name))?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let group = acct.group(name).ok_or_else(|| no_such_group(name))?;
    let users: Vec<_> = members(acct, name).collect();
    let mut x = Xml::new();
    x.open("Group");
    render_group(&mut x, group);
    x.close("Group");
    page(
        &mut x,
        "Users",
        &users,
        |u| key(&u.name),
        paging,
        |x, u| render_user(x, u, false),
    );
    Ok(Some(x.finish()))
}

fn list_groups(ctx: &Ctx<'_>) -> OpResult {
    list_by_path(
        ctx,
        "iam:ListGroups",
        "group",
        "Groups",
        |a| &a.groups,
        |g| &g.path,
        render_group,
    )
}

fn delete_group(ctx: &Ctx<'_>) -> OpResult {
    let name = group_name(ctx)?;
    ctx.authorize("iam:DeleteGroup", &group_resource(ctx, name))?;
    write(ctx, |_, acct| {
        let group = acct.group(name).ok_or_else(|| no_such_group(name))?;
        if members(acct, name).next().is_some() {
            return Err(ApiError::conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        check_no_policies(&group.inline, &group.attached)?;
        Ok((
            vec![Change::DeleteGroup(ctx.account().to_string(), key(name))],
            (),
        ))
    })?;
    Ok(None)
}

fn update_group(ctx: &Ctx<'_>) -> OpResult {
    let name = group_name(ctx)?;
    ctx.authorize("iam:UpdateGroup", &group_resource(ctx, name))?;
    let new_name = ctx.params.get("NewGroupName");
    if let Some(n) = new_name {
        check_name(n, "newGroupName", 128)?;
    }
    let new_path = ctx.params.get("NewPath");
    if let Some(p) = new_path {
        ids::check_path(p)?;
    }
    write(ctx, |_, acct| {
        let mut group = group_of(acct, name)?;
        let account_id = ctx.account().to_string();
        let mut changes = Vec::new();
        if let Some(n) = new_name {
            if key(n) != key(name) && acct.group(n).is_some() {
                return Err(ApiError::exists(format!(
                    "Group with name {n} already exists."
                )));
            }
            changes.push(Change::DeleteGroup(account_id.clone(), key(name)));
            // Members name their groups: rename the membership too.
            for member in members(acct, name) {
                let mut u = member.clone();
                for g in u.groups.iter_mut().filter(|g| key(g) == key(name)) {
                    *g = n.to_string();
                }
                changes.push(Change::User(account_id.clone(), u));
            }
            group.name = n.to_string();
        }
        if let Some(p) = new_path {
            group.path = p.to_string();
        }
        group.arn = group_arn(&account_id, &group.path, &group.name);
        changes.push(Change::Group(account_id, group));
        Ok((changes, ()))
    })?;
    Ok(None)
}

fn add_user(ctx: &Ctx<'_>) -> OpResult {
    let group = group_name(ctx)?;
    let user = user_name(ctx)?;
    ctx.authorize("iam:AddUserToGroup", &group_resource(ctx, group))?;
    write(ctx, |_, acct| {
        let mut u = user_of(acct, user)?;
        let g = group_of(acct, group)?;
        if u.groups.iter().any(|n| key(n) == key(&g.name)) {
            return Ok((Vec::new(), ()));
        }
        if u.groups.len() >= 10 {
            return Err(ApiError::limit("Cannot exceed quota for GroupsPerUser: 10"));
        }
        u.groups.push(g.name);
        Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
    })?;
    Ok(None)
}

fn remove_user(ctx: &Ctx<'_>) -> OpResult {
    let group = group_name(ctx)?;
    let user = user_name(ctx)?;
    ctx.authorize("iam:RemoveUserFromGroup", &group_resource(ctx, group))?;
    write(ctx, |_, acct| {
        let mut u = user_of(acct, user)?;
        group_of(acct, group)?;
        let before = u.groups.len();
        u.groups.retain(|n| key(n) != key(group));
        if u.groups.len() == before {
            return Err(ApiError::no_such_entity(format!(
                "User {user} is not in group {group}."
            )));
        }
        Ok((vec![Change::User(ctx.account().to_string(), u)], ()))
    })?;
    Ok(None)
}

fn groups_for_user(ctx: &Ctx<'_>) -> OpResult {
    let user = user_name(ctx)?;
    ctx.authorize("iam:ListGroupsForUser", &user_resource(ctx, user))?;
    let paging = ctx.params.paging()?;
    let state = ctx.iam.read();
    let acct = account(&state, ctx)?;
    let u = acct.user(user).ok_or_else(|| no_such_user(user))?;
    let mut groups: Vec<&Group> = u.groups.iter().filter_map(|n| acct.group(n)).collect();
    groups.sort_by_key(|g| key(&g.name));
    paged(
        paging,
        "Groups",
        &groups,
        |g| key(&g.name),
        |x, g| render_group(x, g),
    )
}
