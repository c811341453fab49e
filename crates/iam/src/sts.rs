//! STS: temporary credentials. AssumeRole (a caller becomes a role for a
//! while), GetSessionToken (a user's or root's own session),
//! GetCallerIdentity, and the platform's own issuance for services that
//! act as a role ([`Iam::service_credentials`]).
//!
//! Assuming a role needs both sides, as on AWS: the role's trust policy
//! must allow the caller, and the caller's identity policies must allow
//! `sts:AssumeRole` on the role, unless the role is in the caller's
//! account and its trust policy names the caller's ARN itself. The trust
//! policy's conditions see `sts:ExternalId` and `sts:RoleSessionName`.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use updraft_policy::{
    evaluate, Context, Decision, PolicyKind, PolicySet, Principal, PrincipalKind, Request,
};

use crate::authz::to_utc;
use crate::error::IamError;
use crate::ids;
use crate::model::{Doc, Role, Session, SessionOf};
use crate::store::Change;
use crate::wire::{ApiError, Ctx, OpResult};
use crate::xml::Xml;
use crate::Iam;

/// Temporary credentials for a role or a user's session.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl From<&Session> for TemporaryCredentials {
    fn from(s: &Session) -> Self {
        TemporaryCredentials {
            access_key_id: s.key_id.clone(),
            secret_access_key: s.secret.clone(),
            session_token: s.token.clone(),
            expiration: SystemTime::from(s.expiration),
        }
    }
}

/// The shortest session STS issues.
const MIN_SESSION_SECS: u64 = 900;
/// The longest GetSessionToken session (36 hours); root's is one hour.
const MAX_USER_SESSION_SECS: u64 = 129_600;
/// A session policy's packed size limit.
const MAX_SESSION_POLICY_CHARS: usize = 2048;

/// Whether `role`'s trust policy allows `principal` to assume it.
pub(crate) fn trust_decision(role: &Role, principal: &Principal, context: &Context) -> Decision {
    evaluate(
        &Request {
            principal,
            action: "sts:AssumeRole",
            resource: &role.arn,
            context,
        },
        &PolicySet {
            resource: Some(&role.trust.parsed),
            ..PolicySet::default()
        },
    )
}

/// Finds a role by ARN: (account id, role).
fn find_role(state: &crate::state::State, role_arn: &str) -> Option<(String, Role)> {
    let (account, name) = ids::split_iam_arn(role_arn, "role")?;
    let role = state.account(account)?.role(name)?;
    (role.arn == role_arn).then(|| (account.to_string(), role.clone()))
}

impl Iam {
    /// Stores a new session (and drops expired ones) and returns it.
    pub(crate) fn issue_session(
        &self,
        account: &str,
        of: SessionOf,
        policy: Option<Doc>,
        duration_secs: u64,
        source_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Session, IamError> {
        let session = Session {
            key_id: ids::session_key_id(),
            secret: ids::secret(),
            token: ids::session_token(),
            expiration: now + chrono::Duration::seconds(duration_secs as i64),
            account: account.to_string(),
            of,
            policy,
            source_key: source_key.to_string(),
        };
        self.commit(|state| {
            let mut changes: Vec<Change> = state
                .sessions
                .values()
                .filter(|s| s.expiration <= now)
                .map(|s| Change::DeleteSession(s.key_id.clone()))
                .collect();
            changes.push(Change::Session(session.clone()));
            Ok::<_, IamError>((changes, ()))
        })?;
        Ok(session)
    }

    /// Checks that `role_arn` exists and its trust policy lets `service`
    /// (`lambda.amazonaws.com`, ...) assume it.
    pub fn check_trusts(&self, role_arn: &str, service: &str) -> Result<(), IamError> {
        self.trusted_role(role_arn, service).map(|_| ())
    }

    fn trusted_role(&self, role_arn: &str, service: &str) -> Result<(String, Role), IamError> {
        let state = self.read();
        let (account, role) = find_role(&state, role_arn)
            .ok_or_else(|| IamError::NoSuchRole(role_arn.to_string()))?;
        let principal = Principal {
            account: account.clone(),
            kind: PrincipalKind::Service(service.to_string()),
        };
        if trust_decision(&role, &principal, &Context::new()) != Decision::Allow {
            return Err(IamError::NotTrusted {
                role_arn: role_arn.to_string(),
                service: service.to_string(),
            });
        }
        Ok((account, role))
    }

    /// Creates role `role_name` in `account_id`, trusted by `services`
    /// and without permissions, unless a role of that name exists (which
    /// is left as it is). Returns the role's ARN.
    pub fn ensure_service_role(
        &self,
        account_id: &str,
        role_name: &str,
        services: &[&str],
    ) -> Result<String, IamError> {
        self.ensure_account(account_id)?;
        ids::check_name(role_name, "roleName", 64).map_err(|e| IamError::Refused(e.message))?;
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": services},
                "Action": "sts:AssumeRole",
            }],
        })
        .to_string();
        let trust = Doc::parse(&trust, PolicyKind::Trust)
            .map_err(|e| IamError::Refused(format!("trust policy for {services:?}: {e}")))?;
        self.commit(|state| {
            let account = state
                .account(account_id)
                .ok_or_else(|| IamError::NoSuchAccount(account_id.to_string()))?;
            if let Some(role) = account.role(role_name) {
                return Ok((Vec::new(), role.arn.clone()));
            }
            let arn = ids::role_arn(account_id, "/", role_name);
            let role = Role {
                path: "/".into(),
                name: role_name.to_string(),
                id: ids::unique_id("AROA"),
                arn: arn.clone(),
                created: Utc::now(),
                trust,
                max_session: 3600,
                description: None,
                tags: Vec::new(),
                boundary: None,
                inline: Default::default(),
                attached: Vec::new(),
            };
            Ok((vec![Change::Role(account_id.to_string(), role)], arn))
        })
    }

    /// Issues credentials for `role_arn` to the platform acting as
    /// `service` (a function's execution role, a schedule's or a rule's
    /// role). The role's trust policy must allow the service. `duration`
    /// is held between 15 minutes and the role's maximum session duration.
    ///
    /// A live session issued here for the same role and session name with
    /// at least two thirds of that duration left is returned again instead
    /// of a new one, so environments starting together share one write.
    pub fn service_credentials(
        &self,
        role_arn: &str,
        service: &str,
        session_name: &str,
        duration: Duration,
    ) -> Result<TemporaryCredentials, IamError> {
        let (account, role) = self.trusted_role(role_arn, service)?;
        // The platform names its sessions after what they serve (a
        // function's name may be one character): AWS's characters and
        // length limit, without the two-character minimum.
        let len = session_name.chars().count();
        if !(1..=64).contains(&len) || !session_name.chars().all(ids::is_name_char) {
            return Err(IamError::Refused(format!(
                "{session_name:?} is not a role session name (1 to 64 of A-Z a-z 0-9 + = , . @ _ -)"
            )));
        }
        let secs = duration
            .as_secs()
            .clamp(MIN_SESSION_SECS, u64::from(role.max_session));
        let now = Utc::now();
        let reusable = self.read().sessions.values().find_map(|s| {
            let same = s.source_key.is_empty()
                && s.policy.is_none()
                && matches!(&s.of, SessionOf::Role { role_id, session_name: n, .. }
                    if *role_id == role.id && n == session_name);
            let left = (s.expiration - now).num_seconds();
            (same && left >= 0 && left as u64 >= secs * 2 / 3)
                .then(|| TemporaryCredentials::from(s))
        });
        if let Some(creds) = reusable {
            return Ok(creds);
        }
        let of = SessionOf::Role {
            role_name: role.name.clone(),
            role_arn: role.arn.clone(),
            role_id: role.id.clone(),
            session_name: session_name.to_string(),
        };
        let session = self.issue_session(&account, of, None, secs, "", now)?;
        Ok(TemporaryCredentials::from(&session))
    }
}

impl Iam {
    /// Whether `role_arn`, assumed by `service` in a session named
    /// `session_name`, may perform `action` on `resource`: the question a
    /// service that acts with a configured role asks before acting. `Err`
    /// says why not, as AWS words it.
    pub fn role_may(
        &self,
        role_arn: &str,
        service: &str,
        session_name: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), String> {
        let creds = self
            .service_credentials(role_arn, service, session_name, Duration::from_secs(3600))
            .map_err(|e| e.to_string())?;
        let grant = self
            .lookup_key(
                &creds.access_key_id,
                Some(&creds.session_token),
                SystemTime::now(),
            )
            .map_err(|e| e.to_string())?;
        let context = Context::new();
        match self.authorize(&grant.caller, action, resource, &context, None) {
            Decision::Allow => Ok(()),
            denied => Err(format!(
                "{} is not authorized to perform: {action} on resource: {resource} {}",
                grant.caller.arn(),
                self.denial_source(&grant.caller, action, resource, &context, denied)
                    .clause(action, denied)
            )),
        }
    }
}

pub(crate) fn dispatch(ctx: &Ctx<'_>, action: &str) -> Option<OpResult> {
    Some(match action {
        "GetCallerIdentity" => get_caller_identity(ctx),
        "AssumeRole" => assume_role(ctx),
        "GetSessionToken" => get_session_token(ctx),
        _ => return None,
    })
}

fn get_caller_identity(ctx: &Ctx<'_>) -> OpResult {
    let mut x = Xml::new();
    x.text("Arn", &ctx.caller.arn())
        .text("UserId", &ctx.caller.user_id)
        .text("Account", ctx.account());
    Ok(Some(x.finish()))
}

fn duration_param(ctx: &Ctx<'_>, default: u64, max: u64) -> Result<u64, ApiError> {
    let Some(v) = ctx.params.get("DurationSeconds") else {
        return Ok(default);
    };
    let n: u64 = v
        .parse()
        .map_err(|_| ids::validation(Some(v), "durationSeconds", "Member must be a number"))?;
    if n < MIN_SESSION_SECS {
        return Err(ids::validation(
            Some(v),
            "durationSeconds",
            "Member must have value greater than or equal to 900",
        ));
    }
    if n > max {
        return Err(ids::validation(
            Some(v),
            "durationSeconds",
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(n)
}

fn credentials_xml(x: &mut Xml, s: &Session) {
    x.open("Credentials")
        .text("AccessKeyId", &s.key_id)
        .text("SecretAccessKey", &s.secret)
        .text("SessionToken", &s.token)
        .date("Expiration", &s.expiration)
        .close("Credentials");
}

fn assume_role(ctx: &Ctx<'_>) -> OpResult {
    let role_arn = ctx.params.required("RoleArn", "roleArn")?;
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        let bound = if role_arn.len() < 20 {
            "greater than or equal to 20"
        } else {
            "less than or equal to 2048"
        };
        return Err(ids::validation(
            Some(role_arn),
            "roleArn",
            &format!("Member must have length {bound}"),
        ));
    }
    let session_name = ctx.params.required("RoleSessionName", "roleSessionName")?;
    ids::check_session_name(session_name)?;
    let denied = || {
        ApiError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                ctx.caller.arn()
            ),
        )
    };
    let (account, role) = {
        let state = ctx.iam.read();
        find_role(&state, role_arn).ok_or_else(denied)?
    };
    // The trust policy is the resource policy of sts:AssumeRole: the
    // evaluation requires it to grant the caller (or its account, and
    // then the caller's identity policies must allow too).
    let mut context = ctx.context.clone();
    context.set("sts:RoleSessionName", session_name);
    if let Some(external) = ctx.params.get("ExternalId") {
        context.set("sts:ExternalId", external);
    }
    let decision = ctx.iam.authorize(
        ctx.caller,
        "sts:AssumeRole",
        role_arn,
        &context,
        Some(&role.trust.parsed),
    );
    if decision != Decision::Allow {
        return Err(denied());
    }
    // Root is allowed everything in its account; the trust policy must
    // still name the account (or root) for it to assume the role.
    if matches!(ctx.caller.principal.kind, PrincipalKind::Root)
        && !trust_names_account(&role, ctx.account())
    {
        return Err(denied());
    }
    let chained = matches!(ctx.caller.principal.kind, PrincipalKind::AssumedRole { .. });
    let secs = duration_param(ctx, 3600, 43_200)?;
    if chained && secs > 3600 {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if secs > u64::from(role.max_session) {
        return Err(ApiError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let (policy, packed) = session_policy(ctx)?;
    let of = SessionOf::Role {
        role_name: role.name.clone(),
        role_arn: role.arn.clone(),
        role_id: role.id.clone(),
        session_name: session_name.to_string(),
    };
    let now = to_utc(ctx.meta.now);
    let session =
        ctx.iam
            .issue_session(&account, of, policy, secs, &ctx.caller.access_key_id, now)?;
    let mut x = Xml::new();
    credentials_xml(&mut x, &session);
    x.open("AssumedRoleUser")
        .text("AssumedRoleId", &format!("{}:{session_name}", role.id))
        .text(
            "Arn",
            &format!(
                "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
                role.name
            ),
        )
        .close("AssumedRoleUser");
    if let Some(p) = packed {
        x.num("PackedPolicySize", p);
    }
    Ok(Some(x.finish()))
}

/// Whether the role's trust policy grants `account` as a whole (its root
/// ARN, the bare account id, or `*`).
fn trust_names_account(role: &Role, account: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&role.trust.text) else {
        return false;
    };
    let root = format!("arn:aws:iam::{account}:root");
    let mut found = false;
    visit_principals(&doc, &mut |s| {
        found |= s == root || s == account || s == "*"
    });
    found
}

fn visit_principals(doc: &serde_json::Value, f: &mut impl FnMut(&str)) {
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => Vec::new(),
    };
    for st in statements {
        if st.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
            continue;
        }
        let principal = st.get("Principal");
        if let Some(serde_json::Value::String(s)) = principal {
            f(s);
        }
        if let Some(aws) = principal.and_then(|p| p.get("AWS")) {
            match aws {
                serde_json::Value::String(s) => f(s),
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(|v| v.as_str()).for_each(&mut *f)
                }
                _ => {}
            }
        }
    }
}

/// The `Policy` parameter: the parsed session policy and its packed size
/// (percent of the limit).
fn session_policy(ctx: &Ctx<'_>) -> Result<(Option<Doc>, Option<u64>), ApiError> {
    let Some(text) = ctx.params.get("Policy") else {
        return Ok((None, None));
    };
    let packed = (text.len() * 100).div_ceil(MAX_SESSION_POLICY_CHARS) as u64;
    if text.len() > MAX_SESSION_POLICY_CHARS {
        return Err(ApiError::new(
            400,
            "PackedPolicyTooLarge",
            format!("Packed size of the policy exceeds the limit: {packed}% of allowed size."),
        ));
    }
    let doc = Doc::parse(text, PolicyKind::Identity).map_err(|e| ApiError::malformed(e.0))?;
    Ok((Some(doc), Some(packed)))
}

fn get_session_token(ctx: &Ctx<'_>) -> OpResult {
    let of = match &ctx.caller.principal.kind {
        PrincipalKind::Root => SessionOf::Root,
        PrincipalKind::User { name, .. } => SessionOf::User {
            user_name: name.clone(),
            user_id: ctx.caller.user_id.clone(),
        },
        _ => {
            return Err(ApiError::new(
                403,
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
            ))
        }
    };
    if !ctx.caller.access_key_id.is_empty()
        && ctx.caller.access_key_id.starts_with("ASIA")
        && ctx
            .iam
            .read()
            .sessions
            .contains_key(&ctx.caller.access_key_id)
    {
        return Err(ApiError::new(
            403,
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    let (default, max) = match of {
        SessionOf::Root => (3600, 3600),
        _ => (43_200, MAX_USER_SESSION_SECS),
    };
    let secs = duration_param(ctx, default, max)?;
    let now = to_utc(ctx.meta.now);
    let session = ctx.iam.issue_session(
        ctx.account(),
        of,
        None,
        secs,
        &ctx.caller.access_key_id,
        now,
    )?;
    let mut x = Xml::new();
    credentials_xml(&mut x, &session);
    Ok(Some(x.finish()))
}
