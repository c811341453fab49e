//! The legacy parameters: Expected, AttributeUpdates, KeyConditions,
//! QueryFilter, ScanFilter, ConditionalOperator, AttributesToGet.

use serde_json::json;

use crate::Db;

#[test]
fn expected_and_attribute_updates() {
    let db = Db::new();
    db.table("old", None);
    let key = json!({"pk": {"S": "a"}});
    db.ok("PutItem", json!({"TableName": "old", "Item": {"pk": {"S": "a"}, "n": {"N": "1"}, "l": {"L": [{"S": "x"}]}},
        "Expected": {"pk": {"Exists": false}}}));
    let (kind, _) = db.fails(
        "PutItem",
        json!({"TableName": "old", "Item": {"pk": {"S": "a"}},
        "Expected": {"pk": {"Exists": false}}}),
    );
    assert_eq!(kind, "ConditionalCheckFailedException");
    db.ok("UpdateItem", json!({"TableName": "old", "Key": key,
        "Expected": {"n": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "5"}]},
                     "gone": {"ComparisonOperator": "NULL"}},
        "AttributeUpdates": {"n": {"Action": "ADD", "Value": {"N": "2"}}, "l": {"Action": "ADD", "Value": {"L": [{"S": "y"}]}},
            "s": {"Value": {"SS": ["p", "q"]}}, "fresh": {"Action": "PUT", "Value": {"BOOL": true}}}}));
    db.ok("UpdateItem", json!({"TableName": "old", "Key": key,
        "Expected": {"n": {"Value": {"N": "9"}}, "fresh": {"Exists": true, "Value": {"BOOL": true}}},
        "ConditionalOperator": "OR",
        "AttributeUpdates": {"s": {"Action": "DELETE", "Value": {"SS": ["p"]}}, "fresh": {"Action": "DELETE"}}}));
    assert_eq!(
        db.get("old", key.clone()).unwrap(),
        json!({"pk": {"S": "a"}, "n": {"N": "3"},
        "l": {"L": [{"S": "x"}, {"S": "y"}]}, "s": {"SS": ["q"]}})
    );
    let (kind, _) = db.fails("DeleteItem", json!({"TableName": "old", "Key": key,
        "Expected": {"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "4"}, {"N": "8"}]}}}));
    assert_eq!(kind, "ConditionalCheckFailedException");
    let (_, message) = db.fails(
        "UpdateItem",
        json!({"TableName": "old", "Key": key,
        "UpdateExpression": "SET n = :v", "ExpressionAttributeValues": {":v": {"N": "1"}},
        "AttributeUpdates": {"n": {"Value": {"N": "1"}}}}),
    );
    assert_eq!(message, "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}");
    let (_, message) = db.fails(
        "PutItem",
        json!({"TableName": "old", "Item": key,
        "Expected": {"n": {"ComparisonOperator": "EQ", "AttributeValueList": []}}}),
    );
    assert_eq!(message, "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator");
}

#[test]
fn key_conditions_and_filters() {
    let db = Db::new();
    db.table("oldq", Some("N"));
    for i in 0..6 {
        db.put(
            "oldq",
            json!({"pk": {"S": "p"}, "sk": {"N": i.to_string()}, "even": {"BOOL": i % 2 == 0}}),
        );
    }
    let out = db.ok("Query", json!({"TableName": "oldq",
        "KeyConditions": {"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                          "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "2"}]}},
        "QueryFilter": {"even": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": true}]}},
        "AttributesToGet": ["sk"]}));
    assert_eq!(
        out["Items"],
        json!([{"sk": {"N": "2"}}, {"sk": {"N": "4"}}])
    );
    assert_eq!(out["ScannedCount"], 4);
    let out = db.ok("Scan", json!({"TableName": "oldq",
        "ScanFilter": {"sk": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]},
                       "even": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": true}]}},
        "ConditionalOperator": "OR", "Select": "COUNT"}));
    assert_eq!(out["Count"], 5);
}
