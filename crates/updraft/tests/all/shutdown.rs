//! Graceful shutdown: SIGTERM lets in-flight invocations finish.

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use crate::support::*;

#[test]
fn sigterm_waits_for_in_flight_requests_and_exits_0() {
    let mut s = Server::start(&[]);
    s.deploy("sleep", guests::HTTP_SLEEP, json!({"Timeout": 10}));
    let url = s.create_url("sleep", "NONE", None);
    // Warm up, so the timing below is the sleep's.
    assert_eq!(http().get(&format!("{url}?ms=1")).status, 200);

    let by_url = {
        let url = format!("{url}?ms=1500");
        std::thread::spawn(move || {
            let t = Instant::now();
            (http().get(&url), t.elapsed())
        })
    };
    let by_api = {
        let target = format!("{}/2015-03-31/functions/sleep/invocations", s.url);
        let headers = sign_headers(
            "POST",
            &target,
            &[],
            b"{}",
            &s.credentials(),
            "lambda",
            SystemTime::now(),
        );
        std::thread::spawn(move || http().send("POST", &target, &headers, b"{}".to_vec()))
    };
    wait_running(&s, "sleep");
    let signalled = Instant::now();
    s.send_sigterm();

    let (r, took) = by_url.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "slept 1500");
    assert!(took >= Duration::from_millis(1400), "{took:?}");
    let r = by_api.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "slept 0");

    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; log:\n{}",
        s.server_log()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        signalled.elapsed()
    );
    let log = s.server_log();
    assert!(log.contains("shutdown signal received"), "{log}");
}

/// The log text of one invocation, through FilterLogEvents.
fn invocation_log(s: &Server, function: &str, request_id: &str) -> String {
    let body = json!({"logGroupName": format!("/aws/lambda/{function}"), "requestId": request_id});
    let r = s.signed_with(
        "POST",
        "/",
        &[
            ("x-amz-target", "Logs_20140328.FilterLogEvents"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.to_string().as_bytes(),
        &s.credentials(),
        "logs",
        SystemTime::now(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigterm_drains_async_invocations() {
    let mut s = Server::start(&[]);
    s.deploy("bg", guests::CMD_ECHO, json!({}));
    s.deploy("spin", guests::HTTP_LOOP, json!({"Timeout": 2}));
    // Still running when the signal arrives: it ends at its timeout.
    let spin_id = s.event_invoke("spin", b"{}");
    let echo_id = s.event_invoke("bg", br#"{"accepted":"before shutdown"}"#);
    wait_running(&s, "spin");
    let signalled = Instant::now();
    s.send_sigterm();
    let status = s.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", s.server_log());
    assert!(
        signalled.elapsed() >= Duration::from_millis(1500),
        "exited after {:?}, before the running event ended",
        signalled.elapsed()
    );

    // After a restart, both events' logs are there: they ran to their end.
    s.restart_after_exit();
    let text = invocation_log(&s, "bg", &echo_id);
    assert!(
        text.contains(&format!("REPORT RequestId: {echo_id}")),
        "{text}"
    );
    assert!(text.contains("cmd-echo: 30 bytes"), "{text}");
    let text = invocation_log(&s, "spin", &spin_id);
    assert!(text.contains("Task timed out after 2.00 seconds"), "{text}");
    assert!(
        text.contains(&format!("REPORT RequestId: {spin_id}")),
        "{text}"
    );
}

#[test]
fn accepted_async_event_survives_a_crash() {
    // DESIGN.md: "Durable before acknowledged: an async invocation or event
    // is on disk before the 202".
    let mut s = Server::start(&[]);
    s.deploy("later", guests::CMD_ECHO, json!({}));
    // Reserved concurrency 0: the event is accepted but cannot run yet.
    let concurrency = "/2017-10-31/functions/later/concurrency";
    let r = s.api(
        "PUT",
        concurrency,
        Some(json!({"ReservedConcurrentExecutions": 0})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = s.event_invoke("later", br#"{"must":"not be lost"}"#);
    // A crash: SIGKILL, no chance to drain.
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    s.wait_exit(Duration::from_secs(10));

    s.restart_after_exit();
    assert!(
        invocation_log(&s, "later", &id).is_empty(),
        "the event ran before the crash"
    );
    let r = s.api("DELETE", concurrency, None);
    assert_eq!(r.status, 204, "{}", r.text());
    let text = eventually(
        Duration::from_secs(10),
        "the accepted event to run after the restart",
        || {
            let text = invocation_log(&s, "later", &id);
            text.contains("REPORT RequestId").then_some(text)
        },
    );
    assert!(text.contains("cmd-echo: 22 bytes"), "{text}");
}

/// A start after a crash says so, naming the server that did not stop
/// cleanly; a start after a clean shutdown does not.
#[test]
fn an_unclean_shutdown_is_reported_at_the_next_start() {
    let mut s = Server::start(&[]);
    s.restart();
    assert!(
        !s.server_log().contains("unclean shutdown"),
        "a clean shutdown reported as unclean: {}",
        s.server_log()
    );
    let crashed = s.pid();
    s.kill_9();
    s.restart_after_exit();
    let log = s.server_log();
    assert!(
        log.lines()
            .any(|l| l.contains("unclean shutdown") && l.contains(&crashed.to_string())),
        "{log}"
    );
    s.assert_alive();
}
