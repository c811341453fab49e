//! The JSON-protocol services on `POST /` (by `X-Amz-Target`) and SQS's
//! query protocol (a form with `Action=...`).
//!
//! - SQS: a queue named by `QueueUrl` (`.../{account}/{name}`; a host
//!   `sqs.{region}....` names the region) or by `QueueName`
//!   (`QueueOwnerAWSAccountId` names the account). The batch operations
//!   are checked as their single forms (`sqs:SendMessage` for
//!   `SendMessageBatch`), as AWS does.
//! - EventBridge: `EventBusName` (a name or an ARN, `default` when
//!   absent); rules are `rule/NAME` on the default bus and
//!   `rule/BUS/NAME` on another. `PutPermission`, `RemovePermission`,
//!   `ListEventBuses`, `ListRules` and `TestEventPattern` are on `*`, as
//!   AWS defines them.
//! - CloudWatch Logs: `logs:OPERATION` on the group `logGroupName`,
//!   `logGroupIdentifier` or (tag operations) `resourceArn` names (a name
//!   or an ARN), checked on `log-group:NAME:*`, the ARN CloudWatch Logs
//!   reports for a group; on `*` when none is named (DescribeLogGroups).
//! - DynamoDB: `dynamodb:{Operation}` on `table/NAME` for every table the
//!   input names (the tables crate reads them: `TableName`, the keys of
//!   `RequestItems`, the items of a transaction).
//! - DynamoDB Streams: `dynamodb:{Operation}` on the stream ARN
//!   (`table/NAME/stream/LABEL`) of `StreamArn` or of the shard iterator.
//!
//! Fields are read from the body as the handler reads them (a JSON
//! object; a field of another type is one the handler refuses).

use serde_json::{Map, Value};
use updraft_types::Arn;

use super::{decode_form, Classified, Operation, Scope};

/// A JSON-protocol request by its `X-Amz-Target`.
pub(super) fn target(target: &str, body: &[u8], scope: Scope) -> Classified {
    if let Some(operation) = target.strip_prefix("Logs_20140328.") {
        return match logs_action(operation) {
            Some(action) => logs(action, body, scope).into(),
            None => Classified::Unknown,
        };
    }
    if let Some(operation) = target.strip_prefix("AmazonSQS.") {
        let Some(params) = json_object(body) else {
            return match sqs_action(operation) {
                Some(action) => Operation::any(action).into(),
                None => Classified::Unknown,
            };
        };
        let field = |name: &str| params.get(name).and_then(Value::as_str);
        return sqs(operation, field, None, scope);
    }
    if let Some(operation) = target.strip_prefix("AWSEvents.") {
        return events(operation, body, scope);
    }
    if let Some(operation) = target.strip_prefix(crate::tables::TARGET_PREFIX) {
        return dynamodb(operation, body, scope);
    }
    if let Some(operation) = target.strip_prefix(crate::streams::TARGET_PREFIX) {
        return dynamodb_streams(operation, body);
    }
    Classified::Unknown
}

/// A DynamoDB operation: `dynamodb:{Operation}` on each table it names
/// (`table/NAME`, or the ARN given in place of a name), on `*` when it
/// names none (ListTables) or its input will be refused.
fn dynamodb(operation: &str, body: &[u8], scope: Scope) -> Classified {
    let action = format!("dynamodb:{operation}");
    let input: &[u8] = if body.is_empty() { b"{}" } else { body };
    let names = match updraft_tables::Tables::tables_named(operation, input) {
        Ok(names) if !names.is_empty() => names,
        _ => return Operation::any(&action).into(),
    };
    let mut arns = names.iter().map(|name| {
        if name.starts_with("arn:") {
            name.clone()
        } else {
            scope.arn("dynamodb", &format!("table/{name}"))
        }
    });
    let mut op = Operation::new(&action, arns.next().unwrap_or_else(|| "*".into()));
    for arn in arns {
        if arn != op.resource && !op.more_resources.contains(&arn) {
            op.more_resources.push(arn);
        }
    }
    op.into()
}

/// A DynamoDB Streams operation: `dynamodb:{Operation}` on the stream
/// ARN the input names (`StreamArn`, or the one a `ShardIterator` was
/// made for); on `*` for ListStreams and input that will be refused.
fn dynamodb_streams(operation: &str, body: &[u8]) -> Classified {
    let action = format!("dynamodb:{operation}");
    let params = json_object(body).unwrap_or_default();
    let arn = match params.get("StreamArn").and_then(Value::as_str) {
        Some(arn) => Some(arn.to_string()),
        None => params
            .get("ShardIterator")
            .and_then(Value::as_str)
            .and_then(crate::streams::ShardIterator::decode)
            .map(|it| it.arn),
    };
    match arn.filter(|arn| crate::streams::parse_stream_arn(arn).is_some()) {
        Some(arn) if operation != "ListStreams" => Operation::new(&action, arn).into(),
        _ => Operation::any(&action).into(),
    }
}

/// A JSON body as the handlers see it: an empty body is `{}`; anything
/// but an object is `None`.
fn json_object(body: &[u8]) -> Option<Map<String, Value>> {
    if body.is_empty() {
        return Some(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// An SQS query-protocol request: a form, POSTed to `/` or to a queue URL
/// (`on_queue`: its account and queue, used when the form has no
/// `QueueUrl`).
pub(super) fn sqs_query(body: &[u8], on_queue: Option<(&str, &str)>, scope: Scope) -> Classified {
    let params = decode_form(body);
    let Some(operation) = params.get("Action") else {
        return Classified::Unknown;
    };
    let field = |name: &str| params.get(name).map(String::as_str);
    sqs(operation, field, on_queue, scope)
}

/// The IAM action of an SQS operation the gateway serves.
fn sqs_action(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "CreateQueue" => "sqs:CreateQueue",
        "GetQueueUrl" => "sqs:GetQueueUrl",
        "ListQueues" => "sqs:ListQueues",
        "DeleteQueue" => "sqs:DeleteQueue",
        "GetQueueAttributes" => "sqs:GetQueueAttributes",
        "SetQueueAttributes" => "sqs:SetQueueAttributes",
        "PurgeQueue" => "sqs:PurgeQueue",
        "TagQueue" => "sqs:TagQueue",
        "UntagQueue" => "sqs:UntagQueue",
        "ListQueueTags" => "sqs:ListQueueTags",
        "SendMessage" | "SendMessageBatch" => "sqs:SendMessage",
        "ReceiveMessage" => "sqs:ReceiveMessage",
        "DeleteMessage" | "DeleteMessageBatch" => "sqs:DeleteMessage",
        "ChangeMessageVisibility" | "ChangeMessageVisibilityBatch" => "sqs:ChangeMessageVisibility",
        "AddPermission" => "sqs:AddPermission",
        "RemovePermission" => "sqs:RemovePermission",
        "ListDeadLetterSourceQueues" => "sqs:ListDeadLetterSourceQueues",
        _ => return None,
    })
}

/// An SQS operation on the parameters `field` reads.
fn sqs<'a>(
    operation: &str,
    field: impl Fn(&str) -> Option<&'a str>,
    on_queue: Option<(&str, &str)>,
    scope: Scope,
) -> Classified {
    let Some(action) = sqs_action(operation) else {
        return Classified::Unknown;
    };
    let op = match operation {
        "ListQueues" => Operation::any(action),
        "CreateQueue" => match field("QueueName") {
            Some(name) => Operation::at(action, "sqs", scope, scope, name),
            None => Operation::any(action),
        },
        "GetQueueUrl" => match field("QueueName") {
            Some(name) => {
                let owner = field("QueueOwnerAWSAccountId").unwrap_or(scope.account);
                let named = Scope {
                    account: owner,
                    ..scope
                };
                Operation::at(action, "sqs", named, scope, name)
            }
            None => Operation::any(action),
        },
        _ => {
            let url = field("QueueUrl");
            let queue = match (url, on_queue) {
                (Some(url), _) => queue_url(url, scope),
                (None, Some((account, name))) => Some((Scope { account, ..scope }, name)),
                (None, None) => None,
            };
            match queue {
                Some((named, name)) => Operation::at(action, "sqs", named, scope, name),
                None => Operation::any(action),
            }
        }
    };
    op.into()
}

/// The place and name of the queue a `QueueUrl` names (any scheme and
/// host, path `/{account}/{name}`, as the handler reads it); the region
/// is the host's when it is AWS's `sqs.{region}.…`.
fn queue_url<'a>(url: &'a str, scope: Scope<'a>) -> Option<(Scope<'a>, &'a str)> {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
        None => ("", url),
    };
    let mut segments = path.trim_start_matches('/').split('/');
    let (Some(account), Some(name), None) = (segments.next(), segments.next(), segments.next())
    else {
        return None;
    };
    let region = host
        .strip_prefix("sqs.")
        .and_then(|h| h.split('.').next())
        .filter(|r| !r.is_empty())
        .unwrap_or(scope.region);
    Some((
        Scope {
            account,
            region,
            ..scope
        },
        name,
    ))
}

/// The bus a name or ARN names, as the bus resolves it: an ARN's
/// resource after `event-bus/`; `None` for an ARN of something else.
fn bus<'a>(given: Option<&'a str>, scope: Scope<'a>) -> Option<(Scope<'a>, &'a str)> {
    let given = given.unwrap_or("default");
    if !given.starts_with("arn:") {
        return Some((scope, given));
    }
    let (_, name) = given.split_once(":event-bus/")?;
    let named = Arn::parse(given).map_or(scope, |a| scope.of(&a));
    Some((named, name))
}

/// The service principal rules' roles are passed to.
const EVENTS: &str = "events.amazonaws.com";

/// An EventBridge operation the gateway serves.
fn events(operation: &str, body: &[u8], scope: Scope) -> Classified {
    let action = match operation {
        "PutEvents" => "events:PutEvents",
        "CreateEventBus" => "events:CreateEventBus",
        "DeleteEventBus" => "events:DeleteEventBus",
        "DescribeEventBus" => "events:DescribeEventBus",
        "ListEventBuses" => "events:ListEventBuses",
        "PutRule" => "events:PutRule",
        "DeleteRule" => "events:DeleteRule",
        "DescribeRule" => "events:DescribeRule",
        "ListRules" => "events:ListRules",
        "EnableRule" => "events:EnableRule",
        "DisableRule" => "events:DisableRule",
        "PutTargets" => "events:PutTargets",
        "RemoveTargets" => "events:RemoveTargets",
        "ListTargetsByRule" => "events:ListTargetsByRule",
        "TestEventPattern" => "events:TestEventPattern",
        "PutPermission" => "events:PutPermission",
        "RemovePermission" => "events:RemovePermission",
        _ => return Classified::Unknown,
    };
    let Some(params) = json_object(body) else {
        return Operation::any(action).into();
    };
    let field = |name: &str| params.get(name).and_then(Value::as_str);
    let on_bus = |name: Option<&str>| -> Operation {
        match bus(name, scope) {
            Some((named, bus)) => {
                Operation::at(action, "events", named, scope, &format!("event-bus/{bus}"))
            }
            None => Operation::any(action),
        }
    };
    let on_rule = |rule: Option<&str>| -> Operation {
        match (rule, bus(field("EventBusName"), scope)) {
            (Some(rule), Some((named, bus))) => {
                let resource = if bus == "default" {
                    format!("rule/{rule}")
                } else {
                    format!("rule/{bus}/{rule}")
                };
                Operation::at(action, "events", named, scope, &resource)
            }
            _ => Operation::any(action),
        }
    };
    let op = match operation {
        "PutEvents" => put_events(action, &params, scope),
        "CreateEventBus" | "DeleteEventBus" => match field("Name") {
            Some(name) => on_bus(Some(name)),
            None => Operation::any(action),
        },
        "DescribeEventBus" => on_bus(field("Name")),
        "PutRule" => on_rule(field("Name")).passing(field("RoleArn"), EVENTS),
        "DeleteRule" | "DescribeRule" | "EnableRule" | "DisableRule" => on_rule(field("Name")),
        "PutTargets" => {
            let targets = params.get("Targets").and_then(Value::as_array);
            let roles = targets
                .into_iter()
                .flatten()
                .filter_map(|t| t.get("RoleArn").and_then(Value::as_str));
            roles.fold(on_rule(field("Rule")), |op, role| {
                op.passing(Some(role), EVENTS)
            })
        }
        "RemoveTargets" | "ListTargetsByRule" => on_rule(field("Rule")),
        _ => Operation::any(action),
    };
    op.into()
}

/// PutEvents: every bus its entries name, each once, in order.
fn put_events(action: &str, params: &Map<String, Value>, scope: Scope) -> Operation {
    let Some(entries) = params.get("Entries").and_then(Value::as_array) else {
        return Operation::any(action);
    };
    let mut resources: Vec<String> = Vec::new();
    for entry in entries {
        let name = match entry.get("EventBusName") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.as_str()),
            Some(_) => return Operation::any(action),
        };
        let Some((named, bus)) = bus(name, scope) else {
            return Operation::any(action);
        };
        let resource = format!("event-bus/{bus}");
        for arn in [
            named.arn("events", &resource),
            scope.arn("events", &resource),
        ] {
            if !resources.contains(&arn) {
                resources.push(arn);
            }
        }
    }
    let mut resources = resources.into_iter();
    match resources.next() {
        Some(first) => Operation {
            more_resources: resources.collect(),
            ..Operation::new(action, first)
        },
        None => Operation::any(action),
    }
}

/// The IAM action of a CloudWatch Logs operation the gateway serves.
fn logs_action(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "CreateLogGroup" => "logs:CreateLogGroup",
        "DeleteLogGroup" => "logs:DeleteLogGroup",
        "DescribeLogGroups" => "logs:DescribeLogGroups",
        "PutRetentionPolicy" => "logs:PutRetentionPolicy",
        "DeleteRetentionPolicy" => "logs:DeleteRetentionPolicy",
        "TagLogGroup" => "logs:TagLogGroup",
        "UntagLogGroup" => "logs:UntagLogGroup",
        "ListTagsLogGroup" => "logs:ListTagsLogGroup",
        "TagResource" => "logs:TagResource",
        "UntagResource" => "logs:UntagResource",
        "ListTagsForResource" => "logs:ListTagsForResource",
        "CreateLogStream" => "logs:CreateLogStream",
        "DeleteLogStream" => "logs:DeleteLogStream",
        "DescribeLogStreams" => "logs:DescribeLogStreams",
        "PutLogEvents" => "logs:PutLogEvents",
        "GetLogEvents" => "logs:GetLogEvents",
        "FilterLogEvents" => "logs:FilterLogEvents",
        _ => return None,
    })
}

/// A CloudWatch Logs operation: on the group `logGroupName`, or else
/// `logGroupIdentifier` or `resourceArn` (the tag operations), names;
/// on `*` when none does (DescribeLogGroups).
fn logs(action: &str, body: &[u8], scope: Scope) -> Operation {
    let Some(params) = json_object(body) else {
        return Operation::any(action);
    };
    let field = |name: &str| params.get(name).and_then(Value::as_str);
    let Some(given) = field("logGroupName")
        .or_else(|| field("logGroupIdentifier"))
        .or_else(|| field("resourceArn"))
    else {
        return Operation::any(action);
    };
    let (named, group) = match Arn::parse(given) {
        Some(arn) => match arn.resource.strip_prefix("log-group:") {
            Some(rest) => (scope.of(&arn), rest.strip_suffix(":*").unwrap_or(rest)),
            None => return Operation::any(action),
        },
        None => (scope, given),
    };
    Operation::at(
        action,
        "logs",
        named,
        scope,
        &format!("log-group:{group}:*"),
    )
}
