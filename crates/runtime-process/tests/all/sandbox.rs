//! The escapes: each attempt fails, the function gets an error or is
//! killed, and another environment keeps serving.

use std::time::Duration;

use crate::*;

/// A bystander: an environment of another function, started first and
/// checked after every attack.
async fn bystander(fx: &Fixture) -> Box<dyn updraft_pool::Environment> {
    let other = archive(vec![
        file(
            "bootstrap",
            std::fs::read(format!("{FIXTURES}/shell/bootstrap")).unwrap(),
            0o100755,
        ),
        file(
            "secret-of-other-function.txt",
            "OTHER-FUNCTION-SECRET",
            0o100644,
        ),
    ]);
    let t = template(&fx.rt, "provided", &other);
    start_ok(&t, &env_config(None)).await
}

async fn still_serves(env: &mut Box<dyn updraft_pool::Environment>) {
    let out = sh(env, "cat /var/task/secret-of-other-function.txt").await;
    assert_eq!(out.status, 0);
    assert_eq!(out.out, "OTHER-FUNCTION-SECRET");
}

#[tokio::test]
async fn cannot_read_another_functions_code_or_the_data_dir() {
    let fx = runtime();
    let mut other = bystander(&fx).await;
    // A data directory with credentials, as `updraft serve` keeps them.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("credentials"), "AKIA-SECRET").unwrap();
    let other_code = fx.root.path().join("code");

    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        &format!(
            "cat {d}/credentials; ls {d}; ls {c}; cat {c}/*/secret-of-other-function.txt; \
             grep -rs OTHER-FUNCTION-SECRET /var /etc /tmp /run /root /home /opt /srv /mnt /dev; \
             cat /proc/1/root/{c}/*/secret-of-other-function.txt; ls /root /home; \
             cat /etc/shadow",
            d = data.path().display(),
            c = other_code.display()
        ),
    )
    .await;
    assert_ne!(out.status, 0);
    assert!(!out.out.contains("AKIA-SECRET"), "{}", out.out);
    assert!(!out.out.contains("OTHER-FUNCTION-SECRET"), "{}", out.out);
    assert!(out.out.contains("No such file or directory"), "{}", out.out);
    // Its own code is there.
    let own = sh(&mut env, "ls /var/task").await;
    assert_eq!(own.out.trim(), "bootstrap");
    still_serves(&mut other).await;
}

#[tokio::test]
async fn cannot_write_outside_tmp() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    for path in [
        "/var/task/bootstrap",
        "/var/task/new",
        "/x",
        "/usr/x",
        "/etc/passwd",
        "/var/runtime/x",
        "/var/rapid/init",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/drop_caches",
        "/proc/sysrq-trigger",
    ] {
        let out = sh(&mut env, &format!("echo pwned > {path}")).await;
        assert_ne!(out.status, 0, "{path} was writable");
        assert!(
            out.out.contains("Read-only file system")
                || out.out.contains("Permission denied")
                || out.out.contains("No such file"),
            "{path}: {}",
            out.out
        );
    }
    let out = sh(
        &mut env,
        "echo ok > /tmp/x && cat /tmp/x && df -k /tmp | tail -1",
    )
    .await;
    assert_eq!(out.status, 0, "{}", out.out);
    assert!(out.out.starts_with("ok\n"));
    assert!(out.out.contains("524288"), "/tmp is 512 MB: {}", out.out);
}

#[tokio::test]
async fn tmp_is_capped() {
    let fx = runtime_with(|c| c.tmp_mb = 16);
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        "head -c 32M /dev/zero > /tmp/big; echo status=$?; du -k /tmp/big | cut -f1; rm /tmp/big",
    )
    .await;
    assert!(out.out.contains("No space left"), "{}", out.out);
    assert!(out.out.contains("status=1"), "{}", out.out);
    assert!(out.out.trim_end().ends_with("16384"), "{}", out.out);
    // The environment serves on.
    assert_eq!(sh(&mut env, "true").await.count, 2);
}

#[tokio::test]
async fn cannot_signal_the_platform() {
    let fx = runtime();
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let me = std::process::id();
    let out = sh(
        &mut env,
        &format!("kill -9 {me}; ps -e -o pid,comm 2>/dev/null || ls /proc"),
    )
    .await;
    assert!(out.out.contains("No such process"), "{}", out.out);
    // The test process (the platform) is alive, and the sandbox sees only
    // its own processes: pid 1 is bubblewrap's reaper.
    let procs: Vec<&str> = out
        .out
        .lines()
        .filter(|l| l.trim().chars().all(|c| c.is_ascii_digit()) && !l.trim().is_empty())
        .collect();
    assert!(procs.len() < 20, "{}", out.out);
    still_serves(&mut other).await;
}

#[tokio::test]
async fn sandbox_processes_are_an_unprivileged_host_user() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        "grep -E '^(Uid|Gid|CapEff|NoNewPrivs)' /proc/self/status",
    )
    .await;
    assert!(out.out.contains("CapEff:\t0000000000000000"), "{}", out.out);
    assert!(out.out.contains("NoNewPrivs:\t1"), "{}", out.out);
    assert!(out.out.contains("Uid:\t993\t993\t993\t993"), "{}", out.out);
    // Seen from the host: uid 2000993, not root.
    let mut seen = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("/var/rapid/init") {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            if let Some(uid) = status.lines().find(|l| l.starts_with("Uid:")) {
                // bwrap's own processes and the sandbox's.
                assert!(uid.contains("2000993"), "{uid}");
                seen += 1;
            }
        }
    }
    assert!(seen > 0);
}

#[tokio::test]
async fn cannot_open_network_connections() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let host_ip = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().next().map(str::to_string));
    let mut targets = vec![format!("127.0.0.1:{port}"), "1.1.1.1:80".to_string()];
    if let Some(ip) = host_ip {
        targets.push(format!("{ip}:{port}"));
    }
    for target in targets {
        let out = sh(&mut env, &format!("curl -sS -m 3 http://{target}/")).await;
        assert_ne!(out.status, 0, "{target}: {}", out.out);
        assert!(
            out.out.contains("Couldn't connect")
                || out.out.contains("unreachable")
                || out.out.contains("Failed to connect"),
            "{target}: {}",
            out.out
        );
    }
    assert!(
        listener.accept().is_err(),
        "nothing reached the host's port"
    );
    let out = sh(&mut env, "cat /proc/net/dev | tail -n +3 | cut -d: -f1").await;
    assert_eq!(out.out.trim(), "lo", "only loopback: {}", out.out);
}

#[tokio::test]
async fn fork_bomb_hits_the_pids_limit_and_times_out() {
    let _heavy = heavy().await;
    let fx = runtime_with(|c| c.pids_max = 64);
    if !require_cgroups(&fx) {
        return;
    }
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    // While the bomb runs, watch the environments' cgroups for one at its
    // limit of 64 processes.
    let parents = fx.rt.cgroup_parents().to_vec();
    let watch = std::thread::spawn(move || {
        let at_limit = |dir: &std::path::Path| {
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            read("pids.max").trim() == "64" && read("pids.current").trim() == "64"
        };
        let deadline = std::time::Instant::now() + Duration::from_millis(1800);
        while std::time::Instant::now() < deadline {
            let hit = parents.iter().any(|p| {
                std::fs::read_dir(p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|e| at_limit(&e.path()))
            });
            if hit {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let ran = invoke(
        &mut env,
        "bomb() { bomb | bomb & }; bomb; sleep 30",
        Duration::from_secs(2),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Sandbox.Timedout");
    assert!(ran.outcome.discard);
    assert!(
        watch.join().unwrap(),
        "the fork bomb's environment never reached its pids limit"
    );
    drop(env);
    // The node still forks, and other functions still serve.
    assert!(std::process::Command::new("true")
        .status()
        .unwrap()
        .success());
    still_serves(&mut other).await;
}

#[tokio::test]
async fn fork_fails_past_the_pids_limit() {
    let fx = runtime_with(|c| c.pids_max = 32);
    if !require_cgroups(&fx) {
        return;
    }
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(&mut env, "for i in $(seq 1 60); do sleep 5 & done 2>&1; jobs | wc -l; kill $(jobs -p) 2>/dev/null; true").await;
    assert!(
        out.out.contains("Resource temporarily unavailable") || out.out.contains("retry"),
        "{}",
        out.out
    );
}

#[tokio::test]
async fn memory_hog_is_killed_by_the_memory_limit() {
    let _heavy = heavy().await;
    let fx = runtime();
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    // Debian's python3 in /usr, allocating (and touching) 1 GB.
    let ran = invoke(
        &mut env,
        "/usr/bin/python3 -c 'b = bytearray(1024 * 1024 * 1024); print(len(b))'",
        Duration::from_secs(20),
    )
    .await;
    if fx.rt.limit_mechanism() == updraft_runtime_process::LimitMechanism::RlimitAs {
        // RLIMIT_AS: the allocation fails inside the function.
        let body = String::from_utf8_lossy(&ran.body()).into_owned();
        assert!(body.contains("\"status\":1"), "{body}");
    } else {
        let err = ran.error();
        assert_eq!(err.error_type, "Runtime.OutOfMemory", "{err:?}");
        assert!(err.error_message.contains("128 MB"), "{err:?}");
        assert!(ran.outcome.discard);
        let peak = ran.outcome.max_memory_bytes;
        assert!(peak > 64 << 20 && peak <= 129 << 20, "peak {peak}");
    }
    still_serves(&mut other).await;
}

#[tokio::test]
async fn without_cgroups_memory_is_capped_by_rlimit_as() {
    let fx = runtime_with(|c| c.use_cgroups = false);
    assert_eq!(
        fx.rt.limit_mechanism(),
        updraft_runtime_process::LimitMechanism::RlimitAs
    );
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.memory_mb = 256;
    let mut env = start_ok(&t, &config).await;
    let out = sh(
        &mut env,
        "/usr/bin/python3 -c 'b = bytearray(512 * 1024 * 1024); print(len(b))'",
    )
    .await;
    assert_ne!(out.status, 0);
    assert!(out.out.contains("MemoryError"), "{}", out.out);
    assert_eq!(sh(&mut env, "true").await.count, 2);
}

/// The platform's endpoint as a test serves it: a Unix socket answering
/// every request with what it received, `{"method","path","host","key"}`.
struct Endpoint {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn endpoint() -> Endpoint {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endpoint.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    // The sandbox's unprivileged host uid connects through its mount.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        let doc = serde_json::json!({
                            "method": req.method().as_str(),
                            "path": req.uri().to_string(),
                            "host": header("host"),
                            "key": header("x-amz-security-token"),
                        });
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from(doc.to_string())),
                        ))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Endpoint {
        path,
        _dir: dir,
        server,
    }
}

#[tokio::test]
async fn reaches_the_platforms_endpoint_with_the_roles_credentials_and_nothing_else() {
    let ep = endpoint();
    let socket = ep.path.clone();
    let fx = runtime_with(|c| c.endpoint_socket = Some(socket));
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    // What the pools add on a cold start; the function's own
    // AWS_ENDPOINT_URL does not win over the platform's.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token-1"),
        ("AWS_ENDPOINT_URL", "http://attacker.example"),
    ] {
        config.env.insert(k.into(), v.into());
    }
    let mut env = start_ok(&t, &config).await;

    let out = sh(
        &mut env,
        "printenv AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION",
    )
    .await;
    assert_eq!(out.status, 0, "{}", out.out);
    assert_eq!(
        out.out.lines().collect::<Vec<_>>(),
        [
            "http://127.0.0.1:9000",
            "ASIAEXAMPLE",
            "secret",
            "token-1",
            "eu-west-1",
            "eu-west-1"
        ]
    );

    // An HTTP call to the endpoint, as an SDK makes it, twice on one
    // connection.
    let out = sh(
        &mut env,
        r#"curl -sS -m 5 -H "X-Amz-Security-Token: $AWS_SESSION_TOKEN" "$AWS_ENDPOINT_URL/2015-03-31/functions?x=1" "$AWS_ENDPOINT_URL/again""#,
    )
    .await;
    assert_eq!(out.status, 0, "{}", out.out);
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out.out)
        .into_iter()
        .map(|d| d.unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{}", out.out);
    assert_eq!(docs[0]["method"], "GET");
    assert_eq!(docs[0]["path"], "/2015-03-31/functions?x=1");
    assert_eq!(docs[0]["host"], "127.0.0.1:9000");
    assert_eq!(docs[0]["key"], "token-1");
    assert_eq!(docs[1]["path"], "/again");

    // The socket is all: other host ports stay unreachable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    for target in [format!("127.0.0.1:{port}"), "127.0.0.1:9002".to_string()] {
        let out = sh(&mut env, &format!("curl -sS -m 3 http://{target}/")).await;
        assert_ne!(out.status, 0, "{target}: {}", out.out);
    }
    assert!(
        listener.accept().is_err(),
        "nothing reached the host's port"
    );
    // And the mounted socket is the only new entry, read-only.
    let out = sh(&mut env, "ls /var/rapid; touch /var/rapid/x 2>&1; echo $?").await;
    assert_eq!(
        out.out.lines().collect::<Vec<_>>()[..3],
        ["api", "endpoint.sock", "init"],
        "{}",
        out.out
    );
    assert!(out.out.trim_end().ends_with('1'), "{}", out.out);
}

#[tokio::test]
async fn without_an_endpoint_functions_get_no_endpoint() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        r#"echo "url=${AWS_ENDPOINT_URL:-}"; curl -sS -m 3 http://127.0.0.1:9000/"#,
    )
    .await;
    assert_ne!(out.status, 0, "{}", out.out);
    assert!(out.out.starts_with("url=\n"), "{}", out.out);
}
