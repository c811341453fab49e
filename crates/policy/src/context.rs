//! What conditions and policy variables read: the keys a caller sets,
//! and the global keys derived, only when a policy reads one, from the
//! request's facts and from the principal.
//!
//! ```text
//! key ─> set with Context::set?          ─> those values
//!     ─> a request fact's key?           ─> derived from RequestFacts
//!        (aws:SourceIp, aws:SecureTransport, aws:RequestedRegion,
//!         aws:CurrentTime, aws:EpochTime, aws:UserAgent, aws:Referer,
//!         aws:userid, aws:ViaAWSService)
//!     ─> a principal key?                ─> derived from the Principal
//!        (aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalType,
//!         aws:username, aws:PrincipalServiceName, aws:PrincipalIsAWSService)
//!     ─> absent (`Null` sees it so)
//! ```
//!
//! A request whose policies read none of the global keys builds none of
//! them: the facts are a handful of plain values taken from the request.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Principal, PrincipalKind};

/// What the platform knows of a request, from which evaluation derives the
/// global condition keys a policy reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The connection's peer (`aws:SourceIp`; an IPv4 address mapped into
    /// IPv6 reads as the IPv4 address).
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The region the request was made to (`aws:RequestedRegion`).
    pub requested_region: String,
    /// When the request arrived (`aws:CurrentTime`, `aws:EpochTime`).
    pub time: Option<SystemTime>,
    /// The `User-Agent` header (`aws:UserAgent`).
    pub user_agent: Option<String>,
    /// The `Referer` header (`aws:Referer`).
    pub referer: Option<String>,
    /// The caller's id as STS shows it (`aws:userid`): the account for
    /// root, `AIDA...` for a user, `AROA...:SESSION` for a role session.
    pub user_id: Option<String>,
}

/// Condition context: keys (case-insensitive; stored lowercased) the
/// caller sets, over the keys derived from the request's facts and the
/// principal (see the module header). Conditions and policy variables
/// (`${aws:username}`) read the same values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
    facts: Option<RequestFacts>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// A context whose global keys are derived from `facts`.
    pub fn for_request(facts: RequestFacts) -> Self {
        Context {
            values: HashMap::new(),
            facts: Some(facts),
        }
    }

    /// The request's facts, if the context has them.
    pub fn facts(&self) -> Option<&RequestFacts> {
        self.facts.as_ref()
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

    /// The values of `key`, if set (derived keys are not set: see
    /// [`Context::lookup`]).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// The values of `key`, which is already lowercase (no allocation).
    pub(crate) fn get_lowercased(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// Every key set (lowercased) and its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The values evaluation sees for `key` with `principal` calling: the
    /// set values, else the value derived from the facts or the principal.
    pub fn lookup(&self, key: &str, principal: &Principal) -> Option<Vec<String>> {
        let key = key.to_ascii_lowercase();
        if let Some(v) = self.get_lowercased(&key) {
            return Some(v.to_vec());
        }
        self.derived(&key, principal).map(|v| vec![v.into_owned()])
    }

    /// The value of a derived key (`key` lowercase), if it is one and the
    /// context or the principal has what it derives from.
    pub(crate) fn derived<'a>(&'a self, key: &str, p: &'a Principal) -> Option<Cow<'a, str>> {
        if let Some(f) = &self.facts {
            let from_facts = match key {
                "aws:sourceip" => f
                    .source_ip
                    .map(|ip| Cow::Owned(ip.to_canonical().to_string())),
                "aws:securetransport" => Some(Cow::Borrowed(bool_str(f.secure_transport))),
                "aws:requestedregion" => Some(Cow::Borrowed(f.requested_region.as_str())),
                "aws:currenttime" => f.time.map(|t| Cow::Owned(iso8601(t))),
                "aws:epochtime" => f.time.map(|t| Cow::Owned(epoch_seconds(t).to_string())),
                "aws:useragent" => f.user_agent.as_deref().map(Cow::Borrowed),
                "aws:referer" => f.referer.as_deref().map(Cow::Borrowed),
                "aws:userid" => f.user_id.as_deref().map(Cow::Borrowed),
                // Requests reach the platform from their callers, not
                // through an AWS service on a caller's behalf.
                "aws:viaawsservice" => Some(Cow::Borrowed("false")),
                _ => None,
            };
            if from_facts.is_some() {
                return from_facts;
            }
        }
        let derived: Cow<'a, str> = match (key, &p.kind) {
            ("aws:principalisawsservice", kind) => {
                Cow::Borrowed(bool_str(matches!(kind, PrincipalKind::Service(_))))
            }
            (_, PrincipalKind::Service(name)) => match key {
                "aws:principalservicename" => Cow::Borrowed(name.as_str()),
                _ => return None,
            },
            ("aws:principalaccount", _) => Cow::Borrowed(p.account.as_str()),
            ("aws:principalarn", PrincipalKind::Root) => Cow::Owned(p.arn()),
            ("aws:principalarn", PrincipalKind::User { arn, .. }) => Cow::Borrowed(arn.as_str()),
            ("aws:principalarn", PrincipalKind::AssumedRole { role_arn, .. }) => {
                Cow::Borrowed(role_arn.as_str())
            }
            ("aws:username", PrincipalKind::User { name, .. }) => Cow::Borrowed(name.as_str()),
            ("aws:principaltype", PrincipalKind::Root) => Cow::Borrowed("Account"),
            ("aws:principaltype", PrincipalKind::User { .. }) => Cow::Borrowed("User"),
            ("aws:principaltype", PrincipalKind::AssumedRole { .. }) => {
                Cow::Borrowed("AssumedRole")
            }
            _ => return None,
        };
        Some(derived)
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn epoch_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDThh:mm:ssZ`, as AWS writes `aws:CurrentTime`.
fn iso8601(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Principal {
        Principal {
            account: "123456789012".into(),
            kind: PrincipalKind::User {
                name: "alice".into(),
                arn: "arn:aws:iam::123456789012:user/alice".into(),
            },
        }
    }

    #[test]
    fn global_keys_are_derived_from_the_facts_and_set_values_win() {
        let mut context = Context::for_request(RequestFacts {
            source_ip: Some("::ffff:192.0.2.10".parse().unwrap()),
            secure_transport: true,
            requested_region: "eu-west-1".into(),
            time: Some(UNIX_EPOCH + std::time::Duration::from_secs(1_796_290_245)),
            user_agent: Some("aws-cli/1.46.3".into()),
            referer: None,
            user_id: Some("AIDAEXAMPLE".into()),
        });
        let p = user();
        let one = |c: &Context, k: &str| c.lookup(k, &p).map(|v| v.join(","));
        assert_eq!(one(&context, "aws:SourceIp").as_deref(), Some("192.0.2.10"));
        assert_eq!(
            one(&context, "AWS:SecureTransport").as_deref(),
            Some("true")
        );
        assert_eq!(
            one(&context, "aws:RequestedRegion").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            one(&context, "aws:CurrentTime").as_deref(),
            Some("2026-12-03T09:30:45Z")
        );
        assert_eq!(
            one(&context, "aws:EpochTime").as_deref(),
            Some("1796290245")
        );
        assert_eq!(
            one(&context, "aws:UserAgent").as_deref(),
            Some("aws-cli/1.46.3")
        );
        assert_eq!(one(&context, "aws:Referer"), None);
        assert_eq!(one(&context, "aws:userid").as_deref(), Some("AIDAEXAMPLE"));
        assert_eq!(one(&context, "aws:ViaAWSService").as_deref(), Some("false"));
        assert_eq!(
            one(&context, "aws:PrincipalIsAWSService").as_deref(),
            Some("false")
        );
        assert_eq!(one(&context, "aws:username").as_deref(), Some("alice"));
        context.set("aws:SourceIp", "203.0.113.9");
        assert_eq!(
            one(&context, "aws:SourceIp").as_deref(),
            Some("203.0.113.9")
        );
        // Without facts, the request's keys are absent.
        assert_eq!(one(&Context::new(), "aws:SecureTransport"), None);
    }
}
