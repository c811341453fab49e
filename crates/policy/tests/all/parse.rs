//! Parsing: accepted shapes, IAM's messages, the kind-specific rules.

use super::*;
use serde_json::json;

fn refusal(kind: PolicyKind, v: Value) -> String {
    match PolicyDocument::parse(&v.to_string(), kind) {
        Ok(_) => panic!("{v} accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn accepts_statement_as_object_or_array_and_every_element() {
    let one = identity(json!({
        "Version": "2012-10-17",
        "Id": "example",
        "Statement": {"Sid": "One", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    }));
    assert_eq!(one.statement_count(), 1);
    assert_eq!(one.id(), Some("example"));
    assert_eq!(one.sid(0), Some("One"));
    let span = one.statement_span(0).expect("located");
    // Pretty-printed: the statement object opens on line 3.
    assert_eq!((span.start.line, span.start.column), (3, 16));
    assert!(!one.has_conditions());
    let many = identity(json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
            {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:user/${aws:username}",
             "Condition": {"Bool": {"aws:SecureTransport": false}, "NumericLessThan": {"s3:max-keys": 10}}}
        ]
    }));
    assert_eq!(many.statement_count(), 2);
    assert_eq!(many.sid(1), None);
    assert!(many.has_conditions());
    assert!(many.has_variables());
    assert_eq!(many.kind(), PolicyKind::Identity);
}

#[test]
fn common_messages() {
    let cases = [
        (json!("text"), "Syntax errors in policy."),
        (json!({"Version": "2012-10-17"}), "Syntax errors in policy."),
        (
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            json!({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*"}}),
            "Policy statement must contain resources.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*"}}),
            "Policy statement must contain actions.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "GetObject", "Resource": "*"}}),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "bucket"}}),
            "Resource bucket must be in ARN format or \"*\".",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "allow", "Action": "s3:*", "Resource": "*"}}),
            "The policy failed legacy parsing",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                   "Condition": {"StringEqualz": {"a": "b"}}}}),
            "Syntax errors in policy.",
        ),
    ];
    for (document, message) in cases {
        assert_eq!(
            refusal(PolicyKind::Identity, document.clone()),
            message,
            "{document}"
        );
    }
}

#[test]
fn identity_policies_must_not_name_a_principal() {
    let d = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Identity, d.clone()),
        "Policy document should not specify a principal."
    );
    // The same statement is a fine resource policy.
    resource(d);
}

#[test]
fn trust_policies() {
    let good = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}});
    doc(PolicyKind::Trust, good);
    // Old trust policies carry the 2008 version.
    doc(
        PolicyKind::Trust,
        json!({"Version": "2008-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}]}),
    );
    let with_resource = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Trust, with_resource),
        "Has prohibited field Resource."
    );
    let bad_action = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:BadAssumeRole"]}});
    assert_eq!(
        refusal(PolicyKind::Trust, bad_action),
        "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
    );
    let no_principal = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "sts:AssumeRole"}});
    assert!(refusal(PolicyKind::Trust, no_principal)
        .ends_with("The passed in policy has a statement with no principals!"));
    let named = doc(
        PolicyKind::Trust,
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/a", "111122223333", "*"]},
             "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root",
                "arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:user/a"]},
             "Action": "sts:AssumeRole"}]}),
    );
    assert_eq!(
        named.principal_arns(),
        [
            "arn:aws:iam::111122223333:user/a",
            "arn:aws:iam::111122223333:role/r"
        ]
    );
    let bad_principal = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "sts:AssumeRole"}});
    assert_eq!(
        refusal(PolicyKind::Trust, bad_principal),
        "Invalid principal in policy: \"AWS\":\"alice\""
    );
}

#[test]
fn resource_policies_need_a_principal_of_a_known_type() {
    let none = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Resource, none),
        "Missing required field Principal"
    );
    let unknown_type = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": {"Users": "x"}, "Action": "sqs:SendMessage", "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Resource, unknown_type),
        "Syntax errors in policy."
    );
    let not_star = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": "someone", "Action": "sqs:SendMessage", "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Resource, not_star),
        "Syntax errors in policy."
    );
    // Resources are the owning service's to check: none, or not an ARN.
    let queue = resource(json!({"Version": "2012-10-17", "Id": "test",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}));
    assert!(decide(
        &user(ACCOUNT, "a"),
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:111122223333:q",
        &Context::new(),
        &[],
        Some(&queue)
    )
    .is_allowed());
    resource(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": "sqs:SendMessage", "Resource": "queue"}]}),
    );
    // No version, and every principal type.
    resource(json!({"Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "*", "Service": ["events.amazonaws.com"], "Federated": "cognito-identity.amazonaws.com",
                      "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:q"}]}));
    let both = json!({"Version": "2012-10-17", "Statement": {
        "Effect": "Allow", "Principal": "*", "NotPrincipal": {"AWS": "111122223333"},
        "Action": "sqs:SendMessage", "Resource": "*"}});
    assert_eq!(
        refusal(PolicyKind::Resource, both),
        "Syntax errors in policy."
    );
}

#[test]
fn condition_values_may_be_strings_booleans_numbers_or_lists_of_them() {
    statements(
        json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {
        "Bool": {"aws:SecureTransport": true},
        "NumericLessThanEquals": {"s3:max-keys": [10, "20"]},
        "StringLike": {"s3:prefix": ["home/*", "public/"]}}}),
    );
    let nested = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",
        "Resource": "*", "Condition": {"StringLike": {"s3:prefix": [["a"]]}}}});
    assert_eq!(
        refusal(PolicyKind::Identity, nested),
        "Syntax errors in policy."
    );
    let null = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",
        "Resource": "*", "Condition": {"StringLike": {"s3:prefix": null}}}});
    assert_eq!(
        refusal(PolicyKind::Identity, null),
        "Syntax errors in policy."
    );
}

/// An identity policy of one statement with `resource`.
fn with_resource(resource: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": resource}})
}

#[test]
fn resource_format_messages() {
    let cases = [
        (json!("queue"), "Resource queue must be in ARN format or \"*\"."),
        (json!("x:mars"), "Partition \"mars\" is not valid for resource \"arn:mars:*:*:*:*\"."),
        (json!("x:mars:sqs"), "Partition \"mars\" is not valid for resource \"arn:mars:sqs:*:*:*\"."),
        (
            json!("arn:mars:sqs:r:1:q:extra"),
            "Partition \"mars\" is not valid for resource \"arn:mars:sqs:r:1:q:extra\".",
        ),
        (json!("arn:aws"), "Resource vendor must be fully qualified and cannot contain regexes."),
        (
            json!("arn:aws:iam:us-east-1:111122223333:user/a"),
            "IAM resource arn:aws:iam:us-east-1:111122223333:user/a cannot contain region information.",
        ),
        (
            json!("arn:aws:s3:us-east-1::bucket"),
            "Resource arn:aws:s3:us-east-1::bucket can not contain region information.",
        ),
        (
            json!("arn:aws:iam::111122223333:thing/a"),
            "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, \
             instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, \
             report/, access-report/.",
        ),
        // Colons in the wrong places fail the older parser.
        (json!("arn:aws:sqs::queue"), "The policy failed legacy parsing"),
        (json!("arn:aws::us-east-1:1:queue"), "The policy failed legacy parsing"),
    ];
    for (resource, message) in cases {
        assert_eq!(
            refusal(PolicyKind::Identity, with_resource(resource.clone())),
            message,
            "{resource}"
        );
    }
    // Accepted shapes.
    for resource in [
        json!("*"),
        json!("arn:aws:s3:::bucket/key"),
        json!("arn:aws:sqs:us-east-1:111122223333:queue"),
        json!("arn:aws-cn:sqs:cn-north-1:111122223333:queue"),
        json!("arn:*:sqs:*:*:*"),
        json!("arn:aws:s3:us-east-1:111122223333:accesspoint/ap"),
        json!("arn:aws:iam::111122223333:role/${aws:username}"),
        json!(["arn:aws:sqs:us-east-1:111122223333:a", null, ""]),
    ] {
        identity(with_resource(resource));
    }
}

#[test]
fn among_several_bad_resources_the_last_one_found_is_reported() {
    // Each statement's list is looked at in descending order, statements in
    // order, `Resource` before `NotResource`.
    let d = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": ["b-bad", "a-bad"]},
        {"Effect": "Allow", "Action": "sqs:*", "NotResource": "c-bad"},
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "d-bad"}]});
    assert_eq!(
        refusal(PolicyKind::Identity, d),
        "Resource c-bad must be in ARN format or \"*\"."
    );
    let d = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": ["a-bad", "b-bad"]}]});
    assert_eq!(
        refusal(PolicyKind::Identity, d),
        "Resource a-bad must be in ARN format or \"*\"."
    );
}

#[test]
fn action_messages() {
    let with_action = |a: Value| json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": a, "Resource": "*"}});
    let cases = [
        (
            json!("sqs"),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            json!(["sqs:SendMessage", ""]),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            json!("sqs:Send:Message"),
            "Actions/Condition can contain only one colon.",
        ),
        (json!("s q s:SendMessage"), "Vendor s q s is not valid"),
        (json!("sqs/x:SendMessage"), "Vendor sqs/x is not valid"),
        (json!([]), "Policy statement must contain actions."),
    ];
    for (action, message) in cases {
        assert_eq!(
            refusal(PolicyKind::Identity, with_action(action.clone())),
            message,
            "{action}"
        );
    }
    for action in [
        json!("*"),
        json!("*:*"),
        json!("sqs:*"),
        json!("my-vendor.x:Do it"),
        json!(["a:b", "c:d"]),
    ] {
        identity(with_action(action));
    }
}

#[test]
fn checks_fire_in_iam_order() {
    let v = "2012-10-17";
    // Syntax before version.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Statement": {"Effect": "Allow", "Action": {}, "Resource": "*"}})
        ),
        "Syntax errors in policy."
    );
    // Version before legacy parsing.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Statement": {"Effect": "deny", "Action": "s3:*", "Resource": "*"}})
        ),
        "Policy document must be version 2012-10-17 or greater."
    );
    // Legacy parsing (a date) before duplicate ids.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Version": v, "Statement": [
            {"Sid": "a", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "a", "Effect": "Allow", "Action": "s3:*", "Resource": "*",
             "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}}]})
        ),
        "The policy failed legacy parsing"
    );
    // Duplicate ids before missing actions.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Version": v, "Statement": [
            {"Sid": "a", "Effect": "Allow", "Resource": "*"},
            {"Sid": "a", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
        ),
        "Statement IDs (SID) in a single policy must be unique."
    );
    // Missing actions before a bad resource.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Version": v, "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "bad"},
            {"Effect": "Allow", "Resource": "*"}]})
        ),
        "Policy statement must contain actions."
    );
    // A bad resource before a bad action.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Version": v, "Statement":
            {"Effect": "Allow", "Action": "s3", "Resource": "bad"}})
        ),
        "Resource bad must be in ARN format or \"*\"."
    );
    // A bad action before missing resources.
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            json!({"Version": v, "Statement": {"Effect": "Allow", "Action": "s3"}})
        ),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
}

#[test]
fn date_values_are_checked_on_write() {
    let with_date = |value: Value| {
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"ForAnyValue:DateLessThanIfExists": {"aws:CurrentTime": value}}}})
    };
    for good in [
        json!("2026-12-03"),
        json!("2026-12-03T10:00:00Z"),
        json!(["1764756000", "2026-12-03T10:00:00.5+01:00"]),
        json!(1764756000),
    ] {
        identity(with_date(good));
    }
    for bad in [
        json!("soon"),
        json!("2026-13-01"),
        json!("2026-12-03T25:00"),
        json!(true),
        json!([true]),
    ] {
        assert_eq!(
            refusal(PolicyKind::Identity, with_date(bad.clone())),
            "The policy failed legacy parsing",
            "{bad}"
        );
    }
}

#[test]
fn unknown_operators_only_with_an_empty_block() {
    let with = |c: Value| json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": c}});
    identity(with(json!({"NoSuchOperator": {}})));
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            with(json!({"NoSuchOperator": {"k": "v"}}))
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        refusal(
            PolicyKind::Identity,
            with(json!({"ForAnyValue::StringEquals": {"k": "v"}}))
        ),
        "Syntax errors in policy."
    );
    identity(with(
        json!({"ForAllValues:StringNotEqualsIgnoreCaseIfExists": {"k": ["v"]}}),
    ));
}
