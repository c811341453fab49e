//! Tables with the real clients: boto3's DynamoDB client and resource
//! (tables, items, expressions, queries, batches, transactions, TTL), the
//! aws CLI v2, and IAM deciding per table.

use std::sync::OnceLock;

use serde_json::json;

use crate::support::*;

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    Server::shared(&S, &[])
}

#[test]
fn boto3_items_queries_batches_transactions_and_ttl() {
    let s = server();
    let table = unique("orders");
    let out = s.boto3_inline(
        r##"
import boto3, sys, time
from boto3.dynamodb.conditions import Key, Attr
from botocore.exceptions import ClientError
endpoint, name = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
ddb = boto3.client("dynamodb", **kw)
res = boto3.resource("dynamodb", **kw)

def code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("no error")

table = res.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}])
table.wait_until_exists()
assert name in ddb.list_tables()["TableNames"]
assert code(lambda: ddb.describe_table(TableName=name + "-none"))[0] == "ResourceNotFoundException"

for i in range(5):
    table.put_item(Item={"pk": "user#1", "sk": i, "total": i * 10, "tags": {"a", "b"}})
table.put_item(Item={"pk": "user#2", "sk": 1, "total": 7})
item = table.get_item(Key={"pk": "user#1", "sk": 3})["Item"]
assert item["total"] == 30 and item["tags"] == {"a", "b"}, item

new = table.update_item(Key={"pk": "user#1", "sk": 3},
    UpdateExpression="SET #t = #t + :n, #s = if_not_exists(#s, :new) REMOVE tags",
    ExpressionAttributeNames={"#s": "status", "#t": "total"}, ExpressionAttributeValues={":n": 5, ":new": "open"},
    ReturnValues="ALL_NEW")["Attributes"]
assert new["total"] == 35 and new["status"] == "open" and "tags" not in new, new

failed = code(lambda: table.put_item(Item={"pk": "user#1", "sk": 3},
                                     ConditionExpression="attribute_not_exists(pk)"))
assert failed[0] == "ConditionalCheckFailedException", failed
assert code(lambda: table.put_item(Item={"pk": "user#1"}))[0] == "ValidationException"

q = table.query(KeyConditionExpression=Key("pk").eq("user#1") & Key("sk").between(1, 3),
                ScanIndexForward=False)
assert [i["sk"] for i in q["Items"]] == [3, 2, 1], q["Items"]
filtered = table.query(KeyConditionExpression=Key("pk").eq("user#1"), FilterExpression=Attr("total").gt(15))
assert [i["sk"] for i in filtered["Items"]] == [2, 3, 4] and filtered["ScannedCount"] == 5, filtered
page = table.query(KeyConditionExpression=Key("pk").eq("user#1"), Limit=2)
assert len(page["Items"]) == 2 and "LastEvaluatedKey" in page
rest = table.query(KeyConditionExpression=Key("pk").eq("user#1"), ExclusiveStartKey=page["LastEvaluatedKey"])
assert [i["sk"] for i in rest["Items"]] == [2, 3, 4], rest["Items"]
assert table.scan(Select="COUNT")["Count"] == 6

with table.batch_writer() as batch:
    for i in range(30):
        batch.put_item(Item={"pk": "batch", "sk": i})
got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"pk": {"S": "batch"}, "sk": {"N": str(i)}} for i in range(3)]}})
assert len(got["Responses"][name]) == 3, got

cancelled = code(lambda: ddb.transact_write_items(TransactItems=[
    {"Put": {"TableName": name, "Item": {"pk": {"S": "tx"}, "sk": {"N": "1"}}}},
    {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "user#2"}, "sk": {"N": "1"}},
                        "ConditionExpression": "#t > :t", "ExpressionAttributeNames": {"#t": "total"},
                        "ExpressionAttributeValues": {":t": {"N": "100"}}}}]))
assert cancelled[0] == "TransactionCanceledException", cancelled
assert "Item" not in table.get_item(Key={"pk": "tx", "sk": 1}), "a cancelled transaction wrote"

ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
table.put_item(Item={"pk": "ttl", "sk": 1, "expires": int(time.time()) - 10})
table.put_item(Item={"pk": "ttl", "sk": 2, "expires": int(time.time()) + 3600})
for _ in range(150):
    if "Item" not in table.get_item(Key={"pk": "ttl", "sk": 1}):
        break
    time.sleep(0.2)
else:
    raise AssertionError("the expired item was never deleted")
assert "Item" in table.get_item(Key={"pk": "ttl", "sk": 2})
table.delete()
print("OK")
"##,
        &[&table],
    );
    assert_eq!(ok(&out, "boto3 dynamodb").trim(), "OK");
}

#[test]
fn the_aws_cli_and_iam_per_table() {
    let s = server();
    let table = unique("cli-table");
    ok(
        &s.aws_v2(&[
            "dynamodb",
            "create-table",
            "--table-name",
            &table,
            "--attribute-definitions",
            "AttributeName=id,AttributeType=S",
            "--key-schema",
            "AttributeName=id,KeyType=HASH",
            "--billing-mode",
            "PAY_PER_REQUEST",
        ]),
        "dynamodb create-table",
    );
    ok(
        &s.aws_v2(&[
            "dynamodb",
            "put-item",
            "--table-name",
            &table,
            "--item",
            r#"{"id": {"S": "a"}, "n": {"N": "1.50"}}"#,
        ]),
        "dynamodb put-item",
    );
    let got = ok_json(
        &s.aws_v2(&[
            "dynamodb",
            "get-item",
            "--table-name",
            &table,
            "--key",
            r#"{"id": {"S": "a"}}"#,
        ]),
        "dynamodb get-item",
    );
    assert_eq!(got["Item"]["n"], json!({"N": "1.5"}), "{got}");

    // A user allowed to read this table only.
    let out = s.boto3_inline(
        r##"
import boto3, json, sys
from botocore.exceptions import ClientError
endpoint, table = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1")
iam = boto3.client("iam", **kw)
user = table + "-reader"
iam.create_user(UserName=user)
iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                   "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/" + table}]}))
key = iam.create_access_key(UserName=user)["AccessKey"]
ddb = boto3.client("dynamodb", aws_access_key_id=key["AccessKeyId"],
                   aws_secret_access_key=key["SecretAccessKey"], **kw)
assert ddb.get_item(TableName=table, Key={"id": {"S": "a"}})["Item"]["id"] == {"S": "a"}
try:
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}})
    raise AssertionError("PutItem allowed")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDeniedException", e.response
stranger = boto3.client("dynamodb", aws_access_key_id="AKIANOTAKEY000000000",
                        aws_secret_access_key="x", **kw)
try:
    stranger.list_tables()
    raise AssertionError("an unknown key was accepted")
except ClientError as e:
    assert e.response["Error"]["Code"] == "UnrecognizedClientException", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
print("OK")
"##,
        &[&table],
    );
    assert_eq!(ok(&out, "iam per table").trim(), "OK");
}

/// Every write DynamoDB acknowledged survives kill -9 under a concurrent
/// write load: 8 writers put items and note each acknowledged key; the
/// server is killed mid-load, restarted, and every noted key reads back
/// with the value that was acknowledged.
#[test]
fn acknowledged_writes_survive_kill_9_under_load() {
    let mut s = Server::start(&[]);
    let table = unique("durable");
    let acked = s.scratch().join("acked.txt");
    let create = s.boto3_inline(
        r##"
import boto3, sys
endpoint, name = sys.argv[1], sys.argv[2]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
print("OK")
"##,
        &[&table],
    );
    assert_eq!(ok(&create, "create-table").trim(), "OK");
    // The writers run until the server goes away; each acknowledged key is
    // appended (and flushed) only after PutItem returned.
    let writers = r##"
import boto3, sys, threading
from botocore.config import Config
endpoint, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(path, "a", buffering=1)
lock = threading.Lock()
def writer(w):
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
    i = 0
    while True:
        key = "w%d-%d" % (w, i)
        try:
            ddb.put_item(TableName=name, Item={"id": {"S": key}, "n": {"N": str(i)}})
        except Exception:
            return
        with lock:
            out.write(key + "\n")
        i += 1
threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
for t in threads: t.start()
for t in threads: t.join()
"##;
    let creds = s.credentials();
    let mut load = std::process::Command::new("python3")
        .arg("-c")
        .arg(writers)
        .arg(&s.url)
        .arg(&table)
        .arg(&acked)
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("starting the writers");
    // Let the load build up, then kill the server in the middle of it.
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&acked).map_or(0, |t| t.lines().count()) < 300 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the writers did not get going"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    s.kill_9();
    let _ = load.wait();
    let keys: Vec<String> = std::fs::read_to_string(&acked)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(keys.len() >= 300, "{} writes acknowledged", keys.len());
    s.restart_after_exit();
    let list = s.write_file("keys.txt", keys.join("\n").as_bytes());
    let check = s.boto3_inline(
        r##"
import boto3, sys
endpoint, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
keys = [k for k in open(path).read().split("\n") if k]
missing = []
for i in range(0, len(keys), 100):
    batch = keys[i:i + 100]
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [{"id": {"S": k}} for k in batch], "ConsistentRead": True}})
    found = {item["id"]["S"]: item["n"]["N"] for item in got["Responses"][name]}
    assert not got.get("UnprocessedKeys"), got["UnprocessedKeys"]
    for k in batch:
        if found.get(k) != k.split("-")[1]:
            missing.append(k)
print("checked %d, missing %d: %s" % (len(keys), len(missing), missing[:10]))
"##,
        &[&table, list.to_str().unwrap()],
    );
    let report = ok(&check, "reading back");
    assert!(report.contains(", missing 0:"), "{report}");
}
