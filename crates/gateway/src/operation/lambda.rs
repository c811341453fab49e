//! Lambda's REST paths, and updraft's own under `/updraft/v1/`.
//!
//! A function is named in the path by name, `NAME:QUALIFIER`, partial ARN
//! (`ACCOUNT:function:NAME[:QUALIFIER]`) or ARN. Actions that address a
//! version or alias (Invoke, GetFunction, URL, event-invoke and
//! provisioned-concurrency configs, permissions) are checked on the
//! qualified ARN when the request carries a qualifier, where the handler
//! reads it: in the name or `?Qualifier=` (the two must agree), or only
//! `?Qualifier=` for URL and provisioned-concurrency configs. The others
//! are checked on the unqualified function ARN.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;
use updraft_types::{FunctionRef, Qualifier};

use super::{decoded, parse_body, routed_method, Classified, Operation, Scope};

/// Where the qualifier of a qualified action is read from.
#[derive(Clone, Copy)]
enum Qualified {
    /// The action is on the function itself; a qualifier is ignored.
    No,
    /// `NAME:QUALIFIER` or `?Qualifier=`, which must agree.
    NameOrQuery,
    /// `?Qualifier=` only, taken as given.
    Query,
}

pub(super) fn classify(
    method: &Method,
    segments: &[&str],
    query: &BTreeMap<String, String>,
    body: &[u8],
    scope: Scope,
) -> Classified {
    let m = routed_method(method);
    let function = |action: &str, name: &str, qualified: Qualified| -> Classified {
        function_op(action, &decoded(name), qualified, query, scope).into()
    };
    use Qualified::{NameOrQuery, No, Query};
    match (m, segments) {
        ("GET", ["2015-03-31", "functions"] | ["2015-03-31", "functions", ""]) => {
            Operation::any("lambda:ListFunctions").into()
        }
        ("POST", ["2015-03-31", "functions"]) => create_function(body, scope).into(),
        ("GET", ["2015-03-31", "functions", f]) => function("lambda:GetFunction", f, NameOrQuery),
        ("DELETE", ["2015-03-31", "functions", f]) => {
            function("lambda:DeleteFunction", f, NameOrQuery)
        }
        ("GET", ["2015-03-31", "functions", f, "configuration"]) => {
            function("lambda:GetFunctionConfiguration", f, NameOrQuery)
        }
        ("PUT", ["2015-03-31", "functions", f, "configuration"]) => {
            let op = function_op(
                "lambda:UpdateFunctionConfiguration",
                &decoded(f),
                No,
                query,
                scope,
            );
            execution_role(op, body).into()
        }
        ("PUT", ["2015-03-31", "functions", f, "code"]) => {
            function("lambda:UpdateFunctionCode", f, No)
        }
        ("GET", ["2015-03-31", "functions", f, "versions"]) => {
            function("lambda:ListVersionsByFunction", f, No)
        }
        ("POST", ["2015-03-31", "functions", f, "versions"]) => {
            function("lambda:PublishVersion", f, No)
        }
        ("GET", ["2015-03-31", "functions", f, "aliases"]) => function("lambda:ListAliases", f, No),
        ("POST", ["2015-03-31", "functions", f, "aliases"]) => {
            function("lambda:CreateAlias", f, No)
        }
        ("GET", ["2015-03-31", "functions", f, "aliases", _]) => function("lambda:GetAlias", f, No),
        ("PUT", ["2015-03-31", "functions", f, "aliases", _]) => {
            function("lambda:UpdateAlias", f, No)
        }
        ("DELETE", ["2015-03-31", "functions", f, "aliases", _]) => {
            function("lambda:DeleteAlias", f, No)
        }
        ("POST", ["2015-03-31", "functions", f, "invocations"]) => {
            function("lambda:InvokeFunction", f, NameOrQuery)
        }
        ("GET", ["2015-03-31", "functions", f, "policy"]) => {
            function("lambda:GetPolicy", f, NameOrQuery)
        }
        ("POST", ["2015-03-31", "functions", f, "policy"]) => {
            function("lambda:AddPermission", f, NameOrQuery)
        }
        ("DELETE", ["2015-03-31", "functions", f, "policy", _]) => {
            function("lambda:RemovePermission", f, NameOrQuery)
        }
        (_, ["2021-10-31", "functions", f, "url"]) => match m {
            "GET" => function("lambda:GetFunctionUrlConfig", f, Query),
            "POST" => function("lambda:CreateFunctionUrlConfig", f, Query),
            "PUT" => function("lambda:UpdateFunctionUrlConfig", f, Query),
            "DELETE" => function("lambda:DeleteFunctionUrlConfig", f, Query),
            _ => Classified::Unknown,
        },
        ("GET", ["2021-10-31", "functions", f, "urls"]) => {
            function("lambda:ListFunctionUrlConfigs", f, No)
        }
        ("PUT", ["2017-10-31", "functions", f, "concurrency"]) => {
            function("lambda:PutFunctionConcurrency", f, No)
        }
        ("DELETE", ["2017-10-31", "functions", f, "concurrency"]) => {
            function("lambda:DeleteFunctionConcurrency", f, No)
        }
        ("GET", ["2019-09-30", "functions", f, "concurrency"]) => {
            function("lambda:GetFunctionConcurrency", f, No)
        }
        (_, ["2019-09-30", "functions", f, "provisioned-concurrency"]) => match m {
            "GET" if query.contains_key("List") => {
                function("lambda:ListProvisionedConcurrencyConfigs", f, No)
            }
            "GET" => function("lambda:GetProvisionedConcurrencyConfig", f, Query),
            "PUT" => function("lambda:PutProvisionedConcurrencyConfig", f, Query),
            "DELETE" => function("lambda:DeleteProvisionedConcurrencyConfig", f, Query),
            _ => Classified::Unknown,
        },
        (_, ["2019-09-25", "functions", f, "event-invoke-config"]) => match m {
            "GET" => function("lambda:GetFunctionEventInvokeConfig", f, NameOrQuery),
            "PUT" => function("lambda:PutFunctionEventInvokeConfig", f, NameOrQuery),
            "POST" => function("lambda:UpdateFunctionEventInvokeConfig", f, NameOrQuery),
            "DELETE" => function("lambda:DeleteFunctionEventInvokeConfig", f, NameOrQuery),
            _ => Classified::Unknown,
        },
        ("GET", ["2019-09-25", "functions", f, "event-invoke-config", "list"]) => {
            function("lambda:ListFunctionEventInvokeConfigs", f, No)
        }
        (
            _,
            ["2015-03-31", "event-source-mappings"] | ["2015-03-31", "event-source-mappings", ""],
        ) => match m {
            // AWS defines CreateEventSourceMapping on no resource (the
            // mapping's UUID does not exist yet).
            "POST" => Operation::any("lambda:CreateEventSourceMapping").into(),
            "GET" => Operation::any("lambda:ListEventSourceMappings").into(),
            _ => Classified::Unknown,
        },
        (_, ["2015-03-31", "event-source-mappings", uuid]) => {
            let action = match m {
                "GET" => "lambda:GetEventSourceMapping",
                "PUT" => "lambda:UpdateEventSourceMapping",
                "DELETE" => "lambda:DeleteEventSourceMapping",
                _ => return Classified::Unknown,
            };
            Operation::new(
                action,
                scope.arn("lambda", &format!("event-source-mapping:{}", decoded(uuid))),
            )
            .into()
        }
        // The usage of the account `?account=` names (the caller's by
        // default).
        ("GET", ["updraft", "v1", "usage"]) => {
            let account = query.get("account").map_or(scope.account, String::as_str);
            let named = Scope { account, ..scope };
            Operation::new("updraft:GetUsage", named.arn("updraft", "usage")).into()
        }
        ("GET", ["updraft", "v1", "queues"]) => Operation::any("updraft:ListQueues").into(),
        // A download URL the server hands out with GetFunction, signed
        // with its own key.
        ("GET", ["updraft", "v1", "code", _]) => Operation::any("lambda:GetFunction").into(),
        _ => Classified::Unknown,
    }
}

/// The service principal functions' execution roles are passed to.
const LAMBDA: &str = "lambda.amazonaws.com";

/// CreateFunction and UpdateFunctionConfiguration's fields.
#[derive(Deserialize, Default)]
struct Configuration {
    #[serde(rename = "FunctionName")]
    function_name: Option<String>,
    #[serde(rename = "Role")]
    role: Option<String>,
}

/// CreateFunction: the function the body names, given its execution role.
fn create_function(body: &[u8], scope: Scope) -> Operation {
    let action = "lambda:CreateFunction";
    let Some(create) = parse_body::<Configuration>(body) else {
        return Operation::any(action);
    };
    let op = match create.function_name {
        Some(name) => function_op(action, &name, Qualified::No, &BTreeMap::new(), scope),
        None => Operation::any(action),
    };
    op.passing(create.role.as_deref(), LAMBDA)
}

/// `op`, giving the function the execution role the body names, if any.
fn execution_role(op: Operation, body: &[u8]) -> Operation {
    match parse_body::<Configuration>(body) {
        Some(update) => op.passing(update.role.as_deref(), LAMBDA),
        None => Operation::any(&op.action),
    }
}

/// `action` on the function `raw` names, qualified as `qualified` says.
fn function_op(
    action: &str,
    raw: &str,
    qualified: Qualified,
    query: &BTreeMap<String, String>,
    scope: Scope,
) -> Operation {
    let Ok(function) = FunctionRef::parse(raw) else {
        return Operation::any(action);
    };
    let named = named_scope(raw, scope);
    let qualifier = match qualified {
        Qualified::No => None,
        Qualified::Query => query.get("Qualifier").cloned(),
        Qualified::NameOrQuery => match query.get("Qualifier") {
            None => function.qualifier.map(|q| q.to_string()),
            Some(given) => match Qualifier::parse(given) {
                Ok(q) if function.qualifier.as_ref().is_none_or(|n| *n == q) => Some(q.to_string()),
                // The handler refuses both.
                _ => return Operation::any(action),
            },
        },
    };
    let resource = match qualifier {
        Some(q) => format!("function:{}:{q}", function.name),
        None => format!("function:{}", function.name),
    };
    Operation::at(action, "lambda", named, scope, &resource)
}

/// Where a function name, partial ARN or ARN places the function.
fn named_scope<'a>(raw: &'a str, scope: Scope<'a>) -> Scope<'a> {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [account, "function", _] | [account, "function", _, _] => Scope { account, ..scope },
        ["arn", partition, "lambda", region, account, "function", _]
        | ["arn", partition, "lambda", region, account, "function", _, _] => Scope {
            partition,
            region,
            account,
            ..scope
        },
        _ => scope,
    }
}
