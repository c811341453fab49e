//! The `updraft` CLI: deploy, invoke, ls, logs, rm, queues, rules, schedule.

use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

#[track_caller]
fn run(args: &[&str]) -> String {
    ok(
        &server().updraft_cli(args),
        &format!("updraft {}", args.join(" ")),
    )
}

#[track_caller]
fn run_json(args: &[&str]) -> Value {
    ok_json(
        &server().updraft_cli(args),
        &format!("updraft {}", args.join(" ")),
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn deploy_a_bare_wasm_with_options_and_a_url() {
    let s = server();
    let name = unique("cli-deploy");
    let out = run(&[
        "deploy",
        &name,
        guests::HTTP_ENV,
        "--memory",
        "256",
        "--timeout",
        "5",
        "--env",
        "COLOR=blue",
        "--env",
        "SIZE=xl=9",
        "--url",
    ]);
    assert!(out.contains(&format!("deployed {name} (")), "{out}");
    assert!(
        out.contains("256 MB") && out.contains("5 s timeout"),
        "{out}"
    );
    let url_line = out
        .lines()
        .find(|l| l.starts_with("url: "))
        .expect("a url line");
    let url = url_line.trim_start_matches("url: ");
    assert_eq!(url, format!("{}/fn/{name}/", s.url));
    let seen = http().get(url).json();
    assert_eq!(seen["env"]["COLOR"], "blue");
    assert_eq!(seen["env"]["SIZE"], "xl=9", "only the first = splits");
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");

    let cfg = s
        .api(
            "GET",
            &format!("/2015-03-31/functions/{name}/configuration"),
            None,
        )
        .json();
    assert_eq!(cfg["MemorySize"], 256);
    assert_eq!(cfg["Timeout"], 5);

    // Deploying again updates the code (and keeps the URL); --json parses.
    let out = run_json(&[
        "--json",
        "deploy",
        &name,
        guests::HTTP_ECHO,
        "--timeout",
        "9",
        "--url",
    ]);
    assert_eq!(out["FunctionName"], name.as_str());
    assert_eq!(out["Timeout"], 9);
    assert_eq!(out["MemorySize"], 256, "unchanged");
    assert_eq!(out["FunctionUrl"], url);
    let r = http().request("POST", &format!("{url}p"), &[], b"new code");
    assert_eq!(r.json()["body"], "new code");

    // A .zip is deployed as it is.
    let zip = s.write_file("cli.zip", &guest_zip(guests::HTTP_STATE));
    let zipped = unique("cli-zip");
    run(&["deploy", &zipped, zip.to_str().unwrap()]);
    assert_eq!(s.invoke(&zipped, b"{}").text(), "1");
}

#[test]
fn invoke_prints_the_result_and_the_log() {
    let s = server();
    let name = unique("cli-invoke");
    run(&["deploy", &name, guests::HTTP_ECHO]);
    let out = s.updraft_cli(&["invoke", &name, "--payload", r#"{"x":1}"#]);
    let stdout = ok(&out, "updraft invoke");
    let answer: Value = serde_json::from_str(stdout.trim()).expect("the echo");
    assert_eq!(answer["body"], r#"{"x":1}"#);
    let log = stderr(&out);
    assert!(
        log.contains("START RequestId: ") && log.contains("REPORT RequestId: "),
        "{log}"
    );

    // @file payload, --json
    let file = s.write_file("event.json", br#"{"from":"file"}"#);
    let arg = format!("@{}", file.display());
    let out = run_json(&["--json", "invoke", &name, "--payload", &arg]);
    assert_eq!(out["StatusCode"], 200);
    assert_eq!(out["ExecutedVersion"], "$LATEST");
    assert_eq!(out["FunctionError"], Value::Null);
    let payload: Value = serde_json::from_str(out["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["body"], r#"{"from":"file"}"#);
    assert!(
        out["Log"].as_str().unwrap().contains("START RequestId"),
        "{out}"
    );
    assert!(out["RequestId"].is_string());
}

#[test]
fn invoke_async_then_logs_by_request_id() {
    let name = unique("cli-async");
    run(&["deploy", &name, guests::CMD_ECHO]);
    let out = run(&[
        "invoke",
        &name,
        "--async",
        "--payload",
        r#"{"queued":true}"#,
    ]);
    let id = out
        .trim()
        .strip_prefix("queued (request id ")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected output: {out}"))
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let logs = eventually(
        Duration::from_secs(10),
        "the async invocation's log",
        || {
            let logs = run(&["logs", &name, "--request-id", &id]);
            logs.contains("REPORT RequestId").then_some(logs)
        },
    );
    assert!(logs.contains(&format!("START RequestId: {id}")), "{logs}");
    assert!(
        logs.contains("cmd-echo: 15 bytes"),
        "the guest's stderr: {logs}"
    );

    let out = run_json(&["--json", "invoke", &name, "--async"]);
    assert_eq!(out["StatusCode"], 202, "{out}");
}

#[test]
fn logs_shows_output_and_filters_errors() {
    let name = unique("cli-logs");
    run(&["deploy", &name, guests::EXAMPLE_HELLO_HTTP]);
    let good = run_json(&["--json", "invoke", &name]);
    let good_id = good["RequestId"].as_str().unwrap().to_string();
    // Same function, now failing.
    run(&["deploy", &name, guests::HTTP_TRAP]);
    let out = server().updraft_cli(&["--json", "invoke", &name]);
    assert_eq!(out.status.code(), Some(1), "a function error exits 1");
    let bad: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(bad["FunctionError"], "Unhandled");
    let bad_id = bad["RequestId"].as_str().unwrap().to_string();

    let all = eventually(
        Duration::from_secs(10),
        "both invocations in the logs",
        || {
            let all = run(&["logs", &name]);
            (all.contains(&bad_id) && all.contains(&good_id)).then_some(all)
        },
    );
    assert!(
        all.contains(&format!("START RequestId: {good_id}")),
        "{all}"
    );
    assert!(
        all.contains("hello-http: POST /"),
        "the guest's output: {all}"
    );
    assert!(all.contains("Billed Duration"), "{all}");

    let errors = run(&["logs", &name, "--errors"]);
    assert!(errors.contains(&bad_id), "{errors}");
    assert!(errors.contains("guest panicked on purpose"), "{errors}");
    assert!(
        !errors.contains(&good_id),
        "--errors shows only failures: {errors}"
    );

    let one = run(&["logs", &name, "--request-id", &good_id]);
    assert!(one.contains(&good_id) && !one.contains(&bad_id), "{one}");

    // --json: one event per line, each a JSON object.
    let json_lines = run(&["--json", "logs", &name]);
    let events: Vec<Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["message"].is_string()),
        "{json_lines}"
    );
}

#[test]
fn ls_and_rm() {
    let a = unique("cli-ls");
    run(&["deploy", &a, guests::HTTP_ECHO, "--memory", "512"]);
    let table = run(&["ls"]);
    assert!(table.starts_with("NAME"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{a} ")))
        .expect("listed");
    assert!(row.contains("wasm") && row.contains("512 MB"), "{row}");

    let listed = run_json(&["--json", "ls"]);
    let functions = listed["Functions"].as_array().unwrap();
    assert!(functions
        .iter()
        .any(|f| f["FunctionName"] == a.as_str() && f["MemorySize"] == 512));

    let out = run(&["rm", &a]);
    assert_eq!(out.trim(), format!("deleted {a}"));
    assert!(!run(&["ls"]).contains(&a));
    let b = unique("cli-rm");
    run(&["deploy", &b, guests::HTTP_ECHO]);
    assert_eq!(
        run_json(&["--json", "rm", &b]),
        serde_json::json!({"Deleted": b})
    );
}

#[test]
fn errors_exit_non_zero_with_one_line() {
    let s = server();
    for args in [
        &["invoke", "no-such-function"][..],
        &["rm", "no-such-function"][..],
        &["--json", "invoke", "no-such-function"][..],
    ] {
        let out = s.updraft_cli(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains("ResourceNotFoundException"), "{err}");
        assert!(
            out.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Bad flag values and files are one-line errors too.
    let out = s.updraft_cli(&["deploy", "x", "/nonexistent/f.wasm"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    let out = s.updraft_cli(&[
        "deploy",
        &unique("cli-bad"),
        guests::HTTP_ECHO,
        "--memory",
        "64",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("ValidationException"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // An unreachable server.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_updraft"))
        .args(["--endpoint", "http://127.0.0.1:9", "--data-dir"])
        .arg(s.data_dir())
        .args(["ls"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot reach updraft"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn queues_lists_sqs_and_async_queues_with_their_depth() {
    let s = server();
    let queue = unique("cli-q");
    let (url, _) = s.create_queue(&queue, serde_json::json!({}));
    for body in ["one", "two"] {
        let r = s.json_call(
            "sqs",
            "AmazonSQS.SendMessage",
            serde_json::json!({"QueueUrl": url, "MessageBody": body}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // A function that cannot run (reserved concurrency 0) keeps its event
    // in its async queue.
    let f = unique("cli-parked");
    s.deploy(&f, updraft_test_support::CMD_ECHO, serde_json::json!({}));
    let r = s.api(
        "PUT",
        &format!("/2017-10-31/functions/{f}/concurrency"),
        Some(serde_json::json!({"ReservedConcurrentExecutions": 0})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    s.event_invoke(&f, b"{}");

    let listed = run_json(&["--json", "queues"]);
    let queues = listed["Queues"].as_array().expect("Queues");
    let find = |name: &str| queues.iter().find(|q| q["Name"] == name).cloned();
    let q = find(&queue).unwrap_or_else(|| panic!("{queue} in {listed}"));
    assert_eq!(
        (q["Kind"].as_str(), q["Visible"].as_u64()),
        (Some("sqs"), Some(2)),
        "{q}"
    );
    let parked =
        find(&format!("lambda-async:{f}")).unwrap_or_else(|| panic!("{f}'s queue in {listed}"));
    assert_eq!(parked["Kind"], "async", "{parked}");
    assert_eq!(
        parked["Visible"].as_u64().unwrap()
            + parked["InFlight"].as_u64().unwrap()
            + parked["Delayed"].as_u64().unwrap(),
        1,
        "{parked}"
    );

    // The same depth on /metrics, for both kinds of queue.
    let metrics = s.metrics();
    let line = format!(r#"updraft_queue_messages{{queue="{queue}",state="visible"}} 2"#);
    assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    assert!(
        metrics.contains(&format!(
            r#"updraft_queue_oldest_message_age_seconds{{queue="lambda-async:{f}"}}"#
        )),
        "{f}'s async queue in /metrics"
    );

    let table = run(&["queues"]);
    let line = table
        .lines()
        .find(|l| l.starts_with(&queue))
        .unwrap_or_else(|| panic!("{queue} in:\n{table}"));
    assert!(line.contains(" sqs "), "{line}");
}

#[test]
fn rules_shows_patterns_and_targets() {
    let s = server();
    let rule = unique("cli-rule");
    let f = unique("cli-target");
    s.deploy(&f, updraft_test_support::CMD_RECORD, serde_json::json!({}));
    let r = s.json_call(
        "events",
        "AWSEvents.PutRule",
        serde_json::json!({"Name": rule, "EventPattern": r#"{"source":["cli.test"]}"#}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.json_call(
        "events",
        "AWSEvents.PutTargets",
        serde_json::json!({"Rule": rule, "Targets": [{"Id": "t1", "Arn": function_arn(&f)}]}),
    );
    assert_eq!(r.json()["FailedEntryCount"], 0, "{}", r.text());

    let text = run(&["rules"]);
    let at = text
        .find(&rule)
        .unwrap_or_else(|| panic!("{rule} in:\n{text}"));
    let section = &text[at..];
    assert!(
        section.contains(r#"pattern: {"source":["cli.test"]}"#),
        "{section}"
    );
    assert!(
        section.contains(&format!("target t1: {}", function_arn(&f))),
        "{section}"
    );

    let listed = run_json(&["--json", "rules", "--bus", "default"]);
    let found = listed["Rules"]
        .as_array()
        .expect("Rules")
        .iter()
        .find(|r| r["Name"] == rule.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{rule} in {listed}"));
    assert_eq!(found["Targets"][0]["Id"], "t1", "{found}");
}

#[test]
fn schedule_add_show_list_and_remove() {
    let s = server();
    let f = unique("cli-sched-fn");
    s.deploy(&f, updraft_test_support::CMD_RECORD, serde_json::json!({}));
    let name = unique("cli-sched");
    let added = run(&[
        "schedule",
        "add",
        &name,
        "--expression",
        "cron(0 12 * * ? *)",
        "--function",
        &f,
        "--input",
        r#"{"k":1}"#,
        "--timezone",
        "Europe/Paris",
    ]);
    assert!(
        added.contains(&format!("created schedule {name}")),
        "{added}"
    );

    let shown = run_json(&["--json", "schedule", "show", &name]);
    assert_eq!(shown["ScheduleExpression"], "cron(0 12 * * ? *)", "{shown}");
    assert_eq!(
        shown["ScheduleExpressionTimezone"], "Europe/Paris",
        "{shown}"
    );
    assert_eq!(shown["Target"]["Arn"], function_arn(&f).as_str(), "{shown}");
    assert_eq!(shown["Target"]["Input"], r#"{"k":1}"#, "{shown}");

    let listed = run(&["schedule", "ls"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("ENABLED")),
        "{listed}"
    );

    // Bad input: the server's error, nothing created.
    let bad = unique("cli-sched-bad");
    let out = s.updraft_cli(&[
        "schedule",
        "add",
        &bad,
        "--expression",
        "cron(99 * * * ? *)",
        "--function",
        &f,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("ValidationException"),
        "{}",
        stderr(&out)
    );
    let missing = s.updraft_cli(&[
        "schedule",
        "add",
        &bad,
        "--expression",
        "rate(1 hour)",
        "--function",
        "no-such-function",
    ]);
    assert!(
        stderr(&missing).contains("does not exist"),
        "{}",
        stderr(&missing)
    );
    assert!(!run(&["schedule", "ls"]).contains(&bad));

    run(&["schedule", "rm", &name]);
    assert!(!run(&["schedule", "ls"]).contains(&name));
    let gone = s.updraft_cli(&["schedule", "show", &name]);
    assert!(
        stderr(&gone).contains("ResourceNotFoundException"),
        "{}",
        stderr(&gone)
    );
}
