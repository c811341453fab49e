//! Global and local secondary indexes: projections, Query and Scan by
//! index, sparse indexes, UpdateTable backfill and removal.

use serde_json::{json, Value};

use crate::Db;

fn orders(db: &Db) {
    db.ok("CreateTable", json!({
        "TableName": "orders",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"}, {"AttributeName": "total", "AttributeType": "N"},
            {"AttributeName": "placed", "AttributeType": "N"}
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [
            {"IndexName": "by-status", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "total", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "by-status-incl", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}}
        ],
        "LocalSecondaryIndexes": [
            {"IndexName": "by-placed", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "placed", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}
        ]
    }));
    for (pk, sk, status, total, placed) in [
        ("u1", "o1", Some("open"), "30", "3"),
        ("u1", "o2", Some("open"), "10", "1"),
        ("u1", "o3", Some("shipped"), "20", "2"),
        ("u2", "o4", Some("open"), "20", "5"),
        ("u2", "o5", None, "99", "4"),
    ] {
        let mut item = json!({"pk": {"S": pk}, "sk": {"S": sk}, "total": {"N": total}, "placed": {"N": placed},
            "note": {"S": format!("note {sk}")}, "secret": {"S": "x"}});
        if let Some(status) = status {
            item["status"] = json!({"S": status});
        }
        db.put("orders", item);
    }
}

fn field(out: &Value, name: &str) -> Vec<String> {
    out["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i[name]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn query_global_index_with_projection() {
    let db = Db::new();
    orders(&db);
    let out = db.ok(
        "Query",
        json!({"TableName": "orders", "IndexName": "by-status",
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}}}),
    );
    assert_eq!(field(&out, "sk"), ["o2", "o4", "o1"]);
    // KEYS_ONLY: the table key and the index key, nothing else.
    assert_eq!(
        out["Items"][0],
        json!({"pk": {"S": "u1"}, "sk": {"S": "o2"}, "status": {"S": "open"}, "total": {"N": "10"}})
    );
    let out = db.ok(
        "Query",
        json!({"TableName": "orders", "IndexName": "by-status-incl",
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}}}),
    );
    assert_eq!(out["Count"], 3);
    for item in out["Items"].as_array().unwrap() {
        assert!(
            item.get("note").is_some()
                && item.get("secret").is_none()
                && item.get("total").is_none(),
            "{item}"
        );
    }
    // Pages through an index continue after the index key and table key.
    let first = db.ok(
        "Query",
        json!({"TableName": "orders", "IndexName": "by-status", "Limit": 2,
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}}}),
    );
    let start = first["LastEvaluatedKey"].clone();
    assert_eq!(
        start,
        json!({"pk": {"S": "u2"}, "sk": {"S": "o4"}, "status": {"S": "open"}, "total": {"N": "20"}})
    );
    let rest = db.ok(
        "Query",
        json!({"TableName": "orders", "IndexName": "by-status", "Limit": 2,
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}}, "ExclusiveStartKey": start}),
    );
    assert_eq!(field(&rest, "sk"), ["o1"]);
    let (_, message) = db.fails(
        "Query",
        json!({"TableName": "orders", "IndexName": "by-status", "Select": "ALL_ATTRIBUTES",
        "KeyConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":open": {"S": "open"}}}),
    );
    assert!(
        message.contains(
            "Select type ALL_ATTRIBUTES is not supported for global secondary index by-status"
        ),
        "{message}"
    );
    let (_, message) = db.fails(
        "Query",
        json!({"TableName": "orders", "IndexName": "nope",
        "KeyConditionExpression": "pk = :u", "ExpressionAttributeValues": {":u": {"S": "u1"}}}),
    );
    assert_eq!(message, "The table does not have the specified index: nope");
}

#[test]
fn local_index_orders_by_its_range_key_and_index_follows_writes() {
    let db = Db::new();
    orders(&db);
    let query = |db: &Db| {
        db.ok("Query", json!({"TableName": "orders", "IndexName": "by-placed",
        "KeyConditionExpression": "pk = :u AND placed > :p", "ExpressionAttributeValues": {":u": {"S": "u1"}, ":p": {"N": "1"}}}))
    };
    assert_eq!(field(&query(&db), "sk"), ["o3", "o1"]);
    db.ok("UpdateItem", json!({"TableName": "orders", "Key": {"pk": {"S": "u1"}, "sk": {"S": "o3"}},
        "UpdateExpression": "SET placed = :p REMOVE #s", "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":p": {"N": "9"}}}));
    assert_eq!(field(&query(&db), "sk"), ["o1", "o3"]);
    // o3 left the status index when its status was removed; o5 never had one.
    let scan = db.ok(
        "Scan",
        json!({"TableName": "orders", "IndexName": "by-status"}),
    );
    let mut sks = field(&scan, "sk");
    sks.sort();
    assert_eq!(sks, ["o1", "o2", "o4"]);
    db.ok(
        "DeleteItem",
        json!({"TableName": "orders", "Key": {"pk": {"S": "u1"}, "sk": {"S": "o1"}}}),
    );
    assert_eq!(
        db.ok(
            "Scan",
            json!({"TableName": "orders", "IndexName": "by-status", "Select": "COUNT"})
        )["Count"],
        2
    );
    let desc = db.ok("DescribeTable", json!({"TableName": "orders"}));
    let gsi = &desc["Table"]["GlobalSecondaryIndexes"][0];
    assert_eq!(gsi["IndexName"], "by-status");
    assert_eq!(gsi["IndexStatus"], "ACTIVE");
    assert_eq!(gsi["ItemCount"], 2);
    assert_eq!(
        gsi["IndexArn"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/by-status"
    );
}

#[test]
fn index_key_types_are_checked_on_write() {
    let db = Db::new();
    orders(&db);
    let (_, message) = db.fails("PutItem", json!({"TableName": "orders",
        "Item": {"pk": {"S": "u9"}, "sk": {"S": "o9"}, "total": {"S": "lots"}, "status": {"S": "open"}}}));
    assert!(
        message.contains(
            "Type mismatch for Index Key total Expected: N Actual: S IndexName: by-status"
        ),
        "{message}"
    );
    // Index keys obey the key size limits.
    let (_, message) = db.fails(
        "PutItem",
        json!({"TableName": "orders",
        "Item": {"pk": {"S": "u9"}, "sk": {"S": "o9"}, "status": {"S": "x".repeat(2049)}}}),
    );
    assert_eq!(message, "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes");
}

#[test]
fn update_table_adds_index_with_backfill_and_deletes_it() {
    let db = Db::new();
    db.table("later", None);
    for (pk, color) in [
        ("a", Some("red")),
        ("b", Some("blue")),
        ("c", None),
        ("d", Some("red")),
    ] {
        let mut item = json!({"pk": {"S": pk}});
        if let Some(color) = color {
            item["color"] = json!({"S": color});
        }
        db.put("later", item);
    }
    db.ok("UpdateTable", json!({"TableName": "later",
        "AttributeDefinitions": [{"AttributeName": "color", "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by-color",
            "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}]}));
    let out = db.ok(
        "Query",
        json!({"TableName": "later", "IndexName": "by-color",
        "KeyConditionExpression": "color = :r", "ExpressionAttributeValues": {":r": {"S": "red"}}}),
    );
    let mut pks = field(&out, "pk");
    pks.sort();
    assert_eq!(pks, ["a", "d"]);
    db.ok(
        "UpdateTable",
        json!({"TableName": "later",
        "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "by-color"}}]}),
    );
    let desc = db.ok("DescribeTable", json!({"TableName": "later"}));
    assert!(desc["Table"].get("GlobalSecondaryIndexes").is_none());
    assert_eq!(
        desc["Table"]["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (_, message) = db.fails(
        "Query",
        json!({"TableName": "later", "IndexName": "by-color",
        "KeyConditionExpression": "color = :r", "ExpressionAttributeValues": {":r": {"S": "red"}}}),
    );
    assert_eq!(
        message,
        "The table does not have the specified index: by-color"
    );
}
