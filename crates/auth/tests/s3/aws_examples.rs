//! The examples of AWS's S3 SigV4 documentation ("Signature Calculations
//! for the Authorization Header", "Authenticating Requests: Using Query
//! Parameters", "Transferring Payload in Multiple Chunks" and "Including
//! Trailing Headers"): access key AKIAIOSFODNN7EXAMPLE, 2013-05-24, bucket
//! examplebucket, us-east-1.

use updraft_auth::{AuthError, ChecksumAlgorithm, Payload, PayloadError, VerifiedChecksum};

use super::{amz_time, decode, secs, split, Received};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HOST: &str = "examplebucket.s3.amazonaws.com";

fn auth(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders={signed_headers},Signature={signature}"
    )
}

fn get_object() -> Received {
    let a = auth(
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
    Received::new(
        "GET",
        HOST,
        "/test.txt",
        &[
            ("host", HOST),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", DATE),
            ("authorization", &a),
        ],
    )
}

#[test]
fn get_object_example_verifies_with_the_signed_empty_hash() {
    let (identity, payload) = get_object()
        .verify(KEY, SECRET, None, amz_time(DATE))
        .unwrap();
    assert_eq!(identity.access_key_id, KEY);
    assert_eq!(identity.region, "us-east-1");
    assert_eq!(identity.service, "s3");
    assert!(!identity.presigned);
    assert_eq!(
        payload,
        Payload::Signed {
            sha256_hex: EMPTY.into()
        }
    );
    let (body, _) = decode(payload, vec![]);
    assert_eq!(body.unwrap(), b"");
}

#[test]
fn get_object_example_fails_when_a_signed_header_changes() {
    let mut req = get_object();
    req.headers.insert("range", "bytes=0-10".parse().unwrap());
    let err = req.verify(KEY, SECRET, None, amz_time(DATE)).unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    assert_eq!(err.s3_status(), 403);
}

#[test]
fn get_object_example_needs_its_content_sha256_header() {
    let mut req = get_object();
    req.headers.remove("x-amz-content-sha256");
    let err = req.verify(KEY, SECRET, None, amz_time(DATE)).unwrap_err();
    assert_eq!(err, AuthError::MissingContentSha256);
    assert_eq!(err.s3_code(), "InvalidRequest");
    assert_eq!(err.s3_status(), 400);
    assert_eq!(
        err.s3_message(),
        "Missing required header for this request: x-amz-content-sha256"
    );
}

#[test]
fn header_signatures_outside_the_skew_are_request_time_too_skewed() {
    let err = get_object()
        .verify(KEY, SECRET, None, amz_time(DATE) + secs(16 * 60))
        .unwrap_err();
    assert_eq!(err.s3_code(), "RequestTimeTooSkewed");
    assert_eq!(err.s3_status(), 403);
    let err = get_object()
        .verify(KEY, SECRET, None, amz_time(DATE) - secs(16 * 60))
        .unwrap_err();
    assert_eq!(err.s3_code(), "RequestTimeTooSkewed");
}

#[test]
fn unknown_keys_are_invalid_access_key_id() {
    let err = get_object()
        .verify("AKIAOTHER", SECRET, None, amz_time(DATE))
        .unwrap_err();
    assert_eq!(err.s3_code(), "InvalidAccessKeyId");
    assert_eq!(err.s3_status(), 403);
}

#[test]
fn put_object_example_verifies_and_its_body_must_hash_as_signed() {
    let a = auth(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    );
    let req = Received::new(
        "PUT",
        HOST,
        "/test%24file.text",
        &[
            ("host", HOST),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            ("authorization", &a),
        ],
    );
    let (_, payload) = req.verify(KEY, SECRET, None, amz_time(DATE)).unwrap();
    let body = b"Welcome to Amazon S3.";
    let (decoded, _) = decode(payload.clone(), split(body, &[1, 5, 2]));
    assert_eq!(decoded.unwrap(), body);

    let (decoded, _) = decode(payload, vec![b"Welcome to Amazon S4.".to_vec()]);
    let err = decoded.unwrap_err();
    assert!(matches!(err, PayloadError::ContentSha256Mismatch));
    assert_eq!(err.s3_code(), "XAmzContentSHA256Mismatch");
    assert_eq!(err.status(), 400);
}

#[test]
fn get_bucket_lifecycle_and_list_objects_examples_verify() {
    for (query, signature) in [
        (
            "lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (
            "max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ] {
        let a = auth("host;x-amz-content-sha256;x-amz-date", signature);
        let req = Received::new(
            "GET",
            HOST,
            &format!("/?{query}"),
            &[
                ("host", HOST),
                ("x-amz-date", DATE),
                ("x-amz-content-sha256", EMPTY),
                ("authorization", &a),
            ],
        );
        req.verify(KEY, SECRET, None, amz_time(DATE))
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }
}

fn presigned_get() -> Received {
    Received::new(
        "GET",
        HOST,
        "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        &[("host", HOST)],
    )
}

#[test]
fn presigned_url_example_verifies_until_it_expires() {
    let t = amz_time(DATE);
    let (identity, payload) = presigned_get().verify(KEY, SECRET, None, t).unwrap();
    assert!(identity.presigned);
    assert_eq!(payload, Payload::Unsigned);
    presigned_get()
        .verify(KEY, SECRET, None, t + secs(86400))
        .unwrap();

    let err = presigned_get()
        .verify(KEY, SECRET, None, t + secs(86401))
        .unwrap_err();
    assert_eq!(err, AuthError::RequestExpired);
    assert_eq!(err.s3_code(), "AccessDenied");
    assert_eq!(err.s3_message(), "Request has expired");
    assert_eq!(err.s3_status(), 403);
}

#[test]
fn presigned_url_example_is_refused_before_its_date() {
    let err = presigned_get()
        .verify(KEY, SECRET, None, amz_time(DATE) - secs(16 * 60))
        .unwrap_err();
    assert_eq!(err, AuthError::RequestNotYetValid);
    assert_eq!(err.s3_code(), "AccessDenied");
}

#[test]
fn presigned_url_example_fails_for_another_path() {
    let mut req = presigned_get();
    req.path = "/test2.txt".into();
    let err = req.verify(KEY, SECRET, None, amz_time(DATE)).unwrap_err();
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
}

const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CHUNK_SIGNATURES: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn chunked_put(
    content_sha256: &str,
    signed_headers: &str,
    seed: &str,
    extra: &[(&str, &str)],
) -> Received {
    let a = auth(signed_headers, seed);
    let mut headers = vec![
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", DATE),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", content_sha256),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("authorization", a.as_str()),
    ];
    headers.extend_from_slice(extra);
    Received::new(
        "PUT",
        "s3.amazonaws.com",
        "/examplebucket/chunkObject.txt",
        &headers,
    )
}

/// The example's body: 65,536 and 1,024 bytes of `a`, then the final chunk,
/// framed with the given chunk signatures and followed by `tail`.
fn chunked_body(signatures: [&str; 3], tail: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (size, sig) in [(65536usize, signatures[0]), (1024, signatures[1])] {
        body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'a', size));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0;chunk-signature={}\r\n", signatures[2]).as_bytes());
    body.extend_from_slice(tail);
    body
}

fn streaming_example() -> Received {
    chunked_put(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class",
        SEED,
        &[("content-length", "66824")],
    )
}

#[test]
fn chunked_upload_example_verifies_its_seed_and_every_chunk() {
    let (_, payload) = streaming_example()
        .verify(KEY, SECRET, None, amz_time(DATE))
        .unwrap();
    match &payload {
        Payload::Streaming {
            chain,
            decoded_length,
        } => {
            assert_eq!(chain.seed_signature, SEED);
            assert_eq!(chain.scope, "20130524/us-east-1/s3/aws4_request");
            assert_eq!(*decoded_length, 66560);
        }
        other => panic!("{other:?}"),
    }
    let body = chunked_body(CHUNK_SIGNATURES, b"\r\n");
    assert_eq!(body.len(), 66824);
    for sizes in [&[body.len()][..], &[1], &[7, 13, 1, 4096], &[88, 2]] {
        let (decoded, slot) = decode(payload.clone(), split(&body, sizes));
        let decoded = decoded.unwrap();
        assert_eq!(decoded.len(), 66560);
        assert!(decoded.iter().all(|&b| b == b'a'));
        assert_eq!(slot.get(), None);
    }
}

#[test]
fn chunked_upload_example_refuses_a_changed_chunk_or_signature() {
    let (_, payload) = streaming_example()
        .verify(KEY, SECRET, None, amz_time(DATE))
        .unwrap();
    let mut body = chunked_body(CHUNK_SIGNATURES, b"\r\n");
    body[30_000] = b'b';
    let (decoded, _) = decode(payload.clone(), split(&body, &[1000]));
    let err = decoded.unwrap_err();
    assert!(
        matches!(err, PayloadError::SignatureDoesNotMatch),
        "{err:?}"
    );
    assert_eq!(err.s3_code(), "SignatureDoesNotMatch");
    assert_eq!(err.status(), 403);

    // Chunks signed in another order break the chain.
    let swapped = [
        CHUNK_SIGNATURES[1],
        CHUNK_SIGNATURES[0],
        CHUNK_SIGNATURES[2],
    ];
    let (decoded, _) = decode(payload.clone(), vec![chunked_body(swapped, b"\r\n")]);
    assert!(matches!(decoded, Err(PayloadError::SignatureDoesNotMatch)));

    // A body cut before its final chunk is incomplete.
    let body = chunked_body(CHUNK_SIGNATURES, b"\r\n");
    let (decoded, _) = decode(payload, vec![body[..66000].to_vec()]);
    let err = decoded.unwrap_err();
    assert!(matches!(err, PayloadError::IncompleteBody), "{err:?}");
    assert_eq!(err.s3_code(), "IncompleteBody");
}

#[test]
fn chunked_upload_example_needs_its_decoded_length() {
    let mut req = streaming_example();
    req.headers.remove("x-amz-decoded-content-length");
    // The header was signed: its absence changes the signature first.
    let err = req.verify(KEY, SECRET, None, amz_time(DATE)).unwrap_err();
    assert_eq!(err, AuthError::InvalidSignature);
}

const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
const TRAILER_CHUNK_SIGNATURES: [&str; 3] = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const TRAILER_SIGNATURE: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

fn trailer_example() -> Received {
    chunked_put(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
         x-amz-storage-class;x-amz-trailer",
        TRAILER_SEED,
        &[("x-amz-trailer", "x-amz-checksum-crc32c")],
    )
}

fn trailer(checksum: &str, signature: &str) -> Vec<u8> {
    format!("x-amz-checksum-crc32c:{checksum}\r\nx-amz-trailer-signature:{signature}\r\n\r\n")
        .into_bytes()
}

#[test]
fn trailer_example_verifies_chunks_trailer_signature_and_checksum() {
    let (_, payload) = trailer_example()
        .verify(KEY, SECRET, None, amz_time(DATE))
        .unwrap();
    assert_eq!(payload.trailer(), Some(ChecksumAlgorithm::Crc32c));
    assert_eq!(payload.decoded_length(), Some(66560));
    let body = chunked_body(
        TRAILER_CHUNK_SIGNATURES,
        &trailer("sOO8/Q==", TRAILER_SIGNATURE),
    );
    for sizes in [&[body.len()][..], &[3], &[65_600, 1, 1, 1]] {
        let (decoded, slot) = decode(payload.clone(), split(&body, sizes));
        assert_eq!(decoded.unwrap().len(), 66560);
        assert_eq!(
            slot.get(),
            Some(VerifiedChecksum {
                algorithm: ChecksumAlgorithm::Crc32c,
                value: "sOO8/Q==".into()
            })
        );
    }
}

#[test]
fn trailer_example_refuses_a_changed_trailer() {
    let (_, payload) = trailer_example()
        .verify(KEY, SECRET, None, amz_time(DATE))
        .unwrap();
    // Another checksum breaks the trailer signature.
    let body = chunked_body(
        TRAILER_CHUNK_SIGNATURES,
        &trailer("AAAAAA==", TRAILER_SIGNATURE),
    );
    let (decoded, slot) = decode(payload.clone(), vec![body]);
    assert!(matches!(decoded, Err(PayloadError::SignatureDoesNotMatch)));
    assert_eq!(slot.get(), None);

    // No trailer signature at all.
    let mut body = chunked_body(TRAILER_CHUNK_SIGNATURES, b"");
    body.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    let (decoded, _) = decode(payload, vec![body]);
    let err = decoded.unwrap_err();
    assert!(matches!(err, PayloadError::MalformedTrailer(_)), "{err:?}");
    assert_eq!(err.s3_code(), "MalformedTrailerError");
}
