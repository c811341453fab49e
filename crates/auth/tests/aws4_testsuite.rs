//! The AWS Signature Version 4 test suite, as botocore ships it, run against
//! [`Verifier`].
//!
//! `scripts/conformance/fetch` unpacks the suite from the botocore sdist into
//! `target/conformance/aws4_testsuite/`: one folder per case, whose `.sreq`
//! file is the signed HTTP request. Each `.sreq` is parsed into method, path,
//! query, headers and body exactly as written (the request target is not
//! re-encoded) and must verify with the suite's key pair, service `service`
//! at 2015-08-30T12:36:00Z. Every request that verifies is then tampered
//! with (body, method, path, query, each signed header) and each tampered
//! copy must be refused; a header outside `SignedHeaders` may be added.
//!
//! Cases the verifier handles differently on purpose are listed in
//! `conformance/aws4_testsuite.accepted` with a reason each. The test fails
//! on a failure not listed, on a listed case that passes or does not exist,
//! and on any tampered request that verifies (never acceptable). Without the
//! suite it fails under CI (`CI` set) and is skipped otherwise.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use updraft_auth::{AuthError, Credentials, SignedRequest, Verifier};

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SERVICE: &str = "service";
const REGION: &str = "us-east-1";
/// The suite's `X-Amz-Date`, 20150830T123600Z.
const SUITE_TIME_SECS: u64 = 1_440_938_160;
/// Fewer cases than this means the suite was not unpacked whole.
const MIN_CASES: usize = 30;

/// The workspace root: `crates/auth` is two levels down.
fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SUITE_TIME_SECS)
}

/// Writes past the test harness's output capture, so the summary is seen
/// on every run.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A request as the server would hand it to the verifier.
#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    fn verify(&self, verifier: &Verifier) -> Result<updraft_auth::VerifiedIdentity, AuthError> {
        let signed = SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
            authority: None,
        };
        verifier.verify(&signed, SERVICE, now())
    }

    /// The `SignedHeaders` list of the `Authorization` header.
    fn signed_headers(&self) -> Vec<String> {
        let authz = self
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        authz
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("SignedHeaders="))
            .flat_map(|list| list.split(';').map(str::to_string))
            .collect()
    }

    /// A copy whose first `name` header has the value `value`.
    fn with_header(&self, name: &str, value: &str) -> Request {
        let mut out = self.clone();
        out.headers = HeaderMap::new();
        let mut replaced = false;
        for (k, v) in self.headers.iter() {
            if k.as_str() == name && !replaced {
                replaced = true;
                out.headers.append(
                    k.clone(),
                    HeaderValue::from_str(value).expect("ASCII value"),
                );
            } else {
                out.headers.append(k.clone(), v.clone());
            }
        }
        out
    }
}

/// Parses a raw HTTP/1.1 request as the suite writes it: the request line,
/// `Name:value` header lines, an empty line, the body. The request target
/// runs from the first space to the last one (`get-space` has a space in
/// its path). A line that starts with whitespace continues the previous
/// header (obs-fold); it is kept as a line break so that it fails where a
/// server's HTTP stack would refuse it.
fn parse_request(raw: &[u8]) -> Result<Request, String> {
    let (head, body) = match (find(raw, b"\r\n\r\n"), find(raw, b"\n\n")) {
        (Some(i), lf) if lf.is_none_or(|j| i < j) => (&raw[..i], raw[i + 4..].to_vec()),
        (_, Some(j)) => (&raw[..j], raw[j + 2..].to_vec()),
        _ => (raw, Vec::new()),
    };
    let head = std::str::from_utf8(head).map_err(|e| format!("head is not UTF-8: {e}"))?;
    let mut lines = head.lines();
    let request_line = lines.next().ok_or("empty request")?;
    let (method, rest) = request_line
        .split_once(' ')
        .ok_or_else(|| format!("bad request line {request_line:?}"))?;
    let (target, version) = rest
        .rsplit_once(' ')
        .ok_or_else(|| format!("bad request line {request_line:?}"))?;
    if !version.starts_with("HTTP/") {
        return Err(format!("bad request line {request_line:?}"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let (_, value) = fields
                .last_mut()
                .ok_or_else(|| format!("continuation line before any header: {line:?}"))?;
            value.push('\n');
            value.push_str(line);
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        fields.push((
            name.to_string(),
            value.trim_matches([' ', '\t']).to_string(),
        ));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(&value).map_err(|e| {
            if value.contains('\n') {
                format!(
                    "header {header} is folded over several lines (obs-fold), which an \
                     http::HeaderValue cannot hold: {e}"
                )
            } else {
                format!("header {header} value {value:?}: {e}")
            }
        })?;
        headers.append(header, value);
    }
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Why a case did not pass.
enum Failure {
    /// The signed request did not verify (or could not be built).
    Verify(String),
    /// A tampered copy verified, or an untouched one was refused after an
    /// unsigned header was added. Never acceptable.
    Tamper(String),
}

fn run_case(verifier: &Verifier, sreq: &Path) -> Result<(), Failure> {
    let raw = std::fs::read(sreq).map_err(|e| Failure::Verify(format!("reading: {e}")))?;
    let request = parse_request(&raw).map_err(Failure::Verify)?;
    let identity = request
        .verify(verifier)
        .map_err(|e| Failure::Verify(format!("refused: {e:?}")))?;
    let expected = (ACCESS_KEY_ID, REGION, SERVICE, now(), false);
    let got = (
        identity.access_key_id.as_str(),
        identity.region.as_str(),
        identity.service.as_str(),
        identity.signed_at,
        identity.presigned,
    );
    if got != expected {
        return Err(Failure::Verify(format!(
            "verified as {got:?}, expected {expected:?}"
        )));
    }
    check_tampering(verifier, &request).map_err(Failure::Tamper)
}

/// Every change to a signed part must be refused as a signature mismatch;
/// adding an unsigned header must not matter.
fn check_tampering(verifier: &Verifier, request: &Request) -> Result<(), String> {
    let mut tampered: Vec<(String, Request)> = Vec::new();

    let mut r = request.clone();
    r.body.push(b'x');
    tampered.push(("one byte appended to the body".into(), r));

    let mut r = request.clone();
    r.method = if request.method == "GET" {
        "POST"
    } else {
        "GET"
    }
    .into();
    tampered.push((format!("method changed to {}", r.method), r));

    let mut r = request.clone();
    r.path.push('x');
    tampered.push((format!("path changed to {:?}", r.path), r));

    let mut r = request.clone();
    r.query = if r.query.is_empty() {
        "tampered=1".into()
    } else {
        format!("{}&tampered=1", r.query)
    };
    tampered.push((format!("query changed to {:?}", r.query), r));

    let signed = request.signed_headers();
    if signed.is_empty() {
        return Err("the Authorization header lists no SignedHeaders".into());
    }
    for name in &signed {
        let value = match name.as_str() {
            // One second later: same scope date, within the clock skew, so
            // only the signature can tell.
            "x-amz-date" => "20150830T123601Z".to_string(),
            _ => {
                let old = request
                    .headers
                    .get(name.as_str())
                    .ok_or_else(|| format!("signed header {name} is not in the request"))?;
                format!("{}x", old.to_str().map_err(|e| format!("{name}: {e}"))?)
            }
        };
        tampered.push((
            format!("signed header {name} changed to {value:?}"),
            request.with_header(name, &value),
        ));
    }

    let mut problems = Vec::new();
    for (what, r) in &tampered {
        match r.verify(verifier) {
            Err(AuthError::InvalidSignature) => {}
            Err(other) => problems.push(format!("{what}: refused with {other:?}")),
            Ok(_) => problems.push(format!("{what}: still verified")),
        }
    }

    let mut r = request.clone();
    r.headers.append(
        HeaderName::from_static("x-unsigned-extra"),
        HeaderValue::from_static("1"),
    );
    if let Err(e) = r.verify(verifier) {
        problems.push(format!("an unsigned header added: refused with {e:?}"));
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Every case folder under `suite`, by its path relative to `suite`
/// (`get-vanilla`, `normalize-path/get-slash`), with its `.sreq` file.
fn find_cases(suite: &Path) -> BTreeMap<String, PathBuf> {
    let mut cases = BTreeMap::new();
    let mut dirs = vec![suite.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                let leaf = path.file_name().expect("folder name").to_owned();
                let sreq = path.join(leaf).with_extension("sreq");
                if sreq.is_file() {
                    let name = path
                        .strip_prefix(suite)
                        .expect("under the suite")
                        .to_string_lossy()
                        .replace('\\', "/");
                    cases.insert(name, sreq);
                }
                dirs.push(path);
            }
        }
    }
    cases
}

/// `case: reason` lines; blank lines and `#` comments are ignored.
fn read_accepted(path: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut accepted = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (case, reason) = line.split_once(':').unwrap_or((line, ""));
        assert!(
            !reason.trim().is_empty(),
            "{}:{}: `{line}` needs a reason after `case:`",
            path.display(),
            n + 1
        );
        accepted.insert(case.trim().to_string(), reason.trim().to_string());
    }
    accepted
}

/// The unpacked suite; `None` (after a notice) when it is missing outside CI.
fn suite_dir() -> Option<PathBuf> {
    let suite = repo_root().join("target/conformance/aws4_testsuite");
    if suite.is_dir() {
        return Some(suite);
    }
    let missing = format!(
        "{} is missing: scripts/conformance/fetch (run by scripts/install-test-deps) \
         unpacks it from the botocore sdist",
        suite.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("aws4_testsuite: {missing}");
    }
    report(&format!("aws4_testsuite: skipped, {missing}"));
    None
}

fn verifier() -> Verifier {
    Verifier::new(vec![Credentials {
        access_key_id: ACCESS_KEY_ID.into(),
        secret_access_key: SECRET_ACCESS_KEY.into(),
    }])
}

#[test]
fn aws4_testsuite() {
    let Some(suite) = suite_dir() else {
        return;
    };
    let root = repo_root();
    let accepted = read_accepted(&root.join("conformance/aws4_testsuite.accepted"));
    let cases = find_cases(&suite);
    assert!(
        cases.len() >= MIN_CASES,
        "aws4_testsuite: only {} cases under {}, expected at least {MIN_CASES}; \
         delete the folder and run scripts/conformance/fetch again",
        cases.len(),
        suite.display()
    );

    let verifier = verifier();
    let mut passed = 0;
    let mut accepted_failures = 0;
    let mut problems = Vec::new();
    for (name, sreq) in &cases {
        match (run_case(&verifier, sreq), accepted.get(name)) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(reason)) => problems.push(format!(
                "{name}: passes now, remove it from conformance/aws4_testsuite.accepted \
                 (listed as: {reason})"
            )),
            (Err(Failure::Verify(_)), Some(_)) => accepted_failures += 1,
            (Err(Failure::Verify(e)), None) => problems.push(format!("{name}: {e}")),
            (Err(Failure::Tamper(e)), _) => {
                problems.push(format!("{name}: tampering not detected: {e}"))
            }
        }
    }
    for name in accepted.keys() {
        if !cases.contains_key(name) {
            problems.push(format!(
                "{name}: listed in conformance/aws4_testsuite.accepted but not in the suite"
            ));
        }
    }
    report(&format!(
        "aws4_testsuite: {passed} passed, {accepted_failures} accepted failures"
    ));
    assert!(
        problems.is_empty(),
        "aws4_testsuite ({}):\n  {}",
        suite.display(),
        problems.join("\n  ")
    );
}

/// `get-vanilla-with-session-token` is an accepted failure because its
/// `.sreq` carries the wrong signature: with the `Authorization` value of its
/// `.authz` file the same request verifies, and tampering is caught.
#[test]
fn session_token_case_verifies_with_its_authz() {
    let Some(suite) = suite_dir() else {
        return;
    };
    let case = suite.join("get-vanilla-with-session-token/get-vanilla-with-session-token");
    let raw = std::fs::read(case.with_extension("sreq")).expect("reading the .sreq");
    let authz = std::fs::read_to_string(case.with_extension("authz")).expect("reading the .authz");
    let request = parse_request(&raw).expect("parsing the .sreq");
    let verifier = verifier();
    assert_eq!(
        request.verify(&verifier).err(),
        Some(AuthError::InvalidSignature),
        "the .sreq as shipped"
    );
    let fixed = request.with_header("authorization", authz.trim());
    let identity = fixed
        .verify(&verifier)
        .expect("the .sreq with the .authz signature verifies");
    assert_eq!(identity.access_key_id, ACCESS_KEY_ID);
    if let Err(e) = check_tampering(&verifier, &fixed) {
        panic!("tampering not detected: {e}");
    }
}
