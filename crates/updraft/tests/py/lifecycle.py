"""A function's whole life through boto3.

usage: lifecycle.py ENDPOINT HELLO_ZIP ECHO_ZIP ENV_ZIP
Prints "OK" at the end; any failed assertion exits non-zero.
"""

import base64
import json
import sys
import time
import urllib.error
import urllib.request

from common import expect_error, lambda_client, logs_client

endpoint, hello_zip, echo_zip, env_zip = sys.argv[1:5]
lam = lambda_client(endpoint)
logs = logs_client(endpoint)
NotFound = lam.exceptions.ResourceNotFoundException
ROLE = "arn:aws:iam::000000000000:role/updraft"
name = "life"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def invoke(**kw):
    r = lam.invoke(FunctionName=name, **kw)
    return r, r["Payload"].read()


# create, get, get configuration
created = lam.create_function(
    FunctionName=name, Runtime="wasm", Role=ROLE, Code={"ZipFile": read(hello_zip)}
)
assert created["ResponseMetadata"]["HTTPStatusCode"] == 201, created
assert created["FunctionName"] == name and created["State"] == "Active", created
assert created["FunctionArn"].endswith(":function:life"), created
got = lam.get_function(FunctionName=name)
assert got["Configuration"]["CodeSha256"] == created["CodeSha256"], got
assert "Location" in got["Code"], got
conf = lam.get_function_configuration(FunctionName=name)
assert conf["MemorySize"] == 128 and conf["Timeout"] == 3, conf

# invoke with the log tail
r, body = invoke(Payload=b'{"a":1}', LogType="Tail")
assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST", r
assert "FunctionError" not in r, r
assert body.startswith(b"Hello from updraft!"), body
log = base64.b64decode(r["LogResult"]).decode()
for needle in ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ", "Billed Duration: ", "hello-http: POST /"):
    assert needle in log, (needle, log)

# DryRun and Event
r, _ = invoke(InvocationType="DryRun")
assert r["StatusCode"] == 204, r
r, _ = invoke(InvocationType="Event", Payload=b"{}")
assert r["StatusCode"] == 202, r
deadline = time.time() + 15
while True:
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    text = "".join(e["message"] for e in events)
    if text.count("START RequestId: ") == 2 and text.count("REPORT RequestId: ") == 2:
        break
    assert time.time() < deadline, text
    time.sleep(0.2)

# update code: echo
updated = lam.update_function_code(FunctionName=name, ZipFile=read(echo_zip))
assert updated["CodeSha256"] != created["CodeSha256"], updated
r, body = invoke(Payload=b'{"k":"v1"}')
echoed = json.loads(body)
assert echoed["body"] == '{"k":"v1"}' and echoed["method"] == "POST", echoed
v1 = lam.publish_version(FunctionName=name)
assert v1["Version"] == "1", v1

# update code and configuration: env
lam.update_function_code(FunctionName=name, ZipFile=read(env_zip))
cfg = lam.update_function_configuration(
    FunctionName=name,
    MemorySize=512,
    Timeout=9,
    Environment={"Variables": {"GREETING": "hi there", "MODE": "boto3"}},
)
assert cfg["MemorySize"] == 512 and cfg["Timeout"] == 9, cfg
assert cfg["Environment"]["Variables"]["GREETING"] == "hi there", cfg
r, body = invoke()
seen = json.loads(body)["env"]
assert seen["GREETING"] == "hi there" and seen["MODE"] == "boto3", seen
assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512", seen
v2 = lam.publish_version(FunctionName=name, Description="env")
assert v2["Version"] == "2", v2
versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
assert versions == ["$LATEST", "1", "2"], versions

# aliases, invoke by version and alias
alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
assert alias["FunctionVersion"] == "1" and alias["AliasArn"].endswith(":function:life:live"), alias
assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
r, body = invoke(Qualifier="1", Payload=b'{"via":"version"}')
assert r["ExecutedVersion"] == "1" and json.loads(body)["body"] == '{"via":"version"}', (r, body)
r, body = invoke(Qualifier="2")
assert r["ExecutedVersion"] == "2" and json.loads(body)["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == "2", body
r, body = invoke(Qualifier="live", Payload=b'{"via":"alias"}')
assert r["ExecutedVersion"] == "1" and json.loads(body)["body"] == '{"via":"alias"}', (r, body)
alias = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
assert alias["FunctionVersion"] == "2", alias
r, _ = invoke(Qualifier="live")
assert r["ExecutedVersion"] == "2", r
assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
lam.delete_alias(FunctionName=name, Name="live")
expect_error(NotFound, lam.get_alias, FunctionName=name, Name="live")

# function URL config
url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
assert url["AuthType"] == "NONE" and url["FunctionUrl"].startswith(endpoint), url
with urllib.request.urlopen(url["FunctionUrl"]) as resp:
    assert resp.status == 200
    assert json.loads(resp.read())["env"]["MODE"] == "boto3"
got = lam.get_function_url_config(FunctionName=name)
assert got["FunctionUrl"] == url["FunctionUrl"] and got["AuthType"] == "NONE", got
lam.delete_function_url_config(FunctionName=name)
try:
    urllib.request.urlopen(url["FunctionUrl"])
    raise AssertionError("the deleted URL still answers")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code
expect_error(NotFound, lam.get_function_url_config, FunctionName=name)

# pagination: five more functions, pages of two
names = [f"page-{i}" for i in range(5)]
for n in names:
    lam.create_function(FunctionName=n, Runtime="wasm", Role=ROLE, Code={"ZipFile": read(echo_zip)})
seen = []
pages = 0
for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
    pages += 1
    assert len(page["Functions"]) <= 2, page
    seen += [f["FunctionName"] for f in page["Functions"]]
assert sorted(seen) == sorted(names + [name]), seen
assert len(seen) == len(set(seen)), seen
assert pages == 3, pages
first = lam.list_functions(MaxItems=2)
assert len(first["Functions"]) == 2 and "NextMarker" in first, first
rest = lam.list_functions(Marker=first["NextMarker"], MaxItems=50)
assert "NextMarker" not in rest, rest
assert sorted(f["FunctionName"] for f in first["Functions"] + rest["Functions"]) == sorted(names + [name])

# delete
lam.delete_function(FunctionName=name)
e = expect_error(NotFound, lam.get_function, FunctionName=name)
assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
expect_error(NotFound, lam.invoke, FunctionName=name)
print("OK")
