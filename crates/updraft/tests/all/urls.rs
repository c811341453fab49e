//! Function URLs: `/fn/NAME[:ALIAS]/...`.

use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

fn echo_with_url(prefix: &str, auth: &str) -> (String, String) {
    let s = server();
    let name = unique(prefix);
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let url = s.create_url(&name, auth, None);
    (name, url)
}

#[test]
fn none_get_reaches_the_function_with_path_query_and_headers() {
    let s = server();
    let (name, url) = echo_with_url("url-get", "NONE");
    assert_eq!(url, format!("{}/fn/{name}/", s.url));
    let r = http().request(
        "GET",
        &format!("{url}some/deep/path?a=1&b=two%20words&a=3"),
        &[("x-custom", "Hello, World"), ("accept", "text/plain")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/some/deep/path");
    assert_eq!(seen["query"], "a=1&b=two%20words&a=3");
    assert_eq!(seen["headers"]["x-custom"], "Hello, World");
    assert_eq!(seen["headers"]["accept"], "text/plain");
    assert_eq!(seen["body"], "");

    // Without the trailing slash, the function sees `/`.
    let r = http().get(&format!("{}/fn/{name}", s.url));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/");
}

#[test]
fn none_post_body_arrives_unchanged() {
    let (_, url) = echo_with_url("url-post", "NONE");
    let text = r#"{"hello":"wörld","n":[1,2,3]}"#;
    let r = http().request(
        "POST",
        &format!("{url}submit?x=y"),
        &[("content-type", "application/json")],
        text.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/submit");
    assert_eq!(seen["query"], "x=y");
    assert_eq!(seen["body"], text);
    assert_eq!(seen["headers"]["content-type"], "application/json");

    // Binary bytes, streamed back by `/echo-body`.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let r = http().request("PUT", &format!("{url}echo-body"), &[], &bytes);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(
        r.body == bytes,
        "the body came back changed ({} bytes)",
        r.body.len()
    );

    // Other methods pass through too.
    let r = http().request("DELETE", &format!("{url}thing/7"), &[], b"");
    assert_eq!(r.json()["method"], "DELETE");
    assert_eq!(r.json()["path"], "/thing/7");
}

#[test]
fn unknown_function_or_missing_url_config_is_404() {
    let s = server();
    assert_eq!(s.get("/fn/no-such-function/").status, 404);
    let name = unique("url-none");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    // The function exists but has no URL config.
    assert_eq!(s.get(&format!("/fn/{name}/")).status, 404);
}

#[test]
fn aws_iam_needs_a_signature() {
    let s = server();
    let (_, url) = echo_with_url("url-iam", "AWS_IAM");
    let target = format!("{url}private?q=1");

    let r = http().request("GET", &target, &[], b"");
    assert_eq!(r.status, 403, "unsigned: {}", r.text());

    let body = br#"{"signed":true}"#;
    let headers = sign_headers(
        "POST",
        &target,
        &[("content-type", "application/json")],
        body,
        &s.credentials(),
        "lambda",
        SystemTime::now(),
    );
    let r = http().send("POST", &target, &headers, body.to_vec());
    assert_eq!(r.status, 200, "signed: {}", r.text());
    let seen = r.json();
    assert_eq!(seen["path"], "/private");
    assert_eq!(seen["query"], "q=1");
    assert_eq!(seen["body"], r#"{"signed":true}"#);

    // Signed for another service, or with a wrong secret: 403.
    let headers = sign_headers(
        "GET",
        &target,
        &[],
        b"",
        &s.credentials(),
        "s3",
        SystemTime::now(),
    );
    assert_eq!(http().send("GET", &target, &headers, vec![]).status, 403);
    let mut wrong = s.credentials();
    wrong.secret_access_key = "x".repeat(40);
    let headers = sign_headers(
        "GET",
        &target,
        &[],
        b"",
        &wrong,
        "lambda",
        SystemTime::now(),
    );
    assert_eq!(http().send("GET", &target, &headers, vec![]).status, 403);
}

#[test]
fn aws_iam_accepts_botocore_sigv4auth() {
    let s = server();
    let (_, url) = echo_with_url("url-iam-boto", "AWS_IAM");
    let out = s.boto3("url_iam.py", &[&url]);
    let stdout = ok(&out, "tests/py/url_iam.py");
    let mut lines = stdout.lines();
    let signed = lines.next().expect("signed line");
    let (status, body) = signed.split_once(' ').expect("status and body");
    assert_eq!(status, "200", "{stdout}");
    let seen: Value = serde_json::from_str(body).expect("echo JSON");
    assert_eq!(seen["path"], "/signed/path");
    assert_eq!(seen["body"], r#"{"signed":true}"#);
    let unsigned = lines.next().expect("unsigned line");
    assert!(unsigned.starts_with("403 "), "{stdout}");
}

#[test]
fn command_function_gets_a_payload_2_event() {
    let s = server();
    let name = unique("url-cmd");
    s.deploy(&name, guests::CMD_ECHO, json!({}));
    let url = s.create_url(&name, "NONE", None);
    let r = http().request(
        "POST",
        &format!("{url}a/b?x=1&y=two"),
        &[
            ("content-type", "text/plain"),
            ("x-thing", "t"),
            ("cookie", "c1=v1; c2=v2"),
        ],
        b"hi there",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // CMD_ECHO answers the event itself: no statusCode, so the whole result
    // is the body of a 200.
    let event = r.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/a/b");
    assert_eq!(event["rawQueryString"], "x=1&y=two");
    assert_eq!(
        event["queryStringParameters"],
        json!({"x": "1", "y": "two"})
    );
    assert_eq!(event["headers"]["x-thing"], "t");
    assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(event["body"], "hi there");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(event["requestContext"]["http"]["path"], "/a/b");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
    assert!(event["requestContext"]["requestId"].is_string());

    // A binary body arrives base64-encoded.
    let r = http().request(
        "POST",
        &url,
        &[("content-type", "application/octet-stream")],
        &[0, 159, 146, 150],
    );
    let event = r.json();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(
        b64_decode(event["body"].as_str().unwrap()),
        vec![0, 159, 146, 150]
    );

    // The example json-event function answers JSON without statusCode.
    let name = unique("url-json-event");
    s.deploy(&name, guests::EXAMPLE_JSON_EVENT, json!({}));
    let url = s.create_url(&name, "NONE", None);
    let r = http().get(&url);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"message": "Hello, world!"}));
}

#[test]
fn command_result_with_status_code_is_mapped_to_the_response() {
    let s = server();
    let name = unique("url-status");
    let result = br#"{"statusCode":201,"headers":{"x-made-by":"p1","content-type":"text/plain"},"body":"created it"}"#;
    let zip = guests::zip_single("status.wasm", &p1_module_printing(result));
    let r = s.create_function_zip(&name, &zip, json!({}));
    assert_eq!(r.status, 201, "{}", r.text());
    // The Invoke API returns the result as it is.
    let r = s.invoke(&name, b"{}");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, result.to_vec());
    // A function URL maps it to the HTTP response.
    let url = s.create_url(&name, "NONE", None);
    let r = http().get(&format!("{url}anything"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-made-by"), Some("p1"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.text(), "created it");
}

#[test]
fn alias_qualified_url_serves_the_alias_version() {
    let s = server();
    let name = unique("url-alias");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let v = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/versions"),
        Some(json!({})),
    );
    assert_eq!(v.status, 201, "{}", v.text());
    assert_eq!(v.json()["Version"], "1");
    let a = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/aliases"),
        Some(json!({"Name": "prod", "FunctionVersion": "1"})),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    // $LATEST moves on to other code.
    let r = s.api(
        "PUT",
        &format!("/2015-03-31/functions/{name}/code"),
        Some(json!({"ZipFile": b64(&guest_zip(guests::EXAMPLE_HELLO_HTTP))})),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let prod_url = s.create_url(&name, "NONE", Some("prod"));
    assert_eq!(prod_url, format!("{}/fn/{name}:prod/", s.url));
    let latest_url = s.create_url(&name, "NONE", None);

    let r = http().get(&format!("{prod_url}via/alias?z=9"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/via/alias");
    assert_eq!(r.json()["query"], "z=9");

    let r = http().get(&latest_url);
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("Hello from updraft!"), "{}", r.text());

    // An alias without a URL config has no URL.
    assert_eq!(s.get(&format!("/fn/{name}:nope/")).status, 404);
}

#[test]
fn function_error_behind_a_url_is_a_502() {
    let s = server();
    let name = unique("url-trap");
    s.deploy(&name, guests::HTTP_TRAP, json!({}));
    let url = s.create_url(&name, "NONE", None);
    let r = http().get(&url);
    assert_eq!(r.status, 502, "{}", r.text());
    // HTTP_500 answers its own 500: passed through as is.
    let name = unique("url-500");
    s.deploy(&name, guests::HTTP_500, json!({}));
    let url = s.create_url(&name, "NONE", None);
    let r = http().get(&url);
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "boom");
    s.assert_alive();
}

#[test]
fn traceparent_reaches_the_function_as_a_child_span() {
    let s = server();
    let name = unique("trace");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let url = s.create_url(&name, "NONE", None);
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let r = http().request("GET", &url, &[("traceparent", caller)], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json()["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        seen.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{seen}"
    );
    assert_ne!(
        seen, caller,
        "the function's parent is the invocation's span"
    );

    // Without one, the invocation starts a trace of its own.
    let r = http().get(&url);
    let seen = r.json()["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(seen.len(), 55, "{seen}");
    assert!(!seen.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
}

/// A URL's `Cors` block is applied as Lambda applies it: a browser's
/// preflight is answered without invoking the function, answers to an
/// allowed origin carry the configured headers, other origins get none;
/// without the block `OPTIONS` reaches the function.
#[test]
fn cors_preflight_and_headers_follow_the_url_config() {
    let s = Server::start(&[]);
    let name = unique("cors");
    s.deploy(&name, guests::EXAMPLE_HELLO_HTTP, json!({}));
    let r = s.api(
        "POST",
        &format!("/2021-10-31/functions/{name}/url"),
        Some(json!({"AuthType": "NONE", "Cors": {
            "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-invocation-count"],
            "MaxAge": 300}})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let url = r.json()["FunctionUrl"].as_str().unwrap().to_string();
    let origin = ("origin", "https://app.example");

    let pre = http().request(
        "OPTIONS",
        &url,
        &[origin, ("access-control-request-method", "POST")],
        b"",
    );
    assert_eq!(pre.status, 200, "{}", pre.text());
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(pre.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(pre.header("access-control-max-age"), Some("300"));
    assert_eq!(pre.text(), "", "the preflight is the URL's answer");

    let get = http().request("GET", &url, &[origin], b"");
    assert_eq!(get.status, 200, "{}", get.text());
    assert!(
        get.text().starts_with("Hello from updraft!"),
        "{}",
        get.text()
    );
    assert_eq!(
        get.header("x-invocation-count"),
        Some("1"),
        "the preflight did not invoke the function"
    );
    assert_eq!(
        get.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        get.header("access-control-expose-headers"),
        Some("x-invocation-count")
    );

    let other = http().request("GET", &url, &[("origin", "https://other.example")], b"");
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);

    // Without a Cors block, OPTIONS is the function's to answer.
    let plain = unique("no-cors");
    s.deploy(&plain, guests::EXAMPLE_HELLO_HTTP, json!({}));
    let plain_url = s.create_url(&plain, "NONE", None);
    let passed = http().request(
        "OPTIONS",
        &plain_url,
        &[origin, ("access-control-request-method", "POST")],
        b"",
    );
    assert!(
        passed.text().contains("You sent OPTIONS /"),
        "{}",
        passed.text()
    );
    assert_eq!(passed.header("access-control-allow-origin"), None);
}
