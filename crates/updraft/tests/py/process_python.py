"""A python3.11 function through boto3: create, invoke twice (warm state),
a handled error with its log, and an unknown runtime.

usage: process_python.py ENDPOINT NAME ZIP
Prints one JSON document with what each call returned.
"""

import base64
import json
import sys

from common import lambda_client

endpoint, name, zip_path = sys.argv[1], sys.argv[2], sys.argv[3]
lam = lambda_client(endpoint)
with open(zip_path, "rb") as f:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/updraft",
        Code={"ZipFile": f.read()},
        Environment={"Variables": {"GREETING": "hi"}},
    )
out = {}
for i in range(2):
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"i": i}))
    out[f"ok{i}"] = json.loads(r["Payload"].read())
r = lam.invoke(
    FunctionName=name,
    Payload=json.dumps({"action": "raise", "value": 7}),
    LogType="Tail",
)
out["error"] = {
    "FunctionError": r.get("FunctionError"),
    "Payload": json.loads(r["Payload"].read()),
    "Log": base64.b64decode(r["LogResult"]).decode(),
}
try:
    lam.create_function(
        FunctionName=name + "-x",
        Runtime="ruby3.3",
        Handler="a.b",
        Role="arn:aws:iam::000000000000:role/updraft",
        Code={"ZipFile": open(zip_path, "rb").read()},
    )
except lam.exceptions.InvalidParameterValueException as e:
    out["unknown_runtime"] = str(e)
print(json.dumps(out))
