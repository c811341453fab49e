//! Properties of evaluation over generated policy sets, and of wildcard
//! matching against a reference matcher.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "sqs:SendMessage",
    "lambda:InvokeFunction",
];
const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "sqs:SendMessage",
    "lambda:InvokeFunction",
    "s3:*",
    "*",
    "lambda:Invoke*",
    "sqs:?endMessage",
    "S3:get*",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/k",
    "arn:aws:lambda:us-east-1:111122223333:function:f",
    "arn:aws:lambda:us-east-1:444455556666:function:f",
    "*",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/*",
    "arn:aws:lambda:*:*:function:f",
    "arn:aws:lambda:us-east-1:111122223333:function:?",
    "*",
];

fn principals() -> Vec<Principal> {
    vec![
        user(ACCOUNT, "alice"),
        user(OTHER, "carol"),
        session(ACCOUNT, "worker", "s1"),
        root(ACCOUNT),
        service("events.amazonaws.com"),
    ]
}

fn principal_elements() -> Vec<Value> {
    vec![
        json!("*"),
        json!({"AWS": ACCOUNT}),
        json!({"AWS": OTHER}),
        json!({"AWS": "arn:aws:iam::111122223333:user/alice"}),
        json!({"AWS": "arn:aws:iam::111122223333:role/worker"}),
        json!({"Service": "events.amazonaws.com"}),
    ]
}

/// A generated statement, before it becomes JSON.
#[derive(Debug, Clone)]
struct Gen {
    deny: bool,
    not_action: bool,
    actions: Vec<usize>,
    not_resource: bool,
    resources: Vec<usize>,
    condition: bool,
    principal: usize,
}

fn statement() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..ACTION_PATTERNS.len(), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..RESOURCE_PATTERNS.len(), 1..3),
        prop::bool::weighted(0.3),
        0..6usize,
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, condition, principal)| Gen {
                deny,
                not_action,
                actions,
                not_resource,
                resources,
                condition,
                principal,
            },
        )
}

fn to_json(g: &Gen, with_principal: bool) -> Value {
    let mut s = serde_json::Map::new();
    s.insert(
        "Effect".into(),
        json!(if g.deny { "Deny" } else { "Allow" }),
    );
    let actions: Vec<&str> = g.actions.iter().map(|i| ACTION_PATTERNS[*i]).collect();
    s.insert(
        (if g.not_action { "NotAction" } else { "Action" }).into(),
        json!(actions),
    );
    let resources: Vec<&str> = g.resources.iter().map(|i| RESOURCE_PATTERNS[*i]).collect();
    s.insert(
        (if g.not_resource {
            "NotResource"
        } else {
            "Resource"
        })
        .into(),
        json!(resources),
    );
    if g.condition {
        s.insert("Condition".into(), json!({"StringEquals": {"k": "v"}}));
    }
    if with_principal {
        s.insert(
            "Principal".into(),
            principal_elements()[g.principal].clone(),
        );
    }
    Value::Object(s)
}

fn build(statements: &[Gen], kind: PolicyKind) -> PolicyDocument {
    let with_principal = kind != PolicyKind::Identity;
    let list: Vec<Value> = statements
        .iter()
        .map(|g| to_json(g, with_principal))
        .collect();
    doc(kind, json!({"Version": "2012-10-17", "Statement": list}))
}

/// A generated policy set and request.
#[derive(Debug, Clone)]
struct Case {
    identity: Vec<Vec<Gen>>,
    boundary: Option<Vec<Gen>>,
    resource: Option<Vec<Gen>>,
    principal: usize,
    action: usize,
    resource_arn: usize,
    context_has_k: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let policy = || prop::collection::vec(statement(), 1..4);
    (
        prop::collection::vec(policy(), 0..4),
        prop::option::weighted(0.2, policy()),
        prop::option::weighted(0.5, policy()),
        0..5usize,
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        any::<bool>(),
    )
        .prop_map(
            |(identity, boundary, resource, principal, action, resource_arn, context_has_k)| Case {
                identity,
                boundary,
                resource,
                principal,
                action,
                resource_arn,
                context_has_k,
            },
        )
}

struct Built {
    identity: Vec<PolicyDocument>,
    boundary: Option<PolicyDocument>,
    resource: Option<PolicyDocument>,
}

fn built(c: &Case) -> Built {
    Built {
        identity: c
            .identity
            .iter()
            .map(|p| build(p, PolicyKind::Identity))
            .collect(),
        boundary: c
            .boundary
            .as_deref()
            .map(|p| build(p, PolicyKind::Identity)),
        resource: c
            .resource
            .as_deref()
            .map(|p| build(p, PolicyKind::Resource)),
    }
}

fn run(c: &Case, b: &Built) -> Decision {
    let principal = &principals()[c.principal];
    let mut context = Context::new();
    if c.context_has_k {
        context.set("k", "v");
    }
    let identity: Vec<&PolicyDocument> = b.identity.iter().collect();
    let request = Request {
        principal,
        action: ACTIONS[c.action],
        resource: RESOURCES[c.resource_arn],
        context: &context,
    };
    let set = PolicySet {
        identity: &identity,
        boundary: b.boundary.as_ref(),
        session: None,
        resource: b.resource.as_ref(),
    };
    let decision = evaluate(&request, &set);
    assert_eq!(
        decision,
        updraft_policy::evaluate_detailed(&request, &set).decision
    );
    decision
}

/// Whether `pattern` (`*`, `?`, other characters literal) matches all of
/// `text`: the textbook recursive definition.
fn reference_match(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| reference_match(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && reference_match(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && reference_match(rest, &text[1..]),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_matching_deny_never_yields_allow(c in case()) {
        let mut c = c;
        let before = run(&c, &built(&c));
        // A deny that matches this request, in an identity policy and in
        // the resource policy (naming everyone).
        let deny = Gen {
            deny: true, not_action: false, actions: vec![ACTION_PATTERNS.iter().position(|a| *a == "*").unwrap_or(0)],
            not_resource: false, resources: vec![RESOURCE_PATTERNS.len() - 1], condition: false, principal: 0,
        };
        c.identity.push(vec![deny.clone()]);
        let after = run(&c, &built(&c));
        let principal = &principals()[c.principal];
        if matches!(principal.kind, PrincipalKind::User { .. } | PrincipalKind::AssumedRole { .. }) {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        } else {
            prop_assert_eq!(after, before, "root and services are not subject to identity policies");
        }
        c.resource.get_or_insert_with(Vec::new).push(deny);
        prop_assert_eq!(run(&c, &built(&c)), Decision::ExplicitDeny);
    }

    #[test]
    fn a_decision_that_read_no_context_holds_for_every_context(c in case()) {
        let b = built(&c);
        let principal = &principals()[c.principal];
        let identity: Vec<&PolicyDocument> = b.identity.iter().collect();
        let set = PolicySet {
            identity: &identity,
            boundary: b.boundary.as_ref(),
            session: None,
            resource: b.resource.as_ref(),
        };
        let decide = |has_k: bool| {
            let mut context = Context::new();
            if has_k {
                context.set("k", "v");
            }
            let request = Request {
                principal,
                action: ACTIONS[c.action],
                resource: RESOURCES[c.resource_arn],
                context: &context,
            };
            updraft_policy::evaluate_noting_context(&request, &set)
        };
        let (decision, read) = decide(c.context_has_k);
        prop_assert_eq!(decision, run(&c, &b));
        if !read {
            prop_assert_eq!(decide(!c.context_has_k).0, decision);
        }
    }

    #[test]
    fn statement_order_does_not_matter(c in case()) {
        let before = run(&c, &built(&c));
        let mut reversed = c.clone();
        reversed.identity.reverse();
        for p in &mut reversed.identity {
            p.reverse();
        }
        if let Some(p) = &mut reversed.resource {
            p.reverse();
        }
        if let Some(p) = &mut reversed.boundary {
            p.reverse();
        }
        prop_assert_eq!(run(&reversed, &built(&reversed)), before);
    }

    #[test]
    fn without_policies_only_root_is_allowed(c in case()) {
        let empty = Case { identity: vec![], boundary: None, resource: None, ..c };
        let decision = run(&empty, &built(&empty));
        let principal = &principals()[empty.principal];
        let own = !RESOURCES[empty.resource_arn].contains(OTHER);
        if principal.kind == PrincipalKind::Root && own {
            prop_assert_eq!(decision, Decision::Allow);
        } else {
            prop_assert_eq!(decision, Decision::ImplicitDeny);
        }
    }

    #[test]
    fn allow_all_allows_same_account_requests_without_denies(
        action in "[a-z0-9]{1,8}:[A-Za-z]{1,12}",
        resource_arn in prop::sample::select(vec![
            "*".to_string(),
            "arn:aws:s3:::b/k".to_string(),
            "arn:aws:lambda:us-east-1:111122223333:function:f".to_string(),
            "arn:aws:sqs:us-east-1:111122223333:q".to_string(),
        ]),
        principal in prop::sample::select(vec![0usize, 2]),
    ) {
        let all = statements(json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
        let p = &principals()[principal];
        prop_assert_eq!(decide(p, &action, &resource_arn, &Context::new(), &[&all], None), Decision::Allow);
    }

    #[test]
    fn wildcards_match_as_the_reference_says(
        pattern in "[ab*?]{0,8}",
        text in "[ab]{0,8}",
    ) {
        let expected = reference_match(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>());
        let policy = statements(json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{pattern}")}));
        let alice = user(ACCOUNT, "alice");
        let got = decide(&alice, "s3:GetObject", &format!("arn:aws:s3:::{text}"), &Context::new(), &[&policy], None);
        prop_assert_eq!(got.is_allowed(), expected, "pattern {} text {}", pattern, text);
        // Actions: the same, without regard to case.
        let policy = statements(json!({"Effect": "Allow", "Action": format!("s3:{pattern}"), "Resource": "*"}));
        let got = decide(&alice, &format!("S3:{}", text.to_uppercase()), "*", &Context::new(), &[&policy], None);
        prop_assert_eq!(got.is_allowed(), expected, "action pattern {} text {}", pattern, text);
    }
}

/// Arbitrary JSON built from the policy language's own words, so that
/// many generated documents get past the first checks.
fn policy_like() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "Version",
        "2012-10-17",
        "2008-10-17",
        "Statement",
        "Sid",
        "Effect",
        "Allow",
        "Deny",
        "deny",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "AWS",
        "Service",
        "Condition",
        "StringLike",
        "ForAllValues:NumericLessThanIfExists",
        "DateGreaterThan",
        "Null",
        "IpAddress",
        "ArnLike",
        "Bool",
        "s3:Get*",
        "*",
        "arn:aws:s3:::b/*",
        "arn:aws:iam::1:user/${aws:username}",
        "arn:aws::x",
        "a:b:c:d:e:f:g",
        "2017-07-01T00:00:00Z",
        "10.0.0.0/8",
        "true",
        "",
        "${*}${",
        "é?",
    ]);
    let leaf = prop_oneof![
        words.clone().prop_map(|w| json!(w)),
        any::<bool>().prop_map(|b| json!(b)),
        (-5i64..5).prop_map(|n| json!(n)),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..5).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_input_is_parsed_or_refused_without_panicking(body in policy_like(), kind in 0..3usize) {
        let kind = [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust][kind];
        // As a whole document, and as the statement of a well-formed one.
        let wrapped = json!({"Version": "2012-10-17", "Statement": body.clone()});
        for text in [body.to_string(), wrapped.to_string()] {
            if let Ok(d) = PolicyDocument::parse(&text, kind) {
                for p in principals() {
                    let set = PolicySet { identity: &[&d], resource: Some(&d), ..PolicySet::default() };
                    let request = Request { principal: &p, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", context: &Context::new() };
                    let _ = evaluate(&request, &set);
                    let _ = updraft_policy::evaluate_detailed(&request, &set);
                }
            }
        }
    }
}

/// A pattern token for the variable property: a literal character, `*`,
/// `?`, or the `${aws:username}` variable.
#[derive(Debug, Clone)]
enum PTok {
    Lit(char),
    Star,
    One,
    Var,
}

/// The textbook matcher over tokens whose variable is already replaced
/// by literal characters.
fn reference_tokens(pattern: &[PTok], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((PTok::Star, rest)) => (0..=text.len()).any(|i| reference_tokens(rest, &text[i..])),
        Some((PTok::One, rest)) => !text.is_empty() && reference_tokens(rest, &text[1..]),
        Some((PTok::Lit(c), rest)) => text.first() == Some(c) && reference_tokens(rest, &text[1..]),
        Some((PTok::Var, _)) => unreachable!("variables are expanded first"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn variables_are_matched_literally(
        toks in prop::collection::vec(prop_oneof![
            prop::sample::select(vec!['a', 'b']).prop_map(PTok::Lit),
            Just(PTok::Star),
            Just(PTok::One),
            Just(PTok::Var),
        ], 0..7),
        name in "[ab*?]{0,3}",
        text in "[ab*?]{0,8}",
    ) {
        let pattern: String = toks.iter().map(|t| match t {
            PTok::Lit(c) => c.to_string(),
            PTok::Star => "*".into(),
            PTok::One => "?".into(),
            PTok::Var => "${aws:username}".into(),
        }).collect();
        let expanded: Vec<PTok> = toks.iter().flat_map(|t| match t {
            PTok::Var => name.chars().map(PTok::Lit).collect::<Vec<_>>(),
            other => vec![other.clone()],
        }).collect();
        let expected = reference_tokens(&expanded, &text.chars().collect::<Vec<_>>());
        let policy = statements(json!({"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{pattern}")}));
        let caller = user(ACCOUNT, &name);
        let got = decide(&caller, "s3:GetObject", &format!("arn:aws:s3:::{text}"), &Context::new(), &[&policy], None);
        prop_assert_eq!(got.is_allowed(), expected, "pattern {} name {} text {}", pattern, name, text);
    }
}
