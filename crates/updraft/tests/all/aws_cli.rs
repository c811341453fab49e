//! The aws CLI, v1 (pip) and v2 (Debian), through a function's whole life.

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Aws {
    V1,
    V2,
}

struct Cli<'a> {
    server: &'a Server,
    aws: Aws,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        match self.aws {
            Aws::V1 => self.server.aws_v1(args),
            Aws::V2 => self.server.aws_v2(args),
        }
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        ok_json(
            &self.run(args),
            &format!("aws {:?} {}", self.aws, args.join(" ")),
        )
    }

    /// Runs a command that must fail with `error_type`; returns stderr.
    #[track_caller]
    fn fails_with(&self, args: &[&str], error_type: &str) -> String {
        let out = self.run(args);
        let stderr = failed(&out, &format!("aws {:?} {}", self.aws, args.join(" ")));
        assert!(
            stderr.contains(&format!("An error occurred ({error_type})")),
            "aws {:?} {}: expected {error_type}, stderr: {stderr}",
            self.aws,
            args.join(" ")
        );
        stderr
    }

    /// `lambda invoke` with a JSON payload given inline; returns the
    /// printed response and what the function answered.
    fn invoke(&self, name: &str, payload: &str, extra: &[&str]) -> (Value, Vec<u8>) {
        let out_file = self.server.scratch().join(unique("out"));
        let out_path = out_file.to_str().expect("utf-8 path").to_string();
        let mut args = vec!["lambda", "invoke", "--function-name", name];
        if let Aws::V2 = self.aws {
            args.extend(["--cli-binary-format", "raw-in-base64-out"]);
        }
        args.extend(["--payload", payload]);
        args.extend(extra);
        args.push(&out_path);
        let printed = self.json(&args);
        let answer = std::fs::read(&out_file).unwrap_or_default();
        (printed, answer)
    }

    /// Log lines of a function, through `aws logs filter-log-events`.
    fn log_text(&self, name: &str) -> String {
        let group = format!("/aws/lambda/{name}");
        let v = self.json(&["logs", "filter-log-events", "--log-group-name", &group]);
        v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

fn zip_file(server: &Server, wasm: &str, name: &str) -> String {
    let path = server.write_file(name, &guest_zip(wasm));
    format!("fileb://{}", path.display())
}

fn full_lifecycle(aws: Aws) {
    let server = Server::start(&[]);
    let cli = Cli {
        server: &server,
        aws,
    };
    let name = "life";
    let hello = zip_file(&server, guests::EXAMPLE_HELLO_HTTP, "hello.zip");
    let echo = zip_file(&server, guests::HTTP_ECHO, "echo.zip");
    let env = zip_file(&server, guests::HTTP_ENV, "env.zip");

    // create-function, get-function, get-function-configuration
    let created = cli.json(&[
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "wasm",
        "--role",
        ROLE,
        "--zip-file",
        &hello,
    ]);
    assert_eq!(created["FunctionName"], name);
    assert_eq!(created["Runtime"], "wasm");
    assert_eq!(created["Version"], "$LATEST");
    assert_eq!(created["State"], "Active");
    assert_eq!(created["MemorySize"], 128);
    assert_eq!(created["Timeout"], 3);
    assert!(
        created["FunctionArn"]
            .as_str()
            .unwrap()
            .ends_with(":function:life"),
        "{created}"
    );
    let got = cli.json(&["lambda", "get-function", "--function-name", name]);
    assert_eq!(got["Configuration"]["FunctionName"], name);
    assert_eq!(got["Configuration"]["CodeSha256"], created["CodeSha256"]);
    assert!(got["Code"]["Location"].is_string(), "{got}");
    let config = cli.json(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        name,
    ]);
    assert_eq!(config["RevisionId"], created["RevisionId"]);
    assert_eq!(config["Role"], ROLE);

    // invoke, sync with the log tail
    let (printed, answer) = cli.invoke(name, r#"{"hello":"world"}"#, &["--log-type", "Tail"]);
    assert_eq!(printed["StatusCode"], 200, "{printed}");
    assert_eq!(printed["ExecutedVersion"], "$LATEST");
    assert!(printed.get("FunctionError").is_none(), "{printed}");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("Hello from updraft!"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let log = String::from_utf8(b64_decode(
        printed["LogResult"].as_str().expect("LogResult"),
    ))
    .expect("utf-8 log");
    assert!(log.contains("START RequestId: "), "{log}");
    assert!(log.contains("Version: $LATEST"), "{log}");
    assert!(log.contains("hello-http: POST /"), "{log}");
    assert!(log.contains("END RequestId: "), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");
    assert!(log.contains("Billed Duration: "), "{log}");

    // DryRun: 204, nothing runs
    let (printed, _) = cli.invoke(name, "{}", &["--invocation-type", "DryRun"]);
    assert_eq!(printed["StatusCode"], 204, "{printed}");

    // Event: 202, then the invocation shows up in the logs
    let (printed, _) = cli.invoke(name, "{}", &["--invocation-type", "Event"]);
    assert_eq!(printed["StatusCode"], 202, "{printed}");
    eventually(
        Duration::from_secs(15),
        "the async invocation's log",
        || {
            let text = cli.log_text(name);
            (text.matches("START RequestId: ").count() == 2
                && text.matches("REPORT RequestId").count() == 2)
                .then_some(())
        },
    );

    // update-function-code: the new code is served
    let updated = cli.json(&[
        "lambda",
        "update-function-code",
        "--function-name",
        name,
        "--zip-file",
        &echo,
    ]);
    assert_ne!(updated["CodeSha256"], created["CodeSha256"]);
    let (printed, answer) = cli.invoke(name, r#"{"k":"v1"}"#, &[]);
    assert_eq!(printed["StatusCode"], 200, "{printed}");
    let echoed: Value = serde_json::from_slice(&answer).expect("echo answers JSON");
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["body"], r#"{"k":"v1"}"#);

    // publish-version 1 (echo)
    let v1 = cli.json(&["lambda", "publish-version", "--function-name", name]);
    assert_eq!(v1["Version"], "1", "{v1}");

    // update-function-code + update-function-configuration (env code)
    cli.json(&[
        "lambda",
        "update-function-code",
        "--function-name",
        name,
        "--zip-file",
        &env,
    ]);
    let cfg = cli.json(&[
        "lambda",
        "update-function-configuration",
        "--function-name",
        name,
        "--memory-size",
        "256",
        "--timeout",
        "7",
        "--environment",
        r#"{"Variables":{"GREETING":"hi there","MODE":"test"}}"#,
    ]);
    assert_eq!(cfg["MemorySize"], 256, "{cfg}");
    assert_eq!(cfg["Timeout"], 7, "{cfg}");
    assert_eq!(
        cfg["Environment"]["Variables"]["GREETING"], "hi there",
        "{cfg}"
    );
    let config = cli.json(&[
        "lambda",
        "get-function-configuration",
        "--function-name",
        name,
    ]);
    assert_eq!(config["MemorySize"], 256);
    assert_eq!(config["Environment"]["Variables"]["MODE"], "test");
    let (_, answer) = cli.invoke(name, "{}", &[]);
    let seen: Value = serde_json::from_slice(&answer).expect("env answers JSON");
    assert_eq!(seen["env"]["GREETING"], "hi there", "{seen}");
    assert_eq!(seen["env"]["MODE"], "test", "{seen}");
    assert_eq!(
        seen["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256",
        "{seen}"
    );
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_NAME"], name, "{seen}");

    // publish-version 2 (env), list-versions-by-function
    let v2 = cli.json(&["lambda", "publish-version", "--function-name", name]);
    assert_eq!(v2["Version"], "2", "{v2}");
    let versions = cli.json(&[
        "lambda",
        "list-versions-by-function",
        "--function-name",
        name,
    ]);
    let listed: Vec<&str> = versions["Versions"]
        .as_array()
        .expect("Versions")
        .iter()
        .map(|v| v["Version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["$LATEST", "1", "2"], "{versions}");

    // aliases
    let alias = cli.json(&[
        "lambda",
        "create-alias",
        "--function-name",
        name,
        "--name",
        "live",
        "--function-version",
        "1",
    ]);
    assert_eq!(alias["Name"], "live");
    assert_eq!(alias["FunctionVersion"], "1");
    assert!(alias["AliasArn"]
        .as_str()
        .unwrap()
        .ends_with(":function:life:live"));
    let alias = cli.json(&[
        "lambda",
        "get-alias",
        "--function-name",
        name,
        "--name",
        "live",
    ]);
    assert_eq!(alias["FunctionVersion"], "1");

    // invoke by version and by alias
    let (printed, answer) = cli.invoke(name, r#"{"via":"version"}"#, &["--qualifier", "1"]);
    assert_eq!(printed["ExecutedVersion"], "1", "{printed}");
    let echoed: Value = serde_json::from_slice(&answer).expect("version 1 is echo");
    assert_eq!(echoed["body"], r#"{"via":"version"}"#);
    let (printed, answer) = cli.invoke(name, "{}", &["--qualifier", "2"]);
    assert_eq!(printed["ExecutedVersion"], "2", "{printed}");
    let seen: Value = serde_json::from_slice(&answer).expect("version 2 is env");
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "2");
    let (printed, answer) = cli.invoke(name, r#"{"via":"alias"}"#, &["--qualifier", "live"]);
    assert_eq!(printed["ExecutedVersion"], "1", "{printed}");
    let echoed: Value = serde_json::from_slice(&answer).expect("live is version 1 (echo)");
    assert_eq!(echoed["body"], r#"{"via":"alias"}"#);

    let alias = cli.json(&[
        "lambda",
        "update-alias",
        "--function-name",
        name,
        "--name",
        "live",
        "--function-version",
        "2",
    ]);
    assert_eq!(alias["FunctionVersion"], "2");
    let (printed, _) = cli.invoke(name, "{}", &["--qualifier", "live"]);
    assert_eq!(printed["ExecutedVersion"], "2", "{printed}");
    let aliases = cli.json(&["lambda", "list-aliases", "--function-name", name]);
    let names: Vec<&str> = aliases["Aliases"]
        .as_array()
        .expect("Aliases")
        .iter()
        .map(|a| a["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["live"]);
    let out = cli.run(&[
        "lambda",
        "delete-alias",
        "--function-name",
        name,
        "--name",
        "live",
    ]);
    ok(&out, "delete-alias");
    cli.fails_with(
        &[
            "lambda",
            "get-alias",
            "--function-name",
            name,
            "--name",
            "live",
        ],
        "ResourceNotFoundException",
    );

    // function URL config
    let url = cli.json(&[
        "lambda",
        "create-function-url-config",
        "--function-name",
        name,
        "--auth-type",
        "NONE",
    ]);
    assert_eq!(url["AuthType"], "NONE");
    let function_url = url["FunctionUrl"]
        .as_str()
        .expect("FunctionUrl")
        .to_string();
    assert!(function_url.starts_with(&server.url), "{function_url}");
    assert!(function_url.contains("/fn/life"), "{function_url}");
    let r = http().get(&function_url);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["env"]["GREETING"], "hi there");
    let got = cli.json(&["lambda", "get-function-url-config", "--function-name", name]);
    assert_eq!(got["FunctionUrl"], function_url.as_str());
    assert_eq!(got["AuthType"], "NONE");
    ok(
        &cli.run(&[
            "lambda",
            "delete-function-url-config",
            "--function-name",
            name,
        ]),
        "delete-function-url-config",
    );
    assert_eq!(http().get(&function_url).status, 404);
    cli.fails_with(
        &["lambda", "get-function-url-config", "--function-name", name],
        "ResourceNotFoundException",
    );

    // delete-function
    ok(
        &cli.run(&["lambda", "delete-function", "--function-name", name]),
        "delete-function",
    );
    let stderr = cli.fails_with(
        &["lambda", "get-function", "--function-name", name],
        "ResourceNotFoundException",
    );
    assert!(stderr.contains("GetFunction"), "{stderr}");
    cli.fails_with(
        &["lambda", "invoke", "--function-name", name, "/dev/null"],
        "ResourceNotFoundException",
    );
}

fn list_functions_paginates(aws: Aws) {
    let server = Server::start(&[]);
    let cli = Cli {
        server: &server,
        aws,
    };
    let zip = zip_file(&server, guests::HTTP_ECHO, "echo.zip");
    let names: Vec<String> = (0..5).map(|i| format!("page-{i}")).collect();
    for n in &names {
        cli.json(&[
            "lambda",
            "create-function",
            "--function-name",
            n,
            "--runtime",
            "wasm",
            "--role",
            ROLE,
            "--zip-file",
            &zip,
        ]);
    }

    // Page by page, two at a time, with the CLI's NextToken.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["lambda", "list-functions", "--max-items", "2"];
        if let Aws::V1 = aws {
            // v1 also asks the server for pages of two (MaxItems=2).
            args.extend(["--page-size", "2"]);
        }
        if let Some(t) = &token {
            args.extend(["--starting-token", t.as_str()]);
        }
        let page = cli.json(&args);
        pages += 1;
        let functions = page["Functions"].as_array().expect("Functions");
        assert!(functions.len() <= 2, "{page}");
        for f in functions {
            *seen
                .entry(f["FunctionName"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3, "5 functions in pages of 2: {seen:?}");
    let expected: BTreeMap<String, usize> = names.iter().map(|n| (n.clone(), 1)).collect();
    assert_eq!(seen, expected, "every function exactly once");

    // The CLI following the server's NextMarker on its own, pages of 2.
    let all = cli.json(&["lambda", "list-functions", "--page-size", "2"]);
    let mut listed: Vec<&str> = all["Functions"]
        .as_array()
        .expect("Functions")
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn v1_full_lifecycle() {
    full_lifecycle(Aws::V1);
}

#[test]
fn v2_full_lifecycle() {
    full_lifecycle(Aws::V2);
}

#[test]
fn v1_list_functions_paginates() {
    list_functions_paginates(Aws::V1);
}

#[test]
fn v2_list_functions_paginates() {
    list_functions_paginates(Aws::V2);
}
