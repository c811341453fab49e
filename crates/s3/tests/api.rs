//! The S3 API through `S3::serve`, as a client sees it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use md5::{Digest, Md5};
use updraft_s3::{
    Access, BodyError, Denied, NotificationTarget, Notifier, S3Config, S3Request, S3,
};

struct Allow(&'static str);

impl Access for Allow {
    fn account(&self) -> Option<&str> {
        Some(self.0)
    }
    fn principal_arn(&self) -> Option<&str> {
        None
    }
    fn authorize(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: &[(&str, Vec<String>)],
    ) -> Result<(), Denied> {
        Ok(())
    }
    fn verify_post_policy(
        &self,
        form: &updraft_s3::PostSignature,
    ) -> Result<Arc<dyn Access>, Denied> {
        if form.signature == "good" && form.credential.starts_with("AKID/") {
            Ok(Arc::new(Allow(self.0)))
        } else {
            Err(Denied {
                reason: "bad signature".into(),
            })
        }
    }
}

/// Denies every action, remembering what it was asked.
#[derive(Default)]
struct DenyAll(Mutex<Vec<(String, String, Option<String>)>>);

impl Access for DenyAll {
    fn account(&self) -> Option<&str> {
        Some("999988887777")
    }
    fn principal_arn(&self) -> Option<&str> {
        None
    }
    fn authorize(
        &self,
        action: &str,
        resource: &str,
        _: &str,
        policy: Option<&str>,
        _: &[(&str, Vec<String>)],
    ) -> Result<(), Denied> {
        self.0.lock().expect("lock").push((
            action.into(),
            resource.into(),
            policy.map(str::to_string),
        ));
        Err(Denied {
            reason: "test".into(),
        })
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(NotificationTarget, serde_json::Value)>>);

impl Notifier for Recorder {
    fn deliver(
        &self,
        target: NotificationTarget,
        event: serde_json::Value,
    ) -> futures::future::BoxFuture<'static, ()> {
        self.0.lock().expect("lock").push((target, event));
        Box::pin(async {})
    }
}

struct Harness {
    s3: Arc<S3>,
    events: Arc<Recorder>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn code(&self) -> String {
        let t = self.text();
        t.split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("")
            .to_string()
    }
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = Arc::new(Recorder::default());
    let s3 = S3::open(dir.path(), S3Config::default(), events.clone()).expect("open");
    Harness {
        s3,
        events,
        _dir: dir,
    }
}

impl Harness {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        access: Arc<dyn Access>,
    ) -> Reply {
        let mut map = HeaderMap::new();
        map.insert("host", "localhost:9000".parse().expect("host"));
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        let req = S3Request::new(method, uri.parse().expect("uri"), map, access).with_body(body);
        let resp = self.s3.serve(req).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.send(method, uri, headers, body, Arc::new(Allow("111122223333")))
            .await
    }

    async fn ok(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let r = self.call(method.clone(), uri, headers, body).await;
        assert!(
            r.status.is_success(),
            "{method} {uri}: {} {}",
            r.status,
            r.text()
        );
        r
    }

    async fn bucket(&self, name: &str) {
        self.ok(Method::PUT, &format!("/{name}"), &[], "").await;
    }
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn md5_b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(b))
}

#[tokio::test]
async fn buckets_create_list_head_delete() {
    let h = harness();
    h.bucket("photos").await;
    let r = h.call(Method::PUT, "/photos", &[], "").await;
    assert_eq!(r.status, StatusCode::OK, "us-east-1 answers the owner 200");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = S3Config {
        region: "eu-west-1".into(),
        ..S3Config::default()
    };
    let eu = S3::open(dir.path(), config, Arc::new(updraft_s3::NoNotifier)).expect("open");
    for expected in [StatusCode::OK, StatusCode::CONFLICT] {
        let mut map = HeaderMap::new();
        map.insert("host", "localhost".parse().expect("host"));
        let req = S3Request::new(
            Method::PUT,
            "/photos".parse().expect("uri"),
            map,
            Arc::new(Allow("111122223333")),
        );
        let resp = eu.serve(req).await;
        assert_eq!(resp.status(), expected);
        if expected == StatusCode::CONFLICT {
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            assert!(String::from_utf8_lossy(&body).contains("<Code>BucketAlreadyOwnedByYou</Code>"));
        }
    }
    let r = h
        .send(
            Method::PUT,
            "/photos",
            &[],
            "",
            Arc::new(Allow("444455556666")),
        )
        .await;
    assert_eq!(r.code(), "BucketAlreadyExists");
    let r = h.call(Method::PUT, "/Bad_Name", &[], "").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::BAD_REQUEST, "InvalidBucketName")
    );
    assert!(r.header("x-amz-request-id").is_some());
    assert!(
        r.text().contains("<Resource>/Bad_Name</Resource>"),
        "{}",
        r.text()
    );
    let r = h
        .call(Method::PUT, "/elsewhere", &[], "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>")
        .await;
    assert_eq!(r.code(), "IllegalLocationConstraintException");
    let r = h.ok(Method::GET, "/", &[], "").await;
    assert!(r.text().contains("<Name>photos</Name>"), "{}", r.text());
    let other = h
        .send(Method::GET, "/", &[], "", Arc::new(Allow("444455556666")))
        .await;
    assert!(
        !other.text().contains("photos"),
        "buckets are listed per account"
    );
    h.ok(Method::HEAD, "/photos", &[], "").await;
    let r = h.ok(Method::GET, "/photos?location", &[], "").await;
    assert!(r.text().contains("<LocationConstraint"), "{}", r.text());
    h.ok(Method::PUT, "/photos/a.jpg", &[], "x").await;
    let r = h.call(Method::DELETE, "/photos", &[], "").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::CONFLICT, "BucketNotEmpty")
    );
    h.ok(Method::DELETE, "/photos/a.jpg", &[], "").await;
    let r = h.call(Method::DELETE, "/photos", &[], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.call(Method::HEAD, "/photos", &[], "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.is_empty(), "HEAD errors have no body");
    let r = h.call(Method::GET, "/photos/a.jpg", &[], "").await;
    assert_eq!(r.code(), "NoSuchBucket");
}

#[tokio::test]
async fn objects_metadata_ranges_and_conditions() {
    let h = harness();
    h.bucket("bkt").await;
    let body = b"hello, object storage".to_vec();
    let r = h
        .ok(
            Method::PUT,
            "/bkt/dir/hello%20world.txt",
            &[
                ("content-type", "text/plain"),
                ("cache-control", "max-age=60"),
                ("content-disposition", "inline"),
                ("x-amz-meta-color", "blue"),
                ("content-md5", &md5_b64(&body)),
                ("x-amz-tagging", "a=1&b=2"),
            ],
            body.clone(),
        )
        .await;
    let etag = format!("\"{}\"", md5_hex(&body));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = h
        .ok(Method::GET, "/bkt/dir/hello%20world.txt", &[], "")
        .await;
    assert_eq!(r.body.as_ref(), body.as_slice());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.header("content-disposition"), Some("inline"));
    assert_eq!(r.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(r.header("x-amz-tagging-count"), Some("2"));
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    let last_modified = r
        .header("last-modified")
        .expect("last-modified")
        .to_string();

    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("range", "bytes=0-4")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body.as_ref(), b"hello");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-4/{}", body.len()).as_str())
    );
    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("range", "bytes=-7")],
            "",
        )
        .await;
    assert_eq!(r.body.as_ref(), b"storage");
    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("range", "bytes=100-")],
            "",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::RANGE_NOT_SATISFIABLE, "InvalidRange")
    );

    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("if-none-match", &etag)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("if-match", "\"nope\"")],
            "",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PRECONDITION_FAILED, "PreconditionFailed")
    );
    let r = h
        .call(
            Method::HEAD,
            "/bkt/dir/hello%20world.txt",
            &[("if-modified-since", &last_modified)],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = h
        .call(
            Method::GET,
            "/bkt/dir/hello%20world.txt",
            &[("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);

    // Conditional write: If-None-Match: * refuses an existing key.
    let r = h
        .call(
            Method::PUT,
            "/bkt/dir/hello%20world.txt",
            &[("if-none-match", "*")],
            "other",
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::PRECONDITION_FAILED, "PreconditionFailed")
    );
    h.ok(Method::PUT, "/bkt/new", &[("if-none-match", "*")], "fresh")
        .await;

    // Digests.
    let r = h
        .call(
            Method::PUT,
            "/bkt/x",
            &[("content-md5", &md5_b64(b"other"))],
            "data",
        )
        .await;
    assert_eq!(r.code(), "BadDigest");
    let r = h
        .call(Method::PUT, "/bkt/x", &[("content-md5", "nope")], "data")
        .await;
    assert_eq!(r.code(), "InvalidDigest");
    let crc =
        base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(b"data").to_be_bytes());
    let r = h
        .call(
            Method::PUT,
            "/bkt/x",
            &[("x-amz-checksum-crc32", "AAAAAA==")],
            "data",
        )
        .await;
    assert_eq!(r.code(), "BadDigest");
    let r = h
        .ok(
            Method::PUT,
            "/bkt/x",
            &[("x-amz-checksum-crc32", &crc)],
            "data",
        )
        .await;
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let r = h
        .ok(
            Method::HEAD,
            "/bkt/x",
            &[("x-amz-checksum-mode", "ENABLED")],
            "",
        )
        .await;
    assert_eq!(r.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let r = h.ok(Method::HEAD, "/bkt/x", &[], "").await;
    assert_eq!(r.header("x-amz-checksum-crc32"), None);
    let r = h
        .ok(
            Method::PUT,
            "/bkt/y",
            &[("x-amz-sdk-checksum-algorithm", "SHA256")],
            "data",
        )
        .await;
    assert!(r.header("x-amz-checksum-sha256").is_some());
    assert_eq!(
        h.ok(Method::GET, "/bkt/x", &[], "").await.body.as_ref(),
        b"data",
        "failed writes left the object alone"
    );

    // Virtual-hosted addressing reaches the same object.
    let mut map = HeaderMap::new();
    map.insert("host", "bkt.localhost:9000".parse().expect("host"));
    let req = S3Request::new(
        Method::GET,
        "/x".parse().expect("uri"),
        map,
        Arc::new(Allow("111122223333")),
    );
    assert_eq!(h.s3.serve(req).await.status(), StatusCode::OK);

    let r = h.call(Method::DELETE, "/bkt/x", &[], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.call(Method::GET, "/bkt/x", &[], "").await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::NOT_FOUND, "NoSuchKey")
    );
    let r = h.call(Method::DELETE, "/bkt/x", &[], "").await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "deleting a missing key succeeds"
    );
}

#[tokio::test]
async fn broken_body_stores_nothing() {
    let h = harness();
    h.bucket("bkt").await;
    let mut map = HeaderMap::new();
    map.insert("host", "localhost".parse().expect("host"));
    let mut req = S3Request::new(
        Method::PUT,
        "/bkt/k".parse().expect("uri"),
        map,
        Arc::new(Allow("111122223333")),
    );
    req.body = Box::pin(futures::stream::iter(vec![
        Ok(Bytes::from_static(b"first chunk")),
        Err(BodyError {
            status: StatusCode::FORBIDDEN,
            code: "SignatureDoesNotMatch".into(),
            message: "bad chunk".into(),
        }),
    ]));
    let resp = h.s3.serve(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let r = h.call(Method::GET, "/bkt/k", &[], "").await;
    assert_eq!(r.code(), "NoSuchKey");
}

#[tokio::test]
async fn listings_v1_v2_with_delimiters_and_pages() {
    let h = harness();
    h.bucket("bkt").await;
    for key in [
        "a.txt",
        "photos/2024/1.jpg",
        "photos/2024/2.jpg",
        "photos/cat.jpg",
        "videos/x.mp4",
        "z%2Bplus",
    ] {
        h.ok(Method::PUT, &format!("/bkt/{key}"), &[], "x").await;
    }
    let r = h
        .ok(Method::GET, "/bkt?list-type=2&delimiter=/", &[], "")
        .await;
    let t = r.text();
    assert!(t.contains("<KeyCount>4</KeyCount>"), "{t}");
    assert!(t.contains("<Contents><Key>a.txt</Key>"), "{t}");
    assert!(t.contains("<CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>videos/</Prefix></CommonPrefixes>"), "{t}");
    let r = h
        .ok(
            Method::GET,
            "/bkt?list-type=2&prefix=photos/&delimiter=/",
            &[],
            "",
        )
        .await;
    let t = r.text();
    assert!(
        t.contains("<Key>photos/cat.jpg</Key>") && t.contains("<Prefix>photos/2024/</Prefix>"),
        "{t}"
    );
    // Pages of two with continuation tokens walk every key once.
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let uri = match &token {
            Some(t) => format!("/bkt?list-type=2&max-keys=2&continuation-token={t}"),
            None => "/bkt?list-type=2&max-keys=2".to_string(),
        };
        let t = h.ok(Method::GET, &uri, &[], "").await.text();
        keys.extend(
            t.split("<Key>")
                .skip(1)
                .map(|s| s.split("</Key>").next().unwrap_or("").to_string()),
        );
        token = t
            .split("<NextContinuationToken>")
            .nth(1)
            .map(|s| s.split('<').next().unwrap_or("").to_string());
        if token.is_none() {
            assert!(t.contains("<IsTruncated>false</IsTruncated>"), "{t}");
            break;
        }
    }
    assert_eq!(
        keys,
        [
            "a.txt",
            "photos/2024/1.jpg",
            "photos/2024/2.jpg",
            "photos/cat.jpg",
            "videos/x.mp4",
            "z+plus"
        ]
    );
    let t = h
        .ok(
            Method::GET,
            "/bkt?list-type=2&start-after=photos/cat.jpg",
            &[],
            "",
        )
        .await
        .text();
    assert!(
        t.contains("<Key>videos/x.mp4</Key>") && !t.contains("cat.jpg</Key>"),
        "{t}"
    );
    let t = h
        .ok(
            Method::GET,
            "/bkt?marker=photos/&delimiter=/&max-keys=1",
            &[],
            "",
        )
        .await
        .text();
    assert!(
        t.contains("<Prefix>videos/</Prefix>") && t.contains("<NextMarker>videos/</NextMarker>"),
        "{t}"
    );
    let t = h.ok(Method::GET, "/bkt?prefix=a", &[], "").await.text();
    assert!(
        t.contains("<Key>a.txt</Key>") && t.contains("<Owner><ID>111122223333</ID>"),
        "v1 lists owners: {t}"
    );
    let t = h
        .ok(
            Method::GET,
            "/bkt?list-type=2&encoding-type=url&prefix=z",
            &[],
            "",
        )
        .await
        .text();
    assert!(t.contains("<Key>z%2Bplus</Key>"), "{t}");
    let r = h
        .call(
            Method::GET,
            "/bkt?list-type=2&continuation-token=%%%",
            &[],
            "",
        )
        .await;
    assert_eq!(r.code(), "InvalidArgument");
}

#[tokio::test]
async fn copy_object_directives_and_conditions() {
    let h = harness();
    h.bucket("src").await;
    h.bucket("dst").await;
    h.ok(
        Method::PUT,
        "/src/a%20b",
        &[("content-type", "text/x"), ("x-amz-meta-k", "ver")],
        "payload",
    )
    .await;
    let r = h
        .ok(
            Method::PUT,
            "/dst/copy",
            &[("x-amz-copy-source", "/src/a%20b")],
            "",
        )
        .await;
    assert!(
        r.text().contains("<CopyObjectResult") && r.text().contains(&md5_hex(b"payload")),
        "{}",
        r.text()
    );
    let r = h.ok(Method::GET, "/dst/copy", &[], "").await;
    assert_eq!(
        (
            r.body.as_ref(),
            r.header("x-amz-meta-k"),
            r.header("content-type")
        ),
        (b"payload".as_ref(), Some("ver"), Some("text/x"))
    );
    h.ok(
        Method::PUT,
        "/dst/replaced",
        &[
            ("x-amz-copy-source", "src/a%20b"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-meta-new", "1"),
        ],
        "",
    )
    .await;
    let r = h.ok(Method::HEAD, "/dst/replaced", &[], "").await;
    assert_eq!(
        (r.header("x-amz-meta-k"), r.header("x-amz-meta-new")),
        (None, Some("1"))
    );
    let r = h
        .call(
            Method::PUT,
            "/src/a%20b",
            &[("x-amz-copy-source", "/src/a%20b")],
            "",
        )
        .await;
    assert_eq!(
        r.code(),
        "InvalidRequest",
        "copying onto itself without changes"
    );
    let r = h
        .call(
            Method::PUT,
            "/dst/c",
            &[
                ("x-amz-copy-source", "/src/a%20b"),
                ("x-amz-copy-source-if-match", "\"other\""),
            ],
            "",
        )
        .await;
    assert_eq!(r.code(), "PreconditionFailed");
    let r = h
        .call(
            Method::PUT,
            "/dst/c",
            &[("x-amz-copy-source", "/src/missing")],
            "",
        )
        .await;
    assert_eq!(r.code(), "NoSuchKey");
}

fn part_bytes(n: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(n))
        .collect()
}

#[tokio::test]
async fn multipart_upload_complete_list_abort() {
    let h = harness();
    h.bucket("bkt").await;
    let r = h
        .ok(
            Method::POST,
            "/bkt/big?uploads",
            &[("content-type", "video/mp4")],
            "",
        )
        .await;
    let id = r
        .text()
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("id")
        .to_string();
    let p1 = part_bytes(1, 5 * 1024 * 1024);
    let p2 = part_bytes(2, 1000);
    let e1 = h
        .ok(
            Method::PUT,
            &format!("/bkt/big?partNumber=1&uploadId={id}"),
            &[],
            p1.clone(),
        )
        .await
        .header("etag")
        .expect("etag")
        .to_string();
    let e2 = h
        .ok(
            Method::PUT,
            &format!("/bkt/big?partNumber=2&uploadId={id}"),
            &[],
            p2.clone(),
        )
        .await
        .header("etag")
        .expect("etag")
        .to_string();
    let r = h
        .call(
            Method::PUT,
            &format!("/bkt/big?partNumber=0&uploadId={id}"),
            &[],
            "x",
        )
        .await;
    assert_eq!(r.code(), "InvalidArgument");
    let t = h
        .ok(Method::GET, &format!("/bkt/big?uploadId={id}"), &[], "")
        .await
        .text();
    assert!(
        t.contains("<PartNumber>1</PartNumber>") && t.contains("<Size>1000</Size>"),
        "{t}"
    );
    let t = h.ok(Method::GET, "/bkt?uploads", &[], "").await.text();
    assert!(t.contains(&format!("<UploadId>{id}</UploadId>")), "{t}");

    let doc = |parts: &[(u32, &str)]| {
        let mut s = String::from("<CompleteMultipartUpload>");
        for (n, e) in parts {
            s.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            ));
        }
        s + "</CompleteMultipartUpload>"
    };
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/big?uploadId={id}"),
            &[],
            doc(&[(2, &e2), (1, &e1)]),
        )
        .await;
    assert_eq!(r.code(), "InvalidPartOrder");
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/big?uploadId={id}"),
            &[],
            doc(&[(1, "\"bad\"")]),
        )
        .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/big?uploadId={id}"),
            &[],
            doc(&[(1, &e1), (3, &e2)]),
        )
        .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/big?uploadId={id}"),
            &[],
            "<nope",
        )
        .await;
    assert_eq!(r.code(), "MalformedXML");
    let r = h
        .ok(
            Method::POST,
            &format!("/bkt/big?uploadId={id}"),
            &[],
            doc(&[(1, &e1), (2, &e2)]),
        )
        .await;
    let mut digests = Vec::new();
    digests.extend_from_slice(&Md5::digest(&p1));
    digests.extend_from_slice(&Md5::digest(&p2));
    let want = format!("\"{}-2\"", md5_hex(&digests));
    assert!(
        r.text()
            .contains(&format!("<ETag>{}</ETag>", want.replace('"', "&quot;"))),
        "{}",
        r.text()
    );
    let r = h.ok(Method::GET, "/bkt/big", &[], "").await;
    assert_eq!(r.header("etag"), Some(want.as_str()));
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    assert_eq!(r.body.len(), p1.len() + p2.len());
    assert!(r.body[..p1.len()] == p1[..] && r.body[p1.len()..] == p2[..]);
    // A range across the part boundary.
    let start = p1.len() - 3;
    let r = h
        .call(
            Method::GET,
            "/bkt/big",
            &[("range", &format!("bytes={start}-{}", start + 5))],
            "",
        )
        .await;
    assert_eq!(
        r.body.as_ref(),
        [&p1[start..], &p2[..3]].concat().as_slice()
    );
    let r = h.ok(Method::HEAD, "/bkt/big?partNumber=2", &[], "").await;
    assert_eq!(
        (r.header("content-length"), r.header("x-amz-mp-parts-count")),
        (Some("1000"), Some("2"))
    );
    let r = h
        .call(Method::GET, &format!("/bkt/big?uploadId={id}"), &[], "")
        .await;
    assert_eq!(r.code(), "NoSuchUpload");

    // Small non-last parts are refused; abort ends an upload.
    let r = h.ok(Method::POST, "/bkt/small?uploads", &[], "").await;
    let id = r
        .text()
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("id")
        .to_string();
    let e1 = h
        .ok(
            Method::PUT,
            &format!("/bkt/small?partNumber=1&uploadId={id}"),
            &[],
            "tiny",
        )
        .await
        .header("etag")
        .expect("etag")
        .to_string();
    let e2 = h
        .ok(
            Method::PUT,
            &format!("/bkt/small?partNumber=2&uploadId={id}"),
            &[
                ("x-amz-copy-source", "/bkt/big"),
                ("x-amz-copy-source-range", "bytes=0-9"),
            ],
            "",
        )
        .await;
    assert!(e2.text().contains("<CopyPartResult"), "{}", e2.text());
    let e2 = e2
        .text()
        .split("<ETag>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("etag")
        .replace("&quot;", "\"");
    assert_eq!(e2, format!("\"{}\"", md5_hex(&p1[..10])));
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/small?uploadId={id}"),
            &[],
            doc(&[(1, &e1), (2, &e2)]),
        )
        .await;
    assert_eq!(r.code(), "EntityTooSmall");
    assert_eq!(
        h.call(
            Method::DELETE,
            &format!("/bkt/small?uploadId={id}"),
            &[],
            ""
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let r = h
        .call(
            Method::DELETE,
            &format!("/bkt/small?uploadId={id}"),
            &[],
            "",
        )
        .await;
    assert_eq!(r.code(), "NoSuchUpload");
}

#[tokio::test]
async fn versioning_delete_markers_and_version_reads() {
    let h = harness();
    h.bucket("ver").await;
    let t = h.ok(Method::GET, "/ver?versioning", &[], "").await.text();
    assert!(!t.contains("<Status>"), "{t}");
    h.ok(Method::PUT, "/ver/k", &[], "null one").await;
    h.ok(
        Method::PUT,
        "/ver?versioning",
        &[],
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await;
    assert!(h
        .ok(Method::GET, "/ver?versioning", &[], "")
        .await
        .text()
        .contains("<Status>Enabled</Status>"));
    let v1 = h
        .ok(Method::PUT, "/ver/k", &[], "first")
        .await
        .header("x-amz-version-id")
        .expect("version")
        .to_string();
    let v2 = h
        .ok(Method::PUT, "/ver/k", &[], "second")
        .await
        .header("x-amz-version-id")
        .expect("version")
        .to_string();
    assert_ne!(v1, v2);
    assert_eq!(
        h.ok(Method::GET, "/ver/k", &[], "").await.body.as_ref(),
        b"second"
    );
    assert_eq!(
        h.ok(Method::GET, &format!("/ver/k?versionId={v1}"), &[], "")
            .await
            .body
            .as_ref(),
        b"first"
    );
    assert_eq!(
        h.ok(Method::GET, "/ver/k?versionId=null", &[], "")
            .await
            .body
            .as_ref(),
        b"null one"
    );
    let r = h.call(Method::DELETE, "/ver/k", &[], "").await;
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    let marker = r.header("x-amz-version-id").expect("marker id").to_string();
    let r = h.call(Method::GET, "/ver/k", &[], "").await;
    assert_eq!(
        (r.status, r.header("x-amz-delete-marker")),
        (StatusCode::NOT_FOUND, Some("true"))
    );
    let r = h
        .call(Method::GET, &format!("/ver/k?versionId={marker}"), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let t = h.ok(Method::GET, "/ver?versions", &[], "").await.text();
    assert_eq!(t.matches("<Version>").count(), 3, "{t}");
    assert!(
        t.contains(&format!(
            "<DeleteMarker><Key>k</Key><VersionId>{marker}</VersionId><IsLatest>true</IsLatest>"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "<VersionId>{v2}</VersionId><IsLatest>false</IsLatest>"
        )),
        "{t}"
    );
    let t = h
        .ok(Method::GET, "/ver?versions&max-keys=2", &[], "")
        .await
        .text();
    assert!(
        t.contains("<IsTruncated>true</IsTruncated>")
            && t.contains(&format!("<NextVersionIdMarker>{v2}</NextVersionIdMarker>")),
        "{t}"
    );
    let t = h
        .ok(
            Method::GET,
            &format!("/ver?versions&key-marker=k&version-id-marker={v2}"),
            &[],
            "",
        )
        .await
        .text();
    assert!(
        t.contains(&format!(
            "<VersionId>{v1}</VersionId><IsLatest>false</IsLatest>"
        )) && !t.contains(&format!("<VersionId>{v2}</VersionId>")),
        "{t}"
    );
    // Removing the marker brings the object back.
    let r = h
        .call(
            Method::DELETE,
            &format!("/ver/k?versionId={marker}"),
            &[],
            "",
        )
        .await;
    assert_eq!(
        (r.status, r.header("x-amz-delete-marker")),
        (StatusCode::NO_CONTENT, Some("true"))
    );
    assert_eq!(
        h.ok(Method::GET, "/ver/k", &[], "").await.body.as_ref(),
        b"second"
    );
    // Suspended: writes replace the null version.
    h.ok(
        Method::PUT,
        "/ver?versioning",
        &[],
        "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
    )
    .await;
    h.ok(Method::PUT, "/ver/k", &[], "null two").await;
    assert_eq!(
        h.ok(Method::GET, "/ver/k?versionId=null", &[], "")
            .await
            .body
            .as_ref(),
        b"null two"
    );
    let t = h.ok(Method::GET, "/ver?versions", &[], "").await.text();
    assert_eq!(t.matches("<VersionId>null</VersionId>").count(), 1, "{t}");
    let r = h
        .call(
            Method::PUT,
            "/ver?versioning",
            &[],
            "<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>",
        )
        .await;
    assert_eq!(r.code(), "MalformedXML");
}

#[tokio::test]
async fn delete_objects_reports_each_key() {
    let h = harness();
    h.bucket("bkt").await;
    h.ok(Method::PUT, "/bkt/one", &[], "1").await;
    h.ok(Method::PUT, "/bkt/two", &[], "2").await;
    let t = h
        .ok(
            Method::POST,
            "/bkt?delete",
            &[],
            "<Delete><Object><Key>one</Key></Object><Object><Key>missing</Key></Object></Delete>",
        )
        .await
        .text();
    assert!(
        t.contains("<Deleted><Key>one</Key></Deleted>")
            && t.contains("<Deleted><Key>missing</Key></Deleted>"),
        "{t}"
    );
    let t = h
        .ok(
            Method::POST,
            "/bkt?delete",
            &[],
            "<Delete><Quiet>true</Quiet><Object><Key>two</Key></Object></Delete>",
        )
        .await
        .text();
    assert!(!t.contains("<Deleted>"), "{t}");
    assert_eq!(
        h.call(Method::GET, "/bkt/two", &[], "").await.code(),
        "NoSuchKey"
    );
    assert_eq!(
        h.call(Method::POST, "/bkt?delete", &[], "<Delete></Delete>")
            .await
            .code(),
        "MalformedXML"
    );
}

#[tokio::test]
async fn tagging_policy_public_access_and_cors() {
    let h = harness();
    h.bucket("bkt").await;
    h.ok(Method::PUT, "/bkt/k", &[], "x").await;
    h.ok(
        Method::PUT,
        "/bkt/k?tagging",
        &[],
        "<Tagging><TagSet><Tag><Key>team</Key><Value>red</Value></Tag></TagSet></Tagging>",
    )
    .await;
    let t = h.ok(Method::GET, "/bkt/k?tagging", &[], "").await.text();
    assert!(
        t.contains("<Tag><Key>team</Key><Value>red</Value></Tag>"),
        "{t}"
    );
    h.ok(Method::DELETE, "/bkt/k?tagging", &[], "").await;
    assert!(!h
        .ok(Method::GET, "/bkt/k?tagging", &[], "")
        .await
        .text()
        .contains("<Tag>"));
    assert_eq!(
        h.call(Method::GET, "/bkt?tagging", &[], "").await.code(),
        "NoSuchTagSet"
    );
    h.ok(
        Method::PUT,
        "/bkt?tagging",
        &[],
        "<Tagging><TagSet><Tag><Key>env</Key><Value>dev</Value></Tag></TagSet></Tagging>",
    )
    .await;
    assert!(h
        .ok(Method::GET, "/bkt?tagging", &[], "")
        .await
        .text()
        .contains("<Key>env</Key>"));

    assert_eq!(
        h.call(Method::GET, "/bkt?policy", &[], "").await.code(),
        "NoSuchBucketPolicy"
    );
    assert_eq!(
        h.call(Method::PUT, "/bkt?policy", &[], "not json")
            .await
            .code(),
        "MalformedPolicy"
    );
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
    h.ok(Method::PUT, "/bkt?publicAccessBlock", &[], "<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>").await;
    assert_eq!(
        h.call(Method::PUT, "/bkt?policy", &[], public).await.code(),
        "AccessDenied"
    );
    h.ok(Method::DELETE, "/bkt?publicAccessBlock", &[], "")
        .await;
    assert_eq!(
        h.call(Method::PUT, "/bkt?policy", &[], public).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.ok(Method::GET, "/bkt?policy", &[], "").await.text(),
        public
    );

    // The policy reaches the authorizer; a denial is AccessDenied.
    let deny = Arc::new(DenyAll::default());
    let r = h.send(Method::GET, "/bkt/k", &[], "", deny.clone()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied")
    );
    let asked = deny.0.lock().expect("lock").clone();
    assert_eq!(
        asked,
        vec![(
            "s3:GetObject".to_string(),
            "arn:aws:s3:::bkt/k".to_string(),
            Some(public.to_string())
        )]
    );
    let r = h
        .send(Method::PUT, "/bkt/k", &[], "overwrite", deny.clone())
        .await;
    assert_eq!(r.code(), "AccessDenied");
    assert_eq!(
        h.ok(Method::GET, "/bkt/k", &[], "").await.body.as_ref(),
        b"x"
    );

    // CORS.
    let r = h
        .call(
            Method::OPTIONS,
            "/bkt/k",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "PUT"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    h.ok(Method::PUT, "/bkt?cors", &[], "<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>").await;
    let r = h
        .call(
            Method::OPTIONS,
            "/bkt/k",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-max-age"), Some("300"));
    let r = h
        .call(
            Method::OPTIONS,
            "/bkt/k",
            &[
                ("origin", "https://evil.test"),
                ("access-control-request-method", "PUT"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .ok(
            Method::GET,
            "/bkt/k",
            &[("origin", "https://app.example")],
            "",
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let r = h.call(Method::PUT, "/bkt?cors", &[], "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>").await;
    assert_eq!(r.code(), "InvalidRequest");
    let metrics = h.s3.bucket_metrics();
    let b = metrics
        .iter()
        .find(|m| m.bucket == "bkt")
        .expect("counters");
    assert!(b.requests > 20 && b.errors >= 5 && b.writes >= 1, "{b:?}");
}

#[tokio::test]
async fn lifecycle_expires_objects_and_uploads() {
    let h = harness();
    h.bucket("bkt").await;
    h.ok(Method::PUT, "/bkt/logs/old", &[], "x").await;
    h.ok(Method::PUT, "/bkt/keep/me", &[], "x").await;
    h.ok(Method::POST, "/bkt/logs/upload?uploads", &[], "")
        .await;
    assert_eq!(
        h.call(Method::GET, "/bkt?lifecycle", &[], "").await.code(),
        "NoSuchLifecycleConfiguration"
    );
    h.ok(Method::PUT, "/bkt?lifecycle", &[], "<LifecycleConfiguration><Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>").await;
    assert!(h
        .ok(Method::GET, "/bkt?lifecycle", &[], "")
        .await
        .text()
        .contains("<ID>logs</ID>"));
    assert_eq!(
        h.s3.expire_now(SystemTime::now()).await.expect("expire"),
        0,
        "nothing is a day old yet"
    );
    let later = SystemTime::now() + Duration::from_secs(2 * 86_400);
    assert_eq!(h.s3.expire_now(later).await.expect("expire"), 2);
    assert_eq!(
        h.call(Method::GET, "/bkt/logs/old", &[], "").await.code(),
        "NoSuchKey"
    );
    h.ok(Method::GET, "/bkt/keep/me", &[], "").await;
    assert!(!h
        .ok(Method::GET, "/bkt?uploads", &[], "")
        .await
        .text()
        .contains("<Upload>"));
    let r = h.call(Method::PUT, "/bkt?lifecycle", &[], "<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule></LifecycleConfiguration>").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn notifications_send_aws_event_records() {
    let h = harness();
    h.bucket("bkt").await;
    let config = "<NotificationConfiguration>\
        <CloudFunctionConfiguration><Id>thumbs</Id><CloudFunction>arn:aws:lambda:us-east-1:111122223333:function:thumb</CloudFunction>\
        <Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>images/</Value></FilterRule>\
        <FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>\
        <QueueConfiguration><Id>removed</Id><Queue>arn:aws:sqs:us-east-1:111122223333:q</Queue><Event>s3:ObjectRemoved:*</Event></QueueConfiguration>\
        <EventBridgeConfiguration/></NotificationConfiguration>";
    h.ok(Method::PUT, "/bkt?notification", &[], config).await;
    let t = h.ok(Method::GET, "/bkt?notification", &[], "").await.text();
    assert!(
        t.contains("<Id>thumbs</Id>")
            && t.contains("<Queue>arn:aws:sqs:us-east-1:111122223333:q</Queue>")
            && t.contains("EventBridgeConfiguration"),
        "{t}"
    );
    {
        let events = h.events.0.lock().expect("lock");
        assert_eq!(events.len(), 2, "a test event per target");
        assert!(events
            .iter()
            .all(|(_, e)| e["Event"] == "s3:TestEvent" && e["Bucket"] == "bkt"));
    }
    h.events.0.lock().expect("lock").clear();
    h.ok(Method::PUT, "/bkt/images/a%20b.jpg", &[], "jpeg")
        .await;
    h.ok(Method::PUT, "/bkt/images/a.png", &[], "png").await;
    h.ok(Method::DELETE, "/bkt/images/a.png", &[], "").await;
    let events = h.events.0.lock().expect("lock").clone();
    let lambda: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(t, _)| matches!(t, NotificationTarget::Lambda { function_arn } if function_arn.ends_with(":thumb")))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(lambda.len(), 1, "only the matching key: {events:?}");
    let rec = &lambda[0]["Records"][0];
    assert_eq!(rec["eventVersion"], "2.1");
    assert_eq!(rec["eventSource"], "aws:s3");
    assert_eq!(rec["awsRegion"], "us-east-1");
    assert_eq!(rec["eventName"], "ObjectCreated:Put");
    assert_eq!(rec["s3"]["configurationId"], "thumbs");
    assert_eq!(rec["s3"]["bucket"]["arn"], "arn:aws:s3:::bkt");
    assert_eq!(rec["s3"]["object"]["key"], "images/a+b.jpg");
    assert_eq!(rec["s3"]["object"]["size"], 4);
    assert_eq!(rec["s3"]["object"]["eTag"], md5_hex(b"jpeg"));
    assert!(rec["s3"]["object"]["sequencer"]
        .as_str()
        .is_some_and(|s| s.len() == 16));
    let removed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(t, _)| matches!(t, NotificationTarget::Sqs { .. }))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(
        removed[0]["Records"][0]["eventName"],
        "ObjectRemoved:Delete"
    );
    let bridge: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(t, _)| matches!(t, NotificationTarget::EventBridge { .. }))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(bridge.len(), 3);
    assert_eq!(bridge[0]["detail-type"], "Object Created");
    assert_eq!(bridge[0]["source"], "aws.s3");
    assert_eq!(bridge[0]["detail"]["object"]["key"], "images/a b.jpg");
    assert_eq!(bridge[2]["detail-type"], "Object Deleted");
    let r = h.call(Method::PUT, "/bkt?notification", &[], "<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>").await;
    assert_eq!(r.code(), "InvalidArgument");
}

#[test]
fn serve_and_expire_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let h = harness();
    let mut map = HeaderMap::new();
    map.insert("host", "localhost".parse().expect("host"));
    let req = S3Request::new(
        Method::GET,
        "/".parse().expect("uri"),
        map,
        Arc::new(Allow("1")),
    );
    assert_send(&h.s3.serve(req));
    assert_send(&h.s3.expire_now(SystemTime::now()));
}

fn form(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----updraftboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pic.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn browser_post_uploads_enforce_the_policy() {
    let h = harness();
    h.bucket("bkt").await;
    let (ct, body) = form(
        &[("key", "uploads/${filename}"), ("x-amz-meta-who", "me")],
        b"jpegdata",
    );
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        r.header("etag"),
        Some(format!("\"{}\"", md5_hex(b"jpegdata")).as_str())
    );
    let got = h.ok(Method::GET, "/bkt/uploads/pic.jpg", &[], "").await;
    assert_eq!(
        (
            got.body.as_ref(),
            got.header("content-type"),
            got.header("x-amz-meta-who")
        ),
        (b"jpegdata".as_ref(), Some("image/jpeg"), Some("me"))
    );

    let policy = base64::engine::general_purpose::STANDARD.encode(
        r#"{"expiration":"2099-01-01T00:00:00Z","conditions":[{"bucket":"bkt"},["starts-with","$key","user/"],{"success_action_status":"201"},["content-length-range",1,10],{"x-amz-credential":"AKID/20261203/us-east-1/s3/aws4_request"},{"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-date":"20261203T000000Z"}]}"#,
    );
    let signed = |key: &'static str, signature: &'static str| {
        vec![
            ("key", key),
            ("success_action_status", "201"),
            (
                "x-amz-credential",
                "AKID/20261203/us-east-1/s3/aws4_request",
            ),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-date", "20261203T000000Z"),
            ("x-amz-signature", signature),
        ]
    };
    let mut fields = signed("user/a.txt", "good");
    fields.push(("policy", &policy));
    let (ct, body) = form(&fields, b"small");
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.text().contains("<Key>user/a.txt</Key>"), "{}", r.text());

    let mut fields = signed("other/a.txt", "good");
    fields.push(("policy", &policy));
    let (ct, body) = form(&fields, b"small");
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (StatusCode::FORBIDDEN, "AccessDenied")
    );

    let mut fields = signed("user/big.txt", "good");
    fields.push(("policy", &policy));
    let (ct, body) = form(&fields, b"far too large for the policy");
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(r.code(), "AccessDenied");
    assert_eq!(
        h.call(Method::GET, "/bkt/user/big.txt", &[], "")
            .await
            .code(),
        "NoSuchKey"
    );

    let mut fields = signed("user/b.txt", "forged");
    fields.push(("policy", &policy));
    let (ct, body) = form(&fields, b"small");
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(r.code(), "AccessDenied");

    let (ct, body) = form(&[], b"no key");
    let r = h
        .call(Method::POST, "/bkt", &[("content-type", &ct)], body)
        .await;
    assert_eq!(r.code(), "InvalidArgument");
}

#[tokio::test]
async fn usage_and_versioned_multi_delete() {
    let h = harness();
    h.bucket("ver").await;
    h.ok(
        Method::PUT,
        "/ver?versioning",
        &[],
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await;
    h.ok(Method::PUT, "/ver/a", &[], "12345").await;
    h.ok(Method::PUT, "/ver/a", &[], "123").await;
    h.ok(Method::PUT, "/ver/b", &[], "1").await;
    let t = h
        .ok(
            Method::POST,
            "/ver?delete",
            &[],
            "<Delete><Object><Key>b</Key></Object></Delete>",
        )
        .await
        .text();
    let marker = t
        .split("<DeleteMarkerVersionId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a delete marker was made")
        .to_string();
    assert!(t.contains("<DeleteMarker>true</DeleteMarker>"), "{t}");
    let usage = h.s3.bucket_usage().await.expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].0, "ver");
    assert_eq!(
        (usage[0].1.objects, usage[0].1.versions, usage[0].1.bytes),
        (1, 4, 9)
    );
    let t = h
        .ok(
            Method::POST,
            "/ver?delete",
            &[],
            format!(
                "<Delete><Object><Key>b</Key><VersionId>{marker}</VersionId></Object></Delete>"
            ),
        )
        .await
        .text();
    assert!(
        t.contains(&format!("<VersionId>{marker}</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{marker}</DeleteMarkerVersionId>")),
        "{t}"
    );
    assert_eq!(
        h.ok(Method::GET, "/ver/b", &[], "").await.body.as_ref(),
        b"1"
    );
}

#[tokio::test]
async fn multipart_checksums_are_composite() {
    let h = harness();
    h.bucket("bkt").await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let r = h
        .ok(
            Method::POST,
            "/bkt/c?uploads",
            &[("x-amz-checksum-algorithm", "CRC32")],
            "",
        )
        .await;
    assert_eq!(r.header("x-amz-checksum-algorithm"), Some("CRC32"));
    let id = r
        .text()
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("id")
        .to_string();
    let p1 = part_bytes(7, 5 * 1024 * 1024);
    let p2 = b"tail".to_vec();
    let c1 = crc32fast::hash(&p1).to_be_bytes();
    let c2 = crc32fast::hash(&p2).to_be_bytes();
    let r1 = h
        .ok(
            Method::PUT,
            &format!("/bkt/c?partNumber=1&uploadId={id}"),
            &[("x-amz-checksum-crc32", &b64(&c1))],
            p1,
        )
        .await;
    // The second part names no checksum: the upload's algorithm is computed.
    let r2 = h
        .ok(
            Method::PUT,
            &format!("/bkt/c?partNumber=2&uploadId={id}"),
            &[],
            p2,
        )
        .await;
    assert_eq!(r2.header("x-amz-checksum-crc32"), Some(b64(&c2).as_str()));
    let (e1, e2) = (
        r1.header("etag").expect("etag").to_string(),
        r2.header("etag").expect("etag").to_string(),
    );
    let doc = |second: &str| {
        format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{e1}</ETag><ChecksumCRC32>{}</ChecksumCRC32></Part>\
             <Part><PartNumber>2</PartNumber><ETag>{e2}</ETag><ChecksumCRC32>{second}</ChecksumCRC32></Part></CompleteMultipartUpload>",
            b64(&c1)
        )
    };
    let r = h
        .call(
            Method::POST,
            &format!("/bkt/c?uploadId={id}"),
            &[],
            doc("AAAAAA=="),
        )
        .await;
    assert_eq!(
        r.code(),
        "InvalidPart",
        "a part checksum that does not match"
    );
    let t = h
        .ok(
            Method::POST,
            &format!("/bkt/c?uploadId={id}"),
            &[],
            doc(&b64(&c2)),
        )
        .await
        .text();
    let want = format!(
        "{}-2",
        b64(&crc32fast::hash(&[c1, c2].concat()).to_be_bytes())
    );
    assert!(
        t.contains(&format!("<ChecksumCRC32>{want}</ChecksumCRC32>")),
        "{t}"
    );
    let r = h
        .ok(
            Method::HEAD,
            "/bkt/c",
            &[("x-amz-checksum-mode", "ENABLED")],
            "",
        )
        .await;
    assert_eq!(
        (
            r.header("x-amz-checksum-crc32"),
            r.header("x-amz-checksum-type")
        ),
        (Some(want.as_str()), Some("COMPOSITE"))
    );
}

#[tokio::test]
async fn a_started_read_keeps_its_bytes_and_owner_guard() {
    let h = harness();
    h.bucket("bkt").await;
    let old = part_bytes(1, 3 * 1024 * 1024);
    h.ok(Method::PUT, "/bkt/k", &[], old.clone()).await;
    let mut map = HeaderMap::new();
    map.insert("host", "localhost".parse().expect("host"));
    let req = S3Request::new(
        Method::GET,
        "/bkt/k".parse().expect("uri"),
        map,
        Arc::new(Allow("111122223333")),
    );
    let resp = h.s3.serve(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Replaced (and its old blob deleted) before the body is read.
    h.ok(Method::PUT, "/bkt/k", &[], "new").await;
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    assert!(
        body[..] == old[..],
        "the read that started returns the old bytes whole"
    );
    assert_eq!(
        h.ok(Method::GET, "/bkt/k", &[], "").await.body.as_ref(),
        b"new"
    );

    let r = h
        .call(
            Method::GET,
            "/bkt/k",
            &[("x-amz-expected-bucket-owner", "000000000000")],
            "",
        )
        .await;
    assert_eq!(r.code(), "AccessDenied");
    h.ok(
        Method::GET,
        "/bkt/k",
        &[("x-amz-expected-bucket-owner", "111122223333")],
        "",
    )
    .await;
}

#[tokio::test]
async fn lifecycle_in_versioned_buckets() {
    let h = harness();
    h.bucket("ver").await;
    h.ok(
        Method::PUT,
        "/ver?versioning",
        &[],
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await;
    h.ok(
        Method::PUT,
        "/ver?notification",
        &[],
        "<NotificationConfiguration><QueueConfiguration><Id>lc</Id><Queue>arn:aws:sqs:us-east-1:111122223333:q</Queue>\
         <Event>s3:LifecycleExpiration:*</Event></QueueConfiguration></NotificationConfiguration>",
    )
    .await;
    let old = h
        .ok(Method::PUT, "/ver/doc", &[], "v1")
        .await
        .header("x-amz-version-id")
        .expect("id")
        .to_string();
    h.ok(Method::PUT, "/ver/doc", &[], "v2").await;
    h.ok(
        Method::PUT,
        "/ver/tmp/a",
        &[("x-amz-tagging", "kind=scratch")],
        "a",
    )
    .await;
    h.ok(Method::PUT, "/ver/tmp/b", &[], "b").await;
    h.ok(
        Method::PUT,
        "/ver?lifecycle",
        &[],
        "<LifecycleConfiguration>\
         <Rule><ID>old-versions</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>scratch</ID><Filter><And><Prefix>tmp/</Prefix><Tag><Key>kind</Key><Value>scratch</Value></Tag></And></Filter>\
         <Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         <Rule><ID>off</ID><Filter><Prefix>doc</Prefix></Filter><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
         </LifecycleConfiguration>",
    )
    .await;
    h.events.0.lock().expect("lock").clear();
    let later = SystemTime::now() + Duration::from_secs(3 * 86_400);
    // The noncurrent v1 goes; tmp/a (tagged) gets a delete marker.
    assert_eq!(h.s3.expire_now(later).await.expect("expire"), 2);
    let r = h
        .call(Method::GET, &format!("/ver/doc?versionId={old}"), &[], "")
        .await;
    assert_eq!(r.code(), "NoSuchVersion");
    assert_eq!(
        h.ok(Method::GET, "/ver/doc", &[], "").await.body.as_ref(),
        b"v2"
    );
    let r = h.call(Method::GET, "/ver/tmp/a", &[], "").await;
    assert_eq!(
        (r.status, r.header("x-amz-delete-marker")),
        (StatusCode::NOT_FOUND, Some("true"))
    );
    h.ok(Method::GET, "/ver/tmp/b", &[], "").await;
    let names: Vec<String> = h
        .events
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, e)| {
            e["Records"][0]["eventName"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "LifecycleExpiration:Delete",
            "LifecycleExpiration:DeleteMarkerCreated"
        ]
    );
    // Run again: the version under the marker is now noncurrent and old.
    let much_later = later + Duration::from_secs(3 * 86_400);
    assert_eq!(h.s3.expire_now(much_later).await.expect("expire"), 1);
    let t = h
        .ok(Method::GET, "/ver?versions&prefix=tmp/a", &[], "")
        .await
        .text();
    assert!(
        !t.contains("<Version>") && t.contains("<DeleteMarker>"),
        "{t}"
    );
}

#[tokio::test]
async fn list_uploads_with_delimiter_and_pages() {
    let h = harness();
    h.bucket("bkt").await;
    for key in ["a/1", "a/2", "b", "c/x"] {
        h.ok(Method::POST, &format!("/bkt/{key}?uploads"), &[], "")
            .await;
    }
    h.ok(Method::POST, "/bkt/b?uploads", &[], "").await;
    let t = h
        .ok(Method::GET, "/bkt?uploads&delimiter=/", &[], "")
        .await
        .text();
    assert_eq!(t.matches("<Upload>").count(), 2, "{t}");
    assert!(t.contains("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes>"), "{t}");
    let t = h
        .ok(Method::GET, "/bkt?uploads&max-uploads=3", &[], "")
        .await
        .text();
    assert!(t.contains("<IsTruncated>true</IsTruncated>"), "{t}");
    let next_key = t
        .split("<NextKeyMarker>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("key")
        .to_string();
    let next_id = t
        .split("<NextUploadIdMarker>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("id")
        .to_string();
    assert_eq!(next_key, "b");
    let t = h
        .ok(
            Method::GET,
            &format!("/bkt?uploads&key-marker={next_key}&upload-id-marker={next_id}"),
            &[],
            "",
        )
        .await
        .text();
    let keys: Vec<&str> = t
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    assert_eq!(keys, ["b", "c/x"], "{t}");
}

#[tokio::test]
async fn decoded_aws_chunked_uploads_keep_their_real_encoding_and_trailer_checksum() {
    let h = harness();
    h.bucket("bkt").await;
    let headers = [
        ("content-encoding", "aws-chunked,gzip"),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ("x-amz-decoded-content-length", "7"),
    ];
    h.ok(Method::PUT, "/bkt/z", &headers, "gzipped").await;
    let r = h
        .ok(
            Method::HEAD,
            "/bkt/z",
            &[("x-amz-checksum-mode", "ENABLED")],
            "",
        )
        .await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let want =
        base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(b"gzipped").to_be_bytes());
    assert_eq!(r.header("x-amz-checksum-crc32c"), Some(want.as_str()));
    h.ok(
        Method::PUT,
        "/bkt/plain",
        &[("content-encoding", "aws-chunked")],
        "x",
    )
    .await;
    let r = h.ok(Method::HEAD, "/bkt/plain", &[], "").await;
    assert_eq!(r.header("content-encoding"), None);
}

#[tokio::test]
async fn object_subresources_not_served_answer_not_implemented_and_touch_nothing() {
    let h = harness();
    h.bucket("subres").await;
    h.ok(Method::PUT, "/subres/k", &[], "original").await;
    for (method, path) in [
        (Method::PUT, "/subres/k?acl"),
        (Method::PUT, "/subres/new?acl"),
        (Method::GET, "/subres/k?acl"),
        (Method::GET, "/subres/k?attributes"),
        (Method::PUT, "/subres/k?retention"),
        (Method::POST, "/subres/k?select&select-type=2"),
    ] {
        let r = h
            .call(method.clone(), path, &[], "<AccessControlPolicy/>")
            .await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{method} {path}");
        assert_eq!(r.code(), "NotImplemented", "{method} {path}");
    }
    let r = h.ok(Method::GET, "/subres/k", &[], "").await;
    assert_eq!(r.text(), "original");
    let r = h.call(Method::GET, "/subres/new", &[], "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
