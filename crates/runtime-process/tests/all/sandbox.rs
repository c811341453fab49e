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
    // No EphemeralStorage in the configuration: the runtime's default.
    let fx = runtime_with(|c| c.tmp_mb = 16);
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.ephemeral_storage_mb = 0;
    let mut env = start_ok(&t, &config).await;
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

/// What the escape scripts below start with: raw system calls through
/// ctypes, from Debian's python3 (in `/usr`, so in every sandbox).
/// `call(name, *args)` answers `ok` or the errno's name; `show` prints
/// `label: result`, one line each, for the test to match.
const SYSCALLS_PY: &str = r#"
import ctypes, errno, os, struct, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {
    "x86_64": dict(getpid=39, ptrace=101, process_vm_readv=310, process_vm_writev=311,
        mount=165, umount2=166, pivot_root=155, chroot=161, open_tree=428, fsopen=430,
        unshare=272, setns=308, clone=56, clone3=435, bpf=321, perf_event_open=298,
        userfaultfd=323, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        keyctl=250, add_key=248, request_key=249, kexec_load=246, kexec_file_load=320,
        init_module=175, finit_module=313, delete_module=176, acct=163, swapon=167,
        swapoff=168, reboot=169, syslog=103, open_by_handle_at=304, name_to_handle_at=303,
        fanotify_init=300, quotactl=179, lookup_dcookie=212, personality=135,
        settimeofday=164, clock_settime=227, adjtimex=159, clock_adjtime=305),
    "aarch64": dict(getpid=172, ptrace=117, process_vm_readv=270, process_vm_writev=271,
        mount=40, umount2=39, pivot_root=41, chroot=51, open_tree=428, fsopen=430,
        unshare=97, setns=268, clone=220, clone3=435, bpf=280, perf_event_open=241,
        userfaultfd=282, io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        keyctl=219, add_key=217, request_key=218, kexec_load=104, kexec_file_load=294,
        init_module=105, finit_module=273, delete_module=106, acct=89, swapon=224,
        swapoff=225, reboot=142, syslog=116, open_by_handle_at=265, name_to_handle_at=264,
        fanotify_init=262, quotactl=60, lookup_dcookie=18, personality=92,
        settimeofday=170, clock_settime=112, adjtimex=171, clock_adjtime=266),
}[os.uname().machine]
def raw(name, *args):
    ctypes.set_errno(0)
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = libc.syscall(ctypes.c_long(NR[name]), *args)
    return r, ctypes.get_errno()
def call(name, *args):
    r, e = raw(name, *args)
    return "ok" if r != -1 else errno.errorcode.get(e, str(e))
def show(label, result):
    print(f"{label}: {result}", flush=True)
"#;

/// Runs `script` after [`SYSCALLS_PY`] in the sandbox.
async fn python_syscalls(env: &mut Box<dyn updraft_pool::Environment>, script: &str) -> Shell {
    let out = sh(
        env,
        &format!("/usr/bin/python3 - <<'PY'\n{SYSCALLS_PY}\n{script}\nPY"),
    )
    .await;
    assert_eq!(out.status, 0, "the script failed:\n{}", out.out);
    out
}

/// Every `label` printed `label: expected`.
fn assert_results(out: &Shell, expected: &[(&str, &str)]) {
    for (label, result) in expected {
        let line = format!("{label}: {result}");
        assert!(
            out.out.lines().any(|l| l == line),
            "expected `{line}`:\n{}",
            out.out
        );
    }
}

#[tokio::test]
async fn the_seccomp_filter_is_installed_and_processes_and_threads_still_start() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        "grep -E '^Seccomp(_filters)?:' /proc/self/status /proc/1/status; \
         ls -l /proc/$RUNNER_PID/fd /proc/1/fd",
    )
    .await;
    // Mode 2, one filter: the runtime's processes and bubblewrap's pid 1.
    for pid in ["self", "1"] {
        for line in ["Seccomp:\t2", "Seccomp_filters:\t1"] {
            assert!(
                out.out.contains(&format!("/proc/{pid}/status:{line}")),
                "{}",
                out.out
            );
        }
    }
    // bubblewrap closed the descriptor it read the filter from.
    assert!(!out.out.contains("memfd:"), "{}", out.out);
    // clone3 says ENOSYS: glibc falls back to clone for threads and
    // processes, which the filter lets through.
    let out = python_syscalls(
        &mut env,
        r#"
import threading
seen = []
t = threading.Thread(target=lambda: seen.append(1)); t.start(); t.join()
show("thread", "ok" if seen == [1] else "failed")
show("subprocess", "ok" if subprocess.run(["true"]).returncode == 0 else "failed")
pid = os.fork()
if pid == 0:
    os._exit(7)
show("fork", "ok" if os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 7 else "failed")
args = ctypes.create_string_buffer(88)
struct.pack_into("<QQQQQQQQQQQ", args, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0)
r, e = raw("clone3", args, 88)
if r == 0:
    os._exit(0)
show("clone3", "ok" if r != -1 else errno.errorcode.get(e, str(e)))
show("getpid", call("getpid"))
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("thread", "ok"),
            ("subprocess", "ok"),
            ("fork", "ok"),
            ("clone3", "ENOSYS"),
            ("getpid", "ok"),
        ],
    );
    // The shell runner (bash, curl) works on.
    assert_eq!(sh(&mut env, "ls /var/task | wc -l").await.out.trim(), "1");
}

#[tokio::test]
async fn cannot_ptrace_or_read_another_processs_memory() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = python_syscalls(
        &mut env,
        r#"
child = subprocess.Popen(["sleep", "30"])
show("attach-child", call("ptrace", 16, child.pid, 0, 0))        # PTRACE_ATTACH
show("seize-child", call("ptrace", 0x4206, child.pid, 0, 0))     # PTRACE_SEIZE
show("attach-init", call("ptrace", 16, 1, 0, 0))
show("traceme", call("ptrace", 0, 0, 0, 0))                      # PTRACE_TRACEME
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
secret = ctypes.create_string_buffer(b"secret", 16)
into = ctypes.create_string_buffer(16)
local, remote = iovec(ctypes.addressof(into), 6), iovec(ctypes.addressof(secret), 6)
show("vm-readv", call("process_vm_readv", os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
show("vm-writev", call("process_vm_writev", os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
show("copied", into.value.decode() or "nothing")
tracer = [l for l in open(f"/proc/{child.pid}/status") if l.startswith("TracerPid")][0].split()[1]
show("child-tracer", tracer)
child.kill()
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("attach-child", "EPERM"),
            ("seize-child", "EPERM"),
            ("attach-init", "EPERM"),
            ("traceme", "EPERM"),
            ("vm-readv", "EPERM"),
            ("vm-writev", "EPERM"),
            ("copied", "nothing"),
            ("child-tracer", "0"),
        ],
    );
}

#[tokio::test]
async fn cannot_create_namespaces() {
    let fx = runtime();
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = sh(
        &mut env,
        "unshare -U true; echo status=$?; unshare -Ur id; unshare -n true",
    )
    .await;
    assert!(out.out.contains("status=1"), "{}", out.out);
    assert!(out.out.contains("Operation not permitted"), "{}", out.out);
    assert!(!out.out.contains("uid=0"), "{}", out.out);

    let out = python_syscalls(
        &mut env,
        r#"
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
show("unshare-user", call("unshare", CLONE_NEWUSER))
show("unshare-mount-net", call("unshare", CLONE_NEWNS | CLONE_NEWNET))
for label, flags in [("clone-user", CLONE_NEWUSER), ("clone-pid", CLONE_NEWPID), ("clone-net", CLONE_NEWNET)]:
    r, e = raw("clone", flags | 17, 0, 0, 0, 0)  # | SIGCHLD
    if r == 0:
        os._exit(0)  # a new namespace after all: the child goes
    if r > 0:
        os.waitpid(r, 0)
    show(label, "ok" if r != -1 else errno.errorcode.get(e, str(e)))
args = ctypes.create_string_buffer(88)
struct.pack_into("<QQQQQQQQQQQ", args, 0, CLONE_NEWUSER, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0)
r, e = raw("clone3", args, 88)
if r == 0:
    os._exit(0)
show("clone3-user", "ok" if r != -1 else errno.errorcode.get(e, str(e)))
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
show("setns-user", call("setns", fd, 0))
fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
show("setns-mnt", call("setns", fd, 0))
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("unshare-user", "EPERM"),
            ("unshare-mount-net", "EPERM"),
            ("clone-user", "EPERM"),
            ("clone-pid", "EPERM"),
            ("clone-net", "EPERM"),
            ("clone3-user", "ENOSYS"),
            ("setns-user", "EPERM"),
            ("setns-mnt", "EPERM"),
        ],
    );
    still_serves(&mut other).await;
}

#[tokio::test]
async fn cannot_mount_or_change_root() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = python_syscalls(
        &mut env,
        r#"
os.makedirs("/tmp/m", exist_ok=True)
show("mount-tmpfs", call("mount", b"none", b"/tmp/m", b"tmpfs", 0, None))
show("mount-bind", call("mount", b"/var/task", b"/tmp/m", None, 0x1000, None))      # MS_BIND
show("remount-rw", call("mount", None, b"/", None, 0x20 | 0x1000, None))           # MS_REMOUNT | MS_BIND
show("umount", call("umount2", b"/var/task", 2))                                   # MNT_DETACH
show("pivot-root", call("pivot_root", b"/tmp", b"/tmp/m"))
show("chroot", call("chroot", b"/tmp"))
show("fsopen", call("fsopen", b"tmpfs", 0))
show("open-tree", call("open_tree", -100, b"/var/task", 1))                        # OPEN_TREE_CLONE
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("mount-tmpfs", "EPERM"),
            ("mount-bind", "EPERM"),
            ("remount-rw", "EPERM"),
            ("umount", "EPERM"),
            ("pivot-root", "EPERM"),
            ("chroot", "EPERM"),
            ("fsopen", "EPERM"),
            ("open-tree", "EPERM"),
        ],
    );
    let out = sh(&mut env, "ls /tmp/m | wc -l; echo x > /var/task/x").await;
    assert!(out.out.starts_with("0\n"), "nothing mounted: {}", out.out);
    assert!(out.out.contains("Read-only file system"), "{}", out.out);
}

#[tokio::test]
async fn cannot_load_bpf_programs_or_open_perf_events() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = python_syscalls(
        &mut env,
        r#"
# A socket filter that returns 0: r0 = 0; exit.
insns = ctypes.create_string_buffer(bytes([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 16)
license = ctypes.create_string_buffer(b"GPL")
attr = ctypes.create_string_buffer(128)
struct.pack_into("<IIQQ", attr, 0, 1, 2, ctypes.addressof(insns), ctypes.addressof(license))
show("prog-load", call("bpf", 5, attr, 128))                                       # BPF_PROG_LOAD
attr = ctypes.create_string_buffer(128)
struct.pack_into("<IIII", attr, 0, 2, 4, 8, 1)                                     # an array map
show("map-create", call("bpf", 0, attr, 128))                                      # BPF_MAP_CREATE
perf = ctypes.create_string_buffer(128)
struct.pack_into("<IIQ", perf, 0, 1, 128, 0)                                       # software cpu-clock
show("perf-event-open", call("perf_event_open", perf, 0, -1, -1, 0))
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("prog-load", "EPERM"),
            ("map-create", "EPERM"),
            ("perf-event-open", "EPERM"),
        ],
    );
}

#[tokio::test]
async fn cannot_use_io_uring() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = python_syscalls(
        &mut env,
        r#"
params = ctypes.create_string_buffer(120)
show("io-uring-setup", call("io_uring_setup", 8, params))
show("io-uring-enter", call("io_uring_enter", 0, 1, 0, 0, None, 0))
show("io-uring-register", call("io_uring_register", 0, 0, None, 0))
"#,
    )
    .await;
    assert_results(
        &out,
        &[
            ("io-uring-setup", "EPERM"),
            ("io-uring-enter", "EPERM"),
            ("io-uring-register", "EPERM"),
        ],
    );
}

#[tokio::test]
async fn kernel_and_machine_state_calls_are_denied() {
    let fx = runtime();
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&t, &env_config(None)).await;
    let out = python_syscalls(
        &mut env,
        r#"
timex = ctypes.create_string_buffer(256)      # modes 0: only a query
ts = ctypes.create_string_buffer(16)
handle = ctypes.create_string_buffer(136)
struct.pack_into("<I", handle, 0, 128)
mount_id = ctypes.create_string_buffer(4)
show("keyctl", call("keyctl", 0, -3, 0))                       # KEYCTL_GET_KEYRING_ID, session
show("add-key", call("add_key", b"user", b"k", b"v", 1, -3))
show("request-key", call("request_key", b"user", b"k", None, 0))
show("userfaultfd", call("userfaultfd", 1))                    # UFFD_USER_MODE_ONLY
show("syslog", call("syslog", 10, None, 0))                    # SYSLOG_ACTION_SIZE_BUFFER
show("name-to-handle-at", call("name_to_handle_at", -100, b"/tmp", handle, mount_id, 0))
show("open-by-handle-at", call("open_by_handle_at", -100, handle, 0))
show("fanotify-init", call("fanotify_init", 0, 0))
show("lookup-dcookie", call("lookup_dcookie", 0, None, 0))
show("quotactl", call("quotactl", 0, None, 0, None))
show("acct", call("acct", None))
show("swapon", call("swapon", b"/tmp/swap", 0))
show("swapoff", call("swapoff", b"/tmp/swap"))
show("reboot", call("reboot", 0xfee1dead, 672274793, 0x1234567, None))    # RESTART
show("kexec-load", call("kexec_load", 0, 0, None, 0))
show("kexec-file-load", call("kexec_file_load", -1, -1, 0, None, 0))
show("init-module", call("init_module", None, 0, b""))
show("finit-module", call("finit_module", -1, b"", 0))
show("delete-module", call("delete_module", b"nope", 0))
show("settimeofday", call("settimeofday", None, None))
show("clock-settime", call("clock_settime", 0, ts))
show("adjtimex", call("adjtimex", timex))
show("clock-adjtime", call("clock_adjtime", 0, timex))
show("personality-no-aslr", call("personality", 0x0040000))    # ADDR_NO_RANDOMIZE
show("personality-exec", call("personality", 0x0400000))       # READ_IMPLIES_EXEC
show("personality-query", call("personality", 0xffffffff))
show("personality-linux", call("personality", 0))
show("getpid", call("getpid"))
"#,
    )
    .await;
    let mut expected: Vec<(&str, &str)> = [
        "keyctl",
        "add-key",
        "request-key",
        "userfaultfd",
        "syslog",
        "name-to-handle-at",
        "open-by-handle-at",
        "fanotify-init",
        "lookup-dcookie",
        "quotactl",
        "acct",
        "swapon",
        "swapoff",
        "reboot",
        "kexec-load",
        "kexec-file-load",
        "init-module",
        "finit-module",
        "delete-module",
        "settimeofday",
        "clock-settime",
        "adjtimex",
        "clock-adjtime",
        "personality-no-aslr",
        "personality-exec",
    ]
    .into_iter()
    .map(|label| (label, "EPERM"))
    .collect();
    expected.extend([
        ("personality-query", "ok"),
        ("personality-linux", "ok"),
        ("getpid", "ok"),
    ]);
    assert_results(&out, &expected);
    // ASLR stays on.
    let out = sh(&mut env, "setarch -R true; echo status=$?").await;
    assert!(out.out.contains("status=1"), "{}", out.out);
}

#[tokio::test]
async fn tmp_is_sized_by_ephemeral_storage_and_filling_it_fails_with_enospc() {
    let fx = runtime();
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut config = env_config(None);
    config.ephemeral_storage_mb = 20;
    let mut env = start_ok(&t, &config).await;
    let out = sh(&mut env, "df -k /tmp | tail -1").await;
    assert!(out.out.contains(" 20480 "), "/tmp is 20 MB: {}", out.out);
    let out = python_syscalls(
        &mut env,
        r#"
fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT, 0o600)
chunk, written = b"x" * (1 << 20), 0
try:
    for _ in range(64):
        written += os.write(fd, chunk)
    show("fill", "no error")
except OSError as e:
    show("fill", errno.errorcode[e.errno])
show("written-mb", written >> 20)
# While /tmp is full the runtime still runs, and so does a new process.
show("while-full", subprocess.run(["cat", "/var/task/bootstrap"], capture_output=True).returncode)
# The shell runner needs /tmp for its next request (mktemp): free it.
os.close(fd)
os.remove("/tmp/fill")
"#,
    )
    .await;
    assert_results(&out, &[("fill", "ENOSPC"), ("while-full", "0")]);
    let mb: u64 = out
        .out
        .lines()
        .find_map(|l| l.strip_prefix("written-mb: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}", out.out));
    assert!((18..=20).contains(&mb), "{mb} MB written: {}", out.out);
    // The environment works on, and /tmp is usable again once freed.
    let out = sh(&mut env, "echo ok > /tmp/after && cat /tmp/after").await;
    assert_eq!((out.status, out.out.as_str()), (0, "ok"), "{}", out.out);
    assert_eq!(out.count, 3);
    still_serves(&mut other).await;
}

/// tmpfs pages are charged to the memory cgroup of the process that
/// writes them: `/tmp` and the function's memory share `MemorySize`.
/// Writing more than that to `/tmp` is an out-of-memory end, not ENOSPC.
#[tokio::test]
async fn tmp_pages_count_against_the_memory_limit() {
    let _heavy = heavy().await;
    let fx = runtime();
    if !require_cgroups(&fx) {
        return;
    }
    let mut other = bystander(&fx).await;
    let t = template(&fx.rt, "provided", &shell_archive());
    // 128 MB of memory, 512 MB of /tmp.
    let mut env = start_ok(&t, &env_config(None)).await;
    let ran = invoke(
        &mut env,
        "head -c 256M /dev/zero > /tmp/big; echo status=$?",
        Duration::from_secs(20),
    )
    .await;
    let err = ran.error();
    assert_eq!(err.error_type, "Runtime.OutOfMemory", "{err:?}");
    assert!(ran.outcome.discard);
    still_serves(&mut other).await;
}
