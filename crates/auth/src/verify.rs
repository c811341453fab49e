//! SigV4 verification of incoming requests.
//!
//! [`Verifier::verify`] accepts a request signed in the `Authorization`
//! header (what the aws CLI, boto3 and the SDKs send) or presigned in the
//! query string (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
//! `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`).
//!
//! Decisions:
//! - any region is accepted; the service in the credential scope must be the
//!   one the endpoint serves;
//! - the payload hash is always computed from the body received; a client's
//!   `X-Amz-Content-Sha256` must equal it (`UNSIGNED-PAYLOAD` is refused, so
//!   every accepted body is covered by its signature);
//! - `host` must be signed; headers outside `SignedHeaders` may change;
//! - a session token (`X-Amz-Security-Token`, a header or a presigned
//!   query parameter) is handed to the key lookup with the access key id:
//!   whoever issues temporary credentials checks it ([`verify_with`]).
//!
//! S3 signs differently (path encoded once, the payload hash taken from
//! `x-amz-content-sha256`, other error codes): [`crate::s3::verify_s3`]
//! shares this module's parsing and checks (`Rules::S3`).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use http::HeaderMap;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthError, Credentials};

/// How far a request's time may be from the server's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The longest validity a presigned request may claim (seven days, as AWS).
const MAX_PRESIGN_EXPIRES: u64 = 7 * 24 * 60 * 60;

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const TERMINATOR: &str = "aws4_request";
pub(crate) const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Everything but RFC 3986 unreserved characters (`A-Za-z0-9-._~`).
pub(crate) const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// As [`STRICT`], keeping `/` (for paths).
pub(crate) const STRICT_PATH: &AsciiSet = &STRICT.remove(b'/');

/// A request as it arrived, before any decoding.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded (`uri.path()`).
    pub path: &'a str,
    /// The raw query string without `?` (empty when there is none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The authority of the request URI, used as the `host` value when no
    /// `Host` header is present (HTTP/2 sends `:authority` instead).
    pub authority: Option<&'a str>,
}

impl<'a> SignedRequest<'a> {
    /// Borrows what verification needs from the parts of an `http` request.
    pub fn from_parts(parts: &'a http::request::Parts, body: &'a [u8]) -> Self {
        SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
            authority: parts.uri.authority().map(|a| a.as_str()),
        }
    }
}

/// Who signed a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub access_key_id: String,
    /// The region the client signed for (any region is accepted).
    pub region: String,
    pub service: String,
    /// The request time the client signed.
    pub signed_at: SystemTime,
    /// Whether the signature came in the query string.
    pub presigned: bool,
}

/// Checks SigV4 signatures against a fixed set of key pairs.
#[derive(Clone)]
pub struct Verifier {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<&String> = self.secrets.keys().collect();
        keys.sort();
        f.debug_struct("Verifier")
            .field("access_key_ids", &keys)
            .finish()
    }
}

/// The signature-bearing values of a request, wherever they came from.
pub(crate) struct SignatureParts {
    pub(crate) access_key_id: String,
    pub(crate) scope_date: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
    /// The request time, and where it was read from (for messages).
    pub(crate) time: DateTime<Utc>,
    time_source: &'static str,
    /// Presigned only: seconds the signature stays valid.
    pub(crate) expires: Option<u64>,
}

impl Verifier {
    pub fn new(credentials: Vec<Credentials>) -> Self {
        Verifier {
            secrets: credentials
                .into_iter()
                .map(|c| (c.access_key_id, c.secret_access_key))
                .collect(),
        }
    }

    /// Verifies `req`, signed for `expected_service`, at time `now`,
    /// against this verifier's fixed key pairs.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        expected_service: &str,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, AuthError> {
        verify_with(req, expected_service, now, |key, _token| {
            self.secrets
                .get(key)
                .map(|secret| (secret.clone(), ()))
                .ok_or(AuthError::UnrecognizedClient)
        })
        .map(|(identity, ())| identity)
    }
}

/// The session token a request carries: the `X-Amz-Security-Token` header,
/// or the query parameter of a presigned request.
pub fn session_token<'a>(req: &SignedRequest<'a>) -> Option<std::borrow::Cow<'a, str>> {
    if let Some(v) = req.headers.get("x-amz-security-token") {
        return v.to_str().ok().map(std::borrow::Cow::Borrowed);
    }
    split_query(req.query)
        .into_iter()
        .find(|(k, _)| decode(k).eq_ignore_ascii_case("X-Amz-Security-Token"))
        .map(|(_, v)| std::borrow::Cow::Owned(decode(v)))
}

/// Verifies `req`, signed for `expected_service`, at time `now`, finding the
/// signing secret with `lookup(access_key_id, session_token)`. The lookup
/// returns the secret and whatever the caller wants back for a verified
/// request (the principal the key belongs to), or the error to answer with
/// (unknown or revoked key, expired session). It runs only after the
/// signature's form and scope have been checked, and its grant is returned
/// only when the signature matches.
pub fn verify_with<G>(
    req: &SignedRequest<'_>,
    expected_service: &str,
    now: SystemTime,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<(VerifiedIdentity, G), AuthError> {
    let head = check_head(req, expected_service, now, Rules::Json, lookup)?;
    let Head {
        parts,
        secret,
        grant,
        presigned,
        query_pairs,
    } = head;
    let secret = secret.as_str();

    let payload_hash = hex::encode(Sha256::digest(req.body));
    if !presigned {
        if let Some(sent) = req.headers.get("x-amz-content-sha256") {
            if sent.as_bytes() != payload_hash.as_bytes() {
                return Err(AuthError::InvalidScope(
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                        .into(),
                ));
            }
        }
    }

    let uri = canonical_uri(req.path);
    let headers = canonical_headers(&parts.signed_headers, req);
    let signed_headers = parts.signed_headers.join(";");
    let amz_date = parts.time.format(AMZ_DATE_FORMAT).to_string();
    let scope = format!(
        "{}/{}/{}/{TERMINATOR}",
        parts.scope_date, parts.region, parts.service
    );
    let signed_at: SystemTime = parts.time.into();
    let signing_key =
        aws_sigv4::sign::v4::generate_signing_key(secret, signed_at, &parts.region, &parts.service);

    let candidate = Candidate {
        method: req.method,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        amz_date: &amz_date,
        scope: &scope,
        signing_key: signing_key.as_ref(),
        signature: &parts.signature,
    };
    let queries = canonical_query_candidates(&query_pairs, presigned);
    if !candidate.matches(std::slice::from_ref(&uri), &queries) {
        return Err(AuthError::InvalidSignature);
    }
    Ok((
        VerifiedIdentity {
            access_key_id: parts.access_key_id,
            region: parts.region,
            service: parts.service,
            signed_at,
            presigned,
        },
        grant,
    ))
}

/// A request's signature parts, checked in everything but the signature
/// itself, with the signing secret and the lookup's grant.
pub(crate) struct Head<'a, G> {
    pub(crate) parts: SignatureParts,
    pub(crate) secret: String,
    pub(crate) grant: G,
    pub(crate) presigned: bool,
    pub(crate) query_pairs: Vec<(&'a str, &'a str)>,
}

/// Checks what can be checked of `req` before its body is read: the
/// signature's form, service, scope and time, that the key is known (by
/// `lookup`) and that the headers that must be signed are. A server calls
/// it before reading a body so that a request that can never be accepted
/// costs no more than its head; `req.body` is not used. [`verify_with`]
/// repeats these checks and then checks the signature over the body.
pub fn check_request_head<G>(
    req: &SignedRequest<'_>,
    expected_service: &str,
    now: SystemTime,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<G, AuthError> {
    check_head(req, expected_service, now, Rules::Json, lookup).map(|head| head.grant)
}

/// Which service family's rules [`check_head`] applies where they differ:
/// S3 words its errors differently and tells apart a presigned URL that has
/// expired from a request signed at a time too far from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    Json,
    S3,
}

pub(crate) fn check_head<'a, G>(
    req: &SignedRequest<'a>,
    expected_service: &str,
    now: SystemTime,
    rules: Rules,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<Head<'a, G>, AuthError> {
    let query_pairs = split_query(req.query);
    let presigned = req.headers.get(http::header::AUTHORIZATION).is_none()
        && query_pairs
            .iter()
            .any(|(k, _)| decode(k).eq_ignore_ascii_case("X-Amz-Algorithm"));
    let parts = if presigned {
        parse_presigned(&query_pairs).map_err(|e| match (rules, e) {
            (Rules::S3, AuthError::IncompleteSignature(m)) => AuthError::QueryParametersError(m),
            (_, e) => e,
        })?
    } else {
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or(AuthError::MissingAuthenticationToken)?;
        let header = header.to_str().map_err(|_| {
            AuthError::IncompleteSignature("Authorization header is not valid ASCII.".into())
        })?;
        parse_authorization(header, req.headers)?
    };

    if parts.service != expected_service {
        return Err(AuthError::WrongService {
            expected: expected_service.to_string(),
        });
    }
    let request_date = parts.time.format("%Y%m%d").to_string();
    if parts.scope_date != request_date {
        return Err(AuthError::InvalidScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{}', from '{}'.",
            parts.scope_date, request_date, parts.time_source
        )));
    }
    let token = session_token(req);
    let (secret, grant) = lookup(&parts.access_key_id, token.as_deref())?;
    match rules {
        Rules::Json => check_time(&parts, now)?,
        Rules::S3 => check_time_s3(&parts, now)?,
    }
    if !parts.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if let Some(name) = unsigned_selector(req.headers, &parts.signed_headers) {
        return Err(AuthError::IncompleteSignature(format!(
            "The request's '{name}' header must be a 'SignedHeader' in the AWS Authorization."
        )));
    }

    Ok(Head {
        parts,
        secret,
        grant,
        presigned,
        query_pairs,
    })
}

/// Headers that choose the operation, how it runs or whose session signs
/// it: when a request carries one, the signature must cover it (the AWS
/// SDKs and CLIs sign them), or a captured request could be replayed as
/// another operation. `Content-Type` counts on the JSON protocols (those
/// with `X-Amz-Target`).
const SELECTORS: [&str; 3] = [
    "x-amz-target",
    "x-amz-invocation-type",
    "x-amz-security-token",
];

/// The first header of [`SELECTORS`] (or `content-type` beside
/// `x-amz-target`) the request carries but did not sign.
fn unsigned_selector(headers: &HeaderMap, signed: &[String]) -> Option<&'static str> {
    let unsigned = |name: &str| headers.contains_key(name) && !signed.iter().any(|h| h == name);
    let json_protocol = headers.contains_key("x-amz-target");
    SELECTORS
        .into_iter()
        .chain(json_protocol.then_some("content-type"))
        .find(|name| unsigned(name))
}

/// `AWS4-HMAC-SHA256 Credential=K/D/R/S/aws4_request, SignedHeaders=a;b, Signature=hex`
fn parse_authorization(header: &str, headers: &HeaderMap) -> Result<SignatureParts, AuthError> {
    let (algorithm, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(AuthError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Only '{ALGORITHM}' is supported."
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for item in rest.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let (time, time_source) = match headers.get("x-amz-date") {
        Some(v) => (
            Some(parse_amz_date(v.to_str().unwrap_or(""))?),
            "x-amz-date",
        ),
        None => match headers.get(http::header::DATE) {
            Some(v) => (Some(parse_http_date(v.to_str().unwrap_or(""))?), "date"),
            None => (None, ""),
        },
    };

    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if time.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(time)) =
        (credential, signed_headers, signature, time)
    else {
        return Err(AuthError::IncompleteSignature(format!(
            "{} Authorization={header}",
            missing.join(" ")
        )));
    };
    let (access_key_id, scope_date, region, service) = parse_credential(credential)?;
    Ok(SignatureParts {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: signature.to_string(),
        time,
        time_source,
        expires: None,
    })
}

fn parse_presigned(pairs: &[(&str, &str)]) -> Result<SignatureParts, AuthError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| decode(k) == name)
            .map(|(_, v)| decode(v))
    };
    let names = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ];
    let missing: Vec<String> = names
        .iter()
        .filter(|n| get(n).is_none())
        .map(|n| format!("AWS query-string parameters must include '{n}'."))
        .collect();
    if !missing.is_empty() {
        return Err(AuthError::IncompleteSignature(missing.join(" ")));
    }
    let value = |name: &str| get(name).unwrap_or_default();
    let algorithm = value("X-Amz-Algorithm");
    if algorithm != ALGORITHM {
        return Err(AuthError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Only '{ALGORITHM}' is supported."
        )));
    }
    let (access_key_id, scope_date, region, service) =
        parse_credential(&value("X-Amz-Credential"))?;
    let time = parse_amz_date(&value("X-Amz-Date"))?;
    let expires_text = value("X-Amz-Expires");
    let expires: u64 = expires_text.parse().map_err(|_| {
        AuthError::IncompleteSignature(format!(
            "X-Amz-Expires should be a number, not '{expires_text}'."
        ))
    })?;
    if expires == 0 || expires > MAX_PRESIGN_EXPIRES {
        return Err(AuthError::IncompleteSignature(format!(
            "X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds."
        )));
    }
    Ok(SignatureParts {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: parse_signed_headers(&value("X-Amz-SignedHeaders"))?,
        signature: value("X-Amz-Signature"),
        time,
        time_source: "X-Amz-Date",
        expires: Some(expires),
    })
}

pub(crate) fn parse_credential(
    credential: &str,
) -> Result<(String, String, String, String), AuthError> {
    match credential.split('/').collect::<Vec<_>>().as_slice() {
        [key, date, region, service, terminator] => {
            if *terminator != TERMINATOR {
                return Err(AuthError::InvalidScope(format!(
                    "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
                )));
            }
            if key.is_empty() || region.is_empty() || service.is_empty() {
                return Err(AuthError::IncompleteSignature(format!(
                    "Credential must have the form KEY/YYYYMMDD/REGION/SERVICE/aws4_request, not '{credential}'."
                )));
            }
            Ok((key.to_string(), date.to_string(), region.to_string(), service.to_string()))
        }
        _ => Err(AuthError::IncompleteSignature(format!(
            "Credential must have the form KEY/YYYYMMDD/REGION/SERVICE/aws4_request, not '{credential}'."
        ))),
    }
}

fn parse_signed_headers(list: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = list.split(';').map(str::to_string).collect();
    if names
        .iter()
        .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase() || b == b' '))
    {
        return Err(AuthError::IncompleteSignature(format!(
            "SignedHeaders must be a ';'-separated list of lowercase header names, not '{list}'."
        )));
    }
    Ok(names)
}

pub(crate) fn parse_amz_date(s: &str) -> Result<DateTime<Utc>, AuthError> {
    NaiveDateTime::parse_from_str(s, AMZ_DATE_FORMAT)
        .map(|t| t.and_utc())
        .map_err(|_| {
            AuthError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{s}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })
}

fn parse_http_date(s: &str) -> Result<DateTime<Utc>, AuthError> {
    DateTime::parse_from_rfc2822(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            AuthError::IncompleteSignature(format!(
                "Date header must be an RFC 1123 date. Got '{s}'."
            ))
        })
}

fn check_time(parts: &SignatureParts, now: SystemTime) -> Result<(), AuthError> {
    let now: DateTime<Utc> = now.into();
    let skew = chrono::Duration::from_std(MAX_CLOCK_SKEW).expect("constant fits");
    let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE_FORMAT).to_string();
    if parts.time > now + skew {
        return Err(AuthError::SignatureExpired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            fmt(parts.time),
            fmt(now + skew),
            fmt(now)
        )));
    }
    match parts.expires {
        None if parts.time < now - skew => Err(AuthError::SignatureExpired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            fmt(parts.time),
            fmt(now - skew),
            fmt(now)
        ))),
        Some(expires) => {
            let until = parts.time + chrono::Duration::seconds(expires as i64);
            if now > until {
                Err(AuthError::SignatureExpired(format!(
                    "Request has expired: signed at {} for {expires} seconds, it is now {}.",
                    fmt(parts.time),
                    fmt(now)
                )))
            } else {
                Ok(())
            }
        }
        None => Ok(()),
    }
}

/// S3's time rules: a header-signed request must be within
/// [`MAX_CLOCK_SKEW`] of `now`; a presigned one must not be used before its
/// date (beyond the skew) nor after its date plus `X-Amz-Expires`.
fn check_time_s3(parts: &SignatureParts, now: SystemTime) -> Result<(), AuthError> {
    let now: DateTime<Utc> = now.into();
    let skew = chrono::Duration::seconds(MAX_CLOCK_SKEW.as_secs() as i64);
    match parts.expires {
        None if parts.time > now + skew || parts.time < now - skew => {
            Err(AuthError::RequestTimeTooSkewed)
        }
        None => Ok(()),
        Some(_) if parts.time > now + skew => Err(AuthError::RequestNotYetValid),
        Some(expires) if now > parts.time + chrono::Duration::seconds(expires as i64) => {
            Err(AuthError::RequestExpired)
        }
        Some(_) => Ok(()),
    }
}

/// The raw `name=value` pairs of a query string, still encoded.
pub(crate) fn split_query(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// Percent-decodes a query component, reading `+` as a space (as
/// `application/x-www-form-urlencoded` and `aws-sigv4` do).
pub(crate) fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

/// The canonical query strings to try, most likely first.
///
/// The first is the rule of the SigV4 spec and `aws-sigv4`: decode every
/// name and value, encode them again strictly, sort. The second is
/// botocore's: the raw pairs as sent, sorted. They differ only for queries a
/// client did not encode strictly (a literal `+`, `$`, ...).
/// The parts of a canonical request that do not vary between the spellings
/// of its URI and query string a client may have signed.
pub(crate) struct Candidate<'a> {
    pub method: &'a str,
    pub headers: &'a str,
    pub signed_headers: &'a str,
    pub payload_hash: &'a str,
    pub amz_date: &'a str,
    pub scope: &'a str,
    pub signing_key: &'a [u8],
    pub signature: &'a str,
}

impl Candidate<'_> {
    /// Whether the signature matches the canonical request for any of the
    /// `uris` and `queries` (compared in constant time).
    pub(crate) fn matches(&self, uris: &[String], queries: &[String]) -> bool {
        uris.iter().any(|uri| {
            queries.iter().any(|query| {
                let creq = format!(
                    "{}\n{uri}\n{query}\n{}\n{}\n{}",
                    self.method, self.headers, self.signed_headers, self.payload_hash
                );
                let string_to_sign = format!(
                    "{ALGORITHM}\n{}\n{}\n{}",
                    self.amz_date,
                    self.scope,
                    hex::encode(Sha256::digest(creq.as_bytes()))
                );
                let expected = aws_sigv4::sign::v4::calculate_signature(
                    self.signing_key,
                    string_to_sign.as_bytes(),
                );
                bool::from(expected.as_bytes().ct_eq(self.signature.as_bytes()))
            })
        })
    }
}

pub(crate) fn canonical_query_candidates(pairs: &[(&str, &str)], presigned: bool) -> Vec<String> {
    let keep = |k: &str| !presigned || decode(k) != "X-Amz-Signature";
    let mut strict: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| {
            (
                utf8_percent_encode(&decode(k), STRICT).to_string(),
                utf8_percent_encode(&decode(v), STRICT).to_string(),
            )
        })
        .collect();
    strict.sort();
    let mut raw: Vec<(&str, &str)> = pairs.iter().copied().filter(|(k, _)| keep(k)).collect();
    raw.sort();
    let join = |it: &mut dyn Iterator<Item = (String, String)>| {
        it.map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    };
    let first = join(&mut strict.into_iter());
    let second = join(&mut raw.into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
    if first == second {
        vec![first]
    } else {
        vec![first, second]
    }
}

/// The path as received, dot segments and empty segments removed (as both
/// botocore and `aws-sigv4` normalize), then URI-encoded once more.
fn canonical_uri(path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let normalized = if path.contains("/.") || path.contains("//") || path.starts_with('.') {
        let mut out: Vec<&str> = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        let mut s = format!("/{}", out.join("/"));
        let trailing = ["/", "/.", "/.."].iter().any(|t| path.ends_with(t));
        if trailing && !s.ends_with('/') {
            s.push('/');
        }
        s
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    utf8_percent_encode(&normalized, STRICT_PATH).to_string()
}

/// `name:value\n` for every signed header, values trimmed and inner runs of
/// spaces collapsed, repeated headers joined with `,`.
pub(crate) fn canonical_headers(names: &[String], req: &SignedRequest<'_>) -> String {
    let mut out = String::new();
    for name in names {
        let mut values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| trim_all(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() && name == "host" {
            if let Some(authority) = req.authority {
                values.push(authority.to_string());
            }
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

fn trim_all(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
