//! Who may call updraft, and how a request proves it.
//!
//! - [`credentials`]: the access key pair the server generates on first
//!   start, kept in an AWS shared-credentials file (`[default]` profile), so
//!   the aws CLI, boto3 and the updraft CLI all read the same file.
//! - [`verify`]: AWS Signature Version 4 verification of incoming requests,
//!   in the `Authorization` header or in a presigned query string.
//! - [`s3`]: SigV4 as S3 signs it ([`verify_s3`]), the payload modes of S3
//!   uploads decoded as a stream ([`Payload::decode`]: signed hash,
//!   `UNSIGNED-PAYLOAD`, aws-chunked with chunk signatures and trailing
//!   checksums), and browser POST policies ([`verify_post_policy`]).
//! - [`mod@sign`]: SigV4 signing for updraft's own CLI and tests, done by
//!   `aws-sigv4` (S3's rules for the service `s3`).
//!
//! For the JSON/REST services the verifier follows the canonical-request
//! rules the real clients sign with (botocore and the Rust SDK's `aws-sigv4`
//! with default settings); [`s3`] describes where S3 differs:
//!
//! ```text
//! METHOD \n
//! canonical URI      path as received, dot segments removed, URI-encoded again
//! canonical query    pairs decoded, re-encoded, sorted by name then value
//! canonical headers  name:value per SignedHeaders entry, values trimmed
//! signed headers     the SignedHeaders list as sent (must contain host)
//! payload hash       hex SHA-256 of the body, computed here
//! ```
//!
//! Nothing in this crate reads the environment: the binary decides where the
//! credentials file lives and hands the keys to [`Verifier::new`].

pub mod credentials;
mod error;
pub mod s3;
pub mod sign;
pub mod verify;

pub use credentials::{load_or_create, read_profile, Credentials};
pub use error::AuthError;
pub use s3::post::{post_policy_document, post_policy_expiration, verify_post_policy};
pub use s3::{
    verify_s3, ChecksumAlgorithm, ChecksumSlot, ChunkChain, DecodedBody, Payload, PayloadError,
    VerifiedChecksum,
};
pub use sign::{presign, presign_get, sign, sign_s3, SignError};
pub use verify::{
    check_request_head, session_token, verify_with, SignedRequest, VerifiedIdentity, Verifier,
    MAX_CLOCK_SKEW,
};
