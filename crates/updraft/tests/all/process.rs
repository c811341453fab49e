//! Native-process functions (`provided.*`, `python3.x`) deployed and called
//! through the aws CLI and boto3, as Lambda users would.

use std::io::Write;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::*;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../runtime-process/tests/fixtures"
);

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    Server::shared(&S, &[])
}

/// A zip of `(name, bytes, mode)` entries.
fn zip_with_modes(files: &[(&str, Vec<u8>, u32)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, mode) in files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
}

/// AWS's custom-runtime tutorial: a shell `bootstrap` using curl.
fn tutorial_zip() -> Vec<u8> {
    zip_with_modes(&[
        ("bootstrap", fixture("tutorial/bootstrap"), 0o755),
        ("function.sh", fixture("tutorial/function.sh"), 0o644),
    ])
}

fn python_zip() -> Vec<u8> {
    zip_with_modes(&[("app.py", fixture("python/app.py"), 0o644)])
}

#[test]
fn shell_bootstrap_through_the_aws_cli() {
    let s = server();
    let name = unique("sh");
    let zip = s.write_file(&format!("{name}.zip"), &tutorial_zip());
    let created = ok_json(
        &s.aws_v2(&[
            "lambda",
            "create-function",
            "--function-name",
            &name,
            "--runtime",
            "provided.al2023",
            "--handler",
            "function.handler",
            "--role",
            ROLE,
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ]),
        "create-function",
    );
    assert_eq!(created["Runtime"], "provided.al2023");

    let payload = s.write_file("sh-payload.json", br#"{"n":1}"#);
    let out_file = s.scratch().join("sh-out.json");
    let meta = ok_json(
        &s.aws_v1(&[
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
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        r#"Echoing request: '{"n":1}'"#
    );
    let log = String::from_utf8(b64_decode(meta["LogResult"].as_str().unwrap())).unwrap();
    assert!(log.contains("Init Duration"), "{log}");
    assert!(log.contains(r#"{"n":1}"#), "the handler's stderr: {log}");
}

#[test]
fn python_handler_through_boto3_with_errors_and_warm_state() {
    let s = server();
    let name = unique("py");
    let zip = s.write_file(&format!("{name}.zip"), &python_zip());
    let out = s.boto3("process_python.py", &[&name, zip.to_str().unwrap()]);
    let v: Value = serde_json::from_str(ok(&out, "boto3 python").trim()).unwrap();
    assert_eq!(v["ok0"]["event"], json!({"i": 0}));
    assert_eq!(v["ok0"]["env"]["GREETING"], "hi");
    assert_eq!(v["ok0"]["env"]["AWS_LAMBDA_FUNCTION_NAME"], name.as_str());
    assert_eq!(v["ok1"]["count"], 2, "state survives warm invocations: {v}");
    assert_eq!(v["error"]["FunctionError"], "Unhandled");
    assert_eq!(v["error"]["Payload"]["errorType"], "ValueError");
    assert_eq!(v["error"]["Payload"]["errorMessage"], "bad value: 7");
    assert!(v["error"]["Log"]
        .as_str()
        .unwrap()
        .contains("REPORT RequestId"));
    let unknown = v["unknown_runtime"].as_str().unwrap();
    assert!(
        unknown.contains("python3.11") && unknown.contains("provided.al2023"),
        "{unknown}"
    );
}

#[test]
fn process_function_behind_a_function_url_and_its_timeout() {
    let s = server();
    let name = unique("pyurl");
    let r = s.create_function_zip(
        &name,
        &python_zip(),
        json!({"Runtime": "python3.11", "Handler": "app.handler", "Timeout": 1}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let url = s.create_url(&name, "NONE", None);
    let resp = http().request("POST", &format!("{url}items?x=1"), &[], b"hello");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["event"]["version"], "2.0");
    assert_eq!(body["event"]["rawPath"], "/items");
    assert_eq!(body["event"]["body"], "hello");

    let r = s.invoke(&name, br#"{"action":"sleep","seconds":3}"#);
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert!(
        r.text().contains("Task timed out after 1.00 seconds"),
        "{}",
        r.text()
    );
    // A new environment serves the next call.
    let r = s.invoke(&name, b"{}");
    assert_eq!(r.header("x-amz-function-error"), None, "{}", r.text());
}

#[test]
fn a_package_without_bootstrap_is_refused() {
    let s = server();
    let r = s.create_function_zip(
        &unique("nobootstrap"),
        &zip_with_modes(&[("run.sh", b"#!/bin/sh\n".to_vec(), 0o755)]),
        json!({"Runtime": "provided.al2023", "Handler": "x"}),
    );
    let msg = r.assert_error(400, "InvalidParameterValueException");
    assert!(msg.contains("bootstrap"), "{msg}");
    s.assert_alive();
}
