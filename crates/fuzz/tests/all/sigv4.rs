//! SigV4 (`updraft_auth::verify_with`): the `Authorization` header and the
//! presigned query string, over requests as a server receives them.
//!
//! Corpus files are HTTP/1.1 request text (`METHOD target HTTP/1.1`,
//! header lines, a blank line, the body to the end of the file), verified
//! at 2026-11-26T10:15:01Z with the key pair of the botocore vectors.
//!
//! Properties: verification never panics and every refusal is a 403 with
//! an AWS error type and a message; a mutated request that still verifies
//! has the seed's method and body (the signature covers them); any request
//! `aws-sigv4` signs (header or presigned URL) verifies, and stops
//! verifying when its body changes or the URL has expired.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;
use updraft_auth::{verify_with, AuthError, Credentials, SignedRequest, VerifiedIdentity};
use updraft_fuzz::{
    assert_message, bytes, config, corpus, corpus_bytes, escape, mutated, watched, Expect,
};

const TARGET: &str = "sigv4";
const KEY: &str = "AKIAUPDRAFTTEST00001";
const SECRET: &str = "testsecret0123456789testsecret0123456789";
const AUTHORITY: &str = "127.0.0.1:9001";

static SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| corpus_bytes(TARGET, ""));

/// RFC 3986 unreserved characters stay, everything else is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// 2026-11-26T10:15:00Z, when the corpus requests were signed.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_688_100)
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: KEY.into(),
        secret_access_key: SECRET.into(),
    }
}

/// A request as the gateway hands it to the verifier.
#[derive(Debug, Default)]
struct Received {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Reads HTTP/1.1 request text; what does not parse is left out (a header
/// line that is not a valid header), as a server would refuse it earlier.
fn parse_request(bytes: &[u8]) -> Received {
    let split = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            bytes
                .windows(sep.len())
                .position(|w| w == *sep)
                .map(|at| (at, at + sep.len()))
        })
        .min();
    let (head, body) = match split {
        Some((end, start)) => (&bytes[..end], bytes[start..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut words = first.split(' ');
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    Received {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }
}

/// Verifies for the `lambda` service at `now`. With `any_key`, every
/// access key id has the test secret, so checks after the key lookup are
/// reached by mutated key ids too.
fn verify(r: &Received, now: SystemTime, any_key: bool) -> Result<VerifiedIdentity, AuthError> {
    let req = SignedRequest {
        method: &r.method,
        path: &r.path,
        query: &r.query,
        headers: &r.headers,
        body: &r.body,
        authority: Some(AUTHORITY),
    };
    verify_with(&req, "lambda", now, |key, _token| {
        if any_key || key == KEY {
            Ok((SECRET.to_string(), ()))
        } else {
            Err(AuthError::UnrecognizedClient)
        }
    })
    .map(|(identity, ())| identity)
}

/// The oracle for any input: both lookups, no panic, refusals well formed.
/// Returns whether the strict lookup verified it.
fn check(input: &[u8]) -> bool {
    let r = parse_request(input);
    let now = t0() + Duration::from_secs(1);
    let mut verified = false;
    for any_key in [false, true] {
        match verify(&r, now, any_key) {
            Ok(id) => {
                assert_eq!(id.service, "lambda");
                assert!(!id.access_key_id.is_empty() && !id.region.is_empty());
                verified |= !any_key;
            }
            Err(e) => {
                assert_message(TARGET, input, &e.to_string());
                assert!(e.error_type().ends_with("Exception"), "{e:?}");
                assert_eq!(e.status(), http::StatusCode::FORBIDDEN);
            }
        }
    }
    verified
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let verified = check(&seed.bytes);
        match seed.expect() {
            Expect::Valid => assert!(verified, "{}: a real signed request is refused", seed.name),
            Expect::Invalid => assert!(!verified, "{}: verified", seed.name),
            Expect::Any => {}
        }
    }
}

/// A header-signed request as `aws-sigv4` (the Rust SDK's signer) signs it.
#[derive(Debug, Clone)]
struct Signable {
    method: &'static str,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Signable {
    fn path(&self) -> String {
        let encoded: Vec<String> = self
            .segments
            .iter()
            .map(|s| utf8_percent_encode(s, STRICT).to_string())
            .collect();
        format!("/{}", encoded.join("/"))
    }

    fn query(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, STRICT),
                    utf8_percent_encode(v, STRICT)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn url(&self) -> String {
        let query = self.query();
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("http://{AUTHORITY}{}{query}", self.path())
    }

    /// Signs and returns the request as the server receives it.
    fn sign(&self) -> Received {
        let mut headers = HeaderMap::new();
        for (k, v) in &self.headers {
            headers.append(
                HeaderName::from_bytes(k.as_bytes()).expect("generated name"),
                HeaderValue::from_str(v).expect("generated value"),
            );
        }
        let mut signed = updraft_auth::sign(
            self.method,
            &self.url(),
            &headers,
            &self.body,
            &creds(),
            "us-east-1",
            "lambda",
            t0(),
        )
        .unwrap_or_else(|e| panic!("signing {self:?}: {e}"));
        signed.insert(http::header::HOST, HeaderValue::from_static(AUTHORITY));
        Received {
            method: self.method.to_string(),
            path: self.path(),
            query: self.query(),
            headers: signed,
            body: self.body.clone(),
        }
    }
}

fn signable() -> impl Strategy<Value = Signable> {
    let name = "[a-z][a-z0-9-]{0,12}".prop_filter("headers the signer or HTTP own", |n| {
        !n.starts_with("x-amz")
            && ![
                "host",
                "authorization",
                "user-agent",
                "transfer-encoding",
                "x-amzn-trace-id",
                "content-length",
                "expect",
            ]
            .contains(&n.as_str())
    });
    (
        prop::sample::select(&["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"][..]),
        prop::collection::vec(
            prop_oneof![
                4 => "\\PC{1,8}",
                1 => prop::sample::select(&["", ".", "..", "%", "$LATEST", "a b", "+"][..])
                    .prop_map(str::to_string),
            ],
            0..4,
        ),
        prop::collection::vec(("\\PC{1,6}", "\\PC{0,8}"), 0..4),
        prop::collection::vec((name, "[ -~\t]{0,20}"), 0..4),
        bytes(64),
    )
        .prop_map(|(method, segments, query, headers, body)| Signable {
            method,
            segments,
            query,
            headers,
            body,
        })
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn random_bytes_never_panic(input in bytes(512)) {
        watched(TARGET, &input, || check(&input));
    }

    #[test]
    fn mutated_requests_that_verify_keep_method_and_body(input in mutated(SEEDS.clone())) {
        if watched(TARGET, &input, || check(&input)) {
            // The signature covers the method and the body: a request that
            // still verifies has those of a genuinely signed seed (a
            // mutation may also repair a tampered one).
            let mutated = parse_request(&input);
            let genuine = corpus(TARGET).into_iter().filter(|s| s.expect() == Expect::Valid);
            let same = genuine.map(|s| parse_request(&s.bytes)).any(|original| {
                original.method == mutated.method && original.body == mutated.body
            });
            prop_assert!(same, "verified with another method or body: {}", escape(&input));
        }
    }

    #[test]
    fn what_aws_sigv4_signs_verifies(req in signable(), flip in any::<prop::sample::Index>()) {
        let received = req.sign();
        let now = t0() + Duration::from_secs(1);
        let result = watched(TARGET, req.url().as_bytes(), || verify(&received, now, false));
        prop_assert!(result.is_ok(), "{:?} signed as {:?}: {:?}", req, received, result);
        if !received.body.is_empty() {
            let mut tampered = received;
            let at = flip.index(tampered.body.len());
            tampered.body[at] ^= 1;
            prop_assert_eq!(verify(&tampered, now, false), Err(AuthError::InvalidSignature));
        }
    }

    #[test]
    fn what_aws_sigv4_presigns_verifies_until_it_expires(
        req in signable(),
        expires in 1u64..=604_800,
        age in any::<prop::sample::Index>(),
    ) {
        let url = updraft_auth::presign_get(
            &req.url(),
            &creds(),
            "us-east-1",
            "lambda",
            t0(),
            Duration::from_secs(expires),
        )
        .unwrap_or_else(|e| panic!("presigning {req:?}: {e}"));
        let uri: http::Uri = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static(AUTHORITY));
        let received = Received {
            method: "GET".into(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            headers,
            body: Vec::new(),
        };
        let within = t0() + Duration::from_secs(age.index(expires as usize + 1) as u64);
        let result = watched(TARGET, url.as_bytes(), || verify(&received, within, false));
        prop_assert!(result.is_ok(), "{} at +{:?}: {:?}", url, within.duration_since(t0()), result);
        let late = t0() + Duration::from_secs(expires + 1);
        let expired = verify(&received, late, false);
        prop_assert!(
            matches!(expired, Err(AuthError::SignatureExpired(_))),
            "{} after it expired: {:?}", url, expired
        );
    }
}
