//! Crash safety: a child process (this test binary, re-executed) runs
//! concurrent PUTs and multipart completes against a store until it is
//! killed with SIGKILL; the store is then reopened and every object must be
//! a whole generation of its content (old or new, never torn) matching its
//! ETag, with no partial files left.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use md5::{Digest, Md5};
use updraft_s3::{Access, Denied, NoNotifier, S3Config, S3Request, S3};

const CHILD_ENV: &str = "UPDRAFT_S3_CRASH_CHILD";
const PART: usize = 5 * 1024 * 1024;
const WRITERS: usize = 6;
const UPLOADERS: usize = 2;

struct Allow;

impl Access for Allow {
    fn account(&self) -> Option<&str> {
        Some("111122223333")
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
}

/// Generation `g` of `key`'s content: a header line naming it, then bytes
/// derived from (key, g, position).
fn content(key: &str, g: u64, len: usize) -> Vec<u8> {
    let mut out = format!("{key}|{g}|{len}\n").into_bytes();
    let seed = key.bytes().map(u64::from).sum::<u64>() + g * 7;
    out.extend((out.len()..len).map(|i| ((i as u64 * 131 + seed) % 251) as u8));
    out.truncate(len);
    out
}

async fn call(s3: &S3, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    headers.insert("host", "localhost".parse().expect("host"));
    let mut req = S3Request::new(method, uri.parse().expect("uri"), headers, Arc::new(Allow));
    // Stream the body in 64 KiB pieces, as a network would.
    let pieces: Vec<Result<Bytes, updraft_s3::BodyError>> = Bytes::from(body)
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    req.body = Box::pin(futures::stream::iter(pieces));
    let resp = s3.serve(req).await;
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts.status, parts.headers, body)
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    s.split(a).nth(1).and_then(|r| r.split(b).next())
}

async fn writer(s3: Arc<S3>, n: usize, ready: PathBuf) {
    let key = format!("k{n}");
    for g in 1u64.. {
        let len = 50_000 + ((g as usize * 7919 + n * 104_729) % 1_500_000);
        let (status, _, _) = call(
            &s3,
            Method::PUT,
            &format!("/crash/{key}"),
            content(&key, g, len),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        if g == 2 {
            let _ = std::fs::write(&ready, b"");
        }
    }
}

async fn uploader(s3: Arc<S3>, n: usize) {
    let key = format!("mp{n}");
    for g in 1u64.. {
        let data = content(&key, g, PART + 1000 + (g as usize % 5) * 10_000);
        let (_, _, body) = call(
            &s3,
            Method::POST,
            &format!("/crash/{key}?uploads"),
            Vec::new(),
        )
        .await;
        let text = String::from_utf8_lossy(&body).into_owned();
        let id = between(&text, "<UploadId>", "<")
            .expect("upload id")
            .to_string();
        let mut etags = Vec::new();
        for (i, chunk) in data.chunks(PART).enumerate() {
            let uri = format!("/crash/{key}?partNumber={}&uploadId={id}", i + 1);
            let (status, headers, _) = call(&s3, Method::PUT, &uri, chunk.to_vec()).await;
            assert_eq!(status, StatusCode::OK);
            etags.push(
                headers
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string(),
            );
        }
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            doc.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let (status, _, body) = call(
            &s3,
            Method::POST,
            &format!("/crash/{key}?uploadId={id}"),
            doc.into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
}

/// The child: writes until killed.
fn child(dir: &Path) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let s3 = S3::open(dir, S3Config::default(), Arc::new(NoNotifier)).expect("open");
        let (status, _, _) = call(&s3, Method::PUT, "/crash", Vec::new()).await;
        assert!(status == StatusCode::OK || status == StatusCode::CONFLICT);
        let mut tasks = Vec::new();
        for n in 0..WRITERS {
            tasks.push(tokio::spawn(writer(s3.clone(), n, dir.join("ready"))));
        }
        for n in 0..UPLOADERS {
            tasks.push(tokio::spawn(uploader(s3.clone(), n)));
        }
        for t in tasks {
            t.await.expect("task");
        }
    });
}

/// Checks every object is a whole generation matching its ETag; returns
/// how many objects there are and how many of them are multipart.
async fn verify(dir: &Path) -> (usize, usize) {
    let s3 = S3::open(dir, S3Config::default(), Arc::new(NoNotifier)).expect("reopen");
    let leftovers = std::fs::read_dir(dir.join("tmp")).expect("tmp").count();
    assert_eq!(leftovers, 0, "partial blobs are swept at open");
    let (_, _, listing) = call(&s3, Method::GET, "/crash?list-type=2", Vec::new()).await;
    let listing = String::from_utf8_lossy(&listing).into_owned();
    let keys: Vec<String> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect();
    for key in &keys {
        let (status, headers, body) =
            call(&s3, Method::GET, &format!("/crash/{key}"), Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        let header = body.split(|b| *b == b'\n').next().expect("header");
        let header = String::from_utf8_lossy(header).into_owned();
        let fields: Vec<&str> = header.split('|').collect();
        assert_eq!(fields.len(), 3, "{key}: header {header:?}");
        assert_eq!(fields[0], key);
        let g: u64 = fields[1].parse().expect("generation");
        let len: usize = fields[2].parse().expect("length");
        assert!(
            body[..] == content(key, g, len)[..],
            "{key} generation {g} is torn"
        );
        let etag = headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .expect("etag")
            .trim_matches('"')
            .to_string();
        let want = if etag.contains('-') {
            let mut digests = Vec::new();
            for chunk in body.chunks(PART) {
                digests.extend_from_slice(&Md5::digest(chunk));
            }
            format!(
                "{}-{}",
                hex::encode(Md5::digest(&digests)),
                body.chunks(PART).count()
            )
        } else {
            hex::encode(Md5::digest(&body))
        };
        assert_eq!(etag, want, "{key}: the ETag matches the bytes");
    }
    let multipart = keys.iter().filter(|k| k.starts_with("mp")).count();
    (keys.len(), multipart)
}

#[test]
fn kill_during_puts_and_completes() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut multipart_seen = 0;
    for round in 0..3u64 {
        let _ = std::fs::remove_file(dir.path().join("ready"));
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "kill_during_puts_and_completes",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let start = Instant::now();
        while !dir.path().join("ready").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the child never got going"
            );
            if let Some(status) = child.try_wait().expect("wait") {
                panic!("the child stopped early: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300 + round * 450));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (objects, multipart) = rt.block_on(verify(dir.path()));
        assert!(objects >= WRITERS, "round {round}: only {objects} objects");
        eprintln!("round {round}: {objects} objects checked, {multipart} multipart");
        multipart_seen += multipart;
    }
    assert!(
        multipart_seen > 0,
        "no multipart upload completed before the kills"
    );
}
