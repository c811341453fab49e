"""Long polling and visibility timeouts through boto3.

usage: sqs_polling.py ENDPOINT PREFIX
- a long poll returns as soon as another thread sends a message;
- while long polls wait, other requests are answered at once;
- a message not deleted within its visibility timeout is delivered again.
Prints "OK" at the end; any failed assertion exits non-zero.
"""

import sys
import threading
import time

from sqs_common import eventually, sqs_client

endpoint, prefix = sys.argv[1:3]
sqs = sqs_client(endpoint)
url = sqs.create_queue(QueueName=f"{prefix}-poll")["QueueUrl"]
idle = sqs.create_queue(QueueName=f"{prefix}-idle")["QueueUrl"]

# Long polls on an empty queue hold no server thread: more of them than the
# server has cores wait, and other calls are still answered at once.
waiters = [
    threading.Thread(
        target=lambda: sqs_client(endpoint).receive_message(QueueUrl=idle, WaitTimeSeconds=6)
    )
    for _ in range(8)
]
for w in waiters:
    w.start()
time.sleep(0.5)
start = time.monotonic()
for _ in range(5):
    sqs.list_queues(QueueNamePrefix=prefix)
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
busy = time.monotonic() - start
assert busy < 3.0, f"10 calls took {busy:.1f}s while long polls waited"

# A long poll returns when a message arrives from another thread.
def send_later():
    time.sleep(1.0)
    sqs_client(endpoint).send_message(QueueUrl=url, MessageBody="wake up")


threading.Thread(target=send_later).start()
start = time.monotonic()
r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
waited = time.monotonic() - start
assert [m["Body"] for m in r.get("Messages", [])] == ["wake up"], r
assert 0.8 < waited < 8, f"the long poll returned after {waited:.1f}s"
first = r["Messages"][0]

# The queue's ReceiveMessageWaitTimeSeconds applies when the call sets none.
sqs.set_queue_attributes(QueueUrl=idle, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
start = time.monotonic()
assert "Messages" not in sqs.receive_message(QueueUrl=idle)
assert time.monotonic() - start >= 0.9, "the queue's wait time was not applied"

for w in waiters:
    w.join()

# Visibility: hidden while in flight, delivered again after the timeout.
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=2)
assert "Messages" not in sqs.receive_message(QueueUrl=url), "visible during its timeout"


def again():
    r = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=1)
    return r.get("Messages")


(m,) = eventually("the message to be delivered again", again)
assert m["MessageId"] == first["MessageId"], m
assert m["Attributes"]["ApproximateReceiveCount"] == "2", m
assert m["ReceiptHandle"] != first["ReceiptHandle"], m

# The per-receive VisibilityTimeout, then ChangeMessageVisibilityBatch to 0.
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
(m,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
assert "Messages" not in sqs.receive_message(QueueUrl=url)
r = sqs.change_message_visibility_batch(
    QueueUrl=url,
    Entries=[
        {"Id": "ok", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
    ],
)
assert [s["Id"] for s in r["Successful"]] == ["ok"], r
assert [f["Id"] for f in r["Failed"]] == ["bad"] and r["Failed"][0]["SenderFault"], r
(m,) = sqs.receive_message(QueueUrl=url)["Messages"]
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
# Deleting again succeeds (the message is gone already), as SQS does.
sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
print("OK")
