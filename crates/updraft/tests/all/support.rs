//! What every end-to-end test uses: a running `updraft serve`, the real
//! clients pointed at it (aws CLI v1 and v2, boto3, the updraft CLI), a
//! blocking HTTP client and a SigV4-signed request helper.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{LazyLock, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use updraft_auth::Credentials;

pub use updraft_test_support as guests;

/// The role every test function is created with.
pub const ROLE: &str = "arn:aws:iam::000000000000:role/updraft";
pub const REGION: &str = "us-east-1";

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables that would point a client elsewhere than the
/// server under test.
const AWS_VARS_TO_CLEAR: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "UPDRAFT_ENDPOINT",
    "UPDRAFT_DATA_DIR",
];

/// A unique, valid function name: `prefix-<n>`.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst))
}

// ---------------------------------------------------------------------------
// The server

/// A running `updraft serve` with its own data directory; killed on drop.
pub struct Server {
    pub url: String,
    pub credentials_path: PathBuf,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    envs: Vec<(String, String)>,
    child: Option<Child>,
    /// Kills the server when this test process goes away without dropping
    /// the `Server` (servers kept in statics): it waits for end-of-file on
    /// its stdin, whose write end only this process holds.
    watchdog: Option<Child>,
    watchdog_stdin: Option<std::process::ChildStdin>,
    starts: u32,
}

impl Server {
    /// Starts `updraft serve --listen 127.0.0.1:0 --data-dir <tempdir>
    /// <extra...>` and waits until it listens.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// As [`Server::start`], with extra environment variables for the
    /// server process.
    pub fn start_with_env(extra: &[&str], envs: &[(&str, &str)]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("updraft-e2e-")
            .tempdir()
            .expect("creating a temporary directory");
        let mut server = Server {
            url: String::new(),
            credentials_path: PathBuf::new(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain(std::iter::once((
                    "UPDRAFT_PYTHON_RUNTIME_DIR".to_string(),
                    shared_python_runtime_dir(),
                )))
                .collect(),
            child: None,
            watchdog: None,
            watchdog_stdin: None,
            starts: 0,
        };
        server.spawn();
        server
    }

    /// A server shared by the tests of one module (they use unique
    /// function names); it lives until the test process exits.
    pub fn shared(cell: &'static OnceLock<Server>, extra: &[&str]) -> &'static Server {
        cell.get_or_init(|| Server::start(extra))
    }

    /// The `--data-dir` of the server.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A scratch directory for the test's files (zips, payloads, outputs).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        std::fs::create_dir_all(&p).expect("creating the scratch directory");
        p
    }

    /// Writes `bytes` to a file in the scratch directory; returns its path.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.scratch().join(name);
        std::fs::write(&p, bytes).expect("writing a scratch file");
        p
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir
            .path()
            .join(format!("server-{}.stderr", self.starts))
    }

    /// The server's log (stderr) so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let stderr = std::fs::File::create(self.stderr_path()).expect("creating the stderr file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_updraft"));
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for v in AWS_VARS_TO_CLEAR {
            cmd.env_remove(v);
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.spawn().expect("starting updraft serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining the pipe.
                }
            }
        });
        let pid = child.id();
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cat >/dev/null; kill -KILL {pid} 2>/dev/null; sleep 0.2; rm -rf '{}'",
                self.dir.path().display()
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the watchdog (sh)");
        self.watchdog_stdin = watchdog.stdin.take();
        self.watchdog = Some(watchdog);
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        let mut url = None;
        let mut creds = None;
        while url.is_none() || creds.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("updraft listening on ") {
                        url = Some(u.trim().to_string());
                    } else if let Some(c) = line.strip_prefix("credentials: ") {
                        let path = c.trim_end_matches(" (profile default)").trim();
                        creds = Some(PathBuf::from(path));
                    }
                }
                Err(_) => {
                    let status = self
                        .child
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    panic!(
                        "updraft serve did not print its address and credentials (exit status {status:?}); its log:\n{}",
                        self.server_log()
                    );
                }
            }
        }
        self.url = url.expect("checked");
        self.credentials_path = creds.expect("checked");
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.send_sigterm();
        self.wait_exit(Duration::from_secs(40))
    }

    /// `kill -TERM <pid>`.
    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// `kill -KILL <pid>`, and waits for the process to be gone.
    pub fn kill_9(&mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -KILL failed");
        self.wait_exit(Duration::from_secs(10));
    }

    /// Waits for the server process to exit (after a signal).
    pub fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        let child = self.child.as_mut().expect("server is running");
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the server") {
                self.child = None;
                self.stop_watchdog();
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "updraft serve did not exit within {bound:?}; its log:\n{}",
                    self.server_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gracefully stops the server and starts it again on the same data
    /// directory (it gets a new port).
    pub fn restart(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "updraft serve exited with {status}");
        self.spawn();
    }

    /// Starts the server again on the same data directory after it exited
    /// (see [`Server::wait_exit`]).
    pub fn restart_after_exit(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        self.spawn();
    }

    fn stop_watchdog(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        self.watchdog_stdin = None;
    }

    // ---- clients ---------------------------------------------------------

    fn aws_env(&self, cmd: &mut Command) {
        for v in AWS_VARS_TO_CLEAR {
            cmd.env_remove(v);
        }
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", &self.credentials_path)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_PAGER", "")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            .current_dir(self.scratch());
    }

    fn aws(&self, program: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        cmd.args([
            "--endpoint-url",
            &self.url,
            "--region",
            REGION,
            "--output",
            "json",
        ])
        .args(args)
        .stdin(Stdio::null());
        self.aws_env(&mut cmd);
        cmd.output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"))
    }

    /// Runs the aws CLI v1 (`aws` on PATH, from pip).
    pub fn aws_v1(&self, args: &[&str]) -> Output {
        self.aws(aws_v1_program(), args)
    }

    /// Runs the aws CLI v2 (`/usr/bin/aws`, Debian's `awscli`).
    pub fn aws_v2(&self, args: &[&str]) -> Output {
        self.aws(aws_v2_program(), args)
    }

    /// Runs `python3 tests/py/<script> <endpoint> <args...>` with boto3.
    pub fn boto3(&self, script: &str, args: &[&str]) -> Output {
        check_boto3();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/py")
            .join(script);
        let mut cmd = Command::new("python3");
        cmd.arg(path).arg(&self.url).args(args).stdin(Stdio::null());
        self.aws_env(&mut cmd);
        cmd.output().expect("running python3")
    }

    /// Runs the updraft CLI against this server.
    pub fn updraft_cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_updraft"));
        cmd.arg("--endpoint")
            .arg(&self.url)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .stdin(Stdio::null())
            .current_dir(self.scratch());
        for v in AWS_VARS_TO_CLEAR {
            cmd.env_remove(v);
        }
        cmd.output().expect("running the updraft CLI")
    }

    // ---- raw HTTP ----------------------------------------------------------

    /// The server's credentials (`[default]` of the credentials file).
    pub fn credentials(&self) -> Credentials {
        updraft_auth::read_profile(&self.credentials_path, "default")
            .expect("reading the server's credentials")
    }

    /// A request signed (SigV4, service `lambda`) with the server's
    /// credentials, now.
    pub fn signed(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        self.signed_with(
            method,
            path_and_query,
            headers,
            body,
            &self.credentials(),
            "lambda",
            SystemTime::now(),
        )
    }

    /// A signed request with chosen credentials, service and signing time.
    #[allow(clippy::too_many_arguments)]
    pub fn signed_with(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        creds: &Credentials,
        service: &str,
        time: SystemTime,
    ) -> Resp {
        let url = format!("{}{}", self.url, path_and_query);
        let headers = sign_headers(method, &url, headers, body, creds, service, time);
        http().send(method, &url, &headers, body.to_vec())
    }

    /// A signed Lambda REST-JSON call with an optional JSON body.
    pub fn api(&self, method: &str, path_and_query: &str, body: Option<Value>) -> Resp {
        match body {
            Some(b) => self.signed(
                method,
                path_and_query,
                &[("content-type", "application/json")],
                b.to_string().as_bytes(),
            ),
            None => self.signed(method, path_and_query, &[], b""),
        }
    }

    /// A signed JSON-protocol call (`POST /` with `X-Amz-Target`), as SQS
    /// (`sqs`, `AmazonSQS.Op`, json 1.0) and EventBridge (`events`,
    /// `AWSEvents.Op`, json 1.1) take them.
    pub fn json_call(&self, service: &str, target: &str, body: Value) -> Resp {
        let content_type = if service == "sqs" {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        self.signed_with(
            "POST",
            "/",
            &[("content-type", content_type), ("x-amz-target", target)],
            body.to_string().as_bytes(),
            &self.credentials(),
            service,
            SystemTime::now(),
        )
    }

    /// A signed REST-JSON call to another service than Lambda (Scheduler:
    /// `scheduler`).
    pub fn rest_call(&self, service: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
        let (headers, body): (&[(&str, &str)], Vec<u8>) = match body {
            Some(b) => (
                &[("content-type", "application/json")],
                b.to_string().into_bytes(),
            ),
            None => (&[], Vec::new()),
        };
        self.signed_with(
            method,
            path,
            headers,
            &body,
            &self.credentials(),
            service,
            SystemTime::now(),
        )
    }

    /// `Invoke` with `X-Amz-Invocation-Type: Event`; panics unless 202.
    /// Returns the request id.
    pub fn event_invoke(&self, function: &str, payload: &[u8]) -> String {
        let r = self.signed(
            "POST",
            &format!("/2015-03-31/functions/{function}/invocations"),
            &[("x-amz-invocation-type", "Event")],
            payload,
        );
        assert_eq!(r.status, 202, "{}", r.text());
        r.header("x-amzn-requestid")
            .expect("a request id")
            .to_string()
    }

    /// Creates an SQS queue with `attributes`; panics unless it works.
    /// Returns its URL and ARN.
    pub fn create_queue(&self, name: &str, attributes: Value) -> (String, String) {
        let mut body = json!({"QueueName": name});
        if attributes.as_object().is_some_and(|a| !a.is_empty()) {
            body["Attributes"] = attributes;
        }
        let r = self.json_call("sqs", "AmazonSQS.CreateQueue", body);
        assert_eq!(r.status, 200, "CreateQueue {name}: {}", r.text());
        let url = r.json()["QueueUrl"].as_str().expect("QueueUrl").to_string();
        (url, format!("arn:aws:sqs:{REGION}:000000000000:{name}"))
    }

    /// The events a `CMD_RECORD` function logged (its `event: ...` lines),
    /// oldest first, through a signed FilterLogEvents call.
    pub fn recorded_events(&self, function: &str) -> Vec<String> {
        let r = self.json_call(
            "logs",
            "Logs_20140328.FilterLogEvents",
            json!({"logGroupName": format!("/aws/lambda/{function}"), "filterPattern": "event:"}),
        );
        assert_eq!(r.status, 200, "FilterLogEvents: {}", r.text());
        events_of(&r.json())
    }

    /// Runs `code` with `python3 -c` and the server's credentials;
    /// `sys.argv[1]` is the endpoint, then `args`.
    pub fn boto3_inline(&self, code: &str, args: &[&str]) -> Output {
        check_boto3();
        let creds = self.credentials();
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(code).arg(&self.url).args(args);
        for v in AWS_VARS_TO_CLEAR {
            cmd.env_remove(v);
        }
        cmd.env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .stdin(Stdio::null())
            .output()
            .expect("running python3")
    }

    /// A role of the node's account that `service` may assume, with
    /// `policy` as its inline policy (made by IAM's query API; an existing
    /// role of that name gets the policy). Returns its ARN.
    pub fn role_with_policy(&self, name: &str, service: &str, policy: Value) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
        let call = |params: &[(&str, &str)]| {
            let body = params
                .iter()
                .map(|(k, v)| {
                    let v = percent_encoding::utf8_percent_encode(
                        v,
                        percent_encoding::NON_ALPHANUMERIC,
                    );
                    format!("{k}={v}")
                })
                .collect::<Vec<_>>()
                .join("&");
            self.signed_with(
                "POST",
                "/",
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                body.as_bytes(),
                &self.credentials(),
                "iam",
                SystemTime::now(),
            )
        };
        let trust = trust.to_string();
        let created = call(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &trust),
        ]);
        assert!(
            created.status == 200 || created.text().contains("EntityAlreadyExists"),
            "CreateRole {name}: {}",
            created.text()
        );
        let policy = policy.to_string();
        let put = call(&[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("PolicyName", "inline"),
            ("PolicyDocument", &policy),
        ]);
        assert_eq!(put.status, 200, "PutRolePolicy {name}: {}", put.text());
        format!("arn:aws:iam::000000000000:role/{name}")
    }

    /// CreateFunction from a zip; `extra` is merged into the request.
    pub fn create_function_zip(&self, name: &str, zip: &[u8], extra: Value) -> Resp {
        let mut body = json!({
            "FunctionName": name,
            "Runtime": "wasm",
            "Role": ROLE,
            "Code": {"ZipFile": b64(zip)},
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.api("POST", "/2015-03-31/functions", Some(body))
    }

    /// CreateFunction from one of the guest `.wasm` files; panics unless 201.
    pub fn deploy(&self, name: &str, wasm: &str, extra: Value) -> Value {
        let zip = guests::zip_single("function.wasm", &guests::read_guest(wasm));
        let r = self.create_function_zip(name, &zip, extra);
        assert_eq!(r.status, 201, "creating {name}: {}", r.text());
        r.json()
    }

    /// CreateFunctionUrlConfig; panics unless 201. Returns the URL.
    pub fn create_url(&self, name: &str, auth: &str, qualifier: Option<&str>) -> String {
        let path = match qualifier {
            Some(q) => format!("/2021-10-31/functions/{name}/url?Qualifier={q}"),
            None => format!("/2021-10-31/functions/{name}/url"),
        };
        let r = self.api("POST", &path, Some(json!({"AuthType": auth})));
        assert_eq!(r.status, 201, "creating the URL of {name}: {}", r.text());
        r.json()["FunctionUrl"]
            .as_str()
            .expect("FunctionUrl")
            .to_string()
    }

    /// Invoke (RequestResponse) with `X-Amz-Log-Type: Tail`.
    pub fn invoke(&self, name: &str, payload: &[u8]) -> Resp {
        self.signed(
            "POST",
            &format!("/2015-03-31/functions/{name}/invocations"),
            &[("x-amz-log-type", "Tail")],
            payload,
        )
    }

    /// An unauthenticated GET under the server's URL.
    pub fn get(&self, path: &str) -> Resp {
        http().send(
            "GET",
            &format!("{}{}", self.url, path),
            &HeaderMap::new(),
            Vec::new(),
        )
    }

    /// `/metrics` as text.
    pub fn metrics(&self) -> String {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "/metrics: {}", r.text());
        r.text()
    }

    /// Asserts the server still answers signed and unsigned requests.
    pub fn assert_alive(&self) {
        let r = self.api("GET", "/2015-03-31/functions", None);
        assert_eq!(
            r.status,
            200,
            "ListFunctions after a bad request: {}",
            r.text()
        );
        let _ = self.metrics();
        if let Some(child) = self.child.as_ref() {
            // `try_wait` needs `&mut`; `kill -0` does the same check.
            let alive = Command::new("kill")
                .arg("-0")
                .arg(child.id().to_string())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(alive, "updraft serve died; its log:\n{}", self.server_log());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stop_watchdog();
    }
}

// ---------------------------------------------------------------------------
// Clients: where they are, and a clear failure when they are missing

fn version_of(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    out.status.success().then_some(s)
}

/// The aws CLI v1 program; panics with install instructions if missing.
pub fn aws_v1_program() -> &'static str {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let ok = CHECK.get_or_init(|| match version_of("aws") {
        Some(v) if v.starts_with("aws-cli/1.") => Ok(()),
        Some(v) => Err(format!(
            "`aws` on PATH is not the aws CLI v1 (it says {v:?}); install it with `pip install awscli`"
        )),
        None => Err(
            "the aws CLI v1 is missing: `aws` is not on PATH; install it with `pip install awscli`"
                .into(),
        ),
    });
    if let Err(e) = ok {
        panic!("{e}");
    }
    "aws"
}

/// The aws CLI v2 program; panics with install instructions if missing.
pub fn aws_v2_program() -> &'static str {
    const V2: &str = "/usr/bin/aws";
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let ok = CHECK.get_or_init(|| match version_of(V2) {
        Some(v) if v.starts_with("aws-cli/2.") => Ok(()),
        Some(v) => Err(format!(
            "{V2} is not the aws CLI v2 (it says {v:?}); install it with `apt-get install -y awscli`"
        )),
        None => Err(format!(
            "the aws CLI v2 is missing ({V2} does not run); install it with `apt-get install -y awscli`"
        )),
    });
    if let Err(e) = ok {
        panic!("{e}");
    }
    V2
}

/// Panics with install instructions unless `python3` can import boto3.
pub fn check_boto3() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let ok = CHECK.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import boto3, botocore"])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "boto3 is missing: `python3 -c 'import boto3'` failed ({}); install it with `pip install boto3`",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!(
                "python3 is missing ({e}); install Python 3 and then `pip install boto3`"
            )),
        }
    });
    if let Err(e) = ok {
        panic!("{e}");
    }
}

/// Panics (showing stdout and stderr) unless the command succeeded.
#[track_caller]
pub fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// As [`ok`], parsing stdout as JSON.
#[track_caller]
pub fn ok_json(out: &Output, what: &str) -> Value {
    let stdout = ok(out, what);
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}): {stdout}"))
}

/// Panics unless the command failed; returns its stderr.
#[track_caller]
pub fn failed(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} should have failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------------------
// HTTP

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-Amzn-ErrorType`.
    pub fn error_type(&self) -> Option<&str> {
        self.header("x-amzn-errortype")
    }

    /// Asserts a Lambda error: status, `X-Amzn-ErrorType`, and a
    /// `{"Type","Message"}` body. Returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error_type: &str) -> String {
        assert_eq!(
            (self.status, self.error_type()),
            (status, Some(error_type)),
            "expected {status} {error_type}; body: {}",
            self.text()
        );
        let body = self.json();
        assert!(
            body["Type"] == "User" || body["Type"] == "Service",
            "error body without Type: {body}"
        );
        body["Message"]
            .as_str()
            .unwrap_or_else(|| panic!("error body without Message: {body}"))
            .to_string()
    }

    /// The decoded `X-Amz-Log-Result`.
    pub fn log_tail(&self) -> String {
        let raw = self.header("x-amz-log-result").expect("X-Amz-Log-Result");
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .expect("log result is base64"),
        )
        .expect("log result is UTF-8")
    }
}

/// A blocking HTTP client (reqwest on a runtime of its own).
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

pub fn http() -> &'static Http {
    static HTTP: LazyLock<Http> = LazyLock::new(|| Http {
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client"),
    });
    &HTTP
}

impl Http {
    /// Sends a request and hangs up if no answer came within `after`; the
    /// status when one did.
    pub fn give_up_after(
        &self,
        method: &str,
        url: &str,
        headers: &HeaderMap,
        body: Vec<u8>,
        after: Duration,
    ) -> Option<u16> {
        let method = http::Method::from_bytes(method.as_bytes()).expect("a method");
        self.runtime.block_on(async {
            let send = self
                .client
                .request(method, url)
                .headers(headers.clone())
                .body(body)
                .send();
            match tokio::time::timeout(after, send).await {
                Ok(Ok(resp)) => Some(resp.status().as_u16()),
                _ => None,
            }
        })
    }

    pub fn send(&self, method: &str, url: &str, headers: &HeaderMap, body: Vec<u8>) -> Resp {
        let method = http::Method::from_bytes(method.as_bytes()).expect("a method");
        self.runtime.block_on(async {
            let resp = self
                .client
                .request(method, url)
                .headers(headers.clone())
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("reading the answer of {url}: {e}"))
                .to_vec();
            Resp {
                status,
                headers,
                body,
            }
        })
    }

    /// As [`Http::send`], but `None` when the request fails on the way (a
    /// server that was killed mid-request).
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &HeaderMap,
        body: Vec<u8>,
    ) -> Option<Resp> {
        let method = http::Method::from_bytes(method.as_bytes()).expect("a method");
        self.runtime.block_on(async {
            let resp = self
                .client
                .request(method, url)
                .headers(headers.clone())
                .body(body)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .ok()?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.ok()?.to_vec();
            Some(Resp {
                status,
                headers,
                body,
            })
        })
    }

    pub fn get(&self, url: &str) -> Resp {
        self.send("GET", url, &HeaderMap::new(), Vec::new())
    }

    /// A request with headers given as pairs.
    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.send(method, url, &header_map(headers), body.to_vec())
    }
}

pub fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    map
}

/// The headers of a SigV4-signed request (`Authorization`, `X-Amz-Date`
/// added to `headers`).
pub fn sign_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    creds: &Credentials,
    service: &str,
    time: SystemTime,
) -> HeaderMap {
    updraft_auth::sign(
        method,
        url,
        &header_map(headers),
        body,
        creds,
        REGION,
        service,
        time,
    )
    .expect("signing a request")
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn b64_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

/// A zip holding `name` with the bytes of a guest `.wasm`.
pub fn guest_zip(wasm: &str) -> Vec<u8> {
    guests::zip_single("function.wasm", &guests::read_guest(wasm))
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME` of the default account.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:000000000000:function:{name}")
}

/// The `event: ...` payloads in a FilterLogEvents answer (`CMD_RECORD`).
pub fn events_of(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter_map(|m| m.trim().strip_prefix("event: ").map(str::to_string))
        .collect()
}

/// Waits (with a deadline) until an invocation of `function` is running,
/// as the server's concurrency gauge shows.
#[track_caller]
pub fn wait_running(s: &Server, function: &str) {
    let key = format!(r#"updraft_concurrent_executions{{function="{function}"}}"#);
    eventually(
        Duration::from_secs(10),
        &format!("{function} running"),
        || {
            metric(&s.metrics(), &key)
                .is_some_and(|n| n >= 1.0)
                .then_some(())
        },
    );
}

/// Polls `f` every 100 ms until it returns `Some`, at most `bound`.
#[track_caller]
pub fn eventually<T>(bound: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {bound:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of one sample line of a Prometheus text exposition, e.g.
/// `updraft_cold_starts_total{function="f"}`.
pub fn metric(text: &str, sample: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == sample).then(|| value.parse().ok()).flatten()
    })
}

/// A tiny WASI preview1 command module (hand-assembled) that writes
/// `stdout` to file descriptor 1 and returns.
pub fn p1_module_printing(stdout: &[u8]) -> Vec<u8> {
    p1_module(stdout, None)
}

/// A hand-assembled WASI preview1 command module: writes `stdout` to file
/// descriptor 1, then returns or, with `exit`, calls `proc_exit(exit)`
/// (`exit` < 64).
pub fn p1_module(stdout: &[u8], exit: Option<u8>) -> Vec<u8> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn name(s: &str, out: &mut Vec<u8>) {
        leb(s.len() as u32, out);
        out.extend_from_slice(s.as_bytes());
    }
    fn section(id: u8, content: Vec<u8>, out: &mut Vec<u8>) {
        out.push(id);
        leb(content.len() as u32, out);
        out.extend(content);
    }
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    // Types: 0 = (i32 i32 i32 i32) -> i32 (fd_write), 1 = () -> (),
    // 2 = (i32) -> () (proc_exit).
    section(
        1,
        vec![
            3, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0, 0x60, 1, 0x7f, 0,
        ],
        &mut m,
    );
    let mut imports = vec![2];
    name("wasi_snapshot_preview1", &mut imports);
    name("fd_write", &mut imports);
    imports.extend([0x00, 0]);
    name("wasi_snapshot_preview1", &mut imports);
    name("proc_exit", &mut imports);
    imports.extend([0x00, 2]);
    section(2, imports, &mut m);
    section(3, vec![1, 1], &mut m); // one function of type 1
    section(5, vec![1, 0x00, 1], &mut m); // one memory, min 1 page
    let mut exports = vec![2];
    name("memory", &mut exports);
    exports.extend([0x02, 0]);
    name("_start", &mut exports);
    exports.extend([0x00, 2]); // imports take function indices 0 and 1
    section(7, exports, &mut m);
    // _start: drop(fd_write(1, iovs=0, iovs_len=1, nwritten=8)); [proc_exit(code)]
    let mut body = vec![
        0x00, // no locals
        0x41, 1, 0x41, 0, 0x41, 1, 0x41, 8, 0x10, 0, 0x1a,
    ];
    if let Some(code) = exit {
        assert!(code < 64, "one-byte signed LEB128");
        body.extend([0x41, code, 0x10, 1]);
    }
    body.push(0x0b);
    let mut code = vec![1];
    leb(body.len() as u32, &mut code);
    code.extend(body);
    section(10, code, &mut m);
    // Data at 0: the iovec {ptr: 16, len}, then the bytes at 16.
    let mut bytes = Vec::new();
    bytes.extend(16u32.to_le_bytes());
    bytes.extend((stdout.len() as u32).to_le_bytes());
    bytes.extend([0u8; 8]);
    bytes.extend_from_slice(stdout);
    let mut data = vec![1, 0x00, 0x41, 0, 0x0b];
    leb(bytes.len() as u32, &mut data);
    data.extend(bytes);
    section(11, data, &mut m);
    m
}

/// Writes `text` to stderr of the test (shown for failing tests).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// One managed Python runtime directory (awslambdaric) for every test
/// server: installed once per target dir instead of once per server.
fn shared_python_runtime_dir() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/tmp/e2e-python-runtime"
    )
    .to_string()
}
