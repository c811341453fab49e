//! Browser POST forms: the signature over the base64 policy, the policy's
//! expiration, and the form errors S3 answers.

use std::collections::HashMap;

use base64::Engine;
use updraft_auth::{post_policy_document, post_policy_expiration, verify_post_policy, AuthError};

use super::{amz_time, secs};

const KEY: &str = "AKIAUPDRAFTTEST00001";
const SECRET: &str = "testsecret0123456789testsecret0123456789";
const T: &str = "20261203T101500Z";

fn policy(expiration: &str) -> String {
    let doc = format!(
        r#"{{"expiration":"{expiration}","conditions":[{{"bucket":"photos"}},["starts-with","$key","user/"]]}}"#
    );
    base64::engine::general_purpose::STANDARD.encode(doc)
}

fn form(policy: &str, service: &str) -> HashMap<String, String> {
    let key = aws_sigv4::sign::v4::generate_signing_key(SECRET, amz_time(T), "eu-west-1", service);
    let signature = aws_sigv4::sign::v4::calculate_signature(key, policy.as_bytes());
    [
        ("key", "user/${filename}".to_string()),
        ("Policy", policy.to_string()),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".into()),
        (
            "X-Amz-Credential",
            format!("{KEY}/20261203/eu-west-1/{service}/aws4_request"),
        ),
        ("X-Amz-Date", T.into()),
        ("X-Amz-Signature", signature),
        ("x-amz-security-token", "tok".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn lookup(key: &str, token: Option<&str>) -> Result<(String, &'static str), AuthError> {
    match (key, token) {
        (KEY, Some("tok")) => Ok((SECRET.into(), "grant")),
        (KEY, _) => Err(AuthError::ExpiredToken),
        _ => Err(AuthError::UnrecognizedClient),
    }
}

#[test]
fn a_signed_policy_verifies_until_its_expiration() {
    let p = policy("2026-12-03T11:15:00.000Z");
    let fields = form(&p, "s3");
    let (identity, grant) = verify_post_policy(&fields, amz_time(T), lookup).unwrap();
    assert_eq!(grant, "grant");
    assert_eq!(identity.access_key_id, KEY);
    assert_eq!(identity.region, "eu-west-1");
    assert!(verify_post_policy(&fields, amz_time(T) + secs(3600), lookup).is_ok());
    let err = verify_post_policy(&fields, amz_time(T) + secs(3601), lookup).unwrap_err();
    assert_eq!(err, AuthError::PolicyExpired);
    assert_eq!(
        err.s3_message(),
        "Invalid according to Policy: Policy expired."
    );
    assert_eq!(
        post_policy_expiration(&p).unwrap(),
        amz_time(T) + secs(3600)
    );
    let doc = post_policy_document(&p).unwrap();
    assert_eq!(doc["conditions"][0]["bucket"], "photos");
}

#[test]
fn a_policy_signed_with_another_key_or_changed_is_refused() {
    let p = policy("2026-12-03T11:15:00Z");
    let mut fields = form(&p, "s3");
    fields.insert("Policy".into(), policy("2027-12-03T11:15:00Z"));
    let err = verify_post_policy(&fields, amz_time(T), lookup).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");

    let fields = form(&p, "s3");
    let err = verify_post_policy(&fields, amz_time(T), |_: &str, _: Option<&str>| {
        Ok(("another secret".to_string(), ()))
    })
    .unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);

    let err = verify_post_policy(&form(&p, "sqs"), amz_time(T), lookup).unwrap_err();
    assert!(matches!(err, AuthError::WrongService { .. }));
}

#[test]
fn missing_fields_and_bad_policies_are_named() {
    let p = policy("2026-12-03T11:15:00Z");
    for name in [
        "Policy",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-Date",
    ] {
        let mut fields = form(&p, "s3");
        fields.remove(name);
        let err = verify_post_policy(&fields, amz_time(T), lookup).unwrap_err();
        assert_eq!(err.s3_code(), "InvalidArgument", "{name}");
        assert!(
            err.to_string()
                .to_lowercase()
                .contains(&name.to_lowercase()),
            "{err}"
        );
    }
    let mut fields = form(&p, "s3");
    fields.remove("x-amz-security-token");
    assert_eq!(
        verify_post_policy(&fields, amz_time(T), lookup).unwrap_err(),
        AuthError::ExpiredToken
    );

    for bad in [
        "not base64!".to_string(),
        base64::engine::general_purpose::STANDARD.encode("[1,2]"),
        base64::engine::general_purpose::STANDARD.encode(r#"{"conditions":[]}"#),
        policy("tomorrow"),
    ] {
        let err = verify_post_policy(&form(&bad, "s3"), amz_time(T), lookup).unwrap_err();
        assert_eq!(err.s3_code(), "InvalidPolicyDocument", "{bad}");
        assert_eq!(err.s3_status(), 400);
    }
}
