//! Development check of write-time validation against an external list of
//! cases: a JSON array of `{"document": "<policy text>", "error": "<IAM's
//! message>" | null}` at the path in `UPDRAFT_POLICY_CASES`, each parsed as
//! an identity policy (what CreatePolicy does). Skipped when the variable
//! is unset. The live-server conformance harness, which runs the same
//! third-party cases through the IAM API, supersedes this check.

use updraft_policy::{PolicyDocument, PolicyKind};

#[test]
fn external_validation_cases() {
    let Ok(path) = std::env::var("UPDRAFT_POLICY_CASES") else {
        eprintln!("UPDRAFT_POLICY_CASES is not set: skipped");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read the cases file");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("cases are JSON");
    let mut failures = Vec::new();
    for case in &cases {
        let document = case["document"].as_str().expect("document is a string");
        let expected = case["error"].as_str();
        let got = PolicyDocument::parse(document, PolicyKind::Identity);
        let got = got.err().map(|e| e.0);
        if got.as_deref() != expected {
            failures.push(format!(
                "{document}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
