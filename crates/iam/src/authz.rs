//! Authentication (who holds an access key) and authorization (what a
//! caller may do), the two calls the gateway makes on every request.
//!
//! [`Iam::authorize`] gathers the caller's identity policies (a user's
//! inline, attached and groups' policies; a role session's role's), its
//! permission boundary and session policy, and hands them to
//! [`updraft_policy::evaluate`]. Two caches keep it cheap, both emptied
//! whenever the directory's generation changes:
//! - the gathered policies per principal;
//! - the decision per (access key, principal, action, resource), kept only
//!   when no resource policy was passed and the decision read nothing of
//!   the request's context but the principal's own keys (no condition or
//!   policy variable that took part read `aws:SourceIp`, the time, ...):
//!   conditions of statements whose action or resource does not match do
//!   not stop a decision from being kept.
//!
//! The account's root user is allowed everything in its own account
//! without taking a lock, unless a resource policy is passed (which may
//! deny it).

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use thiserror::Error;
use updraft_policy::{
    evaluate, evaluate_noting_context, Context, Decision, PolicyDocument, PolicyKind, PolicySet,
    Principal, PrincipalKind, Request,
};

use crate::cache::DecisionKey;
use crate::model::SessionOf;
use crate::state::{Account, State};
use crate::store::key;
use crate::Iam;

/// Who signed a request: the principal and the key it used.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The access key id the request was signed with (empty for callers
    /// the platform made itself).
    pub access_key_id: String,
    /// The session policy of a session that was given one.
    pub session_policy: Option<Arc<PolicyDocument>>,
    /// The id STS's GetCallerIdentity shows: the account id for root,
    /// `AIDA...` for a user, `AROA...:session` for a role session.
    pub user_id: String,
}

impl Caller {
    /// The root user of `account`, as the platform itself acts.
    pub fn root(account: &str) -> Caller {
        Caller {
            principal: Principal {
                account: account.to_string(),
                kind: PrincipalKind::Root,
            },
            access_key_id: String::new(),
            session_policy: None,
            user_id: account.to_string(),
        }
    }

    /// An AWS service principal (`events.amazonaws.com`) acting in `account`.
    pub fn service(service: &str, account: &str) -> Caller {
        Caller {
            principal: Principal {
                account: account.to_string(),
                kind: PrincipalKind::Service(service.to_string()),
            },
            access_key_id: String::new(),
            session_policy: None,
            user_id: service.to_string(),
        }
    }

    pub fn account(&self) -> &str {
        &self.principal.account
    }

    /// The caller's ARN as AWS shows it.
    pub fn arn(&self) -> String {
        self.principal.arn()
    }
}

/// What [`Iam::lookup_key`] returns for a known, usable key.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    /// The secret to verify the request's signature with.
    pub secret: String,
    pub caller: Caller,
}

/// Why a key cannot be used. [`KeyError::code`] and [`KeyError::message`]
/// are AWS's words (HTTP 403).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("unknown access key")]
    UnknownKey,
    #[error("inactive access key")]
    InactiveKey,
    #[error("temporary key used without its session token")]
    MissingToken,
    #[error("session token does not match the temporary key")]
    WrongToken,
    #[error("session expired")]
    Expired,
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Expired => "ExpiredToken",
            _ => "InvalidClientTokenId",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            KeyError::Expired => "The security token included in the request is expired",
            _ => "The security token included in the request is invalid.",
        }
    }

    pub fn status(&self) -> u16 {
        403
    }
}

/// The policies that apply to one principal.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    pub identity: Vec<Arc<PolicyDocument>>,
    pub boundary: Option<Arc<PolicyDocument>>,
}

use crate::aws_managed::ALLOW_ALL;

/// `Allow * on *`, what root holds.
pub(crate) fn allow_all() -> Option<Arc<PolicyDocument>> {
    static DOC: OnceLock<Option<Arc<PolicyDocument>>> = OnceLock::new();
    DOC.get_or_init(|| {
        PolicyDocument::parse(ALLOW_ALL, PolicyKind::Identity)
            .ok()
            .map(Arc::new)
    })
    .clone()
}

/// Looks up a managed policy's default document by ARN (this account's or
/// a known AWS-managed one).
pub(crate) fn managed_doc(account: &Account, arn: &str) -> Option<Arc<PolicyDocument>> {
    account
        .managed(arn)
        .and_then(|p| p.default_doc())
        .map(|d| d.parsed.clone())
}

/// The policies of a user (its own and its groups'), or `None` if it does
/// not exist.
pub(crate) fn gather_user(account: &Account, name: &str) -> Option<Gathered> {
    let user = account.user(name)?;
    let mut g = Gathered::default();
    g.identity
        .extend(user.inline.values().map(|d| d.parsed.clone()));
    g.identity.extend(
        user.attached
            .iter()
            .filter_map(|arn| managed_doc(account, arn)),
    );
    for group in user.groups.iter().filter_map(|n| account.group(n)) {
        g.identity
            .extend(group.inline.values().map(|d| d.parsed.clone()));
        g.identity.extend(
            group
                .attached
                .iter()
                .filter_map(|arn| managed_doc(account, arn)),
        );
    }
    g.boundary = user
        .boundary
        .as_deref()
        .and_then(|arn| managed_doc(account, arn));
    Some(g)
}

/// The policies of a role, or `None` if it does not exist.
pub(crate) fn gather_role(account: &Account, name: &str) -> Option<Gathered> {
    let role = account.role(name)?;
    let mut g = Gathered::default();
    g.identity
        .extend(role.inline.values().map(|d| d.parsed.clone()));
    g.identity.extend(
        role.attached
            .iter()
            .filter_map(|arn| managed_doc(account, arn)),
    );
    g.boundary = role
        .boundary
        .as_deref()
        .and_then(|arn| managed_doc(account, arn));
    Some(g)
}

impl Gathered {
    /// Evaluates one request against these policies plus the session's
    /// and the resource's.
    /// Also says whether the decision read the request's context (see
    /// [`updraft_policy::evaluate_noting_context`]).
    pub fn evaluate(
        &self,
        request: &Request<'_>,
        session: Option<&PolicyDocument>,
        resource: Option<&PolicyDocument>,
    ) -> (Decision, bool) {
        let identity: Vec<&PolicyDocument> = self.identity.iter().map(|d| d.as_ref()).collect();
        evaluate_noting_context(
            request,
            &PolicySet {
                identity: &identity,
                boundary: self.boundary.as_deref(),
                session,
                resource,
            },
        )
    }
}

pub(crate) fn to_utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The caller a session acts as, if its principal still exists.
pub(crate) fn session_caller(state: &State, s: &crate::model::Session) -> Option<Caller> {
    let account = state.account(&s.account)?;
    let (kind, user_id) = match &s.of {
        SessionOf::Role {
            role_name,
            role_arn,
            role_id,
            session_name,
        } => {
            let role = account.role(role_name)?;
            if &role.id != role_id {
                return None;
            }
            (
                PrincipalKind::AssumedRole {
                    role_name: role.name.clone(),
                    role_arn: role_arn.clone(),
                    session_name: session_name.clone(),
                },
                format!("{role_id}:{session_name}"),
            )
        }
        SessionOf::User { user_name, user_id } => {
            let user = account.user(user_name)?;
            if &user.id != user_id {
                return None;
            }
            (
                PrincipalKind::User {
                    name: user.name.clone(),
                    arn: user.arn.clone(),
                },
                user.id.clone(),
            )
        }
        SessionOf::Root => (PrincipalKind::Root, s.account.clone()),
    };
    Some(Caller {
        principal: Principal {
            account: s.account.clone(),
            kind,
        },
        access_key_id: s.key_id.clone(),
        session_policy: s.policy.as_ref().map(|d| d.parsed.clone()),
        user_id,
    })
}

/// Which kind of policy refused a request, for AccessDenied messages
/// ("because no permissions boundary allows the ... action").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialSource {
    /// An identity-based policy denied, or none allowed.
    Identity,
    /// The identity policies allow, the permission boundary does not.
    Boundary,
    /// The identity policies and boundary allow, the session policy does not.
    Session,
}

impl DenialSource {
    /// The clause AWS ends its AccessDenied message with for `decision`.
    pub fn clause(self, action: &str, decision: Decision) -> String {
        let (article, noun) = match self {
            DenialSource::Identity => ("an", "identity-based policy"),
            DenialSource::Boundary => ("a", "permissions boundary"),
            DenialSource::Session => ("a", "session policy"),
        };
        if decision == Decision::ExplicitDeny {
            format!("with an explicit deny in {article} {noun}")
        } else {
            format!("because no {noun} allows the {action} action")
        }
    }
}

impl Iam {
    /// Finds the secret and the caller for an access key. A temporary key
    /// (from STS) needs its session token and must not have expired; a
    /// long-term key must be active and its user must still exist.
    pub fn lookup_key(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: SystemTime,
    ) -> Result<KeyGrant, KeyError> {
        let state = self.read();
        if let Some(s) = state.sessions.get(access_key_id) {
            let token = session_token.ok_or(KeyError::MissingToken)?;
            if !ct_eq(token, &s.token) {
                return Err(KeyError::WrongToken);
            }
            if to_utc(now) >= s.expiration {
                return Err(KeyError::Expired);
            }
            let caller = session_caller(&state, s).ok_or(KeyError::UnknownKey)?;
            return Ok(KeyGrant {
                secret: s.secret.clone(),
                caller,
            });
        }
        let owner = state.keys.get(access_key_id).ok_or(KeyError::UnknownKey)?;
        let account = state.account(&owner.account).ok_or(KeyError::UnknownKey)?;
        let (key, caller) = match &owner.user {
            None => {
                let k = account
                    .rec
                    .root_keys
                    .iter()
                    .find(|k| k.id == access_key_id)
                    .ok_or(KeyError::UnknownKey)?;
                let mut caller = Caller::root(&account.rec.id);
                caller.access_key_id = access_key_id.to_string();
                (k, caller)
            }
            Some(name) => {
                let user = account.users.get(name).ok_or(KeyError::UnknownKey)?;
                let k = user
                    .keys
                    .iter()
                    .find(|k| k.id == access_key_id)
                    .ok_or(KeyError::UnknownKey)?;
                let caller = Caller {
                    principal: Principal {
                        account: account.rec.id.clone(),
                        kind: PrincipalKind::User {
                            name: user.name.clone(),
                            arn: user.arn.clone(),
                        },
                    },
                    access_key_id: access_key_id.to_string(),
                    session_policy: None,
                    user_id: user.id.clone(),
                };
                (k, caller)
            }
        };
        if key.status != crate::model::KeyStatus::Active {
            return Err(KeyError::InactiveKey);
        }
        Ok(KeyGrant {
            secret: key.secret.clone(),
            caller,
        })
    }

    /// The decision [`Iam::authorize`] keeps for `caller`, `action` and
    /// `resource` without a resource policy, if it has one under the
    /// current generation: lets a caller skip building the request's
    /// context.
    pub fn cached_decision(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Option<Decision> {
        self.cache.decision(
            self.generation(),
            &DecisionKey::new(caller, action, resource),
        )
    }

    /// Decides whether `caller` may perform `action` on `resource`.
    pub fn authorize(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        context: &Context,
        resource_policy: Option<&PolicyDocument>,
    ) -> Decision {
        let resource_account = crate::ids::arn_account(resource);
        // AWS-managed resources (`arn:aws:iam::aws:policy/...`) are read
        // with identity policies alone, as the caller's own.
        let aws_owned = resource_account == "aws";
        // An ARN without an account (an S3 bucket's) is owned by the
        // account the context names as `aws:ResourceAccount`, if any.
        let owner = match resource_account {
            "" => context
                .get("aws:ResourceAccount")
                .and_then(|owner| owner.first())
                .map_or(caller.account(), String::as_str),
            account => account,
        };
        let own_resource = owner == caller.account() || aws_owned;
        if matches!(caller.principal.kind, PrincipalKind::Root)
            && resource_policy.is_none()
            && own_resource
        {
            return Decision::Allow;
        }
        let generation = self.generation();
        let cache_key = resource_policy
            .is_none()
            .then(|| DecisionKey::new(caller, action, resource));
        if let Some(k) = &cache_key {
            if let Some(d) = self.cache.decision(generation, k) {
                return d;
            }
        }
        let Some(gathered) = self.gathered(caller, generation) else {
            return Decision::ImplicitDeny;
        };
        let as_aws;
        let principal = if aws_owned && resource_policy.is_none() {
            as_aws = Principal {
                account: "aws".to_string(),
                kind: caller.principal.kind.clone(),
            };
            &as_aws
        } else {
            &caller.principal
        };
        let request = Request {
            principal,
            action,
            resource,
            context,
        };
        let (decision, read_context) =
            gathered.evaluate(&request, caller.session_policy.as_deref(), resource_policy);
        if let (Some(k), false) = (cache_key, read_context) {
            self.cache.insert_decision(generation, &k, decision);
        }
        decision
    }

    /// Which kind of policy made [`Iam::authorize`] refuse a request
    /// (without a resource policy): the identity policies when they deny
    /// or do not allow it alone, else the permission boundary when adding
    /// it refuses, else the session policy.
    pub fn denial_source(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        context: &Context,
        decision: Decision,
    ) -> DenialSource {
        let Some(g) = self.gathered(caller, self.generation()) else {
            return DenialSource::Identity;
        };
        let request = Request {
            principal: &caller.principal,
            action,
            resource,
            context,
        };
        let identity: Vec<&PolicyDocument> = g.identity.iter().map(|d| d.as_ref()).collect();
        let with = |boundary: Option<&PolicyDocument>| {
            evaluate(
                &request,
                &PolicySet {
                    identity: &identity,
                    boundary,
                    ..PolicySet::default()
                },
            )
        };
        let refused = |d: Decision| match decision {
            Decision::ExplicitDeny => d == Decision::ExplicitDeny,
            _ => d != Decision::Allow,
        };
        if refused(with(None)) {
            DenialSource::Identity
        } else if g.boundary.is_some() && refused(with(g.boundary.as_deref())) {
            DenialSource::Boundary
        } else if caller.session_policy.is_some() {
            DenialSource::Session
        } else {
            DenialSource::Identity
        }
    }

    /// The policies that apply to `caller`'s principal (cached), or `None`
    /// when its user or role no longer exists.
    pub(crate) fn gathered(&self, caller: &Caller, generation: u64) -> Option<Arc<Gathered>> {
        let account_id = caller.account();
        let pkey = match &caller.principal.kind {
            PrincipalKind::Root => {
                return Some(Arc::new(Gathered {
                    identity: allow_all().into_iter().collect(),
                    boundary: None,
                }))
            }
            PrincipalKind::Service(_) => return Some(Arc::new(Gathered::default())),
            PrincipalKind::User { name, .. } => format!("u\u{0}{account_id}\u{0}{}", key(name)),
            PrincipalKind::AssumedRole { role_name, .. } => {
                format!("r\u{0}{account_id}\u{0}{}", key(role_name))
            }
        };
        if let Some(g) = self.cache.principal(generation, &pkey) {
            return Some(g);
        }
        let gathered = {
            let state = self.read();
            let account = state.account(account_id)?;
            match &caller.principal.kind {
                PrincipalKind::User { name, .. } => gather_user(account, name)?,
                PrincipalKind::AssumedRole { role_name, .. } => gather_role(account, role_name)?,
                _ => return None,
            }
        };
        let gathered = Arc::new(gathered);
        self.cache
            .insert_principal(generation, pkey, gathered.clone());
        Some(gathered)
    }
}
