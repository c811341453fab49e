//! Signing aws-chunked bodies as the SDKs stream them: each chunk's
//! signature chains from the previous one, starting at the request's
//! signature (from [`super::sign_s3`]); see [`crate::s3::chunked`] for the
//! framing. For the CLI's uploads and for tests.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::s3::ChecksumAlgorithm;
use crate::Credentials;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Signs the chunks and the trailer of one streaming upload, in order.
pub struct ChunkSigner {
    signing_key: Vec<u8>,
    amz_date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// A signer for the body of a request signed at `time` for `region`
    /// whose signature was `seed_signature`.
    pub fn new(creds: &Credentials, region: &str, time: SystemTime, seed_signature: &str) -> Self {
        let t: chrono::DateTime<chrono::Utc> = time.into();
        let signing_key = aws_sigv4::sign::v4::generate_signing_key(
            &creds.secret_access_key,
            time,
            region,
            crate::s3::S3_SERVICE,
        )
        .as_ref()
        .to_vec();
        ChunkSigner {
            signing_key,
            amz_date: t.format("%Y%m%dT%H%M%SZ").to_string(),
            scope: format!("{}/{region}/s3/aws4_request", t.format("%Y%m%d")),
            previous: seed_signature.to_string(),
        }
    }

    /// The signature of the next chunk (the final one has empty `data`).
    pub fn sign_chunk(&mut self, data: &[u8]) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(Sha256::digest(data))
        );
        self.previous =
            aws_sigv4::sign::v4::calculate_signature(&self.signing_key, string_to_sign.as_bytes());
        self.previous.clone()
    }

    /// The `x-amz-trailer-signature` of the trailing headers, after the
    /// final chunk.
    pub fn sign_trailer(&mut self, trailers: &[(&str, &str)]) -> String {
        let canonical: String = trailers
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        self.previous =
            aws_sigv4::sign::v4::calculate_signature(&self.signing_key, string_to_sign.as_bytes());
        self.previous.clone()
    }
}

/// `data` framed as an aws-chunked body in chunks of `chunk_size` bytes:
/// with chunk signatures when `signer` is given, and with a trailing
/// `checksum` (signed with `x-amz-trailer-signature` when `signer` is
/// given) when one is asked for.
pub fn encode_aws_chunked(
    data: &[u8],
    chunk_size: usize,
    mut signer: Option<&mut ChunkSigner>,
    checksum: Option<ChecksumAlgorithm>,
) -> Vec<u8> {
    let chunk_size = chunk_size.max(1);
    let mut out = Vec::with_capacity(data.len() + data.len() / chunk_size * 100 + 300);
    let pieces = data.chunks(chunk_size).chain(std::iter::once(&[][..]));
    for piece in pieces {
        out.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
        if let Some(signer) = signer.as_deref_mut() {
            out.extend_from_slice(b";chunk-signature=");
            out.extend_from_slice(signer.sign_chunk(piece).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if !piece.is_empty() {
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(algorithm) = checksum {
        let value = algorithm.checksum(data);
        let name = algorithm.header_name();
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        if let Some(signer) = signer {
            let signature = signer.sign_trailer(&[(name, &value)]);
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
