//! The aws-chunked decoder on bodies signed by `updraft_auth::sign`: every
//! mode and checksum, any split across reads, multi-MiB bodies, and the
//! ways a body can be malformed, cut short or too long.

use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use updraft_auth::sign::chunked::{encode_aws_chunked, ChunkSigner};
use updraft_auth::sign::sign_s3;
use updraft_auth::{ChecksumAlgorithm, Credentials, Payload, PayloadError};

use super::{amz_time, decode, split, Received};

const T: &str = "20261203T101500Z";
const URL: &str = "http://127.0.0.1:9000/bucket/dir/a%20b%2Bc.bin";

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIAUPDRAFTTEST00001".into(),
        secret_access_key: "testsecret0123456789testsecret0123456789".into(),
    }
}

/// A streaming upload of `data` signed as the SDKs sign it, returning the
/// verified payload mode and the framed body.
fn upload(
    mode: &str,
    data: &[u8],
    chunk_size: usize,
    checksum: Option<ChecksumAlgorithm>,
) -> (Payload, Vec<u8>) {
    upload_declaring(mode, data, data.len(), chunk_size, checksum)
}

fn upload_declaring(
    mode: &str,
    data: &[u8],
    declared_length: usize,
    chunk_size: usize,
    checksum: Option<ChecksumAlgorithm>,
) -> (Payload, Vec<u8>) {
    let time: SystemTime = amz_time(T);
    let mut headers = HeaderMap::new();
    headers.insert("content-encoding", "aws-chunked".parse().unwrap());
    headers.insert(
        "x-amz-decoded-content-length",
        declared_length.to_string().parse().unwrap(),
    );
    if let Some(algorithm) = checksum {
        headers.insert("x-amz-trailer", algorithm.header_name().parse().unwrap());
    }
    let (signed, seed) = sign_s3("PUT", URL, &headers, mode, &creds(), "eu-west-3", time).unwrap();
    let mut signer = ChunkSigner::new(&creds(), "eu-west-3", time, &seed);
    let signed_chunks = mode.starts_with("STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let body = encode_aws_chunked(
        data,
        chunk_size,
        signed_chunks.then_some(&mut signer),
        checksum,
    );
    let mut received = Received::new("PUT", "127.0.0.1:9000", "/bucket/dir/a%20b%2Bc.bin", &[]);
    received.headers = signed;
    let c = creds();
    let (_, payload) = received
        .verify(&c.access_key_id, &c.secret_access_key, None, time)
        .unwrap();
    (payload, body)
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn every_mode_and_checksum_round_trips() {
    let data = data(200_000);
    for algorithm in ChecksumAlgorithm::ALL {
        for mode in [
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        ] {
            let (payload, body) = upload(mode, &data, 65536, Some(algorithm));
            let (decoded, slot) = decode(payload, split(&body, &[17, 65536, 3]));
            assert_eq!(decoded.unwrap(), data, "{mode} {algorithm}");
            let checksum = slot.get().unwrap();
            assert_eq!(checksum.algorithm, algorithm);
            assert_eq!(checksum.value, algorithm.checksum(&data));
        }
    }
    let (payload, body) = upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &data, 8192, None);
    assert!(matches!(payload, Payload::Streaming { .. }));
    let (decoded, slot) = decode(payload, split(&body, &[1]));
    assert_eq!(decoded.unwrap(), data);
    assert_eq!(slot.get(), None);
}

#[test]
fn an_empty_upload_decodes_to_nothing() {
    for mode in [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    ] {
        let checksum = mode
            .ends_with("TRAILER")
            .then_some(ChecksumAlgorithm::Crc32);
        let (payload, body) = upload(mode, b"", 8192, checksum);
        let (decoded, slot) = decode(payload, vec![body]);
        assert_eq!(decoded.unwrap(), b"", "{mode}");
        assert_eq!(slot.get().is_some(), checksum.is_some());
    }
}

/// 6 MiB in 64 KiB chunks, fed in reads of odd sizes that cut through
/// sizes, signatures, CRLFs and data.
#[test]
fn a_multi_mib_signed_upload_decodes_from_odd_sized_reads() {
    let data = data(6 * 1024 * 1024 + 123);
    let (payload, body) = upload(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        &data,
        65536,
        Some(ChecksumAlgorithm::Crc64Nvme),
    );
    let pieces = split(&body, &[1, 7, 8191, 65537, 3, 100_003, 2]);
    let reads = pieces.len();
    let (decoded, slot) = decode(payload, pieces);
    assert!(reads > 200);
    assert_eq!(decoded.unwrap(), data);
    assert_eq!(
        slot.get().unwrap().value,
        ChecksumAlgorithm::Crc64Nvme.checksum(&data)
    );
}

fn assert_fails(payload: &Payload, body: &[u8], code: &str) -> PayloadError {
    for sizes in [&[body.len().max(1)][..], &[1], &[5, 9]] {
        let (decoded, slot) = decode(payload.clone(), split(body, sizes));
        let err = decoded.expect_err(code);
        assert_eq!(err.s3_code(), code, "{err:?} for pieces {sizes:?}");
        assert_eq!(slot.get(), None);
    }
    decode(payload.clone(), vec![body.to_vec()]).0.unwrap_err()
}

#[test]
fn malformed_framing_is_refused() {
    let (payload, body) = upload(
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        b"hello world",
        4,
        Some(ChecksumAlgorithm::Crc32),
    );
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.starts_with("4\r\nhell\r\n"), "{text:?}");
    let cases = [
        text.replacen("4\r\n", "x\r\n", 1),
        text.replacen("4\r\n", "4\n", 1),
        text.replacen("hell\r\n", "hellX\r\n", 1),
        text.replacen("4\r\n", &format!("4;{}\r\n", "e".repeat(5000)), 1),
        text.replacen("4\r\n", "11111111111111111\r\n", 1),
        format!("{text}extra"),
    ];
    for case in cases {
        assert_fails(&payload, case.as_bytes(), "InvalidRequest");
    }
}

#[test]
fn short_and_long_bodies_are_refused() {
    let data = data(1000);
    // Cut anywhere before the end: incomplete.
    let (payload, body) = upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &data, 300, None);
    for cut in [0, 1, 10, 500, body.len() - 3, body.len() - 1] {
        let err = assert_fails(&payload, &body[..cut], "IncompleteBody");
        assert!(matches!(err, PayloadError::IncompleteBody));
    }
    // Declared longer than sent.
    let (payload, body) =
        upload_declaring("STREAMING-UNSIGNED-PAYLOAD-TRAILER", &data, 1001, 300, None);
    assert_fails(&payload, &body, "IncompleteBody");
    // Declared shorter than sent: refused before the extra bytes are passed on.
    let (payload, body) =
        upload_declaring("STREAMING-UNSIGNED-PAYLOAD-TRAILER", &data, 999, 300, None);
    let err = assert_fails(&payload, &body, "InvalidRequest");
    assert!(matches!(err, PayloadError::TooLong));
}

#[test]
fn trailers_must_be_the_announced_checksum_and_match() {
    // ASCII data, so the framed body can be edited as text.
    let data: Vec<u8> = data(5000).iter().map(|b| b'a' + b % 26).collect();
    let (payload, body) = upload(
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        &data,
        1024,
        Some(ChecksumAlgorithm::Sha256),
    );
    let text = String::from_utf8_lossy(&body).into_owned();
    let good = ChecksumAlgorithm::Sha256.checksum(&data);
    let wrong = ChecksumAlgorithm::Sha256.checksum(b"other");
    let err = assert_fails(
        &payload,
        text.replace(&good, &wrong).as_bytes(),
        "BadDigest",
    );
    assert_eq!(
        err.to_string(),
        "The SHA256 you specified did not match the calculated checksum."
    );
    // Another algorithm than x-amz-trailer announced.
    let crc = ChecksumAlgorithm::Crc32.checksum(&data);
    let other = text.replace(
        &format!("x-amz-checksum-sha256:{good}"),
        &format!("x-amz-checksum-crc32:{crc}"),
    );
    assert_fails(&payload, other.as_bytes(), "MalformedTrailerError");
    // The announced checksum is missing.
    let missing = text.replace(&format!("x-amz-checksum-sha256:{good}\r\n"), "");
    assert_fails(&payload, missing.as_bytes(), "MalformedTrailerError");
    // A trailer in a mode without trailers.
    let (payload, body) = upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &data, 1024, None);
    let mut with_trailer = body[..body.len() - 2].to_vec();
    with_trailer.extend_from_slice(format!("x-amz-checksum-sha256:{good}\r\n\r\n").as_bytes());
    assert_fails(&payload, &with_trailer, "InvalidRequest");
}

#[test]
fn signed_chunks_need_their_signatures() {
    let data = data(3000);
    let (payload, body) = upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &data, 1024, None);
    // The same body without signatures (as an unsigned upload frames it).
    let unsigned = encode_aws_chunked(&data, 1024, None, None);
    assert_fails(&payload, &unsigned, "InvalidRequest");
    // A signature from another request's chain.
    let (_, other) = upload("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &data[1..], 1024, None);
    let mut mixed = other[..100].to_vec();
    mixed.extend_from_slice(&body[100..]);
    assert_fails(&payload, &mixed, "SignatureDoesNotMatch");
}

#[test]
fn a_read_error_ends_the_stream_with_incomplete_body() {
    let data = data(3000);
    let (payload, body) = upload("STREAMING-UNSIGNED-PAYLOAD-TRAILER", &data, 1024, None);
    let input = futures::stream::iter(vec![
        Ok(Bytes::from(body[..1500].to_vec())),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )),
        Ok(Bytes::from(body[1500..].to_vec())),
    ]);
    let mut decoded = payload.decode(input);
    let items: Vec<_> = futures::executor::block_on(async {
        let mut items = Vec::new();
        while let Some(item) = decoded.next().await {
            items.push(item);
        }
        items
    });
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.s3_code(), "IncompleteBody");
    assert!(std::error::Error::source(last).is_some());
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
}

#[test]
fn unsigned_and_signed_plain_bodies_pass_through() {
    let data = data(100_000);
    let (decoded, _) = decode(Payload::Unsigned, split(&data, &[999]));
    assert_eq!(decoded.unwrap(), data);
    let sha256_hex = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&data))
    };
    let (decoded, _) = decode(Payload::Signed { sha256_hex }, split(&data, &[4096, 1]));
    assert_eq!(decoded.unwrap(), data);
}

/// Throughput of the decoder on a 64 MiB signed upload in 64 KiB chunks,
/// against SHA-256 alone over the same bytes (which signed chunks need
/// anyway). Meaningful in release builds:
/// `cargo test --release -p updraft-auth --test s3 -- --ignored throughput --nocapture`.
#[test]
#[ignore = "a measurement: run in release builds"]
fn throughput_of_a_64_mib_signed_upload() {
    use sha2::Digest;
    use std::time::Instant;

    let data = data(64 * 1024 * 1024);
    for (mode, checksum) in [
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", None),
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Some(ChecksumAlgorithm::Crc32c),
        ),
        (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            Some(ChecksumAlgorithm::Crc64Nvme),
        ),
    ] {
        let (payload, body) = upload(mode, &data, 65536, checksum);
        let body = Bytes::from(body);
        // Reads of 16 KiB + 1 byte, sliced without copying.
        let reads: Vec<Bytes> = (0..body.len())
            .step_by(16_385)
            .map(|at| body.slice(at..(at + 16_385).min(body.len())))
            .collect();

        let start = Instant::now();
        let sha = sha2::Sha256::digest(&data);
        let sha_time = start.elapsed();

        let start = Instant::now();
        let mut decoded = payload.decode(futures::stream::iter(
            reads.into_iter().map(Ok::<_, std::io::Error>),
        ));
        let total = futures::executor::block_on(async {
            let mut total = 0usize;
            while let Some(item) = decoded.next().await {
                total += item.unwrap().len();
            }
            total
        });
        let decode_time = start.elapsed();
        assert_eq!(total, data.len());
        let mib_s = |d: std::time::Duration| 64.0 / d.as_secs_f64();
        println!(
            "{mode} {checksum:?}: decode {:.0} MiB/s, SHA-256 alone {:.0} MiB/s ({sha:x})",
            mib_s(decode_time),
            mib_s(sha_time)
        );
        // Signed chunks cost their SHA-256 and little else; an unsigned
        // trailer only its CRC.
        if !cfg!(debug_assertions) {
            assert!(
                decode_time.as_secs_f64() < sha_time.as_secs_f64() * 1.4 + 0.02,
                "{mode}: {decode_time:?} against SHA-256 {sha_time:?}"
            );
        }
    }
}

/// The S3 layer boxes the decoded body (`BoxStream<'static, ...>`) and
/// moves it across tasks; the slot is read from another task.
#[test]
fn a_decoded_body_can_be_boxed_and_sent() {
    fn send_static<T: Send + 'static>(_: &T) {}
    fn sync<T: Send + Sync>(_: &T) {}
    let (payload, body) = upload(
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        b"abc",
        2,
        Some(ChecksumAlgorithm::Sha1),
    );
    sync(&payload);
    let input: futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> =
        futures::stream::iter(vec![Ok(Bytes::from(body))]).boxed();
    let decoded = payload.decode(input);
    let slot = decoded.checksum();
    sync(&slot);
    let mut boxed = decoded.boxed();
    send_static(&boxed);
    let out = std::thread::spawn(move || {
        futures::executor::block_on(async {
            let mut out = Vec::new();
            while let Some(item) = boxed.next().await {
                out.extend_from_slice(&item.unwrap());
            }
            out
        })
    })
    .join()
    .unwrap();
    assert_eq!(out, b"abc");
    assert_eq!(
        slot.get().unwrap().value,
        ChecksumAlgorithm::Sha1.checksum(b"abc")
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const MODES: [&str; 3] = [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever the reads, a body decodes to exactly what was sent;
        /// after any one byte of a signed body changes, the decoder either
        /// fails or still yields exactly what was sent (a hex digit's
        /// case, say), never other bytes.
        #[test]
        fn decoding_yields_the_sent_bytes_or_an_error(
            data in proptest::collection::vec(any::<u8>(), 0..3000),
            chunk in 1usize..700,
            reads in proptest::collection::vec(1usize..400, 1..5),
            mode in 0usize..3,
            flip_at in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mode = MODES[mode];
            let checksum = mode.ends_with("TRAILER").then_some(ChecksumAlgorithm::Crc32c);
            let (payload, body) = upload(mode, &data, chunk, checksum);
            let (decoded, _) = decode(payload.clone(), split(&body, &reads));
            prop_assert_eq!(decoded.unwrap(), data.clone());

            let mut changed = body.clone();
            changed[flip_at.index(body.len())] ^= flip;
            let (decoded, slot) = decode(payload, split(&changed, &reads));
            if let Ok(decoded) = decoded {
                prop_assert_eq!(decoded, data);
                if checksum.is_some() {
                    prop_assert!(slot.get().is_some());
                }
            } else {
                prop_assert_eq!(slot.get(), None);
            }
        }
    }
}
