//! `updraft iam`: users, access keys, groups, roles, managed policies,
//! attachments, the policy simulator and `whoami`, through the IAM and STS
//! query APIs the aws CLI uses (a form-encoded `POST /` with
//! `Action=...&Version=...`, signed for `iam` or `sts` in us-east-1, XML
//! replies).
//!
//! Replies are turned into JSON in the shape the aws CLI prints
//! ([`reply`]); `--json` prints that, and without it each command prints a
//! table or a line for people.

use anyhow::{anyhow, bail, Context};
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use crate::client::Client;

mod args;
mod reply;

pub use args::IamCmd;
use args::{AttachArgs, GroupCmd, KeyCmd, Kind, PolicyCmd, RoleCmd, SimulateArgs, UserCmd};
use reply::{to_json, xml};

/// IAM and STS are global: requests are signed for this region.
pub const REGION: &str = "us-east-1";

const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";

/// Runs one `updraft iam` command; `c` signs for [`REGION`].
pub async fn run(c: &Client, cmd: IamCmd, as_json: bool) -> anyhow::Result<()> {
    let q = Query { c };
    match cmd {
        IamCmd::User { command } => user(&q, command, as_json).await,
        IamCmd::Key { command } => key(&q, command, as_json).await,
        IamCmd::Group { command } => group(&q, command, as_json).await,
        IamCmd::Role { command } => role(&q, command, as_json).await,
        IamCmd::Policy { command } => policy(&q, command, as_json).await,
        IamCmd::Attach(a) => attach(&q, a, true, as_json).await,
        IamCmd::Detach(a) => attach(&q, a, false, as_json).await,
        IamCmd::Simulate(a) => simulate(&q, a, as_json).await,
        IamCmd::Whoami => whoami(&q, as_json).await,
    }
}

// ---------------------------------------------------------------------------
// The query protocol

/// What AWS leaves unescaped in a form value.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

type Params = Vec<(String, String)>;

fn param(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// `Prefix.member.1=...`, `Prefix.member.2=...`.
fn members(prefix: &str, values: &[String]) -> Params {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("{prefix}.member.{}", i + 1), v.clone()))
        .collect()
}

struct Query<'a> {
    c: &'a Client,
}

impl Query<'_> {
    /// An IAM action; returns its `<ActionResult>` element (empty for
    /// actions that return nothing).
    async fn iam(&self, action: &str, params: Params) -> anyhow::Result<xml::Element> {
        self.call("iam", IAM_VERSION, action, params).await
    }

    async fn call(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: Params,
    ) -> anyhow::Result<xml::Element> {
        let mut body = format!("Action={action}&Version={version}");
        for (k, v) in &params {
            body.push('&');
            body.extend(utf8_percent_encode(k, FORM));
            body.push('=');
            body.extend(utf8_percent_encode(v, FORM));
        }
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        let answer = self
            .c
            .send(Method::POST, "/", service, &headers, body.into_bytes())
            .await?;
        let root = xml::parse(&answer.body);
        if answer.status >= 300 {
            if let Ok(root) = &root {
                if let Some(err) = root.find("Error") {
                    bail!("{}: {}", err.text_of("Code"), err.text_of("Message"));
                }
            }
            bail!(
                "{action} failed with HTTP {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body).trim()
            );
        }
        let root = root.with_context(|| format!("the answer to {action} is not XML"))?;
        let result = format!("{action}Result");
        Ok(root
            .children
            .iter()
            .find(|e| e.name == result)
            .cloned()
            .unwrap_or_else(|| xml::Element::new(&result)))
    }

    /// Every member of a paged `List*` answer's `list` element.
    async fn list_all(
        &self,
        action: &str,
        params: Params,
        list: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut p = params.clone();
            if let Some(m) = &marker {
                p.push(param("Marker", m.clone()));
            }
            let page = to_json(&self.iam(action, p).await?);
            if let Some(items) = page[list].as_array() {
                all.extend(items.iter().cloned());
            }
            match (page["IsTruncated"].as_bool(), page["Marker"].as_str()) {
                (Some(true), Some(m)) if marker.as_deref() != Some(m) => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(all),
            }
        }
    }

    /// A policy's ARN: as given when it is one, else the account's own
    /// policy of that name, else the AWS managed one.
    async fn policy_arn(&self, name_or_arn: &str) -> anyhow::Result<String> {
        if name_or_arn.starts_with("arn:") {
            return Ok(name_or_arn.to_string());
        }
        let all = self
            .list_all("ListPolicies", vec![param("Scope", "All")], "Policies")
            .await?;
        let named: Vec<&str> = all
            .iter()
            .filter(|p| p["PolicyName"] == name_or_arn)
            .filter_map(|p| p["Arn"].as_str())
            .collect();
        named
            .iter()
            .find(|a| !a.starts_with("arn:aws:iam::aws:"))
            .or(named.first())
            .map(|a| a.to_string())
            .ok_or_else(|| {
                anyhow!(
                    "no managed policy is named {name_or_arn} (see `updraft iam policy ls --all`)"
                )
            })
    }
}

// ---------------------------------------------------------------------------
// Commands

async fn user(q: &Query<'_>, cmd: UserCmd, as_json: bool) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create { name, path } => {
            let mut p = vec![param("UserName", name.as_str())];
            if let Some(path) = path {
                p.push(param("Path", path));
            }
            let out = to_json(&q.iam("CreateUser", p).await?);
            print_or(as_json, &out, || {
                println!("created user {name} ({})", text(&out["User"], "Arn"))
            })
        }
        UserCmd::Ls => {
            let users = q.list_all("ListUsers", vec![], "Users").await?;
            if as_json {
                return print_json(&json!({ "Users": users }));
            }
            table(
                "no users",
                &["NAME", "ARN", "CREATED"],
                users
                    .iter()
                    .map(|u| cols(u, &["UserName", "Arn", "CreateDate"]))
                    .collect(),
            );
            Ok(())
        }
        UserCmd::Rm { name, force } => {
            if force {
                let p = || vec![param("UserName", name.as_str())];
                for k in q
                    .list_all("ListAccessKeys", p(), "AccessKeyMetadata")
                    .await?
                {
                    let mut d = p();
                    d.push(param("AccessKeyId", text(&k, "AccessKeyId")));
                    q.iam("DeleteAccessKey", d).await?;
                }
                for g in q.list_all("ListGroupsForUser", p(), "Groups").await? {
                    let mut d = p();
                    d.push(param("GroupName", text(&g, "GroupName")));
                    q.iam("RemoveUserFromGroup", d).await?;
                }
                strip_policies(q, Kind::User, &name).await?;
            }
            q.iam("DeleteUser", vec![param("UserName", name.as_str())])
                .await
                .map_err(force_hint)?;
            deleted(as_json, "user", &name)
        }
    }
}

/// A refusal to delete something still in use, with how to insist.
fn force_hint(e: anyhow::Error) -> anyhow::Error {
    if e.to_string().starts_with("DeleteConflict:") {
        anyhow!("{e} (--force removes what is in the way first)")
    } else {
        e
    }
}

/// Detaches every managed policy of a user, group or role and deletes its
/// inline policies.
async fn strip_policies(q: &Query<'_>, kind: Kind, name: &str) -> anyhow::Result<()> {
    let w = kind.word();
    let key = format!("{w}Name");
    let p = || vec![param(&key, name)];
    let attached = q
        .list_all(&format!("ListAttached{w}Policies"), p(), "AttachedPolicies")
        .await?;
    for a in attached {
        let mut d = p();
        d.push(param("PolicyArn", text(&a, "PolicyArn")));
        q.iam(&format!("Detach{w}Policy"), d).await?;
    }
    let inline = q
        .list_all(&format!("List{w}Policies"), p(), "PolicyNames")
        .await?;
    for n in inline {
        let mut d = p();
        d.push(param("PolicyName", n.as_str().unwrap_or_default()));
        q.iam(&format!("Delete{w}Policy"), d).await?;
    }
    Ok(())
}

fn user_param(user: &Option<String>) -> Params {
    user.iter().map(|u| param("UserName", u.as_str())).collect()
}

async fn key(q: &Query<'_>, cmd: KeyCmd, as_json: bool) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { user } => {
            let out = to_json(&q.iam("CreateAccessKey", user_param(&user)).await?);
            print_or(as_json, &out, || {
                let k = &out["AccessKey"];
                match k["UserName"].as_str() {
                    Some(u) => println!("created an access key for user {u}"),
                    None => println!("created an access key"),
                }
                println!("AccessKeyId:     {}", text(k, "AccessKeyId"));
                println!("SecretAccessKey: {}", text(k, "SecretAccessKey"));
                println!("The secret access key is shown only now: keep it somewhere safe.");
            })
        }
        KeyCmd::Ls { user } => {
            let keys = q
                .list_all("ListAccessKeys", user_param(&user), "AccessKeyMetadata")
                .await?;
            if as_json {
                return print_json(&json!({ "AccessKeyMetadata": keys }));
            }
            table(
                "no access keys",
                &["ACCESS KEY ID", "STATUS", "CREATED", "USER"],
                keys.iter()
                    .map(|k| cols(k, &["AccessKeyId", "Status", "CreateDate", "UserName"]))
                    .collect(),
            );
            Ok(())
        }
        KeyCmd::Rm { key_id, user } => {
            let mut p = user_param(&user);
            p.push(param("AccessKeyId", key_id.as_str()));
            q.iam("DeleteAccessKey", p).await?;
            deleted(as_json, "access key", &key_id)
        }
    }
}

async fn group(q: &Query<'_>, cmd: GroupCmd, as_json: bool) -> anyhow::Result<()> {
    match cmd {
        GroupCmd::Create { name } => {
            let out = to_json(
                &q.iam("CreateGroup", vec![param("GroupName", name.as_str())])
                    .await?,
            );
            print_or(as_json, &out, || {
                println!("created group {name} ({})", text(&out["Group"], "Arn"))
            })
        }
        GroupCmd::Ls => {
            let groups = q.list_all("ListGroups", vec![], "Groups").await?;
            if as_json {
                return print_json(&json!({ "Groups": groups }));
            }
            table(
                "no groups",
                &["NAME", "ARN", "CREATED"],
                groups
                    .iter()
                    .map(|g| cols(g, &["GroupName", "Arn", "CreateDate"]))
                    .collect(),
            );
            Ok(())
        }
        GroupCmd::Rm { name, force } => {
            if force {
                let p = || vec![param("GroupName", name.as_str())];
                for u in q.list_all("GetGroup", p(), "Users").await? {
                    let mut d = p();
                    d.push(param("UserName", text(&u, "UserName")));
                    q.iam("RemoveUserFromGroup", d).await?;
                }
                strip_policies(q, Kind::Group, &name).await?;
            }
            q.iam("DeleteGroup", vec![param("GroupName", name.as_str())])
                .await
                .map_err(force_hint)?;
            deleted(as_json, "group", &name)
        }
        GroupCmd::AddUser { group, user } => {
            q.iam(
                "AddUserToGroup",
                vec![
                    param("GroupName", group.as_str()),
                    param("UserName", user.as_str()),
                ],
            )
            .await?;
            print_or(
                as_json,
                &json!({"GroupName": group, "UserName": user}),
                || println!("added {user} to {group}"),
            )
        }
        GroupCmd::RemoveUser { group, user } => {
            q.iam(
                "RemoveUserFromGroup",
                vec![
                    param("GroupName", group.as_str()),
                    param("UserName", user.as_str()),
                ],
            )
            .await?;
            print_or(
                as_json,
                &json!({"GroupName": group, "UserName": user}),
                || println!("removed {user} from {group}"),
            )
        }
    }
}

/// A trust policy letting `trusted` assume the role: services (a bare
/// name gets `.amazonaws.com`), account ids and IAM ARNs.
pub fn trust_policy(trusted: &[String]) -> anyhow::Result<Value> {
    let mut services = Vec::new();
    let mut aws = Vec::new();
    for t in trusted.iter().flat_map(|t| t.split(',')).map(str::trim) {
        if t.is_empty() {
            continue;
        }
        if t.starts_with("arn:") {
            aws.push(t.to_string());
        } else if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) {
            aws.push(format!("arn:aws:iam::{t}:root"));
        } else if t.contains(':') || t.contains('/') {
            bail!("--trust {t}: expected a service (lambda, events.amazonaws.com), an account id or an ARN");
        } else if t.contains('.') {
            services.push(t.to_string());
        } else {
            services.push(format!("{t}.amazonaws.com"));
        }
    }
    let one_or_many = |v: Vec<String>| match v.len() {
        1 => json!(v[0]),
        _ => json!(v),
    };
    let mut principal = Map::new();
    if !aws.is_empty() {
        principal.insert("AWS".into(), one_or_many(aws));
    }
    if !services.is_empty() {
        principal.insert("Service".into(), one_or_many(services));
    }
    if principal.is_empty() {
        bail!("--trust: name at least one service, account or ARN");
    }
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]
    }))
}

/// Who a trust policy lets in, in one line.
fn trusted_summary(doc: &Value) -> String {
    let mut out = Vec::new();
    let statements = match &doc["Statement"] {
        Value::Array(s) => s.clone(),
        s => vec![s.clone()],
    };
    for s in statements {
        match &s["Principal"] {
            Value::String(p) => out.push(p.clone()),
            Value::Object(m) => {
                for v in m.values() {
                    match v {
                        Value::String(p) => out.push(p.clone()),
                        Value::Array(ps) => {
                            out.extend(ps.iter().filter_map(|p| p.as_str()).map(str::to_string))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.join(",")
}

async fn role(q: &Query<'_>, cmd: RoleCmd, as_json: bool) -> anyhow::Result<()> {
    match cmd {
        RoleCmd::Create {
            name,
            trust,
            description,
            max_session_duration,
        } => {
            let doc = trust_policy(&trust)?;
            let mut p = vec![
                param("RoleName", name.as_str()),
                param("AssumeRolePolicyDocument", doc.to_string()),
            ];
            if let Some(d) = description {
                p.push(param("Description", d));
            }
            if let Some(s) = max_session_duration {
                p.push(param("MaxSessionDuration", s.to_string()));
            }
            let out = to_json(&q.iam("CreateRole", p).await?);
            print_or(as_json, &out, || {
                println!(
                    "created role {name} ({}), trusting {}",
                    text(&out["Role"], "Arn"),
                    trusted_summary(&doc)
                )
            })
        }
        RoleCmd::Ls => {
            let roles = q.list_all("ListRoles", vec![], "Roles").await?;
            if as_json {
                return print_json(&json!({ "Roles": roles }));
            }
            table(
                "no roles",
                &["NAME", "ARN", "TRUSTED", "CREATED"],
                roles
                    .iter()
                    .map(|r| {
                        vec![
                            text(r, "RoleName").to_string(),
                            text(r, "Arn").to_string(),
                            trusted_summary(&r["AssumeRolePolicyDocument"]),
                            text(r, "CreateDate").to_string(),
                        ]
                    })
                    .collect(),
            );
            Ok(())
        }
        RoleCmd::Rm { name, force } => {
            if force {
                strip_policies(q, Kind::Role, &name).await?;
            }
            q.iam("DeleteRole", vec![param("RoleName", name.as_str())])
                .await
                .map_err(force_hint)?;
            deleted(as_json, "role", &name)
        }
    }
}

/// `--document`: JSON text, or the file (optionally `file://...`) holding it.
fn read_document(arg: &str) -> anyhow::Result<String> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_string()
    } else {
        let path = arg.strip_prefix("file://").unwrap_or(arg);
        std::fs::read_to_string(path)
            .with_context(|| format!("--document {arg}: not JSON, and not a readable file"))?
    };
    serde_json::from_str::<Value>(&text)
        .with_context(|| format!("--document {arg}: the policy document is not valid JSON"))?;
    Ok(text)
}

async fn policy(q: &Query<'_>, cmd: PolicyCmd, as_json: bool) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Create {
            name,
            document,
            description,
        } => {
            let mut p = vec![
                param("PolicyName", name.as_str()),
                param("PolicyDocument", read_document(&document)?),
            ];
            if let Some(d) = description {
                p.push(param("Description", d));
            }
            let out = to_json(&q.iam("CreatePolicy", p).await?);
            print_or(as_json, &out, || {
                println!("created policy {name} ({})", text(&out["Policy"], "Arn"))
            })
        }
        PolicyCmd::Ls { all } => {
            let scope = if all { "All" } else { "Local" };
            let policies = q
                .list_all("ListPolicies", vec![param("Scope", scope)], "Policies")
                .await?;
            if as_json {
                return print_json(&json!({ "Policies": policies }));
            }
            table(
                "no managed policies",
                &["NAME", "ARN", "ATTACHMENTS", "VERSION"],
                policies
                    .iter()
                    .map(|p| {
                        cols(
                            p,
                            &["PolicyName", "Arn", "AttachmentCount", "DefaultVersionId"],
                        )
                    })
                    .collect(),
            );
            Ok(())
        }
        PolicyCmd::Show { policy } => {
            let arn = q.policy_arn(&policy).await?;
            let mut out = to_json(
                &q.iam("GetPolicy", vec![param("PolicyArn", arn.as_str())])
                    .await?,
            );
            let version = text(&out["Policy"], "DefaultVersionId").to_string();
            let v = to_json(
                &q.iam(
                    "GetPolicyVersion",
                    vec![
                        param("PolicyArn", arn.as_str()),
                        param("VersionId", version),
                    ],
                )
                .await?,
            );
            out["PolicyVersion"] = v["PolicyVersion"].clone();
            print_or(as_json, &out, || {
                let p = &out["Policy"];
                println!("{} ({})", text(p, "PolicyName"), text(p, "Arn"));
                if let Some(d) = p["Description"].as_str() {
                    println!("{d}");
                }
                println!(
                    "version {}, attached {} time(s)",
                    text(p, "DefaultVersionId"),
                    p["AttachmentCount"]
                );
                let doc = &out["PolicyVersion"]["Document"];
                println!(
                    "{}",
                    serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string())
                );
            })
        }
        PolicyCmd::Rm { policy, force } => {
            let arn = q.policy_arn(&policy).await?;
            let p = || vec![param("PolicyArn", arn.as_str())];
            if force {
                let entities = to_json(&q.iam("ListEntitiesForPolicy", p()).await?);
                for (kind, list, key) in [
                    (Kind::User, "PolicyUsers", "UserName"),
                    (Kind::Group, "PolicyGroups", "GroupName"),
                    (Kind::Role, "PolicyRoles", "RoleName"),
                ] {
                    for e in entities[list].as_array().into_iter().flatten() {
                        let mut d = p();
                        d.push(param(key, text(e, key)));
                        q.iam(&format!("Detach{}Policy", kind.word()), d).await?;
                    }
                }
                for v in q.list_all("ListPolicyVersions", p(), "Versions").await? {
                    if v["IsDefaultVersion"] != true {
                        let mut d = p();
                        d.push(param("VersionId", text(&v, "VersionId")));
                        q.iam("DeletePolicyVersion", d).await?;
                    }
                }
            }
            q.iam("DeletePolicy", p()).await.map_err(force_hint)?;
            deleted(as_json, "policy", &arn)
        }
    }
}

async fn attach(q: &Query<'_>, a: AttachArgs, on: bool, as_json: bool) -> anyhow::Result<()> {
    let (kind, name) = a.holder.get()?;
    let arn = q.policy_arn(&a.policy).await?;
    let w = kind.word();
    let verb = if on { "Attach" } else { "Detach" };
    let name_key = format!("{w}Name");
    q.iam(
        &format!("{verb}{w}Policy"),
        vec![param(&name_key, name), param("PolicyArn", arn.as_str())],
    )
    .await?;
    let out = json!({ name_key: name, "PolicyArn": arn });
    print_or(as_json, &out, || {
        let kind = w.to_lowercase();
        if on {
            println!("attached {arn} to {kind} {name}")
        } else {
            println!("detached {arn} from {kind} {name}")
        }
    })
}

async fn simulate(q: &Query<'_>, a: SimulateArgs, as_json: bool) -> anyhow::Result<()> {
    let (kind, name) = a.holder.get()?;
    let w = kind.word();
    let entity = to_json(
        &q.iam(&format!("Get{w}"), vec![param(&format!("{w}Name"), name)])
            .await?,
    );
    let arn = text(&entity[w], "Arn").to_string();
    if arn.is_empty() {
        bail!(
            "the server did not say the ARN of {} {name}",
            w.to_lowercase()
        );
    }
    let mut p = vec![param("PolicySourceArn", arn)];
    p.extend(members("ActionNames", &a.actions));
    p.extend(members("ResourceArns", &a.resources));
    let results = q
        .list_all("SimulatePrincipalPolicy", p, "EvaluationResults")
        .await?;
    if as_json {
        return print_json(&json!({ "EvaluationResults": results }));
    }
    table(
        "no results",
        &["ACTION", "RESOURCE", "DECISION", "MATCHED STATEMENTS"],
        results
            .iter()
            .map(|r| {
                let matched: Vec<&str> = r["MatchedStatements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["SourcePolicyId"].as_str())
                    .collect();
                vec![
                    text(r, "EvalActionName").to_string(),
                    text(r, "EvalResourceName").to_string(),
                    text(r, "EvalDecision").to_string(),
                    matched.join(","),
                ]
            })
            .collect(),
    );
    Ok(())
}

/// The account of the credentials `c` signs with (STS GetCallerIdentity).
pub async fn caller_account(c: &Client) -> anyhow::Result<String> {
    let identity = Query { c }
        .call("sts", STS_VERSION, "GetCallerIdentity", vec![])
        .await?;
    Ok(identity.text_of("Account").to_string())
}

async fn whoami(q: &Query<'_>, as_json: bool) -> anyhow::Result<()> {
    let out = to_json(
        &q.call("sts", STS_VERSION, "GetCallerIdentity", vec![])
            .await?,
    );
    print_or(as_json, &out, || {
        println!("Account: {}", text(&out, "Account"));
        println!("Arn:     {}", text(&out, "Arn"));
        println!("UserId:  {}", text(&out, "UserId"));
    })
}

// ---------------------------------------------------------------------------
// Output

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `v` as JSON with `--json`, else what `human` prints.
fn print_or(as_json: bool, v: &Value, human: impl FnOnce()) -> anyhow::Result<()> {
    if as_json {
        print_json(v)
    } else {
        human();
        Ok(())
    }
}

fn deleted(as_json: bool, what: &str, name: &str) -> anyhow::Result<()> {
    print_or(as_json, &json!({ "Deleted": name }), || {
        println!("deleted {what} {name}")
    })
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The `keys` of `v` as table cells.
fn cols(v: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| match &v[*k] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect()
}

/// Prints `rows` under `headers` in aligned columns (or `empty`).
fn table(empty: &str, headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("{empty}");
        return;
    }
    print!("{}", render_table(headers, &rows));
}

fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_name_services_accounts_and_arns() {
        let doc = trust_policy(&["lambda".into(), "events.amazonaws.com".into()]).unwrap();
        assert_eq!(
            doc["Statement"][0]["Principal"],
            json!({"Service": ["lambda.amazonaws.com", "events.amazonaws.com"]})
        );
        assert_eq!(doc["Statement"][0]["Action"], "sts:AssumeRole");
        let doc = trust_policy(&[
            "111122223333,arn:aws:iam::111122223333:user/u".into(),
            "scheduler".into(),
        ])
        .unwrap();
        assert_eq!(
            doc["Statement"][0]["Principal"],
            json!({"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:user/u"],
                   "Service": "scheduler.amazonaws.com"})
        );
        assert_eq!(
            trusted_summary(&doc),
            "arn:aws:iam::111122223333:root,arn:aws:iam::111122223333:user/u,scheduler.amazonaws.com"
        );
        assert!(trust_policy(&["role/x".into()]).is_err());
        assert!(trust_policy(&[",".into()]).is_err());
    }

    #[test]
    fn documents_are_json_text_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(&file, r#"{"Version":"2012-10-17"}"#).unwrap();
        assert_eq!(read_document(r#" {"a":1}"#).unwrap(), r#" {"a":1}"#);
        let path = file.display().to_string();
        assert_eq!(read_document(&path).unwrap(), r#"{"Version":"2012-10-17"}"#);
        assert_eq!(
            read_document(&format!("file://{path}")).unwrap(),
            r#"{"Version":"2012-10-17"}"#
        );
        let e = format!("{:#}", read_document("/no/such/file").unwrap_err());
        assert!(e.contains("not JSON, and not a readable file"), "{e}");
        let e = format!("{:#}", read_document("{nope").unwrap_err());
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn tables_align_columns() {
        let out = render_table(
            &["NAME", "ARN"],
            &[
                vec!["alice".into(), "arn:1".into()],
                vec!["b".into(), "".into()],
            ],
        );
        assert_eq!(out, "NAME   ARN\nalice  arn:1\nb\n");
    }
}
