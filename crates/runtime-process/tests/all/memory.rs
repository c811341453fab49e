//! Max Memory Used (`Outcome::max_memory_bytes`): the environment's peak
//! so far, with cgroups and without them (the `RLIMIT_AS` fallback, where
//! it is summed from the peaks of the sandbox's processes).

use std::time::Duration;

use updraft_runtime_process::LimitMechanism;

use crate::*;

const MB: u64 = 1 << 20;

/// A Python runtime speaking the Runtime API with urllib. An event
/// `{"mb": N}` allocates (and writes) N MB in the runtime process and
/// answers; `{"mb": N, "fork": true}` forks a child that allocates N MB
/// and stays, while the runtime allocates N MB too; `{"reap": true}` ends
/// the children.
const ALLOCATOR: &str = r#"#!/usr/bin/python3
import json, os, signal, time, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
children = []
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    mb = event.get("mb", 0)
    if event.get("fork"):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            held = b"\x01" * (mb << 20)
            os.write(ready_w, b"x")
            time.sleep(3600)
            os._exit(0)
        os.close(ready_w)
        os.read(ready_r, 1)
        os.close(ready_r)
        children.append(pid)
    if event.get("reap"):
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        children = []
    held = b"\x01" * (mb << 20)
    answer = json.dumps({"mb": len(held) >> 20, "children": len(children)}).encode()
    urllib.request.urlopen(urllib.request.Request(
        API + "/invocation/" + request_id + "/response", data=answer, method="POST")).read()
    del held
"#;

/// The memory limit of these tests' environments.
const LIMIT_MB: u32 = 256;

/// Invokes `event`, checks the answer, returns the reported peak.
async fn peak_after(env: &mut Box<dyn updraft_pool::Environment>, event: &str) -> u64 {
    let ran = invoke(env, event.to_string(), Duration::from_secs(20)).await;
    let answer = ran.json();
    let expected: serde_json::Value = serde_json::from_str(event).unwrap();
    assert_eq!(
        answer["mb"],
        expected.get("mb").cloned().unwrap_or(0.into())
    );
    assert!(!ran.outcome.discard, "{event}: {:?}", ran.outcome.result);
    ran.outcome.max_memory_bytes
}

/// What an environment reported, in bytes.
#[derive(Debug)]
struct Peaks {
    /// The Python runtime, idle.
    idle: u64,
    /// After it allocated 64 MB.
    big: u64,
    /// An invocation later, the 64 MB freed.
    after: u64,
    /// A runtime and its child holding 48 MB each.
    forked: u64,
    /// An invocation later, the child gone.
    reaped: u64,
    /// A shell runtime running `true`.
    shell: u64,
}

impl std::fmt::Display for Peaks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "idle python {} MB, after 64 MB {} MB, later {} MB; 2 × 48 MB forked {} MB, \
             reaped {} MB; shell {} MB",
            self.idle / MB,
            self.big / MB,
            self.after / MB,
            self.forked / MB,
            self.reaped / MB,
            self.shell / MB
        )
    }
}

/// Runs the allocator through its events in `fx`'s configuration and
/// checks what holds with cgroups and without.
async fn check_peaks(fx: &Fixture) -> Peaks {
    let allocator = template(
        &fx.rt,
        "provided",
        &archive(vec![file("bootstrap", ALLOCATOR, 0o100755)]),
    );
    let mut config = env_config(None);
    config.memory_mb = LIMIT_MB;
    let limit = u64::from(LIMIT_MB) * MB;

    // One runtime process: its peak, and the peak stays the
    // environment's so far once the memory is freed.
    let mut env = start_ok(&allocator, &config).await;
    let idle = peak_after(&mut env, r#"{"mb": 0}"#).await;
    let big = peak_after(&mut env, r#"{"mb": 64}"#).await;
    let after = peak_after(&mut env, r#"{"mb": 0}"#).await;
    assert!(big >= 64 * MB && big < limit, "64 MB allocated: {big}");
    assert!(big > idle, "64 MB allocated: {big}, before: {idle}");
    assert!(after >= big, "the peak went down from {big} to {after}");
    drop(env);

    // Two processes holding 48 MB each at once: both count (the larger
    // alone is under 96 MB). The peak stays once the child is gone.
    let mut env = start_ok(&allocator, &config).await;
    let forked = peak_after(&mut env, r#"{"mb": 48, "fork": true}"#).await;
    let reaped = peak_after(&mut env, r#"{"mb": 0, "reap": true}"#).await;
    assert!(
        forked >= 96 * MB && forked < limit,
        "48 MB in each of two processes: {forked}"
    );
    assert!(
        reaped >= forked,
        "the peak went down from {forked} to {reaped}"
    );
    drop(env);

    let shell = template(&fx.rt, "provided", &shell_archive());
    let mut env = start_ok(&shell, &config).await;
    let ran = invoke(&mut env, "true", Duration::from_secs(10)).await;
    assert_eq!(ran.json()["status"], 0);
    let shell = ran.outcome.max_memory_bytes;
    assert!(shell > MB, "a shell runtime: {shell}");
    Peaks {
        idle,
        big,
        after,
        forked,
        reaped,
        shell,
    }
}

#[tokio::test]
async fn max_memory_used_without_cgroups_sums_the_sandboxs_processes() {
    let _heavy = heavy().await;
    let fx = runtime_with(|c| c.use_cgroups = false);
    assert_eq!(fx.rt.limit_mechanism(), LimitMechanism::RlimitAs);
    let peaks = check_peaks(&fx).await;
    eprintln!("without cgroups: {peaks}");
    // Small runtimes are a few MB (the runtime, bubblewrap, the helper):
    // not nothing, not the limit.
    assert!(peaks.shell < 64 * MB, "{peaks:?}");
    assert!(peaks.idle > MB && peaks.idle < 64 * MB, "{peaks:?}");
}

#[tokio::test]
async fn max_memory_used_with_cgroups_is_the_cgroups_peak() {
    let _heavy = heavy().await;
    let fx = runtime();
    if !require_cgroups(&fx) {
        return;
    }
    let peaks = check_peaks(&fx).await;
    eprintln!("with {}: {peaks}", fx.rt.limit_mechanism().as_str());
}
