//! Deployment packages unpacked into content-addressed, read-only code
//! directories: `<root_dir>/code/<code sha256>/`, mounted read-only at
//! `/var/task` in every sandbox of that code.
//!
//! A directory is written under a temporary name and renamed into place, so
//! a directory with the final name is always complete. Files are 0444, or
//! 0555 when the archive recorded an execute bit; directories are 0555.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use updraft_pool::CodeError;
use updraft_types::CodeArchive;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

/// The kind of code `prepare` found (stored by the registry, given back to
/// `load`).
pub const KIND_BOOTSTRAP: &str = "bootstrap";
pub const KIND_PYTHON: &str = "python";
pub const KIND_NODE: &str = "nodejs";

/// The directory name for a code hash (refused unless a plain token).
pub(crate) fn dir_name(code_sha256: &str) -> Result<String, CodeError> {
    let safe = !code_sha256.is_empty()
        && code_sha256.len() <= 128
        && code_sha256
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if safe {
        Ok(code_sha256.to_string())
    } else {
        Err(CodeError(format!(
            "invalid code hash `{code_sha256}`: expected letters, digits, `-` or `_`"
        )))
    }
}

/// Checks every path of the archive again (the registry's unpacker already
/// refuses traversal and links; this crate does not rely on it). Public so
/// that it can be fuzzed against the registry's unpacker (`crates/fuzz`).
pub fn check_paths(archive: &CodeArchive) -> Result<(), CodeError> {
    let mut files = BTreeSet::new();
    for f in &archive.files {
        let bad = f.path.is_empty()
            || f.path.starts_with('/')
            || f.path.contains('\0')
            || f.path.contains('\\')
            || f.path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..");
        if bad {
            return Err(CodeError(format!(
                "the deployment package contains an unsafe path '{}'",
                f.path
            )));
        }
        if let Some(mode) = f.mode {
            let kind = mode & S_IFMT;
            if kind != 0 && kind != S_IFREG {
                return Err(CodeError(format!(
                    "the deployment package entry '{}' is not a regular file (links are not supported)",
                    f.path
                )));
            }
        }
        if !files.insert(f.path.as_str()) {
            return Err(CodeError(format!(
                "the deployment package contains '{}' twice",
                f.path
            )));
        }
    }
    // A file whose path is also a directory of another file.
    for f in &archive.files {
        let mut prefix = String::new();
        for part in f
            .path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, d)| d)
            .unwrap_or(&[])
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if files.contains(prefix.as_str()) {
                return Err(CodeError(format!(
                    "the deployment package has '{prefix}' both as a file and as a directory"
                )));
            }
        }
    }
    Ok(())
}

/// Whether the archive recorded an execute bit for a file.
pub(crate) fn is_executable(mode: Option<u32>) -> bool {
    mode.is_some_and(|m| m & 0o111 != 0)
}

/// Writes the archive into `<code_root>/<name>` unless it is there already;
/// returns the directory.
pub(crate) fn unpack(
    code_root: &Path,
    name: &str,
    archive: &CodeArchive,
) -> Result<PathBuf, CodeError> {
    let dest = code_root.join(name);
    if dest.is_dir() {
        return Ok(dest);
    }
    let io = |what: &str, e: std::io::Error| {
        tracing::error!(dir = %dest.display(), error = %e, "{what}");
        CodeError(format!("cannot store the code: {what}: {e}"))
    };
    std::fs::create_dir_all(code_root).map_err(|e| io("creating the code directory", e))?;
    let tmp = code_root.join(format!(".tmp-{name}-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir(&tmp)?;
        let mut dirs = BTreeSet::new();
        for f in &archive.files {
            let path = tmp.join(&f.path);
            if let Some(parent) = path.parent() {
                if parent != tmp {
                    std::fs::create_dir_all(parent)?;
                    let mut p = parent.to_path_buf();
                    while p != tmp {
                        dirs.insert(p.clone());
                        if !p.pop() {
                            break;
                        }
                    }
                }
            }
            std::fs::write(&path, &f.data)?;
            let mode = if is_executable(f.mode) { 0o555 } else { 0o444 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        // Deepest first, so a parent is made read-only after its children.
        for d in dirs.iter().rev() {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o555))?;
        }
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555))?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_tree(&tmp);
        return Err(io("writing the code", e));
    }
    // The tree's files and directories reach the disk before its name
    // does (one filesystem flush, not one per file), then the name.
    let flushed = std::fs::File::open(&tmp).and_then(|d| Ok(rustix::fs::syncfs(&d)?));
    if let Err(e) = flushed {
        remove_tree(&tmp);
        return Err(io("flushing the code to disk", e));
    }
    match std::fs::rename(&tmp, &dest) {
        Ok(()) => {
            updraft_types::sync_dir(code_root).map_err(|e| io("flushing the code directory", e))?;
            Ok(dest)
        }
        // Another deploy of the same code won the race.
        Err(_) if dest.is_dir() => {
            remove_tree(&tmp);
            Ok(dest)
        }
        Err(e) => {
            remove_tree(&tmp);
            Err(io("renaming the code directory", e))
        }
    }
}

/// Removes a tree whose directories were made read-only.
pub(crate) fn remove_tree(path: &Path) {
    fn writable(p: &Path) {
        if let Ok(entries) = std::fs::read_dir(p) {
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    writable(&e.path());
                }
            }
        }
    }
    writable(path);
    let _ = std::fs::remove_dir_all(path);
}

/// Checks that the package has what its kind of runtime starts.
pub(crate) fn validate(runtime_kind: &str, archive: &CodeArchive) -> Result<(), CodeError> {
    match runtime_kind {
        KIND_BOOTSTRAP => {
            let Some(bootstrap) = archive.get("bootstrap") else {
                return Err(CodeError(
                    "the deployment package has no `bootstrap` at its root: a custom runtime \
                     (provided, provided.al2, provided.al2023) starts the executable file `bootstrap`"
                        .into(),
                ));
            };
            if !is_executable(bootstrap.mode) {
                return Err(CodeError(
                    "`bootstrap` is not executable: set its execute permission (chmod 755 bootstrap) \
                     before zipping"
                        .into(),
                ));
            }
            Ok(())
        }
        KIND_PYTHON => {
            if !archive.files.iter().any(|f| f.path.ends_with(".py")) {
                return Err(CodeError(
                    "the deployment package has no Python module (.py file) for the handler".into(),
                ));
            }
            Ok(())
        }
        KIND_NODE => {
            let module = |p: &str| p.ends_with(".js") || p.ends_with(".mjs") || p.ends_with(".cjs");
            if !archive.files.iter().any(|f| module(&f.path)) {
                return Err(CodeError(
                    "the deployment package has no JavaScript module (.js, .mjs or .cjs file) \
                     for the handler"
                        .into(),
                ));
            }
            Ok(())
        }
        other => Err(CodeError(format!("unknown code kind `{other}`"))),
    }
}
