//! The `/tmp` quota (ephemeral storage): writes within it succeed, writes
//! past it fail with "no space", deleting gives the room back, whatever
//! way the guest grows its files.

use std::path::Path;

use updraft_test_support as guests;

use crate::*;

const MIB: u64 = 1 << 20;

/// `http-tmp` from `crates/test-support/guests`, built with the other
/// guests (next to them).
fn http_tmp() -> String {
    Path::new(guests::HTTP_ENV)
        .with_file_name("http_tmp.wasm")
        .display()
        .to_string()
}

fn config_mb(mb: u32) -> EnvConfig {
    EnvConfig {
        ephemeral_storage_mb: mb,
        ..config()
    }
}

/// Runs one request of the `http-tmp` guest; its JSON answer.
async fn tmp_op(env: &mut Box<dyn Environment>, query: &str) -> serde_json::Value {
    let result = call(env, get(&format!("/?{query}")), SECS_3).await;
    assert!(result.outcome.result.is_ok(), "{:?}", result.outcome.result);
    let (parts, body) = result.response.expect("a response");
    assert_eq!(parts.status, 200);
    json(&body)
}

/// Bytes the environments' `/tmp` directories take on disk.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn written(doc: &serde_json::Value) -> u64 {
    doc["written"].as_u64().unwrap_or_else(|| panic!("{doc}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_the_quota_fail_and_deleting_gives_the_room_back() {
    let (rt, dir) = runtime();
    let template = template(&rt, &http_tmp());
    let mut env = start_with(&template, &config_mb(1)).await;

    let a = tmp_op(&mut env, "op=write&name=a&bytes=600000").await;
    assert_eq!(a["error"], serde_json::Value::Null, "{a}");
    assert_eq!(written(&a), 600_000);

    // The second file does not fit: the write fails part-way, as on a
    // full disk. (The standard library writes through a stream, and
    // wasi-libc reports any failed stream write as EIO; the other ways
    // of writing see ENOSPC, below.)
    let b = tmp_op(&mut env, "op=write&name=b&bytes=600000").await;
    let error = b["error"].as_str().unwrap_or_else(|| panic!("{b}"));
    assert!(error.starts_with("std: "), "{b}");
    assert!(written(&b) < 600_000, "{b}");
    assert!(600_000 + written(&b) <= MIB, "{b}");
    assert!(disk_usage(&dir.path().join("tmp")) <= MIB);

    // The environment keeps serving, and deleting makes room again.
    let deleted = tmp_op(&mut env, "op=delete&name=a").await;
    assert_eq!(deleted["error"], serde_json::Value::Null, "{deleted}");
    let b = tmp_op(&mut env, "op=write&name=b&bytes=600000").await;
    assert_eq!(b["error"], serde_json::Value::Null, "{b}");
    assert_eq!(written(&b), 600_000);
    let c = tmp_op(&mut env, "op=write&name=c&bytes=600000").await;
    assert!(c["error"].is_string(), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_of_growing_a_file_is_counted() {
    let (rt, dir) = runtime();
    let template = template(&rt, &http_tmp());
    for via in ["std", "stream", "append", "descriptor", "set-size"] {
        let mut env = start_with(&template, &config_mb(1)).await;
        let doc = tmp_op(
            &mut env,
            &format!("op=write&name=f&bytes=2000000&via={via}"),
        )
        .await;
        let error = doc["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{via}: {doc}"));
        if via == "std" {
            assert!(error.starts_with("std: "), "{via}: {doc}");
        } else {
            assert_eq!(error, "insufficient-space", "{via}: {doc}");
        }
        assert!(written(&doc) <= MIB, "{via}: {doc}");
        let used = disk_usage(&dir.path().join("tmp"));
        assert!(used <= MIB, "{via}: {used} bytes on disk");

        // Rewriting the same file smaller (it is truncated first) works
        // even though the quota is used up.
        let doc = tmp_op(&mut env, &format!("op=write&name=f&bytes=500000&via={via}")).await;
        assert_eq!(doc["error"], serde_json::Value::Null, "{via}: {doc}");
        assert_eq!(written(&doc), 500_000, "{via}: {doc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_follows_the_functions_ephemeral_storage() {
    let (rt, _dir) = runtime();
    let template = template(&rt, &http_tmp());
    let write_1_5_mib = "op=write&name=f&bytes=1572864";

    let mut small = start_with(&template, &config_mb(1)).await;
    let doc = tmp_op(&mut small, write_1_5_mib).await;
    assert!(doc["error"].is_string(), "1 MB: {doc}");

    let mut larger = start_with(&template, &config_mb(2)).await;
    let doc = tmp_op(&mut larger, write_1_5_mib).await;
    assert_eq!(doc["error"], serde_json::Value::Null, "2 MB: {doc}");

    // 0 is "unset": Lambda's default of 512 MB.
    let mut default = start_with(&template, &config_mb(0)).await;
    let doc = tmp_op(&mut default, "op=write&name=f&bytes=8388608").await;
    assert_eq!(doc["error"], serde_json::Value::Null, "default: {doc}");

    // Each environment has a quota of its own.
    let mut other = start_with(&template, &config_mb(1)).await;
    let doc = tmp_op(&mut other, "op=write&name=f&bytes=600000").await;
    assert_eq!(doc["error"], serde_json::Value::Null, "another 1 MB: {doc}");
}

/// A preview1 command (no preview1 test guest writes files, so it is
/// encoded here): opens `/tmp/f` (create, truncate), writes `pieces` ×
/// 64 KiB with `fd_write`, then, when `size` is not 0, sets the file's
/// size to `size` with `fd_filestat_set_size`; exits with the errno of
/// the first call that fails.
fn p1_writer(pieces: u32, size: u64) -> Vec<u8> {
    fn uleb(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn sleb(mut v: i64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
            out.push(if done { byte } else { byte | 0x80 });
            if done {
                return;
            }
        }
    }
    fn name(s: &str, out: &mut Vec<u8>) {
        uleb(s.len() as u64, out);
        out.extend_from_slice(s.as_bytes());
    }
    fn section(id: u8, body: Vec<u8>, out: &mut Vec<u8>) {
        out.push(id);
        uleb(body.len() as u64, out);
        out.extend(body);
    }
    const I32: u8 = 0x7f;
    const I64: u8 = 0x7e;
    let i32_const = |v: i64, out: &mut Vec<u8>| {
        out.push(0x41);
        sleb(v, out);
    };
    let i64_const = |v: i64, out: &mut Vec<u8>| {
        out.push(0x42);
        sleb(v, out);
    };
    // `call f` followed by: on a non-zero errno, proc_exit(errno).
    let checked_call = |f: u8, out: &mut Vec<u8>| {
        out.extend([0x10, f, 0x22, 2, 0x04, 0x40, 0x20, 2, 0x10, 3, 0x0b]);
    };

    let mut module = b"\0asm\x01\0\0\0".to_vec();
    let func_type = |params: &[u8], results: &[u8], out: &mut Vec<u8>| {
        out.push(0x60);
        uleb(params.len() as u64, out);
        out.extend_from_slice(params);
        uleb(results.len() as u64, out);
        out.extend_from_slice(results);
    };
    let mut types = vec![5];
    func_type(
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        &[I32],
        &mut types,
    );
    func_type(&[I32, I32, I32, I32], &[I32], &mut types);
    func_type(&[I32, I64], &[I32], &mut types);
    func_type(&[I32], &[], &mut types);
    func_type(&[], &[], &mut types);
    section(1, types, &mut module);

    let mut imports = vec![4];
    for (field, ty) in [
        ("path_open", 0),
        ("fd_write", 1),
        ("fd_filestat_set_size", 2),
        ("proc_exit", 3),
    ] {
        name("wasi_snapshot_preview1", &mut imports);
        name(field, &mut imports);
        imports.extend([0x00, ty]);
    }
    section(2, imports, &mut module);
    section(3, vec![1, 4], &mut module);
    section(5, vec![1, 0x00, 2], &mut module);
    let mut exports = vec![2];
    name("memory", &mut exports);
    exports.extend([0x02, 0]);
    name("_start", &mut exports);
    exports.extend([0x00, 4]);
    section(7, exports, &mut module);

    // Locals: 0 the file, 1 the pieces written, 2 the last errno.
    let mut body = vec![1, 3, I32];
    for arg in [3, 0, 16, 1, 9] {
        i32_const(arg, &mut body); // dirfd, dirflags, path, len, creat|trunc
    }
    i64_const(0x42, &mut body); // rights: fd_read | fd_write
    i64_const(0, &mut body);
    i32_const(0, &mut body); // fdflags
    i32_const(32, &mut body); // where the new fd goes
    checked_call(0, &mut body);
    i32_const(32, &mut body);
    body.extend([0x28, 2, 0, 0x21, 0]); // i32.load; local.set 0
    body.extend([0x02, 0x40, 0x03, 0x40]); // block loop
    body.extend([0x20, 1]);
    i32_const(i64::from(pieces), &mut body);
    body.extend([0x4f, 0x0d, 1]); // i32.ge_u; br_if 1
    body.extend([0x20, 0]);
    for arg in [0, 1, 40] {
        i32_const(arg, &mut body); // iovs, iovs_len, nwritten
    }
    checked_call(1, &mut body);
    body.extend([0x20, 1]);
    i32_const(1, &mut body);
    body.extend([0x6a, 0x21, 1, 0x0c, 0, 0x0b, 0x0b]); // add; set; br 0; end end
    if size > 0 {
        body.extend([0x20, 0]);
        i64_const(size as i64, &mut body);
        checked_call(2, &mut body);
    }
    body.push(0x0b);
    let mut code = vec![1];
    uleb(body.len() as u64, &mut code);
    code.extend(body);
    section(10, code, &mut module);

    let mut data = vec![2];
    // One iovec at 0: 64 KiB (of zeros) at 64 KiB.
    data.extend([0x00, 0x41, 0, 0x0b, 8, 0, 0, 1, 0, 0, 0, 1, 0]);
    // The path at 16.
    data.extend([0x00, 0x41, 16, 0x0b, 1, b'f']);
    section(11, data, &mut module);
    module
}

fn template_of(rt: &WasmRuntime, wasm: &[u8]) -> Arc<dyn Template> {
    let archive = archive_of(&[("function.wasm", wasm)]);
    let sha = hex::encode(Sha256::digest(wasm));
    let kind = rt.prepare("wasm", &sha, &archive).unwrap();
    assert_eq!(kind, "command");
    rt.load("wasm", &sha, &kind, &|| Ok(archive.clone()))
        .unwrap_or_else(|e| panic!("load: {e}"))
}

/// Runs a preview1 writer with a 1 MB quota: `None` when it succeeded,
/// else its error message.
async fn run_p1(rt: &WasmRuntime, pieces: u32, size: u64) -> Option<String> {
    let template = template_of(rt, &p1_writer(pieces, size));
    let mut env = start_with(&template, &config_mb(1)).await;
    let (outcome, _) = event(&mut env, "{}", SECS_3).await;
    match outcome.result {
        Ok(_) => None,
        Err(e) => {
            assert_eq!(e.error_type, "Runtime.ExitError", "{e:?}");
            Some(e.error_message)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview1_modules_have_the_quota_too() {
    let (rt, dir) = runtime();
    // 512 KiB fits in 1 MB; 2 MiB does not: fd_write fails with ENOSPC
    // (errno 51), which the module makes its exit status.
    assert_eq!(run_p1(&rt, 8, 0).await, None);
    let nospc = "RequestId: req-1 Error: Runtime exited with error: exit status 51";
    assert_eq!(run_p1(&rt, 32, 0).await.as_deref(), Some(nospc));
    assert!(disk_usage(&dir.path().join("tmp")) <= MIB);
    // Growing a file past the quota with fd_filestat_set_size fails too.
    assert_eq!(run_p1(&rt, 1, 512 * 1024).await, None);
    assert_eq!(run_p1(&rt, 1, 2 * MIB).await.as_deref(), Some(nospc));
}
