//! SigV4 as S3 clients sign it, and the payload modes S3 accepts.
//!
//! S3 differs from the JSON/REST services ([`crate::verify`]) in three ways:
//!
//! ```text
//! canonical URI   the path as sent (encoded once by the client), no dot-segment
//!                 removal, no second encoding
//! payload hash    the literal x-amz-content-sha256 header (required when the
//!                 Authorization header signs); UNSIGNED-PAYLOAD when presigned
//! time            RequestTimeTooSkewed for header signatures; a presigned URL
//!                 is refused before its X-Amz-Date and after X-Amz-Expires
//! ```
//!
//! [`verify_s3`] checks the request head only (the body may be a 5 GiB
//! stream) and returns a [`Payload`] saying how the body is protected; the
//! S3 layer then streams the body through [`Payload::decode`], which checks
//! what the head could not (the body hash, aws-chunked chunk signatures,
//! trailing checksums) and yields the decoded bytes.
//!
//! - [`checksum`]: the `x-amz-checksum-*` algorithms and the slot that
//!   holds the checksum a trailer carried once it has been verified;
//! - [`chunked`]: the streaming decoder and [`PayloadError`];
//! - [`post`]: browser POST uploads signed with a policy.

pub mod checksum;
pub mod chunked;
pub mod post;
pub mod v2;

use std::time::SystemTime;

use percent_encoding::{percent_decode_str, utf8_percent_encode};

use crate::verify::{
    canonical_headers, canonical_query_candidates, check_head, Candidate, Head, Rules,
    SignedRequest, VerifiedIdentity, AMZ_DATE_FORMAT, STRICT, TERMINATOR,
};
use crate::AuthError;
pub use checksum::{ChecksumAlgorithm, ChecksumSlot, VerifiedChecksum};
pub use chunked::{DecodedBody, PayloadError};

/// The signing name of S3 in credential scopes.
pub const S3_SERVICE: &str = "s3";

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How a verified request's body is protected, and what decoding it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `x-amz-content-sha256` is the hex SHA-256 of the body: the body must
    /// hash to it (checked when the decoded stream ends).
    Signed { sha256_hex: String },
    /// `UNSIGNED-PAYLOAD` (and every presigned URL): the body is not covered.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed
    /// in a chain that starts at the request's signature.
    Streaming {
        chain: ChunkChain,
        /// `x-amz-decoded-content-length`: the object's size.
        decoded_length: u64,
    },
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: as `Streaming`, then
    /// trailing headers signed with `x-amz-trailer-signature`.
    StreamingTrailer {
        chain: ChunkChain,
        decoded_length: u64,
        /// The checksum `x-amz-trailer` announced, if any.
        trailer: Option<ChecksumAlgorithm>,
    },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without chunk
    /// signatures, ending with a trailing checksum (what current botocore
    /// and the aws CLI send for uploads).
    UnsignedTrailer {
        decoded_length: u64,
        trailer: Option<ChecksumAlgorithm>,
    },
}

impl Payload {
    /// The object's size a streaming upload declared, if it is one.
    pub fn decoded_length(&self) -> Option<u64> {
        match self {
            Payload::Signed { .. } | Payload::Unsigned => None,
            Payload::Streaming { decoded_length, .. }
            | Payload::StreamingTrailer { decoded_length, .. }
            | Payload::UnsignedTrailer { decoded_length, .. } => Some(*decoded_length),
        }
    }

    /// Whether the body is aws-chunked (its `Content-Encoding` then lists
    /// `aws-chunked`, which is not part of the stored object's encoding).
    pub fn is_aws_chunked(&self) -> bool {
        self.decoded_length().is_some()
    }

    /// The checksum a trailer will carry, as `x-amz-trailer` announced it.
    pub fn trailer(&self) -> Option<ChecksumAlgorithm> {
        match self {
            Payload::StreamingTrailer { trailer, .. }
            | Payload::UnsignedTrailer { trailer, .. } => *trailer,
            _ => None,
        }
    }
}

/// What verifying a chain of chunk signatures needs: the request's
/// signature (the seed), its signing key, scope and time.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkChain {
    /// The request's own signature, which the first chunk's signs after.
    pub seed_signature: String,
    /// `YYYYMMDD/region/s3/aws4_request`.
    pub scope: String,
    /// The request time, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    pub(crate) signing_key: Vec<u8>,
}

impl std::fmt::Debug for ChunkChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkChain")
            .field("seed_signature", &self.seed_signature)
            .field("scope", &self.scope)
            .field("amz_date", &self.amz_date)
            .finish_non_exhaustive()
    }
}

/// Verifies the head of an S3 request (header-signed or presigned) at time
/// `now`, finding the secret with `lookup(access_key_id, session_token)` as
/// [`crate::verify_with`] does. `req.body` is not used: the returned
/// [`Payload`] checks the body while [`Payload::decode`] streams it.
pub fn verify_s3<G>(
    req: &SignedRequest<'_>,
    now: SystemTime,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<(VerifiedIdentity, G, Payload), AuthError> {
    // The header is checked before the key lookup and the time: a client
    // that never sends it gets the error that names it.
    let presigned_hint = req.headers.get(http::header::AUTHORIZATION).is_none();
    let content_sha = match req.headers.get("x-amz-content-sha256") {
        Some(v) => Some(v.to_str().map_err(|_| AuthError::InvalidContentSha256)?),
        None if presigned_hint => None,
        None => return Err(AuthError::MissingContentSha256),
    };
    let Head {
        parts,
        secret,
        grant,
        presigned,
        query_pairs,
    } = check_head(req, S3_SERVICE, now, Rules::S3, lookup)?;
    let payload_hash = match (presigned, content_sha) {
        (true, _) => UNSIGNED_PAYLOAD,
        (false, Some(v)) => v,
        (false, None) => return Err(AuthError::MissingContentSha256),
    };
    let mode = PayloadMode::parse(payload_hash)?;

    let headers = canonical_headers(&parts.signed_headers, req);
    let signed_headers = parts.signed_headers.join(";");
    let amz_date = parts.time.format(AMZ_DATE_FORMAT).to_string();
    let scope = format!(
        "{}/{}/{}/{TERMINATOR}",
        parts.scope_date, parts.region, parts.service
    );
    let signed_at: SystemTime = parts.time.into();
    let signing_key =
        aws_sigv4::sign::v4::generate_signing_key(&secret, signed_at, &parts.region, S3_SERVICE)
            .as_ref()
            .to_vec();

    let candidate = Candidate {
        method: req.method,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash,
        amz_date: &amz_date,
        scope: &scope,
        signing_key: &signing_key,
        signature: &parts.signature,
    };
    let queries = canonical_query_candidates(&query_pairs, presigned);
    if !candidate.matches(&canonical_uri_candidates(req.path), &queries) {
        return Err(AuthError::InvalidSignature);
    }

    let chain = || ChunkChain {
        seed_signature: parts.signature.clone(),
        scope: scope.clone(),
        amz_date: amz_date.clone(),
        signing_key: signing_key.clone(),
    };
    let payload = match mode {
        PayloadMode::Sha256 => Payload::Signed {
            sha256_hex: payload_hash.to_ascii_lowercase(),
        },
        PayloadMode::Unsigned => Payload::Unsigned,
        PayloadMode::Streaming => Payload::Streaming {
            chain: chain(),
            decoded_length: decoded_length(req)?,
        },
        PayloadMode::StreamingTrailer => Payload::StreamingTrailer {
            chain: chain(),
            decoded_length: decoded_length(req)?,
            trailer: trailer(req)?,
        },
        PayloadMode::UnsignedTrailer => Payload::UnsignedTrailer {
            decoded_length: decoded_length(req)?,
            trailer: trailer(req)?,
        },
    };
    Ok((
        VerifiedIdentity {
            access_key_id: parts.access_key_id,
            region: parts.region,
            service: parts.service,
            signed_at,
            presigned,
        },
        grant,
        payload,
    ))
}

/// The kinds of `x-amz-content-sha256` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadMode {
    Sha256,
    Unsigned,
    Streaming,
    StreamingTrailer,
    UnsignedTrailer,
}

impl PayloadMode {
    fn parse(value: &str) -> Result<Self, AuthError> {
        Ok(match value {
            UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
            STREAMING_SIGNED => PayloadMode::Streaming,
            STREAMING_SIGNED_TRAILER => PayloadMode::StreamingTrailer,
            STREAMING_UNSIGNED_TRAILER => PayloadMode::UnsignedTrailer,
            v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => PayloadMode::Sha256,
            _ => return Err(AuthError::InvalidContentSha256),
        })
    }
}

fn decoded_length(req: &SignedRequest<'_>) -> Result<u64, AuthError> {
    let value = req
        .headers
        .get("x-amz-decoded-content-length")
        .ok_or(AuthError::MissingHeader("x-amz-decoded-content-length"))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            AuthError::InvalidArgument(format!(
                "x-amz-decoded-content-length must be a number, not '{}'.",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })
}

fn trailer(req: &SignedRequest<'_>) -> Result<Option<ChecksumAlgorithm>, AuthError> {
    let Some(value) = req.headers.get("x-amz-trailer") else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let name = text.trim();
    if name.is_empty() {
        return Ok(None);
    }
    ChecksumAlgorithm::from_header_name(name)
        .map(Some)
        .ok_or_else(|| {
            AuthError::InvalidArgument(format!(
                "The value specified in the x-amz-trailer header is not supported: '{name}'."
            ))
        })
}

/// The canonical URIs an S3 client may have signed, most likely first: the
/// path exactly as sent (botocore, the aws CLI and the SDKs encode the key
/// once and sign what they send), then the path with each segment decoded
/// and strictly re-encoded (for clients that send a character such as `!`
/// or `(` unencoded but sign it encoded, or use lowercase escapes). An
/// encoded slash (`%2F`) stays inside its segment in both.
fn canonical_uri_candidates(path: &str) -> Vec<String> {
    let raw = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let strict = raw
        .split('/')
        .map(|segment| {
            let decoded = percent_decode_str(segment).collect::<Vec<u8>>();
            let decoded = String::from_utf8_lossy(&decoded);
            utf8_percent_encode(&decoded, STRICT).to_string()
        })
        .collect::<Vec<_>>()
        .join("/");
    if strict == raw {
        vec![raw]
    } else {
        vec![raw, strict]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uri_keeps_the_path_as_sent_and_offers_a_strict_form() {
        assert_eq!(canonical_uri_candidates(""), vec!["/"]);
        assert_eq!(
            canonical_uri_candidates("/b/a%20b/./c"),
            vec!["/b/a%20b/./c"]
        );
        assert_eq!(
            canonical_uri_candidates("/b/a%2fb!"),
            vec!["/b/a%2fb!", "/b/a%2Fb%21"]
        );
    }

    #[test]
    fn payload_modes_are_read_from_the_header_value() {
        assert_eq!(
            PayloadMode::parse(&"A".repeat(64)).ok(),
            Some(PayloadMode::Sha256)
        );
        assert_eq!(
            PayloadMode::parse(STREAMING_UNSIGNED_TRAILER).ok(),
            Some(PayloadMode::UnsignedTrailer)
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
            Err(AuthError::InvalidContentSha256)
        );
        assert_eq!(
            PayloadMode::parse("abc"),
            Err(AuthError::InvalidContentSha256)
        );
    }
}
