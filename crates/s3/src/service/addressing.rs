//! Which bucket and key a request names: virtual-hosted (`bucket.<host>`,
//! for the hosts in [`S3Config::hosts`]) or path-style (`/bucket/key`).
//! Keys are percent-decoded from the path; `/bucket` and `/bucket/` both
//! name the bucket.

use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;
use crate::S3Config;

/// The bucket and key a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

impl Target {
    /// The `<Resource>` of an error: `/bucket/key`.
    pub fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".to_string(),
        }
    }
}

pub(crate) fn resolve(
    config: &S3Config,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Target, ApiError> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or("");
    let host = strip_port(host).to_ascii_lowercase();
    let raw_path = uri.path();
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| ApiError::invalid_argument("The path is not valid UTF-8"))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let virtual_bucket = config.hosts.iter().find_map(|h| {
        let h = h.to_ascii_lowercase();
        host.strip_suffix(&h)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty())
            .map(str::to_string)
    });
    if let Some(bucket) = virtual_bucket {
        let key = (!path.is_empty()).then(|| path.to_string());
        return Ok(Target {
            bucket: Some(bucket),
            key,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
        });
    }
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, (!k.is_empty()).then(|| k.to_string())),
        None => (path, None),
    };
    Ok(Target {
        bucket: Some(bucket.to_string()),
        key,
    })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map(|(h, _)| &h[1..]).unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, uri: &str) -> Target {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().expect("host"));
        let config = S3Config::default();
        resolve(&config, &headers, &uri.parse().expect("uri")).expect("resolves")
    }

    #[test]
    fn path_style_and_virtual_hosted() {
        assert_eq!(
            target("localhost:9000", "/b/a%20b/c?x=1"),
            Target {
                bucket: Some("b".into()),
                key: Some("a b/c".into())
            }
        );
        assert_eq!(target("127.0.0.1:9000", "/b/").key, None);
        assert_eq!(target("127.0.0.1:9000", "/").bucket, None);
        assert_eq!(
            target("photos.localhost:9000", "/k/x"),
            Target {
                bucket: Some("photos".into()),
                key: Some("k/x".into())
            }
        );
        assert_eq!(target("photos.localhost", "/").key, None);
    }
}
