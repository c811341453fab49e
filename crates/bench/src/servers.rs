//! The servers under test, each a child process bound to 127.0.0.1:0.
//!
//! A child's stdout and stderr are read by two threads for its whole life
//! (a guest that logs on every request must never block on a full pipe);
//! the lines go to the harness until it has read the address it needs, and
//! are dropped after that. A [`Server`] kills its child when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// What to run.
pub struct Plan {
    pub updraft: PathBuf,
    /// `None` when the wasmtime rows are skipped.
    pub wasmtime: Option<PathBuf>,
    pub component: PathBuf,
    pub wasmtime_reuse: u64,
}

/// How long a server may take to print its address (updraft compiles the
/// component before it listens).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running child process.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// updraft only: the credentials file it printed.
    pub credentials: Option<PathBuf>,
    /// updraft only: its data directory, removed on drop.
    _data_dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stream: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    // Once the harness stopped listening, keep draining.
                    let _ = tx.send(String::from_utf8_lossy(&line).trim_end().to_string());
                }
            }
        }
    });
}

/// Spawns `cmd` and reads its output until `ready` has seen all it needs
/// (it returns `true` then).
fn spawn(
    what: &str,
    mut cmd: Command,
    mut ready: impl FnMut(&str) -> bool,
) -> anyhow::Result<Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {what} ({:?})", cmd.get_program()))?;
    let (tx, rx) = mpsc::channel();
    forward(child.stdout.take().expect("piped"), tx.clone());
    forward(child.stderr.take().expect("piped"), tx);
    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if ready(&line) {
                    return Ok(child);
                }
                seen.push(line);
            }
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                // The error lines if there are any (not a backtrace),
                // else the last lines.
                let errors: Vec<&str> = seen
                    .iter()
                    .filter(|l| l.to_ascii_lowercase().contains("error"))
                    .take(5)
                    .map(String::as_str)
                    .collect();
                let tail = if errors.is_empty() {
                    seen[seen.len().saturating_sub(10)..].join("\n")
                } else {
                    errors.join("\n")
                };
                bail!(
                    "{what} did not report its address ({}; exit status {status:?}); its output:\n{tail}",
                    match e {
                        mpsc::RecvTimeoutError::Timeout => "timed out",
                        mpsc::RecvTimeoutError::Disconnected => "it exited",
                    }
                );
            }
        }
    }
}

/// `http://127.0.0.1:PORT[/...]` after `prefix` in `line`.
fn addr_after(line: &str, prefix: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let end = rest.find(['/', ' ']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The bare hyper server: this same binary, `hyper-hello`.
pub fn start_hyper() -> anyhow::Result<Server> {
    let exe = std::env::current_exe().context("locating updraft-bench")?;
    let mut cmd = Command::new(exe);
    cmd.args(["hyper-hello", "--listen", "127.0.0.1:0"]);
    let mut addr = None;
    let child = spawn("hyper-hello", cmd, |line| {
        addr = addr_after(line, crate::hello::READY_PREFIX);
        addr.is_some()
    })?;
    Ok(Server {
        child,
        addr: addr.expect("ready only once the address is known"),
        credentials: None,
        _data_dir: None,
    })
}

/// `wasmtime serve`, with default settings or with `--max-instance-reuse-count`.
///
/// `-Scli` links the `wasi:cli` interfaces (environment, stdio, clocks...)
/// besides `wasi:http`: `serve` leaves them out by default, and a component
/// built with Rust's standard library imports them.
pub fn start_wasmtime(
    wasmtime: &Path,
    component: &Path,
    reuse: Option<u64>,
) -> anyhow::Result<Server> {
    let mut cmd = Command::new(wasmtime);
    cmd.args(["serve", "-Scli", "--addr", "127.0.0.1:0"]);
    if let Some(n) = reuse {
        cmd.arg("--max-instance-reuse-count").arg(n.to_string());
    }
    cmd.arg(component);
    let mut addr = None;
    let child = spawn("wasmtime serve", cmd, |line| {
        addr = addr_after(line, "Serving HTTP on http://");
        addr.is_some()
    })?;
    Ok(Server {
        child,
        addr: addr.expect("ready only once the address is known"),
        credentials: None,
        _data_dir: None,
    })
}

/// `updraft serve` in a fresh data directory with `hello` deployed.
pub fn start_updraft(
    updraft: &Path,
    component: &Path,
    idle_timeout: Option<&str>,
) -> anyhow::Result<Server> {
    let mut extra = Vec::new();
    if let Some(t) = idle_timeout {
        extra.extend(["--idle-timeout".to_string(), t.to_string()]);
    }
    start_updraft_with(updraft, &[("hello", component)], &extra)
}

/// `updraft serve` in a fresh data directory with each `(name, file)` of
/// `deploy` deployed at startup (with a function URL) and `extra` flags.
pub fn start_updraft_with(
    updraft: &Path,
    deploy: &[(&str, &Path)],
    extra: &[String],
) -> anyhow::Result<Server> {
    let data_dir = tempfile::Builder::new()
        .prefix("updraft-bench.")
        .tempdir()
        .context("creating a data directory")?;
    let mut cmd = Command::new(updraft);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data_dir.path())
        .args(["--listen", "127.0.0.1:0"]);
    for (name, file) in deploy {
        cmd.arg("--deploy")
            .arg(format!("{name}={}", file.display()));
    }
    cmd.args(extra);
    let mut addr = None;
    let mut credentials = None;
    let child = spawn("updraft serve", cmd, |line| {
        if let Some(a) = addr_after(line, "updraft listening on http://") {
            addr = Some(a);
        }
        if let Some(rest) = line.strip_prefix("credentials: ") {
            let path = rest.split(" (").next().unwrap_or(rest);
            credentials = Some(PathBuf::from(path));
        }
        addr.is_some() && credentials.is_some()
    })?;
    Ok(Server {
        child,
        addr: addr.expect("ready only once the address is known"),
        credentials,
        _data_dir: Some(data_dir),
    })
}

impl Server {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// updraft only: the credentials file it printed.
    pub fn credentials(&self) -> anyhow::Result<&Path> {
        self.credentials
            .as_deref()
            .context("this server has no credentials file")
    }
}

/// The first line `PROGRAM --version` prints, or why there is none.
pub fn version(program: &Path) -> String {
    match Command::new(program).arg("--version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Ok(o) => format!("`{} --version` failed ({})", program.display(), o.status),
        Err(e) => format!("`{}` not runnable: {e}", program.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::addr_after;

    #[test]
    fn reads_addresses_from_banners() {
        assert_eq!(
            addr_after(
                "Serving HTTP on http://127.0.0.1:4312/",
                "Serving HTTP on http://"
            ),
            Some("127.0.0.1:4312".parse().unwrap())
        );
        assert_eq!(
            addr_after(
                "updraft listening on http://127.0.0.1:80",
                "updraft listening on http://"
            ),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            addr_after("something else", "Serving HTTP on http://"),
            None
        );
    }
}
