//! BatchGetItem, BatchWriteItem, TransactWriteItems, TransactGetItems.

use serde_json::{json, Value};

use crate::Db;

fn key(pk: &str) -> Value {
    json!({"pk": {"S": pk}})
}

#[test]
fn batch_write_then_batch_get() {
    let db = Db::new();
    db.table("one", None);
    db.table("two", None);
    db.put("one", json!({"pk": {"S": "gone"}}));
    let out = db.ok(
        "BatchWriteItem",
        json!({"RequestItems": {
            "one": [{"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}},
                    {"PutRequest": {"Item": {"pk": {"S": "b"}, "v": {"N": "2"}}}},
                    {"DeleteRequest": {"Key": key("gone")}}],
            "two": [{"PutRequest": {"Item": {"pk": {"S": "c"}}}}]
        }}),
    );
    assert_eq!(out, json!({"UnprocessedItems": {}}));
    let out = db.ok(
        "BatchGetItem",
        json!({"RequestItems": {
            "one": {"Keys": [key("a"), key("b"), key("gone")], "ProjectionExpression": "v"},
            "two": {"Keys": [key("c")], "ConsistentRead": true}
        }}),
    );
    let mut one: Vec<Value> = out["Responses"]["one"].as_array().unwrap().clone();
    one.sort_by_key(|v| v["v"]["N"].as_str().unwrap().to_string());
    assert_eq!(
        one,
        vec![json!({"v": {"N": "1"}}), json!({"v": {"N": "2"}})]
    );
    assert_eq!(out["Responses"]["two"], json!([{"pk": {"S": "c"}}]));
    assert_eq!(out["UnprocessedKeys"], json!({}));
}

#[test]
fn batch_limits_and_duplicates() {
    let db = Db::new();
    db.table("lim", None);
    let puts: Vec<Value> = (0..26)
        .map(|i| json!({"PutRequest": {"Item": key(&i.to_string())}}))
        .collect();
    let (kind, message) = db.fails("BatchWriteItem", json!({"RequestItems": {"lim": puts}}));
    assert_eq!(kind, "ValidationException");
    assert!(
        message.contains("Member must have length less than or equal to 25"),
        "{message}"
    );
    let (_, message) = db.fails(
        "BatchWriteItem",
        json!({"RequestItems": {"lim": [
        {"PutRequest": {"Item": key("a")}}, {"DeleteRequest": {"Key": key("a")}}]}}),
    );
    assert_eq!(message, "Provided list of item keys contains duplicates");
    // A bad request anywhere means nothing is written.
    let (_, message) = db.fails(
        "BatchWriteItem",
        json!({"RequestItems": {"lim": [
        {"PutRequest": {"Item": key("ok")}}, {"PutRequest": {"Item": {"pk": {"N": "1"}}}}]}}),
    );
    assert!(message.contains("Type mismatch for key pk"), "{message}");
    assert!(db.get("lim", key("ok")).is_none());
    let keys: Vec<Value> = (0..101).map(|i| key(&i.to_string())).collect();
    let (_, message) = db.fails(
        "BatchGetItem",
        json!({"RequestItems": {"lim": {"Keys": keys}}}),
    );
    assert_eq!(
        message,
        "Too many items requested for the BatchGetItem call"
    );
}

#[test]
fn transaction_is_all_or_nothing() {
    let db = Db::new();
    db.table("acct", None);
    db.put(
        "acct",
        json!({"pk": {"S": "alice"}, "balance": {"N": "100"}}),
    );
    db.put("acct", json!({"pk": {"S": "bob"}, "balance": {"N": "5"}}));
    db.put("acct", json!({"pk": {"S": "bank"}}));
    let transfer = |amount: &str| {
        json!({"TransactItems": [
            {"Update": {"TableName": "acct", "Key": key("alice"),
                "UpdateExpression": "SET balance = balance - :a", "ConditionExpression": "balance >= :a",
                "ExpressionAttributeValues": {":a": {"N": amount}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": {"TableName": "acct", "Key": key("bob"),
                "UpdateExpression": "SET balance = balance + :a",
                "ExpressionAttributeValues": {":a": {"N": amount}}}},
            {"Put": {"TableName": "acct", "Item": {"pk": {"S": format!("log-{amount}")}}}},
            {"ConditionCheck": {"TableName": "acct", "Key": key("bank"), "ConditionExpression": "attribute_exists(pk)"}}
        ]})
    };
    db.ok("TransactWriteItems", transfer("30"));
    assert_eq!(
        db.get("acct", key("alice")).unwrap()["balance"],
        json!({"N": "70"})
    );
    assert_eq!(
        db.get("acct", key("bob")).unwrap()["balance"],
        json!({"N": "35"})
    );

    let err = db.err("TransactWriteItems", transfer("500"));
    assert!(err.type_name().ends_with("#TransactionCanceledException"));
    assert_eq!(err.message(), "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None, None, None]");
    let reasons = &err.body()["CancellationReasons"];
    assert_eq!(
        reasons[0]["Item"],
        json!({"pk": {"S": "alice"}, "balance": {"N": "70"}})
    );
    assert_eq!(reasons[1], json!({"Code": "None"}));
    assert_eq!(
        db.get("acct", key("bob")).unwrap()["balance"],
        json!({"N": "35"})
    );
    assert!(db.get("acct", key("log-500")).is_none());

    let (_, message) = db.fails("TransactWriteItems", json!({"TransactItems": [
        {"Put": {"TableName": "acct", "Item": key("x")}}, {"Delete": {"TableName": "acct", "Key": key("x")}}]}));
    assert_eq!(
        message,
        "Transaction request cannot include multiple operations on one item"
    );

    let got = db.ok(
        "TransactGetItems",
        json!({"TransactItems": [
        {"Get": {"TableName": "acct", "Key": key("alice"), "ProjectionExpression": "balance"}},
        {"Get": {"TableName": "acct", "Key": key("nobody")}}]}),
    );
    assert_eq!(
        got["Responses"],
        json!([{"Item": {"balance": {"N": "70"}}}, {}])
    );
}

#[test]
fn client_request_token_is_idempotent() {
    let db = Db::new();
    db.table("idem", None);
    db.put("idem", json!({"pk": {"S": "c"}, "n": {"N": "0"}}));
    let request = json!({"ClientRequestToken": "token-1", "TransactItems": [
        {"Update": {"TableName": "idem", "Key": key("c"), "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}}}}]});
    db.ok("TransactWriteItems", request.clone());
    db.ok("TransactWriteItems", request.clone());
    assert_eq!(db.get("idem", key("c")).unwrap()["n"], json!({"N": "1"}));
    let mut other = request;
    other["TransactItems"][0]["Update"]["ExpressionAttributeValues"][":one"] = json!({"N": "2"});
    let (kind, _) = db.fails("TransactWriteItems", other);
    assert_eq!(kind, "IdempotentParameterMismatchException");
}

#[test]
fn consumed_capacity_when_asked() {
    let db = Db::new();
    db.table("cap", None);
    let out = db.ok(
        "PutItem",
        json!({"TableName": "cap", "Item": {"pk": {"S": "a"}, "blob": {"S": "x".repeat(1500)}},
        "ReturnConsumedCapacity": "TOTAL"}),
    );
    assert_eq!(
        out["ConsumedCapacity"],
        json!({"TableName": "cap", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0})
    );
    let out = db.ok(
        "GetItem",
        json!({"TableName": "cap", "Key": key("a"), "ReturnConsumedCapacity": "INDEXES"}),
    );
    assert_eq!(
        out["ConsumedCapacity"],
        json!({"TableName": "cap", "CapacityUnits": 0.5, "ReadCapacityUnits": 0.5,
        "Table": {"CapacityUnits": 0.5, "ReadCapacityUnits": 0.5}})
    );
    assert!(db
        .ok("GetItem", json!({"TableName": "cap", "Key": key("a")}))
        .get("ConsumedCapacity")
        .is_none());
    let out = db.ok("TransactGetItems", json!({"ReturnConsumedCapacity": "TOTAL", "TransactItems": [
        {"Get": {"TableName": "cap", "Key": key("a")}}, {"Get": {"TableName": "cap", "Key": key("b")}}]}));
    assert_eq!(
        out["ConsumedCapacity"],
        json!([{"TableName": "cap", "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}])
    );
    let out = db.ok(
        "BatchWriteItem",
        json!({"ReturnConsumedCapacity": "TOTAL", "RequestItems": {"cap": [
        {"PutRequest": {"Item": key("c")}}, {"DeleteRequest": {"Key": key("a")}}]}}),
    );
    assert_eq!(
        out["ConsumedCapacity"],
        json!([{"TableName": "cap", "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}])
    );
}
