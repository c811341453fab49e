//! IAM policy documents (`updraft_policy::PolicyDocument::parse`, with
//! AWS's write-time validation), then evaluated (`evaluate`,
//! `evaluate_detailed`, `evaluate_noting_context`).
//!
//! Corpus files are documents named `<expect>-<kind>-<what>.json`, `kind`
//! being `identity`, `resource` or `trust`; most come from AWS's
//! documentation.
//!
//! Properties: parsing never panics, for any text and every kind; a
//! refusal has a message; an accepted document locates each of its
//! statements in the text, still parses once written out again, and
//! evaluates without panicking, the detailed evaluation agreeing with the
//! plain one; when evaluation says it read nothing of the request's
//! context, another context decides the same.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{json, Value};
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, hostile_string, json as any_json, mutated,
    watched, Expect,
};
use updraft_policy::{
    evaluate, evaluate_detailed, evaluate_noting_context, Context, PolicyDocument, PolicyKind,
    PolicySet, Principal, PrincipalKind, Request, RequestFacts,
};

const TARGET: &str = "iam_policy";
const ACCOUNT: &str = "111122223333";
const KINDS: [PolicyKind; 3] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
];

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:ListBucket",
    "lambda:InvokeFunction",
    "lambda:InvokeFunctionUrl",
    "sqs:SendMessage",
    "sts:AssumeRole",
    "iam:CreateUser",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::amzn-s3-demo-bucket/home/alice/notes.txt",
    "arn:aws:lambda:us-east-1:111122223333:function:my-function",
    "arn:aws:sqs:us-east-2:444455556666:queue1",
    "arn:aws:iam::111122223333:role/worker",
    "not an arn",
];

fn principals() -> Vec<Principal> {
    let p = |account: &str, kind| Principal {
        account: account.to_string(),
        kind,
    };
    vec![
        p(ACCOUNT, PrincipalKind::Root),
        p(
            ACCOUNT,
            PrincipalKind::User {
                name: "alice".into(),
                arn: "arn:aws:iam::111122223333:user/alice".into(),
            },
        ),
        p(
            "444455556666",
            PrincipalKind::AssumedRole {
                role_name: "role1".into(),
                role_arn: "arn:aws:iam::444455556666:role/role1".into(),
                session_name: "s1".into(),
            },
        ),
        p(ACCOUNT, PrincipalKind::Service("s3.amazonaws.com".into())),
    ]
}

/// A context with request facts and a few keys set, from `seed` values.
fn context(values: &[(String, String)], ip: [u8; 4], secs: u64, tls: bool) -> Context {
    let mut c = Context::for_request(RequestFacts {
        source_ip: Some(IpAddr::V4(Ipv4Addr::from(ip))),
        secure_transport: tls,
        requested_region: "eu-west-1".into(),
        time: Some(UNIX_EPOCH + Duration::from_secs(secs)),
        user_agent: Some("aws-cli/2".into()),
        referer: None,
        user_id: None,
    });
    for (k, v) in values {
        c.set(k, v.clone());
    }
    c
}

/// Parses `text` as every kind; evaluates what parses in `contexts`.
fn check(text: &[u8], contexts: &[Context]) -> Vec<Result<PolicyDocument, String>> {
    let text = String::from_utf8_lossy(text);
    watched(TARGET, text.as_bytes(), || {
        KINDS
            .iter()
            .map(|kind| {
                let doc = PolicyDocument::parse(&text, *kind).map_err(|e| e.to_string());
                match &doc {
                    Err(message) => assert_message(TARGET, text.as_bytes(), message),
                    Ok(doc) => accepted(&text, doc, contexts),
                }
                doc
            })
            .collect()
    })
}

fn accepted(text: &str, doc: &PolicyDocument, contexts: &[Context]) {
    let lines = text.lines().count().max(1) as u32 + 1;
    for i in 0..doc.statement_count() {
        let span = doc
            .statement_span(i)
            .unwrap_or_else(|| panic!("statement {i} not located in {text}"));
        assert!(span.start < span.end, "{span:?} in {text}");
        assert!(span.end.line <= lines, "{span:?} past the end of {text}");
    }
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let again = serde_json::to_string_pretty(&value).unwrap_or_default();
        let reparsed = PolicyDocument::parse(&again, doc.kind())
            .unwrap_or_else(|e| panic!("{text} written out as {again} is refused: {e}"));
        assert_eq!(reparsed.statement_count(), doc.statement_count(), "{again}");
    }
    let docs = [doc];
    let set = match doc.kind() {
        PolicyKind::Identity => PolicySet {
            identity: &docs,
            ..PolicySet::default()
        },
        _ => PolicySet {
            resource: Some(doc),
            ..PolicySet::default()
        },
    };
    for principal in &principals() {
        for action in ACTIONS {
            for resource in RESOURCES {
                let decide = |context: &Context| {
                    let request = Request {
                        principal,
                        action,
                        resource,
                        context,
                    };
                    let (decision, read_context) = evaluate_noting_context(&request, &set);
                    assert_eq!(decision, evaluate(&request, &set));
                    assert_eq!(evaluate_detailed(&request, &set).decision, decision);
                    (decision, read_context)
                };
                let Some((first, rest)) = contexts.split_first() else {
                    continue;
                };
                let (decision, read_context) = decide(first);
                if !read_context {
                    for other in rest {
                        assert_eq!(
                            decide(other).0,
                            decision,
                            "{principal:?} {action} {resource}: said it read no context, \
                             yet another context decides otherwise, for {text}"
                        );
                    }
                }
            }
        }
    }
}

fn default_contexts() -> Vec<Context> {
    vec![
        context(&[], [10, 0, 0, 1], 1_795_688_100, true),
        context(
            &[("s3:prefix".into(), "home/alice/".into())],
            [192, 0, 2, 7],
            1_000_000_000,
            false,
        ),
    ]
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let kind = match seed.name.split('-').nth(1) {
            Some("identity") => PolicyKind::Identity,
            Some("resource") => PolicyKind::Resource,
            Some("trust") => PolicyKind::Trust,
            _ => panic!("{}: name it <expect>-<kind>-<what>.json", seed.name),
        };
        let results = check(&seed.bytes, &default_contexts());
        let result = &results[KINDS.iter().position(|k| *k == kind).unwrap_or_default()];
        match seed.expect() {
            Expect::Valid => assert!(result.is_ok(), "{}: {result:?}", seed.name),
            Expect::Invalid => assert!(result.is_err(), "{}: accepted", seed.name),
            Expect::Any => {}
        }
    }
}

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "StringLikeIfExists",
    "ForAllValues:StringLike",
    "ForAnyValue:StringEquals",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "DateGreaterThan",
    "DateLessThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEquals",
    "Null",
    "StringSortOf",
];
const KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "aws:username",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:RequestedRegion",
    "aws:userid",
    "s3:prefix",
    "aws:SourceArn",
];
/// Keys a request's context sets. Not the principal's own keys
/// (`aws:username`, `aws:PrincipalArn`, ...): evaluation derives those
/// from the principal, and a context that set them to something else
/// would describe another caller (`evaluate_noting_context` assumes it
/// does not).
const REQUEST_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "aws:RequestedRegion",
    "s3:prefix",
    "aws:SourceArn",
    "aws:ResourceTag/team",
    "iam:PassedToService",
];
const VALUES: &[&str] = &[
    "10.0.0.0/8",
    "192.0.2.0/24",
    "::1/128",
    "10.0.0.1",
    "2026-12-03T00:00:00Z",
    "2026-12-03",
    "1795688100",
    "1e400",
    "-1",
    "true",
    "false",
    "*",
    "?",
    "${aws:username}",
    "home/${aws:username}/*",
    "${*}${?}${$}",
    "${aws:undefined, 'default'}",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:*:*:111122223333:*",
    "eu-*",
    "QUJD",
];

fn value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => prop::sample::select(VALUES).prop_map(Value::from),
        2 => hostile_string().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => any_json(),
    ]
    .boxed()
}

fn values() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => value(),
        1 => prop::collection::vec(value(), 0..4).prop_map(Value::Array),
    ]
    .boxed()
}

fn pick_or_hostile(pool: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        5 => prop::sample::select(pool).prop_map(Value::from),
        1 => hostile_string().prop_map(Value::from),
        1 => any_json(),
    ]
    .boxed()
}

fn statement() -> impl Strategy<Value = Value> {
    let patterns: &'static [&'static str] = &[
        "*",
        "s3:*",
        "s3:Get*",
        "lambda:Invoke*",
        "sqs:?endMessage",
        "sts:AssumeRole",
        "iam:*User",
        "S3:LIST*",
    ];
    let resources: &'static [&'static str] = &[
        "*",
        "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*",
        "arn:aws:lambda:*:111122223333:function:*",
        "arn:aws:sqs:us-east-2:444455556666:queue?",
        "arn:aws:iam::111122223333:role/*",
    ];
    let principal = prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "*"})),
        Just(json!({"AWS": ACCOUNT})),
        Just(json!({"AWS": "arn:aws:iam::111122223333:root"})),
        Just(json!({"AWS": ["arn:aws:iam::111122223333:user/alice", "444455556666"]})),
        Just(json!({"AWS": "arn:aws:iam::444455556666:role/role1"})),
        Just(json!({"Service": "s3.amazonaws.com"})),
        Just(json!({"Federated": "cognito-identity.amazonaws.com"})),
        any_json(),
    ];
    let condition = prop::collection::vec(
        (
            pick_or_hostile(OPERATORS),
            prop::collection::vec((pick_or_hostile(KEYS), values()), 1..3),
        ),
        0..3,
    );
    (
        prop::option::of(hostile_string()),
        pick_or_hostile(&["Allow", "Deny"]),
        any::<bool>(),
        prop_oneof![
            pick_or_hostile(patterns),
            prop::collection::vec(pick_or_hostile(patterns), 0..3).prop_map(Value::Array)
        ],
        any::<bool>(),
        prop_oneof![
            pick_or_hostile(resources),
            prop::collection::vec(pick_or_hostile(resources), 0..3).prop_map(Value::Array)
        ],
        prop::option::of((any::<bool>(), principal)),
        condition,
    )
        .prop_map(
            |(sid, effect, not_action, action, not_resource, resource, principal, condition)| {
                let mut s = serde_json::Map::new();
                if let Some(sid) = sid {
                    s.insert("Sid".into(), sid.into());
                }
                s.insert("Effect".into(), effect);
                s.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    action,
                );
                s.insert(
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    }
                    .into(),
                    resource,
                );
                if let Some((not, p)) = principal {
                    s.insert(if not { "NotPrincipal" } else { "Principal" }.into(), p);
                }
                if !condition.is_empty() {
                    let mut c = serde_json::Map::new();
                    for (op, entries) in condition {
                        let op = op
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| op.to_string());
                        let mut keys = serde_json::Map::new();
                        for (k, v) in entries {
                            let k = k
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| k.to_string());
                            keys.insert(k, v);
                        }
                        c.insert(op, Value::Object(keys));
                    }
                    s.insert("Condition".into(), Value::Object(c));
                }
                Value::Object(s)
            },
        )
}

fn document() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            4 => Just(Some(json!("2012-10-17"))),
            1 => Just(Some(json!("2008-10-17"))),
            1 => Just(None),
            1 => any_json().prop_map(Some),
        ],
        prop::option::of(hostile_string()),
        prop::collection::vec(statement(), 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(version, id, statements, single, pretty)| {
            let mut d = serde_json::Map::new();
            if let Some(v) = version {
                d.insert("Version".into(), v);
            }
            if let Some(id) = id {
                d.insert("Id".into(), id.into());
            }
            let statement = if single && statements.len() == 1 {
                statements[0].clone()
            } else {
                Value::Array(statements)
            };
            d.insert("Statement".into(), statement);
            let d = Value::Object(d);
            if pretty {
                serde_json::to_string_pretty(&d).unwrap_or_default()
            } else {
                d.to_string()
            }
        })
}

fn contexts() -> impl Strategy<Value = Vec<Context>> {
    prop::collection::vec(
        (
            prop::collection::vec(
                (pick_or_hostile(REQUEST_KEYS), prop::sample::select(VALUES)),
                0..3,
            ),
            any::<[u8; 4]>(),
            0u64..7_258_118_400,
            any::<bool>(),
        )
            .prop_map(|(values, ip, secs, tls)| {
                let values: Vec<(String, String)> = values
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().map(str::to_string).unwrap_or_default(),
                            v.to_string(),
                        )
                    })
                    .collect();
                context(&values, ip, secs, tls)
            }),
        2..4,
    )
}

proptest! {
    #![proptest_config(config(2))]

    #[test]
    fn random_bytes_are_refused_cleanly(text in bytes(256)) {
        check(&text, &[]);
    }

    #[test]
    fn mutated_documents_parse_and_evaluate_or_are_refused(
        text in mutated(corpus_bytes(TARGET, ".json")),
        contexts in contexts(),
    ) {
        check(&text, &contexts);
    }

    #[test]
    fn generated_documents_parse_and_evaluate_or_are_refused(
        text in document(),
        contexts in contexts(),
    ) {
        check(text.as_bytes(), &contexts);
    }
}
