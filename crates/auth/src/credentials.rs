//! The server's access key pair, kept in an AWS shared-credentials file.
//!
//! The file is the one format every AWS client already reads:
//!
//! ```text
//! [default]
//! aws_access_key_id = AKIA...
//! aws_secret_access_key = ...
//! ```
//!
//! It is created once, atomically (a temporary file with mode 0600 in the
//! same directory, then a rename that never replaces an existing file), so
//! two processes starting at the same moment agree on one key pair.

use std::fmt;
use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rand::seq::IndexedRandom;

/// Length of a generated access key id (as AWS's: `AKIA` + 16).
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// Length of a generated secret access key (as AWS's).
pub const SECRET_ACCESS_KEY_LEN: usize = 40;

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

impl Credentials {
    /// A fresh key pair from the thread-local CSPRNG (ChaCha, seeded by the OS).
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| *alphabet.choose(&mut rng).expect("alphabet is not empty") as char)
                .collect()
        };
        let access_key_id = format!("AKIA{}", pick(KEY_ID_ALPHABET, ACCESS_KEY_ID_LEN - 4));
        let secret_access_key = pick(SECRET_ALPHABET, SECRET_ACCESS_KEY_LEN);
        Credentials {
            access_key_id,
            secret_access_key,
        }
    }

    /// The shared-credentials file text for this pair under `[profile]`.
    pub fn to_file_text(&self, profile: &str) -> String {
        format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.access_key_id, self.secret_access_key
        )
    }
}

/// Reads the `[default]` profile of `path`, or creates the file with a new
/// key pair if it does not exist. Returns the pair and whether it was created.
///
/// The parent directory must exist. A file created here has mode 0600 from
/// the moment it appears under its name.
pub fn load_or_create(path: &Path) -> io::Result<(Credentials, bool)> {
    match read_profile(path, "default") {
        Ok(creds) => return Ok((creds, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !path.exists() => {}
        Err(e) => return Err(e),
    }
    let creds = Credentials::generate();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".credentials.")
        .permissions(Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(creds.to_file_text("default").as_bytes())?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            // Make the new name durable too.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok((creds, true))
        }
        // Another process created it first: use theirs.
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            Ok((read_profile(path, "default")?, false))
        }
        Err(e) => Err(e.error),
    }
}

/// Reads one profile of a shared-credentials file. `[name]` and
/// `[profile name]` headers are both accepted; `#` and `;` start comments.
pub fn read_profile(path: &Path, profile: &str) -> io::Result<Credentials> {
    let text = fs::read_to_string(path)?;
    parse_profile(&text, profile).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "profile [{profile}] with aws_access_key_id and aws_secret_access_key not found in {}",
                path.display()
            ),
        )
    })
}

fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let mut key_id = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let header = header.trim();
            let name = header.strip_prefix("profile ").map_or(header, str::trim);
            in_profile = name == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => key_id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    match (key_id, secret) {
        (Some(access_key_id), Some(secret_access_key))
            if !access_key_id.is_empty() && !secret_access_key.is_empty() =>
        {
            Some(Credentials {
                access_key_id,
                secret_access_key,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_aws_shape() {
        let c = Credentials::generate();
        assert_eq!(c.access_key_id.len(), 20);
        assert!(c.access_key_id.starts_with("AKIA"));
        assert!(c
            .access_key_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(c.secret_access_key.len(), 40);
        assert_ne!(c, Credentials::generate());
        assert!(!format!("{c:?}").contains(&c.secret_access_key));
    }

    #[test]
    fn creates_file_with_mode_0600_then_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                first.access_key_id, first.secret_access_key
            )
        );

        let (second, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        assert_eq!(read_profile(&path, "default").unwrap(), first);
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn reads_named_profiles_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(
            &path,
            "# comment\n[default]\naws_access_key_id=A\naws_secret_access_key=B\n\n\
             [profile dev]\n aws_access_key_id = C \n; note\naws_secret_access_key = D\nregion = x\n",
        )
        .unwrap();
        let dev = read_profile(&path, "dev").unwrap();
        assert_eq!(
            (dev.access_key_id.as_str(), dev.secret_access_key.as_str()),
            ("C", "D")
        );
        let def = read_profile(&path, "default").unwrap();
        assert_eq!(def.access_key_id, "A");
        let err = read_profile(&path, "prod").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("[prod]"));
    }

    #[test]
    fn an_existing_file_without_the_default_profile_is_an_error_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(
            &path,
            "[other]\naws_access_key_id=A\naws_secret_access_key=B\n",
        )
        .unwrap();
        assert!(load_or_create(&path).is_err());
        assert!(fs::read_to_string(&path).unwrap().contains("[other]"));
    }
}
