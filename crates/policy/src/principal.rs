//! The `Principal` / `NotPrincipal` element of resource and trust
//! policies, and how it matches a caller.
//!
//! | policy says | matches | grants |
//! |---|---|---|
//! | `"*"`, `{"AWS": "*"}` | everyone | directly |
//! | `{"AWS": "ACCT"}`, `{"AWS": "arn:aws:iam::ACCT:root"}` | every principal of ACCT | to the account only: its own identity policies must allow too |
//! | `{"AWS": "arn:aws:iam::ACCT:user/NAME"}` | that user | directly |
//! | `{"AWS": "arn:aws:iam::ACCT:role/NAME"}` | every session of that role | directly, within the session's boundary and session policy |
//! | `{"AWS": "arn:aws:sts::ACCT:assumed-role/ROLE/SESSION"}` | that session | directly |
//! | `{"Service": "lambda.amazonaws.com"}` | that service | directly |
//! | `{"Federated": ...}`, `{"CanonicalUser": ...}` | nobody here | |
//!
//! `NotPrincipal` matches whoever its entries do not match, as a direct
//! grant.

use crate::{Principal, PrincipalKind};

/// How a principal entry matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The account is named (root ARN or account id): the account's own
    /// identity policies decide for its principals.
    Account,
    /// The role is named and the caller is one of its sessions: direct,
    /// but the session's permission boundary and session policy still
    /// limit it.
    Role,
    /// The caller itself (or everyone) is named.
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Everyone,
    Account(Box<str>),
    /// A user, role or role-session ARN (or any other ARN), compared
    /// exactly.
    Arn(Box<str>),
    Service(Box<str>),
    /// Federated and canonical-user principals: kept, never matched.
    Other,
}

/// A compiled `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principals {
    negated: bool,
    entries: Vec<Entry>,
}

impl Principals {
    pub(crate) fn new(negated: bool) -> Principals {
        Principals {
            negated,
            entries: Vec::new(),
        }
    }

    /// Adds one value under `kind` (`AWS`, `Service`, `Federated`,
    /// `CanonicalUser`, or `*` for the bare `"Principal": "*"`).
    pub(crate) fn push(&mut self, kind: &str, value: &str) {
        let entry = match kind {
            "*" => Entry::Everyone,
            "AWS" => aws_entry(value),
            "Service" => Entry::Service(value.into()),
            _ => Entry::Other,
        };
        self.entries.push(entry);
    }

    /// The user, role and session ARNs named under `AWS` (not `*`, not
    /// accounts).
    pub(crate) fn arns(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Arn(a) => Some(a.as_ref()),
            _ => None,
        })
    }

    /// How this element matches `caller`, if it does.
    pub(crate) fn matches(&self, caller: &Principal) -> Option<Grant> {
        let best = self
            .entries
            .iter()
            .filter_map(|e| entry_matches(e, caller))
            .max();
        if self.negated {
            match best {
                Some(_) => None,
                None => Some(Grant::Direct),
            }
        } else {
            best
        }
    }
}

/// Whether `value` is an acceptable `AWS` principal: `*`, an account id or
/// an ARN.
pub(crate) fn valid_aws_value(value: &str) -> bool {
    value == "*" || is_account_id(value) || arn_account(value).is_some()
}

fn is_account_id(v: &str) -> bool {
    v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit())
}

/// The account field of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:...`).
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let _service = parts.next()?;
    let _region = parts.next()?;
    let account = parts.next()?;
    parts.next()?;
    Some(account)
}

fn aws_entry(value: &str) -> Entry {
    if value == "*" {
        return Entry::Everyone;
    }
    if is_account_id(value) {
        return Entry::Account(value.into());
    }
    if let Some(rest) = value.strip_prefix("arn:") {
        // arn:PARTITION:iam::ACCT:root
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let [_, "iam", "", account, "root"] = parts.as_slice() {
            return Entry::Account((*account).into());
        }
    }
    Entry::Arn(value.into())
}

fn entry_matches(entry: &Entry, caller: &Principal) -> Option<Grant> {
    match (entry, &caller.kind) {
        (Entry::Everyone, _) => Some(Grant::Direct),
        (Entry::Service(name), PrincipalKind::Service(s)) => {
            (name.as_ref() == s).then_some(Grant::Direct)
        }
        (Entry::Service(_), _) | (_, PrincipalKind::Service(_)) => None,
        (Entry::Account(account), _) => {
            (account.as_ref() == caller.account).then_some(Grant::Account)
        }
        // A root ARN is an `Account` entry; no other ARN names a root user.
        (Entry::Arn(_), PrincipalKind::Root) => None,
        (Entry::Arn(arn), PrincipalKind::User { arn: user, .. }) => {
            (arn.as_ref() == user).then_some(Grant::Direct)
        }
        (
            Entry::Arn(arn),
            PrincipalKind::AssumedRole {
                role_arn,
                role_name,
                session_name,
            },
        ) => {
            if arn.as_ref() == role_arn {
                Some(Grant::Role)
            } else if is_session_arn(arn, &caller.account, role_name, session_name) {
                Some(Grant::Direct)
            } else {
                None
            }
        }
        (Entry::Other, _) => None,
    }
}

/// `arn:PARTITION:sts::ACCT:assumed-role/ROLE/SESSION`.
fn is_session_arn(arn: &str, account: &str, role: &str, session: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let (Some(_), Some("sts"), Some(""), Some(acct), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Some(path) = resource.strip_prefix("assumed-role/") else {
        return false;
    };
    acct == account
        && path
            .split_once('/')
            .is_some_and(|(r, s)| r == role && s == session)
}
