//! The fuzz targets, one module each, in one test binary (one link step).
//!
//! Every module first replays its committed corpus (`corpus/<target>/`),
//! then runs its properties over generated cases; `UPDRAFT_FUZZ_CASES`
//! sets how many (see the `updraft_fuzz` crate docs and `FUZZING.md`).

mod event_pattern;
mod iam_policy;
mod lambda_api;
mod schedule;
mod sigv4;
mod sqs_query;
mod wasm_kind;
mod zip;
