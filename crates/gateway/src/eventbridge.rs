//! EventBridge's JSON protocol (`X-Amz-Target: AWSEvents.{operation}`,
//! `application/x-amz-json-1.1`, SigV4 service `events`): buses, rules,
//! targets, bus policies (`PutPermission` / `RemovePermission`, the
//! `Policy` of `DescribeEventBus`), `PutEvents` and `TestEventPattern`
//! over [`updraft_bus::Bus`].
//!
//! Each operation parses its request (unknown fields are a
//! `ValidationException`, a body that is not JSON a
//! `SerializationException`), calls the bus and renders the answer;
//! errors are `{"__type", "message"}` with EventBridge's names.
//! Timestamps are epoch seconds, as the JSON protocol carries them. List
//! operations page by name: `NextToken` is the last name returned.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use updraft_bus::{
    Bus, BusError, EntryResult, EventBus, EventEntry, Rule, RuleSpec, RuleState, Target,
};

use crate::Tenant;

/// A JSON-protocol EventBridge call (`X-Amz-Target: AWSEvents.{operation}`).
pub async fn json(state: &Tenant, operation: &str, body: &Bytes) -> Response {
    handle(&state.bus, operation, body).await
}

async fn handle(bus: &Bus, operation: &str, body: &[u8]) -> Response {
    let result = match operation {
        "PutEvents" => put_events(bus, body).await,
        "CreateEventBus" => create_event_bus(bus, body).await,
        "DeleteEventBus" => delete_event_bus(bus, body).await,
        "DescribeEventBus" => describe_event_bus(bus, body),
        "ListEventBuses" => list_event_buses(bus, body),
        "PutRule" => put_rule(bus, body).await,
        "DeleteRule" => delete_rule(bus, body).await,
        "DescribeRule" => describe_rule(bus, body),
        "ListRules" => list_rules(bus, body),
        "EnableRule" => set_state(bus, body, RuleState::Enabled).await,
        "DisableRule" => set_state(bus, body, RuleState::Disabled).await,
        "PutTargets" => put_targets(bus, body).await,
        "RemoveTargets" => remove_targets(bus, body).await,
        "ListTargetsByRule" => list_targets_by_rule(bus, body),
        "TestEventPattern" => test_event_pattern(body),
        "PutPermission" => put_permission(bus, body).await,
        "RemovePermission" => remove_permission(bus, body).await,
        other => Err(Failure::new(
            "UnknownOperationException",
            format!("Operation {other} is not supported"),
        )),
    };
    match result {
        Ok(value) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            value.to_string(),
        )
            .into_response(),
        Err(f) => crate::logs::json_error(f.status, f.code, &f.message),
    }
}

/// An error answer.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> Failure {
        Failure::new("ValidationException", message)
    }
}

impl From<BusError> for Failure {
    fn from(e: BusError) -> Self {
        let status = match e {
            BusError::Internal(ref m) => {
                tracing::error!(error = %m, "event bus");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        Failure {
            status,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

type Answer = Result<Value, Failure>;

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let value: Value =
        serde_json::from_slice(if body.is_empty() { b"{}" } else { body }).map_err(|e| {
            Failure::new(
                "SerializationException",
                format!("could not parse the request: {e}"),
            )
        })?;
    serde_json::from_value(value).map_err(|e| Failure::validation(e.to_string()))
}

fn epoch_seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// One page of `items` (sorted by name) after `token`.
fn page<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> &str,
    limit: Option<usize>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), Failure> {
    let limit = match limit {
        None => usize::MAX,
        Some(n @ 1..=100) => n,
        Some(_) => return Err(Failure::validation("Limit must be between 1 and 100.")),
    };
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| token.is_none_or(|t| name(i) > t))
        .collect();
    if rest.len() <= limit {
        return Ok((rest, None));
    }
    rest.truncate(limit);
    let next = rest.last().map(|i| name(i).to_string());
    Ok((rest, next))
}

fn with_token(mut body: Value, token: Option<String>) -> Value {
    if let Some(t) = token {
        body["NextToken"] = json!(t);
    }
    body
}

// ---- events ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutEvents {
    entries: Vec<Entry>,
    endpoint_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Entry {
    time: Option<f64>,
    source: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    detail_type: Option<String>,
    detail: Option<String>,
    event_bus_name: Option<String>,
    trace_header: Option<String>,
}

async fn put_events(bus: &Bus, body: &[u8]) -> Answer {
    let req: PutEvents = parse(body)?;
    if req.endpoint_id.is_some() {
        return Err(Failure::validation(
            "EndpointId is not supported: global endpoints are not available here.",
        ));
    }
    let entries = req
        .entries
        .into_iter()
        .map(|e| {
            let _ = e.trace_header;
            EventEntry {
                bus: e.event_bus_name,
                source: e.source,
                detail_type: e.detail_type,
                detail: e.detail,
                resources: e.resources,
                time_ms: e.time.map(|s| (s * 1000.0) as i64),
            }
        })
        .collect();
    let results = bus.put_events(entries).await?;
    let failed = results.iter().filter(|r| r.is_err()).count();
    let entries: Vec<Value> = results.into_iter().map(entry_result).collect();
    Ok(json!({"FailedEntryCount": failed, "Entries": entries}))
}

fn entry_result(r: EntryResult) -> Value {
    match r {
        Ok(id) => json!({"EventId": id}),
        Err(e) => json!({"ErrorCode": e.code, "ErrorMessage": e.message}),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct TestEventPattern {
    event_pattern: String,
    event: String,
}

fn test_event_pattern(body: &[u8]) -> Answer {
    let req: TestEventPattern = parse(body)?;
    let result = updraft_bus::test_event_pattern(&req.event_pattern, &req.event)?;
    Ok(json!({"Result": result}))
}

// ---- buses -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateEventBus {
    name: String,
    description: Option<String>,
    event_source_name: Option<String>,
}

fn render_bus(bus: &Bus, b: &EventBus) -> Value {
    let mut v = json!({"Name": b.name, "Arn": bus.bus_arn(&b.name)});
    if let Some(d) = &b.description {
        v["Description"] = json!(d);
    }
    if let Some(ms) = b.created_ms {
        v["CreationTime"] = epoch_seconds(ms);
    }
    if let Some(ms) = b.modified_ms {
        v["LastModifiedTime"] = epoch_seconds(ms);
    }
    if let Some(p) = &b.policy {
        v["Policy"] = json!(p);
    }
    v
}

async fn create_event_bus(bus: &Bus, body: &[u8]) -> Answer {
    let req: CreateEventBus = parse(body)?;
    if req.event_source_name.is_some() {
        return Err(Failure::validation(
            "EventSourceName is not supported: partner event buses are not available here.",
        ));
    }
    let created = bus.create_event_bus(&req.name, req.description).await?;
    let mut v = json!({"EventBusArn": bus.bus_arn(&created.name)});
    if let Some(d) = created.description {
        v["Description"] = json!(d);
    }
    Ok(v)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ByName {
    name: String,
}

async fn delete_event_bus(bus: &Bus, body: &[u8]) -> Answer {
    let req: ByName = parse(body)?;
    bus.delete_event_bus(&req.name).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DescribeEventBus {
    name: Option<String>,
}

fn describe_event_bus(bus: &Bus, body: &[u8]) -> Answer {
    let req: DescribeEventBus = parse(body)?;
    let b = bus.describe_event_bus(req.name.as_deref())?;
    Ok(render_bus(bus, &b))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ListEventBuses {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

fn list_event_buses(bus: &Bus, body: &[u8]) -> Answer {
    let req: ListEventBuses = parse(body)?;
    let all = bus.list_event_buses(req.name_prefix.as_deref().unwrap_or(""));
    let (items, next) = page(
        all,
        |b| b.name.as_str(),
        req.limit,
        req.next_token.as_deref(),
    )?;
    let buses: Vec<Value> = items.iter().map(|b| render_bus(bus, b)).collect();
    Ok(with_token(json!({"EventBuses": buses}), next))
}

// ---- rules -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutRule {
    name: String,
    schedule_expression: Option<String>,
    event_pattern: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    event_bus_name: Option<String>,
}

fn rule_state(s: &str) -> Result<RuleState, Failure> {
    match s {
        "ENABLED" => Ok(RuleState::Enabled),
        "DISABLED" => Ok(RuleState::Disabled),
        other => Err(Failure::validation(format!(
            "1 validation error detected: Value '{other}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
        ))),
    }
}

async fn put_rule(bus: &Bus, body: &[u8]) -> Answer {
    let req: PutRule = parse(body)?;
    let arn = bus
        .put_rule(RuleSpec {
            name: req.name,
            bus: req.event_bus_name,
            event_pattern: req.event_pattern,
            schedule_expression: req.schedule_expression,
            state: req.state.as_deref().map(rule_state).transpose()?,
            description: req.description,
            role_arn: req.role_arn,
        })
        .await?;
    Ok(json!({"RuleArn": arn}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RuleRef {
    name: String,
    event_bus_name: Option<String>,
    #[serde(default)]
    force: bool,
}

async fn delete_rule(bus: &Bus, body: &[u8]) -> Answer {
    let req: RuleRef = parse(body)?;
    let _ = req.force;
    bus.delete_rule(req.event_bus_name.as_deref(), &req.name)
        .await?;
    Ok(json!({}))
}

fn render_rule(rule: &Rule, arn: &str) -> Value {
    let mut v = json!({
        "Name": rule.name,
        "Arn": arn,
        "EventPattern": rule.event_pattern,
        "State": rule.state.as_str(),
        "EventBusName": rule.bus,
    });
    if let Some(d) = &rule.description {
        v["Description"] = json!(d);
    }
    if let Some(r) = &rule.role_arn {
        v["RoleArn"] = json!(r);
    }
    v
}

fn describe_rule(bus: &Bus, body: &[u8]) -> Answer {
    let req: RuleRef = parse(body)?;
    let (rule, arn) = bus.describe_rule(req.event_bus_name.as_deref(), &req.name)?;
    Ok(render_rule(&rule, &arn))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ListRules {
    name_prefix: Option<String>,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

fn list_rules(bus: &Bus, body: &[u8]) -> Answer {
    let req: ListRules = parse(body)?;
    let all = bus.list_rules(
        req.event_bus_name.as_deref(),
        req.name_prefix.as_deref().unwrap_or(""),
    )?;
    let (items, next) = page(
        all,
        |(r, _)| r.name.as_str(),
        req.limit,
        req.next_token.as_deref(),
    )?;
    let rules: Vec<Value> = items.iter().map(|(r, arn)| render_rule(r, arn)).collect();
    Ok(with_token(json!({"Rules": rules}), next))
}

async fn set_state(bus: &Bus, body: &[u8], state: RuleState) -> Answer {
    let req: RuleRef = parse(body)?;
    bus.set_rule_state(req.event_bus_name.as_deref(), &req.name, state)
        .await?;
    Ok(json!({}))
}

// ---- targets -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutTargets {
    rule: String,
    event_bus_name: Option<String>,
    /// Parsed one by one, so a target with unsupported fields is a failed
    /// entry rather than a failed call.
    targets: Vec<Value>,
}

async fn put_targets(bus: &Bus, body: &[u8]) -> Answer {
    let req: PutTargets = parse(body)?;
    let mut failed = Vec::new();
    let mut targets = Vec::new();
    for raw in req.targets {
        let id = raw
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match serde_json::from_value::<Target>(raw) {
            Ok(t) => targets.push(t),
            Err(e) => failed.push(json!({
                "TargetId": id,
                "ErrorCode": "ValidationException",
                "ErrorMessage": format!("The target is not supported: {e}"),
            })),
        }
    }
    if !targets.is_empty() {
        for f in bus
            .put_targets(req.event_bus_name.as_deref(), &req.rule, targets)
            .await?
        {
            failed.push(json!({
                "TargetId": f.target_id,
                "ErrorCode": f.code,
                "ErrorMessage": f.message,
            }));
        }
    } else {
        // Nothing to apply; a missing bus or rule is still an error.
        bus.list_targets(req.event_bus_name.as_deref(), &req.rule)?;
    }
    Ok(json!({"FailedEntryCount": failed.len(), "FailedEntries": failed}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RemoveTargets {
    rule: String,
    event_bus_name: Option<String>,
    ids: Vec<String>,
    #[serde(default)]
    force: bool,
}

async fn remove_targets(bus: &Bus, body: &[u8]) -> Answer {
    let req: RemoveTargets = parse(body)?;
    let _ = req.force;
    bus.remove_targets(req.event_bus_name.as_deref(), &req.rule, &req.ids)
        .await?;
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ListTargetsByRule {
    rule: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

fn list_targets_by_rule(bus: &Bus, body: &[u8]) -> Answer {
    let req: ListTargetsByRule = parse(body)?;
    let mut all = bus.list_targets(req.event_bus_name.as_deref(), &req.rule)?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let (items, next) = page(all, |t| t.id.as_str(), req.limit, req.next_token.as_deref())?;
    let targets: Vec<Value> = items
        .iter()
        .map(|t| serde_json::to_value(t).expect("plain struct serializes"))
        .collect();
    Ok(with_token(json!({"Targets": targets}), next))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutPermission {
    event_bus_name: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    statement_id: Option<String>,
    condition: Option<updraft_bus::PermissionCondition>,
    policy: Option<String>,
}

/// Grants an account (or every account, within an organization) to put
/// events on a bus, or sets the bus's whole policy.
async fn put_permission(bus: &Bus, body: &[u8]) -> Answer {
    let req: PutPermission = parse(body)?;
    bus.put_permission(updraft_bus::Permission {
        bus: req.event_bus_name,
        action: req.action,
        principal: req.principal,
        statement_id: req.statement_id,
        condition: req.condition,
        policy: req.policy,
    })
    .await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RemovePermission {
    event_bus_name: Option<String>,
    statement_id: Option<String>,
    remove_all_permissions: Option<bool>,
}

async fn remove_permission(bus: &Bus, body: &[u8]) -> Answer {
    let req: RemovePermission = parse(body)?;
    bus.remove_permission(
        req.event_bus_name.as_deref(),
        req.statement_id.as_deref(),
        req.remove_all_permissions.unwrap_or(false),
    )
    .await?;
    Ok(json!({}))
}
