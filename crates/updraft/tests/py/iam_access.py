"""Users, policies and role sessions across the services, with boto3.

usage: iam_access.py ENDPOINT ALLOWED_FUNCTION OTHER_FUNCTION
The root credentials come from AWS_SHARED_CREDENTIALS_FILE. Creates a user
whose policy allows invoking one function and sending to one queue, then
calls every service as that user and checks what is allowed and what is
denied, then assumes a role and does the same with the session. Prints OK.
"""

import json
import sys
import time

import boto3
import botocore.config
from botocore.exceptions import ClientError

endpoint, allowed_fn, other_fn = sys.argv[1:4]
REGION = "us-east-1"
CONFIG = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def client(service, creds=None):
    kwargs = {}
    if creds:
        kwargs = {
            "aws_access_key_id": creds[0],
            "aws_secret_access_key": creds[1],
            "aws_session_token": creds[2] if len(creds) > 2 else None,
        }
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **kwargs
    )


def denied(what, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        code = e.response["Error"]["Code"]
        assert code in ("AccessDeniedException", "AccessDenied"), (what, code, e.response)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403), (what, e.response)
        message = e.response["Error"]["Message"]
        assert "is not authorized to perform" in message, (what, message)
        return message
    raise AssertionError(f"{what}: expected AccessDenied")


iam = client("iam")
sts = client("sts")
root_identity = sts.get_caller_identity()
account = root_identity["Account"]
assert root_identity["Arn"] == f"arn:aws:iam::{account}:root", root_identity

# Two queues, one of them the user's.
sqs_root = client("sqs")
allowed_q = sqs_root.create_queue(QueueName="iam-allowed")["QueueUrl"]
other_q = sqs_root.create_queue(QueueName="iam-other")["QueueUrl"]

fn_arn = f"arn:aws:lambda:{REGION}:{account}:function:{allowed_fn}"
q_arn = f"arn:aws:sqs:{REGION}:{account}:iam-allowed"
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn},
        {"Sid": "Send", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": q_arn},
    ],
}
iam.create_user(UserName="alice")
arn = iam.create_policy(PolicyName="alice-narrow", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
iam.attach_user_policy(UserName="alice", PolicyArn=arn)
key = iam.create_access_key(UserName="alice")["AccessKey"]
alice = (key["AccessKeyId"], key["SecretAccessKey"])

# Who alice is.
me = client("sts", alice).get_caller_identity()
assert me["Arn"] == f"arn:aws:iam::{account}:user/alice", me
assert me["Account"] == account, me
# Reading its own user needs iam:GetUser, as on AWS.
denied("get own user", client("iam", alice).get_user)

# Lambda: the one function, nothing else.
lam = client("lambda", alice)
out = lam.invoke(FunctionName=allowed_fn, Payload=b"{}")
assert out["StatusCode"] == 200, out
message = denied("invoke other", lam.invoke, FunctionName=other_fn, Payload=b"{}")
assert f"function:{other_fn}" in message and "lambda:InvokeFunction" in message, message
assert f"user/alice" in message, message
denied("list functions", lam.list_functions)
denied("delete function", lam.delete_function, FunctionName=allowed_fn)

# SQS: the one queue.
sqs = client("sqs", alice)
sqs.send_message(QueueUrl=allowed_q, MessageBody="hi")
denied("send other", sqs.send_message, QueueUrl=other_q, MessageBody="hi")
denied("receive", sqs.receive_message, QueueUrl=allowed_q)

# EventBridge, Scheduler, Logs, IAM: nothing.
denied("put events", client("events", alice).put_events,
       Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
denied("create schedule", client("scheduler", alice).create_schedule,
       Name="s", ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
       Target={"Arn": fn_arn, "RoleArn": f"arn:aws:iam::{account}:role/updraft"})
denied("filter logs", client("logs", alice).filter_log_events, logGroupName=f"/aws/lambda/{allowed_fn}")
denied("create user", client("iam", alice).create_user, UserName="mallory")

# An explicit deny wins over the allow.
iam.put_user_policy(
    UserName="alice",
    PolicyName="no-invoke",
    PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "lambda:Invoke*", "Resource": "*"}]}),
)
message = denied("invoke after deny", lam.invoke, FunctionName=allowed_fn, Payload=b"{}")
assert "explicit deny" in message, message
iam.delete_user_policy(UserName="alice", PolicyName="no-invoke")
assert lam.invoke(FunctionName=allowed_fn, Payload=b"{}")["StatusCode"] == 200

# A role alice may assume, allowed to use SQS only.
trust = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/alice"},
    "Action": "sts:AssumeRole"}]}
role_arn = iam.create_role(RoleName="queue-worker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
iam.put_role_policy(RoleName="queue-worker", PolicyName="sqs", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
session = client("sts", alice).assume_role(RoleArn=role_arn, RoleSessionName="job-1", DurationSeconds=900)
c = session["Credentials"]
assert c["AccessKeyId"].startswith("ASIA"), c
assert session["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/queue-worker/job-1", session
worker = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
assert client("sts", worker).get_caller_identity()["Arn"] == session["AssumedRoleUser"]["Arn"]
wsqs = client("sqs", worker)
wsqs.send_message(QueueUrl=other_q, MessageBody="from the role")
got = wsqs.receive_message(QueueUrl=other_q, WaitTimeSeconds=1)["Messages"]
assert got[0]["Body"] == "from the role", got
denied("session invoke", client("lambda", worker).invoke, FunctionName=allowed_fn, Payload=b"{}")

# A session token that is not the session's is refused.
try:
    client("sqs", (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"] + "x")).list_queues()
    raise AssertionError("a wrong session token was accepted")
except ClientError as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response

# A session policy narrows the role: no SendMessage.
narrow = client("sts", alice).assume_role(
    RoleArn=role_arn, RoleSessionName="narrow", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]}))["Credentials"]
nsqs = client("sqs", (narrow["AccessKeyId"], narrow["SecretAccessKey"], narrow["SessionToken"]))
denied("session policy", nsqs.send_message, QueueUrl=other_q, MessageBody="x")

# Root cannot be assumed into a role whose trust policy does not name it.
try:
    sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/updraft", RoleSessionName="root-try")
    raise AssertionError("assumed a role that trusts only services")
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response

# Deleting the key revokes it at once.
iam.update_access_key(UserName="alice", AccessKeyId=alice[0], Status="Inactive")
try:
    lam.invoke(FunctionName=allowed_fn, Payload=b"{}")
    raise AssertionError("an inactive key was accepted")
except ClientError as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response
iam.update_access_key(UserName="alice", AccessKeyId=alice[0], Status="Active")
assert lam.invoke(FunctionName=allowed_fn, Payload=b"{}")["StatusCode"] == 200
iam.delete_access_key(UserName="alice", AccessKeyId=alice[0])
try:
    lam.invoke(FunctionName=allowed_fn, Payload=b"{}")
    raise AssertionError("a deleted key was accepted")
except ClientError as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response
    assert "security token included in the request is invalid" in e.response["Error"]["Message"], e.response

print("OK")
