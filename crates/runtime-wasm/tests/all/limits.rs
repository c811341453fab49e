//! Timeouts and memory limits: guest faults stay contained.

use std::time::{Duration, Instant};

use updraft_test_support as guests;

use crate::*;

const ONE_SECOND: Duration = Duration::from_secs(1);
/// Slack for a busy 2-core machine.
const MARGIN: Duration = Duration::from_millis(700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_guests_time_out_without_stalling_others() {
    let (rt, _dir) = runtime();
    let looping = template(&rt, guests::HTTP_LOOP);
    let echo = template(&rt, guests::HTTP_ECHO);
    let mut echo_env = start(&echo).await;

    // Two spinning guests: as many as tokio has worker threads.
    let mut spinners = Vec::new();
    for _ in 0..2 {
        let mut env = start(&looping).await;
        spinners.push(tokio::spawn(async move {
            let began = Instant::now();
            let result = call(&mut env, get("/"), ONE_SECOND).await;
            (result.outcome, began.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Meanwhile another environment answers promptly.
    for _ in 0..5 {
        let began = Instant::now();
        let result = call(&mut echo_env, get("/"), SECS_3).await;
        let took = began.elapsed();
        assert_eq!(result.response.unwrap().0.status, 200);
        assert!(took < Duration::from_millis(300), "echo took {took:?}");
    }

    for spinner in spinners {
        let (outcome, took) = spinner.await.unwrap();
        let err = outcome.result.unwrap_err();
        assert_eq!(err.error_type, "Sandbox.Timedout");
        assert_eq!(err.error_message, "Task timed out after 1.00 seconds");
        assert!(outcome.discard);
        assert!(
            took >= ONE_SECOND && took < ONE_SECOND + MARGIN,
            "took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_blocked_in_a_host_call_times_out() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_SLEEP);
    let mut env = start(&template).await;

    let result = call(&mut env, get("/?ms=10"), SECS_3).await;
    assert_eq!(result.response.unwrap().1, "slept 10");

    let began = Instant::now();
    let result = call(&mut env, get("/?ms=30000"), ONE_SECOND).await;
    let took = began.elapsed();
    let err = result.outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Sandbox.Timedout");
    assert!(result.outcome.discard);
    assert!(
        took >= ONE_SECOND && took < ONE_SECOND + MARGIN,
        "took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_command_times_out() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::CMD_LOOP);
    let mut env = start(&template).await;
    let began = Instant::now();
    let (outcome, _) = event(&mut env, "{}", Duration::from_millis(1500)).await;
    let took = began.elapsed();
    let err = outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Sandbox.Timedout");
    assert_eq!(err.error_message, "Task timed out after 1.50 seconds");
    assert!(took < Duration::from_millis(1500) + MARGIN, "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_stops_at_the_limit() {
    let (rt, _dir) = runtime();
    let template = template(&rt, guests::HTTP_OOM);
    let mut cfg = config();
    cfg.memory_mb = 64;
    let mut env = start_with(&template, &cfg).await;
    let result = call(&mut env, get("/"), SECS_3).await;
    let err = result.outcome.result.unwrap_err();
    assert_eq!(err.error_type, "Runtime.OutOfMemory");
    assert_eq!(
        err.error_message,
        "RequestId: req-1 Error: Runtime exited with error: function exceeded its memory limit of 64 MB"
    );
    assert!(result.outcome.discard);
    let peak = result.outcome.max_memory_bytes;
    assert!(peak <= 64 << 20, "peak {peak}");
    assert!(peak > 50 << 20, "peak {peak}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_flooding_its_log_keeps_only_the_tail() {
    let (rt, _dir) = runtime();
    let guest = std::path::Path::new(guests::HTTP_ENV).with_file_name("http_tmp.wasm");
    let template = template(&rt, &guest.display().to_string());
    let mut env = start(&template).await;
    // As the pools keep it: 256 KB per invocation.
    const KEPT: usize = 256 * 1024;
    // 16 MiB in 4 KiB writes, then 16 MiB in 4 MiB writes (more than
    // `check-write` grants, which nothing enforces on stdout).
    for chunk in [4096, 4 << 20] {
        let (respond, response) = tokio::sync::oneshot::channel();
        let log = LogSink::new(KEPT);
        let inv = Invocation {
            request_id: "req-flood".into(),
            input: Input::Http {
                request: get(&format!("/?op=log&bytes={}&chunk={chunk}", 16 << 20)),
                respond,
            },
            timeout: Duration::from_secs(10),
            log: log.clone(),
            traceparent: None,
        };
        let read = async {
            let response = response.await.ok()?;
            Some(response.into_body().collect().await.ok()?.to_bytes())
        };
        let (outcome, body) = tokio::join!(env.invoke(inv), read);
        // Not timed out: the flood does not stall the invocation.
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
        assert_eq!(body.unwrap(), format!("{{\"logged\":{}}}", 16 << 20));
        let kept = log.take();
        assert!(kept.len() <= KEPT, "kept {} bytes", kept.len());
        assert!(kept.len() > KEPT / 2, "kept {} bytes", kept.len());
        assert!(kept.ends_with(b"END\n"), "the tail is kept");
    }
}
