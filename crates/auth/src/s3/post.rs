//! Browser POST uploads: the form carries a base64 policy document and a
//! SigV4 signature over that base64 text, made with the signing key of the
//! scope in `x-amz-credential`.
//!
//! [`verify_post_policy`] checks the signature and the policy's
//! `expiration`; the policy's `conditions` (bucket, key prefix, content
//! length range, ...) concern the upload itself and are the S3 layer's to
//! check against the form, with [`post_policy_document`] to read them.

use std::collections::HashMap;
use std::time::SystemTime;

use base64::Engine;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::verify::{parse_amz_date, parse_credential, VerifiedIdentity, ALGORITHM};
use crate::AuthError;

use super::S3_SERVICE;

/// Verifies a POST upload's form `fields` (names case-insensitive:
/// `policy`, `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
/// `x-amz-signature`, `x-amz-security-token`) at time `now`, finding the
/// secret with `lookup(access_key_id, session_token)`. The policy must not
/// have expired. Returns who signed and the lookup's grant.
pub fn verify_post_policy<G>(
    fields: &HashMap<String, String>,
    now: SystemTime,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<(VerifiedIdentity, G), AuthError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let required = |name: &'static str| {
        field(name).ok_or_else(|| {
            AuthError::InvalidArgument(format!("Bucket POST must contain a field named '{name}'."))
        })
    };
    let policy = required("policy")?;
    let algorithm = required("x-amz-algorithm")?;
    if algorithm != ALGORITHM {
        return Err(AuthError::InvalidArgument(format!(
            "Unsupported x-amz-algorithm '{algorithm}': only '{ALGORITHM}' is supported."
        )));
    }
    let credential = required("x-amz-credential")?;
    let date = required("x-amz-date")?;
    let signature = required("x-amz-signature")?;
    let (access_key_id, scope_date, region, service) =
        parse_credential(credential).map_err(|e| AuthError::InvalidArgument(e.to_string()))?;
    if service != S3_SERVICE {
        return Err(AuthError::WrongService {
            expected: S3_SERVICE.to_string(),
        });
    }
    let time = parse_amz_date(date).map_err(|e| AuthError::InvalidArgument(e.to_string()))?;
    if time.format("%Y%m%d").to_string() != scope_date {
        return Err(AuthError::InvalidArgument(format!(
            "The date of x-amz-credential ('{scope_date}') is not the date of x-amz-date ('{date}')."
        )));
    }
    let (secret, grant) = lookup(&access_key_id, field("x-amz-security-token"))?;
    let signed_at: SystemTime = time.into();
    let key = aws_sigv4::sign::v4::generate_signing_key(&secret, signed_at, &region, S3_SERVICE);
    let expected = aws_sigv4::sign::v4::calculate_signature(key, policy.as_bytes());
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(AuthError::InvalidSignature);
    }
    if post_policy_expiration(policy)? < now {
        return Err(AuthError::PolicyExpired);
    }
    Ok((
        VerifiedIdentity {
            access_key_id,
            region,
            service,
            signed_at,
            presigned: false,
        },
        grant,
    ))
}

/// The policy document of a POST form's base64 `policy` field, as JSON.
pub fn post_policy_document(policy_base64: &str) -> Result<serde_json::Value, AuthError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(policy_base64.trim())
        .map_err(|_| AuthError::InvalidPolicy("Invalid Policy: Invalid Base64 Encoding.".into()))?;
    let document: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| AuthError::InvalidPolicy(format!("Invalid Policy: Invalid JSON ({e}).")))?;
    if !document.is_object() {
        return Err(AuthError::InvalidPolicy(
            "Invalid Policy: the policy must be a JSON object.".into(),
        ));
    }
    Ok(document)
}

/// The `expiration` of a POST policy (`2026-12-30T12:00:00.000Z`); a policy
/// without one, or with one that is not an ISO 8601 time, is invalid.
pub fn post_policy_expiration(policy_base64: &str) -> Result<SystemTime, AuthError> {
    let document = post_policy_document(policy_base64)?;
    let text = document
        .get("expiration")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            AuthError::InvalidPolicy("Invalid Policy: Policy missing expiration.".into())
        })?;
    let expiration: DateTime<Utc> = DateTime::parse_from_rfc3339(text)
        .map_err(|_| {
            AuthError::InvalidPolicy(format!(
                "Invalid Policy: Invalid 'expiration' value: '{text}'."
            ))
        })?
        .with_timezone(&Utc);
    Ok(expiration.into())
}
