//! IAM policy documents and their evaluation.
//!
//! - [`PolicyDocument::parse`] reads and validates a document as AWS does
//!   on write, refusing a bad one with AWS's `MalformedPolicyDocument`
//!   message ([`MalformedPolicy`]).
//! - [`evaluate`] decides one request against every policy that applies
//!   to it, with AWS's logic: an explicit deny anywhere wins; otherwise an
//!   allow is needed (identity or resource policy; within a permission
//!   boundary and a session policy where those exist); otherwise the
//!   request is implicitly denied.
//!
//! Nothing here does I/O: callers hand in parsed documents, the calling
//! principal, the action, the resource and the condition context.

use std::collections::HashMap;

/// Which kind of policy a document is, for validation: identity policies
/// must not name a `Principal`; resource and trust policies must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline), a permission
    /// boundary, or a session policy.
    Identity,
    /// Attached to a resource (Lambda function policy, SQS queue policy,
    /// EventBridge bus policy, bucket policy).
    Resource,
    /// A role's trust policy (`AssumeRolePolicyDocument`).
    Trust,
}

/// Why a document was refused: AWS's message, as `MalformedPolicyDocument`
/// carries it (for example `Syntax errors in policy.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPolicy(pub String);

impl std::fmt::Display for MalformedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MalformedPolicy {}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    // Filled in by the implementation.
    _private: (),
}

impl PolicyDocument {
    /// Parses and validates `text` as a policy of `kind`.
    pub fn parse(_text: &str, _kind: PolicyKind) -> Result<PolicyDocument, MalformedPolicy> {
        Err(MalformedPolicy("Syntax errors in policy.".into()))
    }

    /// Whether any statement has a `Condition` block (decisions that
    /// depend on the request's context cannot be cached by principal,
    /// action and resource alone).
    pub fn has_conditions(&self) -> bool {
        false
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The account the principal belongs to (12 digits).
    pub account: String,
    /// What the principal is.
    pub kind: PrincipalKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account's root user: `arn:aws:iam::ACCOUNT:root`.
    Root,
    /// An IAM user: `arn:aws:iam::ACCOUNT:user/PATH/NAME`; `arn` is that ARN.
    User { name: String, arn: String },
    /// A role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole {
        role_name: String,
        /// The role's own ARN (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
        role_arn: String,
        session_name: String,
    },
    /// An AWS service acting for a resource (`lambda.amazonaws.com`,
    /// `events.amazonaws.com`, `scheduler.amazonaws.com`, ...).
    Service(String),
}

impl Principal {
    /// The principal's ARN as AWS shows it (`aws:PrincipalArn` is the role's
    /// ARN for a role session; this is the session's ARN).
    pub fn arn(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => format!("arn:aws:iam::{}:root", self.account),
            PrincipalKind::User { arn, .. } => arn.clone(),
            PrincipalKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                self.account
            ),
            PrincipalKind::Service(name) => name.clone(),
        }
    }
}

/// Condition context: key (case-insensitive; stored lowercased) to values.
/// Keys the caller knows nothing about are absent (`Null` sees them so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Sets `key` (for example `aws:SourceIp`) to one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Sets a multi-valued key.
    pub fn set_many(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    /// The values of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `service:Operation`, for example `lambda:InvokeFunction`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for actions without a resource.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// The principal's identity policies (inline and attached, the user's
    /// groups' too).
    pub identity: &'a [&'a PolicyDocument],
    /// The principal's permission boundary, if it has one.
    pub boundary: Option<&'a PolicyDocument>,
    /// The session policy of a role session, if one was passed.
    pub session: Option<&'a PolicyDocument>,
    /// The resource's own policy, if it has one.
    pub resource: Option<&'a PolicyDocument>,
}

/// The outcome of evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    /// A statement with `"Effect": "Deny"` matched.
    ExplicitDeny,
    /// Nothing allowed the request.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Decides `request` against `policies` with AWS's evaluation logic.
pub fn evaluate(_request: &Request<'_>, _policies: &PolicySet<'_>) -> Decision {
    Decision::ImplicitDeny
}
