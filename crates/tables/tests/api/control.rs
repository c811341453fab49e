//! CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable, tags.

use serde_json::json;

use crate::Db;

#[test]
fn create_describe_list_delete() {
    let db = Db::new();
    let out = db.ok(
        "CreateTable",
        json!({
            "TableName": "Music",
            "AttributeDefinitions": [
                {"AttributeName": "Artist", "AttributeType": "S"},
                {"AttributeName": "SongTitle", "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": "Artist", "KeyType": "HASH"},
                {"AttributeName": "SongTitle", "KeyType": "RANGE"}
            ],
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 10}
        }),
    );
    let desc = &out["TableDescription"];
    assert_eq!(desc["TableStatus"], "ACTIVE");
    assert_eq!(
        desc["TableArn"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/Music"
    );
    assert_eq!(desc["ProvisionedThroughput"]["WriteCapacityUnits"], 10);
    assert!(desc["CreationDateTime"].as_f64().unwrap() > 1.7e9);
    assert_eq!(desc["KeySchema"][1]["KeyType"], "RANGE");

    db.put(
        "Music",
        json!({"Artist": {"S": "a"}, "SongTitle": {"S": "b"}, "x": {"S": "hello"}}),
    );
    let table = &db.ok("DescribeTable", json!({"TableName": "Music"}))["Table"];
    assert_eq!(table["ItemCount"], 1);
    assert_eq!(table["TableSizeBytes"], 6 + 1 + 9 + 1 + 1 + 5);

    let (kind, message) = db.fails(
        "CreateTable",
        json!({
            "TableName": "Music",
            "AttributeDefinitions": [{"AttributeName": "Artist", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "Artist", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    );
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ResourceInUseException", "Table already exists: Music")
    );

    db.ok("DeleteTable", json!({"TableName": "Music"}));
    let (kind, message) = db.fails("DescribeTable", json!({"TableName": "Music"}));
    assert_eq!(kind, "ResourceNotFoundException");
    assert_eq!(
        message,
        "Requested resource not found: Table: Music not found"
    );
}

#[test]
fn list_tables_pages() {
    let db = Db::new();
    for name in ["t-c", "t-a", "t-b"] {
        db.table(name, None);
    }
    let first = db.ok("ListTables", json!({"Limit": 2}));
    assert_eq!(first["TableNames"], json!(["t-a", "t-b"]));
    assert_eq!(first["LastEvaluatedTableName"], "t-b");
    let second = db.ok(
        "ListTables",
        json!({"Limit": 2, "ExclusiveStartTableName": "t-b"}),
    );
    assert_eq!(second["TableNames"], json!(["t-c"]));
    assert!(second.get("LastEvaluatedTableName").is_none());
}

#[test]
fn create_table_validation_uses_dynamodb_messages() {
    let db = Db::new();
    let cases = [
        (
            json!({"TableName": "tab1", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "b", "KeyType": "HASH"}]}),
            "Some index key attributes are not defined in AttributeDefinitions",
        ),
        (
            json!({"TableName": "tab1", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"},
                                            {"AttributeName": "b", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            json!({"TableName": "tab1",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ),
        (
            json!({"TableName": "tab1", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "RANGE"}]}),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            json!({"TableName": "x", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "Member must have length greater than or equal to 3",
        ),
        (
            json!({"TableName": "tab1", "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "X"}],
                   "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "Member must satisfy enum value set: [B, N, S]",
        ),
    ];
    for (input, message) in cases {
        let (kind, got) = db.fails("CreateTable", input);
        assert_eq!(kind, "ValidationException");
        assert!(got.contains(message), "{got}");
    }
    assert!(db.ok("ListTables", json!({}))["TableNames"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn tags_and_update_table() {
    let db = Db::new();
    db.table("tagged", None);
    let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/tagged";
    db.ok("TagResource", json!({"ResourceArn": arn, "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}]}));
    db.ok(
        "UntagResource",
        json!({"ResourceArn": arn, "TagKeys": ["team"]}),
    );
    let tags = db.ok("ListTagsOfResource", json!({"ResourceArn": arn}));
    assert_eq!(tags["Tags"], json!([{"Key": "env", "Value": "dev"}]));
    let (kind, _) = db.fails(
        "ListTagsOfResource",
        json!({"ResourceArn": arn.replace("tagged", "nope")}),
    );
    assert_eq!(kind, "ResourceNotFoundException");

    let out = db.ok(
        "UpdateTable",
        json!({"TableName": "tagged", "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}}),
    );
    assert_eq!(
        out["TableDescription"]["ProvisionedThroughput"]["ReadCapacityUnits"],
        3
    );
    assert_eq!(
        out["TableDescription"]["BillingModeSummary"],
        json!({"BillingMode": "PROVISIONED"})
    );
}

#[test]
fn item_count_and_size_follow_every_write() {
    let db = Db::new();
    db.table("sized", None);
    db.put("sized", json!({"pk": {"S": "a"}, "v": {"S": "12345"}}));
    db.put("sized", json!({"pk": {"S": "b"}}));
    db.put("sized", json!({"pk": {"S": "c"}}));
    // Replacing and growing an item, deleting one, deleting a missing one.
    db.put("sized", json!({"pk": {"S": "b"}, "w": {"S": "xy"}}));
    db.ok("UpdateItem", json!({"TableName": "sized", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET v = :long", "ExpressionAttributeValues": {":long": {"S": "1234567890"}}}));
    db.ok(
        "DeleteItem",
        json!({"TableName": "sized", "Key": {"pk": {"S": "c"}}}),
    );
    db.ok(
        "DeleteItem",
        json!({"TableName": "sized", "Key": {"pk": {"S": "zzz"}}}),
    );
    let table = &db.ok("DescribeTable", json!({"TableName": "sized"}))["Table"];
    assert_eq!(table["ItemCount"], 2);
    // a: "pk"+"a" + "v"+10 chars = 14; b: "pk"+"b" + "w"+"xy" = 6.
    assert_eq!(table["TableSizeBytes"], 14 + 6);
}
