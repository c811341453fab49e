//! WASI commands: components (`wasi:cli/run`) and preview1 modules.

use updraft_pool::Protocol;
use updraft_test_support as guests;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_in_stdout_out_stderr_logged() {
    let (rt, _dir) = runtime();
    for guest in [guests::CMD_ECHO, guests::P1_CMD_ECHO] {
        let template = template(&rt, guest);
        assert_eq!(template.protocol(), Protocol::Event);
        let mut env = start(&template).await;
        assert_eq!(env.protocol(), Protocol::Event);
        let (outcome, log) = event(&mut env, r#"{"hello":"world"}"#, SECS_3).await;
        assert_eq!(
            outcome.result.unwrap().unwrap(),
            r#"{"hello":"world"}"#,
            "{guest}"
        );
        assert!(outcome.discard, "a command runs once per environment");
        assert!(outcome.max_memory_bytes > 0);
        assert_eq!(log, "cmd-echo: 17 bytes\n");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_event_example_greets() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::EXAMPLE_JSON_EVENT);
    let mut env = start(&template).await;
    let (outcome, log) = event(&mut env, r#"{"name":"Ada"}"#, SECS_3).await;
    let result = json(&outcome.result.unwrap().unwrap());
    assert_eq!(result, serde_json::json!({"message": "Hello, Ada!"}));
    assert!(log.contains("json-event: greeting Ada"), "{log}");

    let mut env = start(&template).await;
    let (outcome, _) = event(&mut env, "{}", SECS_3).await;
    let result = json(&outcome.result.unwrap().unwrap());
    assert_eq!(result, serde_json::json!({"message": "Hello, world!"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_zero_exit_is_an_exit_error() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::CMD_EXIT);
    let mut env = start(&template).await;
    let (outcome, log) = event(&mut env, "{}", SECS_3).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Runtime.ExitError");
    // `exit(3)` in a WASI 0.2 component reaches the host as `wasi:cli/exit`
    // with an error status, which carries no number: status 1.
    assert_eq!(
        err.error_message,
        "RequestId: req-1 Error: Runtime exited with error: exit status 1"
    );
    assert!(log.contains("something went wrong"), "{log}");
    assert!(outcome.discard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_is_a_function_error() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::CMD_TRAP);
    let mut env = start(&template).await;
    let (outcome, log) = event(&mut env, "{}", SECS_3).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Runtime.Trap");
    assert!(
        err.error_message
            .starts_with("RequestId: req-1 Error: Runtime exited with error: wasm trap:"),
        "{}",
        err.error_message
    );
    assert!(log.contains("about to trap"), "{log}");
    assert!(outcome.discard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_requests_are_refused() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::CMD_ECHO);
    let mut env = start(&template).await;
    let result = call(&mut env, get("/"), SECS_3).await;
    assert!(result.response.is_none());
    assert_eq!(
        result.outcome.result.unwrap_err().error_type,
        "Runtime.UnsupportedInput"
    );
}
