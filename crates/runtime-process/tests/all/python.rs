//! `python3.x`: handlers run by the official `awslambdaric`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::*;

fn python_fixture() -> Fixture {
    python_runtime_dir();
    runtime()
}

fn app() -> CodeArchive {
    archive(fixture_files("python"))
}

#[tokio::test]
async fn handler_runs_with_context_and_keeps_state() {
    let fx = python_fixture();
    let t = template(&fx.rt, "python3.11", &app());
    let (env, init_log) = start(&t, &env_config(Some("app.handler"))).await;
    let mut env = env.unwrap_or_else(|e| panic!("{e:?}\n{init_log}"));
    assert!(
        init_log.contains("init: app module loaded"),
        "init log: {init_log}"
    );
    for n in 1..=2 {
        let ran = invoke(
            &mut env,
            json!({"name": "world"}).to_string(),
            Duration::from_secs(5),
        )
        .await;
        let v = ran.json();
        assert_eq!(v["event"], json!({"name": "world"}));
        assert_eq!(v["count"], n, "warm invocations share module state");
        assert_eq!(v["request_id"], ran.request_id.as_str());
        assert_eq!(v["function_name"], "test-fn");
        assert_eq!(v["memory_limit_in_mb"], "128");
        assert_eq!(
            v["invoked_function_arn"],
            "arn:aws:lambda:eu-west-1:000000000000:function:test-fn"
        );
        let remaining = v["remaining_ms"].as_i64().unwrap();
        assert!(remaining > 3000 && remaining <= 5000, "{remaining}");
        assert_eq!(v["cwd"], "/var/task");
        assert_eq!(v["uid"], 993);
        let env = &v["env"];
        assert_eq!(env["_HANDLER"], "app.handler");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");
        assert_eq!(env["LAMBDA_RUNTIME_DIR"], "/var/runtime");
        assert_eq!(env["GREETING"], "hi");
        assert_eq!(
            env["PATH"],
            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
        );
        assert!(env["_X_AMZN_TRACE_ID"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-"));
        assert!(
            ran.log
                .contains(&format!("handling {} count={n}", ran.request_id)),
            "log: {}",
            ran.log
        );
        assert!(!ran.outcome.discard);
    }
}

#[tokio::test]
async fn exception_is_a_function_error_and_the_environment_stays() {
    let fx = python_fixture();
    let t = template(&fx.rt, "python3.12", &app());
    let mut env = start_ok(&t, &env_config(Some("app.handler"))).await;
    let ran = invoke(
        &mut env,
        json!({"action": "raise", "value": 42}).to_string(),
        Duration::from_secs(5),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "ValueError");
    assert_eq!(err.error_message, "bad value: 42");
    assert!(!ran.outcome.discard);
    // awslambdaric logs the traceback.
    assert!(ran.log.contains("ValueError"), "log: {}", ran.log);
    let ran = invoke(&mut env, "{}", Duration::from_secs(5)).await;
    assert_eq!(ran.json()["count"], 2);
}

#[tokio::test]
async fn import_error_is_an_init_error() {
    let fx = python_fixture();
    let t = template(&fx.rt, "python3.11", &app());
    let (env, log) = start(&t, &env_config(Some("broken.handler"))).await;
    let err = env.err().expect("init fails");
    assert_eq!(err.error_type, "Runtime.ImportModuleError");
    assert!(
        err.error_message.contains("this_module_does_not_exist"),
        "{err:?}"
    );
    assert!(
        log.contains("this_module_does_not_exist"),
        "init log: {log}"
    );

    let (env, _) = start(&t, &env_config(Some("nomodule.handler"))).await;
    assert_eq!(env.err().unwrap().error_type, "Runtime.ImportModuleError");
    let (env, _) = start(&t, &env_config(Some("app.nofunction"))).await;
    assert_eq!(env.err().unwrap().error_type, "Runtime.HandlerNotFound");
}

#[tokio::test]
async fn timeout_and_exit_discard_the_environment() {
    let fx = python_fixture();
    let t = template(&fx.rt, "python3.11", &app());
    let mut env = start_ok(&t, &env_config(Some("app.handler"))).await;
    let ran = invoke(
        &mut env,
        json!({"action": "sleep", "seconds": 30}).to_string(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(ran.error().error_type, "Sandbox.Timedout");
    assert_eq!(
        ran.error().error_message,
        "Task timed out after 1.00 seconds"
    );
    assert!(ran.outcome.discard);

    let mut env = start_ok(&t, &env_config(Some("app.handler"))).await;
    let ran = invoke(
        &mut env,
        json!({"action": "exit"}).to_string(),
        Duration::from_secs(5),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Runtime.ExitError");
    assert!(
        err.error_message
            .ends_with("Runtime exited with error: exit status 7"),
        "{err:?}"
    );
    assert!(ran.outcome.discard);
}

#[tokio::test]
async fn memory_hog_is_out_of_memory() {
    let _heavy = heavy().await;
    let fx = python_fixture();
    if !require_cgroups(&fx) {
        return;
    }
    let t = template(&fx.rt, "python3.11", &app());
    let mut env = start_ok(&t, &env_config(Some("app.handler"))).await;
    let ran = invoke(
        &mut env,
        json!({"action": "hog"}).to_string(),
        Duration::from_secs(20),
    )
    .await;
    let err = ran.error();
    assert_eq!(
        err.error_type, "Runtime.OutOfMemory",
        "{err:?}\n{}",
        ran.log
    );
    assert!(ran.outcome.discard);
    // A fresh environment of the same function serves.
    let mut env = start_ok(&t, &env_config(Some("app.handler"))).await;
    assert_eq!(
        invoke(&mut env, "{}", Duration::from_secs(5)).await.json()["count"],
        1
    );
}

#[tokio::test]
async fn deploy_needs_python_code() {
    let fx = python_fixture();
    let e = updraft_pool::Runtime::prepare(
        &fx.rt,
        "python3.11",
        "ff",
        &archive(vec![file("README", "x", 0o100644)]),
    )
    .unwrap_err();
    assert!(e.0.contains(".py"), "{e}");
}

#[tokio::test]
async fn cold_start_time_of_python() {
    let _heavy = heavy().await;
    let fx = python_fixture();
    let t = template(&fx.rt, "python3.11", &app());
    let config = env_config(Some("app.handler"));
    let mut times = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        let mut env = start_ok(&t, &config).await;
        let ran = invoke(&mut env, "{}", Duration::from_secs(5)).await;
        times.push(started.elapsed());
        ran.json();
    }
    times.sort();
    eprintln!(
        "python (awslambdaric) cold start (spawn → first response): p50 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(times[times.len() / 2] < Duration::from_secs(3));
}
