//! The examples of `examples/`, deployed and called as a user would.

use serde_json::{json, Value};

use crate::support::*;

/// Built by `scripts/build-python-example target/guests` (which
/// `scripts/test` runs before the suite).
fn python_hello() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/guests/python_hello.wasm"
    );
    assert!(
        std::path::Path::new(path).is_file(),
        "{path} is missing: run scripts/build-python-example target/guests (scripts/test does)"
    );
    path.to_string()
}

#[test]
fn python_component_serves_its_url_and_invokes() {
    let s = Server::start(&[]);
    let name = unique("py");
    s.deploy(
        &name,
        &python_hello(),
        json!({"MemorySize": 256, "Timeout": 30}),
    );
    let url = s.create_url(&name, "NONE", None);

    let r = http().get(&format!("{url}greet?x=1"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("Hello from Python on updraft!"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("GET /greet?x=1"), "{}", r.text());
    let first: u64 = r.header("x-invocation-count").unwrap().parse().unwrap();

    let r = s.invoke(&name, br#"{"name":"Ada"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-function-error"), None, "{}", r.text());
    let body: Value = r.json();
    assert_eq!(body["message"], "Hello, Ada!");
    assert!(r.log_tail().contains("REPORT RequestId:"));

    // The module-level counter survives between warm invocations.
    let r = http().get(&url);
    let later: u64 = r.header("x-invocation-count").unwrap().parse().unwrap();
    assert!(later > first, "warm state kept: {first} then {later}");
}

#[test]
fn rust_examples_answer_as_documented() {
    let s = Server::start(&[]);
    let hello = unique("hello");
    s.deploy(&hello, guests::EXAMPLE_HELLO_HTTP, json!({}));
    let url = s.create_url(&hello, "NONE", None);
    let r = http().get(&format!("{url}abc"));
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("Hello from updraft!"), "{}", r.text());
    assert!(r.text().contains("GET /abc"), "{}", r.text());

    let event = unique("event");
    s.deploy(&event, guests::EXAMPLE_JSON_EVENT, json!({}));
    let r = s.invoke(&event, br#"{"name":"Grace"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"message": "Hello, Grace!"}));
}
