//! Tests of the identity directory through its public API: the IAM and
//! STS operations as the gateway calls them, key lookup, authorization,
//! persistence, the bootstrap file, and the replies as real boto3 parses
//! them.

mod authorize;
mod bootstrap;
mod boto3;
mod keys;
mod operations;
mod persistence;
mod policies;
mod sts;

use std::path::Path;
use std::time::SystemTime;

use updraft_iam::{Api, Caller, Iam, IamConfig, QueryResponse, RequestMeta};

pub const ACCOUNT: &str = "123456789012";

pub fn config() -> IamConfig {
    IamConfig {
        bootstrap_account: ACCOUNT.to_string(),
        region: "us-east-1".to_string(),
    }
}

/// A fresh directory in a temporary data directory.
pub fn open() -> (tempfile::TempDir, Iam) {
    let dir = tempfile::tempdir().unwrap();
    let iam = open_at(dir.path());
    (dir, iam)
}

pub fn open_at(dir: &Path) -> Iam {
    Iam::open(&dir.join("iam.db"), config()).unwrap()
}

pub fn meta() -> RequestMeta {
    RequestMeta {
        source_ip: Some("127.0.0.1".parse().unwrap()),
        secure_transport: false,
        region: "us-east-1".to_string(),
        request_id: "req-1".to_string(),
        now: SystemTime::now(),
    }
}

pub fn root() -> Caller {
    Caller::root(ACCOUNT)
}

/// Calls an IAM action with `params`.
pub fn iam(iam: &Iam, caller: &Caller, action: &str, params: &[(&str, &str)]) -> QueryResponse {
    call(iam, Api::Iam, caller, action, params)
}

pub fn sts(iam: &Iam, caller: &Caller, action: &str, params: &[(&str, &str)]) -> QueryResponse {
    call(iam, Api::Sts, caller, action, params)
}

fn call(
    iam: &Iam,
    api: Api,
    caller: &Caller,
    action: &str,
    params: &[(&str, &str)],
) -> QueryResponse {
    let version = match api {
        Api::Iam => "2010-05-08",
        Api::Sts => "2011-06-15",
    };
    let mut pairs = vec![
        ("Action".to_string(), action.to_string()),
        ("Version".to_string(), version.to_string()),
    ];
    pairs.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    iam.handle(api, caller, &pairs, &meta())
}

/// Asserts success and returns the body.
#[track_caller]
pub fn ok(r: QueryResponse) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Asserts an error with `status` and `code`; returns the message.
#[track_caller]
pub fn err(r: QueryResponse, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(text(&r.body, "Code").as_deref(), Some(code), "{}", r.body);
    assert!(r.body.starts_with("<ErrorResponse xmlns="), "{}", r.body);
    unescape(&text(&r.body, "Message").unwrap())
}

/// The text of the first `<tag>` element.
pub fn text(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].to_string())
}

/// The texts of every `<tag>` element.
pub fn texts(body: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A policy allowing `actions` on `resource`.
pub fn allow(actions: &[&str], resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    })
    .to_string()
}

pub fn deny(actions: &[&str], resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": actions, "Resource": resource}]
    })
    .to_string()
}

pub fn trust_service(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

pub fn trust_aws(principal: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

/// Creates user `name` with one access key; returns (key id, secret).
pub fn user_with_key(dir: &Iam, name: &str) -> (String, String) {
    ok(iam(dir, &root(), "CreateUser", &[("UserName", name)]));
    let body = ok(iam(dir, &root(), "CreateAccessKey", &[("UserName", name)]));
    (
        text(&body, "AccessKeyId").unwrap(),
        text(&body, "SecretAccessKey").unwrap(),
    )
}

/// The caller for a key, as the gateway would find it.
pub fn caller_of(dir: &Iam, key: &str) -> Caller {
    dir.lookup_key(key, None, SystemTime::now()).unwrap().caller
}
