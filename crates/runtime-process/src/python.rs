//! The managed Python runtime: the node's Python interpreter plus the
//! official runtime interface client, `awslambdaric`, installed by the
//! platform into a managed runtime directory.
//!
//! ```text
//!   <python_runtime_dir>/            mounted read-only at /var/runtime (PYTHONPATH)
//!       awslambdaric/ boto3/ ...     pip install --target, pinned versions
//!       .updraft-awslambdaric        the installed versions (written last)
//!   <python prefix>                  mounted read-only at /var/lang
//! ```
//!
//! Install or update it with [`install_awslambdaric`] (or
//! `scripts/install-awslambdaric.sh` in this crate, which runs the same
//! pip command): it installs into a staging directory and renames it into
//! place, so an environment never starts with a half-installed client.
//! Updating means changing [`AWSLAMBDARIC_VERSION`] or [`BOTO3_VERSION`]:
//! the installed versions are recorded in the directory and different
//! ones are replaced.
//!
//! As on Lambda, handlers can `import boto3` without bundling it: the
//! pinned boto3 (and botocore) are installed beside the runtime client,
//! and with the environment's role credentials and `AWS_ENDPOINT_URL`
//! they reach the platform's own services.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `awslambdaric` release the platform runs python functions with.
pub const AWSLAMBDARIC_VERSION: &str = "4.2.2";

/// The AWS SDK for Python provided to handlers, as Lambda's Python
/// runtimes provide one.
pub const BOTO3_VERSION: &str = "1.43.11";

/// The botocore that [`BOTO3_VERSION`] runs on (pinned too, so every node
/// provides the same SDK).
pub const BOTOCORE_VERSION: &str = "1.43.11";

/// What the marker records: every pinned package.
fn pinned() -> String {
    format!(
        "awslambdaric=={AWSLAMBDARIC_VERSION} boto3=={BOTO3_VERSION} botocore=={BOTOCORE_VERSION}"
    )
}

/// The file in the runtime directory that records the installed version.
const MARKER: &str = ".updraft-awslambdaric";

/// What the node's Python interpreter is.
#[derive(Debug, Clone)]
pub struct PythonInstall {
    /// The interpreter binary itself (pyenv shims resolved).
    pub executable: PathBuf,
    /// `sys.base_prefix`: the installation tree mounted at `/var/lang`.
    pub prefix: PathBuf,
    /// `3.11`.
    pub version: String,
}

impl PythonInstall {
    /// Asks `python` where it lives.
    pub fn detect(python: &Path) -> anyhow::Result<PythonInstall> {
        let out = Command::new(python)
            .args([
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix); \
                 print('%d.%d' % sys.version_info[:2])",
            ])
            .output()
            .map_err(|e| anyhow::anyhow!("running {}: {e}", python.display()))?;
        if !out.status.success() {
            anyhow::bail!(
                "{} failed: {}",
                python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(exe), Some(prefix), Some(version)) = (lines.next(), lines.next(), lines.next())
        else {
            anyhow::bail!("unexpected answer from {}: {text}", python.display());
        };
        let executable = std::fs::canonicalize(exe)?;
        let prefix = std::fs::canonicalize(prefix)?;
        if !executable.starts_with(&prefix) {
            anyhow::bail!(
                "the interpreter {} is outside its prefix {}",
                executable.display(),
                prefix.display()
            );
        }
        Ok(PythonInstall {
            executable,
            prefix,
            version: version.trim().to_string(),
        })
    }

    /// The interpreter's path inside the sandbox (under `/var/lang`).
    pub fn sandbox_executable(&self) -> PathBuf {
        let rel = self
            .executable
            .strip_prefix(&self.prefix)
            .unwrap_or(Path::new("bin/python3"));
        Path::new(crate::sandbox::LANG_DIR).join(rel)
    }
}

/// The version of `awslambdaric` installed in `dir`, if any.
pub fn installed_awslambdaric(dir: &Path) -> Option<String> {
    let recorded = installed_packages(dir)?;
    let version = recorded
        .split_whitespace()
        .find_map(|p| p.strip_prefix("awslambdaric=="))
        // A directory from before boto3 was provided records the bare version.
        .unwrap_or(recorded.trim());
    Some(version.to_string())
}

/// What the marker in `dir` records, when the runtime client is there.
fn installed_packages(dir: &Path) -> Option<String> {
    let recorded = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    dir.join("awslambdaric")
        .join("__main__.py")
        .is_file()
        .then(|| recorded.trim().to_string())
}

/// Installs the pinned `awslambdaric` into `dir` with
/// `python -m pip install --target`, unless that version is there already.
/// Needs the PyPI index (or pip's configured mirror) once; afterwards
/// functions start without the network.
pub fn install_awslambdaric(python: &Path, dir: &Path) -> anyhow::Result<()> {
    if installed_packages(dir) == Some(pinned()) {
        return Ok(());
    }
    let parent = dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", dir.display()))?;
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(
        ".{}-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-warn-script-location", "--target"])
        .arg(&staging)
        .arg(format!("awslambdaric=={AWSLAMBDARIC_VERSION}"))
        .arg(format!("boto3=={BOTO3_VERSION}"))
        .arg(format!("botocore=={BOTOCORE_VERSION}"))
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .output()
        .map_err(|e| anyhow::anyhow!("running {} -m pip: {e}", python.display()))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        anyhow::bail!(
            "pip install {} failed: {}",
            pinned(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::write(staging.join(MARKER), pinned())?;
    // The new tree reaches the disk before its name does.
    rustix::fs::syncfs(&std::fs::File::open(&staging)?)?;
    // Swap the new tree in; the old one is removed once renamed away.
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
    tracing::info!(dir = %dir.display(), packages = %pinned(), "installed the python runtime client and SDK");
    Ok(())
}
