//! Evaluation: one request against every policy that applies to it.
//!
//! ```text
//!  any matching Deny (identity, boundary, session, resource) ──> ExplicitDeny
//!  root of the resource's account ───────────────────────────> Allow
//!  service principal: resource policy grants it ─────────────> Allow
//!  same account:  resource policy names the caller ──────────> Allow
//!                 (a role's ARN: within boundary and session policy)
//!                 identity allows, within boundary and session ─> Allow
//!  other account: identity side allows AND resource policy
//!                 grants the caller or its account ──────────> Allow
//!  a role's trust policy (sts:AssumeRole) is a resource policy that
//!  must grant in the same account too: the caller directly, or its
//!  account and then the identity side must allow
//!  otherwise ───────────────────────────────────────────────> ImplicitDeny
//! ```
//!
//! A statement applies when its action, resource, principal (resource and
//! trust policies only) and every condition match, tested in that order,
//! cheapest first. The plain [`evaluate`] stops at the first matching Deny
//! and skips Allow statements of a policy source that already allows; it
//! allocates nothing, unless the action name is longer than 128 bytes or a
//! policy variable names `aws:PrincipalArn` of a root user (both are
//! built on the heap then). [`evaluate_detailed`] looks at every statement and
//! says which ones decided, for the policy simulator.

use crate::condition::{Found, RequestValues};
use crate::document::{Effect, Statement};
use crate::pattern::Vars;
use crate::principal::{arn_account, Grant};
use crate::{
    Context, Decision, PolicyDocument, PolicyKind, PolicySet, Principal, PrincipalKind, Request,
};
use std::borrow::Cow;
use std::cell::Cell;

/// Which of a [`PolicySet`]'s policies a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// `PolicySet::identity[i]`.
    Identity(usize),
    /// `PolicySet::boundary`.
    Boundary,
    /// `PolicySet::session`.
    Session,
    /// `PolicySet::resource`.
    Resource,
}

/// A statement that took part in a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub source: PolicySource,
    /// The statement's position in its document (0-based).
    pub index: usize,
    pub sid: Option<String>,
    /// Whether the statement is a Deny (otherwise an Allow).
    pub deny: bool,
}

/// A decision with its reasons, as IAM's policy simulator reports them
/// (`EvalDecision`, `MatchedStatements`, `MissingContextValues`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    /// For `ExplicitDeny`, every Deny statement that matched; for `Allow`,
    /// every Allow statement that matched; empty for `ImplicitDeny`. In
    /// policy order: identity policies, boundary, session, resource.
    pub matched_statements: Vec<MatchedStatement>,
    /// Condition keys (lowercased, sorted, without duplicates) that
    /// statements otherwise matching the request read but the request
    /// context does not set.
    pub missing_context_keys: Vec<String>,
    /// Whether the permission boundary allows the request (the
    /// simulator's `PermissionsBoundaryDecisionDetail`); `None` when there
    /// is no boundary, or for the root user and service principals, whose
    /// boundary is not looked at.
    pub boundary_allows: Option<bool>,
}

/// Decides `request` against `policies` with AWS's evaluation logic.
///
/// 1. A matching Deny statement in any of the policies is an
///    [`Decision::ExplicitDeny`] (for the root user and service principals
///    only the resource policy is looked at).
/// 2. The root user is allowed on its own account's resources, on
///    resources without an account, and on `*`; elsewhere when the
///    resource policy grants its account.
/// 3. A service principal is allowed when the resource policy names it.
/// 4. A user or role session, on a resource of its own account, is allowed
///    when the resource policy names it (a grant to the role's ARN still
///    has to fit the session's boundary and session policy), or when an
///    identity policy allows and the boundary and session policy (where
///    there are such) allow too. A grant to the account in the resource
///    policy does not allow by itself.
/// 5. On another account's resource, the identity side (as in 4) and the
///    resource policy (naming the caller or its account) must both allow.
/// 6. A role's trust policy (a [`PolicyKind::Trust`] document passed as
///    the resource policy, for `sts:AssumeRole`) must grant even within
///    one account: naming the caller allows by itself there, naming its
///    account needs the identity side too; across accounts as in 5.
/// 7. Otherwise the request is implicitly denied.
///
/// The resource's account is the fifth field of its ARN. An ARN with an
/// empty account field (an S3 bucket's) belongs to the account the context
/// sets as `aws:ResourceAccount` (the bucket's owner); without one it
/// counts as the caller's own, as do `*` and a string that is not an ARN.
pub fn evaluate(request: &Request<'_>, policies: &PolicySet<'_>) -> Decision {
    run(request, policies, &mut Fast).0
}

/// Like [`evaluate`], and says whether the decision read the request's
/// context: `false` when no condition or policy variable that took part
/// read anything but the principal's own keys (`aws:username`,
/// `aws:PrincipalArn`, ...), so the same principal, action, resource and
/// policies decide the same way whatever the request's other facts are.
pub fn evaluate_noting_context(
    request: &Request<'_>,
    policies: &PolicySet<'_>,
) -> (Decision, bool) {
    run(request, policies, &mut Fast)
}

/// Like [`evaluate`], and says which statements decided.
pub fn evaluate_detailed(request: &Request<'_>, policies: &PolicySet<'_>) -> Evaluation {
    let mut record = Detailed::default();
    let (decision, _) = run(request, policies, &mut record);
    let deny = decision == Decision::ExplicitDeny;
    let matched_statements = match decision {
        Decision::ImplicitDeny => Vec::new(),
        _ => record
            .matched
            .into_iter()
            .filter(|m| m.deny == deny)
            .collect(),
    };
    let mut missing: Vec<String> = record.missing;
    missing.sort();
    missing.dedup();
    Evaluation {
        decision,
        matched_statements,
        missing_context_keys: missing,
        boundary_allows: record.boundary,
    }
}

/// What the scan does with the statements it visits.
trait Recorder {
    /// Whether every statement must be looked at (otherwise the scan stops
    /// at the first Deny and skips Allows that cannot change anything).
    const EXHAUSTIVE: bool;
    fn matched(&mut self, source: PolicySource, index: usize, statement: &Statement);
    fn missing(&mut self, _key: &str) {}
    fn boundary(&mut self, _allows: bool) {}
}

struct Fast;

impl Recorder for Fast {
    const EXHAUSTIVE: bool = false;
    fn matched(&mut self, _: PolicySource, _: usize, _: &Statement) {}
}

#[derive(Default)]
struct Detailed {
    matched: Vec<MatchedStatement>,
    missing: Vec<String>,
    boundary: Option<bool>,
}

impl Recorder for Detailed {
    const EXHAUSTIVE: bool = true;
    fn matched(&mut self, source: PolicySource, index: usize, statement: &Statement) {
        self.matched.push(MatchedStatement {
            source,
            index,
            sid: statement.sid.clone(),
            deny: statement.effect == Effect::Deny,
        });
    }
    fn missing(&mut self, key: &str) {
        self.missing.push(key.to_string());
    }
    fn boundary(&mut self, allows: bool) {
        self.boundary = Some(allows);
    }
}

/// The request as policy variables and conditions read it: the caller's
/// context first, then values derived from the principal.
struct Env<'a> {
    principal: &'a Principal,
    context: &'a Context,
    /// The action, ASCII-lowercased once.
    action: &'a str,
    /// Its service (`s3` of `s3:getobject`).
    service: &'a str,
    resource: &'a str,
    /// Set when a condition or policy variable read a value that is not
    /// one of the principal's own keys: a decision made without it holds
    /// for every request of the same principal, action and resource.
    read_context: Cell<bool>,
}

/// Keys whose values are the principal's own (the same for every request
/// a principal makes).
fn principal_key(key: &str) -> bool {
    matches!(
        key,
        "aws:username"
            | "aws:userid"
            | "aws:principalarn"
            | "aws:principalaccount"
            | "aws:principaltype"
            | "aws:principalisawsservice"
            | "aws:principalservicename"
    )
}

impl Vars for Env<'_> {
    fn var(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.values(key)? {
            Found::Many(v) => v.first().map(|s| Cow::Borrowed(s.as_str())),
            Found::One(v) => Some(v),
        }
    }
}

impl RequestValues for Env<'_> {
    fn values(&self, key: &str) -> Option<Found<'_>> {
        if let Some(v) = self.context.get_lowercased(key) {
            self.read_context.set(true);
            return Some(Found::Many(v));
        }
        if !principal_key(key) {
            self.read_context.set(true);
        }
        self.context.derived(key, self.principal).map(Found::One)
    }
}

/// What the scan found.
#[derive(Default)]
struct Scanned {
    deny: bool,
    identity: bool,
    boundary: bool,
    session: bool,
    resource: Option<Grant>,
}

/// Decides, and says whether anything of the request's context (beyond
/// the principal's own keys) was read on the way.
fn run<R: Recorder>(
    request: &Request<'_>,
    policies: &PolicySet<'_>,
    rec: &mut R,
) -> (Decision, bool) {
    let mut buf = [0u8; 128];
    let action = lowercase(request.action, &mut buf);
    let env = Env {
        principal: request.principal,
        context: request.context,
        action: &action,
        service: action
            .split_once(':')
            .map_or(&action, |(service, _)| service),
        resource: request.resource,
        read_context: Cell::new(false),
    };
    let decision = decide(request, policies, rec, &env);
    (decision, env.read_context.get())
}

fn decide<R: Recorder>(
    request: &Request<'_>,
    policies: &PolicySet<'_>,
    rec: &mut R,
    env: &Env<'_>,
) -> Decision {
    let caller = request.principal;
    let on_behalf_of_self = !matches!(caller.kind, PrincipalKind::Root | PrincipalKind::Service(_));
    let mut found = Scanned::default();

    if on_behalf_of_self {
        for (i, doc) in policies.identity.iter().enumerate() {
            let allowed = found.identity;
            found.identity |= scan(
                doc,
                PolicySource::Identity(i),
                allowed,
                env,
                &mut found.deny,
                rec,
            );
            if found.deny && !R::EXHAUSTIVE {
                return Decision::ExplicitDeny;
            }
        }
        if let Some(doc) = policies.boundary {
            found.boundary = scan(
                doc,
                PolicySource::Boundary,
                false,
                env,
                &mut found.deny,
                rec,
            );
            rec.boundary(found.boundary);
        }
        if let Some(doc) = policies.session {
            found.session = scan(doc, PolicySource::Session, false, env, &mut found.deny, rec);
        }
        if found.deny && !R::EXHAUSTIVE {
            return Decision::ExplicitDeny;
        }
    }
    if let Some(doc) = policies.resource {
        found.resource = scan_resource(doc, env, &mut found.deny, rec);
    }
    if found.deny {
        return Decision::ExplicitDeny;
    }

    let same_account = match arn_account(request.resource) {
        Some(account) if !account.is_empty() => account == caller.account,
        Some(_) => request
            .context
            .get_lowercased("aws:resourceaccount")
            .and_then(|owner| owner.first())
            .is_none_or(|owner| *owner == caller.account),
        None => true,
    };
    let allowed = match caller.kind {
        PrincipalKind::Root => same_account || found.resource.is_some(),
        PrincipalKind::Service(_) => found.resource.is_some(),
        _ => {
            let bounded = (policies.boundary.is_none() || found.boundary)
                && (policies.session.is_none() || found.session);
            let identity_side = found.identity && bounded;
            // A role's trust policy must always name the caller or its
            // account; other resource policies only across accounts.
            let trust = policies
                .resource
                .is_some_and(|d| d.kind == PolicyKind::Trust);
            if same_account && !trust {
                match found.resource {
                    Some(Grant::Direct) => true,
                    Some(Grant::Role) => bounded,
                    _ => identity_side,
                }
            } else {
                match found.resource {
                    Some(Grant::Direct) if trust && same_account => true,
                    Some(Grant::Role) if trust && same_account => bounded,
                    Some(_) => identity_side,
                    None => false,
                }
            }
        }
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Scans a policy that applies to the caller itself (identity, boundary,
/// session); returns whether an Allow statement matched. Sets `deny` when
/// a Deny statement matched. With `allowed` already true, Allow
/// statements are skipped unless the recorder wants every statement.
fn scan<R: Recorder>(
    doc: &PolicyDocument,
    source: PolicySource,
    allowed: bool,
    env: &Env<'_>,
    deny: &mut bool,
    rec: &mut R,
) -> bool {
    let mut allow = false;
    for (index, st) in doc.statements.iter().enumerate() {
        let skip_allow = (allowed || allow) && !R::EXHAUSTIVE;
        if st.effect == Effect::Allow && skip_allow {
            continue;
        }
        if !applies(st, env, rec) {
            continue;
        }
        rec.matched(source, index, st);
        match st.effect {
            Effect::Deny => {
                *deny = true;
                if !R::EXHAUSTIVE {
                    return allow;
                }
            }
            Effect::Allow => allow = true,
        }
    }
    allow
}

/// Scans a resource (or trust) policy: statements must also name the
/// caller. Returns the strongest grant of a matching Allow statement.
fn scan_resource<R: Recorder>(
    doc: &PolicyDocument,
    env: &Env<'_>,
    deny: &mut bool,
    rec: &mut R,
) -> Option<Grant> {
    let mut grant: Option<Grant> = None;
    for (index, st) in doc.statements.iter().enumerate() {
        let Some(principals) = &st.principals else {
            continue;
        };
        if !action_and_resource(st, env) {
            continue;
        }
        let Some(g) = principals.matches(env.principal) else {
            continue;
        };
        if st.effect == Effect::Allow && grant >= Some(g) && !R::EXHAUSTIVE {
            continue;
        }
        if !conditions_hold(st, env, rec) {
            continue;
        }
        rec.matched(PolicySource::Resource, index, st);
        match st.effect {
            Effect::Deny => {
                *deny = true;
                if !R::EXHAUSTIVE {
                    return grant;
                }
            }
            Effect::Allow => grant = grant.max(Some(g)),
        }
    }
    grant
}

fn applies<R: Recorder>(st: &Statement, env: &Env<'_>, rec: &mut R) -> bool {
    action_and_resource(st, env) && conditions_hold(st, env, rec)
}

fn action_and_resource(st: &Statement, env: &Env<'_>) -> bool {
    let actions = &st.actions;
    if !actions.may_match_service(env.service) {
        return false;
    }
    let action_hit = actions
        .patterns
        .iter()
        .any(|p| p.matches_lowercased(env.action));
    if action_hit == actions.negated {
        return false;
    }
    match &st.resources {
        None => true,
        Some(resources) => {
            let hit = resources
                .patterns
                .iter()
                .any(|p| p.matches(env.resource, env));
            hit != resources.negated
        }
    }
}

fn conditions_hold<R: Recorder>(st: &Statement, env: &Env<'_>, rec: &mut R) -> bool {
    if R::EXHAUSTIVE {
        for c in &st.conditions {
            if env.values(c.key()).is_none() {
                rec.missing(c.key());
            }
        }
    }
    st.conditions.iter().all(|c| c.holds(env))
}

/// `action` with ASCII letters lowercased, in `buf` when it fits.
fn lowercase<'b>(action: &str, buf: &'b mut [u8; 128]) -> Cow<'b, str> {
    if let Some(out) = buf.get_mut(..action.len()) {
        out.copy_from_slice(action.as_bytes());
        out.make_ascii_lowercase();
        let out: &'b [u8] = out;
        if let Ok(lowered) = std::str::from_utf8(out) {
            return Cow::Borrowed(lowered);
        }
    }
    Cow::Owned(action.to_ascii_lowercase())
}
