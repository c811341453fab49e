//! The query protocol: [`Iam::handle`] takes the decoded parameters of one
//! IAM or STS request and returns the XML reply, success or error, in the
//! shapes boto3 and the aws CLI parse.
//!
//! ```text
//! <CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//!   <CreateUserResult><User>...</User></CreateUserResult>
//!   <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
//! </CreateUserResponse>
//!
//! <ErrorResponse xmlns="...">
//!   <Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>...</Message></Error>
//!   <RequestId>...</RequestId>
//! </ErrorResponse>
//! ```

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use updraft_policy::{Context, Decision, PrincipalKind};

use crate::authz::{to_utc, Caller, DenialSource};
use crate::error::IamError;
use crate::xml::{escape, Xml};
use crate::Iam;

pub(crate) const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub(crate) const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Which API a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Iam,
    Sts,
}

/// What the gateway knows about a request besides its parameters.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub source_ip: Option<IpAddr>,
    /// Whether it arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The region the request was signed for.
    pub region: String,
    pub request_id: String,
    pub now: SystemTime,
}

impl RequestMeta {
    /// The global condition keys of this request made by `caller`.
    pub fn context(&self, caller: &Caller) -> Context {
        let mut ctx = Context::new();
        if let Some(ip) = self.source_ip {
            ctx.set("aws:SourceIp", ip.to_string());
        }
        ctx.set("aws:SecureTransport", self.secure_transport.to_string());
        ctx.set("aws:RequestedRegion", self.region.clone());
        let now: DateTime<Utc> = to_utc(self.now);
        ctx.set("aws:CurrentTime", crate::xml::date(&now));
        let epoch = self
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ctx.set("aws:EpochTime", epoch.to_string());
        ctx.set("aws:PrincipalAccount", caller.account());
        ctx.set("aws:userid", caller.user_id.clone());
        let (arn, ptype) = match &caller.principal.kind {
            PrincipalKind::Root => (caller.arn(), "Account"),
            PrincipalKind::User { arn, name } => {
                ctx.set("aws:username", name.clone());
                (arn.clone(), "User")
            }
            PrincipalKind::AssumedRole { role_arn, .. } => (role_arn.clone(), "AssumedRole"),
            PrincipalKind::Service(s) => (s.clone(), "Service"),
        };
        ctx.set("aws:PrincipalArn", arn);
        ctx.set("aws:PrincipalType", ptype);
        ctx
    }
}

/// A reply: HTTP status and XML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResponse {
    pub status: u16,
    pub body: String,
}

/// An error as the query protocol reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "ValidationError", message)
    }
    pub fn invalid_input(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidInput", message)
    }
    pub fn no_such_entity(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NoSuchEntity", message)
    }
    pub fn exists(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "EntityAlreadyExists", message)
    }
    pub fn limit(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "LimitExceeded", message)
    }
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "DeleteConflict", message)
    }
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "MalformedPolicyDocument", message)
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> ApiError {
        tracing::error!(error = %e, "IAM request failed");
        ApiError::new(
            500,
            "ServiceFailure",
            "Request processing has failed due to an internal error.",
        )
    }
}

/// The decoded parameters of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    pub fn new(pairs: &'a [(String, String)]) -> Self {
        Params { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter; its absence is AWS's "must not be null".
    pub fn required(&self, name: &str, field: &str) -> Result<&'a str, ApiError> {
        self.get(name)
            .ok_or_else(|| crate::ids::validation(None, field, "Member must not be null"))
    }

    /// `Prefix.1`, `Prefix.2`, ... in order (`Prefix` like `ActionNames.member`).
    pub fn list(&self, prefix: &str) -> Vec<&'a str> {
        let mut items: Vec<(u32, &'a str)> = self
            .pairs
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?;
                Some((n.parse().ok()?, v.as_str()))
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// The distinct indexes `N` of `Prefix.N.*` parameters, ascending.
    pub fn indexes(&self, prefix: &str) -> Vec<u32> {
        let mut ns: Vec<u32> = self
            .pairs
            .iter()
            .filter_map(|(k, _)| {
                let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
                rest.split('.').next()?.parse().ok()
            })
            .collect();
        ns.sort_unstable();
        ns.dedup();
        ns
    }

    /// `MaxItems` (1..=1000, default 100) and `Marker`.
    pub fn paging(&self) -> Result<(usize, Option<&'a str>), ApiError> {
        let max = match self.get("MaxItems") {
            None => 100,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => n as usize,
                Ok(n) if n > 1000 => {
                    return Err(crate::ids::validation(
                        Some(v),
                        "maxItems",
                        "Member must have value less than or equal to 1000",
                    ))
                }
                _ => {
                    return Err(crate::ids::validation(
                        Some(v),
                        "maxItems",
                        "Member must have value greater than or equal to 1",
                    ))
                }
            },
        };
        Ok((max, self.get("Marker")))
    }
}

/// One page of `items` (sorted by `key`) after `marker`; writes the members
/// with `render`, then `IsTruncated` and `Marker`.
pub(crate) fn page<T>(
    x: &mut Xml,
    list_tag: &str,
    items: &[T],
    key: impl Fn(&T) -> String,
    paging: (usize, Option<&str>),
    render: impl Fn(&mut Xml, &T),
) {
    let (max, marker) = paging;
    let start = match marker {
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .or_else(|| items.iter().position(|i| key(i).as_str() > m))
            .unwrap_or(items.len()),
        None => 0,
    };
    let end = (start + max).min(items.len());
    x.open(list_tag);
    for item in &items[start..end] {
        x.open("member");
        render(x, item);
        x.close("member");
    }
    x.close(list_tag);
    let truncated = end < items.len();
    x.bool("IsTruncated", truncated);
    if truncated {
        x.text("Marker", &key(&items[end]));
    }
}

/// One request being handled.
pub(crate) struct Ctx<'a> {
    pub iam: &'a Iam,
    pub caller: &'a Caller,
    pub params: Params<'a>,
    pub meta: &'a RequestMeta,
    pub context: Context,
}

impl Ctx<'_> {
    pub fn account(&self) -> &str {
        self.caller.account()
    }

    /// Authorizes `action` on `resource` for the caller, with AWS's
    /// AccessDenied wording.
    pub fn authorize(&self, action: &str, resource: &str) -> Result<(), ApiError> {
        match self
            .iam
            .authorize(self.caller, action, resource, &self.context, None)
        {
            Decision::Allow => Ok(()),
            d => {
                let source =
                    self.iam
                        .denial_source(self.caller, action, resource, &self.context, d);
                Err(access_denied(self.caller, action, resource, d, source))
            }
        }
    }
}

pub(crate) fn access_denied(
    caller: &Caller,
    action: &str,
    resource: &str,
    decision: Decision,
    source: DenialSource,
) -> ApiError {
    let why = source.clause(action, decision);
    ApiError::new(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            caller.arn()
        ),
    )
}

/// Wraps an operation's result in its response envelope.
fn envelope(action: &str, ns: &str, result: Option<String>, request_id: &str) -> String {
    let mut out = format!("<{action}Response xmlns=\"{ns}\">");
    if let Some(r) = result {
        out.push_str(&format!("<{action}Result>{r}</{action}Result>"));
    }
    out.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    ));
    out
}

pub(crate) fn error_body(ns: &str, e: &ApiError, request_id: &str) -> String {
    let kind = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"{ns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        e.code,
        escape(&e.message),
        escape(request_id)
    )
}

pub(crate) type OpResult = Result<Option<String>, ApiError>;

impl Iam {
    /// Handles one IAM or STS query-protocol request made by `caller`
    /// (whose signature the gateway has verified). `params` are the decoded
    /// form (or query) pairs, `Action` and `Version` included.
    pub fn handle(
        &self,
        api: Api,
        caller: &Caller,
        params: &[(String, String)],
        meta: &RequestMeta,
    ) -> QueryResponse {
        let ns = match api {
            Api::Iam => IAM_NS,
            Api::Sts => STS_NS,
        };
        let params = Params::new(params);
        let action = params.get("Action").unwrap_or("");
        if self.read().account(caller.account()).is_none() {
            if let Err(e) = self.ensure_account(caller.account()) {
                let e = ApiError::from(e);
                return QueryResponse {
                    status: e.status,
                    body: error_body(ns, &e, &meta.request_id),
                };
            }
        }
        let ctx = Ctx {
            iam: self,
            caller,
            params,
            meta,
            context: meta.context(caller),
        };
        let result = match api {
            Api::Iam => crate::ops::dispatch(&ctx, action),
            Api::Sts => crate::sts::dispatch(&ctx, action),
        };
        match result {
            Some(Ok(result)) => QueryResponse {
                status: 200,
                body: envelope(action, ns, result, &meta.request_id),
            },
            Some(Err(e)) => QueryResponse {
                status: e.status,
                body: error_body(ns, &e, &meta.request_id),
            },
            None => {
                let e = ApiError::new(
                    400,
                    "InvalidAction",
                    format!(
                        "Could not find operation {action} for version {}",
                        params.get("Version").unwrap_or("NO_VERSION_SPECIFIED")
                    ),
                );
                QueryResponse {
                    status: 400,
                    body: error_body(ns, &e, &meta.request_id),
                }
            }
        }
    }
}
