//! Node.js functions (`nodejs20.x`, `nodejs22.x`) deployed and called with
//! the aws CLI and boto3, as Lambda users would: every module style, a
//! callback handler, errors, a timeout, an unhandled rejection, console
//! lines in the tail log, the context, the AWS SDK for JavaScript calling
//! the platform with the execution role, and the message a node without
//! Node.js gives.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::*;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../runtime-process/tests/fixtures/node"
);

/// The AWS SDK for JavaScript, installed once per target directory.
fn node_runtime_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/tmp/e2e-node-runtime"
        );
        updraft_runtime_process::install_node_sdk(Path::new("node"), Path::new(dir))
            .expect("installing the AWS SDK for JavaScript (needs the npm registry)");
        dir.to_string()
    })
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        Server::start_with_env(&[], &[("UPDRAFT_NODE_RUNTIME_DIR", node_runtime_dir())])
    })
}

/// Every file of the Node.js fixture, zipped with its relative path.
fn app_zip() -> Vec<u8> {
    fn walk(base: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, files);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(FIXTURES), Path::new(FIXTURES), &mut files);
    files.sort();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    guests::zip_files(&refs)
}

/// Creates, invokes and inspects functions with boto3; prints one JSON
/// document of what it saw.
const BOTO3_HANDLERS: &str = r#"
import base64, json, sys, boto3
endpoint, zip_path, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
code = open(zip_path, "rb").read()
out = {}

def create(name, runtime, handler, timeout=5):
    lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler,
                        Role="arn:aws:iam::000000000000:role/updraft",
                        Code={"ZipFile": code}, Timeout=timeout)

def invoke(name, event):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    return {"FunctionError": r.get("FunctionError"),
            "Payload": json.loads(r["Payload"].read() or b"null"),
            "Log": base64.b64decode(r["LogResult"]).decode()}

for key, runtime, handler in [("cjs", "nodejs20.x", "app.handler"),
                              ("cjs_ext", "nodejs22.x", "legacy.handler"),
                              ("mjs", "nodejs22.x", "esm.handler"),
                              ("type_module", "nodejs20.x", "typemod/index.handler"),
                              ("callback", "nodejs20.x", "app.callback")]:
    name = prefix + "-" + key.replace("_", "-")
    create(name, runtime, handler, timeout=1 if key == "cjs" else 5)
    out[key] = invoke(name, {"k": key})

cjs = prefix + "-cjs"
out["error"] = invoke(cjs, {"action": "throw", "value": 7})
out["after_error"] = invoke(cjs, {})
out["rejection"] = invoke(cjs, {"action": "reject"})
out["after_rejection"] = invoke(cjs, {})
out["timeout"] = invoke(cjs, {"action": "sleep", "ms": 3000})
out["after_timeout"] = invoke(cjs, {})
print(json.dumps(out))
"#;

#[test]
fn node_handlers_in_every_module_style_through_boto3() {
    let s = server();
    let prefix = unique("node");
    let zip = s.write_file(&format!("{prefix}.zip"), &app_zip());
    let out = s.boto3_inline(BOTO3_HANDLERS, &[zip.to_str().unwrap(), &prefix]);
    let v: Value = serde_json::from_str(ok(&out, "boto3 node").trim()).unwrap();

    let cjs = &v["cjs"]["Payload"];
    assert_eq!(v["cjs"]["FunctionError"], Value::Null, "{v}");
    assert_eq!(cjs["event"], json!({"k": "cjs"}));
    assert_eq!(cjs["functionName"], format!("{prefix}-cjs"));
    assert_eq!(cjs["functionVersion"], "$LATEST");
    assert_eq!(cjs["memoryLimitInMB"], "128");
    assert_eq!(cjs["logGroupName"], format!("/aws/lambda/{prefix}-cjs"));
    assert_eq!(
        cjs["invokedFunctionArn"],
        function_arn(&format!("{prefix}-cjs"))
    );
    let remaining = cjs["remaining"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 1000, "{remaining}");
    assert_eq!(cjs["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
    assert_eq!(v["cjs_ext"]["Payload"]["style"], "cjs", "{v}");
    assert_eq!(v["mjs"]["Payload"]["style"], "esm", "{v}");
    assert_eq!(v["mjs"]["Payload"]["sqs"], "function", "{v}");
    assert_eq!(v["type_module"]["Payload"]["style"], "type-module", "{v}");
    assert_eq!(
        v["callback"]["Payload"],
        json!({"called": "back", "waited": true})
    );
    assert!(
        v["callback"]["Log"]
            .as_str()
            .unwrap()
            .contains("\tINFO\ttimer fired"),
        "{v}"
    );

    let error = &v["error"];
    assert_eq!(error["FunctionError"], "Unhandled");
    assert_eq!(error["Payload"]["errorType"], "ValidationError");
    assert_eq!(error["Payload"]["errorMessage"], "bad value: 7");
    assert_eq!(
        error["Payload"]["trace"][0],
        "ValidationError: bad value: 7"
    );
    assert!(error["Log"]
        .as_str()
        .unwrap()
        .contains("\tERROR\tInvoke Error \t"));
    assert_eq!(
        v["after_error"]["Payload"]["count"], 3,
        "warm after an error: {v}"
    );

    let rejection = &v["rejection"];
    assert_eq!(rejection["FunctionError"], "Unhandled");
    assert_eq!(
        rejection["Payload"]["errorType"],
        "Runtime.UnhandledPromiseRejection"
    );
    assert_eq!(
        rejection["Payload"]["errorMessage"],
        "Error: nobody handles this"
    );
    assert_eq!(
        v["after_rejection"]["Payload"]["count"], 1,
        "a new process serves after an unhandled rejection: {v}"
    );

    let timeout = &v["timeout"];
    assert_eq!(timeout["FunctionError"], "Unhandled");
    assert_eq!(timeout["Payload"]["errorType"], "Sandbox.Timedout");
    assert!(timeout["Payload"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Task timed out after 1.00 seconds"));
    assert_eq!(v["after_timeout"]["FunctionError"], Value::Null, "{v}");
}

#[test]
fn console_lines_reach_the_tail_log_with_lambdas_prefix() {
    let s = server();
    let name = unique("node-cli");
    let zip = s.write_file(&format!("{name}.zip"), &app_zip());
    let created = ok_json(
        &s.aws_v2(&[
            "lambda",
            "create-function",
            "--function-name",
            &name,
            "--runtime",
            "nodejs22.x",
            "--handler",
            "app.handler",
            "--role",
            ROLE,
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ]),
        "create-function",
    );
    assert_eq!(created["Runtime"], "nodejs22.x");
    let payload = s.write_file(&format!("{name}.json"), br#"{"n":1}"#);
    let out_file = s.scratch().join(format!("{name}-out.json"));
    let meta = ok_json(
        &s.aws_v2(&[
            "lambda",
            "invoke",
            "--function-name",
            &name,
            "--payload",
            &format!("fileb://{}", payload.display()),
            "--log-type",
            "Tail",
            out_file.to_str().unwrap(),
        ]),
        "invoke",
    );
    assert_eq!(meta["StatusCode"], 200);
    let result: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let request_id = result["requestId"].as_str().unwrap();
    let log = String::from_utf8(b64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
    for (level, message) in [
        ("INFO", format!("handling {request_id} count=1")),
        ("WARN", "a warning".to_string()),
        ("ERROR", "an error line".to_string()),
    ] {
        let found = log.lines().any(|line| {
            let parts: Vec<&str> = line.splitn(4, '\t').collect();
            parts.len() == 4
                && parts[0].len() == "2024-01-01T00:00:00.000Z".len()
                && parts[0].ends_with('Z')
                && parts[1] == request_id
                && parts[2] == level
                && parts[3] == message
        });
        assert!(found, "no {level} line `{message}` in:\n{log}");
    }
    assert!(
        log.contains(&format!("START RequestId: {request_id}")),
        "{log}"
    );
}

/// A handler that sends to a queue with the SDK the runtime provides,
/// with nothing but its environment (endpoint and role credentials).
#[test]
fn the_sdk_calls_the_platform_with_the_execution_role() {
    let s = server();
    let queue = unique("node-q");
    let (queue_url, _) = s.create_queue(&queue, json!({}));
    let role = s.role_with_policy(
        "node-sender",
        "lambda.amazonaws.com",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": format!("arn:aws:sqs:us-east-1:000000000000:{queue}")}]}),
    );
    let handler = br#"
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
// The queue URL names the platform's listener, which the sandbox reaches
// only as AWS_ENDPOINT_URL: the client keeps to that endpoint.
const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
export const handler = async (event) => {
  try {
    const r = await sqs.send(new SendMessageCommand({ QueueUrl: event.queue, MessageBody: "from node" }));
    return { sent: true, id: r.MessageId, endpoint: process.env.AWS_ENDPOINT_URL };
  } catch (e) {
    return { sent: false, error: `${e.name}: ${e.message}` };
  }
};
"#;
    let name = unique("node-sdk");
    let zip = guests::zip_files(&[("index.mjs", handler)]);
    let r = s.create_function_zip(
        &name,
        &zip,
        json!({"Runtime": "nodejs20.x", "Handler": "index.handler", "Timeout": 30, "Role": role}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let sent = s.invoke(&name, json!({"queue": queue_url}).to_string().as_bytes());
    assert_eq!(sent.status, 200, "{}", sent.text());
    let v = sent.json();
    assert_eq!(v["sent"], true, "{v}\n{}", sent.log_tail());
    assert_eq!(v["endpoint"], "http://127.0.0.1:9000");
    let got = s.json_call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": queue_url, "WaitTimeSeconds": 1}),
    );
    assert_eq!(got.json()["Messages"][0]["Body"], "from node");

    let (other_url, _) = s.create_queue(&unique("node-other"), json!({}));
    let refused = s.invoke(&name, json!({"queue": other_url}).to_string().as_bytes());
    let v = refused.json();
    assert_eq!(v["sent"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("AccessDenied"),
        "{v}"
    );
}

#[test]
fn a_node_without_nodejs_names_what_to_install() {
    let s = Server::start_with_env(
        &["--node", "/nonexistent/bin/node"],
        &[("UPDRAFT_NODE_RUNTIME_DIR", node_runtime_dir())],
    );
    let r = s.create_function_zip(
        &unique("nonode"),
        &app_zip(),
        json!({"Runtime": "nodejs20.x", "Handler": "app.handler"}),
    );
    let msg = r.assert_error(400, "InvalidParameterValueException");
    assert_eq!(
        msg,
        "The runtime nodejs20.x is not available on this node: Node.js (/nonexistent/bin/node) \
         was not found. Install it with `apt-get install nodejs`."
    );
    let log = s.server_log();
    assert!(
        log.contains("native-process runtimes unavailable") && log.contains("nodejs22.x"),
        "the start-up log names the unavailable runtimes:\n{log}"
    );
}
