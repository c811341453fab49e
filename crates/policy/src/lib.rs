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
//! - [`evaluate_detailed`] does the same and says which statements
//!   decided, for IAM's policy simulator.
//!
//! Who is subject to what: the root user of an account is allowed on its
//! own account's resources (and on those without an account, such as
//! `arn:aws:s3:::bucket`, or `*`) unless a resource policy denies it; its
//! identity policies, boundary and session policy are not looked at. A
//! service principal is allowed only by a resource (or trust) policy that
//! names it. Users and role sessions are decided by their identity
//! policies, boundary, session policy and the resource policy, as
//! [`evaluate`] describes.
//!
//! Nothing here does I/O: callers hand in parsed documents, the calling
//! principal, the action, the resource and the condition context.
//!
//! Modules: `validate` (write-time checks and messages), `document` (the
//! compiled form), `spans` (statement positions in the text), `pattern`
//! (wildcards and policy variables),
//! `condition` (operators), `date` (condition dates), `principal`
//! (principal elements), `eval` (the decision).

mod condition;
mod context;
mod date;
mod document;
mod eval;
mod pattern;
mod principal;
mod spans;
pub mod stored;
mod validate;

pub use context::{Context, RequestFacts};
pub use eval::{
    evaluate, evaluate_detailed, evaluate_noting_context, Evaluation, MatchedStatement,
    PolicySource,
};
pub use spans::{Position, Span};

/// Which kind of policy a document is, for validation: identity policies
/// must not name a `Principal`; resource and trust policies must.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// A parsed, validated policy document, compiled for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    kind: PolicyKind,
    id: Option<String>,
    statements: Vec<document::Statement>,
    spans: Vec<Span>,
    has_conditions: bool,
    has_variables: bool,
}

impl PolicyDocument {
    /// Parses and validates `text` as a policy of `kind`.
    ///
    /// Identity policies must be of version `2012-10-17` (as CreatePolicy
    /// requires); resource and trust policies may also be `2008-10-17` or
    /// have no version. Policy variables (`${aws:username}`) are read in
    /// documents of version `2012-10-17` only.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, MalformedPolicy> {
        let root = validate::validate(text, kind)?;
        let (id, statements) = document::compile(&root);
        let has_conditions = statements.iter().any(|s| !s.conditions.is_empty());
        // Variables exist in documents of version 2012-10-17 only.
        let has_variables = root.get("Version").and_then(serde_json::Value::as_str)
            == Some("2012-10-17")
            && text.contains("${");
        Ok(PolicyDocument {
            kind,
            id,
            statements,
            spans: spans::statement_spans(text),
            has_conditions,
            has_variables,
        })
    }

    /// Whether any statement has a `Condition` block (decisions that
    /// depend on the request's context cannot be cached by principal,
    /// action and resource alone; policy variables read the context too,
    /// see [`PolicyDocument::has_variables`]).
    pub fn has_conditions(&self) -> bool {
        self.has_conditions
    }

    /// Whether the document may use policy variables (`${...}`), whose
    /// values also come from the request's context.
    pub fn has_variables(&self) -> bool {
        self.has_variables
    }

    /// The kind the document was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The document's `Id`, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The `Sid` of statement `index`, if it has one.
    pub fn sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index)?.sid.as_deref()
    }

    /// The ARNs that `Principal` / `NotPrincipal` elements name under
    /// `AWS`, other than `*` and accounts (`123456789012`,
    /// `arn:aws:iam::123456789012:root`), in document order, each once: IAM
    /// refuses a trust policy naming a user or role that does not exist
    /// (`Invalid principal in policy: "AWS":"<arn>"`), which only the
    /// caller can check.
    pub fn principal_arns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for st in &self.statements {
            for arn in st.principals.iter().flat_map(|p| p.arns()) {
                if !out.contains(&arn) {
                    out.push(arn);
                }
            }
        }
        out
    }

    /// Where statement `index` sits in the text the document was parsed
    /// from (the simulator's `StartPosition` and `EndPosition`).
    pub fn statement_span(&self, index: usize) -> Option<Span> {
        self.spans.get(index).copied()
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

    /// The policy simulator's `EvalDecision`: `allowed`, `explicitDeny` or
    /// `implicitDeny`.
    pub fn simulator_name(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny => "explicitDeny",
            Decision::ImplicitDeny => "implicitDeny",
        }
    }
}
