use serde_json::{json, Value};

use super::*;

fn event() -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {
            "instance-id": "i-1234567890abcdef0",
            "state": "terminated",
            "count": 5,
            "price": 10.5,
            "flag": true,
            "nothing": null,
            "ip": "10.0.0.42",
            "ip6": "2001:db8::1",
            "tags": ["blue", "green"],
            "items": [{"kind": "a", "size": 1}, {"kind": "b", "size": 20}],
            "location": {"city": "Paris", "zip": "75001"},
            "file": "photos/Cat.JPG"
        }
    })
}

#[track_caller]
fn check(pattern: Value, expected: bool) {
    let p = Pattern::parse(&pattern.to_string())
        .unwrap_or_else(|e| panic!("{pattern} should parse: {e}"));
    assert_eq!(p.matches(&event()), expected, "pattern {pattern}");
}

#[track_caller]
fn rejected(pattern: &str) -> String {
    match Pattern::parse(pattern) {
        Ok(p) => panic!("{pattern} should be rejected, parsed as {p:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn exact_values_and_alternatives() {
    check(json!({"source": ["aws.ec2"]}), true);
    check(json!({"source": ["aws.s3"]}), false);
    check(json!({"source": ["aws.s3", "aws.ec2"]}), true);
    check(
        json!({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}),
        true,
    );
    check(
        json!({"source": ["aws.ec2"], "detail-type": ["other"]}),
        false,
    );
    check(json!({"source": ["AWS.EC2"]}), false);
}

#[test]
fn nested_fields() {
    check(json!({"detail": {"state": ["terminated"]}}), true);
    check(json!({"detail": {"state": ["running"]}}), false);
    check(json!({"detail": {"location": {"city": ["Paris"]}}}), true);
    check(json!({"detail": {"location": {"city": ["Lyon"]}}}), false);
    check(json!({"detail": {"missing": {"x": ["y"]}}}), false);
}

#[test]
fn literal_types_are_distinct() {
    check(json!({"detail": {"count": [5]}}), true);
    check(json!({"detail": {"count": [5.0]}}), true);
    check(json!({"detail": {"count": ["5"]}}), false);
    check(json!({"detail": {"flag": [true]}}), true);
    check(json!({"detail": {"flag": ["true"]}}), false);
    check(json!({"detail": {"price": [10.5]}}), true);
}

#[test]
fn null_matching() {
    check(json!({"detail": {"nothing": [null]}}), true);
    check(json!({"detail": {"state": [null]}}), false);
    check(json!({"detail": {"absent": [null]}}), false);
}

#[test]
fn event_arrays_match_any_element() {
    check(json!({"detail": {"tags": ["green"]}}), true);
    check(json!({"detail": {"tags": ["red"]}}), false);
    check(json!({"detail": {"tags": ["red", "blue"]}}), true);
    check(json!({"resources": [{"prefix": "arn:aws:ec2:"}]}), true);
    check(json!({"detail": {"items": {"kind": ["b"]}}}), true);
    check(
        json!({"detail": {"items": {"size": [{"numeric": [">", 10]}]}}}),
        true,
    );
    check(json!({"detail": {"items": {"kind": ["c"]}}}), false);
}

#[test]
fn prefix_and_suffix() {
    check(json!({"detail": {"state": [{"prefix": "term"}]}}), true);
    check(json!({"detail": {"state": [{"prefix": "run"}]}}), false);
    check(json!({"detail": {"state": [{"prefix": "TERM"}]}}), false);
    check(
        json!({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}),
        true,
    );
    check(json!({"detail": {"file": [{"suffix": ".JPG"}]}}), true);
    check(json!({"detail": {"file": [{"suffix": ".jpg"}]}}), false);
    check(
        json!({"detail": {"file": [{"suffix": {"equals-ignore-case": ".jpg"}}]}}),
        true,
    );
    check(json!({"detail": {"count": [{"prefix": "5"}]}}), false);
}

#[test]
fn equals_ignore_case() {
    check(
        json!({"detail": {"state": [{"equals-ignore-case": "TERMINATED"}]}}),
        true,
    );
    check(
        json!({"detail": {"state": [{"equals-ignore-case": "TERMINATE"}]}}),
        false,
    );
}

#[test]
fn anything_but() {
    check(
        json!({"detail": {"state": [{"anything-but": "running"}]}}),
        true,
    );
    check(
        json!({"detail": {"state": [{"anything-but": "terminated"}]}}),
        false,
    );
    check(
        json!({"detail": {"state": [{"anything-but": ["running", "terminated"]}]}}),
        false,
    );
    check(json!({"detail": {"count": [{"anything-but": 5}]}}), false);
    check(
        json!({"detail": {"count": [{"anything-but": [1, 2]}]}}),
        true,
    );
    check(
        json!({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}),
        false,
    );
    check(
        json!({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}),
        true,
    );
    check(
        json!({"detail": {"file": [{"anything-but": {"suffix": ".JPG"}}]}}),
        false,
    );
    check(
        json!({"detail": {"file": [{"anything-but": {"suffix": ".png"}}]}}),
        true,
    );
    check(
        json!({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["TERMINATED"]}}]}}),
        false,
    );
    check(
        json!({"detail": {"file": [{"anything-but": {"wildcard": "photos/*"}}]}}),
        false,
    );
    // A missing field is not "anything but".
    check(
        json!({"detail": {"absent": [{"anything-but": "x"}]}}),
        false,
    );
}

#[test]
fn numeric() {
    check(
        json!({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}),
        true,
    );
    check(
        json!({"detail": {"count": [{"numeric": [">", 0, "<", 5]}]}}),
        false,
    );
    check(json!({"detail": {"count": [{"numeric": [">=", 5]}]}}), true);
    check(json!({"detail": {"count": [{"numeric": [">", 5]}]}}), false);
    check(json!({"detail": {"count": [{"numeric": ["=", 5]}]}}), true);
    check(
        json!({"detail": {"price": [{"numeric": ["=", 10.5]}]}}),
        true,
    );
    check(
        json!({"detail": {"price": [{"numeric": ["<", 10]}]}}),
        false,
    );
    check(json!({"detail": {"state": [{"numeric": [">", 0]}]}}), false);
}

#[test]
fn exists() {
    check(json!({"detail": {"state": [{"exists": true}]}}), true);
    check(json!({"detail": {"absent": [{"exists": true}]}}), false);
    check(json!({"detail": {"absent": [{"exists": false}]}}), true);
    check(json!({"detail": {"state": [{"exists": false}]}}), false);
    check(json!({"detail": {"nothing": [{"exists": true}]}}), true);
    check(json!({"nowhere": {"absent": [{"exists": false}]}}), true);
    // Objects are not leaves.
    check(json!({"detail": {"location": [{"exists": true}]}}), false);
}

#[test]
fn wildcard() {
    check(
        json!({"detail": {"file": [{"wildcard": "photos/*.JPG"}]}}),
        true,
    );
    check(
        json!({"detail": {"file": [{"wildcard": "photos/*.png"}]}}),
        false,
    );
    check(json!({"detail": {"file": [{"wildcard": "*Cat*"}]}}), true);
    check(
        json!({"detail": {"file": [{"wildcard": "photos/Cat.JPG"}]}}),
        true,
    );
    check(json!({"detail": {"file": [{"wildcard": "*"}]}}), true);
    check(json!({"detail": {"file": [{"wildcard": "p*s/C*G"}]}}), true);
    check(json!({"detail": {"file": [{"wildcard": "p*x*G"}]}}), false);
}

#[test]
fn wildcard_edge_cases() {
    assert!(wildcard_matches("a*a", "aa"));
    assert!(!wildcard_matches("a*a", "a"));
    assert!(wildcard_matches("*", ""));
    assert!(!wildcard_matches("abc", "abcd"));
}

#[test]
fn cidr() {
    check(json!({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}), true);
    check(json!({"detail": {"ip": [{"cidr": "10.0.1.0/24"}]}}), false);
    check(json!({"detail": {"ip": [{"cidr": "10.0.0.32/27"}]}}), true);
    check(json!({"detail": {"ip": [{"cidr": "0.0.0.0/0"}]}}), true);
    check(
        json!({"detail": {"ip6": [{"cidr": "2001:db8::/32"}]}}),
        true,
    );
    check(json!({"detail": {"ip6": [{"cidr": "10.0.0.0/8"}]}}), false);
    check(
        json!({"detail": {"state": [{"cidr": "10.0.0.0/8"}]}}),
        false,
    );
}

#[test]
fn or() {
    check(
        json!({"$or": [{"source": ["aws.s3"]}, {"detail": {"count": [5]}}]}),
        true,
    );
    check(
        json!({"$or": [{"source": ["aws.s3"]}, {"detail": {"count": [6]}}]}),
        false,
    );
    check(
        json!({"source": ["aws.ec2"], "detail": {"$or": [{"state": ["x"]}, {"flag": [true]}]}}),
        true,
    );
    check(
        json!({"source": ["aws.s3"], "$or": [{"detail": {"state": ["terminated"]}}, {"region": ["us-west-1"]}]}),
        false,
    );
}

#[test]
fn several_operators_in_one_field_are_alternatives() {
    check(
        json!({"detail": {"state": ["running", {"prefix": "termin"}]}}),
        true,
    );
    check(
        json!({"detail": {"state": [{"exists": false}, {"prefix": "x"}]}}),
        false,
    );
}

#[test]
fn index_keys() {
    let p = Pattern::parse(r#"{"source":["a","b"],"detail-type":[{"prefix":"x"}]}"#).unwrap();
    assert_eq!(p.exact_strings("source"), Some(vec!["a", "b"]));
    assert_eq!(p.exact_strings("detail-type"), None);
    assert_eq!(p.exact_strings("region"), None);
    let p = Pattern::parse(r#"{"source":["a", 1]}"#).unwrap();
    assert_eq!(p.exact_strings("source"), None);
}

#[test]
fn malformed_patterns_are_rejected_with_a_reason() {
    assert!(rejected("not json").contains("not valid JSON"));
    assert!(rejected("[]").contains("must be a JSON object"));
    assert!(rejected("{}").contains("empty"));
    assert!(
        rejected(r#"{"source":"aws.ec2"}"#).contains("\"source\" must be an object or an array")
    );
    assert!(rejected(r#"{"detail":{"a":5}}"#).contains("\"detail.a\""));
    assert!(rejected(r#"{"source":[]}"#).contains("empty array"));
    assert!(rejected(r#"{"detail":{}}"#).contains("empty object"));
    assert!(rejected(r#"{"source":[["a"]]}"#).contains("array inside an array"));
    assert!(rejected(r#"{"source":[{"prefix":"a","suffix":"b"}]}"#).contains("exactly one key"));
    assert!(rejected(r#"{"source":[{"bogus":"a"}]}"#).contains("unrecognized match type \"bogus\""));
    assert!(rejected(r#"{"source":[{"prefix":5}]}"#).contains("must be a string"));
    assert!(rejected(r#"{"source":[{"exists":"yes"}]}"#).contains("true or false"));
    assert!(rejected(r#"{"n":[{"numeric":[">"]}]}"#).contains("numeric"));
    assert!(rejected(r#"{"n":[{"numeric":["~",1]}]}"#).contains("unknown operator"));
    assert!(rejected(r#"{"n":[{"numeric":[">",5,"<",1]}]}"#).contains("lower bound"));
    assert!(rejected(r#"{"n":[{"numeric":[">",1,">",2]}]}"#).contains("two lower"));
    assert!(rejected(r#"{"n":[{"numeric":["=",1,"<",2]}]}"#).contains("\"=\""));
    assert!(rejected(r#"{"n":[{"numeric":[">","1"]}]}"#).contains("alternate"));
    assert!(rejected(r#"{"ip":[{"cidr":"10.0.0.0/33"}]}"#).contains("CIDR"));
    assert!(rejected(r#"{"ip":[{"cidr":"nope"}]}"#).contains("CIDR"));
    assert!(rejected(r#"{"w":[{"wildcard":"a**b"}]}"#).contains("consecutive"));
    assert!(rejected(r#"{"a":[{"anything-but":[]}]}"#).contains("anything-but"));
    assert!(rejected(r#"{"a":[{"anything-but":{"numeric":[">",1]}}]}"#).contains("anything-but"));
    assert!(rejected(r#"{"a":[{"anything-but":true}]}"#).contains("anything-but"));
    assert!(rejected(r#"{"$or":[{"a":["x"]}]}"#).contains("at least two"));
    assert!(rejected(r#"{"$or":{"a":["x"]}}"#).contains("at least two"));
    assert!(rejected(r#"{"$or":[{"a":["x"]}, 5]}"#).contains("non-empty object"));
    assert!(rejected(r#"{"a":[{"prefix":{"x":"y"}}]}"#).contains("equals-ignore-case"));
    let long = format!(r#"{{"source":["{}"]}}"#, "a".repeat(MAX_PATTERN_LEN));
    assert!(rejected(&long).contains("limit"));
}

#[test]
fn error_message_reads_like_eventbridge() {
    assert_eq!(
        rejected(r#"{"source":"x"}"#),
        "Event pattern is not valid. Reason: \"source\" must be an object or an array"
    );
}
