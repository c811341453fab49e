//! Query and Scan: key conditions, order, filters, pages, segments.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::Db;

fn numbers_table(db: &Db) {
    db.table("qqq", Some("N"));
    for (pk, sks) in [
        ("a", vec!["-5", "-0.5", "0", "1", "2", "10", "100"]),
        ("b", vec!["1"]),
    ] {
        for sk in sks {
            db.put("qqq", json!({"pk": {"S": pk}, "sk": {"N": sk}, "odd": {"BOOL": sk.ends_with('1') || sk.ends_with('5')}}));
        }
    }
}

fn sks(out: &Value) -> Vec<String> {
    out["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sk"]["N"].as_str().unwrap().to_string())
        .collect()
}

fn q(db: &Db, condition: &str, values: Value) -> Value {
    let mut all = json!({":pk": {"S": "a"}});
    for (k, v) in values.as_object().unwrap() {
        all[k] = v.clone();
    }
    db.ok("Query", json!({"TableName": "qqq", "KeyConditionExpression": condition, "ExpressionAttributeValues": all}))
}

#[test]
fn key_conditions_use_numeric_order() {
    let db = Db::new();
    numbers_table(&db);
    let n = |v: &str| json!({"N": v});
    assert_eq!(
        sks(&q(&db, "pk = :pk", json!({}))),
        ["-5", "-0.5", "0", "1", "2", "10", "100"]
    );
    assert_eq!(
        sks(&q(&db, "pk = :pk AND sk < :v", json!({":v": n("0")}))),
        ["-5", "-0.5"]
    );
    assert_eq!(
        sks(&q(&db, "pk = :pk AND sk <= :v", json!({":v": n("0")}))),
        ["-5", "-0.5", "0"]
    );
    assert_eq!(
        sks(&q(&db, "pk = :pk AND sk > :v", json!({":v": n("2")}))),
        ["10", "100"]
    );
    assert_eq!(
        sks(&q(&db, "sk >= :v AND pk = :pk", json!({":v": n("2")}))),
        ["2", "10", "100"]
    );
    assert_eq!(
        sks(&q(
            &db,
            "pk = :pk AND sk BETWEEN :a AND :b",
            json!({":a": n("-1"), ":b": n("1")})
        )),
        ["-0.5", "0", "1"]
    );
    assert_eq!(
        sks(&q(&db, "pk = :pk AND sk = :v", json!({":v": n("10.00")}))),
        ["10"]
    );
    let back = db.ok(
        "Query",
        json!({"TableName": "qqq", "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "a"}}, "ScanIndexForward": false}),
    );
    assert_eq!(sks(&back), ["100", "10", "2", "1", "0", "-0.5", "-5"]);
}

#[test]
fn begins_with_on_string_range_keys() {
    let db = Db::new();
    db.table("sss", Some("S"));
    for sk in [
        "order#1",
        "order#2",
        "order$",
        "orde",
        "profile",
        "order#\u{ff}",
    ] {
        db.put("sss", json!({"pk": {"S": "u"}, "sk": {"S": sk}}));
    }
    let out = db.ok(
        "Query",
        json!({"TableName": "sss", "KeyConditionExpression": "pk = :u AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":u": {"S": "u"}, ":p": {"S": "order#"}}}),
    );
    let got: Vec<&str> = out["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sk"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["order#1", "order#2", "order#\u{ff}"]);
}

#[test]
fn filter_limit_and_pages() {
    let db = Db::new();
    numbers_table(&db);
    let mut start: Option<Value> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut input = json!({"TableName": "qqq", "KeyConditionExpression": "pk = :pk", "Limit": 3,
            "FilterExpression": "odd = :t", "ExpressionAttributeValues": {":pk": {"S": "a"}, ":t": {"BOOL": true}}});
        if let Some(start) = &start {
            input["ExclusiveStartKey"] = start.clone();
        }
        let out = db.ok("Query", input);
        pages += 1;
        assert!(out["ScannedCount"].as_u64().unwrap() <= 3);
        assert_eq!(
            out["Count"].as_u64().unwrap() as usize,
            out["Items"].as_array().unwrap().len()
        );
        seen.extend(sks(&out));
        match out.get("LastEvaluatedKey") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    assert_eq!(seen, ["-5", "-0.5", "1"]);
    assert_eq!(
        pages, 3,
        "7 items in pages of 3, the last page ending at its limit continues once more"
    );

    let count = db.ok(
        "Query",
        json!({"TableName": "qqq", "KeyConditionExpression": "pk = :pk",
        "Select": "COUNT", "ExpressionAttributeValues": {":pk": {"S": "a"}}}),
    );
    assert_eq!(count["Count"], 7);
    assert!(count.get("Items").is_none());
}

#[test]
fn query_errors() {
    let db = Db::new();
    numbers_table(&db);
    let cases = [
        (
            "sk = :v",
            json!({":v": {"N": "1"}}),
            "Query condition missed key schema element: pk",
        ),
        (
            "pk = :pk AND extra = :v",
            json!({":v": {"N": "1"}}),
            "Query condition missed key schema element",
        ),
        (
            "pk = :pk OR sk = :v",
            json!({":v": {"N": "1"}}),
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "pk = :pk AND sk = :v",
            json!({":v": {"S": "1"}}),
            "Condition parameter type does not match schema type",
        ),
        (
            "pk = :pk AND begins_with(sk, :v)",
            json!({":v": {"S": "1"}}),
            "Condition parameter type does not match schema type",
        ),
        ("pk > :pk", json!({}), "Query key condition not supported"),
        (
            "pk = :e",
            json!({":e": {"S": ""}}),
            "The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
        ),
    ];
    for (condition, values, message) in cases {
        let got = q_err(&db, condition, values);
        assert!(got.contains(message), "{condition}: {got}");
    }
    let (_, message) = db.fails("Query", json!({"TableName": "qqq", "KeyConditionExpression": "pk = :pk",
        "FilterExpression": "sk > :v", "ExpressionAttributeValues": {":pk": {"S": "a"}, ":v": {"N": "1"}}}));
    assert_eq!(
        message,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    );
}

fn q_err(db: &Db, condition: &str, values: Value) -> String {
    let mut all = if condition.contains(":pk") {
        json!({":pk": {"S": "a"}})
    } else {
        json!({})
    };
    for (k, v) in values.as_object().unwrap() {
        all[k] = v.clone();
    }
    db.fails("Query", json!({"TableName": "qqq", "KeyConditionExpression": condition, "ExpressionAttributeValues": all})).1
}

#[test]
fn parallel_scan_segments_cover_every_item_once() {
    let db = Db::new();
    db.table("scan", None);
    for i in 0..200 {
        db.put(
            "scan",
            json!({"pk": {"S": format!("item-{i}")}, "i": {"N": i.to_string()}}),
        );
    }
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for segment in 0..4 {
        let mut start: Option<Value> = None;
        loop {
            let mut input =
                json!({"TableName": "scan", "Segment": segment, "TotalSegments": 4, "Limit": 25});
            if let Some(start) = &start {
                input["ExclusiveStartKey"] = start.clone();
            }
            let out = db.ok("Scan", input);
            for item in out["Items"].as_array().unwrap() {
                seen.insert(item["pk"]["S"].as_str().unwrap().to_string());
                total += 1;
            }
            match out.get("LastEvaluatedKey") {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
    }
    assert_eq!(total, 200);
    assert_eq!(seen.len(), 200);
    let filtered = db.ok(
        "Scan",
        json!({"TableName": "scan", "FilterExpression": "i < :ten",
        "ExpressionAttributeValues": {":ten": {"N": "10"}}}),
    );
    assert_eq!(filtered["Count"], 10);
    assert_eq!(filtered["ScannedCount"], 200);
    let (_, message) = db.fails(
        "Scan",
        json!({"TableName": "scan", "Segment": 4, "TotalSegments": 4}),
    );
    assert_eq!(message, "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4");
}

#[test]
fn pages_stop_at_one_megabyte() {
    let db = Db::new();
    db.table("mbs", Some("N"));
    let blob = "x".repeat(100 * 1024);
    for i in 0..25 {
        db.put(
            "mbs",
            json!({"pk": {"S": "p"}, "sk": {"N": i.to_string()}, "data": {"S": blob}}),
        );
    }
    let out = db.ok(
        "Query",
        json!({"TableName": "mbs", "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "p"}}}),
    );
    let n = out["Count"].as_u64().unwrap();
    assert!((10..=11).contains(&n), "{n}");
    assert!(out.get("LastEvaluatedKey").is_some());
}
