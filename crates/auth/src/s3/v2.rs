//! S3's older query-string signature (Signature Version 2): the presigned
//! URLs boto3's `generate_presigned_url` and the aws CLI v1's `s3 presign`
//! make by default (`?AWSAccessKeyId=...&Expires=...&Signature=...`).
//!
//! ```text
//! string to sign   METHOD \n Content-MD5 \n Content-Type \n Expires \n
//!                  x-amz-* headers (lowercased, sorted, name:value\n)
//!                  /bucket/key as sent, plus sub-resources (?uploadId=..&versionId=..)
//! signature        base64(HMAC-SHA1(secret, string to sign))
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{Payload, S3_SERVICE};
use crate::verify::{SignedRequest, VerifiedIdentity};
use crate::AuthError;

/// Query parameters that are part of the resource a V2 signature covers
/// (S3's sub-resources and response overrides), in the order S3 sorts them.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Whether `req` carries a V2 query signature.
pub fn is_v2_presigned(req: &SignedRequest<'_>) -> bool {
    req.headers.get(http::header::AUTHORIZATION).is_none()
        && pairs(req.query).any(|(k, _)| k == "AWSAccessKeyId")
        && pairs(req.query).any(|(k, _)| k == "Signature")
}

/// A raw query string's `name=value` pairs, percent-decoded.
pub fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        (decode(k), decode(v))
    })
}

/// Verifies a V2 presigned request at `now`; `bucket` is the bucket when
/// the request is virtual-hosted (its path then starts after it).
pub fn verify_s3_v2_presigned<G>(
    req: &SignedRequest<'_>,
    bucket: Option<&str>,
    now: SystemTime,
    lookup: impl FnOnce(&str, Option<&str>) -> Result<(String, G), AuthError>,
) -> Result<(VerifiedIdentity, G, Payload), AuthError> {
    let query: Vec<(String, String)> = pairs(req.query).collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let malformed = |what: &str| {
        AuthError::QueryParametersError(format!(
            "Query-string authentication requires the {what} parameter"
        ))
    };
    let key = param("AWSAccessKeyId").ok_or_else(|| malformed("AWSAccessKeyId"))?;
    let signature = param("Signature").ok_or_else(|| malformed("Signature"))?;
    let expires = param("Expires").ok_or_else(|| malformed("Expires"))?;
    let expires_at: u64 = expires
        .parse()
        .map_err(|_| AuthError::QueryParametersError("Invalid Expires parameter".into()))?;
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if now_secs > expires_at {
        return Err(AuthError::RequestExpired);
    }
    let token = param("x-amz-security-token")
        .map(str::to_string)
        .or_else(|| crate::verify::session_token(req).map(|t| t.into_owned()));
    let (secret, grant) = lookup(key, token.as_deref())?;

    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let mut amz: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-amz-"))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or("").trim().to_string(),
            )
        })
        .collect();
    // x-amz-* values in the query (the session token, metadata, a canned
    // ACL: botocore moves them there when it presigns) are signed as
    // headers.
    for (name, value) in &query {
        let name = name.to_ascii_lowercase();
        if name.starts_with("x-amz-") && !amz.iter().any(|(n, _)| *n == name) {
            amz.push((name, value.trim().to_string()));
        }
    }
    amz.sort();
    let mut string_to_sign = format!(
        "{}\n{}\n{}\n{expires}\n",
        req.method,
        header("content-md5"),
        header("content-type")
    );
    for (name, value) in &amz {
        string_to_sign.push_str(&format!("{name}:{value}\n"));
    }
    if let Some(bucket) = bucket {
        string_to_sign.push('/');
        string_to_sign.push_str(bucket);
    }
    string_to_sign.push_str(req.path);
    let mut sub: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sub.sort();
    for (i, (k, v)) in sub.iter().enumerate() {
        string_to_sign.push(if i == 0 { '?' } else { '&' });
        string_to_sign.push_str(k);
        if !v.is_empty() {
            string_to_sign.push('=');
            string_to_sign.push_str(v);
        }
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).map_err(|_| AuthError::InvalidSignature)?;
    mac.update(string_to_sign.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(AuthError::InvalidSignature);
    }
    Ok((
        VerifiedIdentity {
            access_key_id: key.to_string(),
            region: String::new(),
            service: S3_SERVICE.to_string(),
            signed_at: UNIX_EPOCH + Duration::from_secs(expires_at),
            presigned: true,
        },
        grant,
        Payload::Unsigned,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a http::HeaderMap,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path,
            query,
            headers,
            body: &[],
            authority: None,
        }
    }

    fn sign(secret: &str, string_to_sign: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        let raw = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn lookup(key: &str, _token: Option<&str>) -> Result<(String, ()), AuthError> {
        match key {
            "AKIAIOSFODNN7EXAMPLE" => Ok(("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(), ())),
            _ => Err(AuthError::UnrecognizedClient),
        }
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// URLs botocore 1.43's `HmacV1QueryAuth` made (its S3 presigner's
    /// default) for this key at 1141889000 with a 120 s expiry.
    const BOTOCORE: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "GET",
            "/johnsmith/photos/puppy.jpg",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=fScKGHCDI0NY5E7CYp9Vc8VKMbY%3D&Expires=1141889120",
            None,
        ),
        (
            "GET",
            "/b/my%20key%2Bx.txt",
            "versionId=v1&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=J%2FiKjgs6SSIUMwRwpyUjLV08Ag0%3D&Expires=1141889120",
            None,
        ),
        (
            "PUT",
            "/b/up.txt",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=8G92Yu581Bz7idSXY3MApPlXQJ4%3D&content-type=text%2Fplain&Expires=1141889120",
            Some("text/plain"),
        ),
        (
            "PUT",
            "/b/meta.txt",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=OzJOX7G6sJTa4HRep48XK%2FSn%2F74%3D&x-amz-meta-venue=123&x-amz-acl=public-read&Expires=1141889120",
            None,
        ),
    ];

    #[test]
    fn botocore_presigned_urls_verify_until_they_expire() {
        let before = UNIX_EPOCH + Duration::from_secs(1_141_889_000);
        let after = UNIX_EPOCH + Duration::from_secs(1_141_889_121);
        for (method, path, query, content_type) in BOTOCORE {
            let mut headers = http::HeaderMap::new();
            if let Some(t) = content_type {
                headers.insert("content-type", t.parse().unwrap());
            }
            let req = request(method, path, query, &headers);
            assert!(is_v2_presigned(&req));
            let (identity, (), payload) = verify_s3_v2_presigned(&req, None, before, lookup)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            assert_eq!(identity.access_key_id, "AKIAIOSFODNN7EXAMPLE");
            assert!(identity.presigned);
            assert_eq!(payload, Payload::Unsigned);
            assert!(matches!(
                verify_s3_v2_presigned(&req, None, after, lookup),
                Err(AuthError::RequestExpired)
            ));
        }
        // Virtual-hosted: the bucket comes from the host, the path is the key.
        let headers = http::HeaderMap::new();
        let (_, _, query, _) = BOTOCORE[0];
        let hosted = request("GET", "/photos/puppy.jpg", query, &headers);
        assert!(verify_s3_v2_presigned(&hosted, Some("johnsmith"), before, lookup).is_ok());
    }

    #[test]
    fn a_changed_path_method_or_key_is_refused() {
        let headers = http::HeaderMap::new();
        let (_, _, query, _) = BOTOCORE[0];
        let at = UNIX_EPOCH + Duration::from_secs(1_141_889_000);
        let other_key = request("GET", "/johnsmith/photos/kitten.jpg", query, &headers);
        assert!(matches!(
            verify_s3_v2_presigned(&other_key, None, at, lookup),
            Err(AuthError::InvalidSignature)
        ));
        let put = request("PUT", "/johnsmith/photos/puppy.jpg", query, &headers);
        assert!(verify_s3_v2_presigned(&put, None, at, lookup).is_err());
        let stranger = query.replace("AKIAIOSFODNN7EXAMPLE", "AKIAOTHER");
        let req = request("GET", "/johnsmith/photos/puppy.jpg", &stranger, &headers);
        assert!(matches!(
            verify_s3_v2_presigned(&req, None, at, lookup),
            Err(AuthError::UnrecognizedClient)
        ));
    }

    #[test]
    fn sub_resources_content_type_and_amz_headers_are_signed() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "text/plain".parse().unwrap());
        headers.insert("x-amz-meta-colour", "blue".parse().unwrap());
        let sts =
            "PUT\n\ntext/plain\n2000000000\nx-amz-meta-colour:blue\n/b/k?partNumber=2&uploadId=u1";
        let query = format!(
            "uploadId=u1&partNumber=2&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=2000000000&Signature={}",
            sign(SECRET, sts)
        );
        assert!(is_v2_presigned(&request("PUT", "/b/k", &query, &headers)));
        let now = UNIX_EPOCH + Duration::from_secs(1_999_999_000);
        let req = request("PUT", "/b/k", &query, &headers);
        assert!(verify_s3_v2_presigned(&req, None, now, lookup).is_ok());
        let mut other = headers.clone();
        other.insert("content-type", "image/png".parse().unwrap());
        let req = request("PUT", "/b/k", &query, &other);
        assert!(verify_s3_v2_presigned(&req, None, now, lookup).is_err());
    }
}
