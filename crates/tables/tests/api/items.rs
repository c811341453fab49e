//! PutItem, GetItem, DeleteItem, UpdateItem and their return values.

use serde_json::json;

use crate::Db;

#[test]
fn put_get_delete_round_trip_all_types() {
    let db = Db::new();
    db.table("items", Some("N"));
    let item = json!({
        "pk": {"S": "user#1"}, "sk": {"N": "10"},
        "s": {"S": ""}, "n": {"N": "-0012.500"}, "b": {"B": "aGVsbG8="}, "t": {"BOOL": false},
        "z": {"NULL": true}, "l": {"L": [{"S": "x"}, {"M": {"deep": {"N": "1"}}}]},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ=="]}
    });
    db.put("items", item.clone());
    let got = db
        .get("items", json!({"pk": {"S": "user#1"}, "sk": {"N": "10.0"}}))
        .expect("item");
    let mut expected = item.clone();
    expected["n"] = json!({"N": "-12.5"});
    assert_eq!(got, expected);

    let out = db.ok(
        "DeleteItem",
        json!({"TableName": "items",
        "Key": {"pk": {"S": "user#1"}, "sk": {"N": "10"}}, "ReturnValues": "ALL_OLD"}),
    );
    assert_eq!(out["Attributes"], expected);
    assert!(db
        .get("items", json!({"pk": {"S": "user#1"}, "sk": {"N": "10"}}))
        .is_none());
}

#[test]
fn keys_are_checked() {
    let db = Db::new();
    db.table("keys", Some("S"));
    let cases = [
        ("PutItem", json!({"TableName": "keys", "Item": {"pk": {"S": "a"}}}),
         "One or more parameter values were invalid: Missing the key sk in the item"),
        ("PutItem", json!({"TableName": "keys", "Item": {"pk": {"N": "1"}, "sk": {"S": "a"}}}),
         "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"),
        ("PutItem", json!({"TableName": "keys", "Item": {"pk": {"S": ""}, "sk": {"S": "a"}}}),
         "One or more parameter values were invalid: An AttributeValue may not contain an empty string. Key: pk"),
        ("GetItem", json!({"TableName": "keys", "Key": {"pk": {"S": ""}, "sk": {"S": "a"}}}),
         "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
        ("PutItem", json!({"TableName": "keys", "Item": {"pk": {"S": "a"}, "sk": {"S": "x".repeat(1025)}}}),
         "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"),
        ("PutItem", json!({"TableName": "keys", "Item": {"pk": {"S": "x".repeat(2049)}, "sk": {"S": "a"}}}),
         "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"),
        ("GetItem", json!({"TableName": "keys", "Key": {"pk": {"S": "a"}}}),
         "The provided key element does not match the schema"),
        ("GetItem", json!({"TableName": "keys", "Key": {"pk": {"S": "a"}, "sk": {"S": "b"}, "x": {"S": "c"}}}),
         "The provided key element does not match the schema"),
    ];
    for (op, input, message) in cases {
        let (kind, got) = db.fails(op, input);
        assert_eq!(kind, "ValidationException");
        assert!(got.contains(message), "{got}");
    }
    let (kind, _) = db.fails(
        "PutItem",
        json!({"TableName": "missing", "Item": {"pk": {"S": "a"}}}),
    );
    assert_eq!(kind, "ResourceNotFoundException");
}

#[test]
fn item_size_limit() {
    let db = Db::new();
    db.table("big", None);
    let fits = "x".repeat(400 * 1024 - 2 - 4 - 4);
    db.put("big", json!({"pk": {"S": "a"}, "data": {"S": fits}}));
    let (kind, message) = db.fails(
        "PutItem",
        json!({"TableName": "big",
        "Item": {"pk": {"S": "a"}, "data": {"S": "x".repeat(400 * 1024)}}}),
    );
    assert_eq!(kind, "ValidationException");
    assert_eq!(message, "Item size has exceeded the maximum allowed size");
}

#[test]
fn conditional_put_and_return_values_on_failure() {
    let db = Db::new();
    db.table("cond", None);
    let put = json!({"TableName": "cond", "Item": {"pk": {"S": "a"}, "v": {"N": "1"}},
        "ConditionExpression": "attribute_not_exists(pk)"});
    db.ok("PutItem", put.clone());
    let (kind, message) = db.fails("PutItem", put.clone());
    assert_eq!(kind, "ConditionalCheckFailedException");
    assert_eq!(message, "The conditional request failed");
    let mut with_old = put;
    with_old["ReturnValuesOnConditionCheckFailure"] = json!("ALL_OLD");
    let err = db.err("PutItem", with_old);
    assert_eq!(
        err.body()["Item"],
        json!({"pk": {"S": "a"}, "v": {"N": "1"}})
    );
    assert_eq!(err.status(), 400);
}

#[test]
fn update_item_actions() {
    let db = Db::new();
    db.table("upd", None);
    db.put("upd", json!({"pk": {"S": "a"}, "count": {"N": "5"}, "tags": {"SS": ["x", "y"]}, "other": {"NS": ["1", "2"]},
        "list": {"L": [{"N": "1"}]}, "doc": {"M": {"nested": {"L": [{"S": "p"}, {"S": "q"}]}}}, "gone": {"S": "bye"}}));
    let out = db.ok("UpdateItem", json!({
        "TableName": "upd", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET #c = #c + :one, #l = list_append(#l, :more), doc.nested[1] = :z, fresh = if_not_exists(fresh, :zero) REMOVE gone ADD tags :t, n2 :one DELETE #o :x",
        "ExpressionAttributeNames": {"#c": "count", "#l": "list", "#o": "other"},
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":more": {"L": [{"N": "2"}]}, ":z": {"S": "z"},
            ":zero": {"N": "0"}, ":t": {"SS": ["w"]}, ":x": {"NS": ["2"]}},
        "ReturnValues": "ALL_NEW"
    }));
    assert_eq!(
        out["Attributes"],
        json!({
            "pk": {"S": "a"}, "count": {"N": "6"}, "tags": {"SS": ["x", "y", "w"]}, "other": {"NS": ["1"]},
            "list": {"L": [{"N": "1"}, {"N": "2"}]}, "doc": {"M": {"nested": {"L": [{"S": "p"}, {"S": "z"}]}}},
            "fresh": {"N": "0"}, "n2": {"N": "1"}
        })
    );
    let out = db.ok("UpdateItem", json!({
        "TableName": "upd", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET doc.nested[0] = :v, #c = :v", "ExpressionAttributeNames": {"#c": "count"},
        "ExpressionAttributeValues": {":v": {"S": "new"}}, "ReturnValues": "UPDATED_OLD"}));
    assert_eq!(
        out["Attributes"],
        json!({"count": {"N": "6"}, "doc": {"M": {"nested": {"L": [{"S": "p"}]}}}})
    );
    // An update of a missing item creates it.
    let out = db.ok(
        "UpdateItem",
        json!({"TableName": "upd", "Key": {"pk": {"S": "new"}},
        "UpdateExpression": "ADD visits :one", "ExpressionAttributeValues": {":one": {"N": "1"}},
        "ReturnValues": "UPDATED_NEW"}),
    );
    assert_eq!(out["Attributes"], json!({"visits": {"N": "1"}}));
    // Deleting the last element of a set removes the attribute.
    db.ok("UpdateItem", json!({"TableName": "upd", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "DELETE tags :all", "ExpressionAttributeValues": {":all": {"SS": ["x", "y", "w"]}}}));
    assert!(db
        .get("upd", json!({"pk": {"S": "a"}}))
        .unwrap()
        .get("tags")
        .is_none());
}

#[test]
fn update_item_errors() {
    let db = Db::new();
    db.table("upderr", None);
    db.put(
        "upderr",
        json!({"pk": {"S": "a"}, "s": {"S": "text"}, "m": {"M": {}}}),
    );
    let key = json!({"pk": {"S": "a"}});
    let cases = [
        (json!({"UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "b"}}}),
         "Cannot update attribute pk. This attribute is part of the key"),
        (json!({"UpdateExpression": "SET s = s + :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
         "An operand in the update expression has an incorrect data type"),
        (json!({"UpdateExpression": "SET x = absent + :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
         "The provided expression refers to an attribute that does not exist in the item"),
        (json!({"UpdateExpression": "SET a.b.c = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
         "The document path provided in the update expression is invalid for update"),
        (json!({"UpdateExpression": "SET m = :v, m.x = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, x]"),
        (json!({"UpdateExpression": "ADD fresh :v", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
        (json!({"UpdateExpression": "ADD s :v", "ExpressionAttributeValues": {":v": {"SS": ["x"]}}}),
         "An operand in the update expression has an incorrect data type"),
        (json!({"UpdateExpression": "DELETE s :v", "ExpressionAttributeValues": {":v": {"N": "1"}}}),
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: operator: DELETE, operand type: NUMBER"),
        (json!({"UpdateExpression": "ADD s bad_value"}),
         "Invalid UpdateExpression: Syntax error; token: \"bad_value\", near: \"s bad_value\""),
        (json!({"UpdateExpression": "SET s = :v SET t = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
         "The \"SET\" section can only be used once in an update expression;"),
        (json!({"UpdateExpression": "SET s = :v", "ExpressionAttributeValues": {":v": {"S": "x"}, ":w": {"S": "y"}}}),
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
        (json!({"UpdateExpression": "SET s = :nope", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
         "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"),
        (json!({"UpdateExpression": "SET s = :v REMOVE", "ExpressionAttributeValues": {":v": {"S": "x"}}}),
         "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"REMOVE\""),
    ];
    for (mut input, message) in cases {
        input["TableName"] = json!("upderr");
        input["Key"] = key.clone();
        let (kind, got) = db.fails("UpdateItem", input);
        assert_eq!(kind, "ValidationException", "{got}");
        assert!(got.contains(message), "wanted {message}\n   got {got}");
    }
    // Nothing was changed by the failed updates.
    assert_eq!(
        db.get("upderr", key).unwrap(),
        json!({"pk": {"S": "a"}, "s": {"S": "text"}, "m": {"M": {}}})
    );
}
