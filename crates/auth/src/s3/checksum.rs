//! The `x-amz-checksum-*` algorithms a trailer may carry, computed over the
//! decoded bytes as they stream, and the slot in which the decoder leaves
//! the checksum it verified for the S3 layer to store.
//!
//! Values are the big-endian digest in standard base64, as S3 sends them
//! (`x-amz-checksum-crc32c: sOO8/Q==`).

use std::sync::{Arc, OnceLock};

use base64::Engine;
use crc_fast::CrcAlgorithm;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A checksum algorithm S3 accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The name S3 uses in `x-amz-checksum-algorithm` and responses
    /// (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) that carries it, e.g. `x-amz-checksum-crc32c`.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm a header name stands for (case-insensitive).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The algorithm an `x-amz-checksum-algorithm` value names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    /// A hasher for this algorithm.
    pub fn hasher(self) -> ChecksumHasher {
        ChecksumHasher(match self {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => {
                State::Crc32c(crc_fast::Digest::new(CrcAlgorithm::Crc32Iscsi))
            }
            ChecksumAlgorithm::Crc64Nvme => {
                State::Crc64Nvme(crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme))
            }
            ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(Sha256::new()),
        })
    }

    /// The base64 checksum of `data` (for whole bodies and tests).
    pub fn checksum(self, data: &[u8]) -> String {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish_base64()
    }
}

impl std::fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A running checksum over bytes fed in pieces.
pub struct ChecksumHasher(State);

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(crc_fast::Digest),
    Crc64Nvme(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl std::fmt::Debug for ChecksumHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChecksumHasher")
            .field(&self.algorithm())
            .finish()
    }
}

impl ChecksumHasher {
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.0 {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Crc32(h) => h.update(data),
            State::Crc32c(h) => h.update(data),
            State::Crc64Nvme(h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The digest, big-endian, in standard base64.
    pub fn finish_base64(self) -> String {
        let bytes: Vec<u8> = match self.0 {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            // A 32-bit CRC in the low half of crc-fast's u64.
            State::Crc32c(h) => (h.finalize() as u32).to_be_bytes().to_vec(),
            State::Crc64Nvme(h) => h.finalize().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// A checksum that a trailer carried and that matched the decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedChecksum {
    pub algorithm: ChecksumAlgorithm,
    /// Standard base64 of the big-endian digest, as S3 returns it.
    pub value: String,
}

/// Where a decoded body leaves its [`VerifiedChecksum`]: filled once, when
/// the stream has ended without an error after a checksum trailer, so it is
/// readable after the stream ends (clones share the slot).
#[derive(Debug, Clone, Default)]
pub struct ChecksumSlot(Arc<OnceLock<VerifiedChecksum>>);

impl ChecksumSlot {
    /// The verified checksum, once the stream has ended successfully with a
    /// checksum trailer; `None` before, and for bodies without one.
    pub fn get(&self) -> Option<VerifiedChecksum> {
        self.0.get().cloned()
    }

    pub(crate) fn set(&self, checksum: VerifiedChecksum) {
        // Filled once per body: a second value cannot occur.
        let _ = self.0.set(checksum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check values of the catalogue ("123456789") and S3's documented
    /// CRC32C of the chunked-upload example (65,536 + 1,024 bytes of `a`).
    #[test]
    fn algorithms_match_their_reference_values() {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let check = b"123456789";
        assert_eq!(
            ChecksumAlgorithm::Crc32.checksum(check),
            b64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            ChecksumAlgorithm::Crc32c.checksum(check),
            b64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            ChecksumAlgorithm::Crc64Nvme.checksum(check),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
        assert_eq!(
            ChecksumAlgorithm::Sha1.checksum(b"abc"),
            b64(&hex::decode("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap_or_default())
        );
        assert_eq!(
            ChecksumAlgorithm::Crc32c.checksum(&vec![b'a'; 66560]),
            "sOO8/Q=="
        );
    }

    #[test]
    fn pieces_give_the_same_checksum_as_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for algorithm in ChecksumAlgorithm::ALL {
            let mut hasher = algorithm.hasher();
            for piece in data.chunks(333) {
                hasher.update(piece);
            }
            assert_eq!(hasher.finish_base64(), algorithm.checksum(&data));
        }
    }

    #[test]
    fn names_round_trip() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(algorithm.header_name()),
                Some(algorithm)
            );
            assert_eq!(
                ChecksumAlgorithm::from_name(algorithm.name()),
                Some(algorithm)
            );
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
    }
}
