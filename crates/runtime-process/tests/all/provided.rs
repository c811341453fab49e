//! `provided.*`: a shell `bootstrap` talking to the Runtime API with curl.

use std::time::{Duration, Instant};

use updraft_pool::Runtime;

use crate::*;

#[tokio::test]
async fn tutorial_bootstrap_echoes_events_and_logs() {
    let fx = runtime();
    let t = template(
        &fx.rt,
        "provided.al2023",
        &archive(fixture_files("tutorial")),
    );
    let mut env = start_ok(&t, &env_config(Some("function.handler"))).await;
    for i in 0..3 {
        let ran = invoke(&mut env, format!("{{\"n\":{i}}}"), Duration::from_secs(5)).await;
        assert_eq!(
            ran.body(),
            format!("Echoing request: '{{\"n\":{i}}}'").as_bytes()
        );
        // The handler's stderr is the invocation's log.
        assert!(
            ran.log.contains(&format!("{{\"n\":{i}}}")),
            "log: {}",
            ran.log
        );
        assert!(!ran.outcome.discard);
        assert!(ran.outcome.max_memory_bytes > 0);
    }
}

#[tokio::test]
async fn lambda_environment_variables() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(Some("anything.handler"));
    config.version = "3".into();
    let mut env = start_ok(&t, &config).await;
    let out = sh(
        &mut env,
        "env | sort; echo ARN=$FUNCTION_ARN; echo TRACE=$TRACE_ID; echo DEADLINE=$DEADLINE_MS; pwd",
    )
    .await;
    assert_eq!(out.status, 0);
    let vars: std::collections::BTreeMap<&str, &str> =
        out.out.lines().filter_map(|l| l.split_once('=')).collect();
    for (k, v) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "test-fn"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "3"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test-fn"),
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("_HANDLER", "anything.handler"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("GREETING", "hi"),
        (
            "ARN",
            "arn:aws:lambda:eu-west-1:000000000000:function:test-fn:3",
        ),
    ] {
        assert_eq!(vars.get(k).copied(), Some(v), "{k} in\n{}", out.out);
    }
    assert!(vars["AWS_LAMBDA_LOG_STREAM_NAME"].contains("/[3]"));
    assert!(vars["LD_LIBRARY_PATH"].contains("/var/task/lib"));
    assert!(vars["TRACE"].starts_with("Root=1-"));
    let deadline: i64 = vars["DEADLINE"].parse().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        deadline > now && deadline <= now + 10_000,
        "deadline {deadline} now {now}"
    );
    assert!(out.out.trim_end().ends_with("/var/task"));
    // Nothing of the platform's own environment leaks in.
    assert!(
        !vars.contains_key("HOME") && !vars.contains_key("CARGO"),
        "{}",
        out.out
    );
}

#[tokio::test]
async fn warm_environment_keeps_state() {
    let fx = runtime();
    let t = template(&fx.rt, "provided.al2", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    for n in 1..=3 {
        let out = sh(&mut env, "echo x >> /tmp/state; wc -l < /tmp/state").await;
        assert_eq!(out.count, n, "the same process serves every invocation");
        assert_eq!(
            out.out.trim(),
            n.to_string(),
            "/tmp survives between invocations"
        );
    }
}

#[tokio::test]
async fn function_error_keeps_the_environment() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let ran = invoke(&mut env, "error", Duration::from_secs(5)).await;
    let err = ran.error();
    assert_eq!(err.error_type, "ShellError");
    assert_eq!(err.error_message, "it broke");
    assert!(!ran.outcome.discard);
    assert!(
        ran.log.contains(&format!("failing {}", ran.request_id)),
        "{}",
        ran.log
    );
    assert_eq!(sh(&mut env, "true").await.count, 2);
}

#[tokio::test]
async fn init_error_reports_the_clients_type_and_the_init_log() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.env.insert("INIT_FAIL".into(), "1".into());
    let (env, log) = start(&t, &config).await;
    let err = env.err().expect("init fails");
    assert_eq!(err.error_type, "Runtime.ShellInitError");
    assert_eq!(err.error_message, "init failed on purpose");
    assert!(
        log.contains("init: uid=993 host=updraft"),
        "init log: {log}"
    );
}

#[tokio::test]
async fn exit_during_init_is_an_exit_error() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.env.insert("INIT_EXIT".into(), "1".into());
    let (env, log) = start(&t, &config).await;
    let err = env.err().expect("init fails");
    assert_eq!(err.error_type, "Runtime.ExitError");
    assert_eq!(
        err.error_message,
        "Runtime exited with error: exit status 3"
    );
    assert!(log.contains("init: uid=993"), "{log}");
}

#[tokio::test]
async fn init_is_bounded() {
    let fx = runtime_with(|c| c.init_timeout = Duration::from_millis(700));
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.env.insert("INIT_HANG".into(), "1".into());
    let started = Instant::now();
    let (env, _log) = start(&t, &config).await;
    let err = env.err().expect("init times out");
    assert_eq!(err.error_type, "Sandbox.Timedout");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn exit_mid_invocation_is_an_exit_error_and_discards() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let ran = invoke(
        &mut env,
        "echo bye; kill -9 $RUNNER_PID",
        Duration::from_secs(5),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Runtime.ExitError");
    assert_eq!(
        err.error_message,
        format!(
            "RequestId: {} Error: Runtime exited with error: signal: killed",
            ran.request_id
        )
    );
    assert!(ran.outcome.discard);
}

#[tokio::test]
async fn timeout_kills_the_process_tree() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    // A busy loop in a grandchild, and a background sleeper.
    let started = Instant::now();
    let ran = invoke(
        &mut env,
        "sleep 1000 & while :; do :; done",
        Duration::from_millis(800),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Sandbox.Timedout");
    assert_eq!(err.error_message, "Task timed out after 0.80 seconds");
    assert!(ran.outcome.discard);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Every process of the sandbox is gone.
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", "sleep 1000"])
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
}

#[tokio::test]
async fn deploy_checks_the_package() {
    let fx = runtime();
    let rt = &fx.rt;
    let no_bootstrap = archive(vec![file("main.sh", "echo", 0o100755)]);
    let e = rt.prepare("provided", "aa", &no_bootstrap).unwrap_err();
    assert!(e.0.contains("no `bootstrap`"), "{e}");

    let not_exec = archive(vec![file("bootstrap", "#!/bin/sh\n", 0o100644)]);
    let e = rt.prepare("provided.al2", "bb", &not_exec).unwrap_err();
    assert!(e.0.contains("not executable"), "{e}");

    let link = archive(vec![
        file("bootstrap", "#!/bin/sh\n", 0o100755),
        file("etc", "/etc/passwd", 0o120777),
    ]);
    let e = rt.prepare("provided", "cc", &link).unwrap_err();
    assert!(e.0.contains("not a regular file"), "{e}");

    let traversal = archive(vec![
        file("bootstrap", "#!/bin/sh\n", 0o100755),
        file("../escape", "x", 0o100644),
    ]);
    let e = rt.prepare("provided", "dd", &traversal).unwrap_err();
    assert!(e.0.contains("unsafe path"), "{e}");

    let e = rt.prepare("nodejs99.x", "ee", &not_exec).unwrap_err();
    assert!(
        e.0.contains("provided.al2023") && e.0.contains("python3.12"),
        "{e}"
    );
    assert!(rt.names().contains(&"provided.al2023"));

    let e = rt
        .prepare("provided", "../x", &shell_archive())
        .unwrap_err();
    assert!(e.0.contains("invalid code hash"), "{e}");
}

#[tokio::test]
async fn code_dir_is_read_only_and_keeps_exec_bits() {
    use std::os::unix::fs::PermissionsExt;
    let fx = runtime();
    let a = archive(vec![
        file("bootstrap", "#!/bin/sh\n", 0o100755),
        file("lib/data.txt", "data", 0o100644),
        file("bin/tool", "#!/bin/sh\n", 0o100700),
    ]);
    let sha = sha_of(&a);
    fx.rt.prepare("provided", &sha, &a).unwrap();
    let dir = fx.rt.code_dir(&sha).unwrap();
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("bootstrap"), 0o555);
    assert_eq!(mode("bin/tool"), 0o555);
    assert_eq!(mode("lib/data.txt"), 0o444);
    assert_eq!(mode("lib"), 0o555);
    assert_eq!(mode(""), 0o555);
    // Prepared again (same hash): reused as is.
    fx.rt.prepare("provided", &sha, &a).unwrap();
    // Loaded after the directory vanished: unpacked again from the archive.
    remove_read_only_tree(&dir);
    fx.rt
        .load("provided", &sha, "bootstrap", &|| Ok(a.clone()))
        .unwrap();
    assert!(dir.join("bootstrap").is_file());
}

fn remove_read_only_tree(dir: &std::path::Path) {
    let _ = std::process::Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(dir)
        .status();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn cold_start_time_of_a_shell_bootstrap() {
    let _heavy = heavy().await;
    let fx = runtime();
    let t = template(&fx.rt, "provided", &archive(fixture_files("tutorial")));
    let config = env_config(Some("function.handler"));
    let mut times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let mut env = start_ok(&t, &config).await;
        let ran = invoke(&mut env, "{}", Duration::from_secs(5)).await;
        times.push(started.elapsed());
        ran.body();
    }
    times.sort();
    eprintln!(
        "shell bootstrap cold start (spawn → first response): p50 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(times[times.len() / 2] < Duration::from_secs(2));
}

#[test]
fn the_helper_is_found_next_to_the_binary() {
    // A test binary lives in target/<profile>/deps; the helper one level up.
    let found = updraft_runtime_process::ProcessConfig::new("/nonexistent").init_binary;
    assert_eq!(
        std::fs::canonicalize(found).unwrap(),
        std::fs::canonicalize(env!("CARGO_BIN_EXE_updraft-sandbox-init")).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_environments_start_and_serve_at_once() {
    let _heavy = heavy().await;
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut starting = tokio::task::JoinSet::new();
    for n in 0..12 {
        let t = t.clone();
        starting.spawn(async move {
            let mut env = start_ok(&t, &env_config(None)).await;
            let out = sh(
                &mut env,
                &format!("echo {n} > /tmp/n; cat /tmp/n; ls /tmp | wc -l"),
            )
            .await;
            (n, out.out, env)
        });
    }
    let mut envs = Vec::new();
    while let Some(done) = starting.join_next().await {
        let (n, out, env) = done.unwrap();
        // Each has its own /tmp: only its own file (and the runner's).
        assert_eq!(out.lines().next(), Some(n.to_string().as_str()), "{out}");
        envs.push(env);
    }
    for env in &mut envs {
        assert_eq!(sh(env, "true").await.count, 2);
    }
}
