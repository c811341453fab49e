//! Metering: every invocation yields a usage record; the usage API and
//! `updraft usage` add them up.

use serde_json::json;

use crate::support::*;

#[test]
fn usage_adds_up_the_invocations_that_ran() {
    let s = Server::start(&[]);
    s.deploy("metered", guests::HTTP_STATE, json!({"MemorySize": 256}));
    s.deploy("failing", guests::HTTP_TRAP, json!({}));
    for _ in 0..5 {
        assert_eq!(s.invoke("metered", b"{}").status, 200);
    }
    for _ in 0..2 {
        let r = s.invoke("failing", b"{}");
        assert_eq!(r.header("x-amz-function-error"), Some("Unhandled"));
    }

    let out = s.updraft_cli(&["usage", "--json", "--by", "function"]);
    let report = ok_json(&out, "updraft usage --json");
    let groups = report["groups"].as_array().expect("groups");
    let group = |name: &str| {
        groups
            .iter()
            .find(|g| g["key"] == name)
            .unwrap_or_else(|| panic!("no group {name}: {report}"))
            .clone()
    };
    let metered = group("metered");
    assert_eq!(metered["requests"], 5, "{report}");
    assert_eq!(metered["errors"], 0, "{report}");
    let failing = group("failing");
    assert_eq!(failing["requests"], 2, "{report}");
    assert_eq!(failing["errors"], 2, "{report}");
    assert_eq!(report["totals"]["requests"], 7, "{report}");

    // GB-seconds: billed milliseconds times MemorySize, as the REPORT
    // lines say.
    let billed = metered["billedMs"].as_f64().expect("billedMs");
    let gbs = metered["gbSeconds"].as_f64().expect("gbSeconds");
    assert!(billed >= 5.0, "{metered}");
    assert!((gbs - billed / 1000.0 * 0.25).abs() < 1e-9, "{metered}");
    assert!(
        report["note"].as_str().unwrap_or("").contains("AWS Lambda"),
        "{report}"
    );

    let text = ok(&s.updraft_cli(&["usage"]), "updraft usage");
    assert!(
        text.contains("metered") && text.contains("failing"),
        "{text}"
    );
}

/// The names of the `/tmp` roots under the data directory.
fn tmp_roots(s: &Server) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.data_dir().join("tmp"))
        .expect("<data-dir>/tmp")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run-"))
        .collect();
    names.sort();
    names
}

/// A server killed with SIGKILL right after answering loses no usage
/// record (the journal holds what the store had not committed, and the
/// next start stores it), and the next start removes the killed server's
/// `/tmp` directories.
#[test]
fn usage_and_tmp_directories_survive_and_are_cleaned_after_kill_9() {
    let mut s = Server::start(&[]);
    s.deploy("metered", guests::HTTP_STATE, json!({}));
    for _ in 0..20 {
        assert_eq!(s.invoke("metered", b"{}").status, 200);
    }
    s.kill_9();
    let before = tmp_roots(&s);
    assert_eq!(before.len(), 1, "{before:?}");

    s.restart_after_exit();
    let report = ok_json(
        &s.updraft_cli(&["usage", "--json", "--by", "function"]),
        "updraft usage --json",
    );
    let requests: u64 = report["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter(|g| g["key"] == "metered")
        .map(|g| g["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 20, "{report}");

    let after = tmp_roots(&s);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "the killed server's root is gone");
}
