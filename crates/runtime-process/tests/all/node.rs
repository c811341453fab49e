//! `nodejs20.x`, `nodejs22.x`: handlers run by the platform's runtime
//! interface client on the node's `node`, with the AWS SDK for JavaScript
//! installed once per target directory (needs the npm registry once).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

use crate::*;

/// The SDK directory shared by every test of this run.
fn node_sdk_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("process-runtime-nodejs");
        let _lock = FileLock::take(&dir.with_extension("lock"));
        updraft_runtime_process::install_node_sdk(Path::new("node"), &dir)
            .expect("installing the AWS SDK for JavaScript (needs the npm registry)");
        dir
    })
    .clone()
}

fn node_fixture() -> Fixture {
    let dir = node_sdk_dir();
    runtime_with(|c| c.node_runtime_dir = dir)
}

/// Every file under `tests/fixtures/node`, with its relative path.
fn app() -> CodeArchive {
    fn walk(base: &Path, dir: &Path, files: &mut Vec<updraft_types::ArchiveFile>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, files);
            } else {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy();
                files.push(file(&rel, std::fs::read(&path).unwrap(), 0o100644));
            }
        }
    }
    let base = Path::new(FIXTURES).join("node");
    let mut files = Vec::new();
    walk(&base, &base, &mut files);
    archive(files)
}

async fn started(fx: &Fixture, runtime: &str, handler: &str) -> Box<dyn Environment> {
    let t = template(&fx.rt, runtime, &app());
    start_ok(&t, &env_config(Some(handler))).await
}

async fn call(env: &mut Box<dyn Environment>, event: Value) -> Ran {
    invoke(env, event.to_string(), Duration::from_secs(5)).await
}

/// `<ISO time>\t<request id>\t<LEVEL>\t<message>`, as Lambda writes
/// console lines.
fn has_line(log: &str, request_id: &str, level: &str, message: &str) -> bool {
    log.lines().any(|line| {
        let parts: Vec<&str> = line.splitn(4, '\t').collect();
        parts.len() == 4
            && chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok()
            && parts[0].ends_with('Z')
            && parts[1] == request_id
            && parts[2] == level
            && parts[3] == message
    })
}

#[tokio::test]
async fn commonjs_handler_gets_lambdas_context_environment_and_log_format() {
    let fx = node_fixture();
    let t = template(&fx.rt, "nodejs20.x", &app());
    let (env, init_log) = start(&t, &env_config(Some("app.handler"))).await;
    let mut env = env.unwrap_or_else(|e| panic!("{e:?}\n{init_log}"));
    assert!(
        has_line(&init_log, "undefined", "INFO", "init: app module loaded"),
        "init log: {init_log}"
    );
    for n in 1..=2 {
        let ran = call(&mut env, json!({"name": "world"})).await;
        let v = ran.json();
        assert_eq!(v["event"], json!({"name": "world"}));
        assert_eq!(v["count"], n, "warm invocations share module state");
        assert_eq!(v["requestId"], ran.request_id.as_str());
        assert_eq!(v["functionName"], "test-fn");
        assert_eq!(v["functionVersion"], "$LATEST");
        assert_eq!(v["memoryLimitInMB"], "128");
        assert_eq!(v["logGroupName"], "/aws/lambda/test-fn");
        assert!(v["logStreamName"].as_str().unwrap().contains("[$LATEST]"));
        assert_eq!(
            v["invokedFunctionArn"],
            "arn:aws:lambda:eu-west-1:000000000000:function:test-fn"
        );
        assert_eq!(v["waits"], true);
        let remaining = v["remaining"].as_i64().unwrap();
        assert!(remaining > 3000 && remaining <= 5000, "{remaining}");
        assert_eq!(v["cwd"], "/var/task");
        assert_eq!(v["uid"], 993);
        let env = &v["env"];
        assert_eq!(env["_HANDLER"], "app.handler");
        assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");
        assert_eq!(
            env["NODE_PATH"],
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:\
             /var/runtime/node_modules:/var/runtime:/var/task"
        );
        assert_eq!(
            env["PATH"],
            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
        );
        assert!(env["_X_AMZN_TRACE_ID"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-"));
        let id = ran.request_id.as_str();
        assert!(
            has_line(&ran.log, id, "INFO", &format!("handling {id} count={n}")),
            "log: {}",
            ran.log
        );
        assert!(has_line(&ran.log, id, "WARN", "a warning"), "{}", ran.log);
        assert!(
            has_line(&ran.log, id, "ERROR", "an error line"),
            "{}",
            ran.log
        );
        assert!(!ran.outcome.discard);
    }
}

#[tokio::test]
async fn every_module_style_and_nested_exports_load() {
    let fx = node_fixture();
    for (runtime, handler, expect) in [
        ("nodejs22.x", "esm.handler", json!("esm")),
        ("nodejs20.x", "legacy.handler", json!("cjs")),
        ("nodejs22.x", "typemod/index.handler", json!("type-module")),
    ] {
        let mut env = started(&fx, runtime, handler).await;
        let v = call(&mut env, json!({"k": 1})).await.json();
        assert_eq!(v["style"], expect, "{handler}: {v}");
        if handler == "esm.handler" {
            assert_eq!(v["helper"], "from a nested ES module");
            assert_eq!(v["sqs"], "function", "ES modules import the SDK: {v}");
            assert_eq!(v["event"], json!({"k": 1}));
        }
    }
    let mut env = started(&fx, "nodejs20.x", "app.nested.deeper.handler").await;
    assert_eq!(call(&mut env, json!({})).await.json(), "nested export");
}

#[tokio::test]
async fn the_sdk_is_provided_without_bundling() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs20.x", "app.handler").await;
    let v = call(&mut env, json!({"action": "sdk"})).await.json();
    assert_eq!(v["sqs"], "function");
    assert_eq!(v["command"], "function");
    assert_eq!(v["doc"], "function");
    assert_eq!(v["region"], "eu-west-1");
    assert!(
        v["from"]
            .as_str()
            .unwrap()
            .starts_with("/var/runtime/node_modules/@aws-sdk/client-sqs/"),
        "{v}"
    );
}

#[tokio::test]
async fn a_thrown_error_is_reported_with_its_trace_and_the_environment_stays() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs20.x", "app.handler").await;
    let ran = call(&mut env, json!({"action": "throw", "value": 7})).await;
    let e = ran.error();
    assert_eq!(e.error_type, "ValidationError");
    assert_eq!(e.error_message, "bad value: 7");
    assert_eq!(e.trace[0], "ValidationError: bad value: 7");
    assert!(e.trace[1].contains("/var/task/app.js"), "{:?}", e.trace);
    assert!(!ran.outcome.discard);
    assert!(
        ran.log
            .contains("\tERROR\tInvoke Error \t{\"errorType\":\"ValidationError\""),
        "{}",
        ran.log
    );
    let v = call(&mut env, json!({})).await.json();
    assert_eq!(v["count"], 2, "the same process serves on");
}

#[tokio::test]
async fn unhandled_rejections_and_uncaught_exceptions_fail_and_replace_the_process() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs20.x", "app.handler").await;
    let ran = call(&mut env, json!({"action": "reject"})).await;
    let e = ran.error();
    assert_eq!(e.error_type, "Runtime.UnhandledPromiseRejection");
    assert_eq!(e.error_message, "Error: nobody handles this");
    assert!(ran.outcome.discard, "the process ended: {:?}", ran.outcome);
    assert!(
        ran.log.contains("\tERROR\tUnhandled Promise Rejection \t"),
        "{}",
        ran.log
    );

    let mut env = started(&fx, "nodejs20.x", "app.handler").await;
    let ran = call(&mut env, json!({"action": "uncaught"})).await;
    let e = ran.error();
    assert_eq!(e.error_type, "RangeError");
    assert_eq!(e.error_message, "thrown from a timer");
    assert!(ran.outcome.discard);
}

#[tokio::test]
async fn callback_handlers_wait_for_the_event_loop_unless_told_not_to() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs20.x", "app.callback").await;
    let ran = call(&mut env, json!({})).await;
    assert_eq!(ran.json(), json!({"called": "back", "waited": true}));
    assert!(
        has_line(&ran.log, &ran.request_id, "INFO", "timer fired"),
        "the answer waited for the timer: {}",
        ran.log
    );
    let ran = call(&mut env, json!({"dontWait": true})).await;
    assert_eq!(ran.json(), json!({"called": "back", "waited": false}));
    assert!(
        !ran.log.contains("timer fired"),
        "the answer did not wait: {}",
        ran.log
    );
    let ran = call(&mut env, json!({"fail": true})).await;
    let e = ran.error();
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("Error", "callback failure")
    );
}

#[tokio::test]
async fn streamed_responses_are_collected_and_errors_come_from_the_trailers() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs22.x", "esm.streaming").await;
    let ran = call(&mut env, json!({})).await;
    let body = ran.body();
    let prelude = br#"{"statusCode":201,"headers":{"x-streamed":"yes"}}"#;
    let mut expected = prelude.to_vec();
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(b"first second");
    assert_eq!(body.as_ref(), expected.as_slice());
    let ran = call(&mut env, json!({"fail": true})).await;
    let e = ran.error();
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("Error", "broke mid-stream")
    );
}

#[tokio::test]
async fn init_failures_are_lambdas_runtime_errors() {
    let fx = node_fixture();
    for (handler, error_type, message) in [
        (
            "missing.handler",
            "Runtime.ImportModuleError",
            "Cannot find module 'missing'",
        ),
        (
            "broken.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError",
        ),
        (
            "app.nope",
            "Runtime.HandlerNotFound",
            "app.nope is undefined or not exported",
        ),
        ("app", "Runtime.MalformedHandlerName", "Bad handler"),
    ] {
        let t = template(&fx.rt, "nodejs20.x", &app());
        let (env, log) = start(&t, &env_config(Some(handler))).await;
        let e = env.err().unwrap_or_else(|| panic!("{handler} started"));
        assert_eq!(e.error_type, error_type, "{handler}: {e:?}\n{log}");
        assert!(e.error_message.contains(message), "{handler}: {e:?}");
        assert!(
            log.contains("\tundefined\tERROR\tUncaught Exception \t"),
            "{log}"
        );
    }
}

#[tokio::test]
async fn a_timeout_kills_the_process() {
    let fx = node_fixture();
    let mut env = started(&fx, "nodejs20.x", "app.handler").await;
    let ran = invoke(
        &mut env,
        json!({"action": "sleep", "ms": 5000}).to_string(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(ran.error().error_type, "Sandbox.Timedout");
    assert!(ran.outcome.discard);
}

#[tokio::test]
async fn missing_prerequisites_are_named_at_deploy() {
    let code = app();
    let fx = runtime_with(|c| c.node = PathBuf::from("/nonexistent/node"));
    let e = fx
        .rt
        .prepare("nodejs20.x", &sha_of(&code), &code)
        .unwrap_err();
    assert_eq!(
        e.0,
        "The runtime nodejs20.x is not available on this node: Node.js (/nonexistent/node) \
         was not found. Install it with `apt-get install nodejs`."
    );
    let availability = fx.rt.availability();
    let of = |name: &str| {
        availability
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .clone()
    };
    assert!(of("nodejs22.x").is_some());
    assert_eq!(of("provided.al2023"), None);

    let empty = tempfile::tempdir().unwrap();
    let fx = runtime_with(|c| c.node_runtime_dir = empty.path().join("sdk"));
    let e = fx
        .rt
        .prepare("nodejs22.x", &sha_of(&code), &code)
        .unwrap_err();
    assert!(
        e.0.starts_with("The runtime nodejs22.x is not available on this node: the AWS SDK for JavaScript is not installed in ")
            && e.0.contains("install-node-sdk.sh"),
        "{e}"
    );

    let sdk = node_sdk_dir();
    let fx = runtime_with(|c| {
        c.use_cgroups = false;
        c.node_runtime_dir = sdk;
    });
    let e = fx
        .rt
        .prepare("nodejs20.x", &sha_of(&code), &code)
        .unwrap_err();
    assert!(
        e.0.starts_with(
            "The runtime nodejs20.x is not available on this node: Node.js needs cgroups"
        ),
        "{e}"
    );

    let fx = runtime_with(|c| c.bwrap = PathBuf::from("/nonexistent/bwrap"));
    let e = fx
        .rt
        .prepare("python3.11", &sha_of(&code), &code)
        .unwrap_err();
    assert_eq!(
        e.0,
        "The runtime python3.11 is not available on this node: bubblewrap (/nonexistent/bwrap) \
         was not found. Install it with `apt-get install bubblewrap`."
    );
}

#[tokio::test]
async fn a_package_without_javascript_is_refused() {
    let fx = node_fixture();
    let code = archive(vec![file("README.md", "hi", 0o100644)]);
    let e = fx
        .rt
        .prepare("nodejs20.x", &sha_of(&code), &code)
        .unwrap_err();
    assert!(e.0.contains("no JavaScript module"), "{e}");
}
