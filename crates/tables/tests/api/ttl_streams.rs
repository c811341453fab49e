//! TTL (settings and the sweep) and the stream change log.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::Db;

#[test]
fn ttl_deletes_expired_items_only() {
    let db = Db::new();
    db.table("ttl", None);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Written before TTL was enabled: found by the sweep all the same.
    db.put(
        "ttl",
        json!({"pk": {"S": "early"}, "expires": {"N": (now - 5).to_string()}}),
    );
    assert_eq!(db.tables.expire_ttl(SystemTime::now()).unwrap(), 0);
    let out = db.ok(
        "UpdateTimeToLive",
        json!({"TableName": "ttl",
        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}),
    );
    assert_eq!(
        out["TimeToLiveSpecification"],
        json!({"Enabled": true, "AttributeName": "expires"})
    );
    let described = db.ok("DescribeTimeToLive", json!({"TableName": "ttl"}));
    assert_eq!(
        described["TimeToLiveDescription"],
        json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"})
    );
    let (_, message) = db.fails(
        "UpdateTimeToLive",
        json!({"TableName": "ttl",
        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expires"}}),
    );
    assert_eq!(message, "TimeToLive is already enabled");

    db.put(
        "ttl",
        json!({"pk": {"S": "past"}, "expires": {"N": (now - 10).to_string()}}),
    );
    db.put(
        "ttl",
        json!({"pk": {"S": "future"}, "expires": {"N": (now + 3600).to_string()}}),
    );
    db.put(
        "ttl",
        json!({"pk": {"S": "ancient"}, "expires": {"N": "1000"}}),
    );
    db.put(
        "ttl",
        json!({"pk": {"S": "text"}, "expires": {"S": "yesterday"}}),
    );
    db.put("ttl", json!({"pk": {"S": "none"}}));
    assert_eq!(db.tables.expire_ttl(SystemTime::now()).unwrap(), 2);
    assert!(db.get("ttl", json!({"pk": {"S": "past"}})).is_none());
    assert!(db.get("ttl", json!({"pk": {"S": "early"}})).is_none());
    for kept in ["future", "ancient", "text", "none"] {
        assert!(
            db.get("ttl", json!({"pk": {"S": kept}})).is_some(),
            "{kept}"
        );
    }
    let later = SystemTime::now() + Duration::from_secs(7200);
    assert_eq!(db.tables.expire_ttl(later).unwrap(), 1);
    assert!(db.get("ttl", json!({"pk": {"S": "future"}})).is_none());
}

#[test]
fn stream_records_every_change_in_order() {
    let db = Db::new();
    let out = db.ok(
        "CreateTable",
        json!({"TableName": "streamed", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
    );
    let desc = &out["TableDescription"];
    let arn = desc["LatestStreamArn"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:dynamodb:us-east-1:123456789012:table/streamed/stream/20"),
        "{arn}"
    );
    assert_eq!(
        desc["StreamSpecification"],
        json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    );

    db.put("streamed", json!({"pk": {"S": "a"}, "v": {"N": "1"}}));
    db.ok(
        "UpdateItem",
        json!({"TableName": "streamed", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET v = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}),
    );
    db.ok(
        "DeleteItem",
        json!({"TableName": "streamed", "Key": {"pk": {"S": "a"}}}),
    );
    // A failed conditional write leaves no record.
    db.fails(
        "PutItem",
        json!({"TableName": "streamed", "Item": {"pk": {"S": "b"}},
        "ConditionExpression": "attribute_exists(pk)"}),
    );
    db.ok(
        "UpdateTimeToLive",
        json!({"TableName": "streamed",
        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl"}}),
    );
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    db.put(
        "streamed",
        json!({"pk": {"S": "t"}, "ttl": {"N": (now - 1).to_string()}}),
    );
    assert_eq!(db.tables.expire_ttl(SystemTime::now()).unwrap(), 1);

    let records = db.tables.stream_records("streamed", 0, 100).unwrap();
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["INSERT", "MODIFY", "REMOVE", "INSERT", "REMOVE"]);
    assert_eq!(
        records[1]["dynamodb"]["OldImage"],
        json!({"pk": {"S": "a"}, "v": {"N": "1"}})
    );
    assert_eq!(
        records[1]["dynamodb"]["NewImage"],
        json!({"pk": {"S": "a"}, "v": {"N": "2"}})
    );
    assert_eq!(records[2]["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
    assert!(records[2]["dynamodb"].get("NewImage").is_none());
    assert!(records[2].get("userIdentity").is_none());
    assert_eq!(
        records[4]["userIdentity"],
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    );
    assert_eq!(records[0]["eventSourceARN"], arn);
    let seqs: Vec<String> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Reading after a position returns what follows it.
    let after: u64 = seqs[2].parse().unwrap();
    let rest = db.tables.stream_records("streamed", after, 1).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["dynamodb"]["SequenceNumber"], seqs[3]);
    // Records are kept for 24 hours.
    db.tables
        .expire_ttl(SystemTime::now() + Duration::from_secs(86_400 - 60))
        .unwrap();
    assert_eq!(
        db.tables.stream_records("streamed", 0, 100).unwrap().len(),
        5
    );
    db.tables
        .expire_ttl(SystemTime::now() + Duration::from_secs(86_400 + 60))
        .unwrap();
    assert!(db
        .tables
        .stream_records("streamed", 0, 100)
        .unwrap()
        .is_empty());
}

#[test]
fn keys_only_stream_has_no_images() {
    let db = Db::new();
    db.table("plain", None);
    db.ok(
        "UpdateTable",
        json!({"TableName": "plain",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}}),
    );
    db.put("plain", json!({"pk": {"S": "a"}, "big": {"S": "data"}}));
    let records = db.tables.stream_records("plain", 0, 10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
    assert!(records[0]["dynamodb"].get("NewImage").is_none());
    assert_eq!(records[0]["dynamodb"]["StreamViewType"], "KEYS_ONLY");
}
