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
