//! Control-plane details the clients rely on: qualified names and ARNs,
//! Publish flags, revision checks, alias rules, name validation.

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

fn fpath(name: &str) -> String {
    format!("/2015-03-31/functions/{name}")
}

#[test]
fn arns_and_qualified_names_resolve() {
    let s = server();
    let name = unique("arn");
    let created = s.deploy(&name, guests::HTTP_ECHO, json!({"Publish": true}));
    assert_eq!(created["Version"], "1", "Publish on create: {created}");
    assert!(created["FunctionArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":function:{name}:1")));
    let arn = format!("arn:aws:lambda:us-east-1:000000000000:function:{name}");
    for (target, version) in [
        (arn.clone(), "$LATEST"),
        (format!("{arn}:1"), "1"),
        (format!("{name}:1"), "1"),
        (format!("{name}:%24LATEST"), "$LATEST"),
    ] {
        let r = s.signed(
            "POST",
            &format!("{}/invocations", fpath(&target)),
            &[],
            b"{}",
        );
        assert_eq!(r.status, 200, "{target}: {}", r.text());
        assert_eq!(
            r.header("x-amz-executed-version"),
            Some(version),
            "{target}"
        );
    }
    let r = s.signed(
        "POST",
        &format!("{}/invocations?Qualifier=%24LATEST", fpath(&name)),
        &[],
        b"{}",
    );
    assert_eq!(r.header("x-amz-executed-version"), Some("$LATEST"));
    // A qualifier in the name and a different one in the query.
    let r = s.signed(
        "POST",
        &format!(
            "{}/invocations?Qualifier=%24LATEST",
            fpath(&format!("{name}:1"))
        ),
        &[],
        b"{}",
    );
    r.assert_error(400, "InvalidParameterValueException");
    let got = s.api("GET", &format!("{}?Qualifier=1", fpath(&name)), None);
    assert_eq!(got.json()["Configuration"]["Version"], "1");
}

#[test]
fn update_code_with_publish_and_revision_checks() {
    let s = server();
    let name = unique("rev");
    let created = s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.api(
        "PUT",
        &format!("{}/code", fpath(&name)),
        Some(json!({"ZipFile": b64(&guest_zip(guests::HTTP_STATE)), "Publish": true})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Version"], "1");
    let r = s.api(
        "PUT",
        &format!("{}/configuration", fpath(&name)),
        Some(json!({"Timeout": 5, "RevisionId": created["RevisionId"]})),
    );
    r.assert_error(412, "PreconditionFailedException");
    let current = s
        .api("GET", &format!("{}/configuration", fpath(&name)), None)
        .json();
    let r = s.api(
        "PUT",
        &format!("{}/configuration", fpath(&name)),
        Some(json!({"Timeout": 5, "RevisionId": current["RevisionId"]})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(r.json()["RevisionId"], current["RevisionId"]);
    // Publishing without a change returns the latest version again.
    let v = s.api(
        "POST",
        &format!("{}/versions", fpath(&name)),
        Some(json!({})),
    );
    assert_eq!(v.json()["Version"], "2");
    let again = s.api(
        "POST",
        &format!("{}/versions", fpath(&name)),
        Some(json!({})),
    );
    assert_eq!(again.json()["Version"], "2");
}

#[test]
fn alias_rules() {
    let s = server();
    let name = unique("alias");
    s.deploy(&name, guests::HTTP_ECHO, json!({"Publish": true}));
    let aliases = format!("{}/aliases", fpath(&name));
    let r = s.api(
        "POST",
        &aliases,
        Some(json!({"Name": "a1", "FunctionVersion": "1"})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    s.api(
        "POST",
        &aliases,
        Some(json!({"Name": "a1", "FunctionVersion": "1"})),
    )
    .assert_error(409, "ResourceConflictException");
    s.api(
        "POST",
        &aliases,
        Some(json!({"Name": "a2", "FunctionVersion": "9"})),
    )
    .assert_error(404, "ResourceNotFoundException");
    s.api(
        "POST",
        &aliases,
        Some(json!({"Name": "5", "FunctionVersion": "1"})),
    )
    .assert_error(400, "ValidationException");
    // A version an alias points at cannot be deleted.
    let msg = s
        .api("DELETE", &format!("{}?Qualifier=1", fpath(&name)), None)
        .assert_error(409, "ResourceConflictException");
    assert!(msg.contains("a1"), "{msg}");
    // Deleting the function deletes its versions and aliases.
    assert_eq!(s.api("DELETE", &fpath(&name), None).status, 204);
    s.api("GET", &format!("{aliases}/a1"), None)
        .assert_error(404, "ResourceNotFoundException");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let versions = s
        .api("GET", &format!("{}/versions", fpath(&name)), None)
        .json();
    assert_eq!(
        versions["Versions"].as_array().unwrap().len(),
        1,
        "{versions}"
    );
}

#[test]
fn names_and_runtimes_are_validated() {
    let s = server();
    let zip = guest_zip(guests::HTTP_ECHO);
    for bad in ["a b", &"x".repeat(65), "semi;colon"] {
        let r = s.create_function_zip(bad, &zip, json!({}));
        r.assert_error(400, "ValidationException");
    }
    let r = s.create_function_zip(&unique("rt"), &zip, json!({"Runtime": "ruby3.3"}));
    let msg = r.assert_error(400, "InvalidParameterValueException");
    for supported in ["wasm", "provided.al2023", "python3.11"] {
        assert!(msg.contains(supported), "{msg}");
    }
    // A runtime that exists, with code of another kind.
    let r = s.create_function_zip(&unique("rt"), &zip, json!({"Runtime": "python3.12"}));
    let msg = r.assert_error(400, "InvalidParameterValueException");
    assert!(msg.contains(".py"), "{msg}");
    let r = s.api(
        "POST",
        "/2015-03-31/functions",
        Some(
            json!({"FunctionName": unique("nocode"), "Runtime": "wasm", "Role": ROLE, "Code": {}}),
        ),
    );
    r.assert_error(400, "InvalidParameterValueException");
    let r = s.api(
        "POST",
        &format!("/2021-10-31/functions/{}/url", unique("nofn")),
        Some(json!({"AuthType": "NONE"})),
    );
    r.assert_error(404, "ResourceNotFoundException");
    s.assert_alive();
}

#[test]
fn list_function_url_configs() {
    let s = server();
    let name = unique("urls");
    s.deploy(&name, guests::HTTP_ECHO, json!({"Publish": true}));
    let r = s.api(
        "POST",
        &format!("{}/aliases", fpath(&name)),
        Some(json!({"Name": "live", "FunctionVersion": "1"})),
    );
    assert_eq!(r.status, 201);
    s.create_url(&name, "NONE", None);
    s.create_url(&name, "AWS_IAM", Some("live"));
    let r = s.api("GET", &format!("/2021-10-31/functions/{name}/urls"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let configs = r.json()["FunctionUrlConfigs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut auth: Vec<&str> = configs
        .iter()
        .map(|c| c["AuthType"].as_str().unwrap())
        .collect();
    auth.sort();
    assert_eq!(auth, ["AWS_IAM", "NONE"]);
}

#[test]
fn list_functions_with_all_versions() {
    let s = Server::start(&[]);
    s.deploy("multi", guests::HTTP_ECHO, json!({"Publish": true}));
    let v = s.api(
        "PUT",
        "/2015-03-31/functions/multi/configuration",
        Some(json!({"Timeout": 4})),
    );
    assert_eq!(v.status, 200);
    let v = s.api(
        "POST",
        "/2015-03-31/functions/multi/versions",
        Some(json!({})),
    );
    assert_eq!(v.json()["Version"], "2");
    let listed = s
        .api("GET", "/2015-03-31/functions?FunctionVersion=ALL", None)
        .json();
    let versions: Vec<&str> = listed["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Version"].as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), 3, "$LATEST, 1 and 2: {listed}");
}

#[test]
fn code_location_downloads_the_package() {
    let s = server();
    let name = unique("location");
    let zip = guest_zip(guests::HTTP_ECHO);
    let r = s.create_function_zip(&name, &zip, json!({}));
    assert_eq!(r.status, 201);
    let got: Value = s.api("GET", &fpath(&name), None).json();
    let location = got["Code"]["Location"].as_str().expect("Code.Location");
    let r = http().get(location);
    assert_eq!(r.status, 200, "{location}: {}", r.text());
    assert_eq!(r.body, zip);
}
