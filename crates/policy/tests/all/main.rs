//! Integration tests of `updraft-policy`, one binary: parsing and its
//! messages, each condition operator, wildcards and variables, the
//! evaluation logic, properties, and the external validation cases.

mod conditions;
mod evaluation;
mod parse;
mod properties;

use serde_json::Value;
use updraft_policy::{
    evaluate, Context, Decision, PolicyDocument, PolicyKind, PolicySet, Principal, PrincipalKind,
    Request,
};

pub const ACCOUNT: &str = "111122223333";
pub const OTHER: &str = "444455556666";

/// Parses `v` as a policy of `kind`, panicking with IAM's message if it is
/// refused.
pub fn doc(kind: PolicyKind, v: Value) -> PolicyDocument {
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    match PolicyDocument::parse(&text, kind) {
        Ok(d) => {
            // Every statement can be located in the text.
            for i in 0..d.statement_count() {
                let span = d
                    .statement_span(i)
                    .unwrap_or_else(|| panic!("{text}: no span for {i}"));
                assert!(span.start < span.end, "{text}: {span:?}");
            }
            d
        }
        Err(e) => panic!("{v} refused: {e}"),
    }
}

pub fn identity(v: Value) -> PolicyDocument {
    doc(PolicyKind::Identity, v)
}

pub fn resource(v: Value) -> PolicyDocument {
    doc(PolicyKind::Resource, v)
}

/// A 2012-10-17 identity policy with the given statements.
pub fn statements(s: Value) -> PolicyDocument {
    identity(serde_json::json!({"Version": "2012-10-17", "Statement": s}))
}

pub fn user(account: &str, name: &str) -> Principal {
    Principal {
        account: account.to_string(),
        kind: PrincipalKind::User {
            name: name.to_string(),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
        },
    }
}

pub fn session(account: &str, role: &str, session: &str) -> Principal {
    Principal {
        account: account.to_string(),
        kind: PrincipalKind::AssumedRole {
            role_name: role.to_string(),
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            session_name: session.to_string(),
        },
    }
}

pub fn root(account: &str) -> Principal {
    Principal {
        account: account.to_string(),
        kind: PrincipalKind::Root,
    }
}

pub fn service(name: &str) -> Principal {
    Principal {
        account: ACCOUNT.to_string(),
        kind: PrincipalKind::Service(name.to_string()),
    }
}

/// Decides one request with identity policies and an optional resource
/// policy.
pub fn decide(
    principal: &Principal,
    action: &str,
    resource_arn: &str,
    context: &Context,
    identity: &[&PolicyDocument],
    resource_policy: Option<&PolicyDocument>,
) -> Decision {
    let request = Request {
        principal,
        action,
        resource: resource_arn,
        context,
    };
    let set = PolicySet {
        identity,
        resource: resource_policy,
        ..PolicySet::default()
    };
    evaluate(&request, &set)
}

/// Documents are shared between request threads.
#[test]
fn documents_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<PolicyDocument>();
    shareable::<Context>();
    shareable::<Principal>();
}
