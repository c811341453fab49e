//! Noisy neighbours: a function that burns CPU or floods its log gets its
//! share and no more; the platform and other functions carry on.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use updraft_pool::{Input, Invocation, LogSink};
use updraft_runtime_process::cgroup::{cpu_shares, cpu_weight};
use updraft_runtime_process::LimitMechanism;

use crate::*;

/// The CPU file of the environment whose memory limit is `memory_mb` (a
/// size no other test uses), and the value it should hold.
fn cpu_file_of(fx: &Fixture, memory_mb: u32) -> (PathBuf, u64) {
    let parents = fx.rt.cgroup_parents();
    let bytes = (u64::from(memory_mb) << 20).to_string();
    let (limit_file, cpu_parent, cpu_file, expected) = match fx.rt.limit_mechanism() {
        LimitMechanism::CgroupV2 => (
            "memory.max",
            &parents[0],
            "cpu.weight",
            cpu_weight(memory_mb),
        ),
        _ => (
            "memory.limit_in_bytes",
            parents
                .get(2)
                .expect("cgroup v1 without a cpu hierarchy: no CPU weight"),
            "cpu.shares",
            cpu_shares(memory_mb),
        ),
    };
    let name = std::fs::read_dir(&parents[0])
        .unwrap()
        .flatten()
        .find(|e| {
            std::fs::read_to_string(e.path().join(limit_file)).is_ok_and(|v| v.trim() == bytes)
        })
        .map(|e| e.file_name())
        .unwrap_or_else(|| panic!("no environment cgroup with a {memory_mb} MB limit"));
    (cpu_parent.join(name).join(cpu_file), expected)
}

/// Burns `procs` processes' worth of CPU until `end` (seconds since the
/// epoch, the same clock in and out of the sandbox) and answers the CPU
/// time they got, in milliseconds. A common end, not a common duration: a
/// starved environment that starts late must not burn on alone after the
/// other has stopped.
fn burn(procs: u32, end: f64) -> String {
    format!(
        "/usr/bin/python3 -c 'import os, subprocess, time\n\
         left = max(0.0, {end:.3} - time.time())\n\
         ps = [subprocess.Popen([\"timeout\", f\"{{left:.3f}}\", \"sh\", \"-c\", \"while :; do :; done\"]) for _ in range({procs})]\n\
         [p.wait() for p in ps]\n\
         t = os.times()\n\
         print(int((t.children_user + t.children_system) * 1000))'"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_environments_share_the_cpu_by_memory_size() {
    let _heavy = heavy().await;
    let fx = runtime();
    if !require_cgroups(&fx) {
        return;
    }
    let t = template(&fx.rt, "provided", &shell_archive());
    let mut small_config = env_config(None);
    small_config.memory_mb = 136;
    let mut big_config = env_config(None);
    big_config.memory_mb = 1096;
    let mut small = start_ok(&t, &small_config).await;
    let mut big = start_ok(&t, &big_config).await;
    let mut idle_config = env_config(None);
    idle_config.memory_mb = 144;
    let mut idle = start_ok(&t, &idle_config).await;

    // Each environment's weight follows its memory size.
    for mb in [136, 144, 1096] {
        let (file, expected) = cpu_file_of(&fx, mb);
        let value = std::fs::read_to_string(&file).unwrap();
        assert_eq!(value.trim(), expected.to_string(), "{}", file.display());
    }

    // Both burn more CPU than the node has (four processes each, on
    // however many cores) for five seconds; meanwhile a third environment
    // answers.
    let window = Duration::from_secs(5);
    let burn_end = Instant::now() + window;
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + window.as_secs_f64();
    let burner = burn(4, end);
    let timeout = Duration::from_secs(30);
    let small_burn = sh_with(&mut small, &burner, timeout);
    let big_burn = sh_with(&mut big, &burner, timeout);
    let bystander = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let started = Instant::now();
        let out = sh(&mut idle, "echo still here").await;
        (out, started, Instant::now())
    };
    let (small_out, big_out, (idle_out, idle_started, idle_done)) =
        tokio::join!(small_burn, big_burn, bystander);
    let ms = |out: &Shell| -> u64 {
        out.out
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a number of ms: {}", out.out))
    };
    let (small_ms, big_ms) = (ms(&small_out), ms(&big_out));
    let idle_took = idle_done - idle_started;
    eprintln!(
        "cpu: 136 MB got {small_ms} ms, 1096 MB got {big_ms} ms; the idle one answered in {idle_took:?}"
    );
    // Weights 136 : 1096 (about 1 : 8) while both want more than there is.
    assert!(
        2 * big_ms > 5 * small_ms,
        "the 1096 MB environment got {big_ms} ms of CPU, the 136 MB one {small_ms} ms"
    );
    assert!(small_ms > 0, "the small environment was starved");
    // The idle environment answered while both still burned.
    assert_eq!(idle_out.out, "still here");
    assert!(
        idle_done < burn_end,
        "an idle environment took {idle_took:?} to answer while others burned CPU"
    );
}

/// A runtime that floods its output on request: `flood` writes from two
/// processes (stdout and stderr) for three seconds, then answers;
/// `background` leaves writers running forever and answers at once;
/// anything else answers at once.
const FLOODER: &str = r#"#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  case "$EVENT" in
    flood)
      timeout 3 yes "stderr flood" >&2 &
      yes "stdout flood" | timeout -s INT 3 dd bs=64k iflag=fullblock 2>/tmp/dd-report
      wait
      cat /tmp/dd-report
      echo "flood-done"
      ;;
    background)
      # A 1 MB pipe (the most an unprivileged process may ask for), kept
      # full by four writers.
      /usr/bin/python3 -c 'import fcntl; fcntl.fcntl(1, 1031, 1 << 20)'
      for i in 1 2 3 4; do (yes "background flood" &); done
      ;;
  esac
  curl -sS "$API/invocation/$ID/response" -d "{\"event\":\"$EVENT\"}" >/dev/null
done
"#;

/// Invokes with a log sink of `limit` bytes, as the invoker keeps one.
async fn invoke_kept(
    env: &mut Box<dyn updraft_pool::Environment>,
    event: &str,
    limit: usize,
) -> Ran {
    let log = LogSink::new(limit);
    let request_id = uuid::Uuid::new_v4().to_string();
    let outcome = env
        .invoke(Invocation {
            request_id: request_id.clone(),
            input: Input::Event(Bytes::from(event.to_string())),
            timeout: Duration::from_secs(20),
            log: log.clone(),
            traceparent: None,
        })
        .await;
    Ran {
        outcome,
        log: String::from_utf8_lossy(&log.take()).into_owned(),
        request_id,
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_keeps_the_last_bytes_and_the_invocation_returns() {
    let _heavy = heavy().await;
    let fx = runtime();
    let t = template(
        &fx.rt,
        "provided",
        &archive(vec![file("bootstrap", FLOODER, 0o100755)]),
    );
    let mut env = start_ok(&t, &env_config(None)).await;
    let before = rss_kb();
    let started = Instant::now();
    let ran = invoke_kept(&mut env, "flood", 256 * 1024).await;
    let took = started.elapsed();
    let grew_kb = rss_kb().saturating_sub(before);
    assert_eq!(ran.json()["event"], "flood");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // dd's report, written just before `flood-done`: how much went
    // through. stdout and stderr are two pipes read apart, so what was
    // still in the stderr pipe when the answer came may follow it: the
    // report is near the end, not necessarily last.
    let copied: u64 = ran
        .log
        .lines()
        .rev()
        .find_map(|l| l.split_once(" bytes (").map(|(n, _)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| {
            let tail = &ran.log[ran.log.len().saturating_sub(2000)..];
            panic!("no dd report in the kept log; it ends with:\n{tail}")
        });
    eprintln!("flooded {copied} bytes of stdout in {took:?}; the platform grew by {grew_kb} kB");
    assert!(copied > 64 << 20, "the flood was only {copied} bytes");
    // The sink kept its limit's worth: the end of the output.
    assert_eq!(ran.log.len(), 256 * 1024);
    assert!(
        ran.log.contains("flood-done\n"),
        "{}",
        &ran.log[ran.log.len() - 300..]
    );
    // What is kept is the flood's end: stdout's, or stderr's when the
    // stderr pipe still held more than the sink keeps.
    assert!(
        ran.log.contains("stdout flood\n") || ran.log.contains("stderr flood\n"),
        "{}",
        &ran.log[..300]
    );
    // What went through was not kept on the way.
    assert!(
        grew_kb < 128 * 1024,
        "the platform grew by {grew_kb} kB while {copied} bytes went through"
    );
    // The environment serves on.
    let ran = invoke_kept(&mut env, "ping", 256 * 1024).await;
    assert_eq!(ran.json()["event"], "ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_never_stops_does_not_hold_the_invocation() {
    let _heavy = heavy().await;
    let fx = runtime();
    let t = template(
        &fx.rt,
        "provided",
        &archive(vec![file("bootstrap", FLOODER, 0o100755)]),
    );
    let mut env = start_ok(&t, &env_config(None)).await;
    // The answer comes while the writers keep the pipe full: reading the
    // output after it stops at what the pipe held, it does not wait for
    // the pipe to be empty.
    for event in ["background", "ping", "ping"] {
        let started = Instant::now();
        let ran = tokio::time::timeout(
            Duration::from_secs(15),
            invoke_kept(&mut env, event, 256 * 1024),
        )
        .await
        .unwrap_or_else(|_| panic!("`{event}` did not return while a writer floods"));
        assert_eq!(ran.json()["event"], event);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "`{event}` took {:?}",
            started.elapsed()
        );
        assert!(ran.log.len() <= 256 * 1024);
    }
    let ran = invoke_kept(&mut env, "ping", 256 * 1024).await;
    assert!(ran.log.contains("background flood\n"), "the writer runs on");
}
