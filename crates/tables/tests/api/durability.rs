//! What is acknowledged stays: reopening finds every table, item, index
//! entry and stream record; concurrent conditional writes serialize.

use std::sync::Arc;

use serde_json::json;
use updraft_tables::Tables;

use crate::Db;

#[test]
fn reopen_keeps_tables_items_indexes_and_streams() {
    let db = Db::new();
    db.ok("CreateTable", json!({"TableName": "kept", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "N"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}],
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}}));
    for i in 0..20 {
        db.put(
            "kept",
            json!({"pk": {"S": format!("k{i}")}, "g": {"N": (i % 3).to_string()}}),
        );
    }
    let dir = db.dir.path().to_path_buf();
    drop(db.tables);
    let tables = Tables::open(&dir, "123456789012", "us-east-1").unwrap();
    let call = |op: &str, input: serde_json::Value| {
        tables.execute(op, input.to_string().as_bytes()).unwrap()
    };
    assert_eq!(
        call("DescribeTable", json!({"TableName": "kept"}))["Table"]["ItemCount"],
        20
    );
    let out = call(
        "Query",
        json!({"TableName": "kept", "IndexName": "by-g", "KeyConditionExpression": "g = :z",
        "ExpressionAttributeValues": {":z": {"N": "0"}}}),
    );
    assert_eq!(out["Count"], 7);
    assert_eq!(tables.stream_records("kept", 0, 100).unwrap().len(), 20);
}

#[test]
fn concurrent_conditional_writes_serialize() {
    let db = Db::new();
    db.table("counter", None);
    db.put("counter", json!({"pk": {"S": "c"}, "n": {"N": "0"}}));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let tables = Arc::clone(&db.tables);
            std::thread::spawn(move || {
                let mut won = 0;
                for _ in 0..25 {
                    // Read, then write only if nobody else wrote in between.
                    let got = tables
                        .execute("GetItem", json!({"TableName": "counter", "Key": {"pk": {"S": "c"}}}).to_string().as_bytes())
                        .unwrap();
                    let n: i64 = got["Item"]["n"]["N"].as_str().unwrap().parse().unwrap();
                    let put = json!({"TableName": "counter", "Key": {"pk": {"S": "c"}},
                        "UpdateExpression": "SET n = :new", "ConditionExpression": "n = :old",
                        "ExpressionAttributeValues": {":old": {"N": n.to_string()}, ":new": {"N": (n + 1).to_string()}}});
                    match tables.execute("UpdateItem", put.to_string().as_bytes()) {
                        Ok(_) => won += 1,
                        Err(e) => assert!(e.type_name().ends_with("ConditionalCheckFailedException"), "{}", e.message()),
                    }
                    tables
                        .execute("UpdateItem", json!({"TableName": "counter", "Key": {"pk": {"S": "c"}},
                            "UpdateExpression": "ADD tally :one", "ExpressionAttributeValues": {":one": {"N": "1"}}})
                            .to_string().as_bytes())
                        .unwrap();
                }
                won
            })
        })
        .collect();
    let won: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let item = db.get("counter", json!({"pk": {"S": "c"}})).unwrap();
    assert_eq!(
        item["n"]["N"].as_str().unwrap().parse::<i64>().unwrap(),
        won
    );
    assert_eq!(item["tally"], json!({"N": "100"}));
}
