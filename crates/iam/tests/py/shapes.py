"""The IAM and STS replies as real boto3 parses them.

Run against a server that hands every POST body to Iam::handle as the
bootstrap account's root: ENDPOINT is its URL. Prints OK at the end;
any failed check raises.
"""
import json
import os
import sys

import boto3

endpoint = os.environ["ENDPOINT"]
kw = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="x",
    aws_secret_access_key="y",
)
iam = boto3.client("iam", **kw)
sts = boto3.client("sts", **kw)

ALLOW_SQS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}

# Users.
u = iam.create_user(UserName="alice", Path="/eng/", Tags=[{"Key": "team", "Value": "core"}])["User"]
assert u["Arn"] == "arn:aws:iam::123456789012:user/eng/alice", u
assert u["UserId"].startswith("AIDA"), u
assert u["CreateDate"].year >= 2024, u
assert u["Tags"] == [{"Key": "team", "Value": "core"}], u
got = iam.get_user(UserName="alice")["User"]
assert got["UserId"] == u["UserId"]
for i in range(3):
    iam.create_user(UserName=f"user{i}")
page = iam.list_users(MaxItems=2)
assert page["IsTruncated"] and len(page["Users"]) == 2 and page["Marker"], page
names = [x["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}) for x in p["Users"]]
assert names == ["alice", "user0", "user1", "user2"], names
try:
    iam.get_user(UserName="nobody")
    raise AssertionError("expected NoSuchEntity")
except iam.exceptions.NoSuchEntityException as e:
    assert e.response["Error"]["Message"] == "The user with name nobody cannot be found.", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
try:
    iam.create_user(UserName="alice")
    raise AssertionError("expected EntityAlreadyExists")
except iam.exceptions.EntityAlreadyExistsException:
    pass

# Managed policies with versions.
p = iam.create_policy(PolicyName="queues", PolicyDocument=json.dumps(ALLOW_SQS), Description="d")["Policy"]
arn = p["Arn"]
assert arn == "arn:aws:iam::123456789012:policy/queues", p
assert p["DefaultVersionId"] == "v1" and p["AttachmentCount"] == 0 and p["IsAttachable"] is True, p
v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ALLOW_SQS), SetAsDefault=True)["PolicyVersion"]
assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True, v2
doc = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"]
assert doc == ALLOW_SQS, doc  # botocore URL-decodes and parses the document
versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
assert [v["VersionId"] for v in versions] == ["v2", "v1"], versions
iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
try:
    iam.create_policy(PolicyName="bad", PolicyDocument="{not json")
    raise AssertionError("expected MalformedPolicyDocument")
except iam.exceptions.MalformedPolicyDocumentException as e:
    assert e.response["Error"]["Message"], e.response
try:
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    raise AssertionError("expected DeleteConflict")
except iam.exceptions.DeleteConflictException:
    pass

# Roles, inline policies, attachments.
r = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=7200)["Role"]
assert r["RoleId"].startswith("AROA") and r["MaxSessionDuration"] == 7200, r
assert r["AssumeRolePolicyDocument"] == TRUST, r
assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == TRUST
assert [x["RoleName"] for x in iam.list_roles()["Roles"]] == ["app"]
iam.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=json.dumps(ALLOW_SQS))
got = iam.get_role_policy(RoleName="app", PolicyName="inline")
assert got["PolicyDocument"] == ALLOW_SQS and got["RoleName"] == "app", got
assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["inline"]
iam.attach_role_policy(RoleName="app", PolicyArn=arn)
iam.attach_user_policy(UserName="alice", PolicyArn=arn)
att = iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
assert att == [{"PolicyName": "queues", "PolicyArn": arn}], att
ents = iam.list_entities_for_policy(PolicyArn=arn)
assert [x["UserName"] for x in ents["PolicyUsers"]] == ["alice"], ents
assert [x["RoleName"] for x in ents["PolicyRoles"]] == ["app"], ents
assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
iam.create_group(GroupName="devs")
iam.add_user_to_group(GroupName="devs", UserName="alice")
g = iam.get_group(GroupName="devs")
assert [x["UserName"] for x in g["Users"]] == ["alice"] and g["Group"]["GroupId"].startswith("AGPA"), g
assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="alice")["Groups"]] == ["devs"]
try:
    iam.delete_role(RoleName="app")
    raise AssertionError("expected DeleteConflict")
except iam.exceptions.DeleteConflictException:
    pass

# Access keys.
k = iam.create_access_key(UserName="alice")["AccessKey"]
assert k["AccessKeyId"].startswith("AKIA") and len(k["SecretAccessKey"]) == 40 and k["Status"] == "Active", k
iam.create_access_key(UserName="alice")
try:
    iam.create_access_key(UserName="alice")
    raise AssertionError("expected LimitExceeded")
except iam.exceptions.LimitExceededException:
    pass
meta = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
assert len(meta) == 2 and all("SecretAccessKey" not in m for m in meta), meta
iam.update_access_key(UserName="alice", AccessKeyId=k["AccessKeyId"], Status="Inactive")
assert {m["Status"] for m in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]} == {"Active", "Inactive"}
for m in meta:
    iam.delete_access_key(UserName="alice", AccessKeyId=m["AccessKeyId"])
assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"] == []

# The simulator.
sim = iam.simulate_principal_policy(
    PolicySourceArn=u["Arn"],
    ActionNames=["sqs:SendMessage", "lambda:InvokeFunction"],
    ResourceArns=["arn:aws:sqs:us-east-1:123456789012:q"],
)["EvaluationResults"]
assert [x["EvalDecision"] for x in sim] == ["allowed", "implicitDeny"], sim
assert sim[0]["EvalActionName"] == "sqs:SendMessage"
assert sim[0]["MatchedStatements"][0]["SourcePolicyId"] == "queues", sim
custom = iam.simulate_custom_policy(
    PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})],
    ActionNames=["s3:GetObject"],
)["EvaluationResults"]
assert custom[0]["EvalDecision"] == "explicitDeny", custom

# Tags and boundaries.
iam.tag_role(RoleName="app", Tags=[{"Key": "k", "Value": "v"}])
assert iam.list_role_tags(RoleName="app")["Tags"] == [{"Key": "k", "Value": "v"}]
iam.put_user_permissions_boundary(UserName="alice", PermissionsBoundary=arn)
b = iam.get_user(UserName="alice")["User"]["PermissionsBoundary"]
assert b["PermissionsBoundaryArn"] == arn, b

# STS.
me = sts.get_caller_identity()
assert me["Account"] == "123456789012" and me["Arn"] == "arn:aws:iam::123456789012:root", me
a = sts.assume_role(RoleArn=r["Arn"], RoleSessionName="py-session", DurationSeconds=900)
c = a["Credentials"]
assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"] and c["Expiration"].year >= 2024, c
assert a["AssumedRoleUser"]["Arn"] == "arn:aws:sts::123456789012:assumed-role/app/py-session", a
assert a["AssumedRoleUser"]["AssumedRoleId"] == r["RoleId"] + ":py-session", a
try:
    sts.assume_role(RoleArn=r["Arn"], RoleSessionName="py-session", DurationSeconds=43200)
    raise AssertionError("expected ValidationError")
except sts.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "ValidationError", e.response
t = sts.get_session_token(DurationSeconds=900)["Credentials"]
assert t["AccessKeyId"].startswith("ASIA"), t

print("OK")
sys.stdout.flush()
