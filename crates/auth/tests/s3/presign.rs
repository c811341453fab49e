//! URLs presigned and requests signed by `updraft_auth::sign` for the
//! service `s3`, checked by `verify_s3`, and the presigned query's limits.

use std::time::Duration;

use http::HeaderMap;
use updraft_auth::{presign, presign_get, sign, AuthError, Credentials, Payload};

use super::{amz_time, decode, secs, Received};

const T: &str = "20261203T101500Z";

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIAUPDRAFTTEST00001".into(),
        secret_access_key: "testsecret0123456789testsecret0123456789".into(),
    }
}

fn received(method: &str, url: &str) -> Received {
    let uri: http::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_string();
    let pq = uri.path_and_query().unwrap().as_str().to_string();
    Received::new(method, &authority, &pq, &[("host", &authority)])
}

fn verify(r: &Received, after: u64) -> Result<Payload, AuthError> {
    let c = creds();
    r.verify(
        &c.access_key_id,
        &c.secret_access_key,
        None,
        amz_time(T) + secs(after),
    )
    .map(|(_, payload)| payload)
}

const PATHS: [&str; 5] = [
    "/bucket/plain.txt",
    "/bucket/a%20b%2Bc/%C3%BC%252F~x",
    "/bucket/a//b/../c/./d",
    "/bucket/%21%24%26%27%28%29%2A",
    "/bucket",
];

#[test]
fn presigned_get_and_put_urls_verify_until_they_expire() {
    for path in PATHS {
        for method in ["GET", "PUT", "DELETE"] {
            let url = presign(
                method,
                &format!("http://127.0.0.1:9000{path}?versionId=v%2B1"),
                &creds(),
                "us-east-1",
                "s3",
                amz_time(T),
                Duration::from_secs(600),
            )
            .unwrap();
            let r = received(method, &url);
            assert_eq!(verify(&r, 600), Ok(Payload::Unsigned), "{method} {url}");
            assert_eq!(verify(&r, 601), Err(AuthError::RequestExpired), "{url}");
            // A presigned PUT accepts whatever body comes with it.
            let (body, _) = decode(Payload::Unsigned, vec![b"any".to_vec()]);
            assert_eq!(body.unwrap(), b"any");
            // Used for another method, it does not verify.
            let other = received(if method == "GET" { "PUT" } else { "GET" }, &url);
            assert_eq!(verify(&other, 0), Err(AuthError::InvalidSignature));
        }
    }
    let url = presign_get(
        "http://127.0.0.1:9000/bucket/k",
        &creds(),
        "us-east-1",
        "s3",
        amz_time(T),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(verify(&received("GET", &url), 1), Ok(Payload::Unsigned));
}

#[test]
fn header_signed_s3_requests_verify_with_the_body_hash() {
    for path in PATHS {
        let url = format!("http://127.0.0.1:9000{path}?tagging");
        let body = b"<Tagging/>";
        let headers = sign(
            "PUT",
            &url,
            &HeaderMap::new(),
            body,
            &creds(),
            "us-east-1",
            "s3",
            amz_time(T),
        )
        .unwrap();
        let mut r = received("PUT", &url);
        r.headers.extend(headers);
        let payload = verify(&r, 0).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (decoded, _) = decode(payload.clone(), vec![body.to_vec()]);
        assert_eq!(decoded.unwrap(), body);
        let (decoded, _) = decode(payload, vec![b"<Tagging />".to_vec()]);
        assert_eq!(decoded.unwrap_err().s3_code(), "XAmzContentSHA256Mismatch");
    }
}

fn with_query(url: &str, f: impl Fn(&str, &str) -> Option<String>) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let pairs: Vec<String> = query
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            f(k, v).map(|v| format!("{k}={v}"))
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[test]
fn presigned_query_errors_are_authorization_query_parameters_errors() {
    let url = presign(
        "GET",
        "http://127.0.0.1:9000/bucket/k",
        &creds(),
        "us-east-1",
        "s3",
        amz_time(T),
        Duration::from_secs(60),
    )
    .unwrap();
    let cases = [
        with_query(&url, |k, v| (k != "X-Amz-Expires").then(|| v.to_string())),
        with_query(&url, |k, v| {
            Some(if k == "X-Amz-Expires" {
                "604801".into()
            } else {
                v.to_string()
            })
        }),
        with_query(&url, |k, v| {
            Some(if k == "X-Amz-Expires" {
                "0".into()
            } else {
                v.to_string()
            })
        }),
        with_query(&url, |k, v| (k != "X-Amz-Signature").then(|| v.to_string())),
    ];
    for case in cases {
        let err = verify(&received("GET", &case), 0).unwrap_err();
        assert_eq!(err.s3_code(), "AuthorizationQueryParametersError", "{case}");
        assert_eq!(err.s3_status(), 400);
    }
    // The longest validity AWS allows is accepted.
    let week = presign(
        "GET",
        "http://127.0.0.1:9000/bucket/k",
        &creds(),
        "us-east-1",
        "s3",
        amz_time(T),
        Duration::from_secs(604_800),
    )
    .unwrap();
    assert!(verify(&received("GET", &week), 604_800).is_ok());
}

#[test]
fn a_credential_for_another_service_is_refused() {
    let url = presign(
        "GET",
        "http://127.0.0.1:9000/bucket/k",
        &creds(),
        "us-east-1",
        "lambda",
        amz_time(T),
        Duration::from_secs(60),
    )
    .unwrap();
    let err = verify(&received("GET", &url), 0).unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongService {
            expected: "s3".into()
        }
    );
}

#[test]
fn an_unknown_content_sha256_value_is_invalid_argument() {
    let url = "http://127.0.0.1:9000/bucket/k";
    let (signed, _) = updraft_auth::sign::sign_s3(
        "PUT",
        url,
        &HeaderMap::new(),
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        &creds(),
        "us-east-1",
        amz_time(T),
    )
    .unwrap();
    let mut r = received("PUT", url);
    r.headers.extend(signed);
    let err = verify(&r, 0).unwrap_err();
    assert_eq!(err, AuthError::InvalidContentSha256);
    assert_eq!(err.s3_code(), "InvalidArgument");
    assert_eq!(err.s3_status(), 400);
}

#[test]
fn a_streaming_upload_without_its_decoded_length_is_missing_a_header() {
    let url = "http://127.0.0.1:9000/bucket/k";
    let (signed, _) = updraft_auth::sign::sign_s3(
        "PUT",
        url,
        &HeaderMap::new(),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &creds(),
        "us-east-1",
        amz_time(T),
    )
    .unwrap();
    let mut r = received("PUT", url);
    r.headers.extend(signed);
    let err = verify(&r, 0).unwrap_err();
    assert_eq!(
        err,
        AuthError::MissingHeader("x-amz-decoded-content-length")
    );
    assert_eq!(err.s3_code(), "MissingSecurityHeader");
}
