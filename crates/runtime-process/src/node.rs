//! The managed Node.js runtime: the node's `node` binary, the platform's
//! own runtime interface client (JavaScript in `node/ric/` of this crate,
//! embedded in the binary) and the AWS SDK for JavaScript v3, installed by
//! the platform with npm.
//!
//! ```text
//!   <root_dir>/runtimes/node-ric/    mounted read-only at /var/runtime
//!       index.mjs ...                written at every start from the binary
//!       node_modules/                (empty) where the SDK is mounted
//!   <node_runtime_dir>/node_modules  mounted read-only at /var/runtime/node_modules
//!       @aws-sdk/client-s3 ...       npm install, pinned versions
//!   <node_runtime_dir>/.updraft-node-sdk   the installed versions (written last)
//!   <node prefix>                    mounted read-only at /var/lang (node at /var/lang/bin/node)
//! ```
//!
//! `nodejs20.x` and `nodejs22.x` both run on the installed `node` (18 or
//! later), whatever its major version. Handlers `require` or `import` the
//! SDK without bundling it, as on Lambda: `NODE_PATH` names
//! `/var/runtime/node_modules`, and `/node_modules` links there so that ES
//! modules (which ignore `NODE_PATH`) find it too; a package's own
//! `node_modules` comes first. [`install_node_sdk`] installs into a
//! staging directory and renames it into place; changing
//! [`NODE_SDK_VERSION`] replaces it at the next start.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The version of every `@aws-sdk/*` package provided to handlers (the
/// clients are released together under one version).
pub const NODE_SDK_VERSION: &str = "3.1178.0";

/// The SDK packages provided, as Lambda's Node.js runtimes provide the
/// SDK's clients.
pub const NODE_SDK_PACKAGES: &[&str] = &[
    "@aws-sdk/client-s3",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-sfn",
    "@aws-sdk/client-eventbridge",
];

/// The oldest Node.js the runtime interface client runs on.
pub const NODE_MIN_MAJOR: u32 = 18;

/// The file in the SDK directory that records what is installed.
const MARKER: &str = ".updraft-node-sdk";

/// The runtime interface client, embedded: (file name, text).
const RIC_FILES: &[(&str, &str)] = &[
    ("index.mjs", include_str!("../node/ric/index.mjs")),
    ("context.mjs", include_str!("../node/ric/context.mjs")),
    ("errors.mjs", include_str!("../node/ric/errors.mjs")),
    ("handler.mjs", include_str!("../node/ric/handler.mjs")),
    ("logging.mjs", include_str!("../node/ric/logging.mjs")),
    ("rapid.mjs", include_str!("../node/ric/rapid.mjs")),
    ("streaming.mjs", include_str!("../node/ric/streaming.mjs")),
];

/// What every node records: the pinned packages, `name@version` each.
fn pinned() -> String {
    NODE_SDK_PACKAGES
        .iter()
        .map(|p| format!("{p}@{NODE_SDK_VERSION}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why the node's Node.js cannot serve functions.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("Node.js ({0}) was not found")]
    NotFound(String),
    #[error("running {program} failed")]
    Run {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} --version answered `{answer}`")]
    Version { program: String, answer: String },
    #[error("Node.js {version} ({program}) is too old: {NODE_MIN_MAJOR} or later is needed")]
    TooOld { program: String, version: String },
    #[error("the node binary {0} is not in a `bin` directory")]
    Layout(String),
}

/// What the node's Node.js is.
#[derive(Debug, Clone)]
pub struct NodeInstall {
    /// The `node` binary itself (links resolved).
    pub executable: PathBuf,
    /// The installation tree (`<prefix>/bin/node`), mounted at `/var/lang`.
    pub prefix: PathBuf,
    /// `20.11.1`.
    pub version: String,
}

impl NodeInstall {
    /// Finds `node` (a path, or a name on `PATH`) and asks its version.
    pub fn detect(node: &Path) -> Result<NodeInstall, NodeError> {
        let found = crate::runtime::which(node)
            .ok_or_else(|| NodeError::NotFound(node.display().to_string()))?;
        let executable = std::fs::canonicalize(&found).map_err(|source| NodeError::Run {
            program: found.display().to_string(),
            source,
        })?;
        let program = executable.display().to_string();
        let out = Command::new(&executable)
            .arg("--version")
            .output()
            .map_err(|source| NodeError::Run {
                program: program.clone(),
                source,
            })?;
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let version = answer.strip_prefix('v').unwrap_or(&answer).to_string();
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .filter(|_| out.status.success())
            .ok_or_else(|| NodeError::Version {
                program: program.clone(),
                answer: answer.clone(),
            })?;
        if major < NODE_MIN_MAJOR {
            return Err(NodeError::TooOld { program, version });
        }
        let prefix = executable
            .parent()
            .filter(|bin| bin.file_name().is_some_and(|n| n == "bin"))
            .and_then(Path::parent)
            .ok_or_else(|| NodeError::Layout(program.clone()))?
            .to_path_buf();
        Ok(NodeInstall {
            executable,
            prefix,
            version,
        })
    }

    /// The binary's path inside the sandbox (under `/var/lang`).
    pub fn sandbox_executable(&self) -> PathBuf {
        let rel = self
            .executable
            .strip_prefix(&self.prefix)
            .unwrap_or(Path::new("bin/node"));
        Path::new(crate::sandbox::LANG_DIR).join(rel)
    }
}

/// The SDK packages installed in `dir` (as recorded), if they are there.
pub fn installed_node_sdk(dir: &Path) -> Option<String> {
    let recorded = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    dir.join("node_modules")
        .join("@aws-sdk")
        .is_dir()
        .then(|| recorded.trim().to_string())
}

/// Installs the pinned SDK packages into `dir` (`dir/node_modules`) with
/// the `npm` next to `node` (else the one on `PATH`), unless they are
/// there already. Needs the npm registry (or npm's configured mirror)
/// once; afterwards functions start without the network.
pub fn install_node_sdk(node: &Path, dir: &Path) -> anyhow::Result<()> {
    if installed_node_sdk(dir).as_deref() == Some(pinned().as_str()) {
        return Ok(());
    }
    let npm = crate::runtime::which(node)
        .and_then(|n| std::fs::canonicalize(n).ok())
        .and_then(|n| Some(n.parent()?.join("npm")))
        .filter(|npm| npm.is_file())
        .unwrap_or_else(|| PathBuf::from("npm"));
    let parent = dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", dir.display()))?;
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(
        ".{}-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&staging)?;
    let out = Command::new(&npm)
        .args(["install", "--prefix"])
        .arg(&staging)
        .args([
            "--no-save",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--no-package-lock",
            "--no-update-notifier",
            "--loglevel=error",
        ])
        .args(
            NODE_SDK_PACKAGES
                .iter()
                .map(|p| format!("{p}@{NODE_SDK_VERSION}")),
        )
        .output();
    let failed = match out {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Some(format!("running {}: {e}", npm.display())),
    };
    if let Some(why) = failed {
        let _ = std::fs::remove_dir_all(&staging);
        anyhow::bail!("npm install {} failed: {why}", pinned());
    }
    std::fs::write(staging.join(MARKER), pinned())?;
    rustix::fs::syncfs(&std::fs::File::open(&staging)?)?;
    let old = parent.join(format!(".old-{}", uuid::Uuid::new_v4().simple()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&staging, dir)?;
    updraft_types::sync_dir(parent)?;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    tracing::info!(dir = %dir.display(), packages = %pinned(), "installed the AWS SDK for JavaScript");
    Ok(())
}

/// Writes the runtime interface client into `dir` (with an empty
/// `node_modules` where the SDK is mounted), replacing files that differ.
pub(crate) fn write_ric(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("node_modules"))?;
    for (name, text) in RIC_FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    Ok(())
}

/// `NODE_PATH` as Lambda sets it for a Node.js runtime (`nodejs20.x` →
/// `node20`).
pub(crate) fn node_path(runtime: &str) -> String {
    let major = runtime
        .strip_prefix("nodejs")
        .and_then(|r| r.strip_suffix(".x"))
        .unwrap_or("20");
    format!(
        "/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:\
         /var/runtime/node_modules:/var/runtime:/var/task"
    )
}

/// The V8 heap limit for a function of `memory_mb`: 90 % of its memory,
/// so that a runaway heap ends in V8's error before the memory limit.
pub(crate) fn max_old_space_mb(memory_mb: u32) -> u32 {
    (memory_mb / 10 * 9).max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_path_names_the_runtimes_major() {
        assert!(node_path("nodejs22.x").starts_with("/opt/nodejs/node22/node_modules:"));
        assert!(node_path("nodejs20.x").contains(":/var/runtime/node_modules:"));
    }

    #[test]
    fn the_ric_is_written_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        write_ric(dir.path()).unwrap();
        assert!(dir.path().join("node_modules").is_dir());
        let index = std::fs::read_to_string(dir.path().join("index.mjs")).unwrap();
        assert!(index.contains("loadHandler"));
        write_ric(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_node_is_named() {
        let e = NodeInstall::detect(Path::new("/nonexistent/node")).unwrap_err();
        assert_eq!(e.to_string(), "Node.js (/nonexistent/node) was not found");
    }

    #[test]
    fn pinned_lists_every_package_at_the_version() {
        let p = pinned();
        assert!(p.contains(&format!("@aws-sdk/client-sqs@{NODE_SDK_VERSION}")));
        assert_eq!(p.split(' ').count(), NODE_SDK_PACKAGES.len());
    }
}
