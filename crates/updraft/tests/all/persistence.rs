//! Everything survives a restart on the same data directory, and the
//! compiled code is reused, not compiled again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde_json::json;

use crate::support::*;

/// Every file under `dir` with its modification time.
fn files_with_mtimes(dir: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(
                    e.path().strip_prefix(dir).unwrap().display().to_string(),
                    meta.modified().unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn functions_versions_aliases_and_urls_survive_a_restart() {
    let mut s = Server::start(&[]);
    let name = "keep";
    let created = s.deploy(
        name,
        guests::HTTP_ECHO,
        json!({"MemorySize": 256, "Environment": {"Variables": {"KEPT": "1"}}}),
    );
    let v = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/versions"),
        Some(json!({})),
    );
    assert_eq!(v.status, 201, "{}", v.text());
    let a = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/aliases"),
        Some(json!({"Name": "stable", "FunctionVersion": "1", "Description": "kept"})),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    // $LATEST moves on after the version was published.
    let r = s.api(
        "PUT",
        &format!("/2015-03-31/functions/{name}/code"),
        Some(json!({"ZipFile": b64(&guest_zip(guests::EXAMPLE_HELLO_HTTP))})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    s.create_url(name, "NONE", None);
    s.create_url(name, "AWS_IAM", Some("stable"));
    let before = s.invoke(name, b"{}");
    assert!(before.text().starts_with("Hello from updraft!"));
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations?Qualifier=stable"),
        &[],
        b"{\"before\":1}",
    );
    assert_eq!(r.header("x-amz-executed-version"), Some("1"));
    let before_ids = [
        before.header("x-amzn-requestid").unwrap().to_string(),
        r.header("x-amzn-requestid").unwrap().to_string(),
    ];
    let old_credentials = s.credentials();

    let compiled_dir = s.data_dir().join("compiled");
    let compiled = files_with_mtimes(&compiled_dir);
    assert!(
        !compiled.is_empty(),
        "nothing under {}",
        compiled_dir.display()
    );

    s.restart();

    assert_eq!(s.credentials(), old_credentials, "the credentials are kept");
    let got = s.api("GET", &format!("/2015-03-31/functions/{name}"), None);
    assert_eq!(got.status, 200, "{}", got.text());
    let config = &got.json()["Configuration"];
    assert_eq!(config["MemorySize"], 256);
    assert_eq!(config["Environment"]["Variables"]["KEPT"], "1");
    assert_ne!(
        config["CodeSha256"], created["CodeSha256"],
        "$LATEST is the updated code"
    );
    let versions = s
        .api(
            "GET",
            &format!("/2015-03-31/functions/{name}/versions"),
            None,
        )
        .json();
    let versions: Vec<&str> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["$LATEST", "1"]);
    let alias = s.api(
        "GET",
        &format!("/2015-03-31/functions/{name}/aliases/stable"),
        None,
    );
    assert_eq!(alias.status, 200, "{}", alias.text());
    assert_eq!(alias.json()["FunctionVersion"], "1");
    assert_eq!(alias.json()["Description"], "kept");
    let url = s.api("GET", &format!("/2021-10-31/functions/{name}/url"), None);
    assert_eq!(url.status, 200, "{}", url.text());
    assert_eq!(url.json()["AuthType"], "NONE");
    assert_eq!(
        url.json()["FunctionUrl"],
        format!("{}/fn/{name}/", s.url),
        "the URL names where the server listens now"
    );
    let iam = s.api(
        "GET",
        &format!("/2021-10-31/functions/{name}/url?Qualifier=stable"),
        None,
    );
    assert_eq!(iam.status, 200, "{}", iam.text());
    assert_eq!(iam.json()["AuthType"], "AWS_IAM");

    // Invocations work: $LATEST, the alias (version 1), the URLs.
    let r = s.invoke(name, b"{}");
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("Hello from updraft!"), "{}", r.text());
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations?Qualifier=stable"),
        &[],
        b"{\"after\":1}",
    );
    assert_eq!(r.header("x-amz-executed-version"), Some("1"));
    assert_eq!(r.json()["body"], "{\"after\":1}");
    let r = s.get(&format!("/fn/{name}/x"));
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("Hello from updraft!"));
    assert_eq!(
        s.get(&format!("/fn/{name}:stable/x")).status,
        403,
        "still AWS_IAM"
    );
    let r = s.signed("GET", &format!("/fn/{name}:stable/x"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/x");

    // Nothing was compiled again.
    assert_eq!(
        files_with_mtimes(&compiled_dir),
        compiled,
        "compiled/ changed"
    );

    // The logs from before the restart are still there (read with the aws CLI).
    let out = s.aws_v1(&[
        "logs",
        "filter-log-events",
        "--log-group-name",
        "/aws/lambda/keep",
    ]);
    let logs = ok_json(&out, "aws logs filter-log-events");
    let text: String = logs["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    for id in &before_ids {
        assert!(
            text.contains(&format!("START RequestId: {id}")),
            "{id} is missing: {text}"
        );
    }
}

/// A second server on a data directory in use refuses to start, naming
/// the directory and the running server's pid, and the first one keeps
/// serving.
#[test]
fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let server = Server::start(&[]);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_updraft"))
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running a second updraft serve");
    assert!(!second.status.success(), "the second server started");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("is in use by another updraft server")
            && stderr.contains(&format!("pid {}", server.pid())),
        "{stderr}"
    );
    server.assert_alive();
}
