//! The policy simulator: SimulatePrincipalPolicy (a user's, group's or
//! role's policies, plus any given) and SimulateCustomPolicy (given
//! policies only), each action against each resource. `MatchedStatements`
//! lists the policies whose statements decided (the allows for `allowed`,
//! the denies for `explicitDeny`), `MissingContextValues` the condition
//! keys they read that the request's `ContextEntries` did not set.

use std::sync::Arc;

use updraft_policy::{
    evaluate_detailed, Context, Decision, PolicyDocument, PolicyKind, PolicySet, PolicySource,
    Principal, PrincipalKind, Request,
};

use super::{account, parse_doc};
use crate::authz::managed_doc;
use crate::ids::{self, split_iam_arn};
use crate::state::Account;
use crate::wire::{ApiError, Ctx, OpResult};
use crate::xml::Xml;

pub(super) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "SimulatePrincipalPolicy" => simulate_principal(ctx),
        "SimulateCustomPolicy" => simulate_custom(ctx),
        _ => return None,
    })
}

/// A policy taking part in a simulation, with the id and type AWS reports.
struct Source {
    id: String,
    kind: &'static str,
    doc: Arc<PolicyDocument>,
}

fn add_entity_policies(
    out: &mut Vec<Source>,
    acct: &Account,
    kind: &'static str,
    inline: &std::collections::BTreeMap<String, crate::model::Doc>,
    attached: &[String],
) {
    for (name, doc) in inline {
        out.push(Source {
            id: name.clone(),
            kind,
            doc: doc.parsed.clone(),
        });
    }
    for arn in attached {
        if let Some(doc) = managed_doc(acct, arn) {
            let managed = if arn.starts_with("arn:aws:iam::aws:") {
                "aws-managed"
            } else {
                "user-managed"
            };
            let id = arn.rsplit('/').next().unwrap_or(arn).to_string();
            out.push(Source {
                id,
                kind: managed,
                doc,
            });
        }
    }
}

fn input_policies(ctx: &Ctx<'_>, list: &str) -> Result<Vec<Source>, ApiError> {
    ctx.params
        .list(&format!("{list}.member"))
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            Ok(Source {
                id: format!("{list}.{}", i + 1),
                kind: "none",
                doc: parse_doc(text, PolicyKind::Identity)?.parsed,
            })
        })
        .collect()
}

fn context_entries(ctx: &Ctx<'_>) -> Context {
    let mut context = Context::new();
    for n in ctx.params.indexes("ContextEntries.member") {
        let base = format!("ContextEntries.member.{n}");
        let Some(name) = ctx.params.get(&format!("{base}.ContextKeyName")) else {
            continue;
        };
        let values: Vec<String> = ctx
            .params
            .list(&format!("{base}.ContextKeyValues.member"))
            .into_iter()
            .map(str::to_string)
            .collect();
        context.set_many(name, values);
    }
    context
}

fn simulate_principal(ctx: &Ctx<'_>) -> OpResult {
    let source = ctx.params.required("PolicySourceArn", "policySourceArn")?;
    ctx.authorize("iam:SimulatePrincipalPolicy", source)?;
    let mut sources = Vec::new();
    let mut boundary = None;
    let principal = {
        let state = ctx.iam.read();
        let acct = account(&state, ctx)?;
        let not_found = || ApiError::no_such_entity(format!("Entity {source} does not exist."));
        let account_of = |kind| split_iam_arn(source, kind).filter(|(a, _)| *a == ctx.account());
        if let Some((_, name)) = account_of("user") {
            let u = acct
                .user(name)
                .filter(|u| u.arn == source)
                .ok_or_else(not_found)?;
            add_entity_policies(&mut sources, acct, "user", &u.inline, &u.attached);
            for g in u.groups.iter().filter_map(|n| acct.group(n)) {
                add_entity_policies(&mut sources, acct, "group", &g.inline, &g.attached);
            }
            boundary = u.boundary.as_deref().and_then(|b| managed_doc(acct, b));
            PrincipalKind::User {
                name: u.name.clone(),
                arn: u.arn.clone(),
            }
        } else if let Some((_, name)) = account_of("role") {
            let r = acct
                .role(name)
                .filter(|r| r.arn == source)
                .ok_or_else(not_found)?;
            add_entity_policies(&mut sources, acct, "role", &r.inline, &r.attached);
            boundary = r.boundary.as_deref().and_then(|b| managed_doc(acct, b));
            PrincipalKind::AssumedRole {
                role_name: r.name.clone(),
                role_arn: r.arn.clone(),
                session_name: "SimulatePrincipalPolicy".into(),
            }
        } else if let Some((_, name)) = account_of("group") {
            let g = acct
                .group(name)
                .filter(|g| g.arn == source)
                .ok_or_else(not_found)?;
            add_entity_policies(&mut sources, acct, "group", &g.inline, &g.attached);
            PrincipalKind::User {
                name: g.name.clone(),
                arn: g.arn.clone(),
            }
        } else {
            return Err(ApiError::invalid_input(format!(
                "Invalid Entity Arn: {source}"
            )));
        }
    };
    sources.extend(input_policies(ctx, "PolicyInputList")?);
    let principal = Principal {
        account: ctx.account().to_string(),
        kind: principal,
    };
    run(ctx, &principal, &sources, boundary)
}

fn simulate_custom(ctx: &Ctx<'_>) -> OpResult {
    ctx.authorize("iam:SimulateCustomPolicy", "*")?;
    let sources = input_policies(ctx, "PolicyInputList")?;
    if sources.is_empty() {
        return Err(ids::validation(
            None,
            "policyInputList",
            "Member must not be null",
        ));
    }
    // Simulated as an IAM user (the caller's ARN if given), so that only
    // the given policies decide.
    let arn = match ctx.params.get("CallerArn") {
        Some(a) => a.to_string(),
        None => format!("arn:aws:iam::{}:user/SimulateCustomPolicy", ctx.account()),
    };
    let principal = Principal {
        account: ctx.account().to_string(),
        kind: PrincipalKind::User {
            name: arn
                .rsplit('/')
                .next()
                .unwrap_or("SimulateCustomPolicy")
                .to_string(),
            arn,
        },
    };
    run(ctx, &principal, &sources, None)
}

fn run(
    ctx: &Ctx<'_>,
    principal: &Principal,
    sources: &[Source],
    boundary: Option<Arc<PolicyDocument>>,
) -> OpResult {
    let actions = ctx.params.list("ActionNames.member");
    if actions.is_empty() {
        return Err(ids::validation(
            None,
            "actionNames",
            "Member must not be null",
        ));
    }
    let mut resources = ctx.params.list("ResourceArns.member");
    if resources.is_empty() {
        resources.push("*");
    }
    let boundary = match ctx
        .params
        .list("PermissionsBoundaryPolicyInputList.member")
        .first()
    {
        Some(text) => Some(parse_doc(text, PolicyKind::Identity)?.parsed),
        None => boundary,
    };
    let resource_policy = match ctx.params.get("ResourcePolicy") {
        Some(text) => Some(parse_doc(text, PolicyKind::Resource)?.parsed),
        None => None,
    };
    let context = context_entries(ctx);
    let identity: Vec<&PolicyDocument> = sources.iter().map(|s| s.doc.as_ref()).collect();
    let mut x = Xml::new();
    x.open("EvaluationResults");
    for action in &actions {
        for resource in &resources {
            let request = Request {
                principal,
                action,
                resource,
                context: &context,
            };
            let evaluation = evaluate_detailed(
                &request,
                &PolicySet {
                    identity: &identity,
                    boundary: boundary.as_deref(),
                    session: None,
                    resource: resource_policy.as_deref(),
                },
            );
            x.open("member")
                .text("EvalActionName", action)
                .text("EvalResourceName", resource)
                .text("EvalDecision", decision_name(evaluation.decision))
                .open("MatchedStatements");
            for m in &evaluation.matched_statements {
                let (id, kind) = match m.source {
                    PolicySource::Identity(i) => match sources.get(i) {
                        Some(s) => (s.id.as_str(), s.kind),
                        None => continue,
                    },
                    PolicySource::Boundary => ("PermissionsBoundaryPolicy", "none"),
                    PolicySource::Session => ("SessionPolicy", "none"),
                    PolicySource::Resource => ("ResourcePolicy", "resource"),
                };
                x.open("member")
                    .text("SourcePolicyId", id)
                    .text("SourcePolicyType", kind)
                    .close("member");
            }
            x.close("MatchedStatements").open("MissingContextValues");
            for key in &evaluation.missing_context_keys {
                x.open("member")
                    .raw(&crate::xml::escape(key))
                    .close("member");
            }
            x.close("MissingContextValues").close("member");
        }
    }
    x.close("EvaluationResults").bool("IsTruncated", false);
    Ok(Some(x.finish()))
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::ExplicitDeny => "explicitDeny",
        Decision::ImplicitDeny => "implicitDeny",
    }
}
