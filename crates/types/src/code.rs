//! A deployment package after it has been unpacked and checked.

use bytes::Bytes;

/// One regular file of a deployment package.
#[derive(Debug, Clone)]
pub struct ArchiveFile {
    /// Relative path with `/` separators; never absolute, never `..`.
    pub path: String,
    pub data: Bytes,
    /// Unix mode bits recorded in the archive, if any.
    pub mode: Option<u32>,
}

/// The files of a deployment package, validated against path traversal and
/// size bounds by whoever built it.
#[derive(Debug, Clone, Default)]
pub struct CodeArchive {
    pub files: Vec<ArchiveFile>,
}

impl CodeArchive {
    /// Files whose name ends with `suffix` (for example `.wasm`).
    pub fn files_with_suffix<'a>(
        &'a self,
        suffix: &'a str,
    ) -> impl Iterator<Item = &'a ArchiveFile> {
        self.files.iter().filter(move |f| f.path.ends_with(suffix))
    }

    pub fn get(&self, path: &str) -> Option<&ArchiveFile> {
        self.files.iter().find(|f| f.path == path)
    }
}
