//! Unpacking deployment packages safely.
//!
//! A package is a zip. Before anything else runs on it, every entry is
//! checked: no absolute paths or `..` (path traversal), no links, no more
//! than [`Limits::max_unzipped`] bytes in total — counted while
//! decompressing, not trusted from the archive's headers (zip bombs).

use std::io::Read;

use bytes::Bytes;
use updraft_types::{ArchiveFile, CodeArchive};

/// Size bounds for a deployment package (Lambda: 50 MB zipped, 250 MB
/// unzipped).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_zipped: usize,
    pub max_unzipped: u64,
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_zipped: updraft_api::validate::MAX_ZIP_BYTES,
            max_unzipped: updraft_api::validate::MAX_UNZIPPED_BYTES,
            max_files: 20_000,
        }
    }
}

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;

/// Unpacks and checks a zip; the error text says what is wrong.
pub fn unpack(zip_bytes: &[u8], limits: &Limits) -> Result<CodeArchive, String> {
    if zip_bytes.len() > limits.max_zipped {
        return Err(format!(
            "Unzipped size must be smaller than {} bytes; the zipped deployment package is {} bytes, over the {} byte limit",
            limits.max_unzipped,
            zip_bytes.len(),
            limits.max_zipped
        ));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| format!("Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"))?;
    if archive.len() > limits.max_files {
        return Err(format!(
            "The deployment package has {} entries, more than the limit of {}",
            archive.len(),
            limits.max_files
        ));
    }
    let mut total: u64 = 0;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("Could not unzip uploaded file: entry {i}: {e}"))?;
        let raw_name = entry.name().to_string();
        let Some(path) = entry.enclosed_name() else {
            return Err(format!(
                "The deployment package contains an unsafe path '{raw_name}' (absolute or with '..'); refusing path traversal"
            ));
        };
        if raw_name.split(['/', '\\']).any(|c| c == "..") {
            return Err(format!(
                "The deployment package contains an unsafe path '{raw_name}' (with '..'); refusing path traversal"
            ));
        }
        if entry.is_dir() {
            continue;
        }
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
            return Err(format!(
                "The deployment package contains a symbolic link '{raw_name}'; links are not supported"
            ));
        }
        if entry.size() > limits.max_unzipped - total {
            return Err(too_big(limits));
        }
        let mut data = Vec::with_capacity(entry.size().min(64 * 1024 * 1024) as usize);
        let budget = limits.max_unzipped - total;
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("Could not unzip uploaded file: '{raw_name}': {e}"))?;
        total += data.len() as u64;
        if total > limits.max_unzipped {
            return Err(too_big(limits));
        }
        // `enclosed_name` has refused root and parent components; `.` ones
        // (`./bootstrap`) are dropped, so paths are plain `a/b`.
        let path = path
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if path.is_empty() {
            return Err(format!(
                "The deployment package contains an entry without a file name ('{raw_name}')"
            ));
        }
        files.push(ArchiveFile {
            path,
            data: Bytes::from(data),
            mode,
        });
    }
    Ok(CodeArchive { files })
}

fn too_big(limits: &Limits) -> String {
    format!(
        "Unzipped size must be smaller than {} bytes",
        limits.max_unzipped
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_regular_files() {
        let z = zip_of(&[("a.wasm", b"\0asm"), ("dir/b.txt", b"hi")]);
        let a = unpack(&z, &Limits::default()).unwrap();
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.get("dir/b.txt").unwrap().data.as_ref(), b"hi");
    }

    #[test]
    fn refuses_traversal() {
        let z = zip_of(&[("../evil.wasm", b"x")]);
        let err = unpack(&z, &Limits::default()).unwrap_err();
        assert!(err.contains("path traversal"), "{err}");
        let z = zip_of(&[("/abs.wasm", b"x")]);
        assert!(unpack(&z, &Limits::default())
            .unwrap_err()
            .contains("unsafe path"));
    }

    #[test]
    fn refuses_bombs_by_actual_size() {
        let zeros = vec![0u8; 2 * 1024 * 1024];
        let z = zip_of(&[("a.bin", &zeros), ("b.bin", &zeros)]);
        assert!(z.len() < 64 * 1024, "compresses well");
        let limits = Limits {
            max_unzipped: 3 * 1024 * 1024,
            ..Limits::default()
        };
        let err = unpack(&z, &limits).unwrap_err();
        assert!(err.contains("Unzipped size must be smaller than"), "{err}");
    }

    #[test]
    fn refuses_garbage() {
        let err = unpack(b"not a zip", &Limits::default()).unwrap_err();
        assert!(err.contains("Could not unzip"), "{err}");
    }
}
