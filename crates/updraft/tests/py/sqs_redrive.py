"""A redrive policy through boto3: a message received more than
maxReceiveCount times moves to the dead-letter queue.

usage: sqs_redrive.py ENDPOINT PREFIX
Prints "OK" at the end; any failed assertion exits non-zero.
"""

import json
import sys

from sqs_common import depth, eventually, sqs_client

endpoint, prefix = sys.argv[1:3]
sqs = sqs_client(endpoint)

dlq = sqs.create_queue(QueueName=f"{prefix}-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
assert dlq_arn.endswith(f":{prefix}-dlq"), dlq_arn
policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
src = sqs.create_queue(QueueName=f"{prefix}-src", Attributes={"RedrivePolicy": policy})["QueueUrl"]
got = json.loads(
    sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
)
assert got == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}, got

sent = sqs.send_message(
    QueueUrl=src,
    MessageBody="poison",
    MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
)

# Two receives (visibility 0: visible again at once) count up...
for count in (1, 2):
    (m,) = sqs.receive_message(
        QueueUrl=src, VisibilityTimeout=0, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert m["MessageId"] == sent["MessageId"], m
    assert m["Attributes"]["ApproximateReceiveCount"] == str(count), m

# ...and the third finds it gone to the dead-letter queue.
r = sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, WaitTimeSeconds=1)
assert "Messages" not in r, r
assert depth(sqs, src) == 0


def dead():
    r = sqs.receive_message(
        QueueUrl=dlq, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=1
    )
    return r.get("Messages")


(m,) = eventually("the message in the dead-letter queue", dead)
assert m["MessageId"] == sent["MessageId"] and m["Body"] == "poison", m
assert m["MessageAttributes"]["kind"]["StringValue"] == "test", m
assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"], (m, sent)

# A redrive policy naming a queue that does not exist is refused.
missing = dlq_arn.rsplit(":", 1)[0] + f":{prefix}-nowhere"
try:
    sqs.set_queue_attributes(
        QueueUrl=src,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": missing, "maxReceiveCount": 1})},
    )
    raise AssertionError("a redrive policy to a missing queue was accepted")
except sqs.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidAttributeValue"), e

# Removing the policy.
sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
attrs = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
assert "RedrivePolicy" not in attrs, attrs
print("OK")
