//! Condition expressions: functions, operators, precedence, errors.

use serde_json::{json, Value};

use crate::Db;

fn check(db: &Db, condition: &str, values: Value) -> bool {
    let mut input = json!({"TableName": "expr", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET touched = :t", "ConditionExpression": condition});
    let mut all = json!({":t": {"BOOL": true}});
    for (k, v) in values.as_object().unwrap() {
        all[k] = v.clone();
    }
    input["ExpressionAttributeValues"] = all;
    if condition.contains('#') {
        input["ExpressionAttributeNames"] = json!({"#s": "status"});
    }
    match db
        .tables
        .execute("UpdateItem", input.to_string().as_bytes())
    {
        Ok(_) => true,
        Err(e) if e.type_name().ends_with("ConditionalCheckFailedException") => false,
        Err(e) => panic!("{condition}: {}", e.message()),
    }
}

#[test]
fn condition_functions_and_operators() {
    let db = Db::new();
    db.table("expr", None);
    db.put("expr", json!({"pk": {"S": "a"}, "n": {"N": "10"}, "s": {"S": "hello world"},
        "status": {"S": "active"}, "tags": {"SS": ["red", "blue"]}, "l": {"L": [{"N": "1"}, {"S": "two"}]},
        "m": {"M": {"k": {"S": "v"}}}, "b": {"B": "AAEC"}}));
    let n = |v: &str| json!({"N": v});
    let s = |v: &str| json!({"S": v});
    let cases: Vec<(&str, Value, bool)> = vec![
        ("attribute_exists(n)", json!({}), true),
        ("attribute_exists(nope)", json!({}), false),
        ("attribute_not_exists(m.nope)", json!({}), true),
        ("attribute_exists(m.k)", json!({}), true),
        ("attribute_exists(l[1])", json!({}), true),
        ("attribute_exists(l[2])", json!({}), false),
        ("attribute_type(tags, :ss)", json!({":ss": s("SS")}), true),
        ("attribute_type(n, :ss)", json!({":ss": s("SS")}), false),
        ("begins_with(s, :p)", json!({":p": s("hello")}), true),
        ("begins_with(s, :p)", json!({":p": s("world")}), false),
        ("contains(s, :p)", json!({":p": s("o w")}), true),
        ("contains(tags, :p)", json!({":p": s("red")}), true),
        ("contains(tags, :p)", json!({":p": s("green")}), false),
        ("contains(l, :p)", json!({":p": s("two")}), true),
        ("size(s) = :v", json!({":v": n("11")}), true),
        ("size(tags) > :v", json!({":v": n("1")}), true),
        ("n = :v", json!({":v": n("10.0")}), true),
        ("n <> :v", json!({":v": n("10")}), false),
        ("nope <> :v", json!({":v": n("10")}), true),
        ("n < :v", json!({":v": n("9")}), false),
        ("n <= :v", json!({":v": n("10")}), true),
        ("n > :v", json!({":v": s("9")}), false),
        (
            "n BETWEEN :a AND :b",
            json!({":a": n("1"), ":b": n("10")}),
            true,
        ),
        ("n IN (:a, :b)", json!({":a": n("1"), ":b": n("10")}), true),
        ("n IN (:a)", json!({":a": n("1")}), false),
        ("NOT n = :v", json!({":v": n("10")}), false),
        ("#s = :v", json!({":v": s("active")}), true),
        (
            "n = :a OR n = :b AND n = :c",
            json!({":a": n("10"), ":b": n("1"), ":c": n("2")}),
            true,
        ),
        (
            "(n = :a OR n = :b) AND n = :c",
            json!({":a": n("10"), ":b": n("1"), ":c": n("2")}),
            false,
        ),
        (
            "m.k = :v AND l[0] = :one",
            json!({":v": s("v"), ":one": n("1")}),
            true,
        ),
        ("b = :b", json!({":b": {"B": "AAEC"}}), true),
        ("tags = :t2", json!({":t2": {"SS": ["blue", "red"]}}), true),
    ];
    for (condition, values, expected) in cases {
        assert_eq!(check(&db, condition, values), expected, "{condition}");
    }
}

#[test]
fn expression_errors() {
    let db = Db::new();
    db.table("expr", None);
    let put = |condition: &str, values: Value, names: Option<Value>| {
        let mut input = json!({"TableName": "expr", "Item": {"pk": {"S": "a"}}, "ConditionExpression": condition});
        if !values.as_object().unwrap().is_empty() {
            input["ExpressionAttributeValues"] = values;
        }
        if let Some(names) = names {
            input["ExpressionAttributeNames"] = names;
        }
        db.fails("PutItem", input).1
    };
    let cases = [
        (put("a = = :v", json!({":v": {"S": "x"}}), None),
         "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = :v\""),
        (put("attribute_exists(a", json!({}), None),
         "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"a\""),
        (put("a = :v", json!({}), None),
         "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"),
        (put("#a = :v", json!({":v": {"S": "x"}}), None),
         "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"),
        (put("a = :v", json!({":v": {"S": "x"}}), Some(json!({"#unused": "x"}))),
         "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"),
        (put("frobnicate(a)", json!({}), None), "Invalid ConditionExpression: Invalid function name; function: frobnicate"),
        (put("Attribute_Exists(a)", json!({}), None), "Invalid ConditionExpression: Invalid function name; function: Attribute_Exists"),
        (put("a BETWEEN :hi AND :lo", json!({":hi": {"N": "5"}, ":lo": {"N": "1"}}), None),
         "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"),
        (put("begins_with(a, :n)", json!({":n": {"N": "5"}}), None),
         "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        (put("attribute_type(a, :t)", json!({":t": {"S": "STRING"}}), None),
         "Invalid attribute type name found; type: STRING, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
        (put("", json!({}), None), "Invalid ConditionExpression: The expression can not be empty;"),
        (put(&"NOT ".repeat(1000), json!({}), None), "The expression has exceeded the maximum nesting depth"),
        (put(&format!("attribute_exists(a{})", ".b".repeat(40)), json!({}), None),
         "Invalid ConditionExpression: The document path has exceeded the maximum nesting level of 32"),
        (put(&format!("a = :v{}", " OR a = :v".repeat(500)), json!({":v": {"S": "x"}}), None),
         "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 5006"),
        (put("((((a < b))))", json!({}), None), "Invalid ConditionExpression: The expression has redundant parentheses;"),
    ];
    for (got, wanted) in cases {
        assert!(got.contains(wanted), "wanted {wanted}\n   got {got}");
    }
    let (_, message) = db.fails(
        "PutItem",
        json!({"TableName": "expr", "Item": {"pk": {"S": "a"}},
        "ExpressionAttributeValues": {":v": {"S": "x"}}}),
    );
    assert_eq!(
        message,
        "ExpressionAttributeValues can only be specified when using expressions"
    );
}

#[test]
fn projection_expression() {
    let db = Db::new();
    db.table("proj", None);
    db.put("proj", json!({"pk": {"S": "a"}, "x": {"N": "1"}, "y": {"N": "2"},
        "m": {"M": {"a": {"S": "1"}, "b": {"S": "2"}}}, "l": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]}}));
    // Reserved words are refused anywhere in a path.
    let (_, message) = db.fails(
        "GetItem",
        json!({"TableName": "proj", "Key": {"pk": {"S": "a"}}, "ProjectionExpression": "m.Value"}),
    );
    assert_eq!(message, "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: Value");
    let out = db.ok("GetItem", json!({"TableName": "proj", "Key": {"pk": {"S": "a"}},
        "ProjectionExpression": "#x, m.b, l[2], l[0], nope", "ExpressionAttributeNames": {"#x": "x"}}));
    assert_eq!(
        out["Item"],
        json!({"x": {"N": "1"}, "m": {"M": {"b": {"S": "2"}}}, "l": {"L": [{"S": "0"}, {"S": "2"}]}})
    );
}
