//! Streams an S3 request body through the checks its [`Payload`] calls for,
//! yielding the decoded bytes with bounded memory.
//!
//! [`Payload::decode`] wraps a `Stream<Item = Result<Bytes, E>>` (what
//! `http_body_util::BodyStream` or axum's `Body::into_data_stream` give) in
//! a [`DecodedBody`], itself a `Stream<Item = Result<Bytes, PayloadError>>`.
//! Data is handed on as it arrives, as slices of the buffers received (no
//! copy); what a request proves about its data is checked when the data it
//! covers is complete, so a consumer must treat the body as bad until the
//! stream has ended without an error: any failure is an `Err` item, and
//! nothing follows it.
//!
//! aws-chunked framing, split anywhere across network reads:
//!
//! ```text
//! 10000;chunk-signature=<64 hex>\r\n <65536 bytes> \r\n    signed modes
//! 400\r\n <1024 bytes> \r\n                                unsigned trailer
//! 0[;chunk-signature=<sig>]\r\n                            final chunk
//! x-amz-checksum-crc32c:sOO8/Q==\r\n                       trailer modes
//! x-amz-trailer-signature:<64 hex>\r\n                     signed trailer
//! \r\n
//! ```
//!
//! A chunk signature is HMAC(signing key, `AWS4-HMAC-SHA256-PAYLOAD\n date\n
//! scope\n previous signature\n SHA256("")\n SHA256(chunk data)`), chained
//! from the request's signature; the trailer's is HMAC over
//! `AWS4-HMAC-SHA256-TRAILER\n date\n scope\n final chunk's signature\n
//! SHA256("name:value\n" for each trailing header)`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::Stream;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::checksum::{ChecksumAlgorithm, ChecksumHasher, ChecksumSlot, VerifiedChecksum};
use super::{ChunkChain, Payload};

/// The longest chunk-size line accepted (size, extensions, CRLF).
const MAX_LINE: usize = 4096;
/// The most trailing-header bytes accepted.
const MAX_TRAILER: usize = 16 * 1024;
/// SHA-256 of the empty string, hex.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why a body was refused. `Display` is the message for S3's error XML;
/// [`PayloadError::s3_code`] and [`PayloadError::status`] the rest.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The body does not hash to the `x-amz-content-sha256` signed.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// A chunk or trailer signature does not continue the chain.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    SignatureDoesNotMatch,
    /// The aws-chunked framing is broken.
    #[error("The aws-chunked body is malformed: {0}.")]
    Malformed(&'static str),
    /// The trailing headers are missing, malformed or not the announced ones.
    #[error(
        "The request contained trailing data that was not well-formed or did not conform \
         to our published schema: {0}."
    )]
    MalformedTrailer(&'static str),
    /// The trailing checksum does not match the decoded bytes.
    #[error("The {0} you specified did not match the calculated checksum.")]
    BadDigest(ChecksumAlgorithm),
    /// The body ended early, or decoded to fewer bytes than
    /// `x-amz-decoded-content-length`.
    #[error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )]
    IncompleteBody,
    /// The body decoded to more bytes than `x-amz-decoded-content-length`.
    #[error("The body is longer than x-amz-decoded-content-length.")]
    TooLong,
    /// Reading the body from the connection failed.
    #[error("The request body could not be read.")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl PayloadError {
    /// The S3 error code (`<Error><Code>`).
    pub fn s3_code(&self) -> &'static str {
        match self {
            PayloadError::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            PayloadError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            PayloadError::Malformed(_) | PayloadError::TooLong => "InvalidRequest",
            PayloadError::MalformedTrailer(_) => "MalformedTrailerError",
            PayloadError::BadDigest(_) => "BadDigest",
            PayloadError::IncompleteBody | PayloadError::Read(_) => "IncompleteBody",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            PayloadError::SignatureDoesNotMatch => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

impl Payload {
    /// Decodes and checks a body as this payload mode requires, streaming:
    /// memory stays bounded whatever the body's size. See the module docs
    /// for when data counts as verified. The [`ChecksumSlot`] of the result
    /// ([`DecodedBody::checksum`]) holds the trailing checksum once checked.
    pub fn decode<S, E>(self, body: S) -> DecodedBody<S>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        DecodedBody {
            inner: Some(body),
            decoder: Decoder::new(self),
            queue: VecDeque::new(),
        }
    }
}

/// A body being decoded: a `Stream` of decoded bytes (see [`Payload::decode`]).
pub struct DecodedBody<S> {
    /// `None` once the body has ended or failed.
    inner: Option<S>,
    decoder: Decoder,
    queue: VecDeque<Bytes>,
}

impl<S> DecodedBody<S> {
    /// The slot the verified trailing checksum is left in (shared: keep a
    /// clone and read it after the stream has ended).
    pub fn checksum(&self) -> ChecksumSlot {
        self.decoder.slot.clone()
    }
}

impl<S, E> Stream for DecodedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(bytes) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(bytes)));
            }
            let Some(inner) = this.inner.as_mut() else {
                return Poll::Ready(None);
            };
            let result = match Pin::new(inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.decoder.feed(bytes, &mut this.queue),
                Poll::Ready(Some(Err(e))) => Err(PayloadError::Read(e.into())),
                Poll::Ready(None) => {
                    this.inner = None;
                    this.decoder.finish()
                }
            };
            if let Err(e) = result {
                this.inner = None;
                this.queue.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

/// The framing state of an aws-chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `size[;ext]\r\n` line.
    Size,
    /// Inside a chunk's data.
    Data {
        remaining: u64,
    },
    /// Reading the `\r\n` after a chunk's data.
    DataEnd,
    /// After the final chunk: trailing headers up to an empty line.
    Trailer,
    Done,
}

/// The sans-IO decoder behind [`DecodedBody`]: fed buffers as they arrive,
/// it pushes decoded slices to a queue.
struct Decoder {
    mode: Mode,
    slot: ChecksumSlot,
    /// Decoded bytes so far.
    total: u64,
}

enum Mode {
    /// A body sent as is; `sha256` is the hash it must have, if signed.
    Plain {
        expected: Option<String>,
        hasher: Option<Sha256>,
    },
    Chunked(Box<Chunked>),
}

struct Chunked {
    state: State,
    /// A partial line (size line, data CRLF or trailer) across reads.
    line: Vec<u8>,
    decoded_length: u64,
    /// Signed modes: the chain, the current chunk's claimed signature and
    /// the running hash of its data.
    chain: Option<ChunkChain>,
    previous_signature: String,
    chunk_signature: String,
    chunk_hasher: Sha256,
    /// Trailer modes: whether trailers may follow, the announced checksum
    /// and its running value; the trailing headers read.
    trailers_allowed: bool,
    checksum: Option<ChecksumHasher>,
    trailers: Vec<(String, String)>,
    trailer_bytes: usize,
    /// The trailing checksum, checked, published when the body ends.
    verified: Option<VerifiedChecksum>,
}

impl Decoder {
    fn new(payload: Payload) -> Self {
        let chunked = |chain: Option<ChunkChain>,
                       decoded_length: u64,
                       trailers_allowed: bool,
                       trailer: Option<ChecksumAlgorithm>| {
            Mode::Chunked(Box::new(Chunked {
                state: State::Size,
                line: Vec::new(),
                decoded_length,
                previous_signature: chain
                    .as_ref()
                    .map(|c| c.seed_signature.clone())
                    .unwrap_or_default(),
                chain,
                chunk_signature: String::new(),
                chunk_hasher: Sha256::new(),
                trailers_allowed,
                checksum: trailer.map(ChecksumAlgorithm::hasher),
                trailers: Vec::new(),
                trailer_bytes: 0,
                verified: None,
            }))
        };
        let mode = match payload {
            Payload::Signed { sha256_hex } => Mode::Plain {
                expected: Some(sha256_hex),
                hasher: Some(Sha256::new()),
            },
            Payload::Unsigned => Mode::Plain {
                expected: None,
                hasher: None,
            },
            Payload::Streaming {
                chain,
                decoded_length,
            } => chunked(Some(chain), decoded_length, false, None),
            Payload::StreamingTrailer {
                chain,
                decoded_length,
                trailer,
            } => chunked(Some(chain), decoded_length, true, trailer),
            Payload::UnsignedTrailer {
                decoded_length,
                trailer,
            } => chunked(None, decoded_length, true, trailer),
        };
        Decoder {
            mode,
            slot: ChecksumSlot::default(),
            total: 0,
        }
    }

    /// Consumes one buffer received, pushing the decoded data to `out`.
    fn feed(&mut self, mut input: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), PayloadError> {
        match &mut self.mode {
            Mode::Plain { hasher, .. } => {
                if let Some(hasher) = hasher {
                    hasher.update(&input);
                }
                self.total += input.len() as u64;
                if !input.is_empty() {
                    out.push_back(input);
                }
                Ok(())
            }
            Mode::Chunked(chunked) => {
                while !input.is_empty() {
                    chunked.step(&mut input, &mut self.total, out)?;
                }
                Ok(())
            }
        }
    }

    /// Checks what only the end of the body can tell.
    fn finish(&mut self) -> Result<(), PayloadError> {
        match &mut self.mode {
            Mode::Plain { expected, hasher } => {
                if let (Some(expected), Some(hasher)) = (expected.as_ref(), hasher.take()) {
                    let computed = hex::encode(hasher.finalize());
                    if computed != *expected {
                        return Err(PayloadError::ContentSha256Mismatch);
                    }
                }
                Ok(())
            }
            Mode::Chunked(chunked) if chunked.state == State::Done => {
                if let Some(checksum) = chunked.verified.take() {
                    self.slot.set(checksum);
                }
                Ok(())
            }
            Mode::Chunked(_) => Err(PayloadError::IncompleteBody),
        }
    }
}

impl Chunked {
    /// Consumes what it can of `input` in the current state (at least one
    /// byte when `input` is not empty).
    fn step(
        &mut self,
        input: &mut Bytes,
        total: &mut u64,
        out: &mut VecDeque<Bytes>,
    ) -> Result<(), PayloadError> {
        match self.state {
            State::Size => {
                let Some(line) = self.take_line(input, MAX_LINE)? else {
                    return Ok(());
                };
                let size = self.parse_size_line(&line)?;
                self.chunk_hasher = Sha256::new();
                if size == 0 {
                    self.end_chunk()?;
                    self.state = State::Trailer;
                } else {
                    if total.saturating_add(size) > self.decoded_length {
                        return Err(PayloadError::TooLong);
                    }
                    self.state = State::Data { remaining: size };
                }
            }
            State::Data { remaining } => {
                let n = remaining.min(input.len() as u64) as usize;
                let data = input.split_to(n);
                if self.chain.is_some() {
                    self.chunk_hasher.update(&data);
                }
                if let Some(checksum) = self.checksum.as_mut() {
                    checksum.update(&data);
                }
                *total += n as u64;
                out.push_back(data);
                let remaining = remaining - n as u64;
                self.state = if remaining == 0 {
                    self.end_chunk()?;
                    State::DataEnd
                } else {
                    State::Data { remaining }
                };
            }
            State::DataEnd => {
                let Some(line) = self.take_line(input, 2)? else {
                    return Ok(());
                };
                if !line.is_empty() {
                    return Err(PayloadError::Malformed("chunk data longer than its size"));
                }
                self.state = State::Size;
            }
            State::Trailer => {
                let limit = MAX_TRAILER.saturating_sub(self.trailer_bytes).max(2);
                let Some(line) = self.take_line(input, limit)? else {
                    return Ok(());
                };
                self.trailer_bytes += line.len() + 2;
                if line.is_empty() {
                    self.end_trailer(*total)?;
                    self.state = State::Done;
                } else {
                    self.read_trailer_line(&line)?;
                }
            }
            State::Done => {
                return Err(PayloadError::Malformed("data after the final chunk"));
            }
        }
        Ok(())
    }

    /// Takes a CRLF-terminated line from `input` (without the CRLF), or
    /// keeps the partial line for the next read. Lines over `limit` bytes
    /// (CRLF included) are refused.
    fn take_line(
        &mut self,
        input: &mut Bytes,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, PayloadError> {
        let state = self.state;
        let malformed = || match state {
            State::Trailer => PayloadError::MalformedTrailer("a trailing header line is too long"),
            State::DataEnd => PayloadError::Malformed("chunk data longer than its size"),
            _ => PayloadError::Malformed("a chunk-size line is too long"),
        };
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if self.line.len() + i + 1 > limit {
                    return Err(malformed());
                }
                self.line.extend_from_slice(&input[..=i]);
                input.advance(i + 1);
                let mut line = std::mem::take(&mut self.line);
                if line.len() < 2 || line[line.len() - 2] != b'\r' {
                    return Err(PayloadError::Malformed("a line does not end with CRLF"));
                }
                line.truncate(line.len() - 2);
                Ok(Some(line))
            }
            None => {
                if self.line.len() + input.len() > limit {
                    return Err(malformed());
                }
                self.line.extend_from_slice(input);
                input.clear();
                Ok(None)
            }
        }
    }

    /// `hex-size[;chunk-signature=sig][;other=ext]`: the size, and for
    /// signed modes the chunk's claimed signature.
    fn parse_size_line(&mut self, line: &[u8]) -> Result<u64, PayloadError> {
        let line = std::str::from_utf8(line)
            .map_err(|_| PayloadError::Malformed("a chunk-size line is not ASCII"))?;
        let mut parts = line.split(';');
        let size_text = parts.next().unwrap_or("").trim();
        if size_text.is_empty()
            || size_text.len() > 16
            || !size_text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(PayloadError::Malformed("a chunk size is not hexadecimal"));
        }
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| PayloadError::Malformed("a chunk size is not hexadecimal"))?;
        let signature = parts.find_map(|ext| {
            let (name, value) = ext.split_once('=')?;
            (name.trim() == "chunk-signature").then(|| value.trim())
        });
        if self.chain.is_some() {
            let signature =
                signature.ok_or(PayloadError::Malformed("a chunk has no chunk-signature"))?;
            self.chunk_signature.clear();
            self.chunk_signature.push_str(signature);
        }
        Ok(size)
    }

    /// A chunk's data is complete: check its signature (signed modes).
    fn end_chunk(&mut self) -> Result<(), PayloadError> {
        let Some(chain) = &self.chain else {
            return Ok(());
        };
        let data_hash = std::mem::replace(&mut self.chunk_hasher, Sha256::new()).finalize();
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            chain.amz_date,
            chain.scope,
            self.previous_signature,
            hex::encode(data_hash)
        );
        let expected =
            aws_sigv4::sign::v4::calculate_signature(&chain.signing_key, string_to_sign.as_bytes());
        if !bool::from(expected.as_bytes().ct_eq(self.chunk_signature.as_bytes())) {
            return Err(PayloadError::SignatureDoesNotMatch);
        }
        self.previous_signature = expected;
        Ok(())
    }

    fn read_trailer_line(&mut self, line: &[u8]) -> Result<(), PayloadError> {
        if !self.trailers_allowed {
            return Err(PayloadError::Malformed(
                "the final chunk is not followed by CRLF",
            ));
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| PayloadError::MalformedTrailer("a trailing header is not UTF-8"))?;
        let (name, value) = line.split_once(':').ok_or(PayloadError::MalformedTrailer(
            "a trailing header has no ':'",
        ))?;
        let name = name.trim().to_ascii_lowercase();
        if self.trailers.iter().any(|(n, _)| *n == name) {
            return Err(PayloadError::MalformedTrailer(
                "a trailing header is repeated",
            ));
        }
        self.trailers.push((name, value.trim().to_string()));
        Ok(())
    }

    /// The trailer is complete: check its signature, its checksum and the
    /// decoded length; the checksum is published when the body ends.
    fn end_trailer(&mut self, total: u64) -> Result<(), PayloadError> {
        if total != self.decoded_length {
            return Err(PayloadError::IncompleteBody);
        }
        let mut claimed_signature = None;
        let mut canonical = String::new();
        let mut checksum_value = None;
        for (name, value) in &self.trailers {
            if name == "x-amz-trailer-signature" {
                claimed_signature = Some(value.as_str());
                continue;
            }
            canonical.push_str(name);
            canonical.push(':');
            canonical.push_str(value);
            canonical.push('\n');
            if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
                let announced = self.checksum.as_ref().map(ChecksumHasher::algorithm);
                if announced != Some(algorithm) {
                    return Err(PayloadError::MalformedTrailer(
                        "the trailing checksum is not the one x-amz-trailer announced",
                    ));
                }
                checksum_value = Some(value.clone());
            }
        }
        if let (Some(chain), true) = (&self.chain, self.trailers_allowed) {
            let claimed = claimed_signature.ok_or(PayloadError::MalformedTrailer(
                "x-amz-trailer-signature is missing",
            ))?;
            let string_to_sign = format!(
                "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                chain.amz_date,
                chain.scope,
                self.previous_signature,
                hex::encode(Sha256::digest(canonical.as_bytes()))
            );
            let expected = aws_sigv4::sign::v4::calculate_signature(
                &chain.signing_key,
                string_to_sign.as_bytes(),
            );
            if !bool::from(expected.as_bytes().ct_eq(claimed.as_bytes())) {
                return Err(PayloadError::SignatureDoesNotMatch);
            }
        }
        if let Some(hasher) = self.checksum.take() {
            let algorithm = hasher.algorithm();
            let claimed = checksum_value.ok_or(PayloadError::MalformedTrailer(
                "the checksum x-amz-trailer announced is missing",
            ))?;
            let computed = hasher.finish_base64();
            if computed != claimed {
                return Err(PayloadError::BadDigest(algorithm));
            }
            self.verified = Some(VerifiedChecksum {
                algorithm,
                value: computed,
            });
        }
        Ok(())
    }
}
