//! [`ProcessRuntime`]: the `Runtime` of native processes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use updraft_pool::{CodeError, Runtime, Template};
use updraft_types::CodeArchive;

use crate::cgroup::{self, LimitMechanism};
use crate::code::{self, KIND_BOOTSTRAP, KIND_NODE, KIND_PYTHON};
use crate::environment::{Launch, ProcessTemplate};
use crate::node::{self, NodeError, NodeInstall};
use crate::python::{self, PythonInstall};

/// Custom runtimes: the package's executable `bootstrap`.
pub const PROVIDED_RUNTIMES: &[&str] = &["provided", "provided.al2", "provided.al2023"];
/// Python runtimes: the node's Python with `awslambdaric`.
pub const PYTHON_RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
];

/// Node.js runtimes: the node's `node` (either name runs on the installed
/// version) with the platform's runtime interface client.
pub const NODE_RUNTIMES: &[&str] = &["nodejs20.x", "nodejs22.x"];

const ALL_RUNTIMES: &[&str] = &[
    "provided",
    "provided.al2",
    "provided.al2023",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs20.x",
    "nodejs22.x",
];

/// Settings of the process runtime.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Owned by the runtime: `code/<sha256>/` (unpacked packages),
    /// `run/<env>/` (API sockets), `etc/` (the sandbox's `/etc` files).
    /// Keep it outside anything a sandbox mounts.
    pub root_dir: PathBuf,
    /// The Python interpreter for `python3.x` functions (`python3` on
    /// `PATH` by default; pyenv shims are resolved to the real binary).
    pub python: PathBuf,
    /// Where `awslambdaric` is installed ([`crate::install_awslambdaric`]);
    /// default `<root_dir>/runtimes/python`.
    pub python_runtime_dir: PathBuf,
    /// The `node` binary for `nodejs*` functions (`node` on `PATH` by
    /// default).
    pub node: PathBuf,
    /// Where the AWS SDK for JavaScript is installed
    /// ([`crate::install_node_sdk`]); default `<root_dir>/runtimes/nodejs`.
    pub node_runtime_dir: PathBuf,
    /// The sandbox helper: the `updraft-sandbox-init` binary built with this
    /// crate (default: next to the running executable, or one directory up
    /// from a test binary in `target/*/deps`), or any program that calls
    /// [`crate::init::main`] after the arguments in `init_args`.
    pub init_binary: PathBuf,
    /// Arguments the helper needs before its own (empty for
    /// `updraft-sandbox-init`; e.g. `["sandbox-init"]` for a platform
    /// binary with such a subcommand).
    pub init_args: Vec<String>,
    /// bubblewrap; default `bwrap` on `PATH`.
    pub bwrap: PathBuf,
    /// Size of each environment's `/tmp` (Lambda's default: 512 MB).
    pub tmp_mb: u32,
    /// Processes (and threads) per environment.
    pub pids_max: u32,
    /// The parent of the environments' cgroups, under the platform's own
    /// (`updraft` → `/sys/fs/cgroup/memory/<platform's cgroup>/updraft/<env>`
    /// under v1; `/sys/fs/cgroup/updraft/<env>` under v2).
    pub cgroup_parent: String,
    /// Use cgroups when the host has them (default); `false` forces the
    /// `RLIMIT_AS` fallback.
    pub use_cgroups: bool,
    /// Bound on the init phase (Lambda: 10 s).
    pub init_timeout: Duration,
    /// The host uid and gid the sandboxes run as (uid 993 inside maps to
    /// it). Default when the platform runs as root: 2000993 / 2000990, ids
    /// no host account uses; `None` keeps the platform's own uid (root
    /// inside the user namespace maps to root outside: weaker, see
    /// SANDBOX.md).
    pub sandbox_host_ids: Option<(u32, u32)>,
    /// The platform's endpoint: a Unix socket of the host serving the
    /// whole HTTP API. When set, it is mounted (read-only) into every
    /// sandbox, reachable there at `http://127.0.0.1:9000`, and functions
    /// get `AWS_ENDPOINT_URL=http://127.0.0.1:9000`. The socket must exist
    /// when environments start and let the sandbox's host uid connect
    /// (mode 0666; its directory may stay private). `None` (the
    /// default): the sandbox has no network at all.
    pub endpoint_socket: Option<PathBuf>,
}

impl ProcessConfig {
    pub fn new(root_dir: impl Into<PathBuf>) -> ProcessConfig {
        let root_dir = root_dir.into();
        let init_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| {
                let dir = exe.parent()?;
                [
                    dir.join("updraft-sandbox-init"),
                    dir.parent()?.join("updraft-sandbox-init"),
                ]
                .into_iter()
                .find(|p| p.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("updraft-sandbox-init"));
        ProcessConfig {
            python_runtime_dir: root_dir.join("runtimes").join("python"),
            node_runtime_dir: root_dir.join("runtimes").join("nodejs"),
            root_dir,
            python: PathBuf::from("python3"),
            node: PathBuf::from("node"),
            init_binary,
            init_args: Vec::new(),
            bwrap: PathBuf::from("bwrap"),
            tmp_mb: 512,
            pids_max: 1024,
            cgroup_parent: "updraft".into(),
            use_cgroups: true,
            init_timeout: Duration::from_secs(10),
            sandbox_host_ids: rustix::process::geteuid()
                .is_root()
                .then_some((2_000_993, 2_000_990)),
            endpoint_socket: None,
        }
    }
}

/// What every template of this runtime shares.
pub(crate) struct Shared {
    pub config: ProcessConfig,
    pub cgroups: cgroup::Parents,
    pub python: Option<PythonInstall>,
    /// The node's Node.js, or why there is none.
    pub node: Result<NodeInstall, String>,
    /// The runtime interface client of Node.js functions (`/var/runtime`).
    pub node_ric_dir: PathBuf,
    pub code_root: PathBuf,
    pub run_root: PathBuf,
    pub etc_dir: PathBuf,
    pub init_binary: PathBuf,
    pub bwrap: PathBuf,
    /// Why no sandbox can be made (bubblewrap missing or too old): every
    /// runtime is then refused at deploy.
    pub sandbox_missing: Option<String>,
    pub unshare: PathBuf,
    /// The compiled seccomp filter, in hex for `updraft-sandbox-init
    /// enter --seccomp`.
    pub seccomp_hex: String,
}

/// Runs native processes that speak the Lambda Runtime API.
pub struct ProcessRuntime {
    shared: Arc<Shared>,
}

impl ProcessRuntime {
    /// Checks the host (bubblewrap, the helper, cgroups, Python) and
    /// prepares `root_dir`. Python is optional: without it (or without
    /// `awslambdaric` installed) python functions are refused at deploy.
    pub fn new(config: ProcessConfig) -> anyhow::Result<ProcessRuntime> {
        let code_root = config.root_dir.join("code");
        let run_root = config.root_dir.join("run");
        let etc_dir = config.root_dir.join("etc");
        for dir in [&config.root_dir, &code_root, &run_root] {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        // The API sockets are reachable only through the sandboxes' mounts.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run_root, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| anyhow::anyhow!("securing {}: {e}", run_root.display()))?;
        }
        crate::sandbox::write_etc(&etc_dir)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", etc_dir.display()))?;
        // Sockets of environments from a previous run.
        if let Ok(entries) = std::fs::read_dir(&run_root) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        // Without bubblewrap the runtime still serves its names, so that
        // deploys are refused saying what to install.
        let (bwrap, sandbox_missing) = match which(&config.bwrap) {
            None => (
                config.bwrap.clone(),
                Some(format!(
                    "bubblewrap ({}) was not found. Install it with `apt-get install bubblewrap`",
                    config.bwrap.display()
                )),
            ),
            Some(bwrap) => {
                let too_old = check_bwrap_version(&bwrap).err().map(|e| {
                    format!("{e}. Install a newer one (`apt-get install bubblewrap` on Debian 12 or later)")
                });
                (bwrap, too_old)
            }
        };
        // Once per runtime; every environment gets the same filter.
        let seccomp = crate::seccomp::compile()
            .map_err(|e| anyhow::Error::new(e).context("the process sandbox's seccomp filter"))?;
        let unshare = if config.sandbox_host_ids.is_some() {
            which(Path::new("unshare")).ok_or_else(|| {
                anyhow::anyhow!("unshare (util-linux) not found: it stages the sandboxes' mounts")
            })?
        } else {
            PathBuf::new()
        };
        let init_binary = std::fs::canonicalize(&config.init_binary).map_err(|e| {
            anyhow::anyhow!(
                "the sandbox helper {} is missing ({e}); it is built with updraft-runtime-process",
                config.init_binary.display()
            )
        })?;
        let cgroups = if config.use_cgroups {
            cgroup::detect(&config.cgroup_parent)
        } else {
            cgroup::Parents {
                mechanism: LimitMechanism::RlimitAs,
                dirs: Vec::new(),
                cpu: false,
            }
        };
        tracing::info!(
            mechanism = cgroups.mechanism.as_str(),
            parents = ?cgroups.dirs,
            "process sandbox memory limits"
        );
        let python = match PythonInstall::detect(&config.python) {
            Ok(p) => {
                tracing::info!(
                    python = %p.executable.display(),
                    version = %p.version,
                    awslambdaric = ?python::installed_awslambdaric(&config.python_runtime_dir),
                    "python runtime"
                );
                Some(p)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no python: python3.x functions are refused");
                None
            }
        };
        let node = NodeInstall::detect(&config.node).map_err(|e| match e {
            NodeError::NotFound(_) | NodeError::TooOld { .. } => {
                format!("{e}. Install it with `apt-get install nodejs`")
            }
            other => format!("{:#}", anyhow::Error::new(other)),
        });
        let node_ric_dir = config.root_dir.join("runtimes").join("node-ric");
        node::write_ric(&node_ric_dir)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", node_ric_dir.display()))?;
        let runtime = ProcessRuntime {
            shared: Arc::new(Shared {
                config,
                cgroups,
                python,
                node,
                node_ric_dir,
                code_root,
                run_root,
                etc_dir,
                init_binary,
                bwrap,
                sandbox_missing,
                unshare,
                seccomp_hex: crate::init::to_hex(&seccomp),
            }),
        };
        runtime.log_availability();
        Ok(runtime)
    }

    /// Every runtime name this runtime serves, each with why it cannot run
    /// on this node (`None`: it can). Asked again each time: installing a
    /// runtime client while the platform runs makes its runtimes available.
    pub fn availability(&self) -> Vec<(&'static str, Option<String>)> {
        ALL_RUNTIMES
            .iter()
            .map(|&name| (name, self.missing(name).err()))
            .collect()
    }

    /// Logs which runtimes are available and why the others are not.
    fn log_availability(&self) {
        let all = self.availability();
        let available: Vec<&str> = all
            .iter()
            .filter(|(_, why)| why.is_none())
            .map(|(name, _)| *name)
            .collect();
        tracing::info!(runtimes = %available.join(", "), "native-process runtimes available");
        // One line per reason, naming every runtime it holds back.
        let mut reported: Vec<&str> = Vec::new();
        for why in all.iter().filter_map(|(_, why)| why.as_deref()) {
            if reported.contains(&why) {
                continue;
            }
            reported.push(why);
            let same: Vec<&str> = all
                .iter()
                .filter(|(_, w)| w.as_deref() == Some(why))
                .map(|(n, _)| *n)
                .collect();
            tracing::warn!(runtimes = %same.join(", "), reason = %why, "native-process runtimes unavailable");
        }
    }

    /// The code kind `runtime` runs, or what this node lacks to run it.
    fn missing(&self, runtime: &str) -> Result<&'static str, String> {
        let kind = if PROVIDED_RUNTIMES.contains(&runtime) {
            KIND_BOOTSTRAP
        } else if PYTHON_RUNTIMES.contains(&runtime) {
            KIND_PYTHON
        } else if NODE_RUNTIMES.contains(&runtime) {
            KIND_NODE
        } else {
            return Err(format!(
                "it is not served by the process runtime (it serves: {})",
                ALL_RUNTIMES.join(", ")
            ));
        };
        if let Some(why) = &self.shared.sandbox_missing {
            return Err(why.clone());
        }
        let config = &self.shared.config;
        match kind {
            KIND_PYTHON => {
                let Some(py) = &self.shared.python else {
                    return Err(format!(
                        "Python ({}) was not found. Install it with `apt-get install python3`",
                        config.python.display()
                    ));
                };
                if python::installed_awslambdaric(&config.python_runtime_dir).is_none() {
                    return Err(format!(
                        "the Python runtime interface client (awslambdaric) is not installed in {}. \
                         Install it with `crates/runtime-process/scripts/install-awslambdaric.sh {}` \
                         (or restart `updraft serve` where PyPI is reachable)",
                        config.python_runtime_dir.display(),
                        config.python_runtime_dir.display()
                    ));
                }
                if runtime != format!("python{}", py.version) {
                    tracing::debug!(runtime, python = %py.version, "python runtime served by another minor version");
                }
            }
            KIND_NODE => {
                if let Err(why) = &self.shared.node {
                    return Err(why.clone());
                }
                if self.shared.cgroups.mechanism == LimitMechanism::RlimitAs {
                    // V8 reserves gigabytes of address space at start.
                    return Err(
                        "Node.js needs cgroups for its memory limit (under the RLIMIT_AS \
                         fallback V8 cannot reserve its address space). Run updraft as root on a \
                         host with cgroup v2, or v1 memory and pids controllers"
                            .into(),
                    );
                }
                if node::installed_node_sdk(&config.node_runtime_dir).is_none() {
                    return Err(format!(
                        "the AWS SDK for JavaScript is not installed in {}. \
                         Install it with `crates/runtime-process/scripts/install-node-sdk.sh {}` \
                         (scripts/run does)",
                        config.node_runtime_dir.display(),
                        config.node_runtime_dir.display()
                    ));
                }
            }
            _ => {}
        }
        Ok(kind)
    }

    /// Which mechanism caps memory (cgroup v2, v1, or RLIMIT_AS).
    pub fn limit_mechanism(&self) -> LimitMechanism {
        self.shared.cgroups.mechanism
    }

    /// The directories environments' cgroups are made in (cgroup v2: one;
    /// v1: the memory one, the pids one, then the cpu one if the host has
    /// that controller; none without cgroups): each environment's limits
    /// and counters are in a directory under them.
    pub fn cgroup_parents(&self) -> &[PathBuf] {
        &self.shared.cgroups.dirs
    }

    /// Where the code of `code_sha256` is unpacked.
    pub fn code_dir(&self, code_sha256: &str) -> Result<PathBuf, CodeError> {
        Ok(self.shared.code_root.join(code::dir_name(code_sha256)?))
    }

    fn kind_of(&self, runtime: &str) -> Result<&'static str, CodeError> {
        self.missing(runtime).map_err(|why| {
            CodeError(format!(
                "The runtime {runtime} is not available on this node: {why}."
            ))
        })
    }
}

/// The oldest bubblewrap with every option the sandbox uses
/// (`--disable-userns`).
const BWRAP_MIN: (u32, u32, u32) = (0, 8, 0);

/// Refuses a bubblewrap older than [`BWRAP_MIN`]; one whose version
/// cannot be read is let through with a warning (a missing option then
/// fails every cold start, with bubblewrap's message in the init log).
fn check_bwrap_version(bwrap: &Path) -> anyhow::Result<()> {
    let out = std::process::Command::new(bwrap)
        .arg("--version")
        .output()
        .map_err(|e| anyhow::anyhow!("running {} --version: {e}", bwrap.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_bwrap_version(&text) {
        Some(v) if v >= BWRAP_MIN => Ok(()),
        Some((a, b, c)) => Err(anyhow::anyhow!(
            "bubblewrap {a}.{b}.{c} ({}) is too old: the process sandbox needs {}.{}.{} or later \
             (--disable-userns)",
            bwrap.display(),
            BWRAP_MIN.0,
            BWRAP_MIN.1,
            BWRAP_MIN.2
        )),
        None => {
            tracing::warn!(bwrap = %bwrap.display(), version = %text.trim(), "unknown bubblewrap version");
            Ok(())
        }
    }
}

/// `bubblewrap 0.8.0` → `(0, 8, 0)`.
fn parse_bwrap_version(text: &str) -> Option<(u32, u32, u32)> {
    let version = text.trim().strip_prefix("bubblewrap ")?;
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .ok()
    });
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// `program` as given if it has a `/`, else found on `PATH`.
pub(crate) fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

impl Runtime for ProcessRuntime {
    fn names(&self) -> &[&str] {
        ALL_RUNTIMES
    }

    fn prepare(
        &self,
        runtime: &str,
        code_sha256: &str,
        archive: &CodeArchive,
    ) -> Result<String, CodeError> {
        let kind = self.kind_of(runtime)?;
        code::check_paths(archive)?;
        code::validate(kind, archive)?;
        let name = code::dir_name(code_sha256)?;
        let dir = code::unpack(&self.shared.code_root, &name, archive)?;
        tracing::info!(runtime, code_sha256, kind, dir = %dir.display(), "process code prepared");
        Ok(kind.to_string())
    }

    fn load(
        &self,
        runtime: &str,
        code_sha256: &str,
        code_kind: &str,
        archive: &dyn Fn() -> Result<CodeArchive, CodeError>,
    ) -> Result<Arc<dyn Template>, CodeError> {
        let kind = self.kind_of(runtime)?;
        if kind != code_kind {
            return Err(CodeError(format!(
                "the code was prepared as `{code_kind}`, runtime `{runtime}` runs `{kind}`"
            )));
        }
        let name = code::dir_name(code_sha256)?;
        let mut dir = self.shared.code_root.join(&name);
        if !dir.is_dir() {
            let archive = archive()?;
            code::check_paths(&archive)?;
            code::validate(kind, &archive)?;
            dir = code::unpack(&self.shared.code_root, &name, &archive)?;
        }
        let launch = match kind {
            KIND_BOOTSTRAP => Launch::Bootstrap,
            KIND_NODE => Launch::Node {
                runtime: runtime.to_string(),
            },
            _ => Launch::Python {
                runtime: runtime.to_string(),
            },
        };
        Ok(Arc::new(ProcessTemplate {
            shared: self.shared.clone(),
            code_dir: dir,
            launch,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bwrap_versions() {
        assert_eq!(parse_bwrap_version("bubblewrap 0.8.0\n"), Some((0, 8, 0)));
        assert_eq!(parse_bwrap_version("bubblewrap 0.11.1"), Some((0, 11, 1)));
        assert_eq!(parse_bwrap_version("bubblewrap 0.10"), Some((0, 10, 0)));
        assert!(parse_bwrap_version("bubblewrap 0.6.2").unwrap() < BWRAP_MIN);
        assert!(parse_bwrap_version("bubblewrap 0.10.0").unwrap() >= BWRAP_MIN);
        assert_eq!(parse_bwrap_version("something else"), None);
    }
}
