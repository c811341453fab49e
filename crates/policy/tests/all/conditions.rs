//! Each condition operator, qualifier and `IfExists`, through evaluation
//! of a one-statement Allow policy.

use super::*;
use serde_json::json;

/// Whether an Allow statement with `condition` allows a request whose
/// context holds `values`.
fn holds(condition: Value, values: &[(&str, &[&str])]) -> bool {
    let policy = statements(json!({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}));
    let mut context = Context::new();
    for (key, vals) in values {
        context.set_many(key, vals.iter().map(|v| v.to_string()).collect());
    }
    let alice = user(ACCOUNT, "alice");
    decide(
        &alice,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        &context,
        &[&policy],
        None,
    )
    .is_allowed()
}

#[test]
fn string_operators() {
    let eq = json!({"StringEquals": {"aws:RequestTag/team": ["red", "blue"]}});
    assert!(holds(eq.clone(), &[("aws:RequestTag/team", &["blue"])]));
    assert!(!holds(eq.clone(), &[("aws:RequestTag/team", &["Blue"])]));
    assert!(!holds(eq, &[]));
    let ne = json!({"StringNotEquals": {"k": ["a", "b"]}});
    assert!(holds(ne.clone(), &[("k", &["c"])]));
    assert!(!holds(ne.clone(), &[("k", &["a"])]));
    assert!(holds(ne, &[]), "a negated operator holds for an absent key");
    let ci = json!({"StringEqualsIgnoreCase": {"k": "Hello"}});
    assert!(holds(ci.clone(), &[("k", &["hELLO"])]));
    assert!(!holds(ci, &[("k", &["hello!"])]));
    let nci = json!({"StringNotEqualsIgnoreCase": {"k": "Hello"}});
    assert!(!holds(nci.clone(), &[("k", &["HELLO"])]));
    assert!(holds(nci, &[("k", &["bye"])]));
    let like = json!({"StringLike": {"s3:prefix": ["home/*", "t?p"]}});
    assert!(holds(like.clone(), &[("s3:prefix", &["home/alice/x"])]));
    assert!(holds(like.clone(), &[("s3:prefix", &["top"])]));
    assert!(!holds(like, &[("s3:prefix", &["Home/alice"])]));
    let not_like = json!({"StringNotLike": {"s3:prefix": "secret/*"}});
    assert!(holds(not_like.clone(), &[("s3:prefix", &["public/x"])]));
    assert!(!holds(not_like, &[("s3:prefix", &["secret/x"])]));
    // StringEquals takes `*` literally.
    let literal = json!({"StringEquals": {"k": "a*"}});
    assert!(holds(literal.clone(), &[("k", &["a*"])]));
    assert!(!holds(literal, &[("k", &["ab"])]));
}

#[test]
fn key_names_are_case_insensitive() {
    let c = json!({"StringEquals": {"AWS:RequestTag/Team": "red"}});
    assert!(holds(c, &[("aws:requesttag/team", &["red"])]));
}

#[test]
fn numeric_operators() {
    let n = |op: &str, policy: Value, request: &str| {
        holds(
            json!({op: {"s3:max-keys": policy}}),
            &[("s3:max-keys", &[request])],
        )
    };
    assert!(n("NumericEquals", json!(10), "10"));
    assert!(n("NumericEquals", json!("10"), "10.0"));
    assert!(!n("NumericEquals", json!(10), "11"));
    assert!(n("NumericNotEquals", json!(10), "11"));
    assert!(!n("NumericNotEquals", json!(10), "10"));
    assert!(n("NumericLessThan", json!(10), "9.5"));
    assert!(!n("NumericLessThan", json!(10), "10"));
    assert!(n("NumericLessThanEquals", json!(10), "10"));
    assert!(n("NumericGreaterThan", json!("-1"), "0"));
    assert!(!n("NumericGreaterThan", json!(0), "0"));
    assert!(n("NumericGreaterThanEquals", json!(0), "0"));
    assert!(
        !n("NumericEquals", json!(10), "ten"),
        "a request value that is not a number"
    );
    assert!(
        !n("NumericEquals", json!("ten"), "10"),
        "a policy value that is not a number"
    );
}

#[test]
fn date_operators() {
    let d = |op: &str, policy: &str, request: &str| {
        holds(
            json!({op: {"aws:CurrentTime": policy}}),
            &[("aws:CurrentTime", &[request])],
        )
    };
    assert!(d(
        "DateGreaterThan",
        "2017-07-01T00:00:00Z",
        "2017-07-01T00:00:01Z"
    ));
    assert!(!d(
        "DateGreaterThan",
        "2017-07-01T00:00:00Z",
        "2017-07-01T00:00:00Z"
    ));
    assert!(d(
        "DateGreaterThanEquals",
        "2017-07-01T00:00:00Z",
        "2017-07-01T00:00:00Z"
    ));
    assert!(d("DateLessThan", "2017-07-01", "2017-06-30T23:59:59Z"));
    assert!(d(
        "DateLessThanEquals",
        "1498867200",
        "2017-07-01T00:00:00Z"
    ));
    assert!(d("DateEquals", "2017-07-01T02:00:00+02:00", "1498867200"));
    assert!(d(
        "DateNotEquals",
        "2017-07-01T00:00:00Z",
        "2017-07-02T00:00:00Z"
    ));
    assert!(!d(
        "DateNotEquals",
        "2017-07-01T00:00:00Z",
        "2017-07-01T00:00:00.000Z"
    ));
    assert!(!d("DateLessThan", "2017-07-01", "not a date"));
}

#[test]
fn bool_binary_and_null() {
    let b = json!({"Bool": {"aws:SecureTransport": true}});
    assert!(holds(b.clone(), &[("aws:SecureTransport", &["true"])]));
    assert!(holds(b.clone(), &[("aws:SecureTransport", &["TRUE"])]));
    assert!(!holds(b.clone(), &[("aws:SecureTransport", &["false"])]));
    assert!(!holds(b, &[]));
    let bin = json!({"BinaryEquals": {"k": "QmluYXJ5VmFsdWU="}});
    assert!(holds(bin.clone(), &[("k", &["QmluYXJ5VmFsdWU="])]));
    assert!(!holds(bin, &[("k", &["QmluYXJ5VmFsdWV="])]));
    let absent = json!({"Null": {"aws:TokenIssueTime": "true"}});
    assert!(holds(absent.clone(), &[]));
    assert!(!holds(
        absent,
        &[("aws:TokenIssueTime", &["2017-01-01T00:00:00Z"])]
    ));
    let present = json!({"Null": {"aws:TokenIssueTime": false}});
    assert!(holds(present.clone(), &[("aws:TokenIssueTime", &["x"])]));
    assert!(!holds(present, &[]));
}

#[test]
fn ip_address_operators() {
    let ip =
        json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]}});
    assert!(holds(ip.clone(), &[("aws:SourceIp", &["203.0.113.200"])]));
    assert!(holds(ip.clone(), &[("aws:SourceIp", &["2001:db8:1::5"])]));
    assert!(holds(ip.clone(), &[("aws:SourceIp", &["198.51.100.7"])]));
    assert!(!holds(ip.clone(), &[("aws:SourceIp", &["198.51.100.8"])]));
    assert!(!holds(ip.clone(), &[("aws:SourceIp", &["2001:db9::1"])]));
    assert!(!holds(ip, &[("aws:SourceIp", &["not an address"])]));
    let not = json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}});
    assert!(holds(not.clone(), &[("aws:SourceIp", &["127.0.0.1"])]));
    assert!(!holds(not, &[("aws:SourceIp", &["10.1.2.3"])]));
}

#[test]
fn arn_operators_match_component_by_component() {
    let like = json!({"ArnLike": {"aws:SourceArn": "arn:aws:sqs:*:111122223333:queue-*"}});
    assert!(holds(
        like.clone(),
        &[(
            "aws:SourceArn",
            &["arn:aws:sqs:us-east-1:111122223333:queue-1"]
        )]
    ));
    assert!(!holds(
        like.clone(),
        &[(
            "aws:SourceArn",
            &["arn:aws:sqs:us-east-1:444455556666:queue-1"]
        )]
    ));
    // A wildcard does not reach across a colon.
    let region = json!({"ArnEquals": {"aws:SourceArn": "arn:aws:sqs:*:111122223333:q"}});
    assert!(!holds(
        region,
        &[("aws:SourceArn", &["arn:aws:sqs:us-east-1:x:111122223333:q"])]
    ));
    // The resource part keeps its colons.
    let eq = json!({"ArnEquals": {"aws:SourceArn": "arn:aws:logs:us-east-1:111122223333:log-group:/x:*"}});
    assert!(holds(
        eq.clone(),
        &[(
            "aws:SourceArn",
            &["arn:aws:logs:us-east-1:111122223333:log-group:/x:abc"]
        )]
    ));
    assert!(!holds(like.clone(), &[("aws:SourceArn", &["not-an-arn"])]));
    let not = json!({"ArnNotLike": {"aws:SourceArn": "arn:aws:sqs:*:111122223333:*"}});
    assert!(holds(
        not.clone(),
        &[("aws:SourceArn", &["arn:aws:sqs:us-east-1:444455556666:q"])]
    ));
    assert!(!holds(
        not,
        &[("aws:SourceArn", &["arn:aws:sqs:us-east-1:111122223333:q"])]
    ));
    let not_eq = json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sqs:us-east-1:111122223333:q"}});
    assert!(holds(not_eq, &[]));
}

#[test]
fn if_exists() {
    let c = json!({"StringEqualsIfExists": {"ec2:InstanceType": "t2.micro"}});
    assert!(holds(c.clone(), &[]));
    assert!(holds(c.clone(), &[("ec2:InstanceType", &["t2.micro"])]));
    assert!(!holds(c, &[("ec2:InstanceType", &["m5.large"])]));
    let b = json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}});
    assert!(holds(b.clone(), &[]));
    assert!(!holds(b, &[("aws:MultiFactorAuthPresent", &["true"])]));
}

#[test]
fn set_qualifiers() {
    let all = json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}});
    assert!(holds(all.clone(), &[("aws:TagKeys", &["team"])]));
    assert!(holds(all.clone(), &[("aws:TagKeys", &["team", "env"])]));
    assert!(!holds(all.clone(), &[("aws:TagKeys", &["team", "owner"])]));
    assert!(
        holds(all.clone(), &[]),
        "ForAllValues holds for an absent key"
    );
    assert!(holds(all, &[("aws:TagKeys", &[])]), "and for an empty one");
    let any = json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "env"]}});
    assert!(holds(any.clone(), &[("aws:TagKeys", &["owner", "env"])]));
    assert!(!holds(any.clone(), &[("aws:TagKeys", &["owner"])]));
    assert!(
        !holds(any, &[]),
        "ForAnyValue never holds for an absent key"
    );
    let any_not = json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "team"}});
    assert!(holds(any_not.clone(), &[("aws:TagKeys", &["team", "env"])]));
    assert!(!holds(any_not, &[("aws:TagKeys", &["team"])]));
    let all_not = json!({"ForAllValues:StringNotLike": {"aws:TagKeys": "secret*"}});
    assert!(holds(all_not.clone(), &[("aws:TagKeys", &["a", "b"])]));
    assert!(!holds(all_not, &[("aws:TagKeys", &["a", "secret-x"])]));
}

#[test]
fn keys_and_operators_are_and_values_are_or() {
    let c = json!({
        "StringEquals": {"k1": ["a", "b"], "k2": "c"},
        "NumericLessThan": {"n": 5}
    });
    assert!(holds(
        c.clone(),
        &[("k1", &["b"]), ("k2", &["c"]), ("n", &["1"])]
    ));
    assert!(!holds(
        c.clone(),
        &[("k1", &["b"]), ("k2", &["x"]), ("n", &["1"])]
    ));
    assert!(!holds(
        c.clone(),
        &[("k1", &["b"]), ("k2", &["c"]), ("n", &["6"])]
    ));
    assert!(!holds(c, &[("k1", &["b"]), ("n", &["1"])]));
}

#[test]
fn policy_variables_in_condition_values() {
    let c = json!({"StringEquals": {"ec2:ResourceTag/owner": "${aws:username}"}});
    assert!(
        holds(c.clone(), &[("ec2:ResourceTag/owner", &["alice"])]),
        "aws:username comes from the principal"
    );
    assert!(!holds(c, &[("ec2:ResourceTag/owner", &["bob"])]));
    let c = json!({"StringLike": {"s3:prefix": "home/${aws:PrincipalAccount}/*"}});
    assert!(holds(c, &[("s3:prefix", &["home/111122223333/x"])]));
}

#[test]
fn principal_derived_keys_yield_to_the_context() {
    let c = json!({"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/alice"}});
    assert!(holds(c.clone(), &[]));
    assert!(!holds(
        c,
        &[(
            "aws:PrincipalArn",
            &["arn:aws:iam::111122223333:user/other"]
        )]
    ));
    let t = json!({"StringEquals": {"aws:PrincipalType": "User"}});
    assert!(holds(t, &[]));
}
