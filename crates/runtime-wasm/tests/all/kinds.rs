//! Code validation and kind detection at deploy time.

use updraft_pool::Runtime;
use updraft_test_support as guests;

use crate::*;

/// Prepares under a hash of the archive's contents: artifacts are
/// content-addressed, so distinct code must have distinct hashes.
fn prepare(rt: &WasmRuntime, archive: &CodeArchive) -> Result<String, String> {
    let mut digest = Sha256::new();
    for f in &archive.files {
        digest.update(f.path.as_bytes());
        digest.update(&f.data);
    }
    let sha = hex::encode(digest.finalize());
    rt.prepare("wasm", &sha, archive).map_err(|e| e.0)
}

#[test]
fn detects_http_components() {
    let (rt, _dir) = runtime();
    for guest in [guests::HTTP_ECHO, guests::EXAMPLE_HELLO_HTTP] {
        assert_eq!(prepare(&rt, &guest_archive(guest)).unwrap(), "http");
    }
}

#[test]
fn detects_command_components_and_preview1_modules() {
    let (rt, _dir) = runtime();
    for guest in [
        guests::CMD_ECHO,
        guests::P1_CMD_ECHO,
        guests::EXAMPLE_JSON_EVENT,
    ] {
        assert_eq!(prepare(&rt, &guest_archive(guest)).unwrap(), "command");
    }
}

#[test]
fn rejects_bytes_that_are_not_wasm() {
    let (rt, _dir) = runtime();
    let err = prepare(&rt, &archive_of(&[("f.wasm", b"definitely not wasm")])).unwrap_err();
    assert!(err.starts_with("invalid WebAssembly"), "{err}");
    // A truncated real module: wasmtime says what is wrong.
    let bytes = updraft_test_support::read_guest(guests::P1_CMD_ECHO);
    let err = prepare(&rt, &archive_of(&[("f.wasm", &bytes[..bytes.len() / 2])])).unwrap_err();
    assert!(err.starts_with("invalid WebAssembly"), "{err}");
}

#[test]
fn requires_exactly_one_wasm_file() {
    let (rt, _dir) = runtime();
    let bytes = updraft_test_support::read_guest(guests::HTTP_ECHO);
    let err = prepare(&rt, &archive_of(&[("README.md", b"hi")])).unwrap_err();
    assert_eq!(
        err,
        "deployment package must contain exactly one .wasm file, found 0"
    );
    let err = prepare(
        &rt,
        &archive_of(&[("a.wasm", &bytes), ("b/b.wasm", &bytes)]),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "deployment package must contain exactly one .wasm file, found 2"
    );
    // Other files beside the one .wasm are fine.
    let ok = prepare(
        &rt,
        &archive_of(&[("a.wasm", &bytes), ("README.md", b"hi")]),
    );
    assert_eq!(ok.unwrap(), "http");
}

#[test]
fn explains_the_expected_exports() {
    let (rt, _dir) = runtime();
    // An empty core module: valid, but no `_start`.
    let err = prepare(&rt, &archive_of(&[("f.wasm", b"\0asm\x01\0\0\0")])).unwrap_err();
    assert!(err.contains("no `_start` function"), "{err}");
    // An empty component: valid, but exports nothing we can run.
    let err = prepare(&rt, &archive_of(&[("f.wasm", b"\0asm\x0d\0\x01\0")])).unwrap_err();
    assert!(
        err.contains("neither wasi:http/incoming-handler@0.2.x") && err.contains("wasi:cli/run"),
        "{err}"
    );
}

#[test]
fn serves_only_the_wasm_runtime_name() {
    let (rt, _dir) = runtime();
    assert_eq!(rt.names(), &["wasm"]);
    let err = rt
        .prepare("python3.12", "abc", &guest_archive(guests::HTTP_ECHO))
        .unwrap_err();
    assert!(err.0.contains("python3.12"), "{}", err.0);
}

#[test]
fn uses_an_allocator() {
    let (rt, _dir) = runtime();
    assert!(matches!(rt.allocator(), "pooling" | "on-demand"));
}
