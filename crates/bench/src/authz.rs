//! `updraft-bench authz`: what authorization by policy costs on the
//! invoke path.
//!
//! ```text
//!   bootstrap.json   account 000000000000: N managed policies (N-1 of the
//!                    5-statement shape of crates/policy/benches/decide.rs,
//!                    one that allows lambda:InvokeFunction and
//!                    lambda:InvokeFunctionUrl on `hello`), user `bench`
//!                    with a fixed key and K of them attached
//!   A  updraft serve --bootstrap F --deploy hello=C --authorization on
//!   B  updraft serve --bootstrap F --deploy hello=C --authorization off
//!      (--authorization on on both with --control: an A/A run)
//!   each: hello's function URL switched to AWS_IAM by the root key, then
//!   checked: the user's signed URL GET and Invoke answer 200, an unsigned
//!   URL GET 403, the user's Invoke of a function no policy allows 403
//!   with authorization on and not 403 with it off
//!   load: the user's signed function URL GET, then the user's signed
//!   Invoke, on each server in turn ([`ab`]), req/s and server CPU per
//!   request; CPU per request on less off is authorization's CPU
//! ```
//!
//! The root user is never the caller under load: its requests skip policy
//! evaluation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::Full;

use crate::ab;
use crate::control::Api;
use crate::lambda::{SignedInvoke, SignedUrlGet};
use crate::load::{self, connect};
use crate::servers;

/// The node's account (`updraft serve`'s default `--account-id`).
const ACCOUNT: &str = "000000000000";
/// The caller under load: an IAM user with a fixed key.
const USER: &str = "bench";
const USER_KEY: &str = "AKIABENCHUSER0000001";
const USER_SECRET: &str = "bench-user-secret-key-0000000000000000000";
/// The function every request invokes.
const FUNCTION: &str = "hello";
/// The services the generated policies are about (as the policy crate's
/// decision benchmark has them).
const SERVICES: &[&str] = &[
    "lambda",
    "sqs",
    "events",
    "scheduler",
    "logs",
    "sns",
    "dynamodb",
    "states",
];
/// Each slice is followed by this pause (the metering flush, on in both
/// servers, finishes in it).
const SLICE_PAUSE: Duration = Duration::from_millis(400);

pub struct Settings {
    pub updraft: std::path::PathBuf,
    pub hello: std::path::PathBuf,
    pub rounds: usize,
    pub load: load::Settings,
    /// Managed policies in the account (the allowing one included).
    pub policies: usize,
    /// Of them attached to the user (the allowing one included).
    pub attached: usize,
    /// Authorization on in both servers (an A/A control run).
    pub control: bool,
}

/// Managed policy `n` of the account: five statements, as the policy
/// crate's decision benchmark has them, in the node's account.
fn managed_policy(n: usize) -> serde_json::Value {
    let service = SERVICES[n % SERVICES.len()];
    let other = SERVICES[(n + 3) % SERVICES.len()];
    let arn = |rest: &str| format!("arn:aws:{service}:us-east-1:{ACCOUNT}:{rest}");
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": format!("Read{n}"), "Effect": "Allow",
             "Action": [format!("{service}:Get*"), format!("{service}:List*"), format!("{service}:Describe*")],
             "Resource": arn("*")},
            {"Sid": format!("Write{n}"), "Effect": "Allow",
             "Action": [format!("{service}:Put*"), format!("{service}:Update*")],
             "Resource": [arn(&format!("team-{n}-*")), arn("shared/*")]},
            {"Sid": format!("Own{n}"), "Effect": "Allow", "Action": format!("{other}:*"),
             "Resource": format!("arn:aws:{other}::{ACCOUNT}:home/${{aws:username}}/*")},
            {"Sid": format!("Tagged{n}"), "Effect": "Allow", "Action": format!("{service}:Delete*"),
             "Resource": "*",
             "Condition": {"StringEquals": {"aws:ResourceTag/team": format!("t{n}")},
                           "Bool": {"aws:SecureTransport": "true"}}},
            {"Sid": format!("NoProd{n}"), "Effect": "Deny", "Action": "*",
             "Resource": "arn:aws:*:*:*:prod-*",
             "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
        ]
    })
}

/// The bootstrap file's content: `policies` managed policies, the last
/// of them the one that allows invoking [`FUNCTION`], and the user with
/// `attached` of them (spread over the account, the allowing one last).
pub fn bootstrap(policies: usize, attached: usize) -> serde_json::Value {
    let policies = policies.max(1);
    let attached = attached.clamp(1, policies);
    let name = |n: usize| format!("bench-{n:04}");
    let mut docs: Vec<serde_json::Value> = (0..policies - 1)
        .map(|n| serde_json::json!({"name": name(n), "document": managed_policy(n)}))
        .collect();
    docs.push(serde_json::json!({
        "name": "InvokeHello",
        "document": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "InvokeHello", "Effect": "Allow",
                "Action": ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"],
                "Resource": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}")
            }]
        }
    }));
    let arn = |policy: &str| format!("arn:aws:iam::{ACCOUNT}:policy/{policy}");
    let mut managed: Vec<String> = (0..attached - 1)
        .map(|i| arn(&name(i * 97 % (policies - 1).max(1))))
        .collect();
    managed.dedup();
    managed.push(arn("InvokeHello"));
    serde_json::json!({
        "accounts": [{
            "id": ACCOUNT,
            "policies": docs,
            "users": [{
                "name": USER,
                "keys": [{"access_key_id": USER_KEY, "secret_access_key": USER_SECRET}],
                "managed_policies": managed
            }]
        }]
    })
}

fn user_key() -> updraft_auth::Credentials {
    updraft_auth::Credentials {
        access_key_id: USER_KEY.into(),
        secret_access_key: USER_SECRET.into(),
    }
}

/// A server with the bootstrap file applied and authorization `on` or
/// off, `hello`'s URL made `AWS_IAM`, checked, and its two loads.
async fn start(s: &Settings, file: &Path, on: bool) -> anyhow::Result<(ab::Side, String)> {
    let flags = vec![
        "--bootstrap".to_string(),
        file.display().to_string(),
        "--authorization".to_string(),
        if on { "on" } else { "off" }.to_string(),
    ];
    let server = servers::start_updraft_with(&s.updraft, &[(FUNCTION, &s.hello)], &flags)?;
    let addr = server.addr;
    let mut api = Api::new(addr, server.credentials()?).await?;
    let (status, body) = api
        .call(
            "PUT",
            &format!("/2021-10-31/functions/{FUNCTION}/url"),
            br#"{"AuthType":"AWS_IAM"}"#,
        )
        .await?;
    if status != 200 {
        bail!(
            "UpdateFunctionUrlConfig: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let key = user_key();
    let url = Arc::new(SignedUrlGet::new(addr, &key, FUNCTION)?);
    let invoke = Arc::new(SignedInvoke::with_key(addr, &key, FUNCTION, false)?);
    let checks = check(&server, &url, &invoke, on).await?;
    let url: load::MakeRequest = Arc::new(move || url.request());
    let invoke: load::MakeRequest = Arc::new(move || invoke.request());
    Ok((
        ab::Side {
            server,
            loads: vec![("function URL (AWS_IAM)", url), ("Invoke (SigV4)", invoke)],
            thread: None,
        },
        checks,
    ))
}

/// The statuses that show the server does what the run assumes; fails
/// when one is off. Returns them as a line of the report.
async fn check(
    server: &servers::Server,
    url: &SignedUrlGet,
    invoke: &SignedInvoke,
    on: bool,
) -> anyhow::Result<String> {
    let addr = server.addr;
    let mut conn = connect(addr).await?;
    let signed_url = status_of(&mut conn, url.request()).await?;
    let signed_invoke = status_of(&mut conn, invoke.request()).await?;
    let unsigned = http::Request::get(format!("/fn/{FUNCTION}/"))
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    let unsigned = status_of(&mut conn, unsigned).await?;
    let other = SignedInvoke::with_key(addr, &user_key(), "not-allowed", false)?;
    let other = status_of(&mut conn, other.request()).await?;
    let line = format!(
        "authorization {}: the user's signed URL GET {signed_url}, signed Invoke {signed_invoke}; unsigned URL GET {unsigned}; the user's Invoke of a function no policy allows {other}",
        if on { "on" } else { "off" },
    );
    let other_ok = if on { other == 403 } else { other != 403 };
    if !(signed_url == 200 && signed_invoke == 200 && unsigned == 403 && other_ok) {
        bail!("the server does not behave as the benchmark assumes: {line}");
    }
    Ok(line)
}

async fn status_of(
    conn: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    req: http::Request<Full<Bytes>>,
) -> anyhow::Result<u16> {
    use http_body_util::BodyExt as _;
    conn.ready().await?;
    let resp = conn.send_request(req).await?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await?;
    Ok(status)
}

pub async fn run(s: &Settings) -> anyhow::Result<String> {
    let dir = tempfile::Builder::new()
        .prefix("updraft-bench-authz.")
        .tempdir()
        .context("creating a directory for the bootstrap file")?;
    let file = dir.path().join("bootstrap.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&bootstrap(s.policies, s.attached))?,
    )
    .with_context(|| format!("writing {}", file.display()))?;
    let (a, a_checks) = start(s, &file, true).await?;
    let (b, b_checks) = start(s, &file, s.control).await?;
    let sides = [a, b];
    let results = ab::run(&sides, &s.load, s.rounds, SLICE_PAUSE, "authz").await?;
    let names: Vec<&str> = sides[0].loads.iter().map(|(n, _)| *n).collect();
    drop(sides);

    let mut md = String::new();
    if s.control {
        md += "#### Control run (`--control`): both servers with authorization **on**; the \"on\" column is the first of them\n\n";
    }
    md += &format!(
        "#### Authorization on and off (`{}`, caller: IAM user `{USER}` with {} of the account's {} managed policies attached, {} connections, two live servers loaded in turn, {} rounds of {:?} slices)\n\n",
        s.hello.file_name().unwrap_or_default().to_string_lossy(),
        s.attached.clamp(1, s.policies.max(1)),
        s.policies.max(1),
        s.load.connections,
        s.rounds,
        s.load.duration
    );
    md += &format!("- checks: {a_checks}\n- checks: {b_checks}\n\n");
    md += &ab::table(
        &results,
        &names,
        "authorization on",
        "authorization off",
        "on / off",
    );
    for (kind, name) in names.iter().enumerate() {
        let diffs: Vec<f64> = results
            .iter()
            .map(|r| r[0][kind].cpu_per_request_us - r[1][kind].cpu_per_request_us)
            .collect();
        let lo = diffs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = diffs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        md += &format!(
            "- {name}: server CPU per request, on less off: median of the rounds' differences **{:+.2} µs** (lowest {lo:+.2} µs, highest {hi:+.2} µs)\n",
            ab::median(diffs.clone())
        );
    }
    md += "\n";
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::bootstrap;

    #[test]
    fn the_bootstrap_holds_the_policies_and_the_users_attachments() {
        let file = bootstrap(1000, 10);
        let account = &file["accounts"][0];
        let policies = account["policies"].as_array().unwrap();
        assert_eq!(policies.len(), 1000);
        assert_eq!(policies[999]["name"], "InvokeHello");
        let attached = account["users"][0]["managed_policies"].as_array().unwrap();
        assert_eq!(attached.len(), 10);
        assert_eq!(attached[9], "arn:aws:iam::000000000000:policy/InvokeHello");
        // Every attachment names a policy of the file.
        for arn in attached {
            let name = arn.as_str().unwrap().rsplit('/').next().unwrap();
            assert!(policies.iter().any(|p| p["name"] == name), "{name}");
        }
        // The generated documents are the 5-statement shape.
        assert_eq!(
            policies[0]["document"]["Statement"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
    }
}
