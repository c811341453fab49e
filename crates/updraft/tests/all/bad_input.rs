//! Bad input gets a clear error in Lambda's format (status,
//! `X-Amzn-ErrorType`, `{"Type","Message"}`), and the server keeps serving.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use serde_json::json;
use updraft_auth::Credentials;

use crate::support::*;

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    Server::shared(&SERVER, &[])
}

const LIST: &str = "/2015-03-31/functions";

// ---- authentication ------------------------------------------------------

#[test]
fn unsigned_request_is_403() {
    let s = server();
    let r = http().get(&format!("{}{LIST}", s.url));
    let msg = r.assert_error(403, "MissingAuthenticationTokenException");
    assert_eq!(msg, "Missing Authentication Token");
    let r = http().request(
        "POST",
        &format!("{}/2015-03-31/functions/x/invocations", s.url),
        &[],
        b"{}",
    );
    r.assert_error(403, "MissingAuthenticationTokenException");
    s.assert_alive();
}

#[test]
fn unknown_access_key_is_403() {
    let s = server();
    let stranger = Credentials {
        access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
        secret_access_key: "x".repeat(40),
    };
    let r = s.signed_with(
        "GET",
        LIST,
        &[],
        b"",
        &stranger,
        "lambda",
        SystemTime::now(),
    );
    let msg = r.assert_error(403, "UnrecognizedClientException");
    assert!(
        msg.contains("security token included in the request is invalid"),
        "{msg}"
    );
    s.assert_alive();
}

#[test]
fn wrong_signature_is_403() {
    let s = server();
    let mut creds = s.credentials();
    creds.secret_access_key = format!("{}x", &creds.secret_access_key[1..]);
    let r = s.signed_with("GET", LIST, &[], b"", &creds, "lambda", SystemTime::now());
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(
        msg.contains("signature we calculated does not match"),
        "{msg}"
    );

    // A correct signature over another body than the one sent.
    let url = format!("{}/2015-03-31/functions/x/invocations", s.url);
    let headers = sign_headers(
        "POST",
        &url,
        &[],
        b"{\"a\":1}",
        &s.credentials(),
        "lambda",
        SystemTime::now(),
    );
    let r = http().send("POST", &url, &headers, b"{\"a\":2}".to_vec());
    r.assert_error(403, "InvalidSignatureException");

    // Signed for another service.
    let r = s.signed_with(
        "GET",
        LIST,
        &[],
        b"",
        &s.credentials(),
        "sqs",
        SystemTime::now(),
    );
    r.assert_error(403, "InvalidSignatureException");
    s.assert_alive();
}

#[test]
fn clock_skew_over_15_minutes_is_403() {
    let s = server();
    let creds = s.credentials();
    let past = SystemTime::now() - Duration::from_secs(16 * 60);
    let r = s.signed_with("GET", LIST, &[], b"", &creds, "lambda", past);
    let msg = r.assert_error(403, "InvalidSignatureException");
    assert!(
        msg.contains("Signature expired") || msg.contains("expired"),
        "{msg}"
    );
    let future = SystemTime::now() + Duration::from_secs(16 * 60);
    let r = s.signed_with("GET", LIST, &[], b"", &creds, "lambda", future);
    r.assert_error(403, "InvalidSignatureException");
    // Within the window is fine.
    let near = SystemTime::now() - Duration::from_secs(14 * 60);
    let r = s.signed_with("GET", LIST, &[], b"", &creds, "lambda", near);
    assert_eq!(r.status, 200, "{}", r.text());
    s.assert_alive();
}

// ---- deployment packages -------------------------------------------------

#[track_caller]
fn create_fails(zip: &[u8], status: u16, error_type: &str) -> String {
    let s = server();
    let name = unique("bad-zip");
    let r = s.create_function_zip(&name, zip, json!({}));
    let msg = r.assert_error(status, error_type);
    // Nothing was created.
    let got = s.api("GET", &format!("/2015-03-31/functions/{name}"), None);
    got.assert_error(404, "ResourceNotFoundException");
    s.assert_alive();
    msg
}

#[test]
fn invalid_wasm_is_400() {
    let zip = guests::zip_single("f.wasm", b"\0asm\x01\0\0\0this is not a module");
    let msg = create_fails(&zip, 400, "InvalidParameterValueException");
    assert!(!msg.is_empty());
    let zip = guests::zip_single("f.wasm", b"#!/bin/sh\necho hi\n");
    create_fails(&zip, 400, "InvalidParameterValueException");
}

#[test]
fn not_a_zip_is_400() {
    let msg = create_fails(
        b"this is not a zip file at all",
        400,
        "InvalidParameterValueException",
    );
    assert!(msg.contains("unzip"), "{msg}");
}

#[test]
fn zip_without_wasm_or_with_two_is_400() {
    let zip = guests::zip_single("README.txt", b"no code here");
    let msg = create_fails(&zip, 400, "InvalidParameterValueException");
    assert!(msg.contains(".wasm"), "{msg}");
    let wasm = guests::read_guest(guests::HTTP_ECHO);
    let zip = guests::zip_files(&[("a.wasm", &wasm), ("b.wasm", &wasm)]);
    let msg = create_fails(&zip, 400, "InvalidParameterValueException");
    assert!(msg.contains(".wasm"), "{msg}");
}

#[test]
fn path_traversal_entry_is_400() {
    let wasm = guests::read_guest(guests::HTTP_ECHO);
    let zip = guests::zip_single("../x.wasm", &wasm);
    let msg = create_fails(&zip, 400, "InvalidParameterValueException");
    assert!(msg.contains("../x.wasm"), "{msg}");
    let zip = guests::zip_files(&[("f.wasm", &wasm), ("dir/../../etc/evil", b"x")]);
    create_fails(&zip, 400, "InvalidParameterValueException");
    let zip = guests::zip_files(&[("f.wasm", &wasm), ("/abs/path", b"x")]);
    create_fails(&zip, 400, "InvalidParameterValueException");
}

/// A zip of a real function plus 260 MB of zeros in a few hundred KB,
/// written with the zip crate's streaming writer: 4 MiB of zeros are
/// deflated once, then the compressed entry is copied 65 times (deflating
/// 260 MB in a debug build would take seconds).
fn zip_bomb() -> Vec<u8> {
    const CHUNK_MIB: usize = 4;
    const COPIES: usize = 65;
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut one = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    one.start_file("zeros", deflated).unwrap();
    let mib = vec![0u8; 1 << 20];
    for _ in 0..CHUNK_MIB {
        one.write_all(&mib).unwrap();
    }
    let one = one.finish().unwrap().into_inner();
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(one)).unwrap();

    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("function.wasm", deflated).unwrap();
    w.write_all(&guests::read_guest(guests::HTTP_ECHO)).unwrap();
    for i in 0..COPIES {
        let entry = source.by_index(0).unwrap();
        w.raw_copy_file_rename(entry, format!("zeros-{i:03}.bin"))
            .unwrap();
    }
    let zip = w.finish().unwrap().into_inner();

    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone())).unwrap();
    let total: u64 = (0..archive.len())
        .map(|i| archive.clone().by_index(i).unwrap().size())
        .sum();
    assert!(total > 250 * 1024 * 1024, "the bomb holds {total} bytes");
    zip
}

#[test]
fn zip_bomb_is_400() {
    let zip = zip_bomb();
    assert!(
        zip.len() < 2 << 20,
        "the bomb is small: {} bytes",
        zip.len()
    );
    let msg = create_fails(&zip, 400, "InvalidParameterValueException");
    assert!(msg.contains("Unzipped size must be smaller than"), "{msg}");
}

// ---- request bodies ------------------------------------------------------

#[test]
fn unknown_json_field_is_400_naming_it() {
    let s = server();
    let zip = guest_zip(guests::HTTP_ECHO);
    let r = s.create_function_zip(&unique("field"), &zip, json!({"MemorySizee": 256}));
    let msg = r.assert_error(400, "InvalidRequestContentException");
    assert!(msg.contains("MemorySizee"), "{msg}");
    // Nested, in UpdateFunctionConfiguration.
    let name = unique("field");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.api(
        "PUT",
        &format!("/2015-03-31/functions/{name}/configuration"),
        Some(json!({"Environment": {"Vars": {"A": "b"}}})),
    );
    let msg = r.assert_error(400, "InvalidRequestContentException");
    assert!(msg.contains("Vars"), "{msg}");
    s.assert_alive();
}

#[test]
fn wrong_type_is_400_naming_the_field() {
    let s = server();
    let zip = guest_zip(guests::HTTP_ECHO);
    let r = s.create_function_zip(&unique("type"), &zip, json!({"Timeout": "ten"}));
    let msg = r.assert_error(400, "InvalidRequestContentException");
    assert!(msg.contains("Timeout"), "{msg}");
    let r = s.create_function_zip(
        &unique("type"),
        &zip,
        json!({"Environment": {"Variables": {"A": 1}}}),
    );
    let msg = r.assert_error(400, "InvalidRequestContentException");
    assert!(msg.contains("Environment.Variables.A"), "{msg}");
    let r = s.signed(
        "POST",
        LIST,
        &[("content-type", "application/json")],
        b"{\"FunctionName\": ",
    );
    r.assert_error(400, "InvalidRequestContentException");
    s.assert_alive();
}

#[test]
fn memory_and_timeout_out_of_range_are_400() {
    let s = server();
    let zip = guest_zip(guests::HTTP_ECHO);
    let r = s.create_function_zip(&unique("limits"), &zip, json!({"MemorySize": 64}));
    let msg = r.assert_error(400, "ValidationException");
    assert!(msg.contains("Value '64' at 'memorySize'"), "{msg}");
    let r = s.create_function_zip(&unique("limits"), &zip, json!({"Timeout": 901}));
    let msg = r.assert_error(400, "ValidationException");
    assert!(msg.contains("Value '901' at 'timeout'"), "{msg}");
    let r = s.create_function_zip(
        &unique("limits"),
        &zip,
        json!({"MemorySize": 10241, "Timeout": 0}),
    );
    let msg = r.assert_error(400, "ValidationException");
    assert!(msg.starts_with("2 validation errors detected"), "{msg}");

    // The same limits on UpdateFunctionConfiguration; nothing changes.
    let name = unique("limits");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let path = format!("/2015-03-31/functions/{name}/configuration");
    let r = s.api("PUT", &path, Some(json!({"MemorySize": 64})));
    r.assert_error(400, "ValidationException");
    let r = s.api("PUT", &path, Some(json!({"Timeout": 901})));
    r.assert_error(400, "ValidationException");
    let cfg = s.api("GET", &path, None).json();
    assert_eq!(
        (cfg["MemorySize"].as_u64(), cfg["Timeout"].as_u64()),
        (Some(128), Some(3))
    );
    s.assert_alive();
}

#[test]
fn payload_over_6_mb_is_413() {
    let s = server();
    let name = unique("big");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let mut payload = b"\"".to_vec();
    payload.extend(std::iter::repeat_n(b'a', 6 * 1024 * 1024 + 10));
    payload.push(b'"');
    let r = s.invoke(&name, &payload);
    r.assert_error(413, "RequestTooLargeException");
    // Async: the limit is 1 MB.
    let mut payload = b"\"".to_vec();
    payload.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    payload.push(b'"');
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        &[("x-amz-invocation-type", "Event")],
        &payload,
    );
    r.assert_error(413, "RequestTooLargeException");
    // Just under the limit still runs.
    let r = s.invoke(&name, &payload);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"].as_str().map(str::len), Some(payload.len()));
    s.assert_alive();
}

#[test]
fn payload_that_is_not_json_is_400() {
    let s = server();
    let name = unique("notjson");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.invoke(&name, b"{not json");
    r.assert_error(400, "InvalidRequestContentException");
    s.assert_alive();
}

// ---- resources -----------------------------------------------------------

#[test]
fn duplicate_create_is_409() {
    let s = server();
    let name = unique("dup");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.create_function_zip(&name, &guest_zip(guests::HTTP_STATE), json!({}));
    let msg = r.assert_error(409, "ResourceConflictException");
    assert!(msg.contains(&name), "{msg}");
    // The first function is untouched.
    let r = s.invoke(&name, b"{\"still\":\"echo\"}");
    assert_eq!(r.json()["body"], "{\"still\":\"echo\"}");
    s.assert_alive();
}

#[test]
fn missing_function_is_404_for_every_operation() {
    let s = server();
    let fpath = "/2015-03-31/functions/does-not-exist";
    s.api("GET", fpath, None)
        .assert_error(404, "ResourceNotFoundException");
    s.api("GET", &format!("{fpath}/configuration"), None)
        .assert_error(404, "ResourceNotFoundException");
    s.api("DELETE", fpath, None)
        .assert_error(404, "ResourceNotFoundException");
    s.invoke("does-not-exist", b"{}")
        .assert_error(404, "ResourceNotFoundException");
    // Event and DryRun check the function first: never a 202 or 204.
    for kind in ["Event", "DryRun"] {
        let r = s.signed(
            "POST",
            &format!("{fpath}/invocations"),
            &[("x-amz-invocation-type", kind)],
            b"{}",
        );
        r.assert_error(404, "ResourceNotFoundException");
    }
    // A missing version or alias of an existing function.
    let name = unique("exists");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations?Qualifier=7"),
        &[],
        b"{}",
    );
    r.assert_error(404, "ResourceNotFoundException");
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations?Qualifier=nope"),
        &[("x-amz-invocation-type", "Event")],
        b"{}",
    );
    r.assert_error(404, "ResourceNotFoundException");
    s.assert_alive();
}

#[test]
fn function_error_is_200_with_unhandled() {
    let s = server();
    let name = unique("fails");
    s.deploy(&name, guests::HTTP_500, json!({}));
    let r = s.invoke(&name, b"{}");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(r.header("x-amz-executed-version"), Some("$LATEST"));
    let body = r.json();
    assert!(body["errorMessage"].is_string(), "{body}");
    assert!(body["errorType"].is_string(), "{body}");
    // The environment is kept: the next call answers the same way.
    let r = s.invoke(&name, b"{}");
    assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    s.assert_alive();
}

#[test]
fn unknown_operation_and_bad_headers_are_rejected() {
    let s = server();
    let r = s.api("GET", "/2015-03-31/nothing-here", None);
    assert_eq!(r.status, 404, "{}", r.text());
    let name = unique("hdr");
    s.deploy(&name, guests::HTTP_ECHO, json!({}));
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        &[("x-amz-invocation-type", "Sometimes")],
        b"{}",
    );
    r.assert_error(400, "InvalidParameterValueException");
    let r = s.signed(
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        &[("x-amz-log-type", "Everything")],
        b"{}",
    );
    r.assert_error(400, "InvalidParameterValueException");
    s.assert_alive();
}
