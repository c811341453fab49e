//! Compiled artifacts: written once at deploy, reused by later loads and
//! by a restarted runtime.

use updraft_pool::{CodeError, Runtime};
use updraft_test_support as guests;

use crate::*;

fn no_archive() -> Result<CodeArchive, CodeError> {
    Err(CodeError("the archive must not be needed".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reuses_the_artifact_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let sha = sha_of(guests::HTTP_STATE);
    {
        let rt = runtime_in(dir.path());
        let kind = rt
            .prepare("wasm", &sha, &guest_archive(guests::HTTP_STATE))
            .unwrap();
        assert_eq!(kind, "http");
        assert_eq!(rt.compilations(), 1);
        assert!(rt.artifact_path(&sha).is_file());
        assert!(rt.artifact_path(&sha).starts_with(dir.path()));
        rt.load("wasm", &sha, &kind, &no_archive).unwrap();
        assert_eq!(rt.compilations(), 1, "load used the cache");
    }

    // A new runtime on the same directory: nothing to compile.
    let rt = runtime_in(dir.path());
    let template = rt.load("wasm", &sha, "http", &no_archive).unwrap();
    assert_eq!(rt.compilations(), 0);
    let mut env = start(&template).await;
    assert_eq!(
        call(&mut env, get("/"), SECS_3).await.response.unwrap().1,
        "1"
    );
}

#[test]
fn deploying_the_same_code_again_reuses_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let sha = sha_of(guests::HTTP_ECHO);
    let archive = guest_archive(guests::HTTP_ECHO);
    runtime_in(dir.path())
        .prepare("wasm", &sha, &archive)
        .unwrap();

    // A restart that deploys the same package (`serve --deploy`).
    let rt = runtime_in(dir.path());
    assert_eq!(rt.prepare("wasm", &sha, &archive).unwrap(), "http");
    assert_eq!(rt.compilations(), 0);

    // A damaged artifact is not trusted: compiled again.
    std::fs::write(rt.artifact_path(&sha), b"garbage").unwrap();
    assert_eq!(rt.prepare("wasm", &sha, &archive).unwrap(), "http");
    assert_eq!(rt.compilations(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_damaged_artifact_is_rebuilt() {
    let (rt, _dir) = runtime();
    let sha = sha_of(guests::CMD_ECHO);
    let archive = guest_archive(guests::CMD_ECHO);

    // Never prepared here: compiled from the archive, then cached.
    let template = rt
        .load("wasm", &sha, "command", &|| Ok(archive.clone()))
        .unwrap();
    assert_eq!(rt.compilations(), 1);
    let mut env = start(&template).await;
    assert_eq!(
        event(&mut env, "x", SECS_3)
            .await
            .0
            .result
            .unwrap()
            .unwrap(),
        "x"
    );

    // Damaged: recompiled and rewritten.
    std::fs::write(rt.artifact_path(&sha), b"garbage").unwrap();
    rt.load("wasm", &sha, "command", &|| Ok(archive.clone()))
        .unwrap();
    assert_eq!(rt.compilations(), 2);
    rt.load("wasm", &sha, "command", &no_archive).unwrap();
    assert_eq!(rt.compilations(), 2);

    // Same for a preview1 module.
    let sha = sha_of(guests::P1_CMD_ECHO);
    let archive = guest_archive(guests::P1_CMD_ECHO);
    rt.load("wasm", &sha, "command", &|| Ok(archive.clone()))
        .unwrap();
    let template = rt.load("wasm", &sha, "command", &no_archive).unwrap();
    assert_eq!(rt.compilations(), 3);
    let mut env = start(&template).await;
    assert_eq!(
        event(&mut env, "y", SECS_3)
            .await
            .0
            .result
            .unwrap()
            .unwrap(),
        "y"
    );
}

#[test]
fn cache_names_never_leave_the_cache_dir() {
    let (rt, dir) = runtime();
    let path = rt.artifact_path("../../etc/passwd");
    assert!(path.starts_with(dir.path()));
    assert_eq!(path.parent().unwrap(), dir.path());
}
