//! The resource policy of the resource a request acts on, for the
//! authorizer: one lookup by ARN, dispatched on the ARN's service.
//!
//! | ARN                                         | policy                              |
//! |---------------------------------------------|-------------------------------------|
//! | `arn:aws:lambda:R:A:function:NAME`          | the function's unqualified policy   |
//! | `arn:aws:lambda:R:A:function:NAME:QUALIFIER`| that version's or alias's (`$LATEST`: the unqualified one) |
//! | `arn:aws:sqs:R:A:QUEUE`                     | the queue's `Policy`                |
//! | `arn:aws:events:R:A:event-bus/NAME`         | the bus's policy                    |
//! | `arn:aws:updraft:R:A:usage`                 | the node's account may read it (the management account, as for an organization's billing) |
//!
//! A qualified function ARN never falls back to the unqualified policy:
//! Lambda decides a qualified call on the qualified resource. Every
//! policy is parsed when it is written (or loaded at start) and kept; a
//! lookup is a read lock and an `Arc` clone. ARNs of another region or
//! account name nothing here.

use std::sync::Arc;

use updraft_policy::PolicyDocument;
use updraft_types::{Arn, FunctionName};

use crate::{AppState, Tenant};

/// What a resource ARN names, among the resources that carry policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Function {
        name: &'a str,
        qualifier: Option<&'a str>,
    },
    Queue(&'a str),
    Bus(&'a str),
    /// An account's metered usage.
    Usage,
}

/// Splits a resource ARN of `region` and `account` into what it names.
fn target<'a>(resource_arn: &'a str, region: &str, account: &str) -> Option<Target<'a>> {
    let arn = Arn::parse(resource_arn)?;
    if arn.region != region || arn.account != account {
        return None;
    }
    match arn.service {
        "lambda" => {
            let mut parts = arn.resource.split(':');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("function"), Some(name), qualifier, None) if !name.is_empty() => {
                    Some(Target::Function {
                        name,
                        qualifier: qualifier.filter(|q| !q.is_empty()),
                    })
                }
                _ => None,
            }
        }
        "sqs" if !arn.resource.is_empty() && !arn.resource.contains(':') => {
            Some(Target::Queue(arn.resource))
        }
        "events" => arn
            .resource
            .strip_prefix("event-bus/")
            .filter(|n| !n.is_empty())
            .map(Target::Bus),
        "updraft" if arn.resource == "usage" => Some(Target::Usage),
        _ => None,
    }
}

/// The account the ARN names, when the node holds it, and what the ARN
/// names there.
fn locate<'s, 'a>(state: &'s AppState, resource_arn: &'a str) -> Option<(&'s Tenant, Target<'a>)> {
    let tenant = state.tenant(Arn::parse(resource_arn)?.account)?;
    let account = &tenant.account;
    Some((
        tenant,
        target(resource_arn, &account.region, &account.account_id)?,
    ))
}

/// The parsed resource policy of the resource `resource_arn` names, if it
/// exists and has one.
pub(crate) fn resource_policy(node: &AppState, resource_arn: &str) -> Option<Arc<PolicyDocument>> {
    let (tenant, target) = locate(node, resource_arn)?;
    match target {
        Target::Function { name, qualifier } => {
            let name = FunctionName::new(name).ok()?;
            tenant.registry.resource_policy(&name, qualifier)
        }
        Target::Queue(name) => tenant.queues.policy(name),
        Target::Bus(name) => tenant.bus.policy(name),
        Target::Usage => usage_policy(&node.account.account_id),
    }
}

/// Every account's usage grants `updraft:GetUsage` to the node's account,
/// which manages the others (its own principals still need an identity
/// policy that allows it, its root user excepted).
fn usage_policy(node_account: &str) -> Option<Arc<PolicyDocument>> {
    let text = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ManagementAccount",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{node_account}:root")},
            "Action": "updraft:GetUsage",
            "Resource": "*"
        }]
    })
    .to_string();
    PolicyDocument::parse(&text, updraft_policy::PolicyKind::Resource)
        .ok()
        .map(Arc::new)
}

/// The tags of the resource `resource_arn` names, as `aws:ResourceTag/KEY`
/// conditions read them: a queue's (the services whose resources have tags
/// here); empty for anything else.
pub(crate) fn resource_tags(node: &AppState, resource_arn: &str) -> Vec<(String, String)> {
    match locate(node, resource_arn) {
        Some((tenant, Target::Queue(name))) => tenant.queues.tags(name),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "us-east-1";
    const A: &str = "000000000000";

    fn t(arn: &str) -> Option<Target<'_>> {
        target(arn, R, A)
    }

    #[test]
    fn arns_name_functions_queues_and_buses() {
        assert_eq!(
            t("arn:aws:lambda:us-east-1:000000000000:function:f"),
            Some(Target::Function {
                name: "f",
                qualifier: None
            })
        );
        assert_eq!(
            t("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            Some(Target::Function {
                name: "f",
                qualifier: Some("live")
            })
        );
        assert_eq!(
            t("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"),
            Some(Target::Function {
                name: "f",
                qualifier: Some("$LATEST")
            })
        );
        assert_eq!(
            t("arn:aws:sqs:us-east-1:000000000000:jobs"),
            Some(Target::Queue("jobs"))
        );
        assert_eq!(
            t("arn:aws:events:us-east-1:000000000000:event-bus/default"),
            Some(Target::Bus("default"))
        );
        assert_eq!(
            t("arn:aws:updraft:us-east-1:000000000000:usage"),
            Some(Target::Usage)
        );
    }

    #[test]
    fn anything_else_names_nothing() {
        for arn in [
            "arn:aws:lambda:us-east-1:000000000000:function:f:1:extra",
            "arn:aws:lambda:us-east-1:000000000000:layer:l:1",
            "arn:aws:lambda:us-east-1:000000000000:function:",
            "arn:aws:sqs:us-east-1:000000000000:lambda-async:f",
            "arn:aws:events:us-east-1:000000000000:rule/r",
            "arn:aws:s3:::bucket",
            "arn:aws:sqs:eu-west-1:000000000000:jobs",
            "arn:aws:sqs:us-east-1:111111111111:jobs",
            "jobs",
            "*",
        ] {
            assert_eq!(t(arn), None, "{arn}");
        }
    }
}
