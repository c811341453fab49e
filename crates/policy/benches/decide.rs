//! How long one decision takes: `cargo bench -p updraft-policy`.
//!
//! The account holds 1,000 customer-managed policies of 5 statements each
//! (parsed once, as the identity directory keeps them); the caller has 10
//! of them attached, and the resource has a policy of its own. Requests
//! mix allowed ones (every statement must be looked at for a deny),
//! explicitly denied ones and implicitly denied ones, with a condition
//! context like the gateway's. Prints p50, p90 and p99 per decision.

use std::hint::black_box;
use std::time::Instant;
use updraft_policy::{
    evaluate, Context, Decision, PolicyDocument, PolicyKind, PolicySet, Principal, PrincipalKind,
    Request,
};

const ACCOUNT: &str = "111122223333";
const SERVICES: &[&str] = &[
    "lambda",
    "sqs",
    "events",
    "scheduler",
    "logs",
    "sns",
    "dynamodb",
    "states",
];

fn managed_policy(n: usize) -> String {
    let service = SERVICES[n % SERVICES.len()];
    let other = SERVICES[(n + 3) % SERVICES.len()];
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [
        {{"Sid": "Read{n}", "Effect": "Allow", "Action": ["{service}:Get*", "{service}:List*", "{service}:Describe*"],
          "Resource": "arn:aws:{service}:us-east-1:{ACCOUNT}:*"}},
        {{"Sid": "Write{n}", "Effect": "Allow", "Action": ["{service}:Put*", "{service}:Update*"],
          "Resource": ["arn:aws:{service}:us-east-1:{ACCOUNT}:team-{n}-*", "arn:aws:{service}:us-east-1:{ACCOUNT}:shared/*"]}},
        {{"Sid": "Own{n}", "Effect": "Allow", "Action": "{other}:*",
          "Resource": "arn:aws:{other}::{ACCOUNT}:home/${{aws:username}}/*"}},
        {{"Sid": "Tagged{n}", "Effect": "Allow", "Action": "{service}:Delete*", "Resource": "*",
          "Condition": {{"StringEquals": {{"aws:ResourceTag/team": "t{n}"}}, "Bool": {{"aws:SecureTransport": "true"}}}}}},
        {{"Sid": "NoProd{n}", "Effect": "Deny", "Action": "*", "Resource": "arn:aws:*:*:*:prod-*",
          "Condition": {{"IpAddress": {{"aws:SourceIp": "203.0.113.0/24"}}}}}}
    ]}}"#
    )
}

fn main() {
    let account: Vec<PolicyDocument> = (0..1000)
        .map(|n| PolicyDocument::parse(&managed_policy(n), PolicyKind::Identity))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("bench policy refused: {e}"));
    let attached: Vec<&PolicyDocument> = (0..10).map(|i| &account[i * 97 % 1000]).collect();
    let function_policy = PolicyDocument::parse(
        &format!(
            r#"{{"Version": "2012-10-17", "Statement": [
            {{"Sid": "events", "Effect": "Allow", "Principal": {{"Service": "events.amazonaws.com"}},
              "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
              "Condition": {{"ArnLike": {{"AWS:SourceArn": "arn:aws:events:us-east-1:{ACCOUNT}:rule/*"}}}}}},
            {{"Sid": "account", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:root"}},
              "Action": "lambda:*", "Resource": "arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"}}
        ]}}"#
        ),
        PolicyKind::Resource,
    )
    .unwrap_or_else(|e| panic!("bench resource policy refused: {e}"));
    let principal = Principal {
        account: ACCOUNT.into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        },
    };
    let mut context = Context::new();
    context.set("aws:SourceIp", "203.0.113.7");
    context.set("aws:SecureTransport", "true");
    context.set("aws:CurrentTime", "2026-12-03T10:00:00Z");
    context.set("aws:ResourceTag/team", "t97");

    let requests: Vec<(String, String)> = vec![
        (
            "lambda:GetFunction".into(),
            format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
        ),
        (
            "lambda:InvokeFunction".into(),
            format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
        ),
        (
            "sqs:SendMessage".into(),
            format!("arn:aws:sqs:us-east-1:{ACCOUNT}:queue"),
        ),
        (
            "logs:PutLogEvents".into(),
            format!("arn:aws:logs:us-east-1:{ACCOUNT}:shared/x"),
        ),
        (
            "sns:Publish".into(),
            format!("arn:aws:sns::{ACCOUNT}:home/alice/topic"),
        ),
        (
            "dynamodb:DeleteItem".into(),
            format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"),
        ),
        ("iam:CreateUser".into(), "*".into()),
        (
            "lambda:GetFunction".into(),
            format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:prod-f"),
        ),
    ];
    let set = PolicySet {
        identity: &attached,
        boundary: None,
        session: None,
        resource: Some(&function_policy),
    };

    let mut outcomes = [0usize; 3];
    let mut samples: Vec<u64> = Vec::with_capacity(200_000);
    for round in 0..200_000usize {
        let (action, resource) = &requests[round % requests.len()];
        let request = Request {
            principal: &principal,
            action,
            resource,
            context: &context,
        };
        let start = Instant::now();
        let decision = evaluate(black_box(&request), black_box(&set));
        let elapsed = start.elapsed();
        samples.push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        outcomes[match decision {
            Decision::Allow => 0,
            Decision::ExplicitDeny => 1,
            Decision::ImplicitDeny => 2,
        }] += 1;
    }
    for (k, (action, _)) in requests.iter().enumerate() {
        let mut mine: Vec<u64> = samples
            .iter()
            .skip(k)
            .step_by(requests.len())
            .copied()
            .collect();
        mine.sort_unstable();
        println!("  {action}: p50 {} ns", mine[mine.len() / 2]);
    }
    samples.sort_unstable();
    let pct = |p: usize| samples[samples.len() * p / 100];
    println!(
        "policy decision, 10 attached of 1,000 policies x 5 statements + a resource policy: \
         p50 {} ns, p90 {} ns, p99 {} ns ({} samples; allow {}, explicit deny {}, implicit deny {})",
        pct(50),
        pct(90),
        pct(99),
        samples.len(),
        outcomes[0],
        outcomes[1],
        outcomes[2]
    );
}
