//! `updraft queues`, `updraft rules` and `updraft schedule`: inspect the
//! event services and manage schedules, through the same APIs the aws
//! CLI uses (Scheduler REST-JSON, EventBridge JSON) and the queue listing
//! at `GET /updraft/v1/queues` (which, unlike SQS's ListQueues, includes
//! the functions' async-invocation queues).

use anyhow::{bail, Context};
use http::Method;
use serde_json::{json, Value};

use crate::client::{seg, Client};

/// A JSON-protocol call (`POST /`, `X-Amz-Target`).
async fn json_call(c: &Client, service: &str, target: &str, body: Value) -> anyhow::Result<Value> {
    let content_type = if service == "sqs" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    c.send(
        Method::POST,
        "/",
        service,
        &[("content-type", content_type), ("x-amz-target", target)],
        body.to_string().into_bytes(),
    )
    .await?
    .error_for_status()?
    .json()
}

/// A Scheduler REST-JSON call.
async fn scheduler(
    c: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let (extra, bytes): (&[(&str, &str)], Vec<u8>) = match &body {
        Some(b) => (
            &[("content-type", "application/json")],
            b.to_string().into_bytes(),
        ),
        None => (&[], Vec::new()),
    };
    let answer = c
        .send(method, path, "scheduler", extra, bytes)
        .await?
        .error_for_status()?;
    if answer.body.is_empty() {
        return Ok(json!({}));
    }
    answer.json()
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `updraft queues`: every queue with its depth.
pub async fn queues(c: &Client, as_json: bool) -> anyhow::Result<()> {
    let answer = c
        .lambda(Method::GET, "/updraft/v1/queues", None)
        .await?
        .error_for_status()?
        .json()?;
    if as_json {
        return print_json(&answer);
    }
    let queues = answer["Queues"].as_array().cloned().unwrap_or_default();
    if queues.is_empty() {
        println!("no queues");
        return Ok(());
    }
    println!(
        "{:<48} {:<6} {:>9} {:>9} {:>8} {:>12}",
        "QUEUE", "KIND", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST (s)"
    );
    for q in queues {
        println!(
            "{:<48} {:<6} {:>9} {:>9} {:>8} {:>12.1}",
            text(&q, "Name"),
            text(&q, "Kind"),
            q["Visible"].as_u64().unwrap_or(0),
            q["InFlight"].as_u64().unwrap_or(0),
            q["Delayed"].as_u64().unwrap_or(0),
            q["OldestAgeMs"].as_f64().unwrap_or(0.0) / 1000.0
        );
    }
    Ok(())
}

/// `updraft rules`: the rules of a bus with their patterns and targets.
pub async fn rules(c: &Client, bus: &str, as_json: bool) -> anyhow::Result<()> {
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({ "EventBusName": bus });
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let page = json_call(c, "events", "AWSEvents.ListRules", body).await?;
        rules.extend(page["Rules"].as_array().cloned().unwrap_or_default());
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    for rule in &mut rules {
        let targets = json_call(
            c,
            "events",
            "AWSEvents.ListTargetsByRule",
            json!({ "Rule": rule["Name"], "EventBusName": bus }),
        )
        .await?;
        rule["Targets"] = targets["Targets"].clone();
    }
    if as_json {
        return print_json(&json!({ "EventBusName": bus, "Rules": rules }));
    }
    if rules.is_empty() {
        println!("no rules on bus {bus}");
        return Ok(());
    }
    for rule in rules {
        println!("{} ({})", text(&rule, "Name"), text(&rule, "State"));
        if let Some(p) = rule["EventPattern"].as_str() {
            println!("  pattern: {p}");
        }
        for t in rule["Targets"].as_array().into_iter().flatten() {
            println!("  target {}: {}", text(t, "Id"), text(t, "Arn"));
        }
    }
    Ok(())
}

/// What `updraft schedule` does.
pub enum ScheduleCommand {
    List,
    Show {
        name: String,
    },
    Add {
        name: String,
        expression: String,
        function: String,
        input: Option<String>,
        timezone: Option<String>,
    },
    Remove {
        name: String,
    },
}

/// `updraft schedule ...` in one group.
pub async fn schedule(
    c: &Client,
    group: &str,
    command: ScheduleCommand,
    as_json: bool,
) -> anyhow::Result<()> {
    match command {
        ScheduleCommand::List => list_schedules(c, group, as_json).await,
        ScheduleCommand::Show { name } => {
            let s = scheduler(
                c,
                Method::GET,
                &format!("/schedules/{}?groupName={}", seg(&name), seg(group)),
                None,
            )
            .await?;
            if as_json {
                return print_json(&s);
            }
            println!("{} ({})", text(&s, "Name"), text(&s, "State"));
            println!("  expression: {}", text(&s, "ScheduleExpression"));
            if let Some(tz) = s["ScheduleExpressionTimezone"].as_str() {
                println!("  time zone:  {tz}");
            }
            println!("  target:     {}", text(&s["Target"], "Arn"));
            if let Some(input) = s["Target"]["Input"].as_str() {
                println!("  input:      {input}");
            }
            Ok(())
        }
        ScheduleCommand::Add {
            name,
            expression,
            function,
            input,
            timezone,
        } => {
            let arn = function_arn(c, &function).await?;
            // The account's default scheduler role, made by the server.
            let account = arn.split(':').nth(4).unwrap_or_default();
            let role = format!(
                "arn:aws:iam::{account}:role/{}",
                crate::serve::SCHEDULER_ROLE
            );
            let mut target = json!({
                "Arn": arn,
                "RoleArn": role,
            });
            if let Some(input) = input {
                serde_json::from_str::<Value>(&input)
                    .with_context(|| format!("--input is not JSON: {input}"))?;
                target["Input"] = json!(input);
            }
            let mut body = json!({
                "ScheduleExpression": expression,
                "FlexibleTimeWindow": { "Mode": "OFF" },
                "Target": target,
                "GroupName": group,
            });
            if let Some(tz) = timezone {
                body["ScheduleExpressionTimezone"] = json!(tz);
            }
            let created = scheduler(
                c,
                Method::POST,
                &format!("/schedules/{}", seg(&name)),
                Some(body),
            )
            .await?;
            if as_json {
                return print_json(&created);
            }
            println!("created schedule {name}: {}", text(&created, "ScheduleArn"));
            Ok(())
        }
        ScheduleCommand::Remove { name } => {
            scheduler(
                c,
                Method::DELETE,
                &format!("/schedules/{}?groupName={}", seg(&name), seg(group)),
                None,
            )
            .await?;
            if as_json {
                return print_json(&json!({ "Deleted": name }));
            }
            println!("deleted schedule {name}");
            Ok(())
        }
    }
}

async fn list_schedules(c: &Client, group: &str, as_json: bool) -> anyhow::Result<()> {
    let mut schedules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/schedules?ScheduleGroup={}", seg(group));
        if let Some(t) = &token {
            path.push_str(&format!("&NextToken={}", seg(t)));
        }
        let page = scheduler(c, Method::GET, &path, None).await?;
        schedules.extend(page["Schedules"].as_array().cloned().unwrap_or_default());
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    if as_json {
        return print_json(&json!({ "Schedules": schedules }));
    }
    if schedules.is_empty() {
        println!("no schedules in group {group}");
        return Ok(());
    }
    println!("{:<32} {:<9} TARGET", "NAME", "STATE");
    for s in schedules {
        println!(
            "{:<32} {:<9} {}",
            text(&s, "Name"),
            text(&s, "State"),
            text(&s["Target"], "Arn")
        );
    }
    Ok(())
}

/// A function's ARN from its name (or the ARN itself).
async fn function_arn(c: &Client, function: &str) -> anyhow::Result<String> {
    if function.starts_with("arn:") {
        return Ok(function.to_string());
    }
    let answer = c
        .lambda(
            Method::GET,
            &format!("/2015-03-31/functions/{}/configuration", seg(function)),
            None,
        )
        .await?;
    if answer.status == 404 {
        bail!("function {function} does not exist");
    }
    let config = answer.error_for_status()?.json()?;
    config["FunctionArn"]
        .as_str()
        .map(str::to_string)
        .context("the server's answer has no FunctionArn")
}
