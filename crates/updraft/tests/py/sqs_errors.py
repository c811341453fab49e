"""Bad SQS input through boto3: each call fails with SQS's error (the
modeled exception where SQS has one) and changes nothing.

usage: sqs_errors.py ENDPOINT PREFIX
Prints "OK" at the end; any failed assertion exits non-zero.
"""

import sys

from sqs_common import depth, expect_code, sqs_client

endpoint, prefix = sys.argv[1:3]
sqs = sqs_client(endpoint)
ex = sqs.exceptions

url = sqs.create_queue(QueueName=f"{prefix}-bad")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="keep")
assert depth(sqs, url) == 1

# A queue that does not exist: the typed exception, by name and by URL.
missing = url.rsplit("/", 1)[0] + f"/{prefix}-missing"
for call in (
    lambda: sqs.get_queue_url(QueueName=f"{prefix}-missing"),
    lambda: sqs.send_message(QueueUrl=missing, MessageBody="x"),
    lambda: sqs.receive_message(QueueUrl=missing),
    lambda: sqs.get_queue_attributes(QueueUrl=missing, AttributeNames=["All"]),
    lambda: sqs.delete_queue(QueueUrl=missing),
):
    try:
        call()
        raise AssertionError("expected QueueDoesNotExist")
    except ex.QueueDoesNotExist as e:
        assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue", e
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e

# A body over MaximumMessageSize (256 KiB by default), and over a smaller one.
e = expect_code("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x" * (262_144 + 1))
assert "Message must be shorter than 262144 bytes" in str(e), e
small = sqs.create_queue(QueueName=f"{prefix}-small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
expect_code("InvalidParameterValue", sqs.send_message, QueueUrl=small, MessageBody="x" * 1025)
sqs.send_message(QueueUrl=small, MessageBody="x" * 1024)
assert depth(sqs, small) == 1

# Characters SQS does not allow in a body.
expect_code("InvalidMessageContents", sqs.send_message, QueueUrl=url, MessageBody="a\x00b")

# Message attributes: a number that is not one, a missing value.
expect_code(
    "InvalidParameterValue",
    sqs.send_message,
    QueueUrl=url,
    MessageBody="x",
    MessageAttributes={"n": {"DataType": "Number", "StringValue": "ten"}},
)
expect_code(
    "InvalidParameterValue",
    sqs.send_message,
    QueueUrl=url,
    MessageBody="x",
    MessageAttributes={"s": {"DataType": "String", "StringValue": ""}},
)

# Delays and receive parameters out of range.
expect_code("InvalidParameterValue", sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901)
expect_code("InvalidParameterValue", sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
expect_code("InvalidParameterValue", sqs.receive_message, QueueUrl=url, WaitTimeSeconds=21)
expect_code("InvalidParameterValue", sqs.receive_message, QueueUrl=url, VisibilityTimeout=43_201)

# Batches: too many, none, repeated ids, bad ids, too long together.
entries = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
try:
    sqs.send_message_batch(QueueUrl=url, Entries=entries)
    raise AssertionError("expected TooManyEntriesInBatchRequest")
except ex.TooManyEntriesInBatchRequest as e:
    assert "You have sent 11" in str(e), e
try:
    sqs.send_message_batch(QueueUrl=url, Entries=[])
    raise AssertionError("expected EmptyBatchRequest")
except ex.EmptyBatchRequest:
    pass
try:
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]
    )
    raise AssertionError("expected BatchEntryIdsNotDistinct")
except ex.BatchEntryIdsNotDistinct:
    pass
try:
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "not ok!", "MessageBody": "x"}])
    raise AssertionError("expected InvalidBatchEntryId")
except ex.InvalidBatchEntryId:
    pass
try:
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"b{i}", "MessageBody": "x" * 100_000} for i in range(3)]
    )
    raise AssertionError("expected BatchRequestTooLong")
except ex.BatchRequestTooLong:
    pass
try:
    sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": f"d{i}", "ReceiptHandle": "x"} for i in range(11)]
    )
    raise AssertionError("expected TooManyEntriesInBatchRequest")
except ex.TooManyEntriesInBatchRequest:
    pass

# One bad entry fails alone (too large for its queue, a bad delay); the
# others are sent.
r = sqs.send_message_batch(
    QueueUrl=small,
    Entries=[
        {"Id": "good", "MessageBody": "fine"},
        {"Id": "big", "MessageBody": "x" * 1025},
        {"Id": "late", "MessageBody": "x", "DelaySeconds": 901},
        {"Id": "good2", "MessageBody": "fine too"},
    ],
)
assert sorted(s["Id"] for s in r["Successful"]) == ["good", "good2"], r
failed = {f["Id"]: f for f in r["Failed"]}
assert sorted(failed) == ["big", "late"], r
assert all(f["SenderFault"] and f["Code"] == "InvalidParameterValue" for f in failed.values()), r
assert depth(sqs, small) == 3

# Queue attributes: an unknown name, a value out of range; nothing changes.
before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
try:
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    raise AssertionError("expected InvalidAttributeValue")
except ex.InvalidAttributeValue:
    pass
try:
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5", "Colour": "blue"})
    raise AssertionError("expected InvalidAttributeName")
except ex.InvalidAttributeName:
    pass
try:
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    raise AssertionError("expected InvalidAttributeName")
except ex.InvalidAttributeName:
    pass
expect_code(
    "InvalidAttributeValue",
    sqs.set_queue_attributes,
    QueueUrl=url,
    Attributes={"RedrivePolicy": '{"maxReceiveCount": 2}'},
)
after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert after == before, (before, after)

# Creating an existing queue with other settings; a bad name.
try:
    sqs.create_queue(QueueName=f"{prefix}-bad", Attributes={"VisibilityTimeout": "5"})
    raise AssertionError("expected QueueNameExists")
except ex.QueueNameExists as e:
    assert e.response["Error"]["Code"] == "QueueAlreadyExists", e
expect_code("InvalidParameterValue", sqs.create_queue, QueueName="no spaces")
expect_code(
    "InvalidAttributeValue",
    sqs.create_queue,
    QueueName=f"{prefix}-x",
    Attributes={"DelaySeconds": "901"},
)
assert sqs.list_queues(QueueNamePrefix=f"{prefix}-x").get("QueueUrls") is None

# Receipt handles that are not ones.
try:
    sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    raise AssertionError("expected ReceiptHandleIsInvalid")
except ex.ReceiptHandleIsInvalid:
    pass

assert depth(sqs, url) == 1
print("OK")
