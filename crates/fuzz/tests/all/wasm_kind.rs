//! WebAssembly kind detection: `WasmRuntime::prepare` (through the pool's
//! `Runtime` trait) compiles the package's one `.wasm` file, detects
//! whether it is an HTTP handler component (`http`) or a command
//! (`command`: a `wasi:cli/run` component or a preview1 module with
//! `_start`), and links it. One runtime (one wasmtime engine) serves every
//! case.
//!
//! Corpus files are WebAssembly text (`*.wat`, turned into binary here) or
//! binary (`*.bin`); a `valid-<kind>-*` seed must be detected as `<kind>`.
//!
//! Properties: no bytes make preparing panic; a refusal has a message;
//! whatever prepares is one of the two kinds.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use updraft_fuzz::{assert_message, bytes, config, corpus, mutated, watched, Expect, Seed};
use updraft_pool::Runtime as _;
use updraft_runtime_wasm::{WasmConfig, WasmRuntime, KIND_COMMAND, KIND_HTTP, RUNTIME_NAME};
use updraft_types::{ArchiveFile, CodeArchive};

const TARGET: &str = "wasm_kind";

/// Nothing, a core module's header, a component's header.
const HEADERS: &[&[u8]] = &[b"", b"\0asm\x01\0\0\0", b"\0asm\x0d\0\x01\0"];

/// Cases of the generated properties: `cases() / DIVISOR` (each compiles).
const DIVISOR: u32 = 4;

struct Prepared {
    runtime: WasmRuntime,
    /// Holds the cache and `/tmp` directories for the whole run.
    _dir: tempfile::TempDir,
}

static RUNTIME: LazyLock<Arc<Prepared>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = WasmConfig::new(dir.path().join("cache"));
    config.tmp_dir = dir.path().join("tmp");
    config.max_instances = 4;
    let runtime = WasmRuntime::new(config).expect("a wasm runtime");
    Arc::new(Prepared { runtime, _dir: dir })
});

/// Prepares `wasm` as the one file of a package. The code hash is the
/// bytes' own, so the artifact cache never answers for other bytes.
fn prepare(wasm: &[u8]) -> Result<String, String> {
    let archive = CodeArchive {
        files: vec![ArchiveFile {
            path: "app.wasm".into(),
            data: Bytes::copy_from_slice(wasm),
            mode: None,
        }],
    };
    let sha = hex::encode(Sha256::digest(wasm));
    watched(TARGET, wasm, || {
        RUNTIME
            .runtime
            .prepare(RUNTIME_NAME, &sha, &archive)
            .map_err(|e| e.0)
    })
}

fn check(wasm: &[u8]) -> Result<String, String> {
    let result = prepare(wasm);
    match &result {
        Ok(kind) => assert!(kind == KIND_HTTP || kind == KIND_COMMAND, "kind {kind}"),
        Err(message) => assert_message(TARGET, wasm, message),
    }
    result
}

/// The binary of a seed (`.wat` is WebAssembly text).
fn binary(seed: &Seed) -> Vec<u8> {
    if seed.name.ends_with(".wat") {
        wat::parse_bytes(&seed.bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", seed.name))
            .into_owned()
    } else {
        seed.bytes.clone()
    }
}

fn seeds() -> Vec<Vec<u8>> {
    corpus(TARGET).iter().map(binary).collect()
}

#[test]
fn corpus_replays() {
    for seed in corpus(TARGET) {
        let result = check(&binary(&seed));
        match seed.expect() {
            Expect::Valid => {
                let kind = seed.name.split('-').nth(1).unwrap_or_default();
                assert_eq!(result.as_deref(), Ok(kind), "{}", seed.name);
            }
            Expect::Invalid => assert!(result.is_err(), "{}: {result:?}", seed.name),
            Expect::Any => {}
        }
    }
}

proptest! {
    #![proptest_config(config(DIVISOR))]

    #[test]
    fn random_bytes_are_refused_cleanly(
        header in prop::sample::select(HEADERS),
        tail in bytes(256),
    ) {
        let mut wasm = header.to_vec();
        wasm.extend(tail);
        check(&wasm).ok();
    }

    #[test]
    fn mutated_modules_and_components_prepare_or_are_refused(wasm in mutated(seeds())) {
        check(&wasm).ok();
    }
}
