//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation and Get/PutBucketVersioning.

use axum::body::Body;
use http::{Response, StatusCode};

use crate::backend::{BackendError, BucketRecord};
use crate::error::ApiError;
use crate::service::ctx::{BucketInfo, Ctx};
use crate::service::objects::put_header;
use crate::service::wire::{self, iso8601};
use crate::xml::XmlWriter;
use crate::S3;

/// S3's bucket naming rules (3-63 characters of lowercase letters, digits,
/// dots and hyphens, starting and ending with a letter or digit, not an IP
/// address, no `..`, reserved prefixes and suffixes refused).
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    let len_ok = (3..=63).contains(&name.len());
    let chars_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let not_ip = name.parse::<std::net::Ipv4Addr>().is_err();
    let reserved = name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3");
    len_ok && chars_ok && ends_ok && not_ip && !reserved && !name.contains("..")
}

impl S3 {
    pub(crate) async fn list_buckets(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let Some(account) = ctx.access.account().map(str::to_string) else {
            return Err(ApiError::access_denied());
        };
        ctx.access
            .authorize("s3:ListAllMyBuckets", "*", &account, None, &[])
            .map_err(|_| ApiError::access_denied())?;
        let prefix = ctx.q("prefix").unwrap_or("").to_string();
        let buckets = self.run(|b| Ok(b.list_buckets()?)).await?;
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        w.open("Owner")
            .elem("ID", &account)
            .elem("DisplayName", &account)
            .close("Owner");
        w.open("Buckets");
        for b in buckets
            .iter()
            .filter(|b| b.owner == account && b.name.starts_with(&prefix))
        {
            w.open("Bucket")
                .elem("Name", &b.name)
                .elem("CreationDate", iso8601(b.created_ms))
                .elem("BucketRegion", &b.region)
                .close("Bucket");
        }
        w.close("Buckets");
        Ok(wire::xml(
            StatusCode::OK,
            w.finish("ListAllMyBucketsResult"),
        ))
    }

    pub(crate) async fn create_bucket(&self, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
        let name = ctx.bucket()?.to_string();
        let Some(account) = ctx.access.account().map(str::to_string) else {
            return Err(ApiError::access_denied());
        };
        if !valid_bucket_name(&name) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            )
            .with("BucketName", name));
        }
        ctx.access
            .authorize(
                "s3:CreateBucket",
                &format!("arn:aws:s3:::{name}"),
                &account,
                None,
                &[],
            )
            .map_err(|_| ApiError::access_denied())?;
        let body = ctx.body_bytes().await?;
        let mut region = self.config.region.clone();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let doc = crate::xml::parse(&body)?;
            if doc.name != "CreateBucketConfiguration" {
                return Err(ApiError::malformed_xml());
            }
            if let Some(loc) = doc.text_of("LocationConstraint") {
                if !loc.is_empty() && loc != self.config.region {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "IllegalLocationConstraintException",
                        format!(
                            "The {loc} location constraint is incompatible for the region \
                             specific endpoint this request was sent to."
                        ),
                    ));
                }
                if !loc.is_empty() {
                    region = loc.to_string();
                }
            }
        }
        let record = BucketRecord {
            name: name.clone(),
            owner: account.clone(),
            region,
            created_ms: wire::now_ms(),
        };
        let lock_enabled = ctx
            .header("x-amz-bucket-object-lock-enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let result = self
            .run(move |b| match b.create_bucket(&record) {
                Ok(()) => {
                    if lock_enabled {
                        b.set_bucket_config(&record.name, "versioning", Some("Enabled"))?;
                    }
                    Ok(None)
                }
                Err(BackendError::Conflict(_)) => Ok(b.bucket(&record.name)?),
                Err(e) => Err(e.into()),
            })
            .await?;
        if let Some(existing) = result {
            // For legacy compatibility S3 answers 200 to the owner re-creating
            // a bucket in us-east-1.
            if existing.owner == account && existing.region == "us-east-1" {
                let mut r = wire::empty(StatusCode::OK);
                put_header(r.headers_mut(), "location", &format!("/{name}"));
                return Ok(r);
            }
            return Err(if existing.owner == account {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .with("BucketName", name)
            } else {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "BucketAlreadyExists",
                    "The requested bucket name is not available. The bucket namespace is shared \
                     by all users of the system. Please select a different name and try again.",
                )
                .with("BucketName", name)
            });
        }
        let mut r = wire::empty(StatusCode::OK);
        put_header(r.headers_mut(), "location", &format!("/{name}"));
        Ok(r)
    }

    pub(crate) async fn head_bucket(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:ListBucket", &bucket, None, &[])?;
        let mut r = wire::empty(StatusCode::OK);
        put_header(
            r.headers_mut(),
            "x-amz-bucket-region",
            &bucket.record.region,
        );
        Ok(r)
    }

    pub(crate) async fn delete_bucket(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:DeleteBucket", &bucket, None, &[])?;
        let name = bucket.record.name.clone();
        self.run(move |b| Ok(b.delete_bucket(&name)?)).await?;
        self.forget_bucket(&bucket.record.name);
        Ok(wire::empty(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn get_bucket_location(&self, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:GetBucketLocation", &bucket, None, &[])?;
        // us-east-1 is reported as an empty constraint, as S3 does.
        let region = if bucket.record.region == "us-east-1" {
            String::new()
        } else {
            bucket.record.region.clone()
        };
        let mut w = XmlWriter::bare("LocationConstraint");
        w.raw(&crate::xml::escape(&region));
        let mut body = w.finish("LocationConstraint");
        body = body.replacen(
            "<LocationConstraint>",
            &format!("<LocationConstraint xmlns=\"{}\">", crate::xml::S3_NS),
            1,
        );
        Ok(wire::xml(StatusCode::OK, body))
    }

    pub(crate) async fn get_bucket_versioning(
        &self,
        ctx: &Ctx,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:GetBucketVersioning", &bucket, None, &[])?;
        let mut w = XmlWriter::new("VersioningConfiguration");
        w.opt("Status", bucket.versioning.as_deref());
        Ok(wire::xml(
            StatusCode::OK,
            w.finish("VersioningConfiguration"),
        ))
    }

    pub(crate) async fn put_bucket_versioning(
        &self,
        ctx: &mut Ctx,
    ) -> Result<Response<Body>, ApiError> {
        let bucket = self.bucket_info(ctx.bucket()?).await?;
        self.authorize(ctx, "s3:PutBucketVersioning", &bucket, None, &[])?;
        let body = ctx.body_bytes().await?;
        let doc = crate::xml::parse(&body)?;
        if doc.name != "VersioningConfiguration" {
            return Err(ApiError::malformed_xml());
        }
        let status = match doc.text_of("Status") {
            Some("Enabled") => "Enabled",
            Some("Suspended") => "Suspended",
            None if bucket.versioning.is_none() => return Ok(wire::empty(StatusCode::OK)),
            None => return Ok(wire::empty(StatusCode::OK)),
            Some(_) => return Err(ApiError::malformed_xml()),
        };
        set_config(self, &bucket, "versioning", Some(status.to_string())).await?;
        Ok(wire::empty(StatusCode::OK))
    }
}

/// Stores (or removes) one configuration document of a bucket.
pub(crate) async fn set_config(
    s3: &S3,
    bucket: &BucketInfo,
    kind: &'static str,
    value: Option<String>,
) -> Result<(), ApiError> {
    let name = bucket.record.name.clone();
    s3.run(move |b| Ok(b.set_bucket_config(&name, kind, value.as_deref())?))
        .await
}

/// Reads one configuration document of a bucket.
pub(crate) async fn get_config(
    s3: &S3,
    bucket: &BucketInfo,
    kind: &'static str,
) -> Result<Option<String>, ApiError> {
    let name = bucket.record.name.clone();
    s3.run(move |b| Ok(b.bucket_config(&name, kind)?)).await
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            "xn--ab",
            &"a".repeat(64),
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
