//! Guest faults are contained: timeouts, memory limits, traps and exits are
//! function errors, the next invocation gets a fresh environment, and other
//! functions keep answering. Also warm reuse, scale to zero and the sandbox.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

/// A shared server; its functions' environments stay warm (10 min).
fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

/// Asserts an `Unhandled` function error; returns (errorType, errorMessage, log tail).
#[track_caller]
fn function_error(r: &Resp) -> (String, String, String) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-amz-function-error"),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    let body = r.json();
    (
        body["errorType"].as_str().expect("errorType").to_string(),
        body["errorMessage"]
            .as_str()
            .expect("errorMessage")
            .to_string(),
        r.log_tail(),
    )
}

#[test]
fn infinite_loop_hits_the_timeout_while_others_answer() {
    let s = server();
    let spin = unique("spin");
    let quick = unique("quick");
    s.deploy(&spin, guests::HTTP_LOOP, json!({"Timeout": 1}));
    s.deploy(&quick, guests::EXAMPLE_HELLO_HTTP, json!({}));
    assert_eq!(s.invoke(&quick, b"{}").status, 200);

    let spin_name = spin.clone();
    let looping = std::thread::spawn(move || {
        let started = Instant::now();
        let r = server().invoke(&spin_name, b"{}");
        (r, started.elapsed())
    });
    // While the loop spins, another function answers quickly.
    wait_running(s, &spin);
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    while !looping.is_finished() {
        let t = Instant::now();
        let r = s.invoke(&quick, b"{}");
        assert_eq!(r.status, 200);
        assert!(r.text().starts_with("Hello from updraft!"), "{}", r.text());
        slowest = slowest.max(t.elapsed());
        answered += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let (r, elapsed) = looping.join().unwrap();
    assert!(answered >= 3, "only {answered} answers during the loop");
    assert!(
        slowest < Duration::from_millis(750),
        "slowest answer during the loop: {slowest:?}"
    );

    let (error_type, message, log) = function_error(&r);
    assert_eq!(message, "Task timed out after 1.00 seconds");
    assert_eq!(error_type, "Sandbox.Timedout");
    assert!(log.contains("Task timed out after 1.00 seconds"), "{log}");
    assert!(log.contains("REPORT RequestId: "), "{log}");
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(4),
        "timed out after {elapsed:?}"
    );
    // The next invocation times out the same way in a fresh environment.
    let r = s.invoke(&spin, b"{}");
    let (_, message, log) = function_error(&r);
    assert_eq!(message, "Task timed out after 1.00 seconds");
    assert!(log.contains("Init Duration"), "a fresh environment: {log}");
    s.assert_alive();
}

#[test]
fn command_loop_hits_the_timeout() {
    let s = server();
    let name = unique("cmd-spin");
    s.deploy(&name, guests::CMD_LOOP, json!({"Timeout": 1}));
    let (error_type, message, _) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Sandbox.Timedout");
    assert_eq!(message, "Task timed out after 1.00 seconds");
    s.assert_alive();
}

#[test]
fn out_of_memory_is_an_error_and_the_next_call_gets_a_fresh_environment() {
    let s = server();
    let name = unique("oom");
    s.deploy(&name, guests::HTTP_OOM, json!({"MemorySize": 128}));
    let (error_type, message, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.OutOfMemory", "{message}");
    assert!(message.contains("memory limit of 128 MB"), "{message}");
    assert!(log.contains("Memory Size: 128 MB"), "{log}");
    // Not "the environment failed before": a new one ran, and failed the
    // same way.
    let (error_type, message, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.OutOfMemory", "{message}");
    assert!(log.contains("Init Duration"), "a fresh environment: {log}");
    // The node is fine.
    let other = unique("after-oom");
    s.deploy(&other, guests::HTTP_STATE, json!({}));
    assert_eq!(s.invoke(&other, b"{}").text(), "1");
    s.assert_alive();
}

#[test]
fn trap_is_unhandled_and_the_next_call_gets_a_fresh_environment() {
    let s = server();
    let name = unique("trap");
    s.deploy(&name, guests::HTTP_TRAP, json!({}));
    let (error_type, message, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.Trap", "{message}");
    assert!(
        log.contains("guest panicked on purpose"),
        "the panic message is logged: {log}"
    );
    let (error_type, message, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.Trap", "{message}");
    assert!(!message.contains("failed before"), "{message}");
    assert!(log.contains("Init Duration"), "a fresh environment: {log}");

    let name = unique("cmd-trap");
    s.deploy(&name, guests::CMD_TRAP, json!({}));
    let (error_type, _, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.Trap");
    assert!(log.contains("about to trap"), "{log}");
    s.assert_alive();
}

#[test]
fn command_exit_status_is_unhandled() {
    let s = server();
    // CMD_EXIT calls `exit(3)`; a WASI 0.2 component can only report
    // success or failure (`wasi:cli/exit.exit(err)`), so the host sees 1.
    let name = unique("exit");
    s.deploy(&name, guests::CMD_EXIT, json!({}));
    let (error_type, message, log) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(
        message.contains("Runtime exited with error: exit status 1"),
        "{message}"
    );
    assert!(
        log.contains("something went wrong"),
        "stderr is logged: {log}"
    );
    // A preview1 module's `proc_exit(3)` carries the status.
    let name = unique("p1-exit");
    let zip = guests::zip_single("exit.wasm", &p1_module(b"partial", Some(3)));
    let r = s.create_function_zip(&name, &zip, json!({}));
    assert_eq!(r.status, 201, "{}", r.text());
    let (error_type, message, _) = function_error(&s.invoke(&name, b"{}"));
    assert_eq!(error_type, "Runtime.ExitError");
    assert!(message.ends_with("exit status 3"), "{message}");
    // proc_exit(0) is a success.
    let name = unique("p1-exit0");
    let zip = guests::zip_single("exit.wasm", &p1_module(b"{\"done\":true}", Some(0)));
    assert_eq!(s.create_function_zip(&name, &zip, json!({})).status, 201);
    let r = s.invoke(&name, b"{}");
    assert!(r.header("x-amz-function-error").is_none(), "{}", r.text());
    assert_eq!(r.json(), json!({"done": true}));
    s.assert_alive();
}

#[test]
fn command_functions_read_the_event_and_answer_on_stdout() {
    let s = server();
    for wasm in [guests::CMD_ECHO, guests::P1_CMD_ECHO] {
        let name = unique("cmd-echo");
        s.deploy(&name, wasm, json!({}));
        let payload = br#"{"hello":"from stdin"}"#;
        let r = s.invoke(&name, payload);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.header("x-amz-function-error").is_none(), "{}", r.text());
        assert_eq!(r.body, payload.to_vec());
        let log = r.log_tail();
        assert!(
            log.contains(&format!("cmd-echo: {} bytes", payload.len())),
            "{log}"
        );
    }
    let name = unique("json-event");
    s.deploy(&name, guests::EXAMPLE_JSON_EVENT, json!({}));
    let r = s.invoke(&name, br#"{"name":"Ada"}"#);
    assert_eq!(r.json(), json!({"message": "Hello, Ada!"}));
}

#[test]
fn warm_environment_keeps_its_state() {
    let s = server();
    let name = unique("state");
    s.deploy(&name, guests::HTTP_STATE, json!({}));
    let first = s.invoke(&name, b"{}");
    assert_eq!(first.text(), "1");
    assert!(
        first.log_tail().contains("Init Duration"),
        "cold start: {}",
        first.log_tail()
    );
    let second = s.invoke(&name, b"{}");
    assert_eq!(second.text(), "2");
    assert!(
        !second.log_tail().contains("Init Duration"),
        "warm: {}",
        second.log_tail()
    );
    assert_eq!(s.invoke(&name, b"{}").text(), "3");
    // A new configuration is a new environment.
    let r = s.api(
        "PUT",
        &format!("/2015-03-31/functions/{name}/configuration"),
        Some(json!({"MemorySize": 256})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(s.invoke(&name, b"{}").text(), "1");
}

#[test]
fn idle_environments_scale_to_zero() {
    let s = Server::start(&["--idle-timeout", "1s"]);
    let name = "zero";
    s.deploy(name, guests::HTTP_STATE, json!({}));
    let live = format!("updraft_environments{{function=\"{name}\"}}");
    let cold = format!("updraft_cold_starts_total{{function=\"{name}\"}}");

    let r = s.invoke(name, b"{}");
    assert_eq!(r.text(), "1");
    assert!(r.log_tail().contains("Init Duration"), "{}", r.log_tail());
    assert_eq!(
        s.invoke(name, b"{}").text(),
        "2",
        "warm while recently used"
    );
    let m = s.metrics();
    assert_eq!(metric(&m, &live), Some(1.0), "{m}");
    assert_eq!(metric(&m, &cold), Some(1.0), "{m}");

    eventually(
        Duration::from_secs(10),
        "no live environment after the idle timeout",
        || (metric(&s.metrics(), &live).unwrap_or(0.0) == 0.0).then_some(()),
    );
    let r = s.invoke(name, b"{}");
    assert_eq!(r.text(), "1", "state is gone: a cold start");
    assert!(r.log_tail().contains("Init Duration"), "{}", r.log_tail());
    assert_eq!(metric(&s.metrics(), &cold), Some(2.0));
}

#[test]
fn sandbox_has_private_tmp_no_network_and_its_environment() {
    let s = Server::start_with_env(&[], &[("UPDRAFT_E2E_HOST_SECRET", "host-only")]);
    let a = "env-a";
    let b = "env-b";
    s.deploy(
        a,
        guests::HTTP_ENV,
        json!({"Environment": {"Variables": {"COLOR": "blue"}}}),
    );
    s.deploy(b, guests::HTTP_ENV, json!({}));
    let url_a = s.create_url(a, "NONE", None);
    let url_b = s.create_url(b, "NONE", None);

    let seen: Value = http().get(&format!("{url_a}?write=marker-a")).json();
    assert_eq!(seen["write_error"], Value::Null, "{seen}");
    assert_eq!(seen["tmp"], json!(["marker-a"]), "{seen}");
    assert_eq!(seen["env"]["COLOR"], "blue");
    assert_eq!(seen["env"]["AWS_LAMBDA_FUNCTION_NAME"], a);
    assert_eq!(seen["env"]["AWS_REGION"], "us-east-1");
    assert!(
        seen["env"].get("UPDRAFT_E2E_HOST_SECRET").is_none(),
        "host env leaked: {seen}"
    );
    assert!(
        seen["passwd"].as_str().unwrap().starts_with("error"),
        "/etc/passwd must not be readable: {seen}"
    );
    // The same warm environment still has its file (once the URL request
    // has released it; a request arriving earlier gets a new environment);
    // another function never sees it.
    let running = format!(r#"updraft_concurrent_executions{{function="{a}"}}"#);
    eventually(Duration::from_secs(10), "the environment released", || {
        (metric(&s.metrics(), &running).unwrap_or(0.0) == 0.0).then_some(())
    });
    let again: Value = http().get(&url_a).json();
    assert_eq!(again["tmp"], json!(["marker-a"]), "{again}");
    let other: Value = http().get(&url_b).json();
    assert_eq!(other["tmp"], json!([]), "{other}");
    assert!(other["env"].get("COLOR").is_none(), "{other}");
    assert!(
        !std::path::Path::new("/tmp/marker-a").exists(),
        "the host /tmp was written"
    );

    let net = "net";
    s.deploy(net, guests::HTTP_NET, json!({}));
    let r = s.invoke(net, b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert!(
        seen["http"].as_str().unwrap().starts_with("error"),
        "outgoing HTTP: {seen}"
    );
    assert!(
        seen["tcp"].as_str().unwrap().starts_with("error"),
        "TCP connect: {seen}"
    );
}
