//! Requests recorded from botocore by `tests/vectors/s3_botocore.py`: keys
//! with spaces, `+`, `%2F`, unicode, dot segments and reserved characters,
//! queries, virtual-hosted addressing, session tokens, aws-chunked uploads
//! with trailing checksums (what botocore sends over HTTPS), presigned GET
//! and PUT URLs and a POST form.

use std::collections::HashMap;

use base64::Engine;
use updraft_auth::{verify_post_policy, AuthError, Payload};

use super::{amz_time, decode, secs, split, Received};

struct Recorded {
    name: String,
    received: Received,
    body: Vec<u8>,
    token: Option<String>,
    amz_date: String,
    expect: String,
}

fn vectors() -> (serde_json::Value, Vec<Recorded>) {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../vectors/s3_botocore.json")).unwrap();
    let requests = doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            let mut headers: Vec<(String, String)> = r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
                .collect();
            // The HTTP client adds Host from the URL.
            headers.push(("host".into(), s("authority")));
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let query = s("query");
            let path_and_query = if query.is_empty() {
                s("path")
            } else {
                format!("{}?{query}", s("path"))
            };
            Recorded {
                name: s("name"),
                received: Received::new(&s("method"), &s("authority"), &path_and_query, &headers),
                body: base64::engine::general_purpose::STANDARD
                    .decode(s("body_b64"))
                    .unwrap(),
                token: r["token"].as_str().map(str::to_string),
                amz_date: s("amz_date"),
                expect: s("expect"),
            }
        })
        .collect();
    (doc, requests)
}

fn keys(doc: &serde_json::Value) -> (String, String) {
    (
        doc["access_key"].as_str().unwrap().into(),
        doc["secret_key"].as_str().unwrap().into(),
    )
}

#[test]
fn every_recorded_request_verifies_and_its_body_decodes() {
    let (doc, requests) = vectors();
    let (key, secret) = keys(&doc);
    assert!(requests.len() > 30);
    for r in &requests {
        let now = amz_time(&r.amz_date) + secs(30);
        let (identity, payload) = r
            .received
            .verify(&key, &secret, r.token.as_deref(), now)
            .unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert_eq!(identity.access_key_id, key);
        assert_eq!(identity.presigned, r.expect == "unsigned", "{}", r.name);
        match (r.expect.as_str(), &payload) {
            ("signed", Payload::Signed { .. }) | ("unsigned", Payload::Unsigned) => {
                let (decoded, _) = decode(payload.clone(), split(&r.body, &[5, 1, 300]));
                assert_eq!(decoded.unwrap(), r.body, "{}", r.name);
            }
            ("unsigned-trailer", Payload::UnsignedTrailer { trailer, .. }) => {
                let algorithm = trailer.unwrap_or_else(|| panic!("{}: no x-amz-trailer", r.name));
                let (decoded, slot) = decode(payload.clone(), split(&r.body, &[1, 2, 4093]));
                let decoded = decoded.unwrap_or_else(|e| panic!("{}: {e}", r.name));
                assert_eq!(Some(decoded.len() as u64), payload.decoded_length());
                let checksum = slot.get().unwrap();
                assert_eq!(checksum.algorithm, algorithm);
                assert_eq!(checksum.value, algorithm.checksum(&decoded));
            }
            (expect, payload) => panic!("{}: expected {expect}, got {payload:?}", r.name),
        }
    }
}

#[test]
fn recorded_requests_fail_for_another_key_path_or_secret() {
    let (doc, requests) = vectors();
    let (key, secret) = keys(&doc);
    for r in &requests {
        let now = amz_time(&r.amz_date);
        let err = r
            .received
            .verify(&key, "not-the-secret", r.token.as_deref(), now)
            .unwrap_err();
        assert_eq!(err, AuthError::InvalidSignature, "{}", r.name);

        let mut moved = Received::new(
            &r.received.method,
            &r.received.authority,
            &format!("{}x?{}", r.received.path, r.received.query),
            &[],
        );
        moved.headers = r.received.headers.clone();
        let err = moved
            .verify(&key, &secret, r.token.as_deref(), now)
            .unwrap_err();
        assert_eq!(err, AuthError::InvalidSignature, "{}", r.name);
    }
}

#[test]
fn a_changed_trailing_checksum_is_bad_digest() {
    let (doc, requests) = vectors();
    let (key, secret) = keys(&doc);
    let r = requests
        .iter()
        .find(|r| r.expect == "unsigned-trailer")
        .unwrap();
    let (_, payload) = r
        .received
        .verify(&key, &secret, None, amz_time(&r.amz_date))
        .unwrap();
    // Flip one data byte: the unsigned trailer's checksum no longer matches.
    let mut body = r.body.clone();
    let at = body.iter().position(|&b| b == b'\n').unwrap() + 1;
    body[at] ^= 1;
    let (decoded, slot) = decode(payload, vec![body]);
    let err = decoded.unwrap_err();
    assert_eq!(err.s3_code(), "BadDigest");
    assert_eq!(err.status(), 400);
    assert_eq!(slot.get(), None);
}

#[test]
fn presigned_urls_expire_after_their_expires_seconds() {
    let (doc, requests) = vectors();
    let (key, secret) = keys(&doc);
    for r in requests.iter().filter(|r| r.expect == "unsigned") {
        let t = amz_time(&r.amz_date);
        r.received
            .verify(&key, &secret, r.token.as_deref(), t + secs(3600))
            .unwrap();
        let err = r
            .received
            .verify(&key, &secret, r.token.as_deref(), t + secs(3601))
            .unwrap_err();
        assert_eq!(err, AuthError::RequestExpired, "{}", r.name);
    }
}

#[test]
fn a_presigned_url_with_a_session_token_hands_it_to_the_lookup() {
    let (doc, requests) = vectors();
    let (key, secret) = keys(&doc);
    let r = requests
        .iter()
        .find(|r| r.expect == "unsigned" && r.token.is_some())
        .unwrap();
    let t = amz_time(&r.amz_date);
    // The lookup refuses a token other than the one it issued.
    let err = r
        .received
        .verify(&key, &secret, Some("another-token"), t)
        .unwrap_err();
    assert_eq!(err, AuthError::ExpiredToken);
    assert_eq!(err.s3_code(), "ExpiredToken");
}

#[test]
fn the_recorded_post_form_verifies_until_its_policy_expires() {
    let (doc, _) = vectors();
    let (key, secret) = keys(&doc);
    let fields: HashMap<String, String> = doc["post"]["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let lookup = |k: &str, _: Option<&str>| {
        if k == key {
            Ok((secret.clone(), 7))
        } else {
            Err(AuthError::UnrecognizedClient)
        }
    };
    let t = amz_time(fields.get("x-amz-date").unwrap());
    let (identity, grant) = verify_post_policy(&fields, t, lookup).unwrap();
    assert_eq!((identity.access_key_id.as_str(), grant), (key.as_str(), 7));

    let err = verify_post_policy(&fields, t + secs(3601), lookup).unwrap_err();
    assert_eq!(err, AuthError::PolicyExpired);
    assert_eq!(err.s3_code(), "AccessDenied");

    // Upper-case field names are the same fields.
    let upper: HashMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
        .collect();
    verify_post_policy(&upper, t, lookup).unwrap();

    let mut tampered = fields.clone();
    let policy = tampered.get_mut("policy").unwrap();
    policy.insert(0, ' ');
    let err = verify_post_policy(&tampered, t, lookup).unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);
}
