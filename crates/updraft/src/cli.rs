//! The client commands: deploy, invoke, ls, logs, rm.
//!
//! Each speaks the same signed API the aws CLI does; output is for people
//! unless `--json` is given, errors are one line on stderr.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;
use http::Method;
use serde_json::{json, Value};

use crate::client::{seg, Client};

/// Zips a bare `.wasm` (or passes a `.zip` through).
fn package(file: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    package_bytes(file, bytes)
}

/// As [`package`], for bytes already read from `file`.
pub fn package_bytes(file: impl AsRef<Path>, bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let file = file.as_ref();
    if file.extension().is_some_and(|e| e == "zip") {
        return Ok(bytes);
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function.wasm");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        name,
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )?;
    w.write_all(&bytes)?;
    Ok(w.finish()?.into_inner())
}

pub struct DeployArgs<'a> {
    pub name: &'a str,
    pub file: &'a Path,
    pub memory: Option<u32>,
    pub timeout: Option<u32>,
    pub env: &'a [(String, String)],
    pub url: bool,
}

/// The configuration members `deploy` was given.
fn config_body(a: &DeployArgs<'_>, env: &Option<Value>) -> Value {
    let mut body = json!({});
    if let Some(m) = a.memory {
        body["MemorySize"] = json!(m);
    }
    if let Some(t) = a.timeout {
        body["Timeout"] = json!(t);
    }
    if let Some(e) = env {
        body["Environment"] = e.clone();
    }
    body
}

pub async fn deploy(c: &Client, a: DeployArgs<'_>, as_json: bool) -> anyhow::Result<()> {
    let zip = base64::engine::general_purpose::STANDARD.encode(package(a.file)?);
    let fpath = format!("/2015-03-31/functions/{}", seg(a.name));
    let exists = c.lambda(Method::GET, &fpath, None).await?;
    let env = (!a.env.is_empty()).then(|| {
        let vars: serde_json::Map<String, Value> = a
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({ "Variables": vars })
    });
    let config = if exists.status == 404 {
        let mut body = config_body(&a, &env);
        body["FunctionName"] = json!(a.name);
        body["Runtime"] = json!("wasm");
        // The caller's account's default execution role, made by the server.
        let account = crate::iam_cli::caller_account(c).await?;
        body["Role"] = json!(format!(
            "arn:aws:iam::{account}:role/{}",
            crate::serve::DEFAULT_ROLE
        ));
        body["Code"] = json!({ "ZipFile": zip });
        c.lambda(Method::POST, "/2015-03-31/functions", Some(body))
            .await?
            .error_for_status()?
            .json()?
    } else {
        exists.error_for_status()?;
        let mut cfg = c
            .lambda(
                Method::PUT,
                &format!("{fpath}/code"),
                Some(json!({ "ZipFile": zip })),
            )
            .await?
            .error_for_status()?
            .json()?;
        let body = config_body(&a, &env);
        if body.as_object().is_some_and(|o| !o.is_empty()) {
            cfg = c
                .lambda(Method::PUT, &format!("{fpath}/configuration"), Some(body))
                .await?
                .error_for_status()?
                .json()?;
        }
        cfg
    };
    let mut url = None;
    if a.url {
        let upath = format!("/2021-10-31/functions/{}/url", seg(a.name));
        let got = c.lambda(Method::GET, &upath, None).await?;
        let u = if got.status == 404 {
            c.lambda(Method::POST, &upath, Some(json!({"AuthType": "NONE"})))
                .await?
                .error_for_status()?
                .json()?
        } else {
            got.error_for_status()?.json()?
        };
        url = u["FunctionUrl"].as_str().map(str::to_string);
    }
    if as_json {
        let mut out = config.clone();
        if let Some(u) = &url {
            out["FunctionUrl"] = json!(u);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "deployed {} ({} bytes, {} MB, {} s timeout)",
            config["FunctionName"].as_str().unwrap_or(a.name),
            config["CodeSize"],
            config["MemorySize"],
            config["Timeout"]
        );
        if let Some(u) = url {
            println!("url: {u}");
        }
    }
    Ok(())
}

pub async fn invoke(
    c: &Client,
    name: &str,
    payload: Option<&str>,
    asynchronous: bool,
    qualifier: Option<&str>,
    as_json: bool,
) -> anyhow::Result<bool> {
    let payload = match payload {
        Some(p) if p.starts_with('@') => {
            std::fs::read(&p[1..]).with_context(|| format!("reading payload file {}", &p[1..]))?
        }
        Some(p) => p.as_bytes().to_vec(),
        None => b"{}".to_vec(),
    };
    let mut path = format!("/2015-03-31/functions/{}/invocations", seg(name));
    if let Some(q) = qualifier {
        path.push_str(&format!("?Qualifier={}", seg(q)));
    }
    let invocation_type = if asynchronous {
        "Event"
    } else {
        "RequestResponse"
    };
    let answer = c
        .send(
            Method::POST,
            &path,
            "lambda",
            &[
                ("x-amz-invocation-type", invocation_type),
                ("x-amz-log-type", if asynchronous { "None" } else { "Tail" }),
            ],
            payload,
        )
        .await?
        .error_for_status()?;
    let header = |n: &str| {
        answer
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let function_error = header("x-amz-function-error");
    let log = header("x-amz-log-result")
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    if as_json {
        let out = json!({
            "StatusCode": answer.status,
            "FunctionError": function_error,
            "ExecutedVersion": header("x-amz-executed-version"),
            "RequestId": header("x-amzn-requestid"),
            "Payload": String::from_utf8_lossy(&answer.body),
            "Log": log,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if asynchronous {
        println!(
            "queued (request id {})",
            header("x-amzn-requestid").unwrap_or_default()
        );
    } else {
        if let Some(l) = &log {
            eprint!("{l}");
        }
        println!("{}", String::from_utf8_lossy(&answer.body));
    }
    Ok(function_error.is_none())
}

pub async fn ls(c: &Client, as_json: bool) -> anyhow::Result<()> {
    let mut functions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("/2015-03-31/functions?Marker={}", seg(m)),
            None => "/2015-03-31/functions".to_string(),
        };
        let page = c
            .lambda(Method::GET, &path, None)
            .await?
            .error_for_status()?
            .json()?;
        functions.extend(page["Functions"].as_array().cloned().unwrap_or_default());
        match page["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "Functions": functions }))?
        );
        return Ok(());
    }
    if functions.is_empty() {
        println!("no functions");
        return Ok(());
    }
    println!(
        "{:<32} {:<10} {:>8} {:>8}  LAST MODIFIED",
        "NAME", "RUNTIME", "MEMORY", "TIMEOUT"
    );
    for f in functions {
        println!(
            "{:<32} {:<10} {:>5} MB {:>6} s  {}",
            f["FunctionName"].as_str().unwrap_or(""),
            f["Runtime"].as_str().unwrap_or(""),
            f["MemorySize"],
            f["Timeout"],
            f["LastModified"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub async fn rm(c: &Client, name: &str, as_json: bool) -> anyhow::Result<()> {
    c.lambda(
        Method::DELETE,
        &format!("/2015-03-31/functions/{}", seg(name)),
        None,
    )
    .await?
    .error_for_status()?;
    if as_json {
        println!("{}", json!({ "Deleted": name }));
    } else {
        println!("deleted {name}");
    }
    Ok(())
}

pub struct LogsArgs<'a> {
    pub name: &'a str,
    pub follow: bool,
    pub since: Option<Duration>,
    pub request_id: Option<&'a str>,
    pub errors: bool,
}

pub async fn logs(c: &Client, a: LogsArgs<'_>, as_json: bool) -> anyhow::Result<()> {
    let mut token: Option<String> = None;
    let start = a
        .since
        .map(|d| chrono::Utc::now().timestamp_millis() - d.as_millis() as i64);
    loop {
        let mut body = json!({ "logGroupName": format!("/aws/lambda/{}", a.name) });
        if let Some(s) = start {
            body["startTime"] = json!(s);
        }
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        if let Some(r) = a.request_id {
            body["requestId"] = json!(r);
        }
        if a.errors {
            body["errorsOnly"] = json!(true);
        }
        let page = c
            .send(
                Method::POST,
                "/",
                "logs",
                &[
                    ("x-amz-target", "Logs_20140328.FilterLogEvents"),
                    ("content-type", "application/x-amz-json-1.1"),
                ],
                body.to_string().into_bytes(),
            )
            .await?
            .error_for_status()?
            .json()?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        let mut out = std::io::stdout().lock();
        for e in &events {
            if as_json {
                writeln!(out, "{e}")?;
            } else {
                write!(out, "{}", e["message"].as_str().unwrap_or(""))?;
            }
        }
        out.flush()?;
        if let Some(t) = page["nextToken"].as_str() {
            token = Some(t.to_string());
            if !events.is_empty() || !a.follow {
                continue;
            }
        }
        if !a.follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Parses `10m`, `30s`, `2h`, `1d`, `500ms`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .with_context(|| format!("'{s}' is not a duration such as 30s, 10m, 2h"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => bail!("'{s}' is not a duration such as 30s, 10m, 2h"),
    })
}
