//! The bootstrap file, in TOML and JSON, applied twice.

use std::time::SystemTime;

use updraft_iam::Bootstrap;
use updraft_policy::{Context, Decision};

use crate::*;

const FILE: &str = r#"
[[accounts]]
id = "123456789012"
root_access_key_id = "FOOBARKEY"
root_secret_access_key = "FOOBARSECRET"

[[accounts.policies]]
name = "Senders"
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}'''

[[accounts.groups]]
name = "senders"
managed_policies = ["arn:aws:iam::123456789012:policy/Senders"]

[[accounts.users]]
name = "alice"
groups = ["senders"]
keys = [{ access_key_id = "AKIAALICE00000000001", secret_access_key = "alice-secret" }]

[accounts.users.inline_policies]
receive = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"*"}]}'''

[[accounts.roles]]
name = "fn-exec"
trust_policy = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'''
managed_policies = ["arn:aws:iam::aws:policy/AdministratorAccess"]

[[accounts]]
id = "210987654321"
root_keys = [{ access_key_id = "OTHERKEY", secret_access_key = "OTHERSECRET" }]
"#;

#[test]
fn bootstrap_creates_everything_and_is_idempotent() {
    let (d, dir) = open();
    let path = d.path().join("bootstrap.toml");
    std::fs::write(&path, FILE).unwrap();
    let file = Bootstrap::from_file(&path).unwrap();
    dir.apply_bootstrap(&file).unwrap();
    let snapshot = |dir: &updraft_iam::Iam| {
        let r = root();
        let users = ok(iam(dir, &r, "ListUsers", &[]));
        let user = ok(iam(dir, &r, "GetUser", &[("UserName", "alice")]));
        let role = ok(iam(dir, &r, "GetRole", &[("RoleName", "fn-exec")]));
        let policy = ok(iam(
            dir,
            &r,
            "ListPolicyVersions",
            &[("PolicyArn", "arn:aws:iam::123456789012:policy/Senders")],
        ));
        let keys = ok(iam(dir, &r, "ListAccessKeys", &[("UserName", "alice")]));
        let strip = |s: String| s.replace("<RequestId>req-1</RequestId>", "");
        (
            strip(users),
            text(&user, "UserId"),
            text(&role, "RoleId"),
            strip(policy),
            texts(&keys, "AccessKeyId"),
        )
    };
    let first = snapshot(&dir);
    dir.apply_bootstrap(&file).unwrap();
    assert_eq!(snapshot(&dir), first);
    drop(dir);
    let dir = open_at(d.path());
    dir.apply_bootstrap(&file).unwrap();
    assert_eq!(snapshot(&dir), first);

    let now = SystemTime::now();
    assert_eq!(
        dir.lookup_key("FOOBARKEY", None, now).unwrap().secret,
        "FOOBARSECRET"
    );
    let other = dir.lookup_key("OTHERKEY", None, now).unwrap();
    assert_eq!(other.caller.account(), "210987654321");
    let alice = dir.lookup_key("AKIAALICE00000000001", None, now).unwrap();
    assert_eq!(alice.secret, "alice-secret");
    let q = "arn:aws:sqs:us-east-1:123456789012:q";
    assert_eq!(
        dir.authorize(&alice.caller, "sqs:SendMessage", q, &Context::new(), None),
        Decision::Allow
    );
    assert_eq!(
        dir.authorize(
            &alice.caller,
            "sqs:ReceiveMessage",
            q,
            &Context::new(),
            None
        ),
        Decision::Allow
    );
    assert_eq!(
        dir.authorize(&alice.caller, "sqs:DeleteQueue", q, &Context::new(), None),
        Decision::ImplicitDeny
    );
    dir.check_trusts(
        "arn:aws:iam::123456789012:role/fn-exec",
        "lambda.amazonaws.com",
    )
    .unwrap();
}

#[test]
fn bootstrap_json_with_inline_documents() {
    let (_d, dir) = open();
    let file = Bootstrap::from_json(
        r#"{"accounts":[{"id":"123456789012","users":[{"name":"bo",
            "inline_policies":{"all":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}},
            "keys":[{"access_key_id":"AKIABO00000000000001","secret_access_key":"s"}]}]}]}"#,
    )
    .unwrap();
    dir.apply_bootstrap(&file).unwrap();
    let bo = dir
        .lookup_key("AKIABO00000000000001", None, SystemTime::now())
        .unwrap();
    assert_eq!(
        dir.authorize(&bo.caller, "sqs:DeleteQueue", "*", &Context::new(), None),
        Decision::Allow
    );
}

#[test]
fn bad_bootstrap_files_are_refused_with_the_reason() {
    let (_d, dir) = open();
    let e = Bootstrap::from_toml("[[accounts]]\nid = \"123456789012\"\nbogus = 1\n").unwrap_err();
    assert!(e.to_string().contains("bogus"), "{e}");
    let bad_doc = Bootstrap::from_toml(
        "[[accounts]]\nid = \"123456789012\"\n[[accounts.policies]]\nname = \"p\"\ndocument = \"{}\"\n",
    )
    .unwrap();
    let e = dir.apply_bootstrap(&bad_doc).unwrap_err();
    assert!(e.to_string().contains("policy p"), "{e}");
    let missing = Bootstrap::from_toml(
        "[[accounts]]\nid = \"123456789012\"\n[[accounts.users]]\nname = \"u\"\nmanaged_policies = [\"arn:aws:iam::123456789012:policy/none\"]\n",
    )
    .unwrap();
    assert!(dir.apply_bootstrap(&missing).is_err());
    let bad_account = Bootstrap::from_toml("[[accounts]]\nid = \"12\"\n").unwrap();
    assert!(dir.apply_bootstrap(&bad_account).is_err());
}
