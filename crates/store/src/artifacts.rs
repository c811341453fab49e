//! Content-addressed deployment packages on disk.
//!
//! Each package is stored once, under the lowercase hex SHA-256 of its bytes:
//!
//! ```text
//! <dir>/
//!   3f/
//!     3fa9...c1      <- the package whose SHA-256 is 3fa9...c1
//!     .tmpXXXXXX     <- a write in progress (or left by a crash)
//! ```
//!
//! Invariants:
//! - a file named `<hex>` always holds complete bytes whose SHA-256 is
//!   `<hex>`: writes go to a temporary file in the same directory, are
//!   fsynced, then renamed into place, and the directory is fsynced so the
//!   rename survives a crash;
//! - names given by callers are checked to be 64 lowercase hex digits before
//!   any path is built from them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Deployment packages on disk, addressed by their SHA-256.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
}

impl ArtifactStore {
    /// Opens (creating it if needed) the store rooted at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(ArtifactStore { dir })
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores `bytes` and returns their lowercase hex SHA-256. Storing the
    /// same bytes again is a no-op. The package is durable on return.
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let hex = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&hex)?;
        if path.is_file() {
            return Ok(hex);
        }
        let shard = path
            .parent()
            .expect("artifact paths have a shard directory");
        fs::create_dir_all(shard)?;

        let mut tmp = tempfile::NamedTempFile::new_in(shard)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        // A concurrent put of the same bytes may have won the race; renaming
        // over its file replaces identical content, so that is harmless.
        tmp.persist(&path).map_err(|e| e.error)?;
        updraft_types::sync_dir(shard)?;
        Ok(hex)
    }

    /// The package with this SHA-256, if stored. `InvalidInput` if
    /// `sha256_hex` is not 64 lowercase hex digits.
    pub fn get(&self, sha256_hex: &str) -> io::Result<Option<Bytes>> {
        match fs::read(self.path_of(sha256_hex)?) {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the package with this SHA-256 is stored. `InvalidInput` if
    /// `sha256_hex` is not 64 lowercase hex digits.
    pub fn contains(&self, sha256_hex: &str) -> io::Result<bool> {
        Ok(self.path_of(sha256_hex)?.is_file())
    }

    /// Deletes the package with this SHA-256; returns whether it was stored.
    /// `InvalidInput` if `sha256_hex` is not 64 lowercase hex digits.
    pub fn remove(&self, sha256_hex: &str) -> io::Result<bool> {
        let path = self.path_of(sha256_hex)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                updraft_types::sync_dir(
                    path.parent()
                        .expect("artifact paths have a shard directory"),
                )?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `dir/<first two hex>/<hex>`, after checking that `hex` is a SHA-256.
    fn path_of(&self, hex: &str) -> io::Result<PathBuf> {
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a lowercase hex SHA-256: {hex:?}"),
            ));
        }
        Ok(self.dir.join(&hex[..2]).join(hex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn store() -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path().join("artifacts")).unwrap();
        (dir, store)
    }

    #[test]
    fn put_stores_under_the_sha256_and_get_returns_the_bytes() {
        let (_dir, store) = store();
        let hex = store.put(b"hello").unwrap();
        assert_eq!(hex, HELLO_SHA256);
        let on_disk = store.dir().join(&hex[..2]).join(&hex);
        assert_eq!(fs::read(on_disk).unwrap(), b"hello");
        assert_eq!(store.get(&hex).unwrap().as_deref(), Some(&b"hello"[..]));
        assert!(store.contains(&hex).unwrap());
    }

    #[test]
    fn put_is_idempotent_and_leaves_no_temporary_files() {
        let (_dir, store) = store();
        let first = store.put(b"hello").unwrap();
        let second = store.put(b"hello").unwrap();
        assert_eq!(first, second);
        let shard: Vec<_> = fs::read_dir(store.dir().join(&first[..2]))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(shard, vec![std::ffi::OsString::from(&first)]);
    }

    #[test]
    fn empty_packages_are_stored_too() {
        let (_dir, store) = store();
        let hex = store.put(b"").unwrap();
        assert_eq!(store.get(&hex).unwrap().as_deref(), Some(&b""[..]));
    }

    #[test]
    fn missing_packages_are_none() {
        let (_dir, store) = store();
        assert_eq!(store.get(HELLO_SHA256).unwrap(), None);
        assert!(!store.contains(HELLO_SHA256).unwrap());
        assert!(!store.remove(HELLO_SHA256).unwrap());
    }

    #[test]
    fn remove_deletes_the_package() {
        let (_dir, store) = store();
        let hex = store.put(b"hello").unwrap();
        let other = store.put(b"other").unwrap();
        assert!(store.remove(&hex).unwrap());
        assert_eq!(store.get(&hex).unwrap(), None);
        assert!(!store.remove(&hex).unwrap());
        assert!(store.contains(&other).unwrap());
    }

    #[test]
    fn names_that_are_not_a_sha256_are_rejected() {
        let (_dir, store) = store();
        store.put(b"hello").unwrap();
        let bad = [
            "",
            "2c",
            "../../../../etc/passwd",
            &HELLO_SHA256.to_uppercase(),
            &HELLO_SHA256[..63],
            &format!("{HELLO_SHA256}0"),
            &format!("{}/{}", &HELLO_SHA256[..2], &HELLO_SHA256[3..]),
            &format!("{}g", &HELLO_SHA256[..63]),
        ];
        for name in bad {
            for err in [
                store.get(name).map(|_| ()),
                store.contains(name).map(|_| ()),
                store.remove(name).map(|_| ()),
            ] {
                let err = err.expect_err(name);
                assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name}");
            }
        }
        assert!(store.contains(HELLO_SHA256).unwrap());
    }

    #[test]
    fn a_reopened_store_sees_earlier_packages() {
        let (_dir, store) = store();
        let hex = store.put(b"hello").unwrap();
        let reopened = ArtifactStore::open(store.dir()).unwrap();
        assert_eq!(reopened.get(&hex).unwrap().as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn concurrent_puts_of_the_same_bytes_agree() {
        let (_dir, store) = store();
        let data = vec![7u8; 1 << 16];
        let hexes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| store.put(&data).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(hexes.iter().all(|h| h == &hexes[0]));
        assert_eq!(store.get(&hexes[0]).unwrap().as_deref(), Some(&data[..]));
    }
}
