//! Integration tests of the process runtime: real sandboxes (bubblewrap),
//! real runtime clients (curl from a shell bootstrap, `awslambdaric` for
//! Python, the platform's own client for Node.js). Needs `bwrap`, `curl`
//! and `node` on the host, PyPI once (the Python tests install
//! `awslambdaric` into the target directory) and the npm registry once
//! (the Node.js tests install the AWS SDK for JavaScript there).

mod api;
mod limits;
mod memory;
mod node;
mod provided;
mod python;
mod rust;
mod sandbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use updraft_pool::{
    EnvConfig, Environment, FunctionError, Input, Invocation, LogSink, Outcome, Runtime, Template,
};
use updraft_runtime_process::{ProcessConfig, ProcessRuntime};
use updraft_types::{ArchiveFile, CodeArchive};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The managed runtime directory shared by every test of this run.
pub fn python_runtime_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = python_runtime_path();
        // One installer at a time, across test binaries too (pip is slow
        // to race): a lock file next to the directory.
        let lock_path = dir.with_extension("lock");
        let _lock = FileLock::take(&lock_path);
        updraft_runtime_process::install_awslambdaric(Path::new("python3"), &dir)
            .expect("installing awslambdaric (needs PyPI)");
        dir
    })
    .clone()
}

/// A crude inter-process lock: create_new on a file, removed on drop.
pub struct FileLock(PathBuf);

impl FileLock {
    pub fn take(path: &Path) -> FileLock {
        for _ in 0..600 {
            if std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .is_ok()
            {
                return FileLock(path.to_path_buf());
            }
            // A stale lock from a killed run.
            if std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(300))
            {
                let _ = std::fs::remove_file(path);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("could not lock {}", path.display());
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub struct Fixture {
    pub rt: ProcessRuntime,
    pub root: tempfile::TempDir,
}

pub fn config_in(root: &Path) -> ProcessConfig {
    let mut config = ProcessConfig::new(root);
    config.init_binary = PathBuf::from(env!("CARGO_BIN_EXE_updraft-sandbox-init"));
    // Installed by the Python tests (`python_runtime_dir()`); the others
    // do not need it.
    config.python_runtime_dir = python_runtime_path();
    config.pids_max = 128;
    config
}

fn python_runtime_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("process-runtime-python")
}

pub fn runtime() -> Fixture {
    runtime_with(|_| {})
}

pub fn runtime_with(tweak: impl FnOnce(&mut ProcessConfig)) -> Fixture {
    init_tracing();
    let root = tempfile::tempdir().unwrap();
    let mut config = config_in(root.path());
    tweak(&mut config);
    let rt = ProcessRuntime::new(config).expect("process runtime");
    Fixture { rt, root }
}

fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
    });
}

/// A file of an archive, with its mode.
pub fn file(path: &str, data: impl AsRef<[u8]>, mode: u32) -> ArchiveFile {
    ArchiveFile {
        path: path.to_string(),
        data: Bytes::copy_from_slice(data.as_ref()),
        mode: Some(mode),
    }
}

/// The files of a fixture directory (modes as on disk).
pub fn fixture_files(dir: &str) -> Vec<ArchiveFile> {
    use std::os::unix::fs::PermissionsExt;
    let base = Path::new(FIXTURES).join(dir);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&base).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_file() {
            files.push(file(
                &entry.file_name().to_string_lossy(),
                std::fs::read(entry.path()).unwrap(),
                0o100000 | (meta.permissions().mode() & 0o777),
            ));
        }
    }
    files
}

pub fn archive(files: Vec<ArchiveFile>) -> CodeArchive {
    CodeArchive { files }
}

/// A stand-in for the code's sha256, as the registry computes it.
pub fn sha_of(archive: &CodeArchive) -> String {
    let mut h = Sha256::new();
    for f in &archive.files {
        h.update(f.path.as_bytes());
        h.update([0]);
        h.update(&f.data);
    }
    hex::encode(h.finalize())
}

pub fn template(rt: &ProcessRuntime, runtime: &str, archive: &CodeArchive) -> Arc<dyn Template> {
    let sha = sha_of(archive);
    let kind = rt
        .prepare(runtime, &sha, archive)
        .unwrap_or_else(|e| panic!("prepare: {e}"));
    rt.load(runtime, &sha, &kind, &|| Ok(archive.clone()))
        .unwrap_or_else(|e| panic!("load: {e}"))
}

pub fn env_config(handler: Option<&str>) -> EnvConfig {
    let mut env = BTreeMap::new();
    env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), "test-fn".into());
    env.insert("AWS_REGION".into(), "eu-west-1".into());
    env.insert("GREETING".into(), "hi".into());
    EnvConfig {
        function_name: "test-fn".into(),
        version: "$LATEST".into(),
        handler: handler.map(str::to_string),
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        timeout: Duration::from_secs(5),
        env,
        function_arn: "arn:aws:lambda:eu-west-1:000000000000:function:test-fn".into(),
        role: "arn:aws:iam::000000000000:role/test-role".into(),
    }
}

/// Starts an environment; the init log comes back with it.
pub async fn start(
    template: &Arc<dyn Template>,
    config: &EnvConfig,
) -> (Result<Box<dyn Environment>, FunctionError>, String) {
    let log = LogSink::new(1 << 20);
    let env = template.start(config, &log).await;
    (env, String::from_utf8_lossy(&log.take()).into_owned())
}

pub async fn start_ok(template: &Arc<dyn Template>, config: &EnvConfig) -> Box<dyn Environment> {
    match start(template, config).await {
        (Ok(env), _) => env,
        (Err(e), log) => panic!("start: {e:?}\n--- init log ---\n{log}"),
    }
}

pub struct Ran {
    pub outcome: Outcome,
    pub log: String,
    pub request_id: String,
}

impl Ran {
    pub fn body(&self) -> Bytes {
        match &self.outcome.result {
            Ok(Some(b)) => b.clone(),
            other => panic!(
                "expected a result, got {other:?}\n--- log ---\n{}",
                self.log
            ),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let body = self.body();
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    }

    pub fn error(&self) -> FunctionError {
        match &self.outcome.result {
            Err(e) => e.clone(),
            other => panic!(
                "expected an error, got {other:?}\n--- log ---\n{}",
                self.log
            ),
        }
    }
}

pub async fn invoke(
    env: &mut Box<dyn Environment>,
    payload: impl Into<Bytes>,
    timeout: Duration,
) -> Ran {
    let log = LogSink::new(1 << 20);
    let request_id = uuid::Uuid::new_v4().to_string();
    let outcome = env
        .invoke(Invocation {
            request_id: request_id.clone(),
            input: Input::Event(payload.into()),
            timeout,
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

/// What the shell runner answered: exit status, invocation count, output.
pub struct Shell {
    pub status: i64,
    pub count: i64,
    pub out: String,
}

pub async fn sh(env: &mut Box<dyn Environment>, command: &str) -> Shell {
    sh_with(env, command, Duration::from_secs(10)).await
}

pub async fn sh_with(env: &mut Box<dyn Environment>, command: &str, timeout: Duration) -> Shell {
    use base64::Engine as _;
    let ran = invoke(env, command.to_string(), timeout).await;
    let v = ran.json();
    let out = base64::engine::general_purpose::STANDARD
        .decode(v["out"].as_str().unwrap_or_default())
        .unwrap();
    Shell {
        status: v["status"].as_i64().unwrap(),
        count: v["count"].as_i64().unwrap(),
        out: String::from_utf8_lossy(&out).into_owned(),
    }
}

/// The shell runner (`tests/fixtures/shell`).
pub fn shell_archive() -> CodeArchive {
    archive(fixture_files("shell"))
}

/// Locks the tests that measure or stress the node, so they do not run
/// alongside each other on two shared cores.
/// Whether `fx` limits environments with cgroups, as the tests of memory
/// and process limits need. Without them such a test fails, saying why,
/// unless `UPDRAFT_TESTS_WITHOUT_CGROUPS=1` says to skip it (then this is
/// `false` and the test returns); CI does not set it.
pub fn require_cgroups(fx: &Fixture) -> bool {
    if fx.rt.limit_mechanism() != updraft_runtime_process::LimitMechanism::RlimitAs {
        return true;
    }
    if std::env::var("UPDRAFT_TESTS_WITHOUT_CGROUPS").as_deref() == Ok("1") {
        eprintln!("no cgroups on this host: skipped (UPDRAFT_TESTS_WITHOUT_CGROUPS=1)");
        return false;
    }
    panic!(
        "no usable cgroups on this host (the runtime fell back to RLIMIT_AS), so this test \
         cannot check the limit it is about: run it as root on a host with cgroup v2 (or v1 \
         memory and pids controllers), or set UPDRAFT_TESTS_WITHOUT_CGROUPS=1 to skip it knowingly"
    );
}

pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}
