//! Templates and environments: one sandboxed process per environment.
//!
//! ```text
//!   start():  run/<env>/rapi.sock ── RuntimeApi (hyper, this process)
//!             cgroups <parent>/<env> (memory, pids, cpu weight)
//!             /tmp sized at EphemeralStorage (else ProcessConfig::tmp_mb)
//!             updraft-sandbox-init enter --seccomp <filter>
//!                 ─exec─> bwrap --seccomp <fd> ─> updraft-sandbox-init run
//!                                                           ├─ 127.0.0.1:9001 ⇄ rapi.sock
//!                                                           ├─ 127.0.0.1:9000 ⇄ the platform's endpoint (if configured)
//!                                                           └─ bootstrap | python -m awslambdaric | node /var/runtime/index.mjs
//!             wait for the first GET /invocation/next (init done, ≤ 10 s),
//!             an /init/error, or the process's exit
//!   invoke(): event → the waiting /next; wait for /response or /error
//!             (≤ timeout), or the exit; stdout+stderr → the invocation's log
//! ```
//!
//! Max Memory Used is the environment's peak so far, sampled at the end of
//! each invocation: the cgroup's own peak, or, without one (or without a
//! peak file: cgroup v2 before Linux 5.19), the sum of the peaks of the
//! sandbox's processes ([`rss`]), kept as a running maximum as a cgroup's
//! peak is.

mod rss;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use updraft_pool::{
    EnvConfig, Environment, FunctionError, Invocation, LogSink, Outcome, Protocol, Template,
};

use crate::api::{NextEvent, Reply, RuntimeApi};
use crate::cgroup::Cgroup;
use crate::fault;
use crate::output::{self, LogSlot, OutputPump};
use crate::runtime::Shared;
use crate::sandbox::{self, RUNTIME_DIR, SOCKET_NAME, TASK_DIR};

/// How the runtime inside the sandbox is started.
#[derive(Debug, Clone)]
pub(crate) enum Launch {
    /// `/var/task/bootstrap`.
    Bootstrap,
    /// `python -m awslambdaric <handler>`.
    Python { runtime: String },
    /// `node /var/runtime/index.mjs` (the handler in `_HANDLER`).
    Node { runtime: String },
}

pub(crate) struct ProcessTemplate {
    pub shared: Arc<Shared>,
    pub code_dir: PathBuf,
    pub launch: Launch,
}

/// How long, after an error reply, the runtime gets to either ask for the
/// next event or exit, before the environment is kept as it is.
const AFTER_ERROR_GRACE: Duration = Duration::from_millis(500);

/// How long a killed sandbox gets to disappear before we stop waiting.
const KILL_GRACE: Duration = Duration::from_secs(5);

impl ProcessTemplate {
    /// The environment variables Lambda sets, then the function's own.
    fn environment(&self, config: &EnvConfig, log_stream: &str) -> Vec<(String, String)> {
        use std::collections::BTreeMap;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            env.insert(k.to_string(), v.to_string());
        };
        let lang = matches!(self.launch, Launch::Python { .. } | Launch::Node { .. });
        set("AWS_LAMBDA_FUNCTION_NAME", &config.function_name);
        set("AWS_LAMBDA_FUNCTION_VERSION", &config.version);
        set(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            &config.memory_mb.to_string(),
        );
        set(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            &format!("/aws/lambda/{}", config.function_name),
        );
        set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream);
        set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        set("AWS_REGION", "us-east-1");
        set("AWS_DEFAULT_REGION", "us-east-1");
        set("TZ", ":UTC");
        set("LANG", "en_US.UTF-8");
        if lang {
            set(
                "PATH",
                "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            );
        } else {
            set("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
        }
        set(
            "LD_LIBRARY_PATH",
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        );
        match &self.launch {
            Launch::Python { runtime } => {
                set("AWS_EXECUTION_ENV", &format!("AWS_Lambda_{runtime}"));
                set("PYTHONPATH", RUNTIME_DIR);
            }
            Launch::Node { runtime } => {
                set("AWS_EXECUTION_ENV", &format!("AWS_Lambda_{runtime}"));
                set("NODE_PATH", &crate::node::node_path(runtime));
            }
            Launch::Bootstrap => {}
        }
        for (k, v) in &config.env {
            env.insert(k.clone(), v.clone());
        }
        if let (Some(region), false) = (
            config.env.get("AWS_REGION"),
            config.env.contains_key("AWS_DEFAULT_REGION"),
        ) {
            env.insert("AWS_DEFAULT_REGION".into(), region.clone());
        }
        // What the platform decides, whatever the function's variables say.
        env.insert("AWS_LAMBDA_RUNTIME_API".into(), sandbox::API_ADDR.into());
        if self.shared.config.endpoint_socket.is_some() {
            env.insert("AWS_ENDPOINT_URL".into(), sandbox::ENDPOINT_URL.into());
        }
        env.insert("LAMBDA_TASK_ROOT".into(), TASK_DIR.into());
        env.insert("LAMBDA_RUNTIME_DIR".into(), RUNTIME_DIR.into());
        if let Some(h) = &config.handler {
            env.insert("_HANDLER".into(), h.clone());
        }
        env.into_iter().collect()
    }

    fn command(&self, config: &EnvConfig) -> Result<Vec<String>, FunctionError> {
        match &self.launch {
            Launch::Bootstrap => Ok(vec![format!("{TASK_DIR}/bootstrap")]),
            Launch::Python { .. } => {
                let py = self.shared.python.as_ref().ok_or_else(|| {
                    FunctionError::new(fault::INIT_ERROR, "no Python interpreter on this node")
                })?;
                let handler = config
                    .handler
                    .as_deref()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| {
                        FunctionError::new(
                            "Runtime.MalformedHandlerName",
                            "python functions need a Handler (module.function)",
                        )
                    })?;
                Ok(vec![
                    py.sandbox_executable().to_string_lossy().into_owned(),
                    // No `site`: the host's site-packages (and the code its
                    // .pth files run) stay out of functions, as on Lambda,
                    // where only the runtime's directory and the package
                    // are importable; it also saves ~100 ms per cold start.
                    "-S".into(),
                    "-m".into(),
                    "awslambdaric".into(),
                    handler.to_string(),
                ])
            }
            Launch::Node { .. } => {
                let node = self.shared.node.as_ref().map_err(|why| {
                    FunctionError::new(fault::INIT_ERROR, format!("no Node.js on this node: {why}"))
                })?;
                Ok(vec![
                    node.sandbox_executable().to_string_lossy().into_owned(),
                    "--max-http-header-size=81920".into(),
                    format!(
                        "--max-old-space-size={}",
                        crate::node::max_old_space_mb(config.memory_mb)
                    ),
                    format!("{RUNTIME_DIR}/index.mjs"),
                ])
            }
        }
    }
}

#[async_trait]
impl Template for ProcessTemplate {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }

    async fn start(
        &self,
        config: &EnvConfig,
        log: &LogSink,
    ) -> Result<Box<dyn Environment>, FunctionError> {
        let spawned_at = Instant::now();
        let shared = &self.shared;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            tracing::error!(env = %id, error = %e, "{what}");
            FunctionError::new(fault::INIT_ERROR, format!("{what}: {e}"))
        };
        let command = self.command(config)?;

        let env_dir = shared.run_root.join(&id);
        std::fs::create_dir(&env_dir)
            .map_err(|e| internal("creating the environment directory", &e))?;
        let guard = DirGuard(Some(env_dir.clone()));
        let socket = env_dir.join(SOCKET_NAME);
        let listener = tokio::net::UnixListener::bind(&socket)
            .map_err(|e| internal("binding the Runtime API socket", &e))?;
        // The sandbox's (unprivileged) uid connects to it through its mount.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
                .map_err(|e| internal("opening the Runtime API socket", &e))?;
        }
        let api = RuntimeApi::new();
        let server = tokio::spawn(api.clone().serve(listener));
        let server = AbortOnDrop(server);

        let memory_bytes = u64::from(config.memory_mb) * 1024 * 1024;
        let cgroup = Cgroup::create(
            &shared.cgroups,
            &format!("env-{id}"),
            config.memory_mb,
            shared.config.pids_max,
        )
        .map_err(|e| internal("creating the environment's cgroups", &e))?
        .map(Arc::new);

        let cgroup_ms = spawned_at.elapsed().as_secs_f64() * 1000.0;
        let log_stream = format!(
            "{}/[{}]{}",
            chrono::Utc::now().format("%Y/%m/%d"),
            config.version,
            id
        );
        let env = self.environment(config, &log_stream);
        let sdk = shared.config.node_runtime_dir.join("node_modules");
        let lang = match (&self.launch, &shared.python, &shared.node) {
            (Launch::Python { .. }, Some(py), _) => Some(sandbox::Lang {
                prefix: &py.prefix,
                runtime_dir: &shared.config.python_runtime_dir,
                node_modules: None,
            }),
            (Launch::Node { .. }, _, Ok(node)) => Some(sandbox::Lang {
                prefix: &node.prefix,
                runtime_dir: &shared.node_ric_dir,
                node_modules: sdk.is_dir().then_some(sdk.as_path()),
            }),
            _ => None,
        };
        let args = sandbox::bwrap_args(&sandbox::Spec {
            code_dir: &self.code_dir,
            env_dir: &env_dir,
            endpoint_socket: shared.config.endpoint_socket.as_deref(),
            init_binary: &shared.init_binary,
            init_args: &shared.config.init_args,
            etc_dir: &shared.etc_dir,
            lang,
            tmp_bytes: u64::from(tmp_mb(config, shared.config.tmp_mb)) * 1024 * 1024,
            hostname: "updraft",
            env: &env,
            command: &command,
            staged: shared.config.sandbox_host_ids.is_some(),
            seccomp: true,
        });

        let (read, write) = output::pipe().map_err(|e| internal("creating the output pipe", &e))?;
        let write2 = write
            .try_clone()
            .map_err(|e| internal("creating the output pipe", &e))?;
        let mut cmd = tokio::process::Command::new(&shared.init_binary);
        cmd.args(&shared.config.init_args).arg("enter");
        match &cgroup {
            Some(cg) => {
                for dir in cg.dirs() {
                    cmd.arg("--cgroup").arg(dir);
                }
            }
            None => {
                cmd.arg("--rlimit-as").arg(memory_bytes.to_string());
            }
        }
        cmd.arg("--seccomp").arg(&shared.seccomp_hex);
        cmd.arg("--");
        if let Some((uid, gid)) = shared.config.sandbox_host_ids {
            cmd.arg(&shared.unshare)
                .args(["--mount", "--propagation", "private", "--"])
                .arg(&shared.init_binary)
                .args(&shared.config.init_args)
                .args([
                    "stage",
                    "--uid",
                    &uid.to_string(),
                    "--gid",
                    &gid.to_string(),
                    "--",
                ]);
        }
        cmd.arg(&shared.bwrap).args(&args);
        cmd.env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| internal("starting the sandbox", &e))?;
        let root_pid = child.id();
        // Our copies of the pipe's write end go with the command: the pump
        // sees end of file once the sandbox's processes are gone.
        drop(cmd);
        let spawn_ms = spawned_at.elapsed().as_secs_f64() * 1000.0;

        let slot = LogSlot::default();
        slot.set(Some(log.clone()));
        let pump = OutputPump::start(read, slot.clone())
            .map_err(|e| internal("reading the sandbox's output", &e))?;

        let (exit_tx, exit) = watch::channel(None);
        let (kill_tx, mut kill_rx) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx.recv() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let status = status.unwrap_or_else(|_| ExitStatus::from_raw(0x7f00));
            let _ = exit_tx.send(Some(status));
        });

        let mut environment = ProcessEnvironment {
            api,
            _server: server,
            pump,
            slot,
            exit,
            kill_tx,
            cgroup,
            root_pid,
            peak: 0,
            dir: guard,
            memory_mb: config.memory_mb,
            function_arn: function_arn(config),
            dead: false,
        };

        enum Init {
            Ready,
            Reported(FunctionError),
            Exited(ExitStatus),
            TimedOut,
        }
        let init_timeout = shared.config.init_timeout;
        let init = tokio::select! {
            biased;
            ready = environment.api.wait_ready() => match ready {
                Ok(()) => Init::Ready,
                Err(e) => Init::Reported(e),
            },
            status = wait_exit(environment.exit.clone()) => Init::Exited(status),
            _ = tokio::time::sleep(init_timeout) => Init::TimedOut,
        };
        let error = match init {
            Init::Ready => None,
            Init::Reported(e) => Some(e),
            Init::Exited(status) => Some(match environment.api.init_error() {
                // The helper's own failure: the platform's problem, not the
                // function's (its message is in the init log).
                None if status.code() == Some(crate::init::SETUP_FAILED) => {
                    tracing::error!(
                        function = %config.function_name,
                        "the process sandbox could not be set up; see the function's init log"
                    );
                    FunctionError::new(
                        fault::INIT_ERROR,
                        "the execution environment could not be set up",
                    )
                }
                Some(e) => e,
                None if environment.oom_kills() > 0 => fault::out_of_memory(None, config.memory_mb),
                None => fault::exited(None, &fault::describe_exit(&status)),
            }),
            Init::TimedOut => Some(fault::init_timed_out(init_timeout)),
        };
        if let Some(error) = error {
            environment.kill().await;
            environment.pump.flush().await;
            environment.slot.set(None);
            tracing::debug!(error = ?error, "init failed");
            return Err(error);
        }
        environment.pump.flush().await;
        environment.slot.set(None);
        tracing::debug!(
            cgroup_ms,
            spawn_ms,
            init_ms = spawned_at.elapsed().as_secs_f64() * 1000.0,
            function = %config.function_name,
            "process environment ready"
        );
        Ok(Box::new(environment))
    }
}

/// The size of `/tmp` in MB: the function's `EphemeralStorage`, or the
/// runtime's default where the configuration has none (0).
fn tmp_mb(config: &EnvConfig, default_mb: u32) -> u32 {
    match config.ephemeral_storage_mb {
        0 => default_mb,
        mb => mb,
    }
}

/// The ARN the function's invocations carry: its own, qualified with the
/// version unless that is `$LATEST`.
fn function_arn(config: &EnvConfig) -> String {
    if config.version == "$LATEST" || config.version.is_empty() {
        config.function_arn.clone()
    } else {
        format!("{}:{}", config.function_arn, config.version)
    }
}

/// An X-Ray trace header, as Lambda hands one to every invocation.
fn trace_id() -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    let p = uuid::Uuid::new_v4().simple().to_string();
    let secs = chrono::Utc::now().timestamp();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &r[..24],
        &p[..16]
    )
}

async fn wait_exit(mut exit: watch::Receiver<Option<ExitStatus>>) -> ExitStatus {
    let status = exit.wait_for(|s| s.is_some()).await.map(|s| *s);
    match status {
        Ok(s) => s.unwrap_or_else(|| ExitStatus::from_raw(0)),
        Err(_) => std::future::pending().await,
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes the environment's directory (its API socket) when dropped.
struct DirGuard(Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub(crate) struct ProcessEnvironment {
    api: RuntimeApi,
    _server: AbortOnDrop,
    pump: OutputPump,
    slot: LogSlot,
    exit: watch::Receiver<Option<ExitStatus>>,
    kill_tx: mpsc::Sender<()>,
    cgroup: Option<Arc<Cgroup>>,
    /// Host pid of the sandbox's first process (bubblewrap), the root of
    /// its process tree.
    root_pid: Option<u32>,
    /// Peak memory so far, in bytes: the largest sample yet.
    peak: u64,
    dir: DirGuard,
    memory_mb: u32,
    function_arn: String,
    /// The process is gone (or was killed): every invocation fails.
    dead: bool,
}

impl ProcessEnvironment {
    /// OOM kills in the environment so far.
    fn oom_kills(&self) -> u64 {
        self.cgroup.as_ref().map_or(0, |c| c.oom_kills())
    }

    /// Samples the environment's peak memory into `peak`: the cgroup's
    /// peak, else the sandbox's process tree while it still runs (after
    /// its exit the root's pid may be another process's).
    fn sample_peak(&mut self) {
        let cgroup_peak = self.cgroup.as_ref().map_or(0, |c| c.peak_bytes());
        let running = !self.dead && self.exit.borrow().is_none();
        let sample = match self.root_pid {
            _ if cgroup_peak > 0 => cgroup_peak,
            Some(pid) if running => rss::tree_peak_bytes(pid),
            _ => 0,
        };
        self.peak = self.peak.max(sample);
    }

    /// Kills the whole sandbox and waits (bounded) for it to be gone.
    async fn kill(&mut self) {
        // The last look at the processes' peaks.
        self.sample_peak();
        self.dead = true;
        let _ = self.kill_tx.try_send(());
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
        let _ = tokio::time::timeout(KILL_GRACE, wait_exit(self.exit.clone())).await;
        // What the namespace's teardown has not reaped yet.
        if let Some(cg) = &self.cgroup {
            for _ in 0..200 {
                if cg.pids().is_empty() {
                    break;
                }
                cg.kill_all();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    fn outcome(
        &mut self,
        result: Result<Option<bytes::Bytes>, FunctionError>,
        discard: bool,
    ) -> Outcome {
        self.sample_peak();
        Outcome {
            result,
            discard,
            max_memory_bytes: self.peak,
        }
    }
}

#[async_trait]
impl Environment for ProcessEnvironment {
    fn protocol(&self) -> Protocol {
        Protocol::Event
    }

    async fn invoke(&mut self, inv: Invocation) -> Outcome {
        let Invocation {
            request_id,
            input,
            timeout,
            log,
            traceparent,
        } = inv;
        let payload = match input.into_event(&request_id, "a Runtime API process") {
            Ok(payload) => payload,
            Err(e) => return self.outcome(Err(e), false),
        };
        if self.dead {
            return self.outcome(
                Err(fault::exited(Some(&request_id), "the environment is gone")),
                true,
            );
        }
        self.slot.set(Some(log));
        let oom_before = self.oom_kills();
        let event = NextEvent {
            request_id: request_id.clone(),
            deadline_ms: chrono::Utc::now().timestamp_millis() + timeout.as_millis() as i64,
            function_arn: self.function_arn.clone(),
            trace_id: traceparent
                .as_deref()
                .and_then(crate::api::trace_header_from_traceparent)
                .unwrap_or_else(trace_id),
            client_context: None,
            cognito_identity: None,
            payload,
        };

        enum End {
            Reply(Reply),
            Exited(ExitStatus),
        }
        let api = self.api.clone();
        let exit = self.exit.clone();
        let run = async move {
            let reply = tokio::select! {
                biased;
                reply = api.deliver(event) => reply,
                status = wait_exit(exit.clone()) => return End::Exited(status),
            };
            tokio::select! {
                biased;
                reply = reply => match reply {
                    Ok(reply) => End::Reply(reply),
                    Err(_) => End::Exited(wait_exit(exit).await),
                },
                status = wait_exit(exit.clone()) => End::Exited(status),
            }
        };
        let end = tokio::time::timeout(timeout, run).await;

        let (result, discard) = match end {
            // A process of the function was OOM-killed, even if the runtime
            // survived to answer: the invocation ran out of memory.
            Ok(End::Reply(_)) if self.oom_kills() > oom_before => {
                self.kill().await;
                (
                    Err(fault::out_of_memory(Some(&request_id), self.memory_mb)),
                    true,
                )
            }
            Ok(End::Reply(Ok(body))) => (Ok(Some(body)), false),
            Ok(End::Reply(Err(error))) => {
                // A runtime that ends itself after reporting (Node.js
                // after an uncaught exception or an unhandled rejection)
                // is replaced; one that serves on asks for the next event.
                let exited = tokio::select! {
                    biased;
                    _ = self.api.wait_polling() => false,
                    _ = wait_exit(self.exit.clone()) => true,
                    _ = tokio::time::sleep(AFTER_ERROR_GRACE) => false,
                };
                if exited {
                    self.dead = true;
                }
                (Err(error), exited)
            }
            Ok(End::Exited(status)) => {
                self.dead = true;
                self.api.abandon();
                let error = if self.oom_kills() > oom_before {
                    fault::out_of_memory(Some(&request_id), self.memory_mb)
                } else {
                    fault::exited(Some(&request_id), &fault::describe_exit(&status))
                };
                (Err(error), true)
            }
            Err(_elapsed) => {
                self.api.abandon();
                self.kill().await;
                (Err(fault::timed_out(timeout)), true)
            }
        };
        self.pump.flush().await;
        self.slot.set(None);
        self.outcome(result, discard)
    }
}

impl Drop for ProcessEnvironment {
    fn drop(&mut self) {
        self.dead = true;
        let _ = self.kill_tx.try_send(());
        let exit = self.exit.clone();
        let cgroup = self.cgroup.take();
        let dir = self.dir.0.take();
        let cleanup = move || {
            drop(cgroup);
            drop(DirGuard(dir));
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let _ = tokio::time::timeout(KILL_GRACE, wait_exit(exit)).await;
                    let _ = tokio::task::spawn_blocking(cleanup).await;
                });
            }
            Err(_) => cleanup(),
        }
    }
}
