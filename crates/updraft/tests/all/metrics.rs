//! `/metrics`: Prometheus/OpenMetrics text with per-function counters.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[test]
fn invocations_durations_and_cold_starts_are_counted() {
    let s = Server::start(&[]);
    s.deploy("ok", guests::HTTP_STATE, json!({}));
    s.deploy("bad", guests::HTTP_500, json!({}));
    s.deploy("slow", guests::HTTP_LOOP, json!({"Timeout": 1}));
    s.create_url("ok", "NONE", None);

    for _ in 0..3 {
        assert_eq!(s.invoke("ok", b"{}").status, 200);
    }
    let r = s.signed(
        "POST",
        "/2015-03-31/functions/ok/invocations",
        &[("x-amz-invocation-type", "Event")],
        b"{}",
    );
    assert_eq!(r.status, 202);
    let ok_success = r#"updraft_invocations_total{function="ok",outcome="Success"}"#;
    eventually(
        Duration::from_secs(10),
        "the async invocation in /metrics",
        || (metric(&s.metrics(), ok_success) == Some(4.0)).then_some(()),
    );
    // Once the async run released the environment: still one environment.
    assert_eq!(s.get("/fn/ok/").status, 200, "URL invocations count too");
    for _ in 0..2 {
        assert_eq!(
            s.invoke("bad", b"{}").header("x-amz-function-error"),
            Some("Unhandled")
        );
    }
    assert_eq!(
        s.invoke("slow", b"{}").header("x-amz-function-error"),
        Some("Unhandled")
    );
    // DryRun and refused requests run nothing.
    let r = s.signed(
        "POST",
        "/2015-03-31/functions/ok/invocations",
        &[("x-amz-invocation-type", "DryRun")],
        b"{}",
    );
    assert_eq!(r.status, 204);

    let text = eventually(
        Duration::from_secs(10),
        "the URL invocation in /metrics",
        || {
            let text = s.metrics();
            (metric(&text, ok_success) == Some(5.0)).then_some(text)
        },
    );
    let r = s.get("/metrics");
    let content_type = r.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("application/openmetrics-text")
            || content_type.starts_with("text/plain"),
        "{content_type}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
    let m = |sample: &str| metric(&text, sample);
    assert_eq!(m(ok_success), Some(5.0), "{text}");
    assert_eq!(
        m(r#"updraft_invocation_duration_seconds_count{function="ok"}"#),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_cold_starts_total{function="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_environments{function="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_invocations_total{function="ok",outcome="Error"}"#),
        None,
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_invocations_total{function="bad",outcome="Error"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_invocation_duration_seconds_count{function="bad"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        m(r#"updraft_invocations_total{function="slow",outcome="Timeout"}"#),
        Some(1.0),
        "{text}"
    );
    let slow_sum = m(r#"updraft_invocation_duration_seconds_sum{function="slow"}"#).expect("sum");
    assert!(
        (0.9..5.0).contains(&slow_sum),
        "the timeout took {slow_sum}s"
    );
    // Cumulative histogram buckets: +Inf holds every observation.
    assert_eq!(
        m(r#"updraft_invocation_duration_seconds_bucket{le="+Inf",function="ok"}"#).or_else(|| m(
            r#"updraft_invocation_duration_seconds_bucket{function="ok",le="+Inf"}"#
        )),
        Some(5.0),
        "{text}"
    );
}

#[test]
fn over_the_concurrency_limit_is_429_and_counted() {
    let s = Server::start(&["--max-concurrency", "1"]);
    s.deploy("sleepy", guests::HTTP_SLEEP, json!({}));
    s.create_url("sleepy", "NONE", None);
    let url = format!("{}/fn/sleepy/?ms=1500", s.url);
    let busy = std::thread::spawn(move || http().get(&url));
    wait_running(&s, "sleepy");
    let r = s.invoke("sleepy", b"{}");
    let msg = r.assert_error(429, "TooManyRequestsException");
    assert_eq!(msg, "Rate Exceeded.");
    assert_eq!(r.json()["Reason"], "ConcurrentInvocationLimitExceeded");
    let r = busy.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slept 1500"));
    let text = s.metrics();
    assert_eq!(
        metric(
            &text,
            r#"updraft_invocations_total{function="sleepy",outcome="Throttled"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // Free again.
    assert_eq!(s.invoke("sleepy", b"{}").status, 200);
}

#[test]
fn reserved_concurrency_limits_one_function_and_is_kept_apart() {
    let s = Server::start(&["--max-concurrency", "20"]);
    s.deploy("held", guests::HTTP_SLEEP, json!({}));
    s.create_url("held", "NONE", None);
    s.deploy("free", guests::HTTP_STATE, json!({}));

    // Lambda keeps part of the account unreserved (here a tenth: 2).
    let out = s.aws_v1(&[
        "lambda",
        "put-function-concurrency",
        "--function-name",
        "held",
        "--reserved-concurrent-executions",
        "19",
    ]);
    assert!(
        failed(&out, "reserving too much").contains("InvalidParameterValueException"),
        "{out:?}"
    );
    let reserved = ok_json(
        &s.aws_v1(&[
            "lambda",
            "put-function-concurrency",
            "--function-name",
            "held",
            "--reserved-concurrent-executions",
            "1",
        ]),
        "put-function-concurrency",
    );
    assert_eq!(reserved["ReservedConcurrentExecutions"], 1);
    let got = ok_json(
        &s.aws_v2(&[
            "lambda",
            "get-function-concurrency",
            "--function-name",
            "held",
        ]),
        "get-function-concurrency",
    );
    assert_eq!(got["ReservedConcurrentExecutions"], 1);

    // One invocation of `held` runs; a second one is throttled with
    // Lambda's reason, while other functions keep running.
    let url = format!("{}/fn/held/?ms=1500", s.url);
    let busy = std::thread::spawn(move || http().get(&url));
    wait_running(&s, "held");
    let text = s.metrics();
    assert_eq!(
        metric(&text, r#"updraft_concurrent_executions{function="held"}"#),
        Some(1.0),
        "{text}"
    );
    let r = s.invoke("held", b"{}");
    r.assert_error(429, "TooManyRequestsException");
    assert_eq!(
        r.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    assert_eq!(s.invoke("free", b"{}").status, 200);
    assert_eq!(busy.join().unwrap().status, 200);

    // The reservation survives a restart, then goes away when deleted.
    let mut s = s;
    s.restart();
    let got = s.api("GET", "/2019-09-30/functions/held/concurrency", None);
    assert_eq!(got.json()["ReservedConcurrentExecutions"], 1);
    let out = s.aws_v1(&[
        "lambda",
        "delete-function-concurrency",
        "--function-name",
        "held",
    ]);
    ok(&out, "delete-function-concurrency");
    let got = s.api("GET", "/2019-09-30/functions/held/concurrency", None);
    assert_eq!(got.json(), json!({}));
}

#[test]
fn the_memory_budget_evicts_idle_environments_before_throttling() {
    let s = Server::start(&["--memory-budget", "256"]);
    for name in ["mem-a", "mem-b", "mem-c"] {
        s.deploy(name, guests::HTTP_SLEEP, json!({"MemorySize": 128}));
        s.create_url(name, "NONE", None);
    }
    let live =
        |text: &str, f: &str| metric(text, &format!("updraft_environments{{function=\"{f}\"}}"));
    let call = |f: &str, ms: u32| http().get(&format!("{}/fn/{f}/?ms={ms}", s.url));
    assert_eq!(call("mem-a", 1).status, 200);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(call("mem-b", 1).status, 200);
    let text = eventually(Duration::from_secs(10), "both environments idle", || {
        let text = s.metrics();
        (live(&text, "mem-a") == Some(1.0) && live(&text, "mem-b") == Some(1.0)).then_some(text)
    });
    assert_eq!(
        metric(&text, r#"updraft_memory_reserved_bytes{function="mem-b"}"#),
        Some(128.0 * 1024.0 * 1024.0)
    );
    let used = metric(&text, r#"updraft_memory_used_bytes{function="mem-b"}"#).unwrap();
    assert!(
        used > 0.0 && used <= 128.0 * 1024.0 * 1024.0,
        "memory in use {used}"
    );

    // The budget is full of idle environments: `mem-a`'s, used least
    // recently, makes room for `mem-c`.
    assert_eq!(call("mem-c", 1).status, 200);
    let text = eventually(Duration::from_secs(10), "mem-c's environment idle", || {
        let text = s.metrics();
        (live(&text, "mem-c") == Some(1.0)).then_some(text)
    });
    assert_eq!(live(&text, "mem-a"), None, "{text}");
    assert_eq!(live(&text, "mem-b"), Some(1.0), "{text}");
    assert_eq!(live(&text, "mem-c"), Some(1.0), "{text}");

    // Full of busy environments: a cold start is throttled, not queued.
    let url_b = format!("{}/fn/mem-b/?ms=1500", s.url);
    let url_c = format!("{}/fn/mem-c/?ms=1500", s.url);
    let b = std::thread::spawn(move || http().get(&url_b));
    let c = std::thread::spawn(move || http().get(&url_c));
    wait_running(&s, "mem-b");
    wait_running(&s, "mem-c");
    let r = s.invoke("mem-a", b"{}");
    r.assert_error(429, "TooManyRequestsException");
    assert_eq!(b.join().unwrap().status, 200);
    assert_eq!(c.join().unwrap().status, 200);
    assert_eq!(s.invoke("mem-a", b"{}").status, 200);
}

fn wait_ready(s: &Server, name: &str, qualifier: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = s.api(
            "GET",
            &format!("/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier={qualifier}"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        if body["Status"] == "READY" {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "never READY: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn provisioned_concurrency_serves_a_burst_without_cold_starts() {
    let mut s = Server::start(&[]);
    let name = "prov";
    s.deploy(name, guests::HTTP_SLEEP, json!({}));
    let v = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/versions"),
        Some(json!({})),
    );
    assert_eq!(v.status, 201, "{}", v.text());
    let a = s.api(
        "POST",
        &format!("/2015-03-31/functions/{name}/aliases"),
        Some(json!({"Name": "live", "FunctionVersion": "1"})),
    );
    assert_eq!(a.status, 201, "{}", a.text());

    // Not on $LATEST, as on Lambda.
    let out = s.aws_v1(&[
        "lambda",
        "put-provisioned-concurrency-config",
        "--function-name",
        name,
        "--qualifier",
        "$LATEST",
        "--provisioned-concurrent-executions",
        "3",
    ]);
    assert!(failed(&out, "$LATEST").contains("InvalidParameterValueException"));

    let put = ok_json(
        &s.aws_v1(&[
            "lambda",
            "put-provisioned-concurrency-config",
            "--function-name",
            name,
            "--qualifier",
            "live",
            "--provisioned-concurrent-executions",
            "3",
        ]),
        "put-provisioned-concurrency-config",
    );
    assert_eq!(put["RequestedProvisionedConcurrentExecutions"], 3);
    let ready = wait_ready(&s, name, "live");
    assert_eq!(ready["AllocatedProvisionedConcurrentExecutions"], 3);
    let cold = format!("updraft_cold_starts_total{{function=\"{name}\"}}");
    assert_eq!(metric(&s.metrics(), &cold), Some(3.0));

    // A burst of 3 concurrent invocations: all warm.
    let burst: Vec<_> = (0..3)
        .map(|_| {
            let (url, creds) = (s.url.clone(), s.credentials());
            std::thread::spawn(move || {
                let path = format!("/2015-03-31/functions/{name}/invocations?Qualifier=live");
                let headers = sign_headers(
                    "POST",
                    &format!("{url}{path}"),
                    &[("x-amz-log-type", "Tail")],
                    b"{}",
                    &creds,
                    "lambda",
                    std::time::SystemTime::now(),
                );
                http().send("POST", &format!("{url}{path}"), &headers, b"{}".to_vec())
            })
        })
        .collect();
    for t in burst {
        let r = t.join().unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(!r.log_tail().contains("Init Duration"), "{}", r.log_tail());
    }
    assert_eq!(metric(&s.metrics(), &cold), Some(3.0), "no new environment");

    let list = ok_json(
        &s.aws_v2(&[
            "lambda",
            "list-provisioned-concurrency-configs",
            "--function-name",
            name,
        ]),
        "list-provisioned-concurrency-configs",
    );
    let configs = list["ProvisionedConcurrencyConfigs"].as_array().unwrap();
    assert_eq!(configs.len(), 1, "{list}");
    assert!(configs[0]["FunctionArn"]
        .as_str()
        .unwrap()
        .ends_with(":prov:live"));

    // Restored after a restart.
    s.restart();
    wait_ready(&s, name, "live");

    let out = s.aws_v1(&[
        "lambda",
        "delete-provisioned-concurrency-config",
        "--function-name",
        name,
        "--qualifier",
        "live",
    ]);
    ok(&out, "delete-provisioned-concurrency-config");
    let r = s.api(
        "GET",
        &format!("/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=live"),
        None,
    );
    r.assert_error(404, "ProvisionedConcurrencyConfigNotFoundException");
}

/// A minimal OTLP/HTTP collector: accepts POSTs and keeps their bodies.
fn collector() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                let _ = tx.send((path, body));
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            }
        }
    });
    (url, rx)
}

#[test]
fn invocations_are_exported_as_otlp_spans() {
    let (endpoint, spans) = collector();
    let s = Server::start(&["--otlp-endpoint", &endpoint]);
    s.deploy("traced", guests::HTTP_STATE, json!({}));
    let r = s.invoke("traced", b"{}");
    assert_eq!(r.status, 200);
    let request_id = r.header("x-amzn-requestid").unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (path, body) = spans.recv_timeout(left).expect("no span exported");
        assert_eq!(path, "/v1/traces");
        // Protobuf keeps strings as they are: the span carries the
        // function name and the invocation id.
        let has = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
        if has(&request_id) {
            assert!(has("traced") && has("faas.invocation_id"));
            break;
        }
    }
}

/// A WASI command function sees the invocation's trace context as
/// `TRACEPARENT`: a child of the caller's `traceparent`, or a trace of
/// its own.
#[test]
fn a_wasi_command_sees_the_trace_context_as_traceparent() {
    let s = Server::start(&[]);
    s.deploy("cmd", guests::CMD_RECORD, json!({}));
    let seen = |headers: &[(&str, &str)]| {
        let mut all = vec![("x-amz-log-type", "Tail")];
        all.extend_from_slice(headers);
        let r = s.signed("POST", "/2015-03-31/functions/cmd/invocations", &all, b"{}");
        assert_eq!(r.status, 200, "{}", r.text());
        let log = r.log_tail();
        log.lines()
            .find_map(|l| l.strip_prefix("traceparent: "))
            .unwrap_or_else(|| panic!("no TRACEPARENT in the log: {log}"))
            .to_string()
    };
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let child = seen(&[("traceparent", caller)]);
    assert!(
        child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{child}"
    );
    assert_eq!(child.len(), 55, "{child}");
    assert_ne!(
        child, caller,
        "the function's parent is the invocation's span"
    );

    let own = seen(&[]);
    assert_eq!(own.len(), 55, "{own}");
    assert!(!own.contains("4bf92f3577b34da6a3ce929d0e0e4736"), "{own}");
}

/// With `--metrics-auth on`, `/metrics` answers only signed requests of a
/// principal allowed `updraft:GetMetrics`: unsigned is refused, the
/// account's root reads it, a user needs the permission.
#[test]
fn metrics_auth_requires_a_signed_request_allowed_by_policy() {
    let s = Server::start(&["--metrics-auth", "on"]);
    let unsigned = s.get("/metrics");
    assert_eq!(unsigned.status, 403, "{}", unsigned.text());
    assert!(unsigned.text().contains("Missing Authentication Token"));

    let root = s.signed("GET", "/metrics", &[], b"");
    assert_eq!(root.status, 200, "{}", root.text());
    assert!(
        root.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text"))
            && root.text().trim_end().ends_with("# EOF"),
        "{}",
        root.text()
    );

    let out = s.boto3_inline(
        r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1")
iam.create_user(UserName="watcher")
key = iam.create_access_key(UserName="watcher")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#,
        &[],
    );
    let printed = ok(&out, "create the user");
    let (id, secret) = printed.trim().split_once(' ').expect("key and secret");
    let watcher = updraft_auth::Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
    };
    let as_watcher = || {
        let now = std::time::SystemTime::now();
        s.signed_with("GET", "/metrics", &[], b"", &watcher, "lambda", now)
    };
    let denied = as_watcher();
    let message = denied.assert_error(403, "AccessDeniedException");
    assert!(message.contains("updraft:GetMetrics"), "{message}");
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "updraft:GetMetrics", "Resource": "*"}]});
    let out = s.aws_v2(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "watcher",
        "--policy-name",
        "metrics",
        "--policy-document",
        &policy.to_string(),
    ]);
    ok(&out, "put-user-policy");
    let allowed = as_watcher();
    assert_eq!(allowed.status, 200, "{}", allowed.text());
}
