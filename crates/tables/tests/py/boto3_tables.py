"""The tables API as real boto3 uses it: the low-level client, the resource
layer with its Key/Attr condition builders, the batch writer, paginators,
waiters and the modelled errors.

ENDPOINT is the URL of a server that hands each request to Tables::execute.
Prints OK at the end; any failed check raises.
"""
import decimal
import os

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

kw = dict(
    endpoint_url=os.environ["ENDPOINT"],
    region_name="us-east-1",
    aws_access_key_id="x",
    aws_secret_access_key="y",
)
client = boto3.client("dynamodb", **kw)
ddb = boto3.resource("dynamodb", **kw)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e
    raise AssertionError("expected an error")


# Tables, waiters, descriptions.
table = ddb.create_table(
    TableName="users",
    KeySchema=[{"AttributeName": "org", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
    AttributeDefinitions=[
        {"AttributeName": "org", "AttributeType": "S"},
        {"AttributeName": "id", "AttributeType": "N"},
        {"AttributeName": "email", "AttributeType": "S"},
    ],
    GlobalSecondaryIndexes=[{
        "IndexName": "by-email",
        "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
    BillingMode="PAY_PER_REQUEST",
)
table.wait_until_exists()
assert table.table_status == "ACTIVE", table.table_status
assert table.creation_date_time.year >= 2024
assert client.list_tables()["TableNames"] == ["users"]

# The batch writer and the resource layer's Python types.
with table.batch_writer() as batch:
    for i in range(60):
        batch.put_item(Item={
            "org": "acme" if i < 50 else "other",
            "id": i,
            "email": f"user{i}@example.com",
            "score": decimal.Decimal("1.5") * i,
            "tags": {"a", "b"} if i % 2 else {"c"},
            "profile": {"name": f"User {i}", "langs": ["en", "fr"]},
            "active": i % 3 == 0,
        })
item = table.get_item(Key={"org": "acme", "id": 7}, ConsistentRead=True)["Item"]
assert item["score"] == decimal.Decimal("10.5"), item
assert item["tags"] == {"a", "b"}, item
assert item["profile"]["langs"] == ["en", "fr"], item

# Key and Attr condition builders.
got = table.query(KeyConditionExpression=Key("org").eq("acme") & Key("id").between(10, 14))
assert [i["id"] for i in got["Items"]] == [10, 11, 12, 13, 14], got["Items"]
got = table.query(
    KeyConditionExpression=Key("org").eq("acme") & Key("id").gte(40),
    FilterExpression=Attr("active").eq(True) & Attr("profile.name").begins_with("User 4"),
    ScanIndexForward=False,
)
assert [i["id"] for i in got["Items"]] == [48, 45, 42], got["Items"]
got = table.scan(FilterExpression=Attr("tags").contains("c") & Attr("score").lt(10))
assert sorted(i["id"] for i in got["Items"]) == [0, 2, 4, 6], got["Items"]
got = table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("user55@example.com"))
assert got["Items"][0]["org"] == "other", got

# Paginators follow LastEvaluatedKey.
pages = client.get_paginator("query").paginate(
    TableName="users",
    KeyConditionExpression="org = :o",
    ExpressionAttributeValues={":o": {"S": "acme"}},
    PaginationConfig={"PageSize": 7},
)
assert sum(p["Count"] for p in pages) == 50
pages = client.get_paginator("scan").paginate(TableName="users", Limit=9)
assert sum(p["Count"] for p in pages) == 60

# Updates and the errors boto3 models.
out = table.update_item(
    Key={"org": "acme", "id": 1},
    UpdateExpression="SET score = score + :d, profile.#n = :n ADD visits :one REMOVE active",
    ExpressionAttributeNames={"#n": "name"},
    ExpressionAttributeValues={":d": decimal.Decimal("0.25"), ":n": "Renamed", ":one": 1},
    ReturnValues="UPDATED_NEW",
)
assert out["Attributes"] == {"score": decimal.Decimal("1.75"), "profile": {"name": "Renamed"}, "visits": 1}, out
e = error_code(
    table.put_item,
    Item={"org": "acme", "id": 1},
    ConditionExpression=Attr("org").not_exists(),
    ReturnValuesOnConditionCheckFailure="ALL_OLD",
)
assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", e.response
assert e.response["Item"]["visits"] == {"N": "1"}, e.response
assert isinstance(e, client.exceptions.ConditionalCheckFailedException)
e = error_code(client.describe_table, TableName="nope")
assert isinstance(e, client.exceptions.ResourceNotFoundException), e.response
e = error_code(table.get_item, Key={"org": "acme"})
assert e.response["Error"]["Code"] == "ValidationException", e.response
assert e.response["Error"]["Message"] == "The provided key element does not match the schema", e.response

# Transactions.
e = error_code(client.transact_write_items, TransactItems=[
    {"Update": {"TableName": "users", "Key": {"org": {"S": "acme"}, "id": {"N": "2"}},
                "UpdateExpression": "SET score = :z", "ExpressionAttributeValues": {":z": {"N": "0"}}}},
    {"ConditionCheck": {"TableName": "users", "Key": {"org": {"S": "acme"}, "id": {"N": "3"}},
                        "ConditionExpression": "attribute_not_exists(org)"}},
])
assert isinstance(e, client.exceptions.TransactionCanceledException), e.response
assert [r["Code"] for r in e.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"], e.response
got = client.transact_get_items(TransactItems=[
    {"Get": {"TableName": "users", "Key": {"org": {"S": "acme"}, "id": {"N": "2"}}, "ProjectionExpression": "score"}}])
assert got["Responses"] == [{"Item": {"score": {"N": "3"}}}], got

# PartiQL.
got = client.execute_statement(Statement='SELECT id FROM "users" WHERE org = ? AND id < 3', Parameters=[{"S": "acme"}])
assert [i["id"]["N"] for i in got["Items"]] == ["0", "1", "2"], got

# TTL and tags.
client.update_time_to_live(TableName="users", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
assert client.describe_time_to_live(TableName="users")["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
arn = table.table_arn
client.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "core"}])
assert client.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "core"}]

table.delete()
table.wait_until_not_exists()
print("OK")
