"""Messages, attributes and listing through boto3: MD5s computed here
match the server's, attribute selection (names, prefix.*, All), system
attributes, batches, tags and ListQueues pages.

usage: sqs_messages.py ENDPOINT PREFIX
Prints "OK" at the end; any failed assertion exits non-zero.
"""

import sys

from sqs_common import md5_of_attributes, md5_of_body, sqs_client

endpoint, prefix = sys.argv[1:3]
sqs = sqs_client(endpoint)
url = sqs.create_queue(QueueName=f"{prefix}-msg", tags={"team": "a"})["QueueUrl"]
assert url.endswith(f"/{prefix}-msg"), url
assert sqs.get_queue_url(QueueName=f"{prefix}-msg")["QueueUrl"] == url

attributes = {
    "app.user": {"DataType": "String", "StringValue": "ana"},
    "app.count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    "other": {"DataType": "String.custom", "StringValue": "ünïcode"},
}
body = "hello → world"
sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
assert sent["MD5OfMessageBody"] == md5_of_body(body), sent
assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attributes), sent

# Only the attributes asked for, with the MD5 of those.
(m,) = sqs.receive_message(
    QueueUrl=url,
    MessageAttributeNames=["app.*"],
    MessageSystemAttributeNames=["SentTimestamp"],
    VisibilityTimeout=0,
)["Messages"]
assert m["Body"] == body and m["MD5OfBody"] == md5_of_body(body), m
assert set(m["MessageAttributes"]) == {"app.user", "app.count"}, m
assert m["MD5OfMessageAttributes"] == md5_of_attributes(m["MessageAttributes"]), m
assert set(m["Attributes"]) == {"SentTimestamp"}, m

(m,) = sqs.receive_message(
    QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"], VisibilityTimeout=0
)["Messages"]
assert m["MessageAttributes"] == attributes, m
assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"], m
assert {"SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"} <= set(
    m["Attributes"]
), m
assert m["Attributes"]["ApproximateReceiveCount"] == "2", m

(m,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["blob"])["Messages"]
assert m["MessageAttributes"] == {"blob": attributes["blob"]}, m
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

# No attributes asked for: none shown, no MD5 of them.
sqs.send_message(QueueUrl=url, MessageBody="plain", MessageAttributes=attributes)
(m,) = sqs.receive_message(QueueUrl=url)["Messages"]
assert "MessageAttributes" not in m and "MD5OfMessageAttributes" not in m and "Attributes" not in m, m
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

# Batches: send ten, receive them (up to ten at a time), delete them in one call.
entries = [
    {
        "Id": f"m{i}",
        "MessageBody": f"body {i}",
        "MessageAttributes": {"i": {"DataType": "Number", "StringValue": str(i)}},
    }
    for i in range(10)
]
r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
assert not r.get("Failed"), r
assert sorted(s["Id"] for s in r["Successful"]) == sorted(e["Id"] for e in entries), r
for s in r["Successful"]:
    e = next(e for e in entries if e["Id"] == s["Id"])
    assert s["MD5OfMessageBody"] == md5_of_body(e["MessageBody"]), s
    assert s["MD5OfMessageAttributes"] == md5_of_attributes(e["MessageAttributes"]), s
got = []
while len(got) < 10:
    ms = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert ms, f"only {len(got)} of 10 messages received"
    got += ms
assert sorted(m["Body"] for m in got) == sorted(e["MessageBody"] for e in entries)
r = sqs.delete_message_batch(
    QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
)
assert len(r["Successful"]) == 10 and not r.get("Failed"), r
counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
assert a == {name: "0" for name in counts}, a

# A delayed message counts as delayed, then becomes visible.
sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
delayed = ["ApproximateNumberOfMessagesDelayed"]
a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=delayed)["Attributes"]
assert a == {"ApproximateNumberOfMessagesDelayed": "1"}, a
assert "Messages" not in sqs.receive_message(QueueUrl=url)
(m,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
assert m["Body"] == "later", m

# Tags.
sqs.tag_queue(QueueUrl=url, Tags={"env": "test", "team": "b"})
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test", "team": "b"}
sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}

# ListQueues: by prefix, in pages.
for n in range(5):
    sqs.create_queue(QueueName=f"{prefix}-page-{n}")
pages = sqs.get_paginator("list_queues").paginate(
    QueueNamePrefix=f"{prefix}-page-", PaginationConfig={"PageSize": 2}
)
urls = [u for p in pages for u in p.get("QueueUrls", [])]
assert [u.rsplit("/", 1)[1] for u in urls] == [f"{prefix}-page-{n}" for n in range(5)], urls
first = sqs.list_queues(QueueNamePrefix=f"{prefix}-page-", MaxResults=2)
assert len(first["QueueUrls"]) == 2 and "NextToken" in first, first
assert "NextToken" not in sqs.list_queues(QueueNamePrefix=f"{prefix}-page-", MaxResults=5)

# Purge, then delete.
sqs.send_message(QueueUrl=url, MessageBody="gone soon")
sqs.purge_queue(QueueUrl=url)
assert "Messages" not in sqs.receive_message(QueueUrl=url)
sqs.delete_queue(QueueUrl=url)
try:
    sqs.get_queue_url(QueueName=f"{prefix}-msg")
    raise AssertionError("the queue is still there")
except sqs.exceptions.QueueDoesNotExist:
    pass
print("OK")
