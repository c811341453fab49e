//! Everything survives closing and reopening the database.

use std::time::{Duration, SystemTime};

use updraft_policy::{Context, Decision};

use crate::*;

#[test]
fn the_directory_survives_a_reopen() {
    let d = tempfile::tempdir().unwrap();
    let (key, secret, skey, stoken, policy_arn);
    {
        let dir = open_at(d.path());
        let r = root();
        dir.ensure_root_key(ACCOUNT, "FOOBARKEY", "FOOBARSECRET")
            .unwrap();
        (key, secret) = user_with_key(&dir, "pat");
        ok(iam(&dir, &r, "CreateGroup", &[("GroupName", "g")]));
        ok(iam(
            &dir,
            &r,
            "AddUserToGroup",
            &[("GroupName", "g"), ("UserName", "pat")],
        ));
        let body = ok(iam(
            &dir,
            &r,
            "CreatePolicy",
            &[
                ("PolicyName", "p"),
                ("PolicyDocument", &allow(&["sqs:SendMessage"], "*")),
            ],
        ));
        policy_arn = text(&body, "Arn").unwrap();
        ok(iam(
            &dir,
            &r,
            "CreatePolicyVersion",
            &[
                ("PolicyArn", &policy_arn),
                ("PolicyDocument", &allow(&["sqs:ReceiveMessage"], "*")),
                ("SetAsDefault", "true"),
            ],
        ));
        ok(iam(
            &dir,
            &r,
            "AttachGroupPolicy",
            &[("GroupName", "g"), ("PolicyArn", &policy_arn)],
        ));
        ok(iam(
            &dir,
            &r,
            "CreateRole",
            &[
                ("RoleName", "app"),
                ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
                ("Description", "d"),
            ],
        ));
        ok(iam(
            &dir,
            &r,
            "PutRolePolicy",
            &[
                ("RoleName", "app"),
                ("PolicyName", "all"),
                ("PolicyDocument", ALLOW_ALL),
            ],
        ));
        let body = ok(sts(
            &dir,
            &r,
            "AssumeRole",
            &[
                ("RoleArn", "arn:aws:iam::123456789012:role/app"),
                ("RoleSessionName", "s1"),
            ],
        ));
        skey = text(&body, "AccessKeyId").unwrap();
        stoken = text(&body, "SessionToken").unwrap();
    }
    let dir = open_at(d.path());
    let now = SystemTime::now();
    assert_eq!(
        dir.lookup_key("FOOBARKEY", None, now).unwrap().secret,
        "FOOBARSECRET"
    );
    let pat = dir.lookup_key(&key, None, now).unwrap();
    assert_eq!(pat.secret, secret);
    let q = "arn:aws:sqs:us-east-1:123456789012:q";
    assert_eq!(
        dir.authorize(&pat.caller, "sqs:ReceiveMessage", q, &Context::new(), None),
        Decision::Allow
    );
    assert_eq!(
        dir.authorize(&pat.caller, "sqs:SendMessage", q, &Context::new(), None),
        Decision::ImplicitDeny
    );
    let body = ok(iam(
        &dir,
        &root(),
        "ListPolicyVersions",
        &[("PolicyArn", &policy_arn)],
    ));
    assert_eq!(texts(&body, "VersionId"), ["v2", "v1"]);
    let body = ok(iam(&dir, &root(), "GetRole", &[("RoleName", "app")]));
    assert_eq!(text(&body, "Description").unwrap(), "d");
    let session = dir.lookup_key(&skey, Some(&stoken), now).unwrap().caller;
    assert_eq!(
        dir.authorize(&session, "sqs:DeleteQueue", q, &Context::new(), None),
        Decision::Allow
    );
}

#[test]
fn sessions_survive_a_reopen_until_they_expire() {
    let d = tempfile::tempdir().unwrap();
    let dir = open_at(d.path());
    let r = root();
    ok(iam(
        &dir,
        &r,
        "CreateRole",
        &[
            ("RoleName", "app"),
            ("AssumeRolePolicyDocument", &trust_aws(ACCOUNT)),
        ],
    ));
    let assume = |now: SystemTime| {
        let mut m = meta();
        m.now = now;
        let params: Vec<(String, String)> = [
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::123456789012:role/app"),
            ("RoleSessionName", "s1"),
            ("DurationSeconds", "900"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let body = ok(dir.handle(updraft_iam::Api::Sts, &r, &params, &m));
        (
            text(&body, "AccessKeyId").unwrap(),
            text(&body, "SessionToken").unwrap(),
        )
    };
    // One issued now, then one two hours ago (expired).
    let (key, token) = assume(SystemTime::now());
    let (old_key, old_token) = assume(SystemTime::now() - Duration::from_secs(7200));
    assert_eq!(
        dir.lookup_key(&old_key, Some(&old_token), SystemTime::now())
            .unwrap_err(),
        updraft_iam::KeyError::Expired
    );
    drop(dir);

    // Reopening prunes the expired one and keeps the live one.
    let dir = open_at(d.path());
    assert_eq!(
        dir.lookup_key(&old_key, Some(&old_token), SystemTime::now())
            .unwrap_err(),
        updraft_iam::KeyError::UnknownKey
    );
    let grant = dir
        .lookup_key(&key, Some(&token), SystemTime::now())
        .unwrap();
    assert_eq!(
        grant.caller.arn(),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );
    assert_eq!(dir.prune_sessions().unwrap(), 0);
}

#[test]
fn a_stored_document_that_no_longer_validates_denies_everything() {
    let d = tempfile::tempdir().unwrap();
    let key;
    {
        let dir = open_at(d.path());
        (key, _) = user_with_key(&dir, "sam");
        ok(iam(
            &dir,
            &root(),
            "PutUserPolicy",
            &[
                ("UserName", "sam"),
                ("PolicyName", "all"),
                ("PolicyDocument", ALLOW_ALL),
            ],
        ));
        ok(iam(
            &dir,
            &root(),
            "PutUserPolicy",
            &[
                ("UserName", "sam"),
                ("PolicyName", "old"),
                ("PolicyDocument", &allow(&["sqs:SendMessage"], "*")),
            ],
        ));
    }
    // As if a later version refused what an earlier one accepted.
    let conn = rusqlite::Connection::open(d.path().join("iam.db")).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM records WHERE kind = 'user' AND name = 'sam'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut user: serde_json::Value = serde_json::from_str(&body).unwrap();
    user["inline"]["old"] = serde_json::Value::String("{\"Statement\": \"no\"}".into());
    conn.execute(
        "UPDATE records SET body = ?1 WHERE kind = 'user' AND name = 'sam'",
        [user.to_string()],
    )
    .unwrap();
    drop(conn);

    let dir = open_at(d.path());
    let sam = caller_of(&dir, &key);
    assert_eq!(
        dir.authorize(
            &sam,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
            &Context::new(),
            None
        ),
        Decision::ExplicitDeny
    );
    // The API still shows it, and replacing it restores access.
    let body = ok(iam(
        &dir,
        &root(),
        "GetUserPolicy",
        &[("UserName", "sam"), ("PolicyName", "old")],
    ));
    assert_eq!(
        text(&body, "PolicyDocument").unwrap(),
        "%7B%22Statement%22%3A%20%22no%22%7D"
    );
    ok(iam(
        &dir,
        &root(),
        "DeleteUserPolicy",
        &[("UserName", "sam"), ("PolicyName", "old")],
    ));
    assert_eq!(
        dir.authorize(
            &sam,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
            &Context::new(),
            None
        ),
        Decision::Allow
    );
}
