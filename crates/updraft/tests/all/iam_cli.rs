//! `updraft iam` end to end: users, keys, groups, roles, managed policies,
//! attachments, the simulator and whoami against a real server, checked
//! both through the CLI's own output and by what the identities it makes
//! can then do.

use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::support::*;

/// `updraft --json iam <args>`, parsed.
fn iam_json(server: &Server, args: &[&str]) -> Value {
    let mut all = vec!["--json", "iam"];
    all.extend_from_slice(args);
    ok_json(&server.updraft_cli(&all), &format!("updraft iam {args:?}"))
}

/// `updraft iam <args>` (tables and lines for people).
fn iam(server: &Server, args: &[&str]) -> Output {
    let mut all = vec!["iam"];
    all.extend_from_slice(args);
    server.updraft_cli(&all)
}

/// The updraft CLI run with an access key of its own (from the
/// environment, as a user would set it).
fn cli_as(server: &Server, key: &(String, String), args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_updraft"))
        .arg("--endpoint")
        .arg(&server.url)
        .arg("--data-dir")
        .arg(server.scratch().join("no-data-dir"))
        .args(args)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("UPDRAFT_ENDPOINT")
        .env_remove("UPDRAFT_DATA_DIR")
        .env_remove("AWS_REGION")
        .env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .stdin(Stdio::null())
        .output()
        .expect("running the updraft CLI")
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_string())
        .collect()
}

const LIST_FUNCTIONS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}"#;

#[test]
fn users_keys_policies_and_the_simulator() {
    let server = Server::start(&[]);
    let root = iam_json(&server, &["whoami"]);
    assert_eq!(root["Account"], "000000000000");
    assert_eq!(root["Arn"], "arn:aws:iam::000000000000:root");

    let created = iam_json(&server, &["user", "create", "alice"]);
    assert_eq!(created["User"]["UserName"], "alice");
    assert_eq!(
        created["User"]["Arn"],
        "arn:aws:iam::000000000000:user/alice"
    );
    let listed = iam_json(&server, &["user", "ls"]);
    assert_eq!(names(&listed["Users"], "UserName"), ["alice"]);
    let table = ok(&iam(&server, &["user", "ls"]), "user ls");
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("NAME "), "{table}");
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("alice ") && row.contains("arn:aws:iam::000000000000:user/alice"),
        "{table}"
    );

    // The secret is printed once, by `key create`.
    let text = ok(
        &iam(&server, &["key", "create", "--user", "alice"]),
        "key create",
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let key = (field("AccessKeyId:"), field("SecretAccessKey:"));
    assert!(key.0.starts_with("AKIA"), "{text}");
    assert!(text.contains("shown only now"), "{text}");
    let keys = iam_json(&server, &["key", "ls", "--user", "alice"]);
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], key.0.as_str());
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Active");
    assert!(keys["AccessKeyMetadata"][0]
        .get("SecretAccessKey")
        .is_none());

    // Alice's key is hers; she may do nothing yet.
    let me = ok_json(
        &cli_as(&server, &key, &["--json", "iam", "whoami"]),
        "whoami",
    );
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:user/alice");
    let denied = failed(&cli_as(&server, &key, &["ls"]), "ls without a policy");
    assert!(denied.contains("AccessDeniedException"), "{denied}");

    let policy = iam_json(
        &server,
        &["policy", "create", "list-fns", "--document", LIST_FUNCTIONS],
    );
    let arn = policy["Policy"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(arn, "arn:aws:iam::000000000000:policy/list-fns");
    let simulate = |server: &Server| {
        iam_json(
            server,
            &[
                "simulate",
                "--user",
                "alice",
                "--action",
                "lambda:ListFunctions",
                "lambda:DeleteFunction",
            ],
        )
    };
    let before = simulate(&server);
    assert_eq!(
        before["EvaluationResults"][0]["EvalDecision"],
        "implicitDeny"
    );
    // Attached by name; the table shows it.
    ok(
        &iam(&server, &["attach", "--user", "alice", "list-fns"]),
        "attach",
    );
    let after = simulate(&server);
    let results = &after["EvaluationResults"];
    assert_eq!(results[0]["EvalActionName"], "lambda:ListFunctions");
    assert_eq!(results[0]["EvalDecision"], "allowed");
    assert_eq!(
        results[0]["MatchedStatements"][0]["SourcePolicyId"],
        "list-fns"
    );
    assert_eq!(results[1]["EvalDecision"], "implicitDeny");
    let table = ok(
        &iam(
            &server,
            &[
                "simulate",
                "--user",
                "alice",
                "--action",
                "lambda:ListFunctions",
            ],
        ),
        "simulate (table)",
    );
    assert!(
        table.contains("lambda:ListFunctions") && table.contains("allowed"),
        "{table}"
    );
    // And the server agrees with the simulator.
    ok(&cli_as(&server, &key, &["ls"]), "ls with the policy");
    let policies = iam_json(&server, &["policy", "ls"]);
    assert_eq!(policies["Policies"][0]["PolicyName"], "list-fns");
    assert_eq!(policies["Policies"][0]["AttachmentCount"], 1);
    let shown = iam_json(&server, &["policy", "show", "list-fns"]);
    assert_eq!(
        shown["PolicyVersion"]["Document"]["Statement"][0]["Action"],
        "lambda:ListFunctions"
    );

    // A user with keys and policies is not deleted without --force.
    let conflict = failed(&iam(&server, &["user", "rm", "alice"]), "user rm");
    assert!(
        conflict.contains("DeleteConflict: Cannot delete entity, must delete access keys first.")
            && conflict.contains("--force removes"),
        "{conflict}"
    );
    ok(
        &iam(&server, &["user", "rm", "alice", "--force"]),
        "user rm --force",
    );
    assert_eq!(iam_json(&server, &["user", "ls"]), json!({"Users": []}));
    let gone = failed(&cli_as(&server, &key, &["ls"]), "ls with a deleted key");
    assert!(
        gone.contains("InvalidClientTokenId") || gone.contains("UnrecognizedClient"),
        "{gone}"
    );
    ok(&iam(&server, &["policy", "rm", "list-fns"]), "policy rm");
    assert_eq!(
        iam_json(&server, &["policy", "ls"]),
        json!({"Policies": []})
    );
}

#[test]
fn roles_groups_and_refusals() {
    let server = Server::start(&[]);
    let role = iam_json(
        &server,
        &[
            "role",
            "create",
            "fn-role",
            "--trust",
            "lambda",
            "--description",
            "for functions",
        ],
    );
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    let table = ok(&iam(&server, &["role", "ls"]), "role ls");
    let row = table
        .lines()
        .find(|l| l.starts_with("fn-role "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("lambda.amazonaws.com"), "{table}");
    // The role works as a function's execution role.
    let r = server.create_function_zip(
        &unique("with-role"),
        &guest_zip(guests::EXAMPLE_HELLO_HTTP),
        json!({"Role": "arn:aws:iam::000000000000:role/fn-role"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // An AWS managed policy, attached by name.
    ok(
        &iam(
            &server,
            &["attach", "--role", "fn-role", "AdministratorAccess"],
        ),
        "attach AdministratorAccess",
    );
    let sim = iam_json(
        &server,
        &[
            "simulate",
            "--role",
            "fn-role",
            "--action",
            "sqs:SendMessage",
            "--resource",
            "arn:aws:sqs:us-east-1:000000000000:q",
        ],
    );
    assert_eq!(sim["EvaluationResults"][0]["EvalDecision"], "allowed");
    assert_eq!(
        sim["EvaluationResults"][0]["EvalResourceName"],
        "arn:aws:sqs:us-east-1:000000000000:q"
    );
    let conflict = failed(&iam(&server, &["role", "rm", "fn-role"]), "role rm");
    assert!(conflict.contains("DeleteConflict"), "{conflict}");
    ok(
        &iam(&server, &["role", "rm", "fn-role", "--force"]),
        "role rm --force",
    );

    // A group's policy reaches its members.
    ok(&iam(&server, &["user", "create", "bob"]), "user create");
    ok(&iam(&server, &["group", "create", "devs"]), "group create");
    ok(
        &iam(&server, &["group", "add-user", "devs", "bob"]),
        "add-user",
    );
    let policy = iam_json(
        &server,
        &["policy", "create", "list-fns", "--document", LIST_FUNCTIONS],
    );
    let arn = policy["Policy"]["Arn"].as_str().unwrap();
    ok(
        &iam(&server, &["attach", "--group", "devs", arn]),
        "attach by ARN",
    );
    let sim = iam_json(
        &server,
        &[
            "simulate",
            "--user",
            "bob",
            "--action",
            "lambda:ListFunctions",
        ],
    );
    assert_eq!(sim["EvaluationResults"][0]["EvalDecision"], "allowed");
    ok(
        &iam(&server, &["detach", "--group", "devs", "list-fns"]),
        "detach",
    );
    let sim = iam_json(
        &server,
        &[
            "simulate",
            "--user",
            "bob",
            "--action",
            "lambda:ListFunctions",
        ],
    );
    assert_eq!(sim["EvaluationResults"][0]["EvalDecision"], "implicitDeny");
    let groups = iam_json(&server, &["group", "ls"]);
    assert_eq!(names(&groups["Groups"], "GroupName"), ["devs"]);
    ok(
        &iam(&server, &["group", "rm", "devs", "--force"]),
        "group rm --force",
    );

    // Refusals, each one line with the server's words.
    let bad = failed(
        &iam(
            &server,
            &[
                "policy",
                "create",
                "bad",
                "--document",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
            ],
        ),
        "a policy without actions",
    );
    assert!(
        bad.contains("MalformedPolicyDocument: Policy statement must contain actions."),
        "{bad}"
    );
    let unknown = failed(
        &iam(&server, &["attach", "--user", "bob", "no-such-policy"]),
        "attach an unknown policy",
    );
    assert!(
        unknown.contains("no managed policy is named no-such-policy"),
        "{unknown}"
    );
    let missing = failed(
        &iam(&server, &["user", "rm", "nobody"]),
        "rm a missing user",
    );
    assert!(missing.contains("NoSuchEntity"), "{missing}");
    let usage = failed(
        &iam(&server, &["attach", "list-fns"]),
        "attach with no holder",
    );
    assert!(usage.contains("--user"), "{usage}");
}
