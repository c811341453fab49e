//! What each request asks to do, in IAM's terms: the `service:Action`
//! and the resource ARN that AWS's Service Authorization Reference gives
//! for the operation it calls.
//!
//! ```text
//!  parts + body ─> signed for iam / sts          ─> SelfAuthorized (the iam crate decides per call)
//!               ─> POST / with X-Amz-Target       ─> json: AmazonSQS.*, AWSEvents.*, Logs_20140328.*, DynamoDB_20120810.*
//!               ─> POST / with a form             ─> json: SQS's query protocol
//!               ─> /schedules, /schedule-groups   ─> scheduler
//!               ─> Lambda's paths, /updraft/v1/…  ─> lambda
//!               ─> a form POSTed to /{account}/{queue} (no literal route) ─> json: SQS query
//!               ─> anything else                  ─> Unknown
//! ```
//!
//! A resource named by name belongs to the caller's account and the
//! node's region; one named by ARN or queue URL carries its own. The
//! handlers look every resource up by name in the node's region, in the
//! named account when the node holds it and in the caller's otherwise,
//! so when that differs from what the request spells the action must also
//! be allowed on the resource the handler will touch: [`Operation::resource`] is the one
//! named, [`Operation::more_resources`] the touched one. `PutEvents` may
//! name several buses, each of which lands in one of the two fields.
//! Every resource of an operation must be allowed
//! ([`Operation::resources`]).
//!
//! A request that hands a role to a service (a function's `Role`, a
//! schedule's `Target.RoleArn`, a rule's or a rule target's `RoleArn`)
//! lists it in [`Operation::passed_roles`]: the caller must also be
//! allowed `iam:PassRole` on it, or anyone allowed to create a function
//! could run code with any role's permissions.
//!
//! Each part reads the name, the qualifier and the defaults exactly where
//! its handler does, and paths are matched as the router matches them
//! (literal segments as sent, parameters percent-decoded, a literal route
//! before `/{account}/{queue}`), so a policy that denies a resource
//! cannot be sidestepped by spelling the request another way. A request
//! the handler will refuse anyway (a body that does not parse, a name
//! that is not valid) is classified with resource `*`, so only a caller
//! allowed the action on every resource learns how it is wrong.

mod context;
mod json;
mod lambda;
mod scheduler;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

pub(crate) use context::request_context;

/// What a request asks to do, in IAM's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Operation {
    /// `service:Action` as in AWS's Service Authorization Reference, e.g.
    /// `lambda:InvokeFunction`, `sqs:SendMessage`, `events:PutEvents`.
    pub action: String,
    /// The resource's ARN as AWS builds it for this action, or `*` for an
    /// action AWS defines without a resource (ListFunctions, ListQueues,
    /// ...) and for a request its handler will refuse as malformed.
    pub resource: String,
    /// Further resources the same action must be allowed on, without
    /// duplicates: the resource the handler will act on when the request
    /// names one in another account or region, the other buses a
    /// `PutEvents` names. Usually empty.
    pub more_resources: Vec<String>,
    /// Roles the request hands to a service to act as (a function's
    /// execution role, a schedule's or a rule's target role): the caller
    /// must also be allowed `iam:PassRole` on each, as on AWS.
    pub passed_roles: Vec<PassedRole>,
}

/// A role a request hands to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PassedRole {
    /// The role's ARN, as the request gives it: the resource of
    /// `iam:PassRole`.
    pub role: String,
    /// The service the role is passed to, the value of the condition key
    /// `iam:PassedToService` (`lambda.amazonaws.com`, ...).
    pub service: &'static str,
}

impl Operation {
    /// Every resource the action must be allowed on: [`Self::resource`],
    /// then [`Self::more_resources`].
    pub(crate) fn resources(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.resource.as_str())
            .chain(self.more_resources.iter().map(String::as_str))
    }

    /// `action` on `resource`, with nothing more to check.
    pub(crate) fn new(action: &str, resource: impl Into<String>) -> Operation {
        Operation {
            action: action.to_string(),
            resource: resource.into(),
            more_resources: Vec::new(),
            passed_roles: Vec::new(),
        }
    }

    /// The same operation, handing `role` (when there is one) to `service`.
    fn passing(mut self, role: Option<&str>, service: &'static str) -> Operation {
        if let Some(role) = role {
            let passed = PassedRole {
                role: role.to_string(),
                service,
            };
            if !self.passed_roles.contains(&passed) {
                self.passed_roles.push(passed);
            }
        }
        self
    }

    /// `action` on no particular resource.
    fn any(action: &str) -> Operation {
        Operation::new(action, "*")
    }

    /// `action` on `resource` of `service` where the request names it
    /// (`named`), and also where the handler will act on it when that
    /// differs: handlers look a resource up by name in the node's region
    /// whatever region an ARN spells, and in the caller's account when
    /// the named one is not on the node ([`Scope::landing`]), so the
    /// action must be allowed on what is touched too. `caller` is the
    /// caller's scope.
    fn at(action: &str, service: &str, named: Scope, caller: Scope, resource: &str) -> Operation {
        let mut op = Operation::new(action, named.arn(service, resource));
        let touched = caller.landing(named).arn(service, resource);
        if touched != op.resource {
            op.more_resources.push(touched);
        }
        op
    }
}

/// How a request is authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Classified {
    Operation(Operation),
    /// IAM and STS: the iam crate authorizes each call itself.
    SelfAuthorized,
    /// Nothing this gateway serves: the router will answer with its
    /// unknown-operation error.
    Unknown,
}

impl From<Operation> for Classified {
    fn from(op: Operation) -> Self {
        Classified::Operation(op)
    }
}

/// Where a resource lives: the caller's partition, region and account
/// for a resource named by name, the ARN's for one named by ARN.
#[derive(Clone, Copy)]
struct Scope<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
    /// Whether an account's resources are on this node.
    accounts: &'a dyn Fn(&str) -> bool,
}

impl<'a> Scope<'a> {
    /// The place an ARN names.
    fn of(&self, arn: &updraft_types::Arn<'a>) -> Scope<'a> {
        Scope {
            partition: arn.partition,
            region: arn.region,
            account: arn.account,
            ..*self
        }
    }

    /// Where a handler acts on a resource named at `named` (`self` being
    /// the caller's scope): in the named account when the node holds it,
    /// else in the caller's; always in the node's partition and region.
    fn landing(self, named: Scope<'a>) -> Scope<'a> {
        if (self.accounts)(named.account) {
            Scope {
                account: named.account,
                ..self
            }
        } else {
            self
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition, self.region, self.account
        )
    }
}

/// Classifies a request. `service` is the SigV4 signing name already
/// checked; `account` is the caller's, `region` the node's; `accounts`
/// tells whether an account's resources are on this node.
pub(crate) fn classify(
    parts: &http::request::Parts,
    body: &[u8],
    service: &str,
    region: &str,
    account: &str,
    accounts: &dyn Fn(&str) -> bool,
) -> Classified {
    if service == "iam" || service == "sts" {
        return Classified::SelfAuthorized;
    }
    let scope = Scope {
        partition: "aws",
        region,
        account,
        accounts,
    };
    let path = parts.uri.path();
    let segments: Vec<&str> = match path.strip_prefix('/') {
        Some("") | None => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    };
    let post = parts.method == http::Method::POST;
    let form = is_form(&parts.headers);
    if segments.is_empty() {
        // `POST /`: the JSON protocol by X-Amz-Target, or SQS's query
        // protocol when there is none and the body is a form.
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return match (post, target) {
            (false, _) => Classified::Unknown,
            (true, "") if form => json::sqs_query(body, None, scope),
            (true, "") => Classified::Unknown,
            (true, target) => json::target(target, body, scope),
        };
    }
    // Paths are matched as the router matches them: literal segments as
    // sent, parameters percent-decoded.
    let query = parts.uri.query().map(decode_form).unwrap_or_default();
    let rest = match segments[0] {
        "schedules" | "schedule-groups" => {
            scheduler::classify(&parts.method, &segments, &query, body, scope)
        }
        _ => lambda::classify(&parts.method, &segments, &query, body, scope),
    };
    match (rest, segments.as_slice()) {
        // `/{account}/{queue}`, where no literal route matches: a form
        // POSTed to a queue URL.
        (Classified::Unknown, [queue_account, queue]) if post && form => json::sqs_query(
            body,
            Some((&decoded(queue_account), &decoded(queue))),
            scope,
        ),
        (rest, _) => rest,
    }
}

/// The method a route answers `method` with: `get` routes answer HEAD
/// too (without the body), so HEAD is checked as GET.
fn routed_method(method: &http::Method) -> &str {
    if method == http::Method::HEAD {
        "GET"
    } else {
        method.as_str()
    }
}

/// A path parameter as the router's extractor decodes it.
fn decoded(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a request's body is a form, as query-protocol requests are.
fn is_form(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `a=1&b=2` decoded as the SQS query protocol and axum's `Query` decode
/// it (`+` is a space; a repeated name keeps its last value).
fn decode_form(text: impl AsRef<[u8]>) -> BTreeMap<String, String> {
    crate::form::map(text.as_ref())
}

/// A JSON body as the fields `T` reads (others ignored); an empty body is
/// `{}`. `None` when it is not such an object: the handler refuses it.
fn parse_body<T: DeserializeOwned + Default>(body: &[u8]) -> Option<T> {
    if body.is_empty() {
        return Some(T::default());
    }
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests;
