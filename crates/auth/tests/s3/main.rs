//! S3's SigV4 variants: AWS's published examples, requests recorded from
//! botocore, the aws-chunked decoder and POST policies.

mod aws_examples;
mod botocore;
mod chunked;
mod post;
mod presign;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::NaiveDateTime;
use http::{HeaderMap, HeaderName, HeaderValue};
use updraft_auth::{
    verify_s3, AuthError, ChecksumSlot, Payload, PayloadError, SignedRequest, VerifiedIdentity,
};

/// An S3 request as the server receives it.
pub struct Received {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
}

impl Received {
    pub fn new(
        method: &str,
        authority: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Received {
            method: method.into(),
            authority: authority.into(),
            path: path.into(),
            query: query.into(),
            headers: map,
        }
    }

    pub fn request(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &[],
            authority: Some(&self.authority),
        }
    }

    /// Verifies against one key pair (with an optional session token that
    /// must be the one sent).
    pub fn verify(
        &self,
        access_key: &str,
        secret: &str,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<(VerifiedIdentity, Payload), AuthError> {
        verify_s3(&self.request(), now, |key, sent_token| {
            if key != access_key {
                return Err(AuthError::UnrecognizedClient);
            }
            if sent_token != token {
                return Err(AuthError::ExpiredToken);
            }
            Ok((secret.to_string(), ()))
        })
        .map(|(identity, (), payload)| (identity, payload))
    }
}

/// `YYYYMMDDTHHMMSSZ` as a time.
pub fn amz_time(s: &str) -> SystemTime {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc()
        .into()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Decodes `body` fed in `pieces`, returning the decoded bytes, or the
/// first error, and the checksum slot.
pub fn decode(
    payload: Payload,
    pieces: Vec<Vec<u8>>,
) -> (Result<Vec<u8>, PayloadError>, ChecksumSlot) {
    use futures::StreamExt;
    let input = futures::stream::iter(
        pieces
            .into_iter()
            .map(|p| Ok::<_, std::io::Error>(Bytes::from(p))),
    );
    let mut decoded = payload.decode(input);
    let slot = decoded.checksum();
    let result = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(item) = decoded.next().await {
            out.extend_from_slice(&item?);
        }
        Ok(out)
    });
    (result, slot)
}

/// `body` split into pieces of the given sizes, cycling.
pub fn split(body: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < body.len() {
        let n = sizes[i % sizes.len()].max(1).min(body.len() - at);
        out.push(body[at..at + n].to_vec());
        at += n;
        i += 1;
    }
    out
}
