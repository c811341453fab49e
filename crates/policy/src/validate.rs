//! Write-time validation of a policy document, with IAM's messages and in
//! the order IAM reports them.
//!
//! IAM checks a document in phases; the first phase that finds a problem
//! decides the message, whichever statement the problem is in:
//!
//! 1. syntax (`Syntax errors in policy.`): JSON, the known top-level and
//!    statement elements, their types, `Effect` (any case), the operator
//!    names of non-empty condition blocks;
//! 2. version (`Policy document must be version 2012-10-17 or greater.`),
//!    for identity policies;
//! 3. "legacy parsing" (`The policy failed legacy parsing`): `Effect` in
//!    its exact case, date condition values, and the colon layout of
//!    resource ARNs — while doing that, the first-phase resource format
//!    problem is noted (the last one found wins) to be reported in 6;
//! 4. unique statement ids;
//! 5. every statement has an action;
//! 6. the resource format problem noted in 3;
//! 7. action names (`vendor:name`);
//! 8. by kind: identity policies need resources and must not name a
//!    principal; trust policies allow only STS actions, no resources, and
//!    need a principal; resource policies need a principal.
//!
//! The `Resource` rules (3 and 6, and "must contain resources") are IAM's:
//! a resource policy's `Resource` is left to the service that owns it
//! (SQS accepts a statement without one, which then applies to the queue
//! the policy is attached to; evaluation treats a missing `Resource` as
//! matching any resource).

use crate::condition::{split_operator, OPERATORS};
use crate::principal::valid_aws_value;
use crate::{date, MalformedPolicy, PolicyKind};
use serde_json::{Map, Value};

type Statement = Map<String, Value>;

const SYNTAX: &str = "Syntax errors in policy.";
const VERSION: &str = "Policy document must be version 2012-10-17 or greater.";
const LEGACY: &str = "The policy failed legacy parsing";
const SIDS: &str = "Statement IDs (SID) in a single policy must be unique.";
const NO_ACTIONS: &str = "Policy statement must contain actions.";
const NO_RESOURCES: &str = "Policy statement must contain resources.";
const PREFACE: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const ONE_COLON: &str = "Actions/Condition can contain only one colon.";
const IDENTITY_PRINCIPAL: &str = "Policy document should not specify a principal.";
const TRUST_ACTIONS: &str = "Trust Policy statement actions can only be sts:AssumeRole, \
     sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity";
const TRUST_RESOURCE: &str = "Has prohibited field Resource.";
const TRUST_NO_PRINCIPAL: &str = "Invalid principal in policy: \
     com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!";
const RESOURCE_NO_PRINCIPAL: &str = "Missing required field Principal";

const TOP_ELEMENTS: &[&str] = &["Version", "Id", "Statement", "Conditions"];
pub(crate) const VERSIONS: &[&str] = &["2008-10-17", "2012-10-17"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Condition",
];
pub(crate) const PRINCIPAL_TYPES: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-eusc",
];
const IAM_RESOURCE_TYPES: &[&str] = &[
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];
const TRUST_ACTION_NAMES: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:DecodeAuthorizationMessage",
    "sts:GetAccessKeyInfo",
    "sts:GetCallerIdentity",
    "sts:GetFederationToken",
    "sts:GetServiceBearerToken",
    "sts:GetSessionToken",
    "sts:SetSourceIdentity",
    "sts:TagSession",
];

fn fail<T>(message: impl Into<String>) -> Result<T, MalformedPolicy> {
    Err(MalformedPolicy(message.into()))
}

/// Parses `text` and checks it as IAM does for a policy of `kind`;
/// returns the JSON for compiling.
pub(crate) fn validate(text: &str, kind: PolicyKind) -> Result<Value, MalformedPolicy> {
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return fail(SYNTAX),
    };
    check(&root, kind)?;
    Ok(root)
}

fn check(root: &Value, kind: PolicyKind) -> Result<(), MalformedPolicy> {
    let Some(statements) = syntax(root) else {
        return fail(SYNTAX);
    };
    if kind == PolicyKind::Identity
        && root.get("Version").and_then(Value::as_str) != Some("2012-10-17")
    {
        return fail(VERSION);
    }
    let resource_error = match legacy(&statements, kind != PolicyKind::Resource) {
        Some(e) => e,
        None => return fail(LEGACY),
    };
    let mut sids: Vec<&str> = Vec::new();
    for sid in statements.iter().filter_map(|s| s.get("Sid")?.as_str()) {
        if !sid.is_empty() {
            if sids.contains(&sid) {
                return fail(SIDS);
            }
            sids.push(sid);
        }
    }
    if !statements
        .iter()
        .all(|s| has_elements(s, "Action", "NotAction"))
    {
        return fail(NO_ACTIONS);
    }
    if let Some(e) = resource_error {
        return fail(e);
    }
    for key in ["Action", "NotAction"] {
        for action in statements.iter().flat_map(|s| strings(s.get(key))) {
            if let Some(e) = action_error(action) {
                return fail(e);
            }
        }
    }
    match kind {
        PolicyKind::Identity => {
            if !statements
                .iter()
                .all(|s| has_elements(s, "Resource", "NotResource"))
            {
                return fail(NO_RESOURCES);
            }
            if statements.iter().any(|s| has_principal(s)) {
                return fail(IDENTITY_PRINCIPAL);
            }
        }
        PolicyKind::Trust => {
            for s in &statements {
                let Some(actions) = s.get("Action") else {
                    return fail(TRUST_ACTIONS);
                };
                let allowed =
                    |a: &str| TRUST_ACTION_NAMES.iter().any(|n| n.eq_ignore_ascii_case(a));
                if !strings(Some(actions)).all(allowed) {
                    return fail(TRUST_ACTIONS);
                }
            }
            if statements
                .iter()
                .any(|s| s.contains_key("Resource") || s.contains_key("NotResource"))
            {
                return fail(TRUST_RESOURCE);
            }
            if !statements.iter().all(|s| has_principal(s)) {
                return fail(TRUST_NO_PRINCIPAL);
            }
            principal_values(&statements)?;
        }
        PolicyKind::Resource => {
            if !statements.iter().all(|s| has_principal(s)) {
                return fail(RESOURCE_NO_PRINCIPAL);
            }
            principal_values(&statements)?;
        }
    }
    Ok(())
}

/// The strings of a string-or-list element (nulls skipped).
pub(crate) fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    let (one, many) = match v {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

/// The statements of a document, in order, if its syntax is right.
pub(crate) fn statement_list(root: &Value) -> Vec<&Statement> {
    match root.get("Statement") {
        Some(Value::Object(s)) => vec![s],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn syntax(root: &Value) -> Option<Vec<&Statement>> {
    let top = root.as_object()?;
    ok(top.keys().all(|k| TOP_ELEMENTS.contains(&k.as_str())))?;
    if let Some(v) = top.get("Version") {
        ok(v.as_str().is_some_and(|v| VERSIONS.contains(&v)))?;
    }
    if let Some(id) = top.get("Id") {
        ok(id.is_string())?;
    }
    let statements = match top.get("Statement")? {
        Value::Object(_) => statement_list(root),
        Value::Array(items) => {
            ok(items.iter().all(Value::is_object))?;
            statement_list(root)
        }
        _ => return None,
    };
    ok(!statements.is_empty())?;
    ok(statements.iter().all(|s| statement_syntax(s)))?;
    Some(statements)
}

fn ok(b: bool) -> Option<()> {
    b.then_some(())
}

fn statement_syntax(s: &Statement) -> bool {
    let both = |a: &str, b: &str| s.contains_key(a) && s.contains_key(b);
    s.keys().all(|k| STATEMENT_ELEMENTS.contains(&k.as_str()))
        && !both("Resource", "NotResource")
        && !both("Action", "NotAction")
        && !both("Principal", "NotPrincipal")
        && s.get("Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny"))
        && ["Action", "NotAction", "Resource", "NotResource"]
            .iter()
            .all(|k| string_or_list(s.get(*k)))
        && s.get("Sid").is_none_or(Value::is_string)
        && s.get("Condition").is_none_or(condition_syntax)
        && s.get("Principal").is_none_or(principal_syntax)
        && s.get("NotPrincipal").is_none_or(principal_syntax)
}

fn string_or_list(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::String(_)) => true,
        Some(Value::Array(items)) => items.iter().all(|i| i.is_string() || i.is_null()),
        Some(_) => false,
    }
}

fn scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_))
}

fn condition_syntax(c: &Value) -> bool {
    let Some(operators) = c.as_object() else {
        return false;
    };
    operators.iter().all(|(op, body)| {
        let Some(keys) = body.as_object() else {
            return false;
        };
        let values_ok = keys.values().all(|v| match v {
            Value::Array(items) => items.iter().all(scalar),
            other => scalar(other),
        });
        values_ok && (keys.is_empty() || OPERATORS.contains(&split_operator(op).base))
    })
}

fn principal_syntax(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(types) => {
            !types.is_empty()
                && types.iter().all(|(t, v)| {
                    PRINCIPAL_TYPES.contains(&t.as_str())
                        && match v {
                            Value::String(_) => true,
                            Value::Array(items) => {
                                !items.is_empty() && items.iter().all(Value::is_string)
                            }
                            _ => false,
                        }
                })
        }
        _ => false,
    }
}

/// Phase 3. `None` when legacy parsing fails; otherwise the resource
/// format problem to report later, if any. Resources are looked at only
/// with `iam_resources`.
fn legacy(statements: &[&Statement], iam_resources: bool) -> Option<Option<String>> {
    for s in statements {
        let effect = s.get("Effect").and_then(Value::as_str);
        ok(matches!(effect, Some("Allow" | "Deny")))?;
        let Some(Value::Object(operators)) = s.get("Condition") else {
            continue;
        };
        for (op, body) in operators {
            if !split_operator(op).base.starts_with("Date") {
                continue;
            }
            for v in body.as_object()?.values() {
                match v {
                    Value::Array(items) => {
                        for item in items {
                            legacy_date(item)?;
                        }
                    }
                    other => legacy_date(other)?,
                }
            }
        }
    }
    if !iam_resources {
        return Some(None);
    }
    let mut resource_error: Option<String> = None;
    for key in ["Resource", "NotResource"] {
        for s in statements {
            let Some(v) = s.get(key) else { continue };
            match v {
                Value::String(r) => {
                    if let Some(e) = resource_format_error(r) {
                        resource_error = Some(e);
                    }
                }
                _ => {
                    let mut listed: Vec<&str> =
                        strings(Some(v)).filter(|r| !r.is_empty()).collect();
                    listed.sort_unstable_by(|a, b| b.cmp(a));
                    for r in listed {
                        if let Some(e) = resource_format_error(r) {
                            resource_error = Some(e);
                        }
                    }
                }
            }
            if resource_error.is_none() {
                ok(strings(Some(v)).all(legacy_resource))?;
            }
        }
    }
    Some(resource_error)
}

fn legacy_date(v: &Value) -> Option<()> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    date::parse(&text).map(|_| ())
}

/// The colon layout IAM's older parser insists on.
fn legacy_resource(r: &str) -> bool {
    if r.is_empty() || r == "*" {
        return true;
    }
    let colons = r.matches(':').count();
    (colons >= 5 || !r.contains("::")) && r.split(':').nth(2).is_some_and(|s| !s.is_empty())
}

/// What IAM says about a resource that is not `*` nor an acceptable ARN.
fn resource_format_error(r: &str) -> Option<String> {
    if r == "*" {
        return None;
    }
    let Some((_, rest)) = r.split_once(':') else {
        return Some(format!("Resource {r} must be in ARN format or \"*\"."));
    };
    let (partition, after) = match rest.split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (rest, None),
    };
    if partition != "*" && !PARTITIONS.contains(&partition) {
        // IAM shows the resource as a six-part ARN, `*` for missing parts.
        let parts: Vec<&str> = after.unwrap_or("").split(':').collect();
        let service = match parts.as_slice() {
            [""] => "*",
            p => p[0],
        };
        let region = parts.get(1).copied().unwrap_or("*");
        let account = parts.get(2).copied().unwrap_or("*");
        let resource = if parts.len() > 3 {
            parts[3..].join(":")
        } else {
            "*".to_string()
        };
        return Some(format!(
            "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{service}:{region}:{account}:{resource}\"."
        ));
    }
    let Some(after) = after else {
        return Some("Resource vendor must be fully qualified and cannot contain regexes.".into());
    };
    let (service, region_on) = after.split_once(':').unwrap_or((after, ""));
    let resource_id = region_on.splitn(3, ':').nth(2).unwrap_or("");
    if !region_on.starts_with(':') {
        match service {
            "iam" => {
                return Some(format!(
                    "IAM resource {r} cannot contain region information."
                ))
            }
            "s3" if !resource_id.starts_with("accesspoint/") => {
                return Some(format!("Resource {r} can not contain region information."))
            }
            _ => {}
        }
    }
    if service == "iam"
        && !IAM_RESOURCE_TYPES
            .iter()
            .any(|t| resource_id.starts_with(t))
    {
        return Some(format!(
            "IAM resource path must either be \"*\" or start with {}.",
            IAM_RESOURCE_TYPES.join(", ")
        ));
    }
    None
}

/// Phase 5: `Action`/`NotAction` (or `Resource`/`NotResource`) present and,
/// when a list, not empty.
fn has_elements(s: &Statement, key: &str, not_key: &str) -> bool {
    match (s.get(key), s.get(not_key)) {
        (Some(Value::Array(items)), _) => !items.is_empty(),
        (Some(_), _) => true,
        (None, Some(Value::Array(items))) => !items.is_empty(),
        (None, Some(_)) => true,
        (None, None) => false,
    }
}

fn action_error(action: &str) -> Option<String> {
    let colons = action.matches(':').count();
    if colons == 0 && action != "*" {
        return Some(PREFACE.into());
    }
    if colons > 1 {
        return Some(ONE_COLON.into());
    }
    let vendor = action.split(':').next().unwrap_or("");
    let vendor_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if vendor != "*" && !vendor.chars().all(vendor_ok) {
        return Some(format!("Vendor {vendor} is not valid"));
    }
    None
}

fn has_principal(s: &Statement) -> bool {
    s.contains_key("Principal") || s.contains_key("NotPrincipal")
}

fn principal_values(statements: &[&Statement]) -> Result<(), MalformedPolicy> {
    for s in statements {
        for key in ["Principal", "NotPrincipal"] {
            let Some(Value::Object(types)) = s.get(key) else {
                continue;
            };
            let Some(aws) = types.get("AWS") else {
                continue;
            };
            if let Some(bad) = strings(Some(aws)).find(|v| !valid_aws_value(v)) {
                return fail(format!("Invalid principal in policy: \"AWS\":\"{bad}\""));
            }
        }
    }
    Ok(())
}
