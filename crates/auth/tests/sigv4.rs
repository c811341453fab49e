//! Requests signed by real signers, checked by the verifier.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use updraft_auth::{sign, AuthError, Credentials, SignedRequest, Verifier};

/// 2026-11-26T10:15:00Z
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_688_100)
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIAUPDRAFTTEST00001".into(),
        secret_access_key: "testsecret0123456789testsecret0123456789".into(),
    }
}

fn verifier() -> Verifier {
    Verifier::new(vec![
        Credentials {
            access_key_id: "AKIAOTHERKEY00000000".into(),
            secret_access_key: "other".into(),
        },
        creds(),
    ])
}

/// A request as a server would see it after `aws-sigv4` signed it.
struct Received {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn signed(method: &str, url: &str, extra: &[(&str, &str)], body: &[u8]) -> Self {
        Self::signed_with(method, url, extra, body, &creds(), "lambda", t0())
    }

    fn signed_with(
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
        body: &[u8],
        creds: &Credentials,
        service: &str,
        time: SystemTime,
    ) -> Self {
        let mut headers = HeaderMap::new();
        for (k, v) in extra {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let uri: http::Uri = url.parse().unwrap();
        let mut headers = sign(
            method,
            url,
            &headers,
            body,
            creds,
            "eu-west-1",
            service,
            time,
        )
        .unwrap();
        // What the HTTP client adds on the wire.
        headers.insert("host", uri.authority().unwrap().as_str().parse().unwrap());
        Received {
            method: method.into(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers,
            body: body.to_vec(),
        }
    }

    fn req(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            authority: None,
        }
    }

    fn verify_at(
        &self,
        service: &str,
        now: SystemTime,
    ) -> Result<updraft_auth::VerifiedIdentity, AuthError> {
        verifier().verify(&self.req(), service, now)
    }

    fn verify(&self) -> Result<updraft_auth::VerifiedIdentity, AuthError> {
        self.verify_at("lambda", t0() + Duration::from_secs(2))
    }
}

#[test]
fn round_trips_requests_signed_by_aws_sigv4() {
    let urls = [
        "http://127.0.0.1:9001/2015-03-31/functions",
        "http://127.0.0.1:9001/2015-03-31/functions/hello/invocations?Qualifier=%24LATEST",
        "http://127.0.0.1:9001/2015-03-31/functions/",
        "http://127.0.0.1:9001/2015-03-31/functions/hello/invocations?Qualifier=%24LATEST",
        "http://127.0.0.1:9001/2015-03-31/functions/hello%3A%24LATEST/configuration",
        "http://127.0.0.1:9001/2015-03-31/functions/hello:$LATEST/configuration",
        "http://127.0.0.1:9001/2015-03-31/functions/with%20space/invocations",
        "http://127.0.0.1:9001/fn/caf%C3%A9/%E2%9C%93?q=%E2%9C%93&b=2&a=1&a=0&empty=",
        "http://localhost/2015-03-31/functions/?MaxItems=5&Marker=abc%2Fdef%3D%3D",
        "http://127.0.0.1:9001/a/./b/../c//d?x=y+z",
    ];
    for (i, url) in urls.into_iter().enumerate() {
        let method = ["POST", "GET", "PUT", "DELETE"][i % 4];
        let r = Received::signed(
            method,
            url,
            &[
                ("content-type", "application/json"),
                ("x-amz-invocation-type", "Event"),
                ("x-amz-client-context", "eyJhIjoiYiJ9"),
                ("x-custom", "  a   b  "),
            ],
            br#"{"k":"v"}"#,
        );
        let id = r.verify().unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(id.access_key_id, "AKIAUPDRAFTTEST00001");
        assert_eq!(id.region, "eu-west-1");
        assert_eq!(id.service, "lambda");
        assert_eq!(id.signed_at, t0());
        assert!(!id.presigned);
    }
}

#[test]
fn empty_body_and_repeated_headers_verify() {
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions/f/invocations",
        &[("x-multi", "one"), ("x-multi", "two")],
        b"",
    );
    r.verify().unwrap();
}

#[test]
fn wrong_secret_is_an_invalid_signature() {
    let wrong = Credentials {
        access_key_id: creds().access_key_id,
        secret_access_key: "not-the-secret".into(),
    };
    let r = Received::signed_with(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
        &wrong,
        "lambda",
        t0(),
    );
    let err = r.verify().unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert!(err
        .to_string()
        .starts_with("The request signature we calculated does not match"));
}

#[test]
fn unknown_key_is_an_unrecognized_client() {
    let stranger = Credentials {
        access_key_id: "AKIASTRANGER00000000".into(),
        secret_access_key: "x".into(),
    };
    let r = Received::signed_with(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
        &stranger,
        "lambda",
        t0(),
    );
    let err = r.verify().unwrap_err();
    assert_eq!(err, AuthError::UnrecognizedClient);
    assert_eq!(err.error_type(), "UnrecognizedClientException");
    assert_eq!(
        err.to_string(),
        "The security token included in the request is invalid."
    );
}

#[test]
fn tampering_with_body_path_query_or_signed_headers_fails() {
    let url = "http://127.0.0.1:9001/2015-03-31/functions/f/invocations?Qualifier=1";
    let fresh = || Received::signed("POST", url, &[("x-amz-invocation-type", "Event")], b"{}");
    fresh().verify().unwrap();

    let mut r = fresh();
    r.body = b"{ }".to_vec();
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);

    let mut r = fresh();
    r.headers
        .insert("x-amz-invocation-type", "RequestResponse".parse().unwrap());
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);

    let mut r = fresh();
    r.path = "/2015-03-31/functions/g/invocations".into();
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);

    let mut r = fresh();
    r.query = "Qualifier=2".into();
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);

    let mut r = fresh();
    r.method = "PUT".into();
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);

    let mut r = fresh();
    r.headers
        .insert("host", "evil.example:9001".parse().unwrap());
    assert_eq!(r.verify().unwrap_err(), AuthError::InvalidSignature);
}

#[test]
fn unsigned_headers_may_change() {
    let mut r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    r.headers
        .insert("amz-sdk-invocation-id", "146308e7".parse().unwrap());
    r.headers
        .insert("amz-sdk-request", "attempt=2".parse().unwrap());
    r.headers.insert("user-agent", "other/1.0".parse().unwrap());
    r.headers.insert("content-length", "2".parse().unwrap());
    r.verify().unwrap();
}

#[test]
fn clock_skew_beyond_fifteen_minutes_is_rejected() {
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    let min = |m: u64| Duration::from_secs(m * 60);
    r.verify_at("lambda", t0() + min(14)).unwrap();
    r.verify_at("lambda", t0() - min(14)).unwrap();

    let err = r.verify_at("lambda", t0() + min(16)).unwrap_err();
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Signature expired: 20261126T101500Z is now earlier than 20261126T101600Z \
         (20261126T103100Z - 15 min.)"
    );
    let err = r.verify_at("lambda", t0() - min(16)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Signature not yet current: 20261126T101500Z is still later than 20261126T101400Z \
         (20261126T095900Z + 15 min.)"
    );
}

#[test]
fn wrong_service_is_rejected() {
    let r = Received::signed_with(
        "POST",
        "http://127.0.0.1:9001/",
        &[("x-amz-target", "AmazonSQS.SendMessage")],
        b"{}",
        &creds(),
        "sqs",
        t0(),
    );
    r.verify_at("sqs", t0()).unwrap();
    let err = r.verify_at("lambda", t0()).unwrap_err();
    assert_eq!(
        err,
        AuthError::WrongService {
            expected: "lambda".into()
        }
    );
    assert_eq!(err.error_type(), "InvalidSignatureException");
    assert!(err.to_string().contains("'lambda'"));
}

#[test]
fn missing_or_malformed_authorization_is_reported() {
    let mut r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    r.headers.remove("authorization");
    let err = r.verify().unwrap_err();
    assert_eq!(err, AuthError::MissingAuthenticationToken);
    assert_eq!(err.to_string(), "Missing Authentication Token");
    assert_eq!(err.error_type(), "MissingAuthenticationTokenException");
    assert_eq!(err.status(), http::StatusCode::FORBIDDEN);

    let mut r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    r.headers.insert(
        "authorization",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date"
            .parse()
            .unwrap(),
    );
    let err = r.verify().unwrap_err();
    assert_eq!(err.error_type(), "IncompleteSignatureException");
    assert!(err.to_string().contains("requires 'Credential' parameter"));
    assert!(err.to_string().contains("requires 'Signature' parameter"));

    let mut r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    r.headers.remove("x-amz-date");
    let err = r.verify().unwrap_err();
    assert!(err.to_string().contains("'X-Amz-Date' or a 'Date' header"));
}

#[test]
fn host_must_be_signed() {
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    let auth = r.headers["authorization"].to_str().unwrap();
    let without_host = auth.replace("SignedHeaders=host;", "SignedHeaders=");
    let mut r2 = Received {
        headers: r.headers.clone(),
        ..r
    };
    r2.headers
        .insert("authorization", without_host.parse().unwrap());
    let err = r2.verify().unwrap_err();
    assert_eq!(err.error_type(), "IncompleteSignatureException");
    assert!(err.to_string().contains("'Host'"));
}

#[test]
fn headers_that_choose_the_operation_must_be_signed() {
    let url = "http://127.0.0.1:9001/";
    let json = ("content-type", "application/x-amz-json-1.0");
    let target = ("x-amz-target", "AmazonSQS.ListQueues");
    // Signed as the SDKs sign them: accepted.
    Received::signed("POST", url, &[json, target], b"{}")
        .verify()
        .unwrap();
    let invoke = "http://127.0.0.1:9001/2015-03-31/functions/f/invocations";
    Received::signed("POST", invoke, &[("x-amz-invocation-type", "Event")], b"{}")
        .verify()
        .unwrap();
    // The same header added after signing: refused, naming it.
    let cases = [
        (url, vec![json], ("x-amz-target", "AmazonSQS.DeleteQueue")),
        (
            url,
            vec![target],
            ("content-type", "application/x-amz-json-1.0"),
        ),
        (invoke, vec![], ("x-amz-invocation-type", "Event")),
        (invoke, vec![], ("x-amz-security-token", "token")),
    ];
    for (url, signed, (name, value)) in cases {
        let mut r = Received::signed("POST", url, &signed, b"{}");
        r.headers.insert(name, value.parse().unwrap());
        let err = r.verify().unwrap_err();
        assert_eq!(err.error_type(), "IncompleteSignatureException", "{name}");
        assert!(err.to_string().contains(&format!("'{name}'")), "{err}");
    }
    // Content-Type alone (REST-JSON, no X-Amz-Target) may be unsigned.
    let mut r = Received::signed("POST", invoke, &[], b"{}");
    r.headers
        .insert("content-type", "application/json".parse().unwrap());
    r.verify().unwrap();
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let body = b"{}";
    let good = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[("x-amz-content-sha256", good)],
        body,
    );
    r.verify().unwrap();
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        body,
    );
    let err = r.verify().unwrap_err();
    assert!(err.to_string().contains("x-amz-content-sha256"));
}

#[test]
fn host_falls_back_to_the_uri_authority() {
    let mut r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[],
        b"{}",
    );
    r.headers.remove("host");
    let mut req = r.req();
    req.authority = Some("127.0.0.1:9001");
    verifier().verify(&req, "lambda", t0()).unwrap();
}

#[test]
fn from_parts_borrows_an_http_request() {
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions/f/invocations?Qualifier=%24LATEST",
        &[],
        b"x",
    );
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/2015-03-31/functions/f/invocations?Qualifier=%24LATEST");
    for (k, v) in &r.headers {
        builder = builder.header(k, v);
    }
    let (parts, ()) = builder.body(()).unwrap().into_parts();
    let req = SignedRequest::from_parts(&parts, b"x");
    verifier().verify(&req, "lambda", t0()).unwrap();
}

/// Produced once with botocore 1.43.11 (`client.invoke(FunctionName='hello world',
/// Qualifier='$LATEST', InvocationType='Event', LogType='Tail', Payload=...)`
/// with the clock fixed at 2026-11-26T10:15:00Z), headers copied as sent.
#[test]
fn botocore_invoke_vector() {
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("Host", "127.0.0.1:9001"),
        ("X-Amz-Invocation-Type", "Event"),
        ("X-Amz-Log-Type", "Tail"),
        ("User-Agent", "Botocore/1.43.11 ua/2.1 os/linux#6.18.44-fc-v657 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/D,e,N,b,Z cfg/retry-mode#legacy"),
        ("X-Amz-Date", "20261126T101500Z"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAUPDRAFTTEST00001/20261126/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date;x-amz-invocation-type;x-amz-log-type, Signature=cecac502254d84fbbf5c5debcbd1602e79456c2399037af6834429f65941f46f"),
        ("amz-sdk-invocation-id", "146308e7-0a4c-4277-97da-ced98495b6ea"),
        ("amz-sdk-request", "attempt=1"),
        ("Content-Length", "12"),
    ] {
        headers.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    let body = hex::decode("7b226b223a227620c3a9227d").unwrap();
    let req = SignedRequest {
        method: "POST",
        path: "/2015-03-31/functions/hello%20world/invocations",
        query: "Qualifier=%24LATEST",
        headers: &headers,
        body: &body,
        authority: None,
    };
    let id = verifier()
        .verify(&req, "lambda", t0() + Duration::from_secs(1))
        .unwrap();
    assert_eq!(id.region, "us-east-1");

    let tampered = SignedRequest { body: b"{}", ..req };
    assert_eq!(
        verifier().verify(&tampered, "lambda", t0()).unwrap_err(),
        AuthError::InvalidSignature
    );
}

/// botocore `create_function(...)` (same session as above): a JSON body
/// with `content-type` signed.
#[test]
fn botocore_create_function_vector() {
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("Host", "127.0.0.1:9001"),
        ("Content-Type", "application/json"),
        ("X-Amz-Date", "20261126T101500Z"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAUPDRAFTTEST00001/20261126/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=2d8c642db515fa4880e52c0d638a236a3673311bc973b65e649b18590a72cfa7"),
        ("Content-Length", "179"),
    ] {
        headers.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    let body = br#"{"FunctionName": "f1", "Runtime": "wasm", "Role": "arn:aws:iam::000000000000:role/r", "Handler": "h", "Code": {"ZipFile": "UEsDBA=="}, "Environment": {"Variables": {"A": "b  c"}}}"#;
    let req = SignedRequest {
        method: "POST",
        path: "/2015-03-31/functions",
        query: "",
        headers: &headers,
        body,
        authority: None,
    };
    verifier().verify(&req, "lambda", t0()).unwrap();
}

#[test]
fn presigned_query_requests_verify_and_expire() {
    use aws_sigv4::http_request::{
        sign as sdk_sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    let identity = aws_credential_types::Credentials::new(
        creds().access_key_id,
        creds().secret_access_key,
        None,
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(300));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("lambda")
        .time(t0())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = "http://127.0.0.1:9001/2015-03-31/functions/f%241/invocations?Qualifier=%24LATEST";
    let signable = SignableRequest::new(
        "GET",
        url,
        std::iter::once(("host", "127.0.0.1:9001")),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sdk_sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method("GET")
        .uri(url)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let uri = request.uri().clone();
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:9001".parse().unwrap());
    let req = SignedRequest {
        method: "GET",
        path: uri.path(),
        query: uri.query().unwrap(),
        headers: &headers,
        body: b"",
        authority: None,
    };
    let id = verifier()
        .verify(&req, "lambda", t0() + Duration::from_secs(60))
        .unwrap();
    assert!(id.presigned);
    let err = verifier()
        .verify(&req, "lambda", t0() + Duration::from_secs(301))
        .unwrap_err();
    assert!(err.to_string().starts_with("Request has expired"), "{err}");

    let tampered_query = uri.query().unwrap().replace("%24LATEST", "1");
    let tampered = SignedRequest {
        query: &tampered_query,
        ..req
    };
    assert_eq!(
        verifier().verify(&tampered, "lambda", t0()).unwrap_err(),
        AuthError::InvalidSignature
    );
}

#[test]
fn presigned_download_urls_verify_until_they_expire() {
    let url = "http://127.0.0.1:9001/updraft/v1/code/abc123";
    let signed = updraft_auth::presign_get(
        url,
        &creds(),
        "us-east-1",
        "lambda",
        t0(),
        Duration::from_secs(600),
    )
    .unwrap();
    let uri: http::Uri = signed.parse().unwrap();
    assert_eq!(uri.path(), "/updraft/v1/code/abc123");
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:9001".parse().unwrap());
    let req = SignedRequest {
        method: "GET",
        path: uri.path(),
        query: uri.query().unwrap(),
        headers: &headers,
        body: b"",
        authority: None,
    };
    let id = verifier()
        .verify(&req, "lambda", t0() + Duration::from_secs(599))
        .unwrap();
    assert!(id.presigned);
    assert!(verifier()
        .verify(&req, "lambda", t0() + Duration::from_secs(601))
        .is_err());
}

#[test]
fn verify_with_hands_the_session_token_to_the_lookup_and_returns_its_grant() {
    let r = Received::signed(
        "POST",
        "http://127.0.0.1:9001/2015-03-31/functions",
        &[("x-amz-security-token", "session-token-1")],
        b"{}",
    );
    let now = t0() + Duration::from_secs(2);
    let seen = std::cell::RefCell::new(None);
    let (identity, grant) = updraft_auth::verify_with(&r.req(), "lambda", now, |key, token| {
        *seen.borrow_mut() = Some((key.to_string(), token.map(str::to_string)));
        Ok((creds().secret_access_key, "the principal"))
    })
    .unwrap();
    assert_eq!(grant, "the principal");
    assert_eq!(identity.access_key_id, creds().access_key_id);
    assert_eq!(
        seen.into_inner(),
        Some((creds().access_key_id, Some("session-token-1".to_string())))
    );

    // The lookup's refusal is the answer, before any signature is computed.
    let err = updraft_auth::verify_with(&r.req(), "lambda", now, |_, _| {
        Err::<(String, ()), _>(AuthError::ExpiredToken)
    })
    .unwrap_err();
    assert_eq!(err, AuthError::ExpiredToken);
    assert_eq!(err.error_type(), "ExpiredTokenException");

    // A wrong secret from the lookup never yields the grant.
    let err = updraft_auth::verify_with(&r.req(), "lambda", now, |_, _| {
        Ok(("not the secret".to_string(), "the principal"))
    })
    .unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);
}
